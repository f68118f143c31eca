/// The value of one hexadecimal digit (either case), nil for any other byte: chunk sizes, %XX escapes.
@inline(__always)
public func hexDigitValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: return c - 0x30
    case 0x41...0x46: return c - 0x41 + 10
    case 0x61...0x66: return c - 0x61 + 10
    default: return nil
    }
}

/// `text` with every %XX escape decoded (RFC 3986 §2.1); nil when an escape is cut short or not hex, or
/// the bytes are not UTF-8. For names in a path (`DELETE /upstreams/127.0.0.1%3A9001`), not for the hot path.
public func percentDecoded(_ text: Substring) -> String? {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count)
    var it = text.utf8.makeIterator()
    while let c = it.next() {
        guard c == 0x25 else { bytes.append(c); continue }
        guard let hi = it.next().flatMap(hexDigitValue), let lo = it.next().flatMap(hexDigitValue) else { return nil }
        bytes.append(hi << 4 | lo)
    }
    return String(validating: bytes, as: UTF8.self)
}

import NetCore

/// Percent-encoding for paths we put back on the wire (Location headers, listing links).
enum PercentEncoding {
    /// Appends `path` with every byte outside unreserved characters and "/" encoded.
    static func appendPath(_ path: UnsafeBufferPointer<UInt8>, to out: ByteBuffer) {
        let hex: StaticString = "0123456789ABCDEF"
        for c in path {
            if isUnreserved(c) || c == 0x2F {
                out.append(byte: c)
            } else {
                out.append(byte: 0x25)
                out.append(byte: hex.utf8Start[Int(c >> 4)])
                out.append(byte: hex.utf8Start[Int(c & 0xF)])
            }
        }
    }

    static func encodePath(_ bytes: [UInt8]) -> String {
        let out = ByteBuffer(capacity: bytes.count * 3 + 1)
        bytes.withUnsafeBufferPointer { appendPath($0, to: out) }
        return out.string
    }

    @inline(__always)
    private static func isUnreserved(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            || c == 0x2D || c == 0x2E || c == 0x5F || c == 0x7E
    }
}

/// Character classes of RFC 9110/9112 as bitmaps, so each test is a shift and a mask.
@usableFromInline
enum ByteClass {
    /// tchar: the characters of a token (method, header name, transfer coding).
    @inline(__always) @usableFromInline
    static func isToken(_ c: UInt8) -> Bool {
        if c < 64 { return (0x03ff_6cfa_0000_0000 as UInt64) >> UInt64(c) & 1 != 0 }
        if c < 128 { return (0x57ff_ffff_c7ff_fffe as UInt64) >> UInt64(c - 64) & 1 != 0 }
        return false
    }

    /// field-vchar / SP / HTAB / obs-text: anything but control characters (HTAB allowed) and DEL.
    @inline(__always) @usableFromInline
    static func isFieldValue(_ c: UInt8) -> Bool {
        (c >= 0x20 && c != 0x7F) || c == 0x09
    }

    /// A request-target byte.
    @inline(__always) @usableFromInline
    static func isTarget(_ c: UInt8) -> Bool {
        // Visible ASCII except '#': a fragment is never sent, and bytes above 0x7E must arrive
        // percent-encoded (RFC 3986 §2, RFC 9112 §3.2).
        c > 0x20 && c < 0x7F && c != 0x23
    }

    /// The characters of a Host value: reg-name, IP literal, port.
    @inline(__always) @usableFromInline
    static func isHost(_ c: UInt8) -> Bool {
        if c < 64 { return (0x2fff_7ff2_0000_0000 as UInt64) >> UInt64(c) & 1 != 0 }
        if c < 128 { return (0x47ff_fffe_afff_fffe as UInt64) >> UInt64(c - 64) & 1 != 0 }
        return false
    }

    @inline(__always) @usableFromInline
    static func lower(_ c: UInt8) -> UInt8 {
        (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c
    }
}

/// ASCII case-insensitive comparison of raw bytes against a lower-case literal.
@inline(__always)
public func asciiEqualsLowercase(_ p: UnsafePointer<UInt8>, _ count: Int, _ lower: StaticString) -> Bool {
    guard count == lower.utf8CodeUnitCount else { return false }
    let l = lower.utf8Start
    for i in 0..<count where ByteClass.lower(p[i]) != l[i] { return false }
    return true
}

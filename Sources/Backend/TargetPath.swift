import HTTPCore

/// Turns a request target's origin part (`HTTPRequestHead.origin`) into a clean path under the site root:
/// the query cut off, percent-decoded exactly once, and `.`/`..`/empty
/// segments resolved. A `..` that would climb above the root, a NUL byte, or a bad escape is refused.
enum TargetPath {
    enum Outcome: Equatable {
        /// The path (with a leading "/") is in the output buffer, `length` bytes long.
        case path(length: Int, trailingSlash: Bool)
        case invalid(HTTPStatus)
    }

    /// Index of the query's '?' within the origin-form target, or nil.
    static func queryStart(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int? {
        for i in 0..<count where p[i] == 0x3F { return i }
        return nil
    }

    /// Decodes and normalises `p[0..<count]` (path part only, no query) into `out` (capacity ≥ count + 2).
    static func resolve(_ p: UnsafePointer<UInt8>, _ count: Int, into out: UnsafeMutablePointer<UInt8>) -> Outcome {
        if count == 0 { out[0] = 0x2F; return .path(length: 1, trailingSlash: true) }
        guard p[0] == 0x2F else { return .invalid(.badRequest) }
        // 1. Percent-decode once.
        var n = 0
        var i = 0
        while i < count {
            var c = p[i]
            if c == 0x25 {
                guard i + 2 < count, let hi = hexDigitValue(p[i + 1]), let lo = hexDigitValue(p[i + 2]) else { return .invalid(.badRequest) }
                c = hi << 4 | lo
                i += 3
            } else {
                i += 1
            }
            if c == 0 { return .invalid(.badRequest) }
            out[n] = c
            n += 1
        }
        // 2. Resolve segments in place: the write position never passes the read position.
        var w = 0       // bytes of clean path written
        var r = 0
        var endsWithSlash = false
        while r < n {
            while r < n && out[r] == 0x2F { r += 1 }       // collapse repeated slashes
            let segStart = r
            while r < n && out[r] != 0x2F { r += 1 }
            let segLen = r - segStart
            endsWithSlash = r < n || segLen == 0
            if segLen == 0 { break }
            if segLen == 1 && out[segStart] == 0x2E {
                endsWithSlash = true
                continue
            }
            if segLen == 2 && out[segStart] == 0x2E && out[segStart + 1] == 0x2E {
                if w == 0 { return .invalid(.badRequest) }   // would climb above the root
                w -= 1
                while w > 0 && out[w] != 0x2F { w -= 1 }
                endsWithSlash = true
                continue
            }
            out[w] = 0x2F
            w += 1
            for k in 0..<segLen { out[w + k] = out[segStart + k] }
            w += segLen
        }
        if w == 0 {
            out[0] = 0x2F
            return .path(length: 1, trailingSlash: true)
        }
        if endsWithSlash {
            out[w] = 0x2F
            w += 1
        }
        return .path(length: w, trailingSlash: endsWithSlash)
    }
}

import HTTPCore

/// Conditional and range requests against one file version (RFC 9110 §13 and §14), as nginx answers them.
enum Preconditions {
    /// True when If-Match (or, without it, If-Unmodified-Since) says the client expected another version:
    /// 412, checked before anything else (RFC 9110 §13.2.2). If-Match compares strongly.
    static func failed(_ head: HTTPRequestHead, _ base: UnsafePointer<UInt8>, _ meta: FileMeta) -> Bool {
        if head.value(.ifMatch) != nil {
            return !anyListMatches(head, .ifMatch, base, meta.etag, weak: false)
        }
        if let ius = head.value(.ifUnmodifiedSince),
           let since = HTTPDate.parse(ius.pointer(in: base), Int(ius.count)) {
            return meta.lastModified > since
        }
        return false
    }

    /// True when If-None-Match (or, without it, If-Modified-Since) says the client's copy is current.
    static func notModified(_ head: HTTPRequestHead, _ base: UnsafePointer<UInt8>, _ meta: FileMeta) -> Bool {
        if head.value(.ifNoneMatch) != nil {
            return anyListMatches(head, .ifNoneMatch, base, meta.etag, weak: true)
        }
        if let ims = head.value(.ifModifiedSince),
           let since = HTTPDate.parse(ims.pointer(in: base), Int(ims.count)) {
            return meta.lastModified <= since
        }
        return false
    }

    /// A list field sent on several lines is one list (RFC 9110 §5.3): whether any line holds `etag`.
    private static func anyListMatches(_ head: HTTPRequestHead, _ name: KnownHeader, _ base: UnsafePointer<UInt8>,
                                       _ etag: [UInt8], weak: Bool) -> Bool {
        head.headers.contains { $0.known == name && etagListMatches(base, $0.value, etag, weak: weak) }
    }

    /// Whether an entity-tag list (`*`, `"x"`, `W/"x"`, comma separated) contains `etag`.
    static func etagListMatches(_ base: UnsafePointer<UInt8>, _ span: ByteSpan, _ etag: [UInt8], weak: Bool) -> Bool {
        let p = span.pointer(in: base)
        let n = Int(span.count)
        var i = 0
        while i < n {
            while i < n && (p[i] == 0x20 || p[i] == 0x09 || p[i] == 0x2C) { i += 1 }
            if i >= n { break }
            if p[i] == 0x2A { return true }
            var isWeak = false
            if i + 1 < n && p[i] == 0x57 && p[i + 1] == 0x2F { isWeak = true; i += 2 }
            guard i < n, p[i] == 0x22 else { return false }   // malformed: treat as no match
            var j = i + 1
            while j < n && p[j] != 0x22 { j += 1 }
            guard j < n else { return false }
            let tag = UnsafeBufferPointer(start: p + i, count: j - i + 1)
            if (weak || !isWeak) && tag.elementsEqual(etag) { return true }
            i = j + 1
        }
        return false
    }

    enum RangeOutcome: Equatable {
        /// Send the whole representation (no Range, ignored Range, or a failed If-Range).
        case full
        case partial(first: Int, last: Int)
        case unsatisfiable
    }

    /// Interprets a `Range: bytes=…` header for a GET. Only a single range is honoured; several ranges
    /// or anything malformed get the full representation, which RFC 9110 §14.2 permits.
    static func range(_ head: HTTPRequestHead, _ base: UnsafePointer<UInt8>, _ meta: FileMeta) -> RangeOutcome {
        guard head.method == .get, let span = head.value(.range) else { return .full }
        if let ifRange = head.value(.ifRange), !ifRangeMatches(base, ifRange, meta) { return .full }
        let p = span.pointer(in: base)
        let n = Int(span.count)
        guard n > 6, asciiEqualsLowercase(p, 6, "bytes=") else { return .full }
        var i = 6
        while i < n && (p[i] == 0x20 || p[i] == 0x09) { i += 1 }
        for k in i..<n where p[k] == 0x2C { return .full }
        let size = meta.size
        // An empty file has no byte to point at: nginx sends it whole (200) whatever the range.
        if size == 0 { return .full }
        /// A position; one too long for any file saturates (a first byte past the end, a last one clamped).
        func number(_ at: inout Int) -> Int? {
            var v = 0
            var digits = 0
            while at < n, p[at] >= 0x30, p[at] <= 0x39 {
                if digits < 18 { v = v * 10 + Int(p[at] - 0x30) } else { v = Int.max / 2 }
                at += 1
                digits += 1
            }
            return digits > 0 ? v : nil
        }
        var end = n
        while end > i && (p[end - 1] == 0x20 || p[end - 1] == 0x09) { end -= 1 }
        if i < end && p[i] == 0x2D {
            i += 1
            guard let suffix = number(&i), i == end else { return .full }
            if suffix == 0 { return .unsatisfiable }
            return .partial(first: max(0, size - suffix), last: size - 1)
        }
        guard let first = number(&i), i < end, p[i] == 0x2D else { return .full }
        i += 1
        var last = size - 1
        if i < end {
            guard let l = number(&i), i == end else { return .full }
            if l < first { return .full }
            last = min(l, size - 1)
        }
        if first >= size { return .unsatisfiable }
        return .partial(first: first, last: last)
    }

    /// If-Range holds an entity-tag (strong comparison) or a date (must equal Last-Modified exactly).
    private static func ifRangeMatches(_ base: UnsafePointer<UInt8>, _ span: ByteSpan, _ meta: FileMeta) -> Bool {
        let p = span.pointer(in: base)
        let n = Int(span.count)
        if n > 0 && (p[0] == 0x22 || p[0] == 0x57) {
            return etagListMatches(base, span, meta.etag, weak: false) && p[0] == 0x22
        }
        guard let date = HTTPDate.parse(p, n) else { return false }
        return date == meta.lastModified
    }
}

import Glibc

/// Parsing of a message's header section, shared by requests and responses.
enum FieldLines {
    /// Finds the end of a head (the byte after the empty line) in `p[from..<count]`, resuming at `scanned`.
    /// Accepts CRLF and bare LF line ends (RFC 9112 §2.2). Returns nil when more bytes are needed;
    /// `firstLineEnd` is set as soon as the first LF is seen.
    @inline(__always)
    static func findEnd(_ p: UnsafePointer<UInt8>, count: Int, scanned: inout Int, firstLineEnd: inout Int) -> Int? {
        var i = scanned
        while i < count {
            guard let hit = memchrLF(p + i, count - i) else {
                scanned = count
                return nil
            }
            let j = i + hit
            if firstLineEnd < 0 { firstLineEnd = j }
            if j + 1 >= count { scanned = j; return nil }
            let next = p[j + 1]
            if next == 0x0A { return j + 2 }
            if next == 0x0D {
                if j + 2 >= count { scanned = j; return nil }
                if p[j + 2] == 0x0A { return j + 3 }
            }
            i = j + 1
        }
        scanned = i
        return nil
    }

    @inline(__always)
    static func memchrLF(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        guard let hit = memchr(p, 0x0A, n) else { return nil }
        return UnsafeRawPointer(hit) - UnsafeRawPointer(p)
    }

    /// Parses field lines from `start` (the first byte after the start line) up to and including the empty
    /// line ending at `end`. Appends to `headers`.
    @inline(__always)
    static func parse(_ p: UnsafePointer<UInt8>, from start: Int, end: Int, maxCount: Int,
                      into headers: inout [HeaderField]) -> HTTPParseError? {
        var line = start
        while true {
            // Line end: LF at `lf`; content excludes an immediately preceding CR.
            guard let rel = memchrLF(p + line, end - line) else {
                return HTTPParseError(.badRequest, "malformed header section")
            }
            let lf = line + rel
            var contentEnd = lf
            if contentEnd > line && p[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            if contentEnd == line { return nil }  // the empty line
            let first = p[line]
            if first == 0x20 || first == 0x09 {
                return HTTPParseError(.badRequest, "obsolete line folding in header")
            }
            var i = line
            while i < contentEnd && ByteClass.isToken(p[i]) { i += 1 }
            if i == line {
                return HTTPParseError(.badRequest, "invalid header name")
            }
            if i == contentEnd || p[i] != 0x3A {
                if p[i] == 0x20 || p[i] == 0x09 {
                    return HTTPParseError(.badRequest, "whitespace before colon in header")
                }
                return HTTPParseError(.badRequest, "invalid character in header name")
            }
            let nameEnd = i
            i += 1
            while i < contentEnd && (p[i] == 0x20 || p[i] == 0x09) { i += 1 }
            let valueStart = i
            while i < contentEnd {
                if !ByteClass.isFieldValue(p[i]) {
                    return HTTPParseError(.badRequest, "invalid character in header value")
                }
                i += 1
            }
            var valueEnd = contentEnd
            while valueEnd > valueStart && (p[valueEnd - 1] == 0x20 || p[valueEnd - 1] == 0x09) { valueEnd -= 1 }
            if headers.count >= maxCount {
                return HTTPParseError(.headersTooLarge, "too many header fields")
            }
            headers.append(HeaderField(
                name: ByteSpan(start: line, count: nameEnd - line),
                value: ByteSpan(start: valueStart, count: valueEnd - valueStart),
                known: KnownHeader.classify(p + line, nameEnd - line)))
            line = lf + 1
        }
    }

    /// Parses a Content-Length value: digits only, at most 18 of them (no sign, no list, no spaces).
    @inline(__always)
    static func contentLength(_ p: UnsafePointer<UInt8>, _ span: ByteSpan) -> Int? {
        let n = Int(span.count)
        if n == 0 || n > 18 { return nil }
        var value = 0
        let q = p + Int(span.start)
        for i in 0..<n {
            let d = q[i] &- 0x30
            if d > 9 { return nil }
            value = value * 10 + Int(d)
        }
        return value
    }

    /// Calls `body` with each comma-separated element of a list value, trimmed; stops when it returns false.
    @inline(__always)
    static func forEachListElement(_ p: UnsafePointer<UInt8>, _ span: ByteSpan,
                                   _ body: (UnsafePointer<UInt8>, Int) -> Bool) {
        var i = Int(span.start)
        let end = span.end
        while i <= end {
            var j = i
            while j < end && p[j] != 0x2C { j += 1 }
            var s = i
            var e = j
            while s < e && (p[s] == 0x20 || p[s] == 0x09) { s += 1 }
            while e > s && (p[e - 1] == 0x20 || p[e - 1] == 0x09) { e -= 1 }
            // A coding may carry parameters (";q=…"); the name is what precedes them.
            var nameEnd = s
            while nameEnd < e && p[nameEnd] != 0x3B && p[nameEnd] != 0x20 && p[nameEnd] != 0x09 { nameEnd += 1 }
            if nameEnd > s, !body(p + s, nameEnd - s) { return }
            i = j + 1
        }
    }
}

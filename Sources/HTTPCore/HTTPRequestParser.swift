import NetCore

/// An incremental HTTP/1.1 request-head parser over raw bytes (RFC 9112), strict where the RFC says a
/// message is invalid. Feed it the unconsumed bytes each time more arrive; it remembers how far it has
/// scanned, so a head that trickles in byte by byte is not rescanned from the start.
public struct HTTPRequestParser {
    public enum Result: Equatable, Sendable {
        case needMore
        /// A whole head was parsed into `head`; its bytes end at `head.length`.
        case complete
        case invalid(HTTPParseError)
    }

    public var limits: HTTPLimits
    public private(set) var head = HTTPRequestHead()
    private var scanned = 0
    private var firstLineEnd = -1
    /// The request line of a head still arriving has been checked, so a bad one (an HTTP/0.9 request,
    /// which has no header section to wait for) is answered at once.
    private var lineChecked = false

    /// Where the header list comes from and goes back to between messages (`releaseStorage`); without
    /// one the parser keeps its own list for life.
    public let headerLists: SpareLists<HeaderField>?

    public init(limits: HTTPLimits = .default, headerLists: SpareLists<HeaderField>? = nil) {
        self.limits = limits
        self.headerLists = headerLists
        if headerLists == nil { head.headers.reserveCapacity(16) }
    }

    /// Gives the header list back to `headerLists` while no head is being parsed (an idle connection);
    /// the next head takes one again.
    @inline(__always)
    public mutating func releaseStorage() {
        headerLists?.give(&head.headers)
    }

    /// Forgets the partial scan; call after a complete head has been consumed from the buffer.
    @inline(__always)
    public mutating func reset() {
        scanned = 0
        firstLineEnd = -1
        lineChecked = false
    }

    public mutating func parse(_ buffer: UnsafeRawBufferPointer) -> Result {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .needMore }
        let p = base.assumingMemoryBound(to: UInt8.self)
        let count = buffer.count

        // RFC 9112 §2.2: ignore empty lines received before the request line.
        var begin = 0
        while begin < count {
            if p[begin] == 0x0A { begin += 1; continue }
            if p[begin] == 0x0D {
                if begin + 1 >= count { return .needMore }
                if p[begin + 1] == 0x0A { begin += 2; continue }
            }
            break
        }
        if begin == count { return .needMore }
        if scanned < begin { scanned = begin; firstLineEnd = -1; lineChecked = false }

        guard let end = FieldLines.findEnd(p, count: count, scanned: &scanned, firstLineEnd: &firstLineEnd) else {
            if firstLineEnd < 0 && count - begin > limits.maxRequestLine {
                return .invalid(HTTPParseError(.uriTooLong, "request line too long"))
            }
            if firstLineEnd >= 0 && firstLineEnd - begin > limits.maxRequestLine {
                return .invalid(HTTPParseError(.uriTooLong, "request line too long"))
            }
            if firstLineEnd >= 0 && !lineChecked {
                lineChecked = true
                if let error = parseRequestLine(p, begin, firstLineEnd) { return .invalid(error) }
            }
            if count - begin > limits.maxHeadSize {
                return .invalid(HTTPParseError(.headersTooLarge, "request header section too large"))
            }
            return .needMore
        }
        if firstLineEnd - begin > limits.maxRequestLine {
            return .invalid(HTTPParseError(.uriTooLong, "request line too long"))
        }
        if end - begin > limits.maxHeadSize {
            return .invalid(HTTPParseError(.headersTooLarge, "request header section too large"))
        }

        head.headers.startHead(from: headerLists)
        head.length = end
        if let error = parseRequestLine(p, begin, firstLineEnd) { return .invalid(error) }
        if let error = FieldLines.parse(p, from: firstLineEnd + 1, end: end, maxCount: limits.maxHeaderCount,
                                        into: &head.headers) {
            return .invalid(error)
        }
        if let error = interpretHeaders(p) { return .invalid(error) }
        return .complete
    }

    // MARK: request line

    private mutating func parseRequestLine(_ p: UnsafePointer<UInt8>, _ begin: Int, _ lf: Int) -> HTTPParseError? {
        var lineEnd = lf
        if lineEnd > begin && p[lineEnd - 1] == 0x0D { lineEnd -= 1 }
        head.requestLine = ByteSpan(start: begin, count: lineEnd - begin)

        var i = begin
        while i < lineEnd && ByteClass.isToken(p[i]) { i += 1 }
        if i == begin || i == lineEnd || p[i] != 0x20 {
            return HTTPParseError(.badRequest, "malformed request line")
        }
        head.methodSpan = ByteSpan(start: begin, count: i - begin)
        head.method = HTTPMethod.classify(p + begin, i - begin)

        i += 1
        let targetStart = i
        while i < lineEnd && ByteClass.isTarget(p[i]) { i += 1 }
        if i == targetStart || i == lineEnd || p[i] != 0x20 {
            return HTTPParseError(.badRequest, "malformed request line")
        }
        head.target = ByteSpan(start: targetStart, count: i - targetStart)

        i += 1
        // HTTP-version = "HTTP/" DIGIT "." DIGIT, then the line ends.
        guard lineEnd - i == 8, p[i] == 0x48, p[i + 1] == 0x54, p[i + 2] == 0x54, p[i + 3] == 0x50,
              p[i + 4] == 0x2F, p[i + 6] == 0x2E else {
            return HTTPParseError(.badRequest, "malformed HTTP version")
        }
        let major = p[i + 5] &- 0x30
        let minor = p[i + 7] &- 0x30
        if major > 9 || minor > 9 { return HTTPParseError(.badRequest, "malformed HTTP version") }
        if major != 1 { return HTTPParseError(.versionNotSupported, "HTTP version not supported") }
        // RFC 9110 §2.5: a later 1.x is processed as the highest minor version implemented, 1.1.
        head.minorVersion = min(minor, 1)

        let t = p[targetStart]
        let targetCount = Int(head.target.count)
        head.origin = head.target
        head.authority = .empty
        if head.method == .connect {
            if t == 0x2F { return HTTPParseError(.badRequest, "CONNECT needs an authority target") }
            head.origin = .empty
            head.authority = head.target
        } else if t == 0x2A {
            if targetCount != 1 || head.method != .options {
                return HTTPParseError(.badRequest, "asterisk target is only for OPTIONS")
            }
        } else if t != 0x2F {
            let schemeLength = Self.schemeLength(p + targetStart, targetCount)
            if schemeLength == 0 { return HTTPParseError(.badRequest, "invalid request target") }
            var i = targetStart + schemeLength
            let end = targetStart + targetCount
            while i < end && p[i] != 0x2F && p[i] != 0x3F { i += 1 }
            let authorityLength = i - targetStart - schemeLength
            if authorityLength == 0 { return HTTPParseError(.badRequest, "absolute target without a host") }
            for k in 0..<authorityLength where !ByteClass.isHost(p[targetStart + schemeLength + k]) {
                return HTTPParseError(.badRequest, "invalid host in the request target")
            }
            head.authority = ByteSpan(start: targetStart + schemeLength, count: authorityLength)
            head.origin = ByteSpan(start: i, count: end - i)
        }
        return nil
    }

    /// The length of "http://" or "https://" at the start of an absolute-form target, else 0.
    private static func schemeLength(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        if n > 7, asciiEqualsLowercase(p, 7, "http://") { return 7 }
        if n > 8, asciiEqualsLowercase(p, 8, "https://") { return 8 }
        return 0
    }

    // MARK: framing and connection semantics

    private mutating func interpretHeaders(_ p: UnsafePointer<UInt8>) -> HTTPParseError? {
        head.contentLength = -1
        head.isChunked = false
        head.expectsContinue = false
        head.wantsUpgrade = false
        head.hostIndex = -1
        var keepAlive = head.minorVersion == 1
        var sawClose = false
        var sawTransferEncoding = false
        var chunkedCount = 0
        var lastIsChunked = false
        var unknownCoding = false

        for index in 0..<head.headers.count {
            let field = head.headers[index]
            switch field.known {
            case .contentLength:
                if head.contentLength >= 0 { return HTTPParseError(.badRequest, "duplicate Content-Length") }
                guard let n = FieldLines.contentLength(p, field.value) else {
                    return HTTPParseError(.badRequest, "invalid Content-Length")
                }
                head.contentLength = n
            case .transferEncoding:
                sawTransferEncoding = true
                FieldLines.forEachListElement(p, field.value) { q, n in
                    if asciiEqualsLowercase(q, n, "chunked") {
                        chunkedCount += 1
                        lastIsChunked = true
                    } else {
                        lastIsChunked = false
                        unknownCoding = true
                    }
                    return true
                }
            case .host:
                if head.hostIndex >= 0 { return HTTPParseError(.badRequest, "duplicate Host") }
                let v = field.value.pointer(in: p)
                for i in 0..<Int(field.value.count) where !ByteClass.isHost(v[i]) {
                    return HTTPParseError(.badRequest, "invalid Host")
                }
                head.hostIndex = index
            case .connection:
                FieldLines.forEachListElement(p, field.value) { q, n in
                    if asciiEqualsLowercase(q, n, "close") { sawClose = true }
                    else if asciiEqualsLowercase(q, n, "keep-alive") { keepAlive = true }
                    else if asciiEqualsLowercase(q, n, "upgrade") { head.wantsUpgrade = true }
                    return true
                }
            case .expect:
                if asciiEqualsLowercase(field.value.pointer(in: p), Int(field.value.count), "100-continue") {
                    head.expectsContinue = true
                }
            default:
                break
            }
        }
        // A "close" anywhere wins over "keep-alive" elsewhere.
        head.keepAlive = keepAlive && !sawClose

        if sawTransferEncoding {
            if head.minorVersion == 0 {
                return HTTPParseError(.badRequest, "Transfer-Encoding in an HTTP/1.0 request")
            }
            if head.contentLength >= 0 {
                return HTTPParseError(.badRequest, "both Content-Length and Transfer-Encoding")
            }
            if !lastIsChunked {
                return HTTPParseError(.badRequest, "Transfer-Encoding does not end in chunked")
            }
            if chunkedCount > 1 {
                return HTTPParseError(.badRequest, "chunked applied more than once")
            }
            if unknownCoding {
                return HTTPParseError(.notImplemented, "unsupported transfer coding")
            }
            head.isChunked = true
        }
        if head.minorVersion == 1 && head.hostIndex < 0 {
            return HTTPParseError(.badRequest, "missing Host header")
        }
        return nil
    }
}

import NetCore

/// How a response body is delimited (RFC 9112 §6.3).
public enum ResponseFraming: Equatable, Sendable {
    case none
    case length(Int)
    case chunked
    /// Read until the upstream closes the connection.
    case untilClose
}

/// A parsed response head from an upstream. Spans point into the buffer given to the parser.
public struct HTTPResponseHead: Sendable {
    public var status = 0
    public var minorVersion: UInt8 = 1
    public var reason = ByteSpan.empty
    public var headers: [HeaderField] = []
    public var framing = ResponseFraming.none
    /// Whether the upstream connection may carry another request after this response.
    public var keepAlive = true
    public var length = 0

    public init() {}

    public var isInterim: Bool { status >= 100 && status < 200 }
}

/// Parses response heads from upstreams. Strict on framing: a response whose length cannot be known
/// for certain is refused (the proxy answers 502) rather than guessed.
public struct HTTPResponseParser {
    public enum Result: Equatable, Sendable {
        case needMore
        case complete
        case invalid(HTTPParseError)
    }

    public var limits: HTTPLimits
    public private(set) var head = HTTPResponseHead()
    private var scanned = 0
    private var firstLineEnd = -1

    /// Where the header list comes from and goes back to between messages (`releaseStorage`); without
    /// one the parser keeps its own list for life.
    public let headerLists: SpareLists<HeaderField>?

    public init(limits: HTTPLimits = HTTPLimits(maxRequestLine: 8192, maxHeadSize: 65536, maxHeaderCount: 200), headerLists: SpareLists<HeaderField>? = nil) {
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

    public mutating func reset() {
        scanned = 0
        firstLineEnd = -1
    }

    /// Parses a head in `buffer`; `requestMethod` decides whether a body can follow (HEAD: never).
    public mutating func parse(_ buffer: UnsafeRawBufferPointer, requestMethod: HTTPMethod) -> Result {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .needMore }
        let p = base.assumingMemoryBound(to: UInt8.self)
        let count = buffer.count
        guard let end = FieldLines.findEnd(p, count: count, scanned: &scanned, firstLineEnd: &firstLineEnd) else {
            if count > limits.maxHeadSize { return .invalid(HTTPParseError(.badGateway, "upstream response head too large")) }
            return .needMore
        }
        if end > limits.maxHeadSize { return .invalid(HTTPParseError(.badGateway, "upstream response head too large")) }
        head.headers.startHead(from: headerLists)
        head.length = end
        if let e = parseStatusLine(p, firstLineEnd) { return .invalid(e) }
        if let e = FieldLines.parse(p, from: firstLineEnd + 1, end: end, maxCount: limits.maxHeaderCount, into: &head.headers) {
            return .invalid(HTTPParseError(.badGateway, e.reason))
        }
        if let e = interpretHeaders(p, requestMethod) { return .invalid(e) }
        return .complete
    }

    private mutating func parseStatusLine(_ p: UnsafePointer<UInt8>, _ lf: Int) -> HTTPParseError? {
        var lineEnd = lf
        if lineEnd > 0 && p[lineEnd - 1] == 0x0D { lineEnd -= 1 }
        // "HTTP/1.x SP 3DIGIT [SP reason]"
        guard lineEnd >= 12, p[0] == 0x48, p[1] == 0x54, p[2] == 0x54, p[3] == 0x50, p[4] == 0x2F,
              p[5] == 0x31, p[6] == 0x2E, p[7] == 0x30 || p[7] == 0x31, p[8] == 0x20 else {
            return HTTPParseError(.badGateway, "malformed upstream status line")
        }
        head.minorVersion = p[7] - 0x30
        var status = 0
        for i in 9..<12 {
            let d = p[i] &- 0x30
            if d > 9 { return HTTPParseError(.badGateway, "malformed upstream status code") }
            status = status * 10 + Int(d)
        }
        if status < 100 { return HTTPParseError(.badGateway, "malformed upstream status code") }
        head.status = status
        if lineEnd > 12 {
            if p[12] != 0x20 { return HTTPParseError(.badGateway, "malformed upstream status line") }
            for i in 13..<lineEnd where !ByteClass.isFieldValue(p[i]) {
                return HTTPParseError(.badGateway, "control character in upstream reason phrase")
            }
            head.reason = ByteSpan(start: 13, count: lineEnd - 13)
        } else {
            head.reason = ByteSpan.empty
        }
        return nil
    }

    private mutating func interpretHeaders(_ p: UnsafePointer<UInt8>, _ method: HTTPMethod) -> HTTPParseError? {
        var contentLength = -1
        var sawTransferEncoding = false
        var lastIsChunked = false
        var keepAlive = head.minorVersion == 1
        var sawClose = false
        for field in head.headers {
            switch field.known {
            case .contentLength:
                guard let n = FieldLines.contentLength(p, field.value) else {
                    return HTTPParseError(.badGateway, "invalid Content-Length from upstream")
                }
                if contentLength >= 0 && contentLength != n {
                    return HTTPParseError(.badGateway, "conflicting Content-Length from upstream")
                }
                contentLength = n
            case .transferEncoding:
                sawTransferEncoding = true
                FieldLines.forEachListElement(p, field.value) { q, n in
                    lastIsChunked = asciiEqualsLowercase(q, n, "chunked")
                    return true
                }
            case .connection:
                FieldLines.forEachListElement(p, field.value) { q, n in
                    if asciiEqualsLowercase(q, n, "close") { sawClose = true }
                    else if asciiEqualsLowercase(q, n, "keep-alive") { keepAlive = true }
                    return true
                }
            default:
                break
            }
        }
        head.keepAlive = keepAlive && !sawClose
        if method == .head || head.isInterim || head.status == 204 || head.status == 304 {
            head.framing = .none
            return nil
        }
        if sawTransferEncoding {
            if contentLength >= 0 {
                return HTTPParseError(.badGateway, "upstream sent both Content-Length and Transfer-Encoding")
            }
            head.framing = lastIsChunked ? .chunked : .untilClose
            if !lastIsChunked { head.keepAlive = false }
            return nil
        }
        if contentLength >= 0 {
            head.framing = .length(contentLength)
        } else {
            head.framing = .untilClose
            head.keepAlive = false
        }
        return nil
    }
}

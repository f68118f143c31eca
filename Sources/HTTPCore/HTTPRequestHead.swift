/// A parsed request head. Spans point into the buffer the parser was given; they stay valid until that
/// buffer's bytes move.
public struct HTTPRequestHead: Sendable {
    public var method: HTTPMethod = .get
    public var methodSpan = ByteSpan.empty
    public var target = ByteSpan.empty
    /// The target's path and query as an origin server sees them: the whole target in origin-form and for
    /// `*`; what follows the authority in absolute-form (possibly empty, or starting with '?'); empty for
    /// CONNECT.
    public var origin = ByteSpan.empty
    /// The host (and port) of an absolute-form or authority-form target, which takes the place of Host
    /// (RFC 9112 §3.2.2); empty otherwise.
    public var authority = ByteSpan.empty
    /// The request line without its line end (for access logs).
    public var requestLine = ByteSpan.empty
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: UInt8 = 1
    public var headers: [HeaderField] = []
    /// The declared body length, -1 when there is no Content-Length.
    public var contentLength: Int = -1
    public var isChunked = false
    /// Whether the connection stays open after this exchange, by version and Connection tokens.
    public var keepAlive = true
    public var expectsContinue = false
    public var wantsUpgrade = false
    /// Index in `headers` of Host, -1 when absent (HTTP/1.0 only).
    public var hostIndex = -1
    /// Bytes the head occupied, including any empty lines before it.
    public var length = 0

    public init() {}

    /// True when the request carries a body the server must read or skip.
    public var hasBody: Bool { isChunked || contentLength > 0 }

    /// A request from our own health checker (`User-Agent: health-check`): access logs leave it out, so a
    /// check every second per instance does not bury the traffic people came to read.
    public func isHealthProbe(_ base: UnsafePointer<UInt8>) -> Bool {
        guard let ua = value(.userAgent) else { return false }
        return asciiEqualsLowercase(ua.pointer(in: base), Int(ua.count), "health-check")
    }

    /// Whether the target (in origin form, query included) is exactly `target`.
    public func targetIs(_ target: [UInt8], _ base: UnsafePointer<UInt8>) -> Bool {
        let n = Int(origin.count)
        let p = origin.pointer(in: base)
        guard n == target.count else { return false }
        for i in 0..<n where p[i] != target[i] { return false }
        return true
    }

    /// Index of the first header with this name, -1 when none.
    @inline(__always)
    public func index(of known: KnownHeader) -> Int {
        for i in 0..<headers.count where headers[i].known == known { return i }
        return -1
    }

    /// The first value of `known`, if present.
    @inline(__always)
    public func value(_ known: KnownHeader) -> ByteSpan? {
        let i = index(of: known)
        return i >= 0 ? headers[i].value : nil
    }
}

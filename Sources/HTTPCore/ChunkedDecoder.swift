/// Incremental decoder for the chunked transfer coding (RFC 9112 §7.1). It tells how many bytes of the
/// input belong to the body and where the data runs are, so a proxy can pass the bytes through unchanged
/// and a server can skip them. Line ends must be CRLF: a lenient chunk parser is how requests get smuggled.
public struct ChunkedDecoder: Sendable {
    public enum Result: Equatable, Sendable {
        /// All `consumed` bytes belong to the body; more are needed.
        case needMore
        /// The body (with its trailer section) ended after `consumed` bytes of this input.
        case done(consumed: Int)
        case invalid(HTTPParseError)
    }

    private enum State: Sendable {
        case size, sizeLF, extensions, data, dataCR, dataLF
        case trailerStart, trailerStartLF, trailerLine, trailerLF
        case finished
    }

    private var state = State.size
    private var remaining = 0
    private var sizeDigits = 0
    private var extensionBytes = 0
    private var trailerBytes = 0
    /// Total data bytes seen (the decoded body length).
    public private(set) var bodyBytes = 0

    public static let maxExtensionBytes = 4096
    public static let maxTrailerBytes = 8192

    public init() {}

    public var isFinished: Bool { state == .finished }

    /// Feeds `count` bytes; `onData` receives each run of body data in order.
    public mutating func feed(_ p: UnsafePointer<UInt8>, _ count: Int,
                              onData: (UnsafePointer<UInt8>, Int) -> Void) -> Result {
        var i = 0
        while i < count {
            let c = p[i]
            switch state {
            case .size:
                if let d = hexDigitValue(c).map(Int.init) {
                    if sizeDigits >= 15 { return .invalid(HTTPParseError(.contentTooLarge, "chunk size too large")) }
                    remaining = remaining << 4 | d
                    sizeDigits += 1
                } else if sizeDigits == 0 {
                    return .invalid(HTTPParseError(.badRequest, "invalid chunk size"))
                } else if c == 0x0D {
                    state = .sizeLF
                } else if c == 0x3B || c == 0x20 || c == 0x09 {
                    state = .extensions
                    extensionBytes = 0
                } else {
                    return .invalid(HTTPParseError(.badRequest, "invalid chunk size"))
                }
                i += 1
            case .extensions:
                if c == 0x0D {
                    state = .sizeLF
                } else if !ByteClass.isFieldValue(c) {
                    return .invalid(HTTPParseError(.badRequest, "invalid chunk extension"))
                } else {
                    extensionBytes += 1
                    if extensionBytes > Self.maxExtensionBytes {
                        return .invalid(HTTPParseError(.badRequest, "chunk extension too long"))
                    }
                }
                i += 1
            case .sizeLF:
                if c != 0x0A { return .invalid(HTTPParseError(.badRequest, "chunk size line without CRLF")) }
                i += 1
                sizeDigits = 0
                if remaining == 0 {
                    state = .trailerStart
                    trailerBytes = 0
                } else {
                    state = .data
                }
            case .data:
                let n = min(remaining, count - i)
                onData(p + i, n)
                bodyBytes += n
                remaining -= n
                i += n
                if remaining == 0 { state = .dataCR }
            case .dataCR:
                if c != 0x0D { return .invalid(HTTPParseError(.badRequest, "chunk data longer than its size")) }
                state = .dataLF
                i += 1
            case .dataLF:
                if c != 0x0A { return .invalid(HTTPParseError(.badRequest, "chunk data without CRLF")) }
                state = .size
                i += 1
            case .trailerStart:
                if c == 0x0D {
                    state = .trailerStartLF
                } else if ByteClass.isToken(c) {
                    state = .trailerLine
                    trailerBytes += 1
                } else {
                    return .invalid(HTTPParseError(.badRequest, "invalid trailer field"))
                }
                i += 1
            case .trailerStartLF:
                if c != 0x0A { return .invalid(HTTPParseError(.badRequest, "chunked body without final CRLF")) }
                state = .finished
                return .done(consumed: i + 1)
            case .trailerLine:
                if c == 0x0D {
                    state = .trailerLF
                } else if !ByteClass.isFieldValue(c) {
                    return .invalid(HTTPParseError(.badRequest, "invalid trailer field"))
                }
                trailerBytes += 1
                if trailerBytes > Self.maxTrailerBytes {
                    return .invalid(HTTPParseError(.headersTooLarge, "trailer section too large"))
                }
                i += 1
            case .trailerLF:
                if c != 0x0A { return .invalid(HTTPParseError(.badRequest, "trailer line without CRLF")) }
                state = .trailerStart
                i += 1
            case .finished:
                return .done(consumed: i)
            }
        }
        return .needMore
    }
}

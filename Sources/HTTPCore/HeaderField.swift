import NetCore

/// A run of bytes inside a parsed message, as offsets from the start of the buffer given to the parser.
public struct ByteSpan: Equatable, Sendable {
    public var start: Int32
    public var count: Int32

    @inline(__always)
    public init(start: Int, count: Int) {
        self.start = Int32(truncatingIfNeeded: start)
        self.count = Int32(truncatingIfNeeded: count)
    }

    public static let empty = ByteSpan(start: 0, count: 0)

    @inline(__always) public var end: Int { Int(start) + Int(count) }
    @inline(__always) public var isEmpty: Bool { count == 0 }

    @inline(__always)
    public func pointer(in base: UnsafePointer<UInt8>) -> UnsafePointer<UInt8> { base + Int(start) }

    @inline(__always)
    public func buffer(in base: UnsafePointer<UInt8>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + Int(start), count: Int(count))
    }

    public func string(in base: UnsafePointer<UInt8>) -> String {
        String(decoding: UnsafeBufferPointer(start: base + Int(start), count: Int(count)), as: UTF8.self)
    }
}

/// Header names the toolkit acts on, recognised once while parsing so later lookups are a byte compare.
public enum KnownHeader: UInt8, Sendable {
    case other
    case contentLength, transferEncoding, host, connection, keepAlive, expect, te, trailer, upgrade
    case proxyConnection, proxyAuthenticate, proxyAuthorization
    case ifNoneMatch, ifModifiedSince, ifMatch, ifUnmodifiedSince, range, ifRange
    case xForwardedFor, xForwardedProto, xForwardedHost, xForwardedPrefix, via, forwarded
    case date, server, contentType, location, userAgent

    /// Hop-by-hop fields a proxy must not forward (RFC 9110 §7.6.1), plus the Proxy-* family.
    public var isHopByHop: Bool {
        switch self {
        case .connection, .keepAlive, .te, .trailer, .transferEncoding, .upgrade,
             .proxyConnection, .proxyAuthenticate, .proxyAuthorization:
            return true
        default:
            return false
        }
    }

    @inline(__always)
    static func classify(_ p: UnsafePointer<UInt8>, _ n: Int) -> KnownHeader {
        switch n {
        case 2: if asciiEqualsLowercase(p, n, "te") { return .te }
        case 3: if asciiEqualsLowercase(p, n, "via") { return .via }
        case 4:
            if asciiEqualsLowercase(p, n, "host") { return .host }
            if asciiEqualsLowercase(p, n, "date") { return .date }
        case 5: if asciiEqualsLowercase(p, n, "range") { return .range }
        case 6:
            if asciiEqualsLowercase(p, n, "expect") { return .expect }
            if asciiEqualsLowercase(p, n, "server") { return .server }
        case 7:
            if asciiEqualsLowercase(p, n, "trailer") { return .trailer }
            if asciiEqualsLowercase(p, n, "upgrade") { return .upgrade }
        case 8:
            if asciiEqualsLowercase(p, n, "if-range") { return .ifRange }
            if asciiEqualsLowercase(p, n, "if-match") { return .ifMatch }
            if asciiEqualsLowercase(p, n, "location") { return .location }
        case 9: if asciiEqualsLowercase(p, n, "forwarded") { return .forwarded }
        case 10:
            if asciiEqualsLowercase(p, n, "connection") { return .connection }
            if asciiEqualsLowercase(p, n, "user-agent") { return .userAgent }
            if asciiEqualsLowercase(p, n, "keep-alive") { return .keepAlive }
        case 12: if asciiEqualsLowercase(p, n, "content-type") { return .contentType }
        case 13: if asciiEqualsLowercase(p, n, "if-none-match") { return .ifNoneMatch }
        case 14: if asciiEqualsLowercase(p, n, "content-length") { return .contentLength }
        case 15: if asciiEqualsLowercase(p, n, "x-forwarded-for") { return .xForwardedFor }
        case 16:
            if asciiEqualsLowercase(p, n, "proxy-connection") { return .proxyConnection }
            if asciiEqualsLowercase(p, n, "x-forwarded-host") { return .xForwardedHost }
        case 17:
            if asciiEqualsLowercase(p, n, "transfer-encoding") { return .transferEncoding }
            if asciiEqualsLowercase(p, n, "if-modified-since") { return .ifModifiedSince }
            if asciiEqualsLowercase(p, n, "x-forwarded-proto") { return .xForwardedProto }
        case 18:
            if asciiEqualsLowercase(p, n, "proxy-authenticate") { return .proxyAuthenticate }
            if asciiEqualsLowercase(p, n, "x-forwarded-prefix") { return .xForwardedPrefix }
        case 19:
            if asciiEqualsLowercase(p, n, "if-unmodified-since") { return .ifUnmodifiedSince }
            if asciiEqualsLowercase(p, n, "proxy-authorization") { return .proxyAuthorization }
        default: break
        }
        return .other
    }
}

/// One header field line: name and value spans (value without surrounding whitespace).
public struct HeaderField: Sendable, Equatable {
    public var name: ByteSpan
    public var value: ByteSpan
    public var known: KnownHeader
}

extension Array where Element == HeaderField {
    /// Empties the list for the next head: its own storage is kept, or, when it gave its storage back
    /// between messages, a list comes from `lists` (one allocation-free hand-over on a busy loop).
    @inline(__always)
    mutating func startHead(from lists: SpareLists<HeaderField>?) {
        if capacity == 0, let lists { self = lists.take() } else { removeAll(keepingCapacity: true) }
    }
}

/// Request methods the toolkit knows by name; any other token is `.other` and keeps its bytes.
public enum HTTPMethod: UInt8, Sendable {
    case get, head, post, put, delete, options, patch, trace, connect, other

    /// Safe to retry on a fresh upstream connection (RFC 9110 §9.2.2).
    public var isIdempotent: Bool {
        switch self {
        case .get, .head, .put, .delete, .options, .trace: return true
        case .post, .patch, .connect, .other: return false
        }
    }

    @inline(__always)
    static func classify(_ p: UnsafePointer<UInt8>, _ n: Int) -> HTTPMethod {
        // Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET.
        switch n {
        case 3:
            if p[0] == 0x47, p[1] == 0x45, p[2] == 0x54 { return .get }
            if p[0] == 0x50, p[1] == 0x55, p[2] == 0x54 { return .put }
        case 4:
            if p[0] == 0x48, p[1] == 0x45, p[2] == 0x41, p[3] == 0x44 { return .head }
            if p[0] == 0x50, p[1] == 0x4F, p[2] == 0x53, p[3] == 0x54 { return .post }
        case 5:
            if matches(p, "PATCH") { return .patch }
            if matches(p, "TRACE") { return .trace }
        case 6:
            if matches(p, "DELETE") { return .delete }
        case 7:
            if matches(p, "OPTIONS") { return .options }
            if matches(p, "CONNECT") { return .connect }
        default: break
        }
        return .other
    }

    @inline(__always)
    private static func matches(_ p: UnsafePointer<UInt8>, _ s: StaticString) -> Bool {
        let q = s.utf8Start
        for i in 0..<s.utf8CodeUnitCount where p[i] != q[i] { return false }
        return true
    }

    public var name: StaticString {
        switch self {
        case .get: return "GET"
        case .head: return "HEAD"
        case .post: return "POST"
        case .put: return "PUT"
        case .delete: return "DELETE"
        case .options: return "OPTIONS"
        case .patch: return "PATCH"
        case .trace: return "TRACE"
        case .connect: return "CONNECT"
        case .other: return "OTHER"
        }
    }
}

import Glibc

/// An IPv4, IPv6 or unix-domain socket address, parsed from `host:port`, `[v6]:port`, `:port` or a path.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case ipv4(UInt32, UInt16)            // address and port in host byte order
        case ipv6([UInt8], UInt16, UInt32)   // 16 bytes, port, scope id
        case unix(String)
    }
    public let kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    public static func ipv4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, port: UInt16) -> SocketAddress {
        SocketAddress(.ipv4(UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d), port))
    }

    public static func loopback(port: UInt16) -> SocketAddress { .ipv4(127, 0, 0, 1, port: port) }

    public var port: UInt16? {
        switch kind {
        case .ipv4(_, let p), .ipv6(_, let p, _): return p
        case .unix: return nil
        }
    }

    public func withPort(_ port: UInt16) -> SocketAddress {
        switch kind {
        case .ipv4(let a, _): return SocketAddress(.ipv4(a, port))
        case .ipv6(let a, _, let s): return SocketAddress(.ipv6(a, port, s))
        case .unix: return self
        }
    }

    public var family: Int32 {
        switch kind {
        case .ipv4: return AF_INET
        case .ipv6: return AF_INET6
        case .unix: return AF_UNIX
        }
    }

    /// `host` without the port (IPv6 without brackets); the path for unix sockets.
    public var host: String {
        switch kind {
        case .ipv4(let a, _):
            return "\(a >> 24).\((a >> 16) & 0xFF).\((a >> 8) & 0xFF).\(a & 0xFF)"
        case .ipv6(let bytes, _, _):
            var raw = in6_addr()
            withUnsafeMutableBytes(of: &raw) { $0.copyBytes(from: bytes) }
            var text = [CChar](repeating: 0, count: 64)
            inet_ntop(AF_INET6, &raw, &text, 64)
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        case .unix(let path):
            return path
        }
    }

    public var description: String {
        switch kind {
        case .ipv4(_, let p): return "\(host):\(p)"
        case .ipv6(_, let p, _): return "[\(host)]:\(p)"
        case .unix(let path): return "unix:\(path)"
        }
    }

    // MARK: parsing

    public enum ParseError: Error, CustomStringConvertible {
        case invalid(String, String)
        public var description: String {
            switch self { case .invalid(let text, let why): return "'\(text)': \(why)" }
        }
    }

    /// Parses `HOST:PORT` (HOST an IPv4 literal, `[IPv6]`, `localhost`, a resolvable name, or empty for
    /// all interfaces), `unix:/path` or an absolute path.
    public static func parse(_ text: String, defaultHost: String = "0.0.0.0") throws -> SocketAddress {
        if text.hasPrefix("unix:") { return SocketAddress(.unix(String(text.dropFirst(5)))) }
        if text.hasPrefix("/") { return SocketAddress(.unix(text)) }
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw ParseError.invalid(text, "missing ']'") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ParseError.invalid(text, "expected ':PORT' after ']'") }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ParseError.invalid(text, "expected HOST:PORT") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { throw ParseError.invalid(text, "an IPv6 address needs brackets: [::1]:PORT") }
        }
        guard let port = UInt16(portText), port > 0 else {
            throw ParseError.invalid(text, "port must be a number from 1 to 65535")
        }
        if host.isEmpty { host = Substring(defaultHost) }
        return try resolve(String(host), port: port, original: text)
    }

    /// Resolves a literal or a name (through getaddrinfo, numeric first) to its first address.
    public static func resolve(_ host: String, port: UInt16, original: String? = nil) throws -> SocketAddress {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return SocketAddress(.ipv4(UInt32(bigEndian: v4.s_addr), port))
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return SocketAddress(.ipv6(bytes, port, 0))
        }
        if host == "localhost" { return .loopback(port: port) }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &result)
        guard rc == 0, let first = result else {
            throw ParseError.invalid(original ?? host, "cannot resolve host '\(host)'")
        }
        defer { freeaddrinfo(result) }
        guard let address = SocketAddress(first.pointee.ai_addr) else {
            throw ParseError.invalid(original ?? host, "no usable address for '\(host)'")
        }
        return address.withPort(port)
    }

    // MARK: sockaddr conversion

    public init?(_ sa: UnsafePointer<sockaddr>) {
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            let sin = UnsafeRawPointer(sa).load(as: sockaddr_in.self)
            kind = .ipv4(UInt32(bigEndian: sin.sin_addr.s_addr), UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            var sin6 = UnsafeRawPointer(sa).load(as: sockaddr_in6.self)
            let bytes = withUnsafeBytes(of: &sin6.sin6_addr) { Array($0) }
            kind = .ipv6(bytes, UInt16(bigEndian: sin6.sin6_port), sin6.sin6_scope_id)
        case AF_UNIX:
            let path = UnsafeRawPointer(sa).assumingMemoryBound(to: sockaddr_un.self)
            let text = withUnsafeBytes(of: path.pointee.sun_path) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            kind = .unix(text)
        default:
            return nil
        }
    }

    public init?(storage: UnsafePointer<sockaddr_storage>) {
        let sa = UnsafeRawPointer(storage).assumingMemoryBound(to: sockaddr.self)
        self.init(sa)
    }

    /// Calls `body` with this address as a `sockaddr` and its length.
    public func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        var storage = sockaddr_storage()
        let length: socklen_t
        switch kind {
        case .ipv4(let a, let p):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = p.bigEndian
            sin.sin_addr.s_addr = a.bigEndian
            withUnsafeBytes(of: &sin) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        case .ipv6(let bytes, let p, let scope):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = p.bigEndian
            sin6.sin6_scope_id = scope
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: bytes) }
            withUnsafeBytes(of: &sin6) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        case .unix(let path):
            var sun = sockaddr_un()
            sun.sun_family = sa_family_t(AF_UNIX)
            let capacity = MemoryLayout.size(ofValue: sun.sun_path) - 1
            withUnsafeMutableBytes(of: &sun.sun_path) { raw in
                let utf8 = Array(path.utf8.prefix(capacity))
                raw.copyBytes(from: utf8)
            }
            withUnsafeBytes(of: &sun) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
            length = socklen_t(MemoryLayout<sockaddr_un>.size)
        }
        return try withUnsafePointer(to: &storage) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, length) }
        }
    }
}

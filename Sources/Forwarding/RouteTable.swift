import Glibc
import HTTPCore

/// One path prefix and the pool that serves it.
public struct Route: Sendable {
    /// "/images/" (a folder) or "/api" (matches "/api" and "/api/…"); "/" matches everything.
    public let prefix: String
    public let pool: UpstreamPool
    /// Forward "/images/a.jpg" as "/a.jpg" and say so in X-Forwarded-Prefix.
    public let stripPrefix: Bool
    let prefixBytes: [UInt8]

    public init(prefix: String, pool: UpstreamPool, stripPrefix: Bool) {
        self.prefix = prefix
        self.pool = pool
        self.stripPrefix = stripPrefix
        prefixBytes = Array(prefix.utf8)
    }

    /// Bytes of the path that stripping removes ("/images" of "/images/"), keeping the next "/".
    var strippedLength: Int {
        prefixBytes.count > 1 && prefixBytes.last == 0x2F ? prefixBytes.count - 1 : (prefix == "/" ? 0 : prefixBytes.count)
    }
}

/// Routes as a flat array, longest prefix first: the first match on a segment boundary wins.
public final class RouteTable: Sendable {
    public let routes: [Route]

    public enum Match {
        case route(Int)
        /// The path names a routed folder without its slash ("/images"): redirect to the folder.
        case redirect(Int)
        case none
        /// The path has a "." or ".." segment (see `DotSegments`): 400.
        case dotSegments
    }

    public init(routes: [Route]) {
        self.routes = routes.sorted { $0.prefixBytes.count > $1.prefixBytes.count }
    }

    public var pools: [UpstreamPool] {
        var seen = Set<ObjectIdentifier>()
        return routes.compactMap { seen.insert(ObjectIdentifier($0.pool)).inserted ? $0.pool : nil }
    }

    /// Finds the route for a request by its path: the origin-form target up to any '?', or "/" for "*" and
    /// for an absolute-form target without a path.
    public func match(_ head: HTTPRequestHead, _ base: UnsafePointer<UInt8>) -> Match {
        let p = head.origin.pointer(in: base)
        let n = Int(head.origin.count)
        var pathCount = n
        for i in 0..<n where p[i] == 0x3F { pathCount = i; break }
        if pathCount == 0 || p[0] != 0x2F {
            let root: StaticString = "/"
            return match(root.utf8Start, 1)
        }
        if DotSegments.present(p, pathCount) { return .dotSegments }
        return match(p, pathCount)
    }

    /// Finds the route for a request path (`p[0..<n]`, the target up to any '?').
    @inline(__always)
    public func match(_ p: UnsafePointer<UInt8>, _ n: Int) -> Match {
        for (i, route) in routes.enumerated() {
            let prefix = route.prefixBytes
            let m = prefix.count
            if m <= n {
                let same = prefix.withUnsafeBufferPointer { memcmp($0.baseAddress!, p, m) == 0 }
                if same && (prefix[m - 1] == 0x2F || m == n || p[m] == 0x2F || p[m] == 0x3F) { return .route(i) }
            } else if m == n + 1 && prefix[m - 1] == 0x2F {
                // "/images" against the route "/images/": the folder without its slash.
                let same = prefix.withUnsafeBufferPointer { memcmp($0.baseAddress!, p, n) == 0 }
                if same { return .redirect(i) }
            }
        }
        return .none
    }
}

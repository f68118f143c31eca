/// Whether a request path has a "." or ".." segment, written plainly or percent-encoded ("%2e%2E").
/// A forwarder routes on the path as sent, so "/images/../admin/x" would go to the /images/ pool while
/// the upstream (after resolving it) serves /admin/x: the route and the upstream would disagree. Such
/// paths are refused instead; clients resolve dot segments before sending (RFC 3986 §5.2.4).
enum DotSegments {
    static func present(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var i = 0
        while i < n {
            // At the start of a segment (just after a '/').
            if p[i] == 0x2F {
                i += 1
                var dots = 0
                var j = i
                while j < n && p[j] != 0x2F {
                    if p[j] == 0x2E {
                        j += 1
                    } else if p[j] == 0x25 && j + 2 < n && p[j + 1] == 0x32 && (p[j + 2] | 0x20) == 0x65 {
                        j += 3
                    } else {
                        dots = -1
                        break
                    }
                    dots += 1
                }
                if dots == 1 || dots == 2 { return true }
                continue
            }
            i += 1
        }
        return false
    }
}

import Glibc
import HTTPCore
import NetCore

/// Writes the forwarded form of requests and responses: hop-by-hop fields dropped (and the extension
/// fields the Connection field names), X-Forwarded-For appended with the client address,
/// X-Forwarded-Proto and X-Forwarded-Host set from this hop, Via appended, Host passed through unchanged.
struct MessageRewriter {
    /// "1.1 balancer" or "1.1 proxy": what this hop adds to Via.
    let via: StaticString
    private var listed = ConnectionListed()

    init(via: StaticString) { self.via = via }

    /// The upstream request head for `route`. The target goes in origin-form (an absolute-form target
    /// loses its scheme and authority, which become Host), without the route's prefix when it strips.
    /// `clientFD` names this hop's address for the Host of an HTTP/1.0 request that sent none, since the
    /// upstream is spoken to in HTTP/1.1, where Host is required.
    mutating func writeRequest(_ head: HTTPRequestHead, _ base: UnsafePointer<UInt8>, route: Route,
                               client: UnsafePointer<sockaddr_storage>, clientFD: Int32, into out: ByteBuffer) {
        out.append(head.methodSpan.buffer(in: base))
        out.append(byte: 0x20)
        let strip = route.stripPrefix ? route.strippedLength : 0
        var origin = head.origin.buffer(in: base)
        if strip > 0 { origin = UnsafeRawBufferPointer(rebasing: origin[strip...]) }
        if origin.isEmpty || (origin[0] != 0x2F && origin[0] != 0x2A) { out.append(byte: 0x2F) }
        out.append(origin)
        out.append(" HTTP/1.1\r\n")
        listed.collect(head.headers, base)
        var forwardedFor = -1
        var via = -1
        var sentHost = false
        for i in 0..<head.headers.count {
            let field = head.headers[i]
            switch field.known {
            case .transferEncoding:
                // Only "chunked" gets this far (the parser refuses anything else); the body is passed on as is.
                out.append("Transfer-Encoding: chunked\r\n")
                continue
            case .host:
                // An absolute-form target's authority stands in for Host (RFC 9112 §3.2.2).
                if !head.authority.isEmpty { continue }
                sentHost = true
            case .xForwardedFor:
                if forwardedFor < 0 { forwardedFor = i }
                continue
            case .via:
                if via < 0 { via = i }
                continue
            case .xForwardedProto, .xForwardedHost:
                continue   // this hop's own values follow; a client must not choose them
            case .xForwardedPrefix where strip > 0:
                continue
            case .expect where head.minorVersion == 0:
                continue   // HTTP/1.0 has no Expect (RFC 9110 §10.1.1), and its client could not take a 100
            case .other:
                // Connection may name extension fields as hop-by-hop, never the ones that frame the
                // message or carry its host (RFC 9110 §7.6.1): those are known fields, kept.
                if listed.contains(field, base) { continue }
            default:
                if field.known.isHopByHop { continue }
            }
            out.appendHeader(field, from: base)
        }
        var host: UnsafeRawBufferPointer?
        if !head.authority.isEmpty {
            host = head.authority.buffer(in: base)
            out.append("Host: ")
            out.append(head.authority.buffer(in: base))
            out.append("\r\n")
        } else if sentHost {
            host = head.headers[head.hostIndex].value.buffer(in: base)
        } else {
            out.append("Host: ")
            // A unix socket has no authority to name.
            let local = Socket.localAddress(clientFD)?.description ?? "unix:"
            out.append(local.hasPrefix("unix:") ? "localhost" : local)
            out.append("\r\n")
        }
        // Every earlier hop's addresses, then this client's.
        out.append("X-Forwarded-For: ")
        if forwardedFor >= 0 {
            appendJoined(head.headers, .xForwardedFor, base, out)
            out.append(", ")
        }
        out.append(host: client)
        out.append("\r\nX-Forwarded-Proto: http\r\n")
        if let host {
            out.append("X-Forwarded-Host: ")
            out.append(host)
            out.append("\r\n")
        }
        if strip > 0 {
            out.append("X-Forwarded-Prefix: ")
            out.append(UnsafeRawBufferPointer(start: base + Int(head.origin.start), count: strip))
            out.append("\r\n")
        }
        out.append("Via: ")
        if via >= 0 {
            appendJoined(head.headers, .via, base, out)
            out.append(", ")
        }
        out.append(self.via)
        out.append("\r\n\r\n")
    }

    /// The client-bound response head. `dechunk`: the body is being unwrapped for an HTTP/1.0 client.
    mutating func writeResponse(_ head: HTTPResponseHead, _ base: UnsafePointer<UInt8>, clientMinor: UInt8,
                                keepAlive: Bool, dechunk: Bool, into out: ByteBuffer) {
        out.append("HTTP/1.1 ")
        out.append(decimal: head.status)
        out.append(byte: 0x20)
        if head.reason.isEmpty { out.append(HTTPStatus(head.status).reason) } else { out.append(head.reason.buffer(in: base)) }
        out.append("\r\n")
        listed.collect(head.headers, base)
        var via = -1
        for i in 0..<head.headers.count {
            let field = head.headers[i]
            if field.known == .transferEncoding {
                if !dechunk { out.appendHeader(field, from: base) }
                continue
            }
            if field.known == .via {
                if via < 0 { via = i }
                continue
            }
            if field.known.isHopByHop || (field.known == .other && listed.contains(field, base)) { continue }
            out.appendHeader(field, from: base)
        }
        out.append("Via: ")
        if via >= 0 {
            appendJoined(head.headers, .via, base, out)
            out.append(", ")
        }
        out.append(self.via)
        out.append("\r\n")
        if !keepAlive { out.append("Connection: close\r\n") }
        else if clientMinor == 0 { out.append("Connection: keep-alive\r\n") }
        out.append("\r\n")
    }

    /// All values of a repeatable field, in order, comma-joined (the list form of RFC 9110 §5.3).
    private func appendJoined(_ headers: [HeaderField], _ known: KnownHeader, _ base: UnsafePointer<UInt8>, _ out: ByteBuffer) {
        var first = true
        for field in headers where field.known == known {
            if !first { out.append(", ") }
            out.append(field.value.buffer(in: base))
            first = false
        }
    }
}

extension ByteBuffer {
    /// Appends only the address part (no port) of a socket address: what X-Forwarded-For carries.
    func append(host storage: UnsafePointer<sockaddr_storage>) {
        if Int32(storage.pointee.ss_family) == AF_INET {
            let sin = UnsafeRawPointer(storage).load(as: sockaddr_in.self)
            let a = UInt32(bigEndian: sin.sin_addr.s_addr)
            append(decimal: Int(a >> 24)); append(byte: 0x2E)
            append(decimal: Int((a >> 16) & 0xFF)); append(byte: 0x2E)
            append(decimal: Int((a >> 8) & 0xFF)); append(byte: 0x2E)
            append(decimal: Int(a & 0xFF))
        } else if let address = SocketAddress(storage: storage) {
            append(address.host)
        } else {
            append("unknown")
        }
    }
}

import Glibc
import HTTPCore
import NetCore

/// Writes the forwarded form of requests and responses: hop-by-hop fields dropped (and those the
/// Connection field names), X-Forwarded-For appended with the client address, X-Forwarded-Proto and
/// X-Forwarded-Host set when absent, Via appended, Host passed through unchanged.
struct MessageRewriter {
    /// "1.1 balancer" or "1.1 proxy": what this hop adds to Via.
    let via: StaticString
    private var listed = ConnectionListed()

    init(via: StaticString) { self.via = via }

    /// The upstream request head: `target` replaces the original target (prefix stripping).
    mutating func writeRequest(_ head: HTTPRequestHead, _ base: UnsafePointer<UInt8>,
                               target: UnsafeRawBufferPointer, strippedPrefix: UnsafeRawBufferPointer?,
                               client: UnsafePointer<sockaddr_storage>, into out: ByteBuffer) {
        out.append(head.methodSpan.buffer(in: base))
        out.append(byte: 0x20)
        out.append(target)
        out.append(" HTTP/1.1\r\n")
        listed.collect(head.headers, base)
        var sawProto = false
        var sawForwardedHost = false
        var forwardedFor = -1
        var via = -1
        for i in 0..<head.headers.count {
            let field = head.headers[i]
            switch field.known {
            case .transferEncoding:
                // Only "chunked" gets this far (the parser refuses anything else); the body is passed on as is.
                out.append("Transfer-Encoding: chunked\r\n")
                continue
            case .xForwardedFor:
                if forwardedFor < 0 { forwardedFor = i }
                continue
            case .via:
                if via < 0 { via = i }
                continue
            case .xForwardedProto: sawProto = true
            case .xForwardedHost: sawForwardedHost = true
            case .xForwardedPrefix where strippedPrefix != nil:
                continue
            default:
                if field.known.isHopByHop { continue }
            }
            if listed.contains(field, base) { continue }
            out.appendHeader(field, from: base)
        }
        // Every earlier hop's addresses, then this client's.
        out.append("X-Forwarded-For: ")
        if forwardedFor >= 0 {
            appendJoined(head.headers, .xForwardedFor, base, out)
            out.append(", ")
        }
        out.append(host: client)
        out.append("\r\n")
        if !sawProto { out.append("X-Forwarded-Proto: http\r\n") }
        if !sawForwardedHost, head.hostIndex >= 0 {
            out.append("X-Forwarded-Host: ")
            out.append(head.headers[head.hostIndex].value.buffer(in: base))
            out.append("\r\n")
        }
        if let strippedPrefix {
            out.append("X-Forwarded-Prefix: ")
            out.append(strippedPrefix)
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
            if field.known.isHopByHop || listed.contains(field, base) { continue }
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

import Foundation
import Glibc
import NetCore

/// Talks to a balancer's or proxy's admin API over its unix socket, with blocking calls and a deadline.
/// Membership changes are rare (scaling, stop/start), so each runs on a short-lived thread, never on
/// the supervisor's loop.
struct AdminClient: Sendable {
    let socketPath: String

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Sends one request; returns status and body.
    func call(_ method: String, _ path: String, body: String? = nil, timeoutMs: Int = 5000) throws -> (Int, String) {
        let fd: Int32
        do {
            fd = try Socket.connectBlocking(to: SocketAddress(.unix(socketPath)), timeoutMs: Int32(timeoutMs))
        } catch {
            throw Failure(description: "admin API at \(socketPath): \(error)")
        }
        defer { Posix.close(fd) }
        Socket.setTimeouts(fd, receiveMs: timeoutMs, sendMs: timeoutMs)
        let bytes = Array((body ?? "").utf8)
        var request = "\(method) \(path) HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n"
        if body != nil { request += "Content-Type: application/json\r\nContent-Length: \(bytes.count)\r\n" }
        request += "\r\n"
        do {
            try Posix.setNonBlocking(fd, false)
            try Posix.writeAll(fd, request)
            if !bytes.isEmpty { try Posix.writeAll(fd, bytes) }
        } catch {
            throw Failure(description: "admin API at \(socketPath): \(error)")
        }
        let text = String(decoding: Posix.readAll(fd), as: UTF8.self)
        guard text.hasPrefix("HTTP/1."), text.count >= 12, let status = Int(text.dropFirst(9).prefix(3)) else {
            throw Failure(description: "admin API at \(socketPath): no valid answer")
        }
        let bodyText = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, bodyText)
    }

    func add(_ address: String, route: String?) throws {
        var fields = "\"address\":\"\(address)\""
        if let route { fields += ",\"route\":\"\(route)\"" }
        let (status, body) = try call("POST", "/upstreams", body: "{\(fields)}")
        guard status == 200 || status == 201 else { throw Failure(description: "adding \(address): \(status) \(body)") }
    }

    /// Starts draining `address` and waits until its in-flight requests are done and it is gone.
    func drain(_ address: String, timeoutMs: Int) throws {
        let (status, body) = try call("DELETE", "/upstreams/\(address)")
        if status == 404 { return }   // not there: nothing to drain
        guard status == 202 else { throw Failure(description: "draining \(address): \(status) \(body)") }
        let deadline = Clock.monotonicNanos() + UInt64(timeoutMs) * Clock.nanosPerMilli
        while Clock.monotonicNanos() < deadline {
            let (s, listing) = try call("GET", "/upstreams")
            if s == 200 && !listing.contains("\"address\":\"\(address)\"") { return }
            usleep(50_000)
        }
        throw Failure(description: "\(address) still had requests in flight after \(timeoutMs) ms")
    }
}

import Foundation
import Glibc
import NetCore

/// A response as a client saw it on the wire.
public struct TestResponse: Sendable {
    public var status: Int
    public var reason: String
    public var headers: [(String, String)]
    public var body: [UInt8]

    /// The first value of a header (case-insensitive name).
    public func header(_ name: String) -> String? {
        headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }

    public func headers(_ name: String) -> [String] {
        headers.filter { $0.0.caseInsensitiveCompare(name) == .orderedSame }.map(\.1)
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking HTTP/1.1 client over a real socket, for tests: sends raw bytes, reads one response at a
/// time with exact framing (Content-Length, chunked, or until close). Every read has a deadline.
public final class HTTPTestClient {
    public let fd: Int32
    private var buffer: [UInt8] = []
    private var eof = false

    public init(port: UInt16, host: SocketAddress? = nil, timeout: Double = 5) throws {
        fd = try Socket.connectBlocking(to: host ?? .loopback(port: port), timeoutMs: 2000)
        Socket.setTimeouts(fd, receiveMs: Int(timeout * 1000), sendMs: Int(timeout * 1000))
    }

    public init(unixPath: String, timeout: Double = 5) throws {
        fd = try Socket.connectBlocking(to: SocketAddress(.unix(unixPath)), timeoutMs: 2000)
        Socket.setTimeouts(fd, receiveMs: Int(timeout * 1000), sendMs: Int(timeout * 1000))
    }

    deinit { close(fd) }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw SystemError.last("send") }
            off += n
        }
    }

    /// Half-closes the sending side.
    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Sends a GET (or another method) with the usual headers and reads the response.
    public func request(_ method: String = "GET", _ target: String, headers: [String] = [],
                        body: [UInt8] = [], version: String = "HTTP/1.1") throws -> TestResponse {
        var text = "\(method) \(target) \(version)\r\nHost: localhost\r\n"
        for h in headers { text += h + "\r\n" }
        if !body.isEmpty { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        try send(Array(text.utf8) + body)
        return try readResponse(method: method)
    }

    private func fill() throws -> Bool {
        if eof { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &chunk, chunk.count, 0)
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { throw ClientError.timeout }
            throw SystemError.last("recv")
        }
        if n == 0 { eof = true; return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    public enum ClientError: Error, CustomStringConvertible {
        case timeout, closed, malformed(String)
        public var description: String {
            switch self {
            case .timeout: return "timed out waiting for the server"
            case .closed: return "connection closed before a complete response"
            case .malformed(let s): return "malformed response: \(s)"
            }
        }
    }

    /// Reads one full response. `method` tells whether a body follows (HEAD never has one).
    public func readResponse(method: String = "GET") throws -> TestResponse {
        var headEnd: Int?
        while headEnd == nil {
            if let r = find([13, 10, 13, 10]) { headEnd = r + 4; break }
            if try !fill() { throw ClientError.closed }
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        buffer.removeFirst(headEnd!)
        var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2).map(String.init)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw ClientError.malformed(statusLine)
        }
        let headers = lines.map { line -> (String, String) in
            let colon = line.firstIndex(of: ":")!
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var response = TestResponse(status: status, reason: parts.count > 2 ? parts[2] : "", headers: headers, body: [])
        if method == "HEAD" || status == 204 || status == 304 || (100..<200).contains(status) { return response }
        if let te = response.header("Transfer-Encoding"), te.lowercased().contains("chunked") {
            response.body = try readChunked()
        } else if let cl = response.header("Content-Length"), let n = Int(cl) {
            while buffer.count < n { if try !fill() { throw ClientError.closed } }
            response.body = Array(buffer[0..<n])
            buffer.removeFirst(n)
        } else {
            while try fill() {}
            response.body = buffer
            buffer.removeAll()
        }
        return response
    }

    private func readChunked() throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            var lineEnd = find([13, 10])
            while lineEnd == nil { if try !fill() { throw ClientError.closed }; lineEnd = find([13, 10]) }
            let sizeText = String(decoding: buffer[0..<lineEnd!], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                throw ClientError.malformed("chunk size '\(sizeText)'")
            }
            buffer.removeFirst(lineEnd! + 2)
            if size == 0 {
                // Trailers until an empty line.
                while true {
                    var e = find([13, 10])
                    while e == nil { if try !fill() { throw ClientError.closed }; e = find([13, 10]) }
                    let empty = e == 0
                    buffer.removeFirst(e! + 2)
                    if empty { return body }
                }
            }
            while buffer.count < size + 2 { if try !fill() { throw ClientError.closed } }
            body.append(contentsOf: buffer[0..<size])
            buffer.removeFirst(size + 2)
        }
    }

    /// True when the server has closed the connection (reads EOF within `timeout` seconds).
    public func isClosedByServer(timeout: Double) -> Bool {
        Socket.setTimeouts(fd, receiveMs: Int(timeout * 1000), sendMs: 1000)
        while true {
            do {
                if try !fill() { return true }
            } catch {
                if case ClientError.timeout = error { return false }
                return true   // reset also counts as closed
            }
        }
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard buffer.count >= needle.count else { return nil }
        outer: for i in 0...(buffer.count - needle.count) {
            for j in 0..<needle.count where buffer[i + j] != needle[j] { continue outer }
            return i
        }
        return nil
    }

    /// Bytes received but not yet consumed by a response.
    public var unread: [UInt8] { buffer }
}

import Foundation
import Glibc
import HTTPCore
import NetCore
import Synchronization

/// A real HTTP/1.1 server for tests, run on threads in the test process: it answers every request with
/// the request head it received (so a test sees exactly what a proxy forwarded), and can be told to
/// misbehave: answer slowly, drop a kept-alive connection on its next request, frame its body chunked
/// or by closing.
public final class EchoServer: @unchecked Sendable {
    public enum Framing: Sendable { case length, chunked, close }

    public struct Behavior: Sendable {
        public var delay: Double = 0
        /// Close (without answering) when a second request arrives on one connection: a stale pool entry.
        public var dropSecondRequest = false
        public var framing = Framing.length
        public var extraHeaders: [String] = []
        public var status = 200
        public init() {}
    }

    public struct Received: Sendable {
        public let head: String
        public let body: [UInt8]

        /// Header values by name (case-insensitive), in order.
        public func headers(_ name: String) -> [String] {
            head.components(separatedBy: "\r\n").dropFirst().compactMap { line in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                guard line[..<colon].caseInsensitiveCompare(name) == .orderedSame else { return nil }
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }

        public var requestLine: String { head.components(separatedBy: "\r\n").first ?? "" }
    }

    public let port: UInt16
    private let listenFD: Int32
    private let behavior: Mutex<Behavior>
    private let log = Mutex<[Received]>([])
    private let stopped = Atomic<Bool>(false)
    public let connections = Atomic<Int>(0)

    public init(_ behavior: Behavior = Behavior()) throws {
        self.behavior = Mutex(behavior)
        listenFD = try Socket.listen(on: .loopback(port: 0))
        port = Socket.localAddress(listenFD)?.port ?? 0
        serveConnections(on: listenFD, name: "echo", until: { [self] in stopped.load(ordering: .relaxed) }) { [self] client in
            connections.add(1, ordering: .relaxed)
            serve(client)
        }
    }

    deinit { stopped.store(true, ordering: .relaxed) }

    public func stop() { stopped.store(true, ordering: .relaxed) }
    public var received: [Received] { log.withLock { $0 } }
    public func setBehavior(_ b: Behavior) { behavior.withLock { $0 = b } }

    private func serve(_ fd: Int32) {
        defer { Posix.close(fd) }
        try? Posix.setNonBlocking(fd, false)
        Socket.setTimeouts(fd, receiveMs: 10_000, sendMs: 10_000)
        let input = ByteBuffer(capacity: 16384)
        var parser = HTTPRequestParser()
        var served = 0
        while !stopped.load(ordering: .relaxed) {
            var result = parser.parse(input.readable)
            while result == .needMore {
                guard let r = try? input.receive(from: fd, chunk: 16384), case .processed(let n) = r, n > 0 else { return }
                result = parser.parse(input.readable)
            }
            guard result == .complete else { return }
            let b = behavior.withLock { $0 }
            if b.dropSecondRequest && served >= 1 { return }
            let base = UnsafePointer(input.readPointer)
            let head = parser.head
            let headText = String(decoding: UnsafeBufferPointer(start: base, count: head.length), as: UTF8.self)
            input.consume(head.length)
            // The request body: Content-Length or chunked (decoded).
            var body: [UInt8] = []
            if head.contentLength > 0 {
                while input.readableBytes < head.contentLength {
                    guard let r = try? input.receive(from: fd, chunk: 16384), case .processed(let n) = r, n > 0 else { return }
                }
                body = Array(UnsafeBufferPointer(start: input.readPointer, count: head.contentLength))
                input.consume(head.contentLength)
            } else if head.isChunked {
                var decoder = ChunkedDecoder()
                while true {
                    var done = false
                    let r = decoder.feed(input.readPointer, input.readableBytes) { p, n in body += UnsafeBufferPointer(start: p, count: n) }
                    switch r {
                    case .needMore: input.consume(input.readableBytes)
                    case .done(let c): input.consume(c); done = true
                    case .invalid: return
                    }
                    if done { break }
                    guard let rr = try? input.receive(from: fd, chunk: 16384), case .processed(let n) = rr, n > 0 else { return }
                }
            }
            let method = head.method
            parser.reset()
            // The proxy's own health checks are not what a test is counting.
            if !headText.hasPrefix("GET /healthz ") || !headText.contains("User-Agent: health-check") {
                log.withLock { $0.append(Received(head: headText, body: body)) }
            }
            served += 1
            if b.delay > 0 { usleep(UInt32(b.delay * 1_000_000)) }
            let payload = Array(headText.utf8) + Array("--body--\n".utf8) + body
            var out = "HTTP/1.1 \(b.status) \(HTTPStatus(b.status).reason)\r\nServer: echo\r\n"
            for h in b.extraHeaders { out += h + "\r\n" }
            let sendBody = method != .head && b.status != 204 && b.status != 304
            switch b.framing {
            case .length: out += "Content-Length: \(payload.count)\r\n\r\n"
            case .chunked: out += "Transfer-Encoding: chunked\r\n\r\n"
            case .close: out += "Connection: close\r\n\r\n"
            }
            var bytes = Array(out.utf8)
            if sendBody {
                switch b.framing {
                case .length, .close: bytes += payload
                case .chunked:
                    // Three chunks, to make the framing visible.
                    let third = max(1, payload.count / 3)
                    var i = 0
                    while i < payload.count {
                        let n = min(third, payload.count - i)
                        bytes += Array(String(n, radix: 16).utf8) + [13, 10] + payload[i..<i + n] + [13, 10]
                        i += n
                    }
                    bytes += Array("0\r\n\r\n".utf8)
                }
            }
            var off = 0
            while off < bytes.count {
                let n = bytes[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return }
                off += n
            }
            if b.framing == .close { return }
        }
    }
}

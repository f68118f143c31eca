import Glibc
import HTTPCore
import NetCore

/// Serves the admin API over HTTP on a unix socket (`curl --unix-socket PATH http://x/upstreams`).
/// One request per connection; runs on the admin loop beside the health checks.
final class AdminServer {
    private let loop: EventLoop
    private let api: AdminAPI
    private var listener: Listener?
    let path: String
    /// The socket file this server bound, told apart from whatever is at `path` later.
    private var boundInode: ino_t?

    init(path: String, loop: EventLoop, service: ForwardingService) throws {
        self.path = path
        self.loop = loop
        api = AdminAPI(service: service)
        // Binding unlinks what is at the path: fine for a socket left by a crash, not for one a running
        // balancer still answers on (its admin API would vanish).
        if let probe = try? Socket.connectBlocking(to: SocketAddress(.unix(path)), timeoutMs: 500) {
            Posix.close(probe)
            throw AdminSocketInUse(path: path)
        }
        let fd = try Socket.listen(on: SocketAddress(.unix(path)), backlog: 64)
        chmod(path, 0o600)   // the admin API can reconfigure the balancer: owner only
        boundInode = Self.inode(path)
        listener = Listener(fd: fd, loop: loop, shared: false, ownsSocket: true) { [unowned self] client, _ in
            AdminConnection(fd: client, loop: self.loop, api: self.api).start()
        }
        try listener?.start()
    }

    func close() {
        listener?.close()
        // Only if the path is still this socket: the supervisor may have moved it to the usual path of a
        // balancer this one is replacing, and bound a successor at this path meanwhile.
        if let mine = boundInode, Self.inode(path) == mine { unlink(path) }
    }

    private static func inode(_ path: String) -> ino_t? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_ino : nil
    }
}

/// Another process answers on the admin socket's path.
struct AdminSocketInUse: Error, CustomStringConvertible {
    let path: String
    var description: String { "a running process answers on it; give this one another --admin path" }
}

final class AdminConnection: OneShotConnection {
    private let api: AdminAPI
    private let input = ByteBuffer(capacity: 4096)
    private var parser = HTTPRequestParser()

    init(fd: Int32, loop: EventLoop, api: AdminAPI) {
        self.api = api
        super.init(fd: fd, loop: loop)
    }

    func start() {
        if !loop.setInterest(self, events: Events.readable) { close(); return }
        loop.setDeadline(self, loop.now &+ 10 * Clock.nanosPerSecond)
    }

    override func handleEvent(_ events: UInt32) {
        if isAnswering {
            continueAnswer()
            return
        }
        do {
            switch try input.receive(from: fd, chunk: 4096) {
            case .wouldBlock: return
            case .processed(0): close(); return
            case .processed: break
            }
        } catch {
            close()
            return
        }
        switch parser.parse(input.readable) {
        case .needMore:
            if input.readableBytes > 1 << 20 { reply(413, "{\"error\":\"request too large\"}\n", "application/json") }
        case .invalid(let e):
            reply(e.status.code, "{\"error\":\"\(e.reason)\"}\n", "application/json")
        case .complete:
            let head = parser.head
            let base = UnsafePointer(input.readPointer)
            let bodyLength = max(0, head.contentLength)
            if head.isChunked { reply(411, "{\"error\":\"send the body with Content-Length\"}\n", "application/json"); return }
            guard input.readableBytes >= head.length + bodyLength else { return }
            let method = head.methodSpan.string(in: base)
            let target = head.target.string(in: base)
            let body = Array(UnsafeBufferPointer(start: base + head.length, count: bodyLength))
            let r = api.handle(method: method, path: target, body: body)
            reply(r.status, r.body, r.contentType, allow: r.allow)
        }
    }

    private func reply(_ status: Int, _ body: String, _ type: String, allow: String? = nil) {
        let bytes = Array(body.utf8)
        let head = "HTTP/1.1 \(status) \(HTTPStatus(status).reason)\r\nContent-Type: \(type)\r\nContent-Length: \(bytes.count)\r\n"
            + (allow.map { "Allow: \($0)\r\n" } ?? "") + "Connection: close\r\n\r\n"
        answer(Array(head.utf8) + bytes)
    }

    override func timerFired(now: UInt64) { close() }
}

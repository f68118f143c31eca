import Glibc
import NetCore

/// One health check: connect, then (HTTP) send `GET path` and read the status line; 2xx/3xx pass.
/// Used by the balancer and proxy for their upstreams and by the supervisor for its instances.
public final class HealthProbe: FDHandler {
    public enum Check: Sendable {
        case http(path: String, host: String)
        /// Connecting is enough.
        case tcp
    }

    private let check: Check
    private unowned let loop: EventLoop
    private let done: (Bool?, String) -> Void
    private var connecting = true
    private let buffer = ByteBuffer(capacity: 512)
    private var finished = false

    /// Runs one check on `loop`; `done(passed, detail)` is called exactly once, on the loop. `passed` is
    /// nil when the check could not be made for a shortage here (out of descriptors): no verdict on the peer.
    public static func start(_ address: SocketAddress, check: Check, timeout: Timeout, loop: EventLoop,
                             done: @escaping (Bool?, String) -> Void) {
        let fd: Int32
        let inProgress: Bool
        do {
            (fd, inProgress) = try Socket.connect(to: address)
        } catch {
            done(error.isLocalShortage ? nil : false, "connect: \(error.reason)")
            return
        }
        let probe = HealthProbe(fd: fd, check: check, loop: loop, done: done)
        if inProgress {
            probe.arm(Events.writable)
        } else {
            probe.connected()
        }
        if !probe.finished { loop.setDeadline(probe, loop.now &+ timeout.nanos) }
    }

    private init(fd: Int32, check: Check, loop: EventLoop, done: @escaping (Bool?, String) -> Void) {
        self.check = check
        self.loop = loop
        self.done = done
        super.init(fd: fd)
    }

    private func arm(_ events: UInt32) {
        if !loop.setInterest(self, events: events) { finish(false, "epoll registration failed") }
    }

    public override func handleEvent(_ events: UInt32) {
        if connecting {
            let error = Socket.pendingError(fd)
            if error != 0 {
                finish(false, "connect: \(String(cString: strerror(error)))")
                return
            }
            connected()
            return
        }
        do {
            switch try buffer.receive(from: fd, chunk: 512) {
            case .wouldBlock: return
            case .processed(0): finish(false, "closed before answering")
            case .processed: checkStatus()
            }
        } catch {
            finish(false, "read: \(error.reason)")
        }
    }

    private func connected() {
        connecting = false
        guard case .http(let path, let host) = check else {
            finish(true, "connected")
            return
        }
        let request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: health-check\r\nConnection: close\r\n\r\n"
        var bytes = Array(request.utf8)
        let sent = bytes.withUnsafeMutableBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if sent != bytes.count {
            finish(false, "could not send the check")
            return
        }
        arm(Events.readable)
    }

    /// Succeeds on a 2xx or 3xx status line.
    private func checkStatus() {
        let text = buffer.readable
        guard text.count >= 12 else { return }
        guard text.starts(with: Array("HTTP/1.".utf8)) else {
            finish(false, "not an HTTP answer")
            return
        }
        let code = (Int(text[9]) - 48) * 100 + (Int(text[10]) - 48) * 10 + (Int(text[11]) - 48)
        if code >= 200 && code < 400 { finish(true, "HTTP \(code)") } else { finish(false, "HTTP \(code)") }
    }

    public override func timerFired(now: UInt64) {
        finish(false, connecting ? "connect timed out" : "no answer in time")
    }

    private func finish(_ ok: Bool, _ detail: String) {
        if finished { return }
        finished = true
        loop.deregister(self, closing: true)
        Posix.close(fd)
        done(ok, detail)
    }
}

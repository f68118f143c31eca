import Glibc
import NetCore

/// Active health checks, run on the admin loop: every interval each upstream gets one probe (unless one
/// is still running), and the results move it up or down through the rise/fall thresholds.
final class HealthChecker {
    private let loop: EventLoop
    private let service: ForwardingService
    private var inFlight = Set<ObjectIdentifier>()

    init(loop: EventLoop, service: ForwardingService) {
        self.loop = loop
        self.service = service
    }

    func start() {
        let h = service.settings.health
        guard h.enabled else { return }
        loop.repeating(every: h.interval.nanos) { [unowned self] in self.round() }
        round()
    }

    private func round() {
        for pool in service.pools {
            for up in pool.snapshot.upstreams where up.state != .draining {
                let id = ObjectIdentifier(up)
                if inFlight.contains(id) { continue }
                inFlight.insert(id)
                HealthProbe.start(up, loop: loop, settings: service.settings.health) { [unowned self] ok, detail in
                    self.inFlight.remove(id)
                    self.service.healthResult(up, ok: ok, detail: detail)
                }
            }
        }
    }
}

/// One health check of one upstream: connect, then (HTTP) send `GET path` and read the status line.
final class HealthProbe: FDHandler {
    private let upstream: Upstream
    private unowned let loop: EventLoop
    private let settings: HealthSettings
    private let done: (Bool, String) -> Void
    private var connecting = true
    private let buffer = ByteBuffer(capacity: 512)
    private var finished = false

    static func start(_ up: Upstream, loop: EventLoop, settings: HealthSettings, done: @escaping (Bool, String) -> Void) {
        let fd: Int32
        let inProgress: Bool
        do {
            (fd, inProgress) = try Socket.connect(to: up.address)
        } catch {
            done(false, "connect: \(error.reason)")
            return
        }
        let probe = HealthProbe(fd: fd, upstream: up, loop: loop, settings: settings, done: done)
        if inProgress {
            probe.arm(Events.writable)
        } else {
            probe.connected()
        }
        if !probe.finished { loop.setDeadline(probe, loop.now &+ settings.timeout.nanos) }
    }

    private init(fd: Int32, upstream: Upstream, loop: EventLoop, settings: HealthSettings, done: @escaping (Bool, String) -> Void) {
        self.upstream = upstream
        self.loop = loop
        self.settings = settings
        self.done = done
        super.init(fd: fd)
    }

    private func arm(_ events: UInt32) {
        if !loop.setInterest(self, events: events) { finish(false, "epoll registration failed") }
    }

    override func handleEvent(_ events: UInt32) {
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
            switch try buffer.read(from: fd, chunk: 512) {
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
        guard settings.useHTTP else {
            finish(true, "connected")
            return
        }
        let request = "GET \(settings.path) HTTP/1.1\r\nHost: \(upstream.key)\r\nUser-Agent: health-check\r\nConnection: close\r\n\r\n"
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
        if code >= 200 && code < 400 { finish(true, "HTTP \(code)") } else { finish(false, "HTTP \(code) from \(settings.path)") }
    }

    override func timerFired(now: UInt64) {
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

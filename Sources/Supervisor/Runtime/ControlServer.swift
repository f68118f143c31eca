import Foundation
import Glibc
import NetCore

/// Serves the control socket in the run folder, on the supervisor's loop: `status`, `scale`, `restart`,
/// `stop`, `start`, `down` and `wait` from the other `supervisor` commands, `apply` from `up`.
final class ControlServer {
    private let loop: EventLoop
    private unowned let runner: TopologyRunner
    private var listener: Listener?
    let path: String
    /// Asked to shut everything down and exit (after replying).
    var onDown: (() -> Void)?

    init(path: String, loop: EventLoop, runner: TopologyRunner) throws {
        self.path = path
        self.loop = loop
        self.runner = runner
        let fd = try Socket.listen(on: SocketAddress(.unix(path)), backlog: 64)
        chmod(path, 0o600)
        let listener = Listener(fd: fd, loop: loop, shared: false, ownsSocket: true) { [unowned self] client, _ in
            ControlConnection(fd: client, server: self).start()
        }
        try listener.start()
        self.listener = listener
    }

    func close() {
        listener?.close()
        unlink(path)
    }

    var eventLoop: EventLoop { loop }

    /// Runs one command; `reply` may be called later (scale, stop and down wait for the work to finish).
    func handle(_ request: [String: Any], reply: @escaping ([String: Any]) -> Void) {
        let command = request["command"] as? String ?? ""
        // "usage": the request names something the topology does not have; the client exits 2 for it.
        func fail(_ message: String, usage: Bool = false) { reply(["ok": false, "error": message, "usage": usage]) }
        switch command {
        case "status", "ping":
            reply(status())
        case "wait":
            waitUntilSettled(timeoutMs: request["timeout_ms"] as? Int ?? 120_000, reply: reply)
        case "scale":
            guard let service = request["service"] as? String, let count = request["count"] as? Int else {
                return fail("scale needs a service and a count")
            }
            if let busy = runner.applyingRefusal { return fail(busy) }
            runner.scale(service, to: count) { result in
                switch result {
                case .success(let message): reply(["ok": true, "message": message])
                case .failure(let error): fail(error.description, usage: error.callersMistake)
                }
            }
        case "restart", "stop", "start":
            guard let name = request["name"] as? String else { return fail("\(command) needs a service or instance name") }
            let targets = runner.allInstances.filter { $0.name == name || $0.service.name == name }
            guard !targets.isEmpty else {
                return fail("no service or instance '\(name)' (have: \(runner.allInstances.map(\.name).joined(separator: ", ")))", usage: true)
            }
            perform(command, on: targets, reply: reply)
        case "reconfigure":
            // Replace a service's extra arguments and restart its instances one at a time (their sockets stay open).
            guard let service = request["service"] as? String, let args = request["args"] as? [String],
                  runner.topology.service(named: service) != nil else {
                return fail("reconfigure needs an existing service and an args list")
            }
            if let busy = runner.applyingRefusal { return fail(busy) }
            runner.argumentOverrides[service] = args
            runner.logs.event("reconfiguring \(service): \(args.joined(separator: " "))")
            rollingRestart(runner.instances(of: service).filter(\.wanted), reply: reply)
        case "apply":
            // `up` on an edited file: the supervisor reads the file itself, so what it applies is what it checked.
            guard let path = request["file"] as? String else { return fail("apply needs a topology file") }
            let file: Topology
            do { file = try TopologyLoader.load(path: path) } catch { return fail("\(error)\nnothing was changed", usage: true) }
            guard file.name == runner.topology.name else {
                return fail("\(path) describes \(file.name), but this supervisor runs \(runner.topology.name)", usage: true)
            }
            runner.apply(file) { result in
                switch result {
                case .success(let lines): reply(["ok": true, "message": lines.joined(separator: "\n")])
                case .failure(let error): fail(error.description, usage: error.callersMistake)
                }
            }
        case "down":
            reply(["ok": true, "message": "stopping \(runner.topology.name)"])
            onDown?()
        default:
            fail("unknown command '\(command)'")
        }
    }

    private func status() -> [String: Any] {
        [
            "ok": true, "topology": runner.topology.name, "file": runner.topology.file, "pid": Int(getpid()),
            "instances": runner.allInstances.map { ControlProtocol.describe($0, now: loop.now) },
            "definitions": TopologyFingerprint.of(runner.topology, argumentOverrides: runner.argumentOverrides),
            "held_ports": runner.heldPorts.sorted(),
        ]
    }

    private func perform(_ command: String, on targets: [Instance], reply: @escaping ([String: Any]) -> Void) {
        var left = targets.count
        var errors: [String] = []
        let finish = { [unowned self] in
            left -= 1
            guard left == 0 else { return }
            if errors.isEmpty {
                reply(["ok": true, "message": "\(command == "stop" ? "stopped" : command == "start" ? "started" : "restarted") \(targets.map(\.name).joined(separator: ", "))"])
            } else {
                reply(["ok": false, "error": errors.joined(separator: "; ")])
            }
            _ = self
        }
        for instance in targets {
            switch command {
            case "stop":
                runner.leave(instance) { [unowned self] error in
                    if let error { errors.append("\(instance.name): \(error)") }
                    self.runner.logs.event("stopping \(instance.name) (asked)")
                    self.runner.stop(instance) {
                        // Stopped on purpose, its port refuses connections (as after `docker compose stop`)
                        // instead of queueing them for no one; `start` binds it again.
                        self.runner.releaseSocket(instance)
                        finish()
                    }
                }
            case "start":
                if instance.isRunning { finish(); continue }
                instance.wanted = true
                instance.retriesInARow = 0
                runner.logs.event("starting \(instance.name) (asked)")
                runner.start(instance)
                awaitHealthy(instance) { [unowned self] ok in
                    guard ok else {
                        errors.append("\(instance.name): \(instance.reason ?? "not healthy")")
                        finish()
                        return
                    }
                    if instance.joined { finish(); return }
                    self.runner.join(instance) { error in
                        if let error { errors.append("\(instance.name): \(error)") }
                        finish()
                    }
                }
            default:   // restart: graceful stop, start again in the same slot (the socket stays open meanwhile)
                runner.logs.event("restarting \(instance.name) (asked)")
                runner.stop(instance) { [unowned self] in
                    instance.wanted = true
                    instance.retriesInARow = 0
                    self.runner.start(instance)
                    self.awaitHealthy(instance) { ok in
                        if !ok { errors.append("\(instance.name): \(instance.reason ?? "not healthy")") }
                        finish()
                    }
                }
            }
        }
    }

    private func rollingRestart(_ list: [Instance], reply: @escaping ([String: Any]) -> Void) {
        guard let first = list.first else {
            reply(["ok": true, "message": "restarted"])
            return
        }
        perform("restart", on: [first]) { [unowned self] result in
            if result["ok"] as? Bool != true { reply(result); return }
            self.rollingRestart(Array(list.dropFirst()), reply: reply)
        }
    }

    private func awaitHealthy(_ instance: Instance, _ done: @escaping (Bool) -> Void) {
        let deadline = loop.now &+ UInt64(instance.service.health.startTimeoutMs + 5_000) * Clock.nanosPerMilli
        var task: ScheduledTask?
        task = loop.repeating(every: 20 * Clock.nanosPerMilli) { [unowned self] in
            if instance.state == .healthy { task?.cancel(); done(true) }
            else if instance.state == .failed || self.loop.now > deadline { task?.cancel(); done(false) }
        }
    }

    /// For `up --detach`: answers once every instance is healthy, or one has failed, or time is up.
    private func waitUntilSettled(timeoutMs: Int, reply: @escaping ([String: Any]) -> Void) {
        let deadline = loop.now &+ UInt64(timeoutMs) * Clock.nanosPerMilli
        var task: ScheduledTask?
        task = loop.repeating(every: 20 * Clock.nanosPerMilli) { [unowned self] in
            if let failed = self.runner.anyFailed {
                task?.cancel()
                var s = self.status()
                s["ok"] = false
                s["error"] = "\(failed.name) failed: \(failed.reason ?? "unknown")"
                reply(s)
            } else if self.runner.allHealthy {
                task?.cancel()
                reply(self.status())
            } else if self.loop.now > deadline {
                task?.cancel()
                var s = self.status()
                s["ok"] = false
                s["error"] = "not everything was healthy after \(timeoutMs / 1000)s"
                reply(s)
            }
        }
    }
}

/// One control client: reads a line, runs it, writes the answer, closes.
final class ControlConnection: OneShotConnection {
    private unowned let server: ControlServer
    private let input = ByteBuffer(capacity: 1024)
    private var answered = false

    init(fd: Int32, server: ControlServer) {
        self.server = server
        super.init(fd: fd, loop: server.eventLoop)
    }

    func start() {
        if !server.eventLoop.setInterest(self, events: Events.readable) { close() }
    }

    override func handleEvent(_ events: UInt32) {
        if isAnswering {
            continueAnswer()
            return
        }
        if answered { close(); return }
        do {
            switch try input.receive(from: fd, chunk: 1024) {
            case .wouldBlock: return
            case .processed(0): close(); return
            case .processed: break
            }
        } catch {
            close()
            return
        }
        guard let newline = input.readable.firstIndex(of: 0x0A) else {
            if input.readableBytes > 65536 { close() }
            return
        }
        answered = true
        let line = Array(input.readable[..<newline])
        guard let request = ControlProtocol.decode(line) else {
            send(["ok": false, "error": "the request must be one JSON object on one line"])
            return
        }
        // Stop reading: the answer may come later; a client that goes away meanwhile is just dropped.
        _ = server.eventLoop.setInterest(self, events: Events.readHangup)
        server.handle(request) { [weak self] reply in self?.send(reply) }
    }

    private func send(_ reply: [String: Any]) {
        answer(ControlProtocol.encode(reply))
    }
}

import CLI
import Foundation
import Glibc
import NetCore

/// Runs the seeds' experiments against a topology: for each backend count (scaled live) × model ×
/// keep-alive × concurrency, a warm-up and a measured load, one table row each.
struct BenchRunner {
    let options: BenchOptions
    let topology: Topology
    let folder: RunFolder
    let control: ControlClient
    let backendService: Service
    let progress: BenchProgress

    init(options: BenchOptions, topology: Topology, folder: RunFolder) throws {
        self.options = options
        self.topology = topology
        self.folder = folder
        control = ControlClient(folder: folder)
        guard let balancer = topology.services.first(where: { $0.program == .balancer }),
              let upstreams = balancer.upstreams, let backends = topology.service(named: upstreams) else {
            throw RuntimeError("\(topology.file) has no balancer with upstreams: bench needs one to scale its backends")
        }
        backendService = backends
        let counts = options.backends ?? Array(backends.minInstances...backends.maxInstances)
        for n in counts where n < backends.minInstances || n > backends.maxInstances {
            throw UsageError("--backends: \(backends.name) can run \(backends.minInstances) to \(backends.maxInstances) instances, not \(n)")
        }
        let total = counts.count * options.models.count * options.keepAlive.count * options.concurrency.count
        progress = BenchProgress(total: total)
    }

    var backendCounts: [Int] { options.backends ?? Array(backendService.minInstances...backendService.maxInstances) }

    /// The address the load goes to.
    func targetAddress() throws -> (SocketAddress, String) {
        let service: Service?
        switch options.target {
        case "proxy": service = topology.services.first { $0.program == .proxy }
        case "backend": service = backendService
        default: service = topology.services.first { $0.program == .balancer }
        }
        guard let s = service, let port = s.firstPort else {
            throw RuntimeError("\(topology.file) has no \(options.target) with a port to load")
        }
        let host = topology.host == "0.0.0.0" ? "127.0.0.1" : topology.host
        return (try SocketAddress.parse("\(host):\(port)"), "\(host):\(port)")
    }

    func run() throws -> [BenchRow] {
        let (address, hostHeader) = try targetAddress()
        var rows: [BenchRow] = []
        progress.header(BenchReport.columns)
        for model in options.models {
            try setModel(model)
            for count in backendCounts {
                try scale(to: count)
                for keepAlive in options.keepAlive {
                    for c in options.concurrency {
                        progress.starting("\(backendService.name)=\(count) \(model) \(keepAlive ? "keep-alive" : "close") c=\(c)")
                        var config = LoadConfig(target: address, hostHeader: hostHeader, path: options.path, concurrency: c,
                                                keepAlive: keepAlive, requests: options.warmupRequests, durationMs: 0)
                        if options.warmupRequests > 0 { _ = try LoadGenerator.run(config) }
                        config.requests = options.requests
                        config.durationMs = options.durationMs
                        let counter = ProgressCounter()
                        config.progress = counter
                        let chaos = options.chaos ? startChaos(counter: counter, config: config) : nil
                        let result = try LoadGenerator.run(config)
                        let note = chaos?.finish()
                        let row = BenchRow(target: options.target, backends: count, model: model, keepAlive: keepAlive,
                                           concurrency: c, result: result, chaos: note)
                        rows.append(row)
                        progress.finished(BenchReport.cells(row))
                    }
                }
            }
        }
        return rows
    }

    /// Restarts the backends with `--model` (their sockets stay open while each restarts).
    private func setModel(_ model: String) throws {
        var args = backendService.args
        if let i = args.firstIndex(of: "--model"), i + 1 < args.count { args.removeSubrange(i...i + 1) }
        args += ["--model", model]
        if model == "event" && options.models == ["event"] && !backendService.args.contains("--model") { return }
        _ = try Locate.check(control.send(["command": "reconfigure", "service": backendService.name, "args": args]))
    }

    private func scale(to n: Int) throws {
        _ = try Locate.check(control.send(["command": "scale", "service": backendService.name, "count": n]))
    }

    /// Puts the topology back as it was before the run (backend count, backend arguments).
    func restore(count: Int) {
        _ = try? control.send(["command": "reconfigure", "service": backendService.name, "args": backendService.args])
        _ = try? control.send(["command": "scale", "service": backendService.name, "count": count])
    }

    /// `--chaos kill-backend`: SIGKILL one backend once half the requests are done.
    private func startChaos(counter: ProgressCounter, config: LoadConfig) -> ChaosMonkey {
        ChaosMonkey(control: control, service: backendService.name, counter: counter,
                    half: config.requests > 0 ? config.requests / 2 : nil, halfTimeMs: config.durationMs / 2)
    }
}

/// Kills one backend instance with SIGKILL halfway through a run, and says which.
final class ChaosMonkey: @unchecked Sendable {
    private let thread: OSThread
    private let box = ChaosNote()

    init(control: ControlClient, service: String, counter: ProgressCounter, half: Int?, halfTimeMs: Int) {
        let box = self.box
        let started = Date()
        thread = OSThread.start(name: "chaos") {
            while !box.cancelled {
                if let half, counter.value >= half { break }
                if half == nil && Date().timeIntervalSince(started) * 1000 >= Double(halfTimeMs) { break }
                usleep(2_000)
            }
            if box.cancelled { return }
            guard let reply = try? control.send(["command": "status"]),
                  let list = reply["instances"] as? [[String: Any]],
                  let victim = list.last(where: { $0["service"] as? String == service && ($0["pid"] as? Int ?? 0) > 0 }),
                  let pid = victim["pid"] as? Int, !box.cancelled else { return }
            kill(pid_t(pid), SIGKILL)
            box.set("killed \(victim["name"] as? String ?? "?") (pid \(pid)) at request \(counter.value)")
        }
    }

    /// Stops the monkey (a late one must not kill during the next run) and says what it did.
    func finish() -> String {
        box.cancel()
        thread.join()
        return box.get() ?? "no backend was killed (the run ended first)"
    }
}

final class ChaosNote: @unchecked Sendable {
    private var value: String?
    private var stop = false
    private let lock = NSLock()
    func set(_ s: String) { lock.lock(); value = s; lock.unlock() }
    func get() -> String? { lock.lock(); defer { lock.unlock() }; return value }
    func cancel() { lock.lock(); stop = true; lock.unlock() }
    var cancelled: Bool { lock.lock(); defer { lock.unlock() }; return stop }
}

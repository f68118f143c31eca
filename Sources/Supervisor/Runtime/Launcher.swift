import Foundation
import Glibc
import NetCore

/// Turns an instance into a command line, an environment and the descriptors it gets: its held listening
/// socket as fd 3 (LISTEN_FDS=1), stdout and stderr into pipes the log merger reads, stdin from /dev/null.
struct Launcher {
    var topology: Topology
    let runFolder: String
    /// Folder holding backend, balancer and proxy (the supervisor's own folder).
    let programsFolder: String

    struct Launched {
        let pid: pid_t
        let stdout: Int32
        let stderr: Int32
    }

    /// The admin socket the supervisor gives a balancer or proxy instance.
    func adminSocket(_ instance: Instance) -> String { "\(runFolder)/\(instance.name)\(instance.adminTag).admin.sock" }

    func arguments(for instance: Instance, extraArguments: [String]? = nil, peers: (String) -> [Instance]) -> (path: String, args: [String]) {
        let s = instance.service
        var args: [String] = []
        let path: String
        switch s.program {
        case .backend, .balancer, .proxy:
            let name = s.program == .backend ? "backend" : s.program == .balancer ? "balancer" : "proxy"
            path = "\(programsFolder)/\(name)"
            if let port = instance.port { args += ["--port", String(port), "--host", topology.host] }
            if let w = s.workers { args += ["--workers", String(w)] }
            // Its own graceful stop ends inside the supervisor's stop_timeout, so what it has to cut is cut
            // (and logged) by the program itself rather than by a SIGKILL.
            if !s.args.contains(where: { $0 == "--shutdown-timeout" || $0.hasPrefix("--shutdown-timeout=") }) {
                let ms = s.stopTimeoutMs >= 2_000 ? s.stopTimeoutMs - 1_000 : s.stopTimeoutMs / 2
                args += ["--shutdown-timeout", "\(ms)ms"]
            }
            // The check asks the balancer or proxy itself whether it is alive; forwarded to an upstream,
            // one hung upstream would get the balancer, and every route behind the proxy, restarted.
            if s.program != .backend, s.mode != "tcp", case .http(let path) = s.health.kind { args += ["--monitor-path", path] }
        case .command(let p):
            path = p
        }
        switch s.program {
        case .backend:
            if let root = s.root { args += ["--root", root] }
        case .balancer:
            for peer in peers(s.upstreams ?? "") {
                if let a = peer.address(host: topology.host) { args += ["--upstream", a] }
            }
            if let strategy = s.strategy { args += ["--strategy", strategy] }
            if let mode = s.mode { args += ["--mode", mode] }
            args += ["--admin", adminSocket(instance)]
        case .proxy:
            for route in s.routes {
                var targets = peers(route.service).compactMap { $0.address(host: topology.host) }
                // With its service stopped, a route still names the service's first port: its requests get
                // 503 and never fall through to a shorter prefix, and the service can join again later.
                if targets.isEmpty, let service = topology.service(named: route.service),
                   let first = Instance(service: service, slot: 1, colorIndex: 0).address(host: topology.host) {
                    targets = [first]
                }
                if !targets.isEmpty { args += ["--route", "\(route.prefix)=\(targets.joined(separator: ","))"] }
            }
            if s.stripPrefix { args.append("--strip-prefix") }
            args += ["--admin", adminSocket(instance)]
        case .command:
            break
        }
        args += extraArguments ?? s.args
        return (path, args.map { substitute($0, instance) })
    }

    /// Fills in the placeholders the topology loader lets through (`ArgumentPlaceholders.known`).
    private func substitute(_ text: String, _ instance: Instance) -> String {
        ArgumentPlaceholders.fill(text, ["port": instance.port.map(String.init) ?? "", "instance": String(instance.slot),
                                         "name": instance.name])
    }

    func environment(for instance: Instance) -> [String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LISTEN_") }
        for (k, v) in instance.service.environment { env[k] = v }
        env["INSTANCE"] = String(instance.slot)
        env["SERVICE"] = instance.service.name
        if let port = instance.port { env["PORT"] = String(port) }
        var list = env.map { "\($0.key)=\($0.value)" }.sorted()
        if instance.listenFD >= 0 { list += ["LISTEN_FDS=1", "LISTEN_PID=", "LISTEN_FDNAMES=\(instance.name)"] }
        return list
    }

    /// Starts the instance's process. Must be called on the supervisor's main thread: children get
    /// SIGKILL when the thread that started them ends (PR_SET_PDEATHSIG), so none outlives a killed supervisor.
    func launch(_ instance: Instance, extraArguments: [String]? = nil, peers: (String) -> [Instance]) throws -> Launched {
        let (path, args) = arguments(for: instance, extraArguments: extraArguments, peers: peers)
        let out = try Posix.pipe(nonBlocking: false)
        let err = try Posix.pipe(nonBlocking: false)
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer {
            Posix.close(out.write)
            Posix.close(err.write)
            if devNull >= 0 { Posix.close(devNull) }
        }
        // Big pipes: a child that logs in bursts is not blocked while the merger catches up.
        Posix.growPipe(out.write)
        Posix.growPipe(err.write)
        var fds: [(Int32, Int32)] = [(devNull >= 0 ? devNull : 0, 0), (out.write, 1), (err.write, 2)]
        if instance.listenFD >= 0 {
            fds.append((instance.listenFD, 3))
            // Any program may be a command, and systemd hands sockets down blocking unless told otherwise
            // (a plain blocking accept loop would fail with EAGAIN). Our own programs set non-blocking
            // themselves; nothing in the supervisor accepts on it.
            if case .command = instance.service.program { try? Posix.setNonBlocking(instance.listenFD, false) }
        }
        var request = Spawn.Request(path: path, arguments: args, environment: environment(for: instance),
                                    workingDirectory: instance.service.workingDirectory, descriptors: fds)
        request.newProcessGroup = true
        request.deathSignal = SIGKILL
        do {
            let pid = try Spawn.start(request)
            try? Posix.setNonBlocking(out.read, true)
            try? Posix.setNonBlocking(err.read, true)
            return Launched(pid: pid, stdout: out.read, stderr: err.read)
        } catch {
            Posix.close(out.read)
            Posix.close(err.read)
            throw error
        }
    }
}

import CLI
import Glibc
import NetCore

/// Starts a balancer or proxy: builds the pools and routes, takes the listening socket (inherited or
/// bound), runs the workers and the admin loop (health checks, admin socket, draining), and stops
/// gracefully on SIGTERM.
public enum ForwardingProgram {
    public struct RouteSpec: Sendable {
        public let prefix: String
        public let upstreams: [UpstreamSpec]
        public let stripPrefix: Bool
        public init(prefix: String, upstreams: [UpstreamSpec], stripPrefix: Bool) {
            self.prefix = prefix
            self.upstreams = upstreams
            self.stripPrefix = stripPrefix
        }
    }

    public static func run(name: String, mode: ForwardingService.Mode, routes specs: [RouteSpec],
                           options: ForwardingOptions) throws -> Int32 {
        var settings = options.settings
        settings.serverName = name
        settings.via = name == "proxy" ? "1.1 proxy" : "1.1 balancer"
        if mode == .tcp { settings.health.useHTTP = false }

        let address: SocketAddress
        do { address = try SocketAddress.resolve(options.host, port: UInt16(options.port)) } catch {
            throw UsageError("--host: \(error)")
        }
        Signals.ignoreSIGPIPE()
        Signals.block(WorkerGroup.terminationSignals)

        var routes: [Route] = []
        for spec in specs {
            let ups = spec.upstreams.map { Upstream(address: $0.address, key: $0.key, weight: $0.weight, workers: options.workers) }
            let pool = UpstreamPool(name: spec.prefix == "/" ? "default" : spec.prefix, strategy: options.strategy,
                                    upstreams: ups, workers: options.workers)
            routes.append(Route(prefix: spec.prefix, pool: pool, stripPrefix: spec.stripPrefix))
        }
        let service = ForwardingService(mode: mode, routes: RouteTable(routes: routes), settings: settings,
                                        workers: options.workers)

        let sockets: ListeningSockets
        do {
            sockets = try ListeningSockets.open(address, workers: options.model == "thread" ? 1 : options.workers,
                                                reusePort: options.reusePort)
        } catch {
            throw RuntimeError("\(error)")
        }

        switch mode {
        // A relay must not hold a small segment back waiting for an ACK.
        case .tcp: sockets.forEachSocket(Socket.setNoDelay)
        // Deferred accept and ACK not in TCP mode: there a server may speak first (SMTP), and a client of
        // an unknown protocol that sends two small writes under Nagle would wait up to 40 ms for the
        // held-back ACK. No Nagle in either: a large body goes out window by window, and the last small
        // piece must not wait for the client's delayed ACK. Accepted sockets inherit both.
        case .http:
            sockets.forEachSocket(Socket.setClientsSpeakFirst)
            sockets.forEachSocket(Socket.setNoDelay)
        }

        let admin = try AdminLoop.start(service: service, adminPath: options.admin)
        let summary = specs.map { "\($0.prefix)=\($0.upstreams.map(\.key).joined(separator: ","))\($0.stripPrefix ? " (strip)" : "")" }
        let polling = options.busyPollMicros > 0 ? " polling \(options.busyPollMicros) µs" : ""
        let how = options.model == "thread" ? "a thread per connection" : "\(options.workers) worker\(options.workers == 1 ? "" : "s")\(polling)"
        print("\(name): listening on \(sockets.address) (\(mode.rawValue) mode, \(options.strategy.rawValue), \(how), \(sockets.inherited ? "inherited socket" : "bound"), pid \(getpid()))")
        print("\(name): routes \(summary.joined(separator: " "))\(options.admin.map { "; admin API on \($0)" } ?? "")")
        fflush(nil)

        if options.model == "thread" {
            ThreadedForwarder.run(sockets: sockets, service: service)
        } else {
            let group = try WorkerGroup(count: options.workers, name: "worker")
            for loop in group.loops { loop.busyPollLimit = UInt64(options.busyPollMicros) * 1_000 }
            try service.start(group: group, sockets: sockets)
            _ = WorkerGroup.waitForTermination()
            sockets.stopListening()
            group.shutdown(timeout: settings.shutdownTimeout)
        }
        admin.stop()
        return 0
    }
}

/// The loop beside the workers: active health checks, the admin socket, and removing drained upstreams.
final class AdminLoop: @unchecked Sendable {
    private let loop: EventLoop
    private var server: AdminServer?
    private var thread: OSThread?

    static func start(service: ForwardingService, adminPath: String?) throws -> AdminLoop {
        let a = AdminLoop(loop: try EventLoop(name: "admin"))
        if let adminPath {
            do {
                a.server = try AdminServer(path: adminPath, loop: a.loop, service: service)
            } catch {
                throw RuntimeError("cannot serve the admin API on \(adminPath): \(error)")
            }
        }
        let loop = a.loop
        a.thread = OSThread.start(name: "admin") {
            let checker = HealthChecker(loop: loop, service: service)
            checker.start()
            loop.repeating(every: 100 * Clock.nanosPerMilli) { service.reapDrained() }
            loop.run()
            withExtendedLifetime(checker) {}
        }
        return a
    }

    private init(loop: EventLoop) { self.loop = loop }

    func stop() {
        loop.stop()
        thread?.join()
        server?.close()   // after the loop thread has ended: it is the only one touching the server
    }
}

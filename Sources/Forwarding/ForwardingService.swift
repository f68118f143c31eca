import Glibc
import NetCore
import Synchronization

/// Everything the balancer or proxy shares across its workers: the routes and pools, upstream health,
/// the admin operations, and the event log (upstream up/down/draining) that goes to stdout.
public final class ForwardingService: @unchecked Sendable {
    public enum Mode: String, Sendable { case http, tcp }

    public let mode: Mode
    public let routes: RouteTable
    public let settings: ForwardingSettings
    public let workerCount: Int
    private var group: WorkerGroup?
    private let eventLock = Mutex<Void>(())
    private let lastShortageEvent = Atomic<UInt64>(0)

    public init(mode: Mode, routes: RouteTable, settings: ForwardingSettings, workers: Int) {
        self.mode = mode
        self.routes = routes
        self.settings = settings
        workerCount = workers
    }

    public var pools: [UpstreamPool] { routes.pools }

    /// Starts one worker per loop, each accepting on its socket.
    public func start(group: WorkerGroup, sockets: ListeningSockets) throws {
        self.group = group
        let spreader = ConnectionSpreader.sharing(sockets, loops: group.loops.count)
        try group.start { [self] loop, i in
            let worker = ForwardingWorker(loop: loop, index: i, service: self, spreader: spreader)
            try worker.listen(on: sockets.perWorker[i], shared: sockets.shared)
            return worker
        }
    }

    /// Hands a pool's new snapshot to every worker (each adopts it on its own loop).
    func publish(_ snapshot: PoolSnapshot, for pool: UpstreamPool) {
        group?.forEachWorker { worker in
            (worker as? ForwardingWorker)?.adopt(snapshot, for: pool)
        }
    }

    // MARK: health

    /// Passive check: a failed connect takes the upstream out of rotation at once. Active checks bring
    /// it back; with them off it is retried after `retryDownAfter`.
    /// A connect to `up` failed. A shortage here (out of descriptors, local ports) is not the upstream's
    /// fault: it stays up, and the event says whose shortage it is (once a second at most, as it comes in
    /// floods). Otherwise the upstream is marked down.
    func connectFailed(_ up: Upstream, _ error: SystemError, now: UInt64) {
        guard error.isLocalShortage else {
            markDown(up, reason: "connect: \(error.reason)", now: now)
            return
        }
        let last = lastShortageEvent.load(ordering: .relaxed)
        if now &- last >= Clock.nanosPerSecond,
           lastShortageEvent.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged {
            event("cannot reach \(up.key): \(error.reason) here (a local shortage; the upstream stays up)")
        }
    }

    /// A new connection to `up` was accepted. One marked down by a failed connect while active checks are
    /// off comes back here: its retry got through, and nothing else would ever say it is up again.
    @inline(__always)
    func connected(_ up: Upstream) {
        guard up.state == .down, up.retryAt.load(ordering: .relaxed) != 0 else { return }
        if up.transition(from: .down, to: .up) {
            up.retryAt.store(0, ordering: .relaxed)
            event("upstream \(up.key) is up (a connection got through)")
        }
    }

    func markDown(_ up: Upstream, reason: String, now: UInt64) {
        if !settings.health.enabled {
            up.retryAt.store(now &+ settings.retryDownAfter.nanos, ordering: .relaxed)
        }
        if up.transition(from: .up, to: .down) {
            up.healthStreak.store(0, ordering: .relaxed)
            event("upstream \(up.key) is down (\(reason))")
        }
    }

    /// Active check results: `fall` failures in a row take it down, `rise` successes bring it up.
    func healthResult(_ up: Upstream, ok: Bool, detail: String) {
        let h = settings.health
        if ok {
            let streak = max(0, up.healthStreak.load(ordering: .relaxed)) + 1
            up.healthStreak.store(streak, ordering: .relaxed)
            if up.state == .down && streak >= h.rise && up.transition(from: .down, to: .up) {
                up.retryAt.store(0, ordering: .relaxed)
                event("upstream \(up.key) is up (\(streak) health checks passed)")
            }
        } else {
            let streak = min(0, up.healthStreak.load(ordering: .relaxed)) - 1
            up.healthStreak.store(streak, ordering: .relaxed)
            if up.state == .up && -streak >= h.fall && up.transition(from: .up, to: .down) {
                event("upstream \(up.key) is down (\(-streak) health checks failed: \(detail))")
            }
        }
    }

    // MARK: admin operations

    /// Adds an upstream to a pool (or reports that it is already there).
    public func add(_ address: SocketAddress, key: String, weight: Int, to pool: UpstreamPool) -> Upstream {
        var added: Upstream?
        let snapshot = pool.update { list in
            if let existing = list.first(where: { $0.key == key }) {
                added = existing
                if existing.state == .draining { existing.setState(.up) }
                return list
            }
            let u = Upstream(address: address, key: key, weight: weight, workers: workerCount)
            added = u
            return list + [u]
        }
        publish(snapshot, for: pool)
        event("upstream \(key) added to \(pool.name)")
        return added!
    }

    /// Starts draining: no new requests; the upstream leaves the pool once its in-flight requests end.
    /// Drains `key` out of `pool`, or out of every pool that has it; returns what it drained, by pool.
    public func drain(key: String, from only: UpstreamPool? = nil) -> [(Upstream, UpstreamPool)] {
        var drained: [(Upstream, UpstreamPool)] = []
        for pool in pools where only == nil || only === pool {
            guard let u = pool.snapshot.upstreams.first(where: { $0.key == key }) else { continue }
            if u.setState(.draining) != .draining {
                event("upstream \(key) is draining out of \(pool.name) (\(u.active.load(ordering: .relaxed)) in flight)")
                publish(pool.snapshot, for: pool)
            }
            drained.append((u, pool))
        }
        return drained
    }

    /// Removes drained upstreams whose last request has finished; called periodically by the admin loop.
    func reapDrained() {
        for pool in pools {
            let snap = pool.snapshot
            let done = snap.upstreams.filter { $0.state == .draining && $0.active.load(ordering: .relaxed) == 0 }
            if done.isEmpty { continue }
            let keys = Set(done.map(\.key))
            let updated = pool.update { list in list.filter { !keys.contains($0.key) || $0.state != .draining } }
            publish(updated, for: pool)
            for k in keys.sorted() { event("upstream \(k) removed from \(pool.name) (drained)") }
        }
    }

    /// One line on stdout for something that happened to an upstream (not per request).
    public func event(_ text: String) {
        let line = "\(settings.serverName): \(text)\n"
        eventLock.withLock { _ in try? Posix.writeAll(1, line) }
    }
}

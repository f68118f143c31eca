import Glibc
import HTTPCore
import NetCore

/// One event loop's share of the balancer or proxy: its listener, client sessions, idle upstream
/// connections and its own copy of each pool's current upstream list.
final class ForwardingWorker: LoopWorker {
    let loop: EventLoop
    let index: Int
    let service: ForwardingService
    let settings: ForwardingSettings
    let date = DateCache()
    let log: LogSink?
    var rewriter: MessageRewriter
    var rng: FastRandom
    private(set) lazy var connectionPool = ConnectionPool(worker: self)
    private(set) lazy var relayPool = RelayPool()
    /// Buffer storage that client sessions park while they wait, and that busy sessions and upstream
    /// connections take.
    let bufferPool = BufferPool()
    /// Header lists for the sessions' parsers, lent the same way.
    let headerLists = SpareLists<HeaderField>(capacity: 16)
    /// Per route: the snapshot of its pool this worker routes with (replaced when the pool changes).
    private var routeSnapshots: [PoolSnapshot]
    private let sessions: LoopConnections
    var draining: Bool { sessions.draining }

    /// `spreader`: set when several loops share one socket.
    init(loop: EventLoop, index: Int, service: ForwardingService, spreader: ConnectionSpreader?) {
        self.loop = loop
        self.index = index
        sessions = LoopConnections(loop: loop, index: index, spreader: spreader)
        self.service = service
        settings = service.settings
        log = settings.quiet ? nil : LogSink(fd: 1)
        rewriter = MessageRewriter(via: settings.via)
        rng = FastRandom(seed: UInt64(index + 1) &* 0x9E37_79B9 ^ Clock.monotonicNanos())
        routeSnapshots = service.routes.routes.map { $0.pool.snapshot }
        let date = self.date
        let log = self.log
        loop.onWake { date.refresh() }
        loop.onBatchEnd { log?.flush() }
    }

    @inline(__always)
    func snapshot(forRoute i: Int) -> PoolSnapshot { routeSnapshots[i] }

    /// The route's pool as it is now, when this worker's copy is older (a change published but not yet
    /// delivered here); nil when the copy is current. Asked only when a pick finds no upstream: an
    /// upstream added and another drained right after (the supervisor moving one to a new port) would
    /// otherwise leave a worker for a moment with the drained one and without the new one, and a 503.
    func catchUp(route i: Int) -> PoolSnapshot? {
        let pool = service.routes.routes[i].pool
        let latest = pool.snapshot
        guard latest.generation > routeSnapshots[i].generation else { return nil }
        adopt(latest, for: pool)
        return latest
    }

    /// A pool changed (admin API, draining): adopt its new list and drop idle connections to upstreams
    /// that left or are draining.
    func adopt(_ snapshot: PoolSnapshot, for pool: UpstreamPool) {
        for (i, route) in service.routes.routes.enumerated() where route.pool === pool && routeSnapshots[i].generation < snapshot.generation {
            routeSnapshots[i] = snapshot
        }
        var keep = Set<ObjectIdentifier>()
        for snap in routeSnapshots { for u in snap.upstreams where u.state != .draining { keep.insert(ObjectIdentifier(u)) } }
        connectionPool.prune(keeping: keep)
    }

    func listen(on fd: Int32, shared: Bool) throws(SystemError) {
        try sessions.listen(on: fd, shared: shared) { [unowned self] client, peer in
            switch service.mode {
            case .http:
                let session = HTTPSession(fd: client, peer: peer, worker: self)
                sessions.add(session)
                session.start()
            case .tcp:
                let session = TCPSession(fd: client, peer: peer, worker: self)
                sessions.add(session)
                session.start()
            }
        }
    }

    func sessionClosed(_ session: DrainableConnection) {
        sessions.remove(session)
    }

    func beginShutdown(_ done: @escaping () -> Void) {
        connectionPool.closeAll()
        sessions.drain { [log] in
            log?.flush()
            done()
        }
    }

    func cutShutdown() {
        sessions.cutAll()
        log?.flush()
    }
}

extension HTTPSession: DrainableConnection {}

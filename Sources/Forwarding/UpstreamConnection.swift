import Glibc
import NetCore

/// The receiving end of an upstream connection's events while it serves a request.
protocol UpstreamClient: AnyObject {
    func upstreamEvent(_ connection: UpstreamConnection, _ events: UInt32)
    func upstreamTimedOut(_ connection: UpstreamConnection)
}

/// A connection to one upstream. While serving a request it belongs to that request's session; between
/// requests it waits in its worker's idle pool, where an EOF or the idle timeout closes it.
final class UpstreamConnection: FDHandler {
    unowned(unsafe) let worker: ForwardingWorker
    let upstream: Upstream
    let input: ByteBuffer
    let output: OutputQueue
    var connecting = false
    /// Requests already completed on this connection: >0 means it came from the pool.
    var served = 0
    private(set) var closed = false
    /// Set while a session uses the connection.
    unowned(unsafe) var client: UpstreamClient?
    var inPool = false

    init(fd: Int32, upstream: Upstream, worker: ForwardingWorker) {
        self.worker = worker
        self.upstream = upstream
        input = ByteBuffer(capacity: 16 * 1024, pool: worker.bufferPool)
        output = OutputQueue(capacity: 4096, pool: worker.bufferPool)
        super.init(fd: fd)
    }

    var reused: Bool { served > 0 }

    override func handleEvent(_ events: UInt32) {
        if let client {
            client.upstreamEvent(self, events)
            return
        }
        // Idle in the pool: any readability is the server closing (or a protocol error): drop it.
        close()
    }

    override func timerFired(now: UInt64) {
        if let client {
            client.upstreamTimedOut(self)
        } else {
            close()   // idle too long
        }
    }

    /// Whether the non-blocking connect succeeded (call on its first event); the errno if not.
    func finishConnect(_ events: UInt32) -> Int32 {
        connecting = false
        return Socket.connectError(fd, events: events)
    }

    @inline(__always)
    func setInterest(_ events: UInt32) -> Bool {
        worker.loop.setInterest(self, events: events)
    }

    func close() {
        if closed { return }
        closed = true
        client = nil
        if inPool { worker.connectionPool.remove(self) }
        worker.loop.deregister(self, closing: true)
        Posix.close(fd)
    }
}

/// One worker's idle upstream connections, per upstream, newest first. Lists are objects so taking
/// and returning a connection mutates in place (no copy-on-write of an array inside the dictionary).
final class ConnectionPool {
    private final class IdleList {
        var items: [UpstreamConnection] = []
    }

    private var idle: [ObjectIdentifier: IdleList] = [:]
    private unowned(unsafe) let worker: ForwardingWorker

    init(worker: ForwardingWorker) { self.worker = worker }

    /// A pooled connection to `upstream`, or nil.
    @inline(__always)
    func checkout(_ upstream: Upstream) -> UpstreamConnection? {
        guard let list = idle[ObjectIdentifier(upstream)], !list.items.isEmpty else { return nil }
        let c = list.items.removeLast()
        c.inPool = false
        return c
    }

    /// Keeps a connection for reuse, or closes it when the pool for its upstream is full.
    func checkin(_ c: UpstreamConnection) {
        let key = ObjectIdentifier(c.upstream)
        let list: IdleList
        if let existing = idle[key] { list = existing } else { list = IdleList(); idle[key] = list }
        guard list.items.count < worker.settings.maxIdlePerUpstream, c.upstream.state != .draining else {
            c.close()
            return
        }
        c.client = nil
        c.input.clear()
        c.output.reset()
        // Readable while idle means the server closed it (or misbehaved): either way it is dropped.
        if !c.setInterest(Events.readable | Events.readHangup) {
            c.close()
            return
        }
        c.inPool = true
        worker.loop.setDeadline(c, worker.loop.now &+ worker.settings.poolIdleTimeout.nanos)
        list.items.append(c)
    }

    func remove(_ c: UpstreamConnection) {
        guard let list = idle[ObjectIdentifier(c.upstream)], let i = list.items.lastIndex(where: { $0 === c }) else { return }
        list.items.remove(at: i)
        c.inPool = false
    }

    /// Closes every idle connection to upstreams not in `keep` (removed or draining upstreams).
    func prune(keeping keep: Set<ObjectIdentifier>) {
        for (key, list) in idle where !keep.contains(key) {
            let items = list.items
            list.items.removeAll()
            for c in items { c.inPool = false; c.close() }
            idle[key] = nil
        }
    }

    func closeAll() {
        prune(keeping: [])
    }
}

import Glibc
import NetCore

/// A TCP-mode connection (the seeds' balancer): each new connection goes to the next upstream and bytes
/// are relayed both ways, no HTTP parsing. Each side's half-close is passed on.
///
/// Both sockets are registered once, edge-triggered, for reading and writing; readiness is tracked in
/// `SocketReadiness`, so a tunnel costs no epoll_ctl after its two registrations and no call that
/// would only return EAGAIN.
final class TCPSession: FDHandler, DrainableConnection {
    private unowned(unsafe) let worker: ForwardingWorker
    private var peer: sockaddr_storage
    private var upstream: TunnelUpstream?
    private var snapshot: PoolSnapshot
    private var tried: UInt64 = 0
    private var attempts = 0
    /// A freshly accepted socket can take bytes; whether the request is there yet, its first event says.
    private var client = SocketReadiness(writable: true)
    private var server = SocketReadiness()
    private var toUpstream = RelayDirection()
    private var toClient = RelayDirection()
    private var closed = false
    private var idleDeadlineSet = false
    private let startedAt: UInt64
    var slot = -1

    static let tunnelEvents = Events.readable | Events.writable | Events.readHangup | Events.edgeTriggered

    init(fd: Int32, peer: UnsafePointer<sockaddr_storage>, worker: ForwardingWorker) {
        self.worker = worker
        self.peer = peer.pointee
        snapshot = worker.snapshot(forRoute: 0)
        startedAt = worker.loop.now
        super.init(fd: fd)
    }

    func start() {
        do { try worker.loop.register(self, events: Self.tunnelEvents) } catch { close(); return }
        connectNext()
    }

    private func connectNext() {
        let pool = worker.service.routes.routes[0].pool
        guard attempts <= snapshot.upstreams.count,
              let index = pool.pick(snapshot, now: worker.loop.now, excluded: tried, rng: &worker.rng) else {
            if tried == 0, let newer = worker.catchUp(route: 0) {   // see ForwardingWorker.catchUp
                snapshot = newer
                return connectNext()
            }
            log(upstream: nil, note: "no upstream available")
            close()
            return
        }
        attempts += 1
        tried |= 1 << UInt64(index & 63)
        let up = snapshot.upstreams[index]
        do {
            let (fd, inProgress) = try Socket.connect(to: up.address)
            Socket.setNoDelay(fd)
            let c = TunnelUpstream(fd: fd, upstream: up, session: self)
            upstream = c
            up.active.add(1, ordering: .relaxed)
            do { try worker.loop.register(c, events: Self.tunnelEvents) } catch { failUpstream(errno: error.errno); return }
            if inProgress {
                c.connecting = true
                worker.loop.setDeadline(c, worker.loop.now &+ worker.settings.connectTimeout.nanos)
            } else {
                becameConnected()
            }
        } catch {
            worker.service.connectFailed(up, error, now: worker.loop.now)
            up.stats[worker.index].failures.add(1, ordering: .relaxed)
            connectNext()
        }
    }

    private func failUpstream(errno: Int32) {
        guard let c = upstream else { return }
        upstream = nil
        c.upstream.active.subtract(1, ordering: .relaxed)
        c.upstream.stats[worker.index].failures.add(1, ordering: .relaxed)
        worker.service.connectFailed(c.upstream, SystemError("connect", errno: errno), now: worker.loop.now)
        closeUpstream(c)
        server = SocketReadiness()
        connectNext()
    }

    private func becameConnected() {
        server.writable = true
        if let up = upstream { worker.service.connected(up.upstream) }
        worker.loop.cancelDeadline(upstream!)
        relay()
    }

    // MARK: events

    /// An upstream is there and its connect has finished.
    private var connected: Bool { upstream.map { !$0.connecting } ?? false }

    override func handleEvent(_ events: UInt32) {
        client.update(events)
        if connected { relay() }
        else if events & (Events.hangup | Events.error) != 0 { close() }
    }

    func upstreamEvent(_ events: UInt32) {
        guard let c = upstream else { return }
        // Whatever else this event reports (a server that speaks first) must be kept: with edge
        // triggering it will not be reported again.
        server.update(events)
        if c.connecting {
            c.connecting = false
            let error = Socket.connectError(c.fd, events: events)
            if error != 0 { failUpstream(errno: error) } else { becameConnected() }
            return
        }
        relay()
    }

    func upstreamTimedOut() {
        if let c = upstream, c.connecting { failUpstream(errno: ETIMEDOUT) } else { close() }
    }

    override func timerFired(now: UInt64) { close() }   // idle for the whole client timeout

    /// Moves whatever both directions allow; readiness flags make a direction with nothing to do free.
    private func relay() {
        guard !closed, let up = upstream, !up.connecting else { return }
        let pool = worker.relayPool
        let a = toUpstream.pump(from: fd, &client, to: up.fd, &server, pool: pool, otherFinished: toClient.finished)
        let b = toClient.pump(from: up.fd, &server, to: fd, &client, pool: pool, otherFinished: toUpstream.finished)
        if a == .failed || b == .failed || (toUpstream.finished && toClient.finished) {
            close()
            return
        }
        if a == .progress || b == .progress || !idleDeadlineSet {
            idleDeadlineSet = true
            worker.loop.setDeadline(self, worker.loop.now &+ worker.settings.clientIdleTimeout.nanos)
        }
    }

    func drain() { }   // a tunnel ends when its peers end it; shutdown's deadline bounds the wait

    func cut() { close(note: "cut: shutdown timeout passed") }

    private func closeUpstream(_ c: TunnelUpstream) {
        worker.loop.deregister(c, closing: true)
        Posix.close(c.fd)
    }

    private func close(note: StaticString? = nil) {
        if closed { return }
        closed = true
        if let up = upstream {
            upstream = nil
            up.upstream.active.subtract(1, ordering: .relaxed)
            let micros = (worker.loop.now &- startedAt) / 1000
            up.upstream.stats[worker.index].record(status: 0, micros: micros, bytes: toClient.bytes)
            log(upstream: up.upstream, note: note)
            closeUpstream(up)
        }
        toUpstream.release(to: worker.relayPool)
        toClient.release(to: worker.relayPool)
        worker.loop.deregister(self, closing: true)
        Posix.close(fd)
        worker.sessionClosed(self)
    }

    /// `client -> upstream tcp bytes-in bytes-out duration`, one line per connection.
    private func log(upstream: Upstream?, note: StaticString?) {
        guard let log = worker.log else { return }
        let b = log.buffer
        b.append(address: &peer)
        b.append(" -> ")
        if let upstream { b.append(upstream.key) } else { b.append(byte: 0x2D) }
        b.append(" tcp ")
        b.append(decimal: toUpstream.bytes)
        b.append(byte: 0x20)
        b.append(decimal: toClient.bytes)
        b.append(byte: 0x20)
        b.append(milliseconds: Clock.monotonicNanos() &- startedAt)
        if let note {
            b.append(" (")
            b.append(note)
            b.append(")")
        }
        b.append(byte: 0x0A)
        log.lineDone()
    }
}

import Glibc
import NetCore

/// A TCP-mode connection (the seeds' balancer): each new connection goes to the next upstream and bytes
/// are relayed both ways with splice(2), no HTTP parsing. Each side's half-close is passed on.
final class TCPSession: FDHandler, DrainableConnection, UpstreamClient {
    private unowned(unsafe) let worker: ForwardingWorker
    private var peer: sockaddr_storage
    private var upstream: UpstreamConnection?
    private var snapshot: PoolSnapshot
    private var tried: UInt64 = 0
    private var attempts = 0
    private var toUpstream = RelayDirection()
    private var toClient = RelayDirection()
    private var connected = false
    private var closed = false
    private let startedAt: UInt64
    var slot = -1

    init(fd: Int32, peer: UnsafePointer<sockaddr_storage>, worker: ForwardingWorker) {
        self.worker = worker
        self.peer = peer.pointee
        snapshot = worker.snapshot(forRoute: 0)
        startedAt = worker.loop.now
        super.init(fd: fd)
    }

    func start() {
        connectNext()
    }

    private func connectNext() {
        let pool = worker.service.routes.routes[0].pool
        guard attempts <= snapshot.upstreams.count,
              let index = pool.pick(snapshot, now: worker.loop.now, excluded: tried, rng: &worker.rng) else {
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
            let c = UpstreamConnection(fd: fd, upstream: up, worker: worker)
            c.client = self
            upstream = c
            up.active.add(1, ordering: .relaxed)
            if inProgress {
                c.connecting = true
                if !c.setInterest(Events.writable) { failUpstream(errno: EIO); return }
                worker.loop.setDeadline(c, worker.loop.now &+ worker.settings.connectTimeout.nanos)
            } else {
                becameConnected()
            }
        } catch {
            worker.service.markDown(up, reason: "connect: \(error.reason)", now: worker.loop.now)
            up.stats[worker.index].failures.add(1, ordering: .relaxed)
            connectNext()
        }
    }

    private func failUpstream(errno: Int32) {
        guard let c = upstream else { return }
        upstream = nil
        c.upstream.active.subtract(1, ordering: .relaxed)
        c.upstream.stats[worker.index].failures.add(1, ordering: .relaxed)
        worker.service.markDown(c.upstream, reason: "connect: \(String(cString: strerror(errno)))", now: worker.loop.now)
        c.close()
        connectNext()
    }

    private func becameConnected() {
        connected = true
        worker.loop.cancelDeadline(upstream!)
        relay()
    }

    // MARK: events

    override func handleEvent(_ events: UInt32) {
        if connected { relay() }
        else if events & (Events.hangup | Events.error) != 0 { close() }
    }

    func upstreamEvent(_ connection: UpstreamConnection, _ events: UInt32) {
        guard connection === upstream else { return }
        if connection.connecting {
            let error = connection.finishConnect(events)
            if error != 0 { failUpstream(errno: error) } else { becameConnected() }
            return
        }
        relay()
    }

    func upstreamTimedOut(_ connection: UpstreamConnection) {
        if connection.connecting { failUpstream(errno: ETIMEDOUT) } else { close() }
    }

    override func timerFired(now: UInt64) { close() }   // idle for the whole client timeout

    /// Pumps both directions, then waits for whichever side can move next.
    private func relay() {
        guard let up = upstream, !closed else { return }
        let a = toUpstream.pump(from: fd, to: up.fd, pipes: worker.pipes, otherFinished: toClient.finished)
        let b = toClient.pump(from: up.fd, to: fd, pipes: worker.pipes, otherFinished: toUpstream.finished)
        if a == .failed || b == .failed || (toUpstream.finished && toClient.finished) {
            close()
            return
        }
        var clientEvents: UInt32 = 0
        var upstreamEvents: UInt32 = 0
        if toUpstream.wantsRead { clientEvents |= Events.readable }
        if toClient.wantsWrite { clientEvents |= Events.writable }
        if toClient.wantsRead { upstreamEvents |= Events.readable }
        if toUpstream.wantsWrite { upstreamEvents |= Events.writable }
        if !worker.loop.setInterest(self, events: clientEvents | Events.readHangup) || !up.setInterest(upstreamEvents | Events.readHangup) {
            close()
            return
        }
        if a == .progress || b == .progress || !registeredDeadline {
            registeredDeadline = true
            worker.loop.setDeadline(self, worker.loop.now &+ worker.settings.clientIdleTimeout.nanos)
        }
    }
    private var registeredDeadline = false

    func drain() { }   // a tunnel ends when its peers end it; shutdown's deadline bounds the wait

    private func close() {
        if closed { return }
        closed = true
        if let up = upstream {
            upstream = nil
            up.upstream.active.subtract(1, ordering: .relaxed)
            let micros = (worker.loop.now &- startedAt) / 1000
            up.upstream.stats[worker.index].record(status: 0, micros: micros, bytes: toClient.bytes)
            log(upstream: up.upstream, note: nil)
            up.client = nil
            up.close()
        }
        toUpstream.release(to: worker.pipes)
        toClient.release(to: worker.pipes)
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

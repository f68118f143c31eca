import Glibc
import HTTPCore
import NetCore

/// One thread's share of the load: its connections and their counts.
final class LoadWorker {
    struct Totals: Sendable {
        var complete = 0, failedConnect = 0, failedBroken = 0, failedLength = 0, failedTimeout = 0, non2xx = 0
        var bytesReceived = 0, bodyBytes = 0
        /// Requests in flight when the run was stopped (deadline or signal): neither complete nor failed.
        var cut = 0
        var latency = LatencyHistogram()
        /// Body length of the last complete answer (used by the length probe).
        var lastBodyLength = -1
    }

    enum Failure { case connect, broken, lengthMismatch, timeout }

    let loop: EventLoop
    let config: LoadConfig
    let request: [UInt8]
    private let tickets: SharedTickets
    private let stopAt: UInt64
    private var live: Int
    /// Connections with a request under way, so a stop can abandon them.
    private var inFlight: [ObjectIdentifier: LoadConnection] = [:]
    private(set) var totals = Totals()
    private(set) var finished = false
    var bytesReceived: Int {
        get { totals.bytesReceived }
        set { totals.bytesReceived = newValue }
    }

    init(loop: EventLoop, config: LoadConfig, tickets: SharedTickets, stopAt: UInt64, connections: Int) {
        self.loop = loop
        self.config = config
        self.tickets = tickets
        self.stopAt = stopAt
        live = connections
        var text = "GET \(config.path) HTTP/1.1\r\nHost: \(config.hostHeader)\r\nUser-Agent: supervisor-bench\r\n"
        if !config.keepAlive { text += "Connection: close\r\n" }
        request = Array((text + "\r\n").utf8)
    }

    func start() {
        if live == 0 { finished = true; return }
        // The duration is a hard deadline: what is still in flight then is cut, not waited for.
        if stopAt != .max {
            let now = Clock.monotonicNanos()
            loop.schedule(after: stopAt > now ? stopAt - now : 0) { [unowned self] in self.cut() }
        }
        for _ in 0..<live { next(nil) }
    }

    /// Stops now: the requests in flight are abandoned (their connections closed) and counted as cut.
    func cut() {
        if finished { return }
        totals.cut += inFlight.count
        for c in inFlight.values { c.abandon() }
        inFlight.removeAll()
        finished = true
        loop.stop()
    }

    func began(_ c: LoadConnection) { inFlight[ObjectIdentifier(c)] = c }
    func ended(_ c: LoadConnection) { inFlight[ObjectIdentifier(c)] = nil }

    /// Starts the next request (reusing `connection` when it is still open), or retires the connection.
    func next(_ connection: LoadConnection?) {
        if finished { connection?.close(); return }
        let now = Clock.monotonicNanos()
        guard now < stopAt, tickets.take() else {
            connection?.close()
            retire()
            return
        }
        if let c = connection, !c.closed {
            c.begin(connecting: false, at: now)
            return
        }
        do {
            let (fd, inProgress) = try Socket.connect(to: config.target)
            Socket.setNoDelay(fd)
            let c = LoadConnection(fd: fd, worker: self)
            c.begin(connecting: inProgress, at: now)
        } catch {
            recordFailure(.connect)
            // Do not spin on a refusing target: the next attempt waits a moment.
            loop.schedule(after: 10 * Clock.nanosPerMilli) { [unowned self] in self.next(nil) }
        }
    }

    private func retire() {
        live -= 1
        if live == 0 {
            finished = true
            loop.stop()
        }
    }

    func recordSuccess(status: Int, bodyBytes: Int, latency: UInt64) {
        config.progress?.add()
        totals.complete += 1
        if status < 200 || status >= 300 { totals.non2xx += 1 }
        totals.bodyBytes += bodyBytes
        totals.lastBodyLength = bodyBytes
        totals.latency.record(micros: latency / 1000)
    }

    func recordFailure(_ f: Failure) {
        config.progress?.add()
        switch f {
        case .connect: totals.failedConnect += 1
        case .broken: totals.failedBroken += 1
        case .lengthMismatch: totals.failedLength += 1
        case .timeout: totals.failedTimeout += 1
        }
    }

    /// Runs one request on the calling thread, within the run's deadline and stop, and returns its counts.
    static func probe(_ config: LoadConfig, stopAt: UInt64, stop: LoadStop?) -> Totals? {
        guard let loop = try? EventLoop(name: "probe") else { return nil }
        var probeConfig = config
        probeConfig.expectedBodyLength = -1
        let worker = LoadWorker(loop: loop, config: probeConfig, tickets: SharedTickets(1), stopAt: stopAt, connections: 1)
        worker.run(stop: stop)
        return worker.totals
    }

    /// Starts the connections and runs the loop until they are done or the run is stopped.
    func run(stop: LoadStop?) {
        start()
        let me = LoopConfined(self)
        if let stop, !stop.register(loop: loop, cut: { me.value.cut() }) { cut() }
        if !finished { loop.run() }
    }
}

import Glibc
import HTTPCore
import NetCore

/// One event loop's share of the server: its listener, its connections, its responder and log buffer.
final class BackendWorker: LoopWorker {
    let loop: EventLoop
    let responder: StaticResponder
    let log: LogSink?
    let settings: ServerSettings
    let limits = HTTPLimits.default
    private let date = DateCache()
    private var listener: Listener?
    private let connections: ConnectionTable
    private let spreader: ConnectionSpreader?
    private let index: Int
    var draining: Bool { connections.draining }

    /// `spreader`: set when several loops share one socket (this is loop `index`).
    init(loop: EventLoop, index: Int = 0, spreader: ConnectionSpreader? = nil, site: SiteConfig, settings: ServerSettings) {
        self.loop = loop
        self.index = index
        self.spreader = spreader
        connections = ConnectionTable(load: spreader?.slots[index])
        self.settings = settings
        responder = StaticResponder(site: site, date: date, maxTarget: limits.maxRequestLine)
        log = settings.quiet ? nil : LogSink(fd: 1)
        let date = self.date
        let log = self.log
        loop.onBatchEnd {
            date.refresh()
            log?.flush()
        }
    }

    func listen(on fd: Int32, shared: Bool) throws(SystemError) {
        let listener = Listener(fd: fd, loop: loop, shared: shared, ownsSocket: !shared,
                                spreader: spreader, index: index) { [unowned self] client, peer in
            self.accept(client, peer)
        }
        try listener.start()
        self.listener = listener
    }

    private func accept(_ fd: Int32, _ peer: UnsafePointer<sockaddr_storage>) {
        if draining {
            Posix.close(fd)
            return
        }
        let connection = BackendConnection(fd: fd, peer: peer, worker: self)
        connections.add(connection)
        _ = connection.start()
    }

    func connectionClosed(_ connection: BackendConnection) {
        connections.remove(connection)
    }

    /// SIGTERM: stop accepting, close idle connections, let busy ones finish; `done` runs when none remain.
    func beginShutdown(_ done: @escaping () -> Void) {
        listener?.close()
        connections.drainAll { [log] in
            log?.flush()
            done()
        }
    }
}

import Glibc
import HTTPCore
import NetCore

/// One event loop's share of the server: its listener, its connections, its responder and log buffer.
final class BackendWorker: LoopWorker {
    let loop: EventLoop
    /// Buffer storage that connections waiting for a request park and busy ones take.
    let bufferPool = BufferPool()
    /// Header lists for the connections' parsers, lent the same way.
    let headerLists = SpareLists<HeaderField>(capacity: 16)
    let responder: StaticResponder
    let log: LogSink?
    let settings: ServerSettings
    let limits = HTTPLimits.default
    private let date = DateCache()
    private let connections: LoopConnections
    var draining: Bool { connections.draining }

    /// `spreader`: set when several loops share one socket (this is loop `index`).
    init(loop: EventLoop, index: Int = 0, spreader: ConnectionSpreader? = nil, site: SiteConfig, settings: ServerSettings) {
        self.loop = loop
        connections = LoopConnections(loop: loop, index: index, spreader: spreader)
        self.settings = settings
        responder = StaticResponder(site: site, date: date, maxTarget: limits.maxRequestLine)
        log = settings.quiet ? nil : LogSink(fd: 1)
        let date = self.date
        let log = self.log
        loop.onWake { date.refresh() }
        loop.onBatchEnd { log?.flush() }
    }

    func listen(on fd: Int32, shared: Bool) throws(SystemError) {
        try connections.listen(on: fd, shared: shared) { [unowned self] client, peer in
            let connection = BackendConnection(fd: client, peer: peer, worker: self)
            connections.add(connection)
            _ = connection.start()
        }
    }

    func connectionClosed(_ connection: BackendConnection) {
        connections.remove(connection)
    }

    /// SIGTERM: stop accepting, close idle connections, let busy ones finish; `done` runs when none remain.
    func beginShutdown(_ done: @escaping () -> Void) {
        connections.drain { [log] in
            log?.flush()
            done()
        }
    }
}

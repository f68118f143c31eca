import Glibc

/// One loop's side of a server: its listener (on a socket shared with the other loops, or its own) and the
/// table of connections it holds. With a spreader, that table's count is what the other loops balance
/// against, and a connection this loop accepts while clearly busier goes to a less loaded loop instead.
public final class LoopConnections {
    private let loop: EventLoop
    private let index: Int
    private let spreader: ConnectionSpreader?
    private let table: ConnectionTable
    private var listener: Listener?
    private var trim = IdleMemoryTrim()

    /// This is loop `index` of those sharing `spreader` (nil when the loop accepts alone).
    public init(loop: EventLoop, index: Int = 0, spreader: ConnectionSpreader? = nil) {
        self.loop = loop
        self.index = index
        self.spreader = spreader
        table = ConnectionTable(load: spreader?.slots[index])
    }

    public var draining: Bool { table.draining }

    /// Starts accepting on `fd`. `onAccept` gets each connection this loop is to serve (accepted here or
    /// handed over by another loop); once draining, new ones are closed instead.
    public func listen(on fd: Int32, shared: Bool, onAccept: @escaping Listener.AcceptHandler) throws(SystemError) {
        let table = self.table
        let listener = Listener(fd: fd, loop: loop, shared: shared, ownsSocket: !shared,
                                spreader: spreader, index: index) { client, peer in
            if table.draining {
                Posix.close(client)
                return
            }
            onAccept(client, peer)
        }
        try listener.start()
        self.listener = listener
    }

    public func add(_ connection: DrainableConnection) { table.add(connection) }
    public func remove(_ connection: DrainableConnection) {
        table.remove(connection)
        trim.connectionClosed(remaining: table.count, now: loop.now)
    }

    /// Graceful stop: no more accepting, every connection asked to finish; `done` once none is left.
    public func drain(_ done: @escaping () -> Void) {
        listener?.close()
        table.drainAll(done)
    }

    /// The shutdown timeout passed: every connection still open is cut.
    public func cutAll() { table.cutAll() }
}

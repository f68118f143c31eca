import Glibc

/// Accepts connections on a listening socket for one loop and hands each to `onAccept`.
/// Several loops may share one socket (registered with EPOLLEXCLUSIVE so one wake-up per connection).
public final class Listener: FDHandler {
    public typealias AcceptHandler = (_ fd: Int32, _ peer: UnsafePointer<sockaddr_storage>) -> Void

    private unowned let loop: EventLoop
    private let onAccept: AcceptHandler
    private let ownsSocket: Bool
    private let shared: Bool
    private var peer = sockaddr_storage()
    private let spreader: ConnectionSpreader?
    private let index: Int
    public private(set) var isOpen = false

    /// `ownsSocket`: close the fd when the listener closes (false for a socket shared with other loops).
    /// `spreader`: the loops sharing the socket even out their connections through it; this is loop `index`.
    public init(fd: Int32, loop: EventLoop, shared: Bool, ownsSocket: Bool,
                spreader: ConnectionSpreader? = nil, index: Int = 0, onAccept: @escaping AcceptHandler) {
        self.loop = loop
        self.onAccept = onAccept
        self.ownsSocket = ownsSocket
        self.shared = shared
        self.spreader = spreader
        self.index = index
        super.init(fd: fd)
    }

    public func start() throws(SystemError) {
        try loop.register(self, events: Events.readable | (shared ? Events.exclusive : 0))
        isOpen = true
        spreader?.register(index, loop: loop, adopt: onAccept)
    }

    public override func handleEvent(_ events: UInt32) {
        // Bounded so new connections do not hold up the ones already on this loop: each accepted one
        // costs an upstream connect and registrations before the loop gets back to relaying. A few per
        // wake-up, then the loop's other events (the listener is level-triggered, so the rest wait one
        // turn): with `ab -c 50` through a one-worker TCP relay, 4 gave about 3% more requests and a
        // shorter p99 than 64 (3 runs of 10–16 alternating rounds). A socket shared with other loops takes
        // one per wake-up (nginx's multi_accept off): the kernel hands the next to whichever loop is
        // waiting, instead of two loops racing for the same queue.
        for _ in 0..<(shared ? 1 : 4) {
            let client: Int32?
            do {
                client = try Posix.accept(fd, &peer)
            } catch {
                if error.isLocalShortage {
                    pauseAccepting()
                } else if error.errno == EINVAL {
                    loop.deregister(self)   // no longer listening (shut down for a graceful stop)
                }
                // ECONNABORTED and friends: the client gave up before we accepted; nothing to do.
                return
            }
            guard let client else { return }
            if let spreader, let target = spreader.lessLoaded(than: index), spreader.handOff(client, &peer, to: target) {
                continue
            }
            withUnsafePointer(to: &peer) { onAccept(client, $0) }
        }
    }

    /// Out of descriptors: stop accepting for a moment instead of spinning on a ready socket.
    private func pauseAccepting() {
        loop.deregister(self)
        loop.schedule(after: 100 * Clock.nanosPerMilli) { [weak self] in
            guard let self, self.isOpen else { return }
            try? self.loop.register(self, events: Events.readable | (self.shared ? Events.exclusive : 0))
        }
    }

    /// Stops accepting (graceful shutdown). Connections in the backlog stay for the next holder of the socket.
    public func close() {
        guard isOpen else { return }
        isOpen = false
        spreader?.unregister(index)
        loop.deregister(self)
        if ownsSocket { Posix.close(fd) }
    }
}

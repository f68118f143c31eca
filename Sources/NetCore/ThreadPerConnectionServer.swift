import Glibc
import Synchronization

/// The thread-per-connection model (backend and balancer `--model thread`): an acceptor thread gives
/// each connection a thread of its own that serves it with blocking calls. On SIGTERM it stops
/// accepting, wakes idle connections (their blocking read returns 0) and waits, bounded, for busy ones.
public final class ThreadPerConnectionServer: Sendable {
    private let stopping = Atomic<Bool>(false)
    /// Live connections by fd, and whether each is idle between requests.
    private let live = Mutex<[Int32: Bool]>([:])

    public init() {}

    public var isDraining: Bool { stopping.load(ordering: .relaxed) }

    /// Marks a connection idle (waiting for its next request) or busy; idle ones are woken on shutdown.
    public func setIdle(_ fd: Int32, _ idle: Bool) {
        live.withLock { if $0[fd] != nil { $0[fd] = idle } }
    }

    /// Accepts until a termination signal, then drains; returns when done or `shutdownTimeout` passed.
    /// `serve` runs on the connection's own thread; the descriptor is closed after it returns.
    public func run(socket: Int32, shutdownTimeout: Timeout, stopListening: () -> Void = {},
                    serve: @escaping @Sendable (Int32, sockaddr_storage) -> Void) {
        OSThread.start(name: "acceptor") { [self] in
            var peer = sockaddr_storage()
            while !isDraining {
                var p = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, 200) <= 0 { continue }
                guard let client = try? Posix.accept(socket, &peer) else { continue }
                if isDraining { Posix.close(client); break }
                let peerCopy = peer
                live.withLock { $0[client] = false }
                OSThread.start(name: "conn") { [self] in
                    try? Posix.setNonBlocking(client, false)
                    serve(client, peerCopy)
                    live.withLock { _ = $0.removeValue(forKey: client) }
                    Posix.close(client)
                }.detach()
            }
        }.detach()

        _ = WorkerGroup.waitForTermination()
        stopListening()
        stopping.store(true, ordering: .relaxed)
        // A request a busy keep-alive client is about to send is given a moment to arrive and be answered
        // (with Connection: close); closed under it, it would be lost.
        usleep(UInt32(ShutdownGrace.milliseconds * 1000))
        live.withLock { for (fd, idle) in $0 where idle { _ = shutdown(fd, Int32(SHUT_RD)) } }
        let deadline = Clock.monotonicNanos() + shutdownTimeout.nanos
        while live.withLock({ !$0.isEmpty }) && Clock.monotonicNanos() < deadline { usleep(5_000) }
    }
}

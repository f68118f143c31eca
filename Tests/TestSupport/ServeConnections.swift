import Glibc
import NetCore

/// Serves a listening socket from a thread of its own: each accepted connection runs `serve` (which owns
/// the descriptor) on a new thread. Checks `stopped` every 100 ms and closes the socket once it is true.
func serveConnections(on fd: Int32, name: String, until stopped: @escaping @Sendable () -> Bool,
                      _ serve: @escaping @Sendable (Int32) -> Void) {
    OSThread.start(name: "\(name)-accept") {
        var peer = sockaddr_storage()
        while !stopped() {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 100) <= 0 { continue }
            guard let client = try? Posix.accept(fd, &peer) else { continue }
            OSThread.start(name: "\(name)-conn") { serve(client) }.detach()
        }
        Posix.close(fd)
    }.detach()
}

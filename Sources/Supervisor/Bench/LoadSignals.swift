import Glibc
import NetCore

/// SIGINT and SIGTERM during `supervisor load`: instead of dying without a word, the run stops and the
/// report covers what finished (as ab prints its partial results on Ctrl-C).
enum LoadSignals {
    /// Runs `body` with SIGINT and SIGTERM routed to `stop`; blocks them first, so worker threads
    /// started by `body` inherit the mask and only the watcher thread sees them.
    static func routing<R>(to stop: LoadStop, _ body: () throws -> R) throws -> R {
        let signals = [SIGINT, SIGTERM]
        Signals.block(signals)
        let loop = try EventLoop(name: "load-signals")
        let watcher = try SignalWatcher(signals: signals) { sig in stop.trigger(sig) }
        try loop.register(watcher, events: Events.readable)
        let thread = OSThread.start(name: "load-signals") { loop.run() }
        defer {
            loop.stop()
            thread.join()
            loop.deregister(watcher)
            Posix.close(watcher.fd)
        }
        return try body()
    }
}

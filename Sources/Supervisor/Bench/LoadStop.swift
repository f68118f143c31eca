import NetCore
import Synchronization

/// Ends a load run early from any thread (SIGINT or SIGTERM): every worker abandons the requests it has
/// in flight and stops, so the report covers what finished. A worker that registers after the stop was
/// asked for is told at once.
final class LoadStop: Sendable {
    private struct State {
        var signal: Int32?
        var workers: [(loop: EventLoop, cut: @Sendable () -> Void)] = []
    }
    private let state = Mutex(State())

    /// The signal that stopped the run, if one did.
    var signal: Int32? { state.withLock { $0.signal } }

    /// Asks every worker to stop (on its own loop); later calls change nothing.
    func trigger(_ signal: Int32) {
        let workers: [(loop: EventLoop, cut: @Sendable () -> Void)] = state.withLock { s in
            guard s.signal == nil else { return [] }
            s.signal = signal
            return s.workers
        }
        for w in workers { w.loop.execute(w.cut) }
    }

    /// Registers a worker's stop; false when the run was stopped already (the caller stops it itself).
    func register(loop: EventLoop, cut: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { s in
            if s.signal != nil { return false }
            s.workers.append((loop, cut))
            return true
        }
    }
}

/// A loop-confined object handed to a closure that will run on that loop.
final class LoopConfined<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

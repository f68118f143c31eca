import Glibc
import Synchronization

/// What runs on each loop of a `WorkerGroup`.
public protocol LoopWorker: AnyObject {
    /// Stop accepting and let in-flight work finish; call `done` (on the loop) when nothing is left.
    func beginShutdown(_ done: @escaping () -> Void)
    /// The shutdown timeout passed: end what is still in flight now, saying so in the log.
    func cutShutdown()
}

public extension LoopWorker {
    func cutShutdown() {}
}

/// N event loops on N threads, each with a worker made on its own thread, plus the graceful stop every
/// server needs: on SIGTERM/SIGINT/SIGHUP all workers stop accepting, in-flight work finishes, and the
/// process moves on once all are done or the shutdown timeout passes.
public final class WorkerGroup: @unchecked Sendable {
    public let loops: [EventLoop]
    private let workers = Mutex<[Int: WorkerRef]>([:])
    private var threads: [OSThread] = []
    private let running = Atomic<Int>(0)

    /// The signals that stop a server. Block them (`Signals.block`) before starting any thread.
    public static let terminationSignals: [Int32] = [SIGTERM, SIGINT, SIGHUP]

    public init(count: Int, name: String) throws(SystemError) {
        var loops: [EventLoop] = []
        for i in 0..<count { loops.append(try EventLoop(name: "\(name)-\(i)")) }
        self.loops = loops
    }

    /// Starts every loop's thread and builds its worker there; returns once all are built, or throws the
    /// first setup error (then nothing keeps running).
    public func start(_ make: @escaping @Sendable (EventLoop, Int) throws -> LoopWorker) throws {
        for (i, loop) in loops.enumerated() {
            let ready = Atomic<Int>(0)   // 0 waiting, 1 ready, 2 failed
            let failure = Mutex<(any Error)?>(nil)
            running.add(1, ordering: .relaxed)
            threads.append(OSThread.start(name: loop.name) { [self] in
                do {
                    let worker = try make(loop, i)
                    workers.withLock { $0[i] = WorkerRef(worker) }
                    ready.store(1, ordering: .releasing)
                    loop.run()
                } catch {
                    failure.withLock { $0 = error }
                    ready.store(2, ordering: .releasing)
                }
                running.subtract(1, ordering: .relaxed)
            })
            while ready.load(ordering: .acquiring) == 0 { usleep(200) }
            if let error = failure.withLock({ $0 }) {
                for loop in loops { loop.stop() }
                throw error
            }
        }
    }

    /// Runs `body` on every worker, each on its own loop.
    public func forEachWorker(_ body: @escaping @Sendable (LoopWorker) -> Void) {
        for (i, loop) in loops.enumerated() {
            loop.execute { [self] in
                if let w = workers.withLock({ $0[i]?.worker }) { body(w) }
            }
        }
    }

    /// Blocks the calling thread until a termination signal; returns it.
    public static func waitForTermination() -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for s in terminationSignals { sigaddset(&set, s) }
        var sig: Int32 = 0
        while sigwait(&set, &sig) != 0 {}
        return sig
    }

    /// Graceful stop: every worker drains, bounded by `timeout`. True when all finished in time.
    @discardableResult
    public func shutdown(timeout: Timeout) -> Bool {
        for (i, loop) in loops.enumerated() {
            loop.execute { [self] in
                if let w = workers.withLock({ $0[i]?.worker }) {
                    w.beginShutdown { loop.stop() }
                } else {
                    loop.stop()
                }
            }
        }
        let finished = waitForLoops(until: Clock.monotonicNanos() + timeout.nanos)
        if !finished {
            // What is still in flight is cut, each loop on its own thread, so its log lines are written.
            forEachWorker { $0.cutShutdown() }
            for loop in loops { loop.stop() }
            _ = waitForLoops(until: Clock.monotonicNanos() + 500 * Clock.nanosPerMilli)
        }
        return finished
    }

    /// True (with every thread joined) once all loops have stopped by `deadline`.
    private func waitForLoops(until deadline: UInt64) -> Bool {
        while running.load(ordering: .relaxed) > 0 && Clock.monotonicNanos() < deadline { usleep(5_000) }
        guard running.load(ordering: .relaxed) == 0 else { return false }
        for t in threads { t.join() }
        return true
    }
}

/// Carries a worker (confined to its loop) through the lock that hands it to other threads.
struct WorkerRef: @unchecked Sendable {
    let worker: LoopWorker
    init(_ w: LoopWorker) { worker = w }
}

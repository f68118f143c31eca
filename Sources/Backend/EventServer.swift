import Glibc
import NetCore
import Synchronization

/// The `event` model: one epoll loop per worker thread, each accepting on the shared socket (or its own
/// SO_REUSEPORT socket). The main thread only waits for signals and runs the graceful shutdown.
enum EventServer {
    static func run(sockets: ListeningSockets, site: SiteConfig, settings: ServerSettings, workers: Int) throws -> Int32 {
        let loops = try (0..<workers).map { i throws(SystemError) in try EventLoop(name: "worker-\(i)") }
        let remaining = Atomic<Int>(workers)
        var threads: [OSThread] = []
        let box = WorkerBox()
        for (i, loop) in loops.enumerated() {
            let fd = sockets.perWorker[i]
            let shared = sockets.shared
            let ready = Atomic<Bool>(false)
            nonisolated(unsafe) var startError: Error?
            threads.append(OSThread.start(name: "worker-\(i)") {
                let worker = BackendWorker(loop: loop, site: site, settings: settings)
                do {
                    try worker.listen(on: fd, shared: shared)
                } catch {
                    startError = error
                }
                box.set(i, worker)
                ready.store(true, ordering: .releasing)
                if startError == nil { loop.run() }
                remaining.subtract(1, ordering: .relaxed)
            })
            while !ready.load(ordering: .acquiring) { usleep(200) }
            if let startError { throw startError }
        }

        let signal = waitForTermination()
        // Stop accepting everywhere, let in-flight requests finish, bounded by the shutdown timeout.
        for (i, loop) in loops.enumerated() {
            loop.execute {
                box.get(i)?.beginShutdown { loop.stop() }
            }
        }
        let deadline = Clock.monotonicNanos() + settings.shutdownTimeout.nanos
        while remaining.load(ordering: .relaxed) > 0 && Clock.monotonicNanos() < deadline { usleep(5_000) }
        if remaining.load(ordering: .relaxed) == 0 { for t in threads { t.join() } }
        _ = signal
        return 0
    }

    /// Blocks until SIGTERM, SIGINT or SIGHUP (blocked for all threads before they start).
    static func waitForTermination() -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for s in Shutdown.signals { sigaddset(&set, s) }
        var sig: Int32 = 0
        while sigwait(&set, &sig) != 0 {}
        return sig
    }
}

enum Shutdown {
    static let signals: [Int32] = [SIGTERM, SIGINT, SIGHUP]
}

/// Hands each worker (created on its own thread) back to the main thread for shutdown.
final class WorkerBox: @unchecked Sendable {
    private let lock = Mutex<[Int: BackendWorkerRef]>([:])
    func set(_ i: Int, _ w: BackendWorker) { lock.withLock { $0[i] = BackendWorkerRef(w) } }
    func get(_ i: Int) -> BackendWorker? { lock.withLock { $0[i]?.worker } }
}

struct BackendWorkerRef: @unchecked Sendable {
    let worker: BackendWorker
    init(_ w: BackendWorker) { worker = w }
}

import Glibc
import NetCore

/// The `event` model: one epoll loop per worker thread, each accepting on the shared socket (or its own
/// SO_REUSEPORT socket). The main thread only waits for a signal and runs the graceful shutdown.
enum EventServer {
    static func run(sockets: ListeningSockets, site: SiteConfig, settings: ServerSettings, workers: Int) throws -> Int32 {
        let group = try WorkerGroup(count: workers, name: "worker")
        let spreader = ConnectionSpreader.sharing(sockets, loops: workers)
        try group.start { loop, i in
            let worker = BackendWorker(loop: loop, index: i, spreader: spreader, site: site, settings: settings)
            try worker.listen(on: sockets.perWorker[i], shared: sockets.shared)
            return worker
        }
        _ = WorkerGroup.waitForTermination()
        sockets.stopListening()
        group.shutdown(timeout: settings.shutdownTimeout)
        return 0
    }
}

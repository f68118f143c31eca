import Foundation
import Glibc
import NetCore
import Synchronization

/// Clients sending GETs to a port in a loop until stopped, counting requests and failures (an error,
/// or any status but 200): the load a test keeps up while it changes something that must not fail one.
/// Each thread mixes kept-alive and fresh connections, and after a failure always opens a fresh one.
public final class ClientLoop: @unchecked Sendable {
    private let requests = Atomic<Int>(0)
    private let failed = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var threads: [OSThread] = []

    /// `clients` threads on `port`, taking `paths` in turn.
    public init(port: UInt16, clients: Int = 3, paths: [String] = ["/page.html"]) {
        threads = (0..<clients).map { i in
            OSThread.start(name: "load") { [self] in
                var client: HTTPTestClient?
                var n = 0
                while !stopping.load(ordering: .relaxed) {
                    n += 1
                    do {
                        if client == nil || n % (3 + i) == 0 { client = try HTTPTestClient(port: port) }
                        if try client!.request("GET", paths[n % paths.count]).status != 200 { failed.add(1, ordering: .relaxed) }
                    } catch {
                        failed.add(1, ordering: .relaxed)
                        client = nil
                    }
                    requests.add(1, ordering: .relaxed)
                }
            }
        }
    }

    /// Returns once `n` more requests have been answered (or failed), or after `timeout` seconds.
    public func waitFor(_ n: Int, timeout: Double = 30) {
        let target = requests.load(ordering: .relaxed) + n
        let deadline = Date().addingTimeInterval(timeout)
        while requests.load(ordering: .relaxed) < target && Date() < deadline { usleep(1000) }
    }

    /// Stops the clients and returns how many requests they sent and how many failed.
    @discardableResult
    public func stop() -> (requests: Int, failures: Int) {
        stopping.store(true, ordering: .relaxed)
        for t in threads { t.join() }
        threads = []
        return (requests.load(ordering: .relaxed), failed.load(ordering: .relaxed))
    }

    deinit { if !threads.isEmpty { stop() } }
}

import Foundation
import Glibc
import NetCore
import Synchronization

/// What to load and how: N connections in a closed loop, each sending its next request as soon as the
/// previous response is complete; a fixed number of requests or a duration.
struct LoadConfig: Sendable {
    var target: SocketAddress
    var hostHeader: String
    var path: String
    var concurrency: Int
    var keepAlive: Bool
    /// Requests to complete (0 when `durationMs` decides).
    var requests: Int
    var durationMs: Int
    /// Body length every 2xx answer must have, -1 to learn it from the first answer (HEAD-free GETs only).
    var expectedBodyLength: Int = -1
    var timeout = Timeout(milliseconds: 30_000)
    var threads: Int = min(CPU.count, 2)
    /// Counts finished requests as they happen (progress bars, chaos at the halfway mark).
    var progress: ProgressCounter?
}

final class ProgressCounter: Sendable {
    private let done = Atomic<Int>(0)
    @inline(__always) func add() { done.add(1, ordering: .relaxed) }
    var value: Int { done.load(ordering: .relaxed) }
}

/// Counts from one run, summed over threads.
struct LoadResult: Sendable, Codable {
    var elapsedSeconds: Double = 0
    var complete = 0
    var failed = 0
    var failedConnect = 0
    var failedBroken = 0
    var failedLength = 0
    var non2xx = 0
    var bytesReceived = 0
    var bodyBytes = 0
    var latencyMeanMs = 0.0
    var p50Ms = 0.0
    var p90Ms = 0.0
    var p99Ms = 0.0
    var maxMs = 0.0

    var requestsPerSecond: Double { elapsedSeconds > 0 ? Double(complete) / elapsedSeconds : 0 }
    /// ab's "Time per request (mean)": concurrency × time / requests.
    func timePerRequestMs(concurrency: Int) -> Double { complete > 0 ? Double(concurrency) * elapsedSeconds * 1000 / Double(complete) : 0 }
    /// ab's "Time per request (mean, across all concurrent requests)".
    var timePerRequestAcrossMs: Double { complete > 0 ? elapsedSeconds * 1000 / Double(complete) : 0 }
    var transferKBPerSecond: Double { elapsedSeconds > 0 ? Double(bytesReceived) / 1024 / elapsedSeconds : 0 }
}

/// The load generator: one event loop per thread, connections spread across them.
enum LoadGenerator {
    static func run(_ config: LoadConfig) throws -> LoadResult {
        var config = config
        if config.expectedBodyLength < 0 { config.expectedBodyLength = try probeLength(config) }
        let threads = max(1, min(config.threads, config.concurrency))
        let shared = SharedTickets(config.requests > 0 ? config.requests : Int.max)
        let stopAt = config.durationMs > 0 ? Clock.monotonicNanos() + UInt64(config.durationMs) * Clock.nanosPerMilli : UInt64.max
        let results = Mutex<[LoadWorker.Totals]>([])
        let started = Clock.monotonicNanos()
        var handles: [OSThread] = []
        let frozen = config
        for t in 0..<threads {
            let share = config.concurrency / threads + (t < config.concurrency % threads ? 1 : 0)
            handles.append(OSThread.start(name: "load-\(t)") {
                guard let loop = try? EventLoop(name: "load-\(t)") else { return }
                let worker = LoadWorker(loop: loop, config: frozen, tickets: shared, stopAt: stopAt, connections: share)
                worker.start()
                if !worker.finished { loop.run() }
                results.withLock { $0.append(worker.totals) }
            })
        }
        for h in handles { h.join() }
        let elapsed = Double(Clock.monotonicNanos() - started) / 1e9
        var histogram = LatencyHistogram()
        var r = LoadResult()
        r.elapsedSeconds = elapsed
        for t in results.withLock({ $0 }) {
            histogram.merge(t.latency)
            r.complete += t.complete
            r.failedConnect += t.failedConnect
            r.failedBroken += t.failedBroken
            r.failedLength += t.failedLength
            r.non2xx += t.non2xx
            r.bytesReceived += t.bytesReceived
            r.bodyBytes += t.bodyBytes
        }
        r.failed = r.failedConnect + r.failedBroken + r.failedLength
        r.latencyMeanMs = histogram.meanMicros / 1000
        r.p50Ms = Double(histogram.percentile(0.50)) / 1000
        r.p90Ms = Double(histogram.percentile(0.90)) / 1000
        r.p99Ms = Double(histogram.percentile(0.99)) / 1000
        r.maxMs = Double(histogram.maxMicros) / 1000
        return r
    }

    /// One request up front to learn the body length every later 2xx answer must match.
    static func probeLength(_ config: LoadConfig) throws -> Int {
        var one = config
        one.concurrency = 1
        one.requests = 1
        one.durationMs = 0
        one.threads = 1
        one.expectedBodyLength = Int.max   // nothing matches: the probe learns, it does not judge
        let probe = LoadWorker.probe(one)
        guard let length = probe else {
            throw RuntimeFailure("no valid answer from \(config.target) for GET \(config.path); is it running?")
        }
        return length
    }
}

/// The request-count budget shared by every thread (a ticket per request started).
final class SharedTickets: Sendable {
    private let remaining: Atomic<Int>
    init(_ count: Int) { remaining = Atomic(count) }

    /// Claims one request; false when the budget is spent.
    @inline(__always)
    func take() -> Bool { remaining.subtract(1, ordering: .relaxed).oldValue > 0 }
}

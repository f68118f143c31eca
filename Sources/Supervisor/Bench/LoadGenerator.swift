import Foundation
import Glibc
import NetCore
import Synchronization

/// What to load and how: N connections in a closed loop, each sending its next request as soon as the
/// previous response is complete; a fixed number of requests or a duration (a hard deadline).
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
    /// How long one request may take, connect to last byte (ab's -s): past it, a failure.
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
    /// No whole response within the request timeout.
    var failedTimeout = 0
    /// Requests in flight when the run stopped (deadline or signal): abandoned, counted neither way.
    var cut = 0
    /// The signal that stopped the run early, if one did.
    var interruptedBy: Int32?
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
    /// `stop`: ends the run early from another thread (signals); the result then says which signal.
    static func run(_ config: LoadConfig, stop: LoadStop? = nil) throws -> LoadResult {
        var config = config
        let started = Clock.monotonicNanos()
        // The duration is a deadline for the whole run, the length probe included.
        let stopAt = config.durationMs > 0 ? started + UInt64(config.durationMs) * Clock.nanosPerMilli : UInt64.max
        if config.expectedBodyLength < 0 { config.expectedBodyLength = try probeLength(config, stopAt: stopAt, stop: stop) }
        let threads = max(1, min(config.threads, config.concurrency))
        let shared = SharedTickets(config.requests > 0 ? config.requests : Int.max)
        let results = Mutex<[LoadWorker.Totals]>([])
        var handles: [OSThread] = []
        let frozen = config
        for t in 0..<threads {
            let share = config.concurrency / threads + (t < config.concurrency % threads ? 1 : 0)
            handles.append(OSThread.start(name: "load-\(t)") {
                guard let loop = try? EventLoop(name: "load-\(t)") else { return }
                let worker = LoadWorker(loop: loop, config: frozen, tickets: shared, stopAt: stopAt, connections: share)
                worker.run(stop: stop)
                results.withLock { $0.append(worker.totals) }
            })
        }
        for h in handles { h.join() }
        let elapsed = Double(Clock.monotonicNanos() - started) / 1e9
        var histogram = LatencyHistogram()
        var r = LoadResult()
        r.elapsedSeconds = elapsed
        r.interruptedBy = stop?.signal
        for t in results.withLock({ $0 }) {
            histogram.merge(t.latency)
            r.complete += t.complete
            r.failedConnect += t.failedConnect
            r.failedBroken += t.failedBroken
            r.failedLength += t.failedLength
            r.failedTimeout += t.failedTimeout
            r.cut += t.cut
            r.non2xx += t.non2xx
            r.bytesReceived += t.bytesReceived
            r.bodyBytes += t.bodyBytes
        }
        r.failed = r.failedConnect + r.failedBroken + r.failedLength + r.failedTimeout
        r.latencyMeanMs = histogram.meanMicros / 1000
        r.p50Ms = Double(histogram.percentile(0.50)) / 1000
        r.p90Ms = Double(histogram.percentile(0.90)) / 1000
        r.p99Ms = Double(histogram.percentile(0.99)) / 1000
        r.maxMs = Double(histogram.maxMicros) / 1000
        return r
    }

    /// One request up front to learn the body length every later 2xx answer must match; bounded by the
    /// request timeout and the run's deadline like any other request.
    static func probeLength(_ config: LoadConfig, stopAt: UInt64, stop: LoadStop?) throws -> Int {
        var one = config
        one.concurrency = 1
        one.requests = 1
        one.threads = 1
        one.expectedBodyLength = Int.max   // nothing matches: the probe learns, it does not judge
        let probe = LoadWorker.probe(one, stopAt: stopAt, stop: stop)
        if let probe, probe.complete == 1 { return probe.lastBodyLength }
        let target = "\(config.target) for GET \(config.path)"
        if let signal = stop?.signal {
            throw RuntimeFailure("stopped by \(Spawn.signalName(signal)) before the first answer from \(target)")
        }
        if let probe, probe.failedTimeout > 0 {
            throw RuntimeFailure("no answer from \(target) within the request timeout (\(config.timeout.milliseconds) ms, -s); is it stuck?")
        }
        if let probe, probe.cut > 0 {
            throw RuntimeFailure("no answer from \(target) before the end of the run (-d \(config.durationMs) ms)")
        }
        if let probe, probe.failedConnect > 0 {
            throw RuntimeFailure("cannot connect to \(config.target); is it running?")
        }
        throw RuntimeFailure("no valid answer from \(target); is it running?")
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

import CLI
import Foundation
import NetCore

/// `supervisor load URL [-c N] [-n N | -d DUR] [-s DUR] [-k]`: the built-in load generator on its own,
/// ab-style. `-d` is a hard deadline, `-s` bounds each request, and Ctrl-C (or SIGTERM) stops the run
/// with the report of what finished (exit 1: the run was not what was asked for).
enum LoadCommand {
    static func run(_ args: inout Arguments) throws -> Int32 {
        let concurrency = try args.int("-c", in: 1...10_000) ?? 1
        let requests = try args.int("-n", in: 1...100_000_000)
        let duration = try args.duration("-d", allowZero: false)
        let timeouts = try [args.duration("-s", allowZero: false), args.duration("--timeout", allowZero: false)].compactMap { $0 }
        if timeouts.count > 1 { throw UsageError("give -s or --timeout, not both") }
        let keepAlive = args.flag("-k")
        let threads = try args.int("--threads", in: 1...64) ?? min(CPU.count, 2)
        guard let url = args.positional() else { throw UsageError("load needs a URL, e.g. supervisor load http://127.0.0.1:44444/page.html -c 50 -n 10000") }
        try args.finish()
        if requests != nil && duration != nil { throw UsageError("give -n (requests) or -d (duration), not both") }
        var config = try config(url: url, concurrency: concurrency, keepAlive: keepAlive)
        config.requests = requests ?? (duration == nil ? 10_000 : 0)
        config.durationMs = duration ?? 0
        config.threads = threads
        if let timeout = timeouts.first { config.timeout = Timeout(milliseconds: timeout) }
        let stop = LoadStop()
        let r = try LoadSignals.routing(to: stop) { try LoadGenerator.run(config, stop: stop) }
        print(summary(r, config: config))
        return r.failed > 0 || r.interruptedBy != nil ? 1 : 0
    }

    static func config(url: String, concurrency: Int, keepAlive: Bool) throws -> LoadConfig {
        guard url.hasPrefix("http://") else { throw UsageError("only http:// URLs, got '\(url)'") }
        let rest = url.dropFirst(7)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        let path = slash == rest.endIndex ? "/" : String(rest[slash...])
        let address: SocketAddress
        do {
            address = try SocketAddress.parse(authority.contains(":") ? authority : authority + ":80", defaultHost: "127.0.0.1")
        } catch {
            throw UsageError("URL '\(url)': \(error)")
        }
        return LoadConfig(target: address, hostHeader: authority, path: path, concurrency: concurrency,
                          keepAlive: keepAlive, requests: 0, durationMs: 0)
    }

    /// ab's report, with latency percentiles.
    static func summary(_ r: LoadResult, config: LoadConfig) -> String {
        func f(_ v: Double, _ d: Int = 2) -> String { String(format: "%.\(d)f", v) }
        var stopped = ""
        if let signal = r.interruptedBy { stopped = "Stopped early:          by \(Spawn.signalName(signal)) (partial results)\n" }
        if r.cut > 0 || config.durationMs > 0 || r.interruptedBy != nil {
            stopped += "Cut in flight:          \(r.cut) (still under way when the run stopped; not counted)\n"
        }
        return """
        \(stopped)Concurrency Level:      \(config.concurrency)\(config.keepAlive ? " (keep-alive)" : "")
        Time taken for tests:   \(f(r.elapsedSeconds, 3)) seconds
        Complete requests:      \(r.complete)
        Failed requests:        \(r.failed) (connect: \(r.failedConnect), broken: \(r.failedBroken), wrong length: \(r.failedLength), timed out: \(r.failedTimeout))
        Non-2xx responses:      \(r.non2xx)
        Total transferred:      \(r.bytesReceived) bytes
        HTML transferred:       \(r.bodyBytes) bytes
        Requests per second:    \(f(r.requestsPerSecond)) [#/sec] (mean)
        Time per request:       \(f(r.timePerRequestMs(concurrency: config.concurrency), 3)) [ms] (mean)
        Time per request:       \(f(r.timePerRequestAcrossMs, 3)) [ms] (mean, across all concurrent requests)
        Transfer rate:          \(f(r.transferKBPerSecond)) [Kbytes/sec] received
        Latency:                p50 \(f(r.p50Ms, 3)) ms, p90 \(f(r.p90Ms, 3)) ms, p99 \(f(r.p99Ms, 3)) ms, max \(f(r.maxMs, 3)) ms
        """
    }
}

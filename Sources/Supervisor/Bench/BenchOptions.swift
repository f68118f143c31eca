import CLI
import Foundation

/// `supervisor bench` options, checked up front so a typo never costs a half-finished run.
struct BenchOptions {
    var file: String
    var backends: [Int]?
    var concurrency = [1, 2, 5, 10, 50, 100]
    var requests = 10_000
    var durationMs = 0
    var keepAlive: [Bool] = [false, true]
    var models = ["event"]
    var target = "balancer"
    var path = "/page.html"
    var out: String?
    var compare: String?
    var chaos = false
    var warmupRequests = 500

    static func parse(_ args: inout Arguments) throws -> BenchOptions {
        let backends = try args.value("--backends")
        let concurrency = try args.value("--concurrency")
        let requests = try args.int("--requests", in: 1...100_000_000)
        let duration = try args.duration("--duration")
        let keepAlive = try args.choice("--keepalive", ["on", "off", "both"])
        let models = try args.value("--model")
        let target = try args.choice("--target", ["balancer", "proxy", "backend"])
        let path = try args.value("--path")
        let out = try args.value("--out")
        let compare = try args.value("--compare")
        let chaos = try args.choice("--chaos", ["kill-backend"])
        let warmup = try args.int("--warmup", in: 0...1_000_000)
        guard let file = args.positional() else { throw UsageError("bench needs a topology file, e.g. supervisor bench topologies/lb5.json") }
        try args.finish()

        var o = BenchOptions(file: file)
        if let backends { o.backends = try parseRange(backends, option: "--backends") }
        if let concurrency { o.concurrency = try parseList(concurrency, option: "--concurrency", range: 1...10_000) }
        if requests != nil && duration != nil { throw UsageError("give --requests or --duration, not both") }
        if let requests { o.requests = requests }
        if let duration {
            guard duration >= 100 else { throw UsageError("--duration must be at least 100ms") }
            o.durationMs = duration
            o.requests = 0
        }
        switch keepAlive {
        case "on": o.keepAlive = [true]
        case "off": o.keepAlive = [false]
        default: break
        }
        if let models {
            o.models = models.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            for m in o.models where !["event", "thread", "prefork"].contains(m) {
                throw UsageError("--model must be a comma list of event, thread, prefork (got '\(m)')")
            }
            if o.models.isEmpty { throw UsageError("--model is empty") }
        }
        if let target { o.target = target }
        if let path {
            guard path.hasPrefix("/") else { throw UsageError("--path must start with /") }
            o.path = path
        }
        o.out = out
        o.compare = compare
        if let compare, !FileManager.default.fileExists(atPath: compare) {
            throw UsageError("--compare \(compare): no such file")
        }
        o.chaos = chaos != nil
        if let warmup { o.warmupRequests = warmup }
        return o
    }

    /// "1-5" or "1,3,5".
    static func parseRange(_ text: String, option: String) throws -> [Int] {
        if text.contains("-") {
            let parts = text.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, let a = parts[0], let b = parts[1], a >= 1, a <= b else {
                throw UsageError("\(option) must be a range like 1-5 or a list like 1,3,5 (got '\(text)')")
            }
            return Array(a...b)
        }
        return try parseList(text, option: option, range: 1...64)
    }

    static func parseList(_ text: String, option: String, range: ClosedRange<Int>) throws -> [Int] {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && range.contains($0!) }) else {
            throw UsageError("\(option) must be a comma list of numbers from \(range.lowerBound) to \(range.upperBound) (got '\(text)')")
        }
        return values.map { $0! }
    }
}

/// One measured combination: the seeds' columns plus latency percentiles.
struct BenchRow: Codable, Sendable {
    var target: String
    var backends: Int
    var model: String
    var keepAlive: Bool
    var concurrency: Int
    var timeTakenSeconds: Double
    var completeRequests: Int
    var failedRequests: Int
    var non2xx: Int
    var bytesTransferred: Int
    var requestsPerSecond: Double
    var timePerRequestMs: Double
    var timePerRequestAcrossMs: Double
    var transferKBPerSecond: Double
    var p50Ms: Double
    var p90Ms: Double
    var p99Ms: Double
    var maxMs: Double
    var chaos: String?

    init(target: String, backends: Int, model: String, keepAlive: Bool, concurrency: Int, result r: LoadResult, chaos: String?) {
        self.target = target
        self.backends = backends
        self.model = model
        self.keepAlive = keepAlive
        self.concurrency = concurrency
        timeTakenSeconds = r.elapsedSeconds
        completeRequests = r.complete
        failedRequests = r.failed
        non2xx = r.non2xx
        bytesTransferred = r.bytesReceived
        requestsPerSecond = r.requestsPerSecond
        timePerRequestMs = r.timePerRequestMs(concurrency: concurrency)
        timePerRequestAcrossMs = r.timePerRequestAcrossMs
        transferKBPerSecond = r.transferKBPerSecond
        p50Ms = r.p50Ms
        p90Ms = r.p90Ms
        p99Ms = r.p99Ms
        maxMs = r.maxMs
        self.chaos = chaos
    }

    /// What identifies a row across runs (for --compare).
    var key: String { "\(target)|\(backends)|\(model)|\(keepAlive ? "ka" : "close")|\(concurrency)" }
}

/// Everything a run wrote, as its JSON file holds it.
struct BenchRun: Codable {
    var topology: String
    var command: String
    var machine: String
    var date: String
    var path: String
    var requestsPerRun: Int
    var durationMs: Int
    var rows: [BenchRow]
}

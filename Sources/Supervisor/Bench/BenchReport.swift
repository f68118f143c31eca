import Foundation

/// The run's tables: on the terminal, and as Markdown, CSV and JSON in the output folder.
enum BenchReport {
    static let columns = ["backends", "model", "keep-alive", "concurrency", "time (s)", "complete", "failed", "non-2xx",
                          "bytes", "req/s", "ms/req", "ms/req (all)", "KB/s", "p50 ms", "p90 ms", "p99 ms", "max ms"]
    private static let widths = [8, 7, 10, 11, 8, 9, 6, 7, 11, 9, 8, 12, 9, 7, 7, 7, 8]

    static func cells(_ r: BenchRow) -> [String] {
        func f(_ v: Double, _ d: Int) -> String { String(format: "%.\(d)f", v) }
        return [String(r.backends), r.model, r.keepAlive ? "on" : "off", String(r.concurrency), f(r.timeTakenSeconds, 3),
                String(r.completeRequests), String(r.failedRequests), String(r.non2xx), String(r.bytesTransferred),
                f(r.requestsPerSecond, 1), f(r.timePerRequestMs, 3), f(r.timePerRequestAcrossMs, 3), f(r.transferKBPerSecond, 1),
                f(r.p50Ms, 2), f(r.p90Ms, 2), f(r.p99Ms, 2), f(r.maxMs, 2)]
    }

    static func textRow(_ cells: [String]) -> String {
        zip(cells, widths).map { c, w in c.count >= w ? c : String(repeating: " ", count: w - c.count) + c }.joined(separator: " ")
    }

    static func markdown(_ run: BenchRun) -> String {
        var s = "# Benchmark: \(run.topology)\n\n"
        s += "- command: `\(run.command)`\n- machine: \(run.machine)\n- date: \(run.date)\n"
        s += "- target path: `\(run.path)`, \(run.durationMs > 0 ? "\(run.durationMs) ms" : "\(run.requestsPerRun) requests") per row after a warm-up\n"
        s += "- every response was checked (status, framing, body length): failed = connection errors, broken or short responses\n\n"
        s += "| " + columns.joined(separator: " | ") + " |\n"
        s += "|" + columns.map { _ in "---:" }.joined(separator: "|") + "|\n"
        for r in run.rows { s += "| " + cells(r).joined(separator: " | ") + " |\n" }
        let chaos = run.rows.compactMap { r in r.chaos.map { "- backends=\(r.backends) \(r.model) keep-alive \(r.keepAlive ? "on" : "off") c=\(r.concurrency): \($0); failed \(r.failedRequests)" } }
        if !chaos.isEmpty { s += "\n## Chaos\n\n" + chaos.joined(separator: "\n") + "\n" }
        return s
    }

    static func csv(_ run: BenchRun) -> String {
        var s = columns.joined(separator: ",") + ",chaos\n"
        for r in run.rows {
            s += cells(r).joined(separator: ",") + "," + (r.chaos.map { "\"\($0.replacingOccurrences(of: "\"", with: "'"))\"" } ?? "") + "\n"
        }
        return s
    }

    static func json(_ run: BenchRun) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(run)
    }

    /// Writes results.{md,csv,json} and the charts into `folder`; returns the files written.
    static func write(_ run: BenchRun, to folder: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var written: [String] = []
        func put(_ name: String, _ data: Data) throws {
            let path = "\(folder)/\(name)"
            try data.write(to: URL(fileURLWithPath: path))
            written.append(path)
        }
        try put("results.md", Data(markdown(run).utf8))
        try put("results.csv", Data(csv(run).utf8))
        try put("results.json", try json(run))
        for chart in BenchCharts.all(run) { try put(chart.name, Data(chart.svg.utf8)) }
        return written
    }

    /// The change against an earlier run, row by row (matched on target, backends, model, keep-alive, concurrency).
    static func compare(_ now: BenchRun, with before: BenchRun) -> String {
        let old = Dictionary(before.rows.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        var lines = [textRowCompare(["backends", "model", "keep-alive", "conc.", "req/s before", "req/s now", "change", "p99 before", "p99 now", "failed"])]
        var matched = 0
        for r in now.rows {
            guard let o = old[r.key] else { continue }
            matched += 1
            let change = o.requestsPerSecond > 0 ? (r.requestsPerSecond / o.requestsPerSecond - 1) * 100 : 0
            lines.append(textRowCompare([String(r.backends), r.model, r.keepAlive ? "on" : "off", String(r.concurrency),
                                         String(format: "%.1f", o.requestsPerSecond), String(format: "%.1f", r.requestsPerSecond),
                                         String(format: "%+.1f%%", change), String(format: "%.2f", o.p99Ms), String(format: "%.2f", r.p99Ms),
                                         "\(o.failedRequests)→\(r.failedRequests)"]))
        }
        if matched == 0 { return "no row of this run matches one in the earlier run (\(before.date))" }
        return "compared with the run of \(before.date):\n" + lines.joined(separator: "\n")
    }

    private static func textRowCompare(_ cells: [String]) -> String {
        let w = [8, 7, 10, 6, 12, 12, 8, 10, 10, 8]
        return zip(cells, w).map { c, w in c.count >= w ? c : String(repeating: " ", count: w - c.count) + c }.joined(separator: " ")
    }
}

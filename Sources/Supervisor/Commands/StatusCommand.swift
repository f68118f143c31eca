import CLI
import Foundation

/// `supervisor status [FILE] [--json]`: one row per instance.
enum StatusCommand {
    static func run(_ args: inout Arguments) throws -> Int32 {
        let json = args.flag("--json")
        let file = Locate.topologyFile(&args)
        try args.finish()
        let folder = try Locate.runFolder(file: file)
        let reply = try Locate.check(ControlClient(folder: folder).send(["command": "status"]))
        if json {
            let data = try JSONSerialization.data(withJSONObject: reply["instances"] ?? [], options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return 0
        }
        print(table(reply["instances"] as? [[String: Any]] ?? []))
        return 0
    }

    static func table(_ rows: [[String: Any]]) -> String {
        var lines = [["NAME", "PID", "PORT", "STATE", "RESTARTS", "UPTIME", "MEMORY", ""]]
        for r in rows {
            let pid = r["pid"] as? Int ?? 0
            lines.append([
                r["name"] as? String ?? "?",
                pid > 0 ? String(pid) : "-",
                (r["port"] as? Int).map(String.init) ?? "-",
                r["state"] as? String ?? "?",
                String(r["restarts"] as? Int ?? 0),
                (r["uptime_seconds"] as? Double).map(duration) ?? "-",
                (r["memory_bytes"] as? Int).map(memory) ?? "-",
                (r["reason"] as? String).map { "(\($0))" } ?? "",
            ])
        }
        var widths = [Int](repeating: 0, count: 8)
        for l in lines { for (i, c) in l.enumerated() { widths[i] = max(widths[i], c.count) } }
        return lines.map { l in
            l.enumerated().map { i, c in i == l.count - 1 ? c : c.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0) }
                .joined().trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }

    static func duration(_ s: Double) -> String {
        let t = Int(s)
        if t < 60 { return "\(t)s" }
        if t < 3600 { return "\(t / 60)m\(t % 60)s" }
        if t < 86400 { return "\(t / 3600)h\((t % 3600) / 60)m" }
        return "\(t / 86400)d\((t % 86400) / 3600)h"
    }

    /// Binary units, named as such (docker stats does the same).
    static func memory(_ bytes: Int) -> String {
        bytes >= 1 << 30 ? String(format: "%.1f GiB", Double(bytes) / Double(1 << 30))
            : String(format: "%.1f MiB", Double(bytes) / Double(1 << 20))
    }
}

import Foundation

/// The control socket's protocol: the client sends one JSON object on one line, the supervisor answers
/// with one JSON object on one line and closes. `{"command":"status"}`, `{"command":"scale",
/// "service":"backend","count":3}`, `{"command":"restart","name":"backend.2"}`, `stop`, `start`,
/// `down`, and `wait` (answers once everything is healthy or something has failed).
enum ControlProtocol {
    static func encode(_ object: [String: Any]) -> [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data) + [0x0A]
    }

    static func decode(_ bytes: [UInt8]) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
    }

    /// One instance as `status --json` shows it.
    static func describe(_ i: Instance, now: UInt64) -> [String: Any] {
        var d: [String: Any] = [
            "name": i.name, "service": i.service.name, "slot": i.slot, "state": i.state.rawValue,
            "restarts": i.restarts, "pid": Int(i.pid),
        ]
        if let port = i.port { d["port"] = port }
        if i.isRunning {
            d["uptime_seconds"] = Double((now &- i.startedAt) / 1_000_000) / 1000
            if let rss = ProcStats.residentBytes(i.pid) { d["memory_bytes"] = rss }
        }
        if let reason = i.reason { d["reason"] = reason }
        if let exit = i.lastExit { d["last_exit"] = exit.description }
        return d
    }
}

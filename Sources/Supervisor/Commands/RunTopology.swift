import CLI
import Foundation

/// The topology a run folder was started from, for checks a command makes itself before (or instead of)
/// asking the supervisor: the names `logs` accepts, the range `scale` accepts.
enum RunTopology {
    /// Where `up` notes the topology file it runs, so the answer survives the supervisor (`logs` after `down`).
    static func recordPath(_ folder: RunFolder) -> String { "\(folder.path)/topology-file" }

    static func record(_ topology: Topology, in folder: RunFolder) {
        try? "\(topology.file)\n".write(toFile: recordPath(folder), atomically: true, encoding: .utf8)
    }

    /// The file named on the command line; else the one the live supervisor reports; else the one `up`
    /// noted. nil when none can be read any more (moved, edited into an invalid file).
    static func find(_ folder: RunFolder, named file: String?) throws -> Topology? {
        if let file { return try Locate.load(file) }
        var candidates: [String] = []
        if FileManager.default.fileExists(atPath: folder.controlSocket),
           let reply = try? ControlClient(folder: folder).send(["command": "status"], timeoutMs: 5000),
           let running = reply["file"] as? String {
            candidates.append(running)
        }
        if let noted = try? String(contentsOfFile: recordPath(folder), encoding: .utf8) {
            candidates.append(noted.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        for path in candidates where !path.isEmpty {
            if let topology = try? TopologyLoader.load(path: path), topology.name == folder.name { return topology }
        }
        return nil
    }

    /// Every name a merged-log line can carry: each service, each of its instances ("backend.3"; a service
    /// that never has more than one instance shows as its plain name), and the supervisor's own lines.
    static func logNames(_ topology: Topology) -> [String] {
        var names = ["supervisor"]
        for s in topology.services {
            names.append(s.name)
            if s.maxInstances > 1 { names += (1...s.maxInstances).map { "\(s.name).\($0)" } }
        }
        return names
    }
}

import CLI
import Foundation

/// `scale`, `restart`, `stop`, `start` and `down`: one request to the running supervisor each.
enum ControlCommands {
    static func scale(_ args: inout Arguments) throws -> Int32 {
        let file = Locate.topologyFile(&args)
        var requests: [(String, Int)] = []
        while let spec = args.positional() {
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let n = Int(parts[1]), n >= 0 else {
                throw UsageError("scale takes SERVICE=COUNT, e.g. backend=3 (got '\(spec)')")
            }
            requests.append((parts[0], n))
        }
        try args.finish()
        if requests.isEmpty { throw UsageError("scale needs SERVICE=COUNT, e.g. supervisor scale backend=3") }
        let folder = try Locate.runFolder(file: file)
        // Names and ranges are in the topology: a count outside the declared range is the caller's
        // mistake (exit 2, as `bench --backends`), found before anything is asked of the supervisor.
        if let topology = try RunTopology.find(folder, named: file) {
            for (name, count) in requests { try checkScale(name, count, in: topology) }
        }
        for (service, count) in requests {
            let reply = try Locate.check(ControlClient(folder: folder).send(["command": "scale", "service": service, "count": count]))
            print(reply["message"] as? String ?? "done")
        }
        return 0
    }

    static func checkScale(_ name: String, _ count: Int, in topology: Topology) throws {
        let names = topology.services.map(\.name)
        guard let service = topology.service(named: name) else {
            throw UsageError("no service '\(name)' in \(topology.file)\(Suggestion.hint(for: name, in: names)) (services: \(names.joined(separator: ", ")))")
        }
        if let refusal = service.scaleRefusal(count, file: topology.file) { throw UsageError(refusal) }
    }

    static func instanceCommand(_ command: String, _ args: inout Arguments) throws -> Int32 {
        let file = Locate.topologyFile(&args)
        guard let name = args.positional() else { throw UsageError("\(command) needs a service or instance name, e.g. backend or backend.3") }
        try args.finish()
        let folder = try Locate.runFolder(file: file)
        let reply = try Locate.check(ControlClient(folder: folder).send(["command": command, "name": name]))
        print(reply["message"] as? String ?? "done")
        return 0
    }

    static func down(_ args: inout Arguments) throws -> Int32 {
        let file = Locate.topologyFile(&args)
        try args.finish()
        let folder = try Locate.runFolder(file: file)
        let reply = try Locate.check(ControlClient(folder: folder).send(["command": "down"]))
        print(reply["message"] as? String ?? "stopping")
        // Wait for the supervisor to finish stopping (its control socket goes away).
        let deadline = Date().addingTimeInterval(120)
        while FileManager.default.fileExists(atPath: folder.controlSocket) && Date() < deadline { usleep(50_000) }
        print("stopped \(folder.name)")
        return 0
    }
}

/// Each setting of each service as text, so `up` on a topology that is already running can tell
/// whether the file still says what is running, and if not, which services and settings differ. The
/// running supervisor reports its own in `status`; the file's are computed the same way.
enum TopologyFingerprint {
    typealias Services = [String: [String: String]]

    /// `argumentOverrides`: args that replace a service's own while it runs (`reconfigure`, used by
    /// `bench`), so the file's args differ from what runs until they are applied again.
    static func of(_ topology: Topology, argumentOverrides: [String: [String]] = [:]) -> Services {
        var all: Services = ["(topology)": ["host": topology.host]]
        for var service in topology.services {
            if let args = argumentOverrides[service.name] { service.args = args }
            all[service.name] = of(service)
        }
        return all
    }

    static func of(_ service: Service) -> [String: String] {
        var fields: [String: String] = [:]
        for child in Mirror(reflecting: service).children {
            guard let label = child.label else { continue }
            let name = keyNames[label] ?? label
            // A dictionary's order differs from one process to the next; its sorted entries do not.
            let text = (child.value as? [String: String]).map { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n") }
                ?? String(describing: child.value)
            fields[name] = fields[name].map { $0 + "\n" + text } ?? text
        }
        return fields
    }

    /// What differs, one entry a service: "backend (args, port)", "cache (added)", "old (removed)".
    static func differences(running: Services, file: Services) -> [String] {
        var found: [String] = []
        for name in Set(running.keys).union(file.keys).sorted() {
            switch (running[name], file[name]) {
            case (nil, _): found.append("\(name) (added)")
            case (_, nil): found.append("\(name) (removed)")
            case let (a?, b?):
                let keys = differingKeys(a, b)
                if !keys.isEmpty { found.append("\(name) (\(keys.joined(separator: ", ")))") }
            }
        }
        return found
    }

    /// The settings of one service that differ, by the file's key names, sorted.
    static func differingKeys(_ a: [String: String], _ b: [String: String]) -> [String] {
        Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted()
    }

    /// The topology file's own key for each setting, where its name in the code differs.
    private static let keyNames = [
        "environment": "env", "workingDirectory": "directory", "minInstances": "scale", "maxInstances": "scale",
        "firstPort": "port", "dependsOn": "depends_on", "stopTimeoutMs": "stop_timeout", "stripPrefix": "strip_prefix",
        "holdsPort": "hold_port",
    ]
}

import JSON

/// A service as decoded from its own JSON object, before references to other services are checked.
struct DecodedService {
    var service: Service
    /// Every port the file reserves for the service (a range may be longer than scale needs).
    var ports: PortSpan?
    /// "services.<name>", for messages about the service as a whole.
    var path: String
}

/// Decodes one entry of "services": every key checked for type, range and applicability to the program,
/// relative paths resolved against the topology's folder, defaults filled in.
enum ServiceDecoder {
    static let keys = ["program", "args", "env", "directory", "root", "workers", "instances", "scale", "port", "health",
                       "restart", "depends_on", "stop_timeout", "upstreams", "strategy", "mode", "routes", "strip_prefix", "hold_port"]

    /// Keys that only make sense for some programs, and which.
    static let keysForPrograms: [(key: String, programs: [String])] = [
        ("root", ["backend"]), ("workers", ["backend", "balancer", "proxy"]),
        ("upstreams", ["balancer"]), ("strategy", ["balancer"]), ("mode", ["balancer"]),
        ("routes", ["proxy"]), ("strip_prefix", ["proxy"]),
    ]

    static let strategies = ["round-robin", "least-conn", "random2", "weighted"]

    static func decode(name: String, _ value: JSONValue, at path: String, folder: String) throws(TopologyProblem) -> DecodedService {
        let object = try JSONObjectReader(value, at: path, allowedKeys: keys)
        let programText = try object.required("program", "backend, balancer, proxy, or a command").text(at: object.path("program"))
        let program = try ProgramLocator.resolve(programText, at: object.path("program"), folder: folder)
        try rejectKeysForOtherPrograms(object, program: program)

        let scale = try InstanceScale.decode(object)
        let ports = try object["port"].map { v throws(TopologyProblem) in
            try PortSpan.decode(v, at: object.path("port"), maxInstances: scale.max)
        }
        let args = try object.strings("args") ?? []
        try ArgumentPlaceholders.check(args, at: object.path("args"))
        if ports == nil && program.isBuiltIn {
            throw TopologyProblem(object.path("port"), "missing required key 'port' (program \(programText) listens on it)")
        }

        var service = Service(
            name: name, program: program, args: args,
            environment: try environment(object), workingDirectory: folder, root: nil, workers: nil,
            instances: scale.instances, minInstances: scale.min, maxInstances: scale.max, firstPort: ports?.first,
            health: HealthCheckDecoder.defaults, restart: try RestartPolicyDecoder.decode(object),
            dependsOn: try dependencies(object, name: name),
            stopTimeoutMs: try object.duration("stop_timeout", allowZero: true) ?? 10_000,
            upstreams: nil, strategy: nil, mode: nil, routes: [], stripPrefix: false,
            holdsPort: try object.bool("hold_port") ?? true)
        if !service.holdsPort && ports == nil {
            throw TopologyProblem(object.path("hold_port"), "'hold_port' is about the service's 'port', and it has none")
        }

        if object.has("directory") { service.workingDirectory = try existingFolder("directory", in: object, folder: folder) }
        service.workers = try object.int("workers", in: 1...256)
        switch program {
        case .backend:
            _ = try object.required("root", "the folder to serve, relative to the topology file")
            service.root = try existingFolder("root", in: object, folder: folder)
        case .balancer:
            service.upstreams = try object.required("upstreams", "the service to balance").text(at: object.path("upstreams"))
            service.strategy = try object.choice("strategy", strategies) ?? "round-robin"
            service.mode = try object.choice("mode", ["http", "tcp"]) ?? "http"
        case .proxy:
            service.routes = try routes(object)
            service.stripPrefix = try object.bool("strip_prefix") ?? false
        case .command:
            break
        }
        service.health = try HealthCheckDecoder.decode(object, defaultKind: defaultHealth(for: service),
                                                       serviceHasPort: ports != nil)
        if service.program == .balancer, service.mode == "tcp", case .http = service.health.kind,
           let health = try object.object("health", allowedKeys: HealthCheckDecoder.keys) {
            throw TopologyProblem(health.path("http"), "a balancer in tcp mode relays this check to one of its upstreams, so it "
                + "would say nothing about the balancer itself; write \"tcp\": true")
        }
        return DecodedService(service: service, ports: ports, path: path)
    }

    /// Built-in programs answer GET /healthz (a TCP-mode balancer may front non-HTTP upstreams, so it
    /// is only connected to); a command is connected to if it has a port, and otherwise only watched.
    static func defaultHealth(for service: Service) -> HealthCheck.Kind {
        switch service.program {
        case .backend, .proxy: return .http(path: "/healthz")
        case .balancer: return service.mode == "tcp" ? .tcp : .http(path: "/healthz")
        case .command: return service.firstPort == nil ? .none : .tcp
        }
    }

    private static func rejectKeysForOtherPrograms(_ object: JSONObjectReader, program: Service.Program) throws(TopologyProblem) {
        let programName = program.isBuiltIn ? program.displayName : "command"
        for (key, programs) in keysForPrograms where object.has(key) && !programs.contains(programName) {
            let who = programs.count == 1 ? "program \(programs[0])" : "programs " + programs.joined(separator: ", ")
            throw TopologyProblem(object.path(key), "'\(key)' only applies to \(who), and this service runs "
                + (programName == "command" ? "a command" : programName))
        }
    }

    private static func environment(_ object: JSONObjectReader) throws(TopologyProblem) -> [String: String] {
        guard let value = object["env"] else { return [:] }
        var env: [String: String] = [:]
        for (key, text) in try value.textPairs(at: object.path("env")) {
            guard !key.isEmpty, !key.contains("="), !key.contains("\0") else {
                throw TopologyProblem(KeyPathText.member(object.path("env"), key),
                                      "environment variable names cannot be empty or contain '=' or NUL")
            }
            env[key] = text
        }
        return env
    }

    /// Explicit "depends_on" in file order, without repeats; unknown names are checked once all
    /// services are known.
    private static func dependencies(_ object: JSONObjectReader, name: String) throws(TopologyProblem) -> [String] {
        var names: [String] = []
        for dependency in try object.strings("depends_on") ?? [] where !names.contains(dependency) {
            guard dependency != name else {
                throw TopologyProblem(object.path("depends_on"), "a service cannot depend on itself ('\(name)')")
            }
            names.append(dependency)
        }
        return names
    }

    private static func routes(_ object: JSONObjectReader) throws(TopologyProblem) -> [(prefix: String, service: String)] {
        let value = try object.required("routes", "path prefixes and the services they go to, such as {\"/\": \"site\"}")
        let pairs = try value.textPairs(at: object.path("routes"))
        guard !pairs.isEmpty else {
            throw TopologyProblem(object.path("routes"), "a proxy needs at least one route, such as {\"/\": \"site\"}")
        }
        for (prefix, _) in pairs where !prefix.hasPrefix("/") {
            throw TopologyProblem(KeyPathText.member(object.path("routes"), prefix),
                                  "route prefix \(JSONValue.quoted(prefix)) must start with '/'")
        }
        return pairs.map { (prefix: $0.key, service: $0.value) }
    }

    /// A folder key ("root", "directory") resolved against the topology's folder; it must exist now,
    /// since a backend with a missing root could only fail after it starts.
    private static func existingFolder(_ key: String, in object: JSONObjectReader, folder: String) throws(TopologyProblem) -> String {
        let path = object.path(key)
        guard let text = try object.string(key) else { return folder }
        guard !text.isEmpty else { throw TopologyProblem(path, "folder is empty; use \".\" for the topology's own folder") }
        let resolved = FilePaths.absolute(text, relativeTo: folder)
        if FilePaths.isDirectory(resolved) { return resolved }
        let problem = FilePaths.exists(resolved) ? "is a file, not a folder" : "does not exist"
        throw TopologyProblem(path, "folder \(text) \(problem) (\(path) resolves to \(resolved))")
    }
}

/// A topology file, loaded and checked: every service, with everything resolved that can be resolved
/// before anything starts (absolute paths, port ranges, references to other services).
struct Topology: Sendable, Equatable {
    /// From "name", or the file's base name ("lb5" for topologies/lb5.json).
    var name: String
    /// Absolute path of the file it came from.
    var file: String
    /// Address the supervisor binds services' ports on (default 127.0.0.1).
    var host: String
    /// Services in dependency order: a service comes after everything in its `dependsOn`.
    var services: [Service]

    func service(named name: String) -> Service? { services.first { $0.name == name } }
}

/// One service: a program run as 1…N instances, instance N always on port slot N.
struct Service: Sendable, Equatable {
    enum Program: Sendable, Equatable {
        case backend, balancer, proxy
        /// Any other command: an absolute path, resolved from PATH or relative to the topology file.
        case command(String)
    }

    var name: String
    var program: Program
    /// Extra arguments, after the ones the supervisor derives (for `.command`, all of them).
    /// `{port}`, `{instance}` and `{name}` are replaced per instance.
    var args: [String]
    var environment: [String: String]
    /// The folder children run in: the topology file's folder unless "directory" says otherwise.
    var workingDirectory: String
    /// backend only: the folder to serve, absolute.
    var root: String?
    var workers: Int?
    var instances: Int
    var minInstances: Int
    var maxInstances: Int
    /// First port of the range; instance N (1-based) listens on firstPort + N - 1. nil: no port.
    var firstPort: Int?
    var health: HealthCheck
    var restart: RestartPolicy
    var dependsOn: [String]
    /// Grace period between SIGTERM and SIGKILL when stopping.
    var stopTimeoutMs: Int
    /// balancer only: the service whose instances it balances, and how.
    var upstreams: String?
    var strategy: String?
    var mode: String?
    /// proxy only: path prefix → service name ("/" is the default route), and whether to strip prefixes.
    var routes: [(prefix: String, service: String)]
    var stripPrefix: Bool
    /// Whether the supervisor binds the port and hands it down (LISTEN_FDS), so it keeps accepting across
    /// restarts; false for a program that binds its port itself (nginx, node, python -m http.server).
    var holdsPort = true

    func port(ofInstance n: Int) -> Int? { firstPort.map { $0 + n - 1 } }

    static func == (a: Service, b: Service) -> Bool {
        a.name == b.name && a.program == b.program && a.args == b.args && a.environment == b.environment
            && a.workingDirectory == b.workingDirectory && a.root == b.root && a.workers == b.workers
            && a.instances == b.instances && a.minInstances == b.minInstances && a.maxInstances == b.maxInstances
            && a.firstPort == b.firstPort && a.health == b.health && a.restart == b.restart
            && a.dependsOn == b.dependsOn && a.stopTimeoutMs == b.stopTimeoutMs && a.upstreams == b.upstreams
            && a.strategy == b.strategy && a.mode == b.mode && a.stripPrefix == b.stripPrefix && a.holdsPort == b.holdsPort
            && a.routes.map(\.prefix) == b.routes.map(\.prefix) && a.routes.map(\.service) == b.routes.map(\.service)
    }
}

struct HealthCheck: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case http(path: String)
        case tcp
        /// No check: healthy once started (the process staying up is all that is known).
        case none
    }
    var kind: Kind
    var intervalMs: Int
    var timeoutMs: Int
    /// Consecutive passes that make a starting instance healthy.
    var healthyAfter: Int
    /// Consecutive failures that make a healthy instance unhealthy (and restart it).
    var unhealthyAfter: Int
    /// How long a new instance may take to pass its first check before it counts as failed to start.
    var startTimeoutMs: Int
}

struct RestartPolicy: Sendable, Equatable {
    enum When: String, Sendable { case always, onFailure = "on-failure", never }
    var when: When
    /// Restarts in a row (without a stable period between) before the instance is marked failed.
    var maxRetries: Int
    var initialBackoffMs: Int
    var maxBackoffMs: Int
    /// Running this long resets the retry count and the backoff.
    var stableAfterMs: Int
}

/// Why a topology file was refused: the file, the key path inside it, and the problem.
struct TopologyError: Error, Equatable, CustomStringConvertible {
    var file: String
    /// e.g. "services.backend.port"; empty for the file as a whole.
    var keyPath: String
    var reason: String

    var description: String {
        keyPath.isEmpty ? "\(file): \(reason)" : "\(file): \(keyPath): \(reason)"
    }
}

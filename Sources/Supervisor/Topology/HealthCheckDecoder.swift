/// Decodes a service's "health" object. Exactly one of "http", "tcp", "none" says what a check is;
/// without one, the service's default applies (see `ServiceDecoder`).
enum HealthCheckDecoder {
    static let kindKeys = ["http", "tcp", "none"]
    static let keys = kindKeys + ["interval", "timeout", "healthy_after", "unhealthy_after", "start_timeout"]

    static let defaults = HealthCheck(kind: .none, intervalMs: 1000, timeoutMs: 1000, healthyAfter: 1,
                                      unhealthyAfter: 3, startTimeoutMs: 30_000)

    /// `serviceHasPort` decides whether http and tcp checks are possible at all.
    static func decode(_ service: JSONObjectReader, defaultKind: HealthCheck.Kind,
                       serviceHasPort: Bool) throws(TopologyProblem) -> HealthCheck {
        var check = defaults
        check.kind = defaultKind
        guard let health = try service.object("health", allowedKeys: keys) else { return check }

        let given = kindKeys.filter(health.has)
        if given.count > 1 {
            throw TopologyProblem(health.path, "give exactly one of 'http', 'tcp' or 'none', not both '\(given[0])' and '\(given[1])'")
        }
        if let key = given.first {
            check.kind = try kind(key, in: health)
            if check.kind != .none && !serviceHasPort {
                throw TopologyProblem(health.path(key), "a\(key == "http" ? "n" : "") \(key) check needs a port, but \(service.path) has no 'port'")
            }
        }
        check.intervalMs = try health.duration("interval") ?? check.intervalMs
        check.timeoutMs = try health.duration("timeout") ?? check.timeoutMs
        check.healthyAfter = try health.int("healthy_after", in: 1...100) ?? check.healthyAfter
        check.unhealthyAfter = try health.int("unhealthy_after", in: 1...100) ?? check.unhealthyAfter
        check.startTimeoutMs = try health.duration("start_timeout") ?? check.startTimeoutMs
        return check
    }

    private static func kind(_ key: String, in health: JSONObjectReader) throws(TopologyProblem) -> HealthCheck.Kind {
        switch key {
        case "http":
            guard let path = try health.string("http"), path.hasPrefix("/") else {
                throw TopologyProblem(health.path("http"), "the http check path must start with '/', such as \"/healthz\"")
            }
            return .http(path: path)
        default:
            // "tcp": false or "none": false would be a double negative; say what to write instead.
            guard try health.bool(key) == true else {
                throw TopologyProblem(health.path(key), "'\(key)' can only be true; to choose another check, write that one instead")
            }
            return key == "tcp" ? .tcp : .none
        }
    }
}

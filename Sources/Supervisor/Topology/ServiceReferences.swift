import JSON

/// Checks between services, once every service has decoded on its own: names that refer to other
/// services, implicit dependencies, and ports claimed twice.
enum ServiceReferences {
    /// Adds a balancer's upstreams service and a proxy's route targets to its `dependsOn` (they must be
    /// up before it can forward to them), after checking every name refers to a service with a port.
    static func resolve(_ services: inout [DecodedService]) throws(TopologyProblem) {
        let names = services.map(\.service.name)
        let withPort = Set(services.filter { $0.ports != nil }.map(\.service.name))

        func check(_ target: String, at path: String, from service: String, role: String) throws(TopologyProblem) {
            guard names.contains(target) else {
                throw TopologyProblem(path, "\(role) names unknown service '\(target)'"
                    + Suggestion.hint(for: target, in: names.filter { $0 != service }))
            }
            guard target != service else { throw TopologyProblem(path, "\(role) names the service itself ('\(target)')") }
            guard withPort.contains(target) else {
                throw TopologyProblem(path, "\(role) names service '\(target)', which has no port to forward to")
            }
        }

        for i in services.indices {
            var service = services[i].service
            let path = services[i].path
            for dependency in service.dependsOn where !names.contains(dependency) {
                throw TopologyProblem(KeyPathText.member(path, "depends_on"), "depends_on names unknown service '\(dependency)'"
                    + Suggestion.hint(for: dependency, in: names.filter { $0 != service.name }))
            }
            if let upstreams = service.upstreams {
                try check(upstreams, at: KeyPathText.member(path, "upstreams"), from: service.name, role: "upstreams")
                if !service.dependsOn.contains(upstreams) { service.dependsOn.append(upstreams) }
            }
            for route in service.routes {
                let routePath = KeyPathText.member(KeyPathText.member(path, "routes"), route.prefix)
                try check(route.service, at: routePath, from: service.name, role: "route \(JSONValue.quoted(route.prefix))")
                if !service.dependsOn.contains(route.service) { service.dependsOn.append(route.service) }
            }
            services[i].service = service
        }
    }

    /// Every port of every service's declared range belongs to one service only: two services on one
    /// port would fail at bind time, or worse, with SO_REUSEPORT, silently share its traffic.
    static func checkPortsDistinct(_ services: [DecodedService]) throws(TopologyProblem) {
        var owners: [Int: (service: Int, slot: Int)] = [:]
        for (index, decoded) in services.enumerated() {
            guard let span = decoded.ports else { continue }
            for (slot, port) in span.ports.enumerated() {
                if let owner = owners[port] {
                    let first = describe(services[owner.service], slot: owner.slot)
                    let second = describe(decoded, slot: slot)
                    throw TopologyProblem(KeyPathText.member(decoded.path, "port"), "port \(port) is used by both \(first) and \(second)")
                }
                owners[port] = (index, slot)
            }
        }
    }

    /// "services.backend (instance 3)" for a port in a range, "services.images" for a single port.
    private static func describe(_ decoded: DecodedService, slot: Int) -> String {
        guard let span = decoded.ports, span.count > 1 else { return decoded.path }
        if slot < decoded.service.maxInstances { return "\(decoded.path) (instance \(slot + 1))" }
        return "\(decoded.path) (range \(span.first)-\(span.last))"
    }
}

/// Orders services so each comes after everything it depends on; among services free to go next, the
/// one written first in the file goes first, so the order is predictable and matches what users read.
enum DependencyOrder {
    static func sort(_ services: [DecodedService]) throws(TopologyProblem) -> [DecodedService] {
        let indexByName = Dictionary(services.enumerated().map { ($1.service.name, $0) }, uniquingKeysWith: { a, _ in a })
        var placed = [Bool](repeating: false, count: services.count)
        var ordered: [DecodedService] = []
        // Quadratic, and fine: topologies have a handful of services, and this keeps the tie-break obvious.
        while ordered.count < services.count {
            let next = services.indices.first { i in
                !placed[i] && services[i].service.dependsOn.allSatisfy { name in indexByName[name].map { placed[$0] } ?? true }
            }
            guard let next else { throw cycle(in: services, placed: placed, indexByName: indexByName) }
            placed[next] = true
            ordered.append(services[next])
        }
        return ordered
    }

    /// Every unplaced service waits on another unplaced one, so following first dependencies from the
    /// first unplaced service must revisit a service: that loop is the cycle to report.
    private static func cycle(in services: [DecodedService], placed: [Bool], indexByName: [String: Int]) -> TopologyProblem {
        guard var current = placed.firstIndex(of: false) else { return TopologyProblem("services", "dependency cycle") }
        var path: [Int] = []
        while !path.contains(current) {
            path.append(current)
            let blocking = services[current].service.dependsOn.compactMap { indexByName[$0] }.first { !placed[$0] }
            guard let blocking else { break }
            current = blocking
        }
        // Start the loop at the service written first in the file, so the message reads as the file does.
        var ring = Array(path[(path.firstIndex(of: current) ?? 0)...])
        if let earliest = ring.indices.min(by: { ring[$0] < ring[$1] }) { ring = Array(ring[earliest...] + ring[..<earliest]) }
        let loop = ring + [ring[0]]
        let names = loop.map { services[$0].service.name }
        let start = services[loop[0]]
        return TopologyProblem(KeyPathText.member(start.path, key(for: names[1], in: start.service)),
                               "dependency cycle: " + names.joined(separator: " -> "))
    }

    /// The key that made `service` depend on `dependency`, to point the message at the right line.
    private static func key(for dependency: String, in service: Service) -> String {
        if service.upstreams == dependency { return "upstreams" }
        if service.routes.contains(where: { $0.service == dependency }) { return "routes" }
        return "depends_on"
    }
}

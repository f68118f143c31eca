/// How many instances a service runs now ("instances") and may be scaled between ("scale": [min, max]).
struct InstanceScale: Equatable {
    static let limit = 64

    var instances: Int
    var min: Int
    var max: Int

    /// Neither key: one instance. Only "instances": fixed at that. Only "scale": start at its max
    /// (a scaled service is declared for its full size). Both: instances must lie within scale.
    static func decode(_ service: JSONObjectReader) throws(TopologyProblem) -> InstanceScale {
        let instances = try service.int("instances", in: 1...limit)
        guard let scaleValue = service["scale"] else {
            let n = instances ?? 1
            return InstanceScale(instances: n, min: n, max: n)
        }
        let path = service.path("scale")
        let items = try scaleValue.array(at: path)
        guard items.count == 2 else {
            throw TopologyProblem(path, "expected [min, max] such as [1, 5], got an array of \(items.count)")
        }
        let low = try items[0].wholeNumber(at: KeyPathText.element(path, 0))
        let high = try items[1].wholeNumber(at: KeyPathText.element(path, 1))
        guard 1 <= low, low <= high, high <= limit else {
            throw TopologyProblem(path, "scale [\(low), \(high)] must satisfy 1 <= min <= max <= \(limit)")
        }
        if let instances, !(low...high).contains(instances) {
            throw TopologyProblem(service.path("instances"), "instances \(instances) is outside scale [\(low), \(high)]")
        }
        return InstanceScale(instances: instances ?? high, min: low, max: high)
    }
}

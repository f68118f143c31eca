import JSON

/// The ports a service declares: one port ("port": 9001) or a range ("port": "9001-9005"). Instance N
/// uses first + N - 1, so a range must hold a port for every instance the service may scale to.
struct PortSpan: Equatable {
    var first: Int
    var count: Int

    var last: Int { first + count - 1 }
    var ports: ClosedRange<Int> { first...last }

    static let valid = 1...65535

    static func decode(_ value: JSONValue, at path: String, maxInstances: Int) throws(TopologyProblem) -> PortSpan {
        let expected = "a port number such as 9001 or a range such as \"9001-9005\""
        switch value {
        case .number:
            let port = try value.wholeNumber(at: path)
            try check(port, at: path)
            guard maxInstances == 1 else {
                throw TopologyProblem(path, "port \(port) is a single port, but scale allows up to \(maxInstances) instances; "
                    + "give a range such as \"\(port)-\(port + maxInstances - 1)\"")
            }
            return PortSpan(first: port, count: 1)
        case .string(let text):
            let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
                .map { Int($0.trimmingSpaces) }
            if bounds.count == 1, let port = bounds[0] {
                throw TopologyProblem(path, "expected \(expected), got the string \(JSONValue.quoted(text)) (write \(port) without quotes)")
            }
            guard bounds.count == 2, let low = bounds[0], let high = bounds[1] else {
                throw TopologyProblem(path, "expected \(expected), got the string \(JSONValue.quoted(text))")
            }
            try check(low, at: path)
            try check(high, at: path)
            guard low <= high else {
                throw TopologyProblem(path, "port range \(low)-\(high) runs backwards; write \"\(high)-\(low)\"")
            }
            let span = PortSpan(first: low, count: high - low + 1)
            guard span.count >= maxInstances else {
                throw TopologyProblem(path, "port range \(low)-\(high) has \(span.count) port\(span.count == 1 ? "" : "s") "
                    + "but scale allows up to \(maxInstances) instances")
            }
            return span
        default:
            throw value.mismatch(at: path, expected: expected)
        }
    }

    private static func check(_ port: Int, at path: String) throws(TopologyProblem) {
        guard valid.contains(port) else {
            throw TopologyProblem(path, "port \(port) is out of range; expected 1 to 65535")
        }
    }
}

private extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}

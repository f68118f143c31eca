import JSON

/// Typed views of a JSON value for the topology decoders. Each throws a problem naming the key path,
/// what was expected and what the file holds instead.
extension JSONValue {
    func text(at path: String) throws(TopologyProblem) -> String {
        guard case .string(let s) = self else { throw mismatch(at: path, expected: "a string") }
        return s
    }

    /// A whole number (5 or 5.0, not 5.5 or "5"), optionally within `range`.
    func wholeNumber(at path: String, in range: ClosedRange<Int>? = nil) throws(TopologyProblem) -> Int {
        guard case .number(let value, let literal) = self else { throw mismatch(at: path, expected: "a whole number") }
        guard value.rounded() == value, let whole = Int(exactly: value) else {
            throw TopologyProblem(path, "expected a whole number, got \(literal)")
        }
        if let range, !range.contains(whole) {
            throw TopologyProblem(path, "\(whole) is out of range; expected \(range.lowerBound) to \(range.upperBound)")
        }
        return whole
    }

    func flag(at path: String) throws(TopologyProblem) -> Bool {
        guard case .bool(let b) = self else { throw mismatch(at: path, expected: "true or false") }
        return b
    }

    func array(at path: String) throws(TopologyProblem) -> [JSONValue] {
        guard case .array(let items) = self else { throw mismatch(at: path, expected: "an array") }
        return items
    }

    func texts(at path: String) throws(TopologyProblem) -> [String] {
        guard case .array(let items) = self else { throw mismatch(at: path, expected: "an array of strings") }
        var out: [String] = []
        for (i, item) in items.enumerated() { out.append(try item.text(at: KeyPathText.element(path, i))) }
        return out
    }

    /// An object of strings, in file order.
    func textPairs(at path: String) throws(TopologyProblem) -> [(key: String, value: String)] {
        let reader = try JSONObjectReader(self, at: path, allowedKeys: nil)
        var out: [(key: String, value: String)] = []
        for member in reader.members {
            out.append((member.key, try member.value.text(at: reader.path(member.key))))
        }
        return out
    }

    /// One of `choices`, with a did-you-mean for near misses ("round_robin").
    func choice(at path: String, _ choices: [String]) throws(TopologyProblem) -> String {
        let s = try text(at: path)
        guard choices.contains(s) else {
            let list = choices.map { "'\($0)'" }.joined(separator: ", ")
            throw TopologyProblem(path, "\(JSONValue.quoted(s)) is not one of \(list)\(Suggestion.hint(for: s, in: choices))")
        }
        return s
    }

    func mismatch(at path: String, expected: String) -> TopologyProblem {
        TopologyProblem(path, "expected \(expected), got \(kindDescription)")
    }
}

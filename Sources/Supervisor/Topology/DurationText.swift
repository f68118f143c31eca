import JSON

/// Durations as topology files write them: "500ms", "2s", "1.5s", "1m", "1h", or a bare number of seconds.
enum DurationText {
    static let units: [(suffix: String, milliseconds: Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]

    static func milliseconds(_ value: JSONValue, at path: String, allowZero: Bool) throws(TopologyProblem) -> Int {
        let example = "a duration such as \"500ms\", \"2s\" or \"1m\", or a number of seconds"
        let ms: Double
        switch value {
        case .number(let seconds, _):
            ms = seconds * 1000
        case .string(let text):
            guard let parsed = parse(text) else {
                throw TopologyProblem(path, "expected \(example), got \(value.kindDescription)")
            }
            ms = parsed
        default:
            throw value.mismatch(at: path, expected: example)
        }
        let shown = shownText(value)
        guard ms >= 0 else { throw TopologyProblem(path, "duration \(shown) is negative") }
        guard ms <= 86_400_000 else { throw TopologyProblem(path, "duration \(shown) is longer than a day") }
        let whole = Int(ms.rounded())
        if whole == 0 && !allowZero {
            throw TopologyProblem(path, "duration \(shown) must be at least 1ms")
        }
        return whole
    }

    /// Milliseconds for "<number><unit>", nil if the text is not of that form.
    static func parse(_ text: String) -> Double? {
        // Longest suffix first so "ms" is not read as "m" after a number ending in "s".
        for unit in units.sorted(by: { $0.suffix.count > $1.suffix.count }) where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                  let value = Double(number) else { return nil }
            return value * unit.milliseconds
        }
        return nil
    }

    /// A duration in milliseconds as a user would write it back ("10s", "1500ms").
    static func describe(milliseconds ms: Int) -> String {
        if ms >= 60_000, ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms >= 1000, ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }

    private static func shownText(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return JSONValue.quoted(s)
        case .number(_, let literal): return literal
        default: return value.kindDescription
        }
    }
}

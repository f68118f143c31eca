/// A small command-line reader for `--flag value`, `--flag=value`, repeated flags and switches.
/// Take what you expect, then call `finish()`: anything left over is a usage error naming it.
public struct Arguments {
    private var items: [String]
    public let program: String

    public init(_ arguments: [String], program: String) {
        self.program = program
        items = arguments
    }

    public var isEmpty: Bool { items.isEmpty }
    public var remaining: [String] { items }

    /// Whether an option is present (as `--name value` or `--name=value`), without taking it.
    public func has(_ name: String) -> Bool {
        items.contains { $0 == name || $0.hasPrefix(name + "=") }
    }

    /// True when `--help`/`-h` appears anywhere.
    public var wantsHelp: Bool { items.contains("--help") || items.contains("-h") }

    /// Removes a switch (`--quiet`); true when it was present.
    public mutating func flag(_ name: String) -> Bool {
        var found = false
        items.removeAll { item in
            if item == name { found = true; return true }
            return false
        }
        return found
    }

    /// Removes and returns every value of a repeatable option, in order.
    public mutating func values(_ name: String) throws(UsageError) -> [String] {
        var result: [String] = []
        var i = 0
        while i < items.count {
            let item = items[i]
            if item == name {
                guard i + 1 < items.count, !isOptionName(items[i + 1]) else {
                    throw UsageError("\(name) needs a value")
                }
                result.append(items[i + 1])
                items.removeSubrange(i...i + 1)
            } else if item.hasPrefix(name + "=") {
                result.append(String(item.dropFirst(name.count + 1)))
                items.remove(at: i)
            } else {
                i += 1
            }
        }
        return result
    }

    /// Removes and returns the value of an option given at most once.
    public mutating func value(_ name: String) throws(UsageError) -> String? {
        let all = try values(name)
        if all.count > 1 { throw UsageError("\(name) given more than once") }
        return all.first
    }

    public mutating func int(_ name: String, in range: ClosedRange<Int>) throws(UsageError) -> Int? {
        guard let text = try value(name) else { return nil }
        guard let n = Int(text), range.contains(n) else {
            throw UsageError("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return n
    }

    /// A duration: `250ms`, `5s`, `2m`, `1h`, or a bare number of seconds, up to 24 days (what a 32-bit
    /// millisecond count holds, as HAProxy's timeouts). Returned in milliseconds. `allowZero: false` for
    /// a time limit where 0 could only mean that everything fails at once.
    public mutating func duration(_ name: String, allowZero: Bool = true) throws(UsageError) -> Int? {
        guard let text = try value(name) else { return nil }
        guard let ms = Arguments.parseDuration(text) else {
            throw UsageError("\(name) must be a duration such as 500ms, 5s or 2m (at most 24 days), got '\(text)'")
        }
        if ms == 0 && !allowZero { throw UsageError("\(name) must be more than 0, got '\(text)'") }
        return ms
    }

    public static let maxDurationMilliseconds = Int(Int32.max)

    public static func parseDuration(_ text: String) -> Int? {
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        var number = Substring(text)
        var scale = 1000.0
        for (suffix, s) in units where text.hasSuffix(suffix) {
            number = text.dropLast(suffix.count)
            scale = s
            break
        }
        // Digits with an optional fraction: no sign, exponent, hex or "inf" that Double() would take.
        let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard !number.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }),
              let v = Double(number) else { return nil }
        let ms = v * scale
        guard ms <= Double(maxDurationMilliseconds) else { return nil }
        return Int(ms)
    }

    /// One of a fixed set of words.
    public mutating func choice(_ name: String, _ allowed: [String]) throws(UsageError) -> String? {
        guard let text = try value(name) else { return nil }
        guard allowed.contains(text) else {
            throw UsageError("\(name) must be one of \(allowed.joined(separator: ", ")), got '\(text)'")
        }
        return text
    }

    /// Removes and returns the next positional argument (not starting with `-`).
    public mutating func positional() -> String? {
        guard let i = items.firstIndex(where: { !isOptionName($0) }) else { return nil }
        return items.remove(at: i)
    }

    /// Fails on anything not taken.
    public func finish() throws(UsageError) {
        guard let first = items.first else { return }
        if isOptionName(first) { throw UsageError("unknown option '\(first)'") }
        throw UsageError("unexpected argument '\(first)'")
    }

    /// "-1" or "-1s" is a (bad) value, not an option: the range check then says what is wrong with it.
    private func isOptionName(_ s: String) -> Bool {
        guard s.hasPrefix("-"), let second = s.dropFirst().first else { return false }
        return !second.isNumber && second != "."
    }
}

/// A mistake in how a program was called: printed with a hint to `--help`, exit status 2.
public struct UsageError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A file named on the command line that is wrong (a topology with an unknown key): a usage error, exit
/// status 2, printed plainly since the message names the file, the key and the reason.
public struct InvalidInputError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A failure the user can act on (a port in use, a missing folder): printed plainly, exit status 1.
public struct RuntimeError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

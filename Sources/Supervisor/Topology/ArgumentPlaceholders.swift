/// The `{placeholders}` a service's "args" may hold, replaced per instance when it starts (see
/// Launcher.substitute). Anything else that looks like one is refused when the file is loaded: a typo
/// such as `{prot}` would otherwise reach the program literally and fail only at run time, over and over.
enum ArgumentPlaceholders {
    static let known = ["port", "instance", "name"]

    /// Checks every argument; the first unknown placeholder is a problem at `services.NAME.args[i]`.
    static func check(_ args: [String], at path: String) throws(TopologyProblem) {
        for (i, arg) in args.enumerated() {
            for word in placeholders(in: arg) where !known.contains(word) {
                let hint = Suggestion.closest(to: word, in: known).map { " (did you mean {\($0)}?)" } ?? ""
                throw TopologyProblem(KeyPathText.element(path, i),
                                      "unknown placeholder {\(word)}\(hint); args may use \(known.map { "{\($0)}" }.joined(separator: ", "))")
            }
        }
    }

    /// The words in `{word}`: a letter or '_' then letters, digits or '_'. Not `${word}` (a shell's own
    /// expansion in a `sh -c` script), nor braces holding anything else (`{}`, `{a,b}`, `{ cmd; }`, JSON).
    static func placeholders(in text: String) -> [String] {
        let bytes = Array(text.utf8)
        var found: [String] = []
        var i = 0
        while i < bytes.count {
            defer { i += 1 }
            guard bytes[i] == UInt8(ascii: "{"), i == 0 || bytes[i - 1] != UInt8(ascii: "$") else { continue }
            var j = i + 1
            while j < bytes.count && isWordByte(bytes[j], first: j == i + 1) { j += 1 }
            if j > i + 1 && j < bytes.count && bytes[j] == UInt8(ascii: "}") {
                found.append(String(decoding: bytes[(i + 1)..<j], as: UTF8.self))
            }
        }
        return found
    }

    private static func isWordByte(_ c: UInt8, first: Bool) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || c == UInt8(ascii: "_") || (!first && c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }
}

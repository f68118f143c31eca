/// The `{placeholders}` a service's "args" may hold, replaced per instance when it starts. Anything
/// else that looks like one is refused when the file is loaded: a typo such as `{prot}` would otherwise
/// reach the program literally and fail only at run time, over and over. `{{word}}` is the escape: it
/// reaches the program as a literal `{word}` (a Python format string, a template).
enum ArgumentPlaceholders {
    static let known = ["port", "instance", "name"]

    /// Checks every argument; the first unknown placeholder is a problem at `services.NAME.args[i]`.
    static func check(_ args: [String], at path: String) throws(TopologyProblem) {
        for (i, arg) in args.enumerated() {
            for word in placeholders(in: arg) where !known.contains(word) {
                let hint = Suggestion.closest(to: word, in: known).map { " (did you mean {\($0)}?)" } ?? ""
                throw TopologyProblem(KeyPathText.element(path, i),
                                      "unknown placeholder {\(word)}\(hint); args may use \(known.map { "{\($0)}" }.joined(separator: ", "))"
                                          + ", or {{\(word)}} for a literal {\(word)}")
            }
        }
    }

    /// The words of the placeholders in `text`.
    static func placeholders(in text: String) -> [String] {
        var found: [String] = []
        scan(text, literal: { _ in }, placeholder: { found.append($0) })
        return found
    }

    /// `text` with each placeholder replaced by its value (known ones only reach here) and each
    /// `{{word}}` by `{word}`.
    static func fill(_ text: String, _ values: [String: String]) -> String {
        var out: [UInt8] = []
        scan(text, literal: { out += $0 }, placeholder: { out += Array((values[$0] ?? "").utf8) })
        return String(decoding: out, as: UTF8.self)
    }

    /// Splits `text` into literal bytes and placeholders. A placeholder is `{word}`: a letter or '_' then
    /// letters, digits or '_'. Not `${word}` (a shell's own expansion in a `sh -c` script), nor braces
    /// holding anything else (`{}`, `{a,b}`, `{ cmd; }`, JSON); `{{word}}` is the literal `{word}`.
    private static func scan(_ text: String, literal: (ArraySlice<UInt8>) -> Void, placeholder: (String) -> Void) {
        let bytes = Array(text.utf8)
        var plainFrom = 0
        var i = 0
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "{"), i == 0 || bytes[i - 1] != UInt8(ascii: "$") else { i += 1; continue }
            if let end = wordEnd(bytes, from: i + 1) {
                literal(bytes[plainFrom..<i])
                placeholder(String(decoding: bytes[(i + 1)..<end], as: UTF8.self))
                i = end + 1
                plainFrom = i
            } else if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "{"), let end = wordEnd(bytes, from: i + 2),
                      end + 1 < bytes.count, bytes[end + 1] == UInt8(ascii: "}") {
                literal(bytes[plainFrom..<i])
                literal(bytes[(i + 1)...end])   // `{word}`, one brace each side dropped
                i = end + 2
                plainFrom = i
            } else {
                i += 1
            }
        }
        literal(bytes[plainFrom...])
    }

    /// Where the `}` closing a word that starts at `start` is, if a word and that brace are there.
    private static func wordEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var j = start
        while j < bytes.count && isWordByte(bytes[j], first: j == start) { j += 1 }
        return j > start && j < bytes.count && bytes[j] == UInt8(ascii: "}") ? j : nil
    }

    private static func isWordByte(_ c: UInt8, first: Bool) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || c == UInt8(ascii: "_") || (!first && c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }
}

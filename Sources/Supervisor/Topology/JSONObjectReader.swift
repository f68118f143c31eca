import JSON

/// Reads the members of one JSON object at a key path. Construction refuses the object outright if it
/// has a key the schema does not know (with a did-you-mean) or a key written twice, so the getters only
/// ever see keys that mean something.
struct JSONObjectReader {
    /// Key path of the object itself ("services.backend").
    let path: String
    let members: [JSONMember]

    /// `allowedKeys` nil accepts any key (maps such as "env" and "routes").
    init(_ value: JSONValue, at path: String, allowedKeys: [String]?) throws(TopologyProblem) {
        guard case .object(let members) = value else { throw value.mismatch(at: path, expected: "an object") }
        var seen = Set<String>()
        for member in members {
            let memberPath = KeyPathText.member(path, member.key)
            if !seen.insert(member.key).inserted {
                throw TopologyProblem(memberPath, "key '\(member.key)' appears twice; keep one")
            }
            if let allowedKeys, !allowedKeys.contains(member.key) {
                let hint = Suggestion.hint(for: member.key, in: allowedKeys)
                let list = hint.isEmpty ? "; known keys: " + allowedKeys.joined(separator: ", ") : ""
                throw TopologyProblem(memberPath, "unknown key '\(member.key)'\(hint)\(list)")
            }
        }
        self.path = path
        self.members = members
    }

    var keys: [String] { members.map(\.key) }

    func path(_ key: String) -> String { KeyPathText.member(path, key) }

    subscript(_ key: String) -> JSONValue? { members.first { $0.key == key }?.value }

    func has(_ key: String) -> Bool { self[key] != nil }

    func required(_ key: String, _ what: String) throws(TopologyProblem) -> JSONValue {
        guard let value = self[key] else { throw TopologyProblem(path(key), "missing required key '\(key)' (\(what))") }
        return value
    }

    func string(_ key: String) throws(TopologyProblem) -> String? {
        try self[key].map { v throws(TopologyProblem) in try v.text(at: path(key)) }
    }

    func int(_ key: String, in range: ClosedRange<Int>? = nil) throws(TopologyProblem) -> Int? {
        try self[key].map { v throws(TopologyProblem) in try v.wholeNumber(at: path(key), in: range) }
    }

    func bool(_ key: String) throws(TopologyProblem) -> Bool? {
        try self[key].map { v throws(TopologyProblem) in try v.flag(at: path(key)) }
    }

    func strings(_ key: String) throws(TopologyProblem) -> [String]? {
        try self[key].map { v throws(TopologyProblem) in try v.texts(at: path(key)) }
    }

    func choice(_ key: String, _ choices: [String]) throws(TopologyProblem) -> String? {
        try self[key].map { v throws(TopologyProblem) in try v.choice(at: path(key), choices) }
    }

    /// A duration in milliseconds ("500ms", "2s", "1m", or a number of seconds).
    func duration(_ key: String, allowZero: Bool = false) throws(TopologyProblem) -> Int? {
        try self[key].map { v throws(TopologyProblem) in try DurationText.milliseconds(v, at: path(key), allowZero: allowZero) }
    }

    func object(_ key: String, allowedKeys: [String]?) throws(TopologyProblem) -> JSONObjectReader? {
        try self[key].map { v throws(TopologyProblem) in try JSONObjectReader(v, at: path(key), allowedKeys: allowedKeys) }
    }
}

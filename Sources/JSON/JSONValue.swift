/// A JSON document that keeps object members in file order. Foundation's JSONSerialization returns
/// dictionaries, which lose the order of services and routes, and NSNumber, which blurs 1, 1.0 and true.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The value and the literal as written, so messages can quote the user's text.
    case number(Double, literal: String)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// What this value is, for "expected X, got Y" messages: `the string "9001"`, `the number 1.5`.
    public var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return "\(b)"
        case .number(_, let literal): return "the number \(literal)"
        case .string(let s): return "the string \(JSONValue.quoted(s))"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// A string as JSON writes it, shortened so one bad value cannot flood a message.
    public static func quoted(_ text: String) -> String {
        JSONValue.string(text.count > 60 ? String(text.prefix(57)) + "..." : text).text
    }
}

/// One `"key": value` pair of an object, in the order the file wrote it.
public struct JSONMember: Sendable, Equatable {
    public var key: String
    public var value: JSONValue

    public init(key: String, value: JSONValue) {
        self.key = key
        self.value = value
    }
}

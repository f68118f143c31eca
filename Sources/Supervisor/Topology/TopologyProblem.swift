import JSON

/// A problem found while decoding, before the file name is attached: the decoders work on JSON values
/// and key paths only, and `TopologyLoader` turns this into a `TopologyError` naming the file.
struct TopologyProblem: Error, Equatable {
    var keyPath: String
    var reason: String

    init(_ keyPath: String, _ reason: String) {
        self.keyPath = keyPath
        self.reason = reason
    }

    func inFile(_ file: String) -> TopologyError {
        TopologyError(file: file, keyPath: keyPath, reason: reason)
    }
}

/// Key paths as messages print them: `services.backend.port`, `services.proxy.routes["/images/"]`,
/// `services.web.args[2]`.
enum KeyPathText {
    static func member(_ parent: String, _ key: String) -> String {
        let plain = !key.isEmpty && key.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
        let step = plain ? key : "[\(JSONValue.quoted(key))]"
        if parent.isEmpty { return step }
        return plain ? "\(parent).\(step)" : parent + step
    }

    static func element(_ parent: String, _ index: Int) -> String { "\(parent)[\(index)]" }
}

import JSON
import Glibc

/// Reads a topology file and checks everything that can be checked before starting anything: syntax,
/// keys, types, ranges, paths, programs, references between services, ports claimed twice. The first
/// problem refuses the whole file, with the file, the key path and the reason.
enum TopologyLoader {
    static let keys = ["name", "host", "services"]
    /// Far beyond any real topology; stops a wrong path (a log, a binary) from being read whole.
    static let maxFileSize = 1 << 20

    static func load(path: String) throws(TopologyError) -> Topology {
        let bytes: [UInt8]
        do { bytes = try RawFiles.read(path, limit: maxFileSize) } catch {
            throw TopologyProblem("", "cannot read the topology file: \(error.reason)").inFile(path)
        }
        return try load(data: bytes, path: path)
    }

    /// Loads `data` as if it were the file at `path`: relative paths inside resolve against its folder.
    static func load(data: [UInt8], path: String) throws(TopologyError) -> Topology {
        do { return try decode(data, path: path) } catch { throw error.inFile(path) }
    }

    private static func decode(_ data: [UInt8], path: String) throws(TopologyProblem) -> Topology {
        guard String(validating: data, as: UTF8.self) != nil else {
            throw TopologyProblem("", "the file is not UTF-8 text; save it as UTF-8 JSON")
        }
        let document: JSONValue
        do { document = try OrderedJSONParser.parse(data, whenEmpty: "the file is empty; expected an object such as {\"services\": {...}}") } catch { throw TopologyProblem("", error.description) }

        let file = FilePaths.absolute(path, relativeTo: FilePaths.currentDirectory())
        let folder = FilePaths.folder(of: file)
        let top = try JSONObjectReader(document, at: "", allowedKeys: keys)
        let name = try top.string("name") ?? FilePaths.stem(of: file)
        guard !name.isEmpty else { throw TopologyProblem("name", "name is empty; leave it out to use the file's name") }
        // It names the run folder under ./.run, so it must stay one plain folder name.
        guard isTopologyName(name) else {
            throw TopologyProblem("name", "\(JSONValue.quoted(name)) may only use letters, digits, '.', '_' and '-', and not start with '.'")
        }
        let host = try top.string("host") ?? "127.0.0.1"
        guard isIPAddress(host) else {
            throw TopologyProblem("host", "expected an IP address to bind, such as 127.0.0.1, 0.0.0.0 or ::1, got \(JSONValue.quoted(host))")
        }

        let servicesValue = try top.required("services", "an object of services by name")
        let servicesObject = try JSONObjectReader(servicesValue, at: "services", allowedKeys: nil)
        guard !servicesObject.members.isEmpty else {
            throw TopologyProblem("services", "no services; add at least one, such as \"web\": {\"program\": \"backend\", ...}")
        }
        var decoded: [DecodedService] = []
        for member in servicesObject.members {
            let servicePath = servicesObject.path(member.key)
            guard isServiceName(member.key) else {
                throw TopologyProblem(servicePath, "service name \(JSONValue.quoted(member.key)) may only use a-z, 0-9, '_' and '-'")
            }
            decoded.append(try ServiceDecoder.decode(name: member.key, member.value, at: servicePath, folder: folder))
        }
        try ServiceReferences.resolve(&decoded)
        try ServiceReferences.checkPortsDistinct(decoded)
        let ordered = try DependencyOrder.sort(decoded)
        return Topology(name: name, file: file, host: host, services: ordered.map(\.service))
    }

    /// Letters, digits, '.', '_' and '-', not starting with '.': one plain folder name, never "..".
    static func isTopologyName(_ name: String) -> Bool {
        name.first != "." && name.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || c == UInt8(ascii: ".") || isServiceName(String(UnicodeScalar(c)))
        }
    }

    static func isServiceName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
    }

    /// A literal the supervisor can bind without a name lookup.
    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}

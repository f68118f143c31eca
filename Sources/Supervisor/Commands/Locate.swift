import CLI
import Foundation

/// Finds the run folder a command is about: the topology file's, when one is named (a positional ending
/// in .json), or the only running one under the current folder.
///
/// Commands take the file out with `topologyFile` and check all their arguments (`finish()`) before
/// calling `runFolder`, so a typo in an option is reported as one (exit 2) whether or not anything runs.
enum Locate {
    /// Removes and returns the topology file among the arguments (a positional ending in .json), if any.
    static func topologyFile(_ args: inout Arguments) -> String? {
        guard let i = args.remaining.firstIndex(where: { $0.hasSuffix(".json") && !$0.hasPrefix("-") }) else { return nil }
        var rest = args.remaining
        let file = rest.remove(at: i)
        args = Arguments(rest, program: args.program)
        return file
    }

    /// A topology file named on the command line; a file that is wrong is the caller's mistake (exit 2).
    static func load(_ file: String) throws -> Topology {
        do { return try TopologyLoader.load(path: file) } catch { throw InvalidInputError("\(error)") }
    }

    /// The live run folder of `file`, or the only live one here.
    static func runFolder(file: String?) throws -> RunFolder {
        let cwd = FileManager.default.currentDirectoryPath
        if let file {
            let topology = try load(file)
            let folder = RunFolder(base: cwd, topology: topology.name)
            guard folder.isLive() else {
                throw RuntimeError("\(topology.name) is not running here (no supervisor answers on \(folder.controlSocket)); start it with: supervisor up \(file)")
            }
            return folder
        }
        let live = RunFolder.live(in: cwd)
        if live.count == 1 { return live[0] }
        if live.isEmpty {
            throw RuntimeError("no topology is running under \(cwd) (no live .run/*/control.sock); start one with: supervisor up topologies/lb5.json")
        }
        throw RuntimeError("several topologies are running here (\(live.map(\.name).joined(separator: ", "))); name one, e.g. supervisor status topologies/\(live[0].name).json")
    }

    /// A reply that says ok, or the error it carries: a usage error when the request was the mistake.
    static func check(_ reply: [String: Any]) throws -> [String: Any] {
        if reply["ok"] as? Bool == true { return reply }
        let message = reply["error"] as? String ?? "the supervisor refused"
        if reply["usage"] as? Bool == true { throw UsageError(message) }
        throw RuntimeError(message)
    }
}

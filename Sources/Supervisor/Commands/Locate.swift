import CLI
import Foundation

/// Finds the run folder a command is about: the topology file's, when one is named (a positional ending
/// in .json), or the only running one under the current folder.
enum Locate {
    static func runFolder(_ args: inout Arguments) throws -> RunFolder {
        let cwd = FileManager.default.currentDirectoryPath
        if let i = args.remaining.firstIndex(where: { $0.hasSuffix(".json") && !$0.hasPrefix("-") }) {
            let file = args.remaining[i]
            var rest = args.remaining
            rest.remove(at: i)
            args = Arguments(rest, program: args.program)
            let topology: Topology
            do { topology = try TopologyLoader.load(path: file) } catch {
                throw RuntimeError("\(error)")
            }
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

    /// A reply that says ok, or the error it carries as a runtime error.
    static func check(_ reply: [String: Any]) throws -> [String: Any] {
        if reply["ok"] as? Bool == true { return reply }
        throw RuntimeError(reply["error"] as? String ?? "the supervisor refused")
    }
}

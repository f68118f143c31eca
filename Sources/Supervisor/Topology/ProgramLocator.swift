import Glibc

/// Turns a service's "program" into a built-in program or the absolute path of a command, checking
/// that the command exists and can be executed, so a typo fails at load time rather than at spawn time.
enum ProgramLocator {
    static let builtIns: [String: Service.Program] = ["backend": .backend, "balancer": .balancer, "proxy": .proxy]
    static let builtInNames = ["backend", "balancer", "proxy"]

    /// `folder` is the topology file's folder: relative commands and bare names are looked for there.
    static func resolve(_ program: String, at path: String, folder: String,
                        searchPath: String? = environmentPath()) throws(TopologyProblem) -> Service.Program {
        if let builtIn = builtIns[program] { return builtIn }
        guard !program.isEmpty else {
            throw TopologyProblem(path, "program is empty; expected one of \(builtInNames.joined(separator: ", ")) or a command")
        }
        if program.contains("/") {
            let resolved = FilePaths.absolute(program, relativeTo: folder)
            try checkExecutable(resolved, named: program, at: path)
            return .command(resolved)
        }
        // A bare name: PATH first (as a shell would), then next to the topology file.
        let directories = (searchPath ?? "").split(separator: ":").map { dir in
            FilePaths.absolute(String(dir), relativeTo: FilePaths.currentDirectory())
        } + [folder]
        for directory in directories {
            let candidate = directory + "/" + program
            if FilePaths.isExecutableFile(candidate) { return .command(candidate) }
        }
        throw TopologyProblem(path, "program '\(program)' not found: not one of \(builtInNames.joined(separator: ", ")), "
            + "and no such file on PATH or next to the topology\(Suggestion.hint(for: program, in: builtInNames))")
    }

    static func environmentPath() -> String? {
        getenv("PATH").map { String(cString: $0) }
    }

    private static func checkExecutable(_ resolved: String, named program: String, at path: String) throws(TopologyProblem) {
        let shown = resolved == program ? "'\(program)'" : "'\(program)' (resolves to \(resolved))"
        if !FilePaths.exists(resolved) { throw TopologyProblem(path, "program \(shown) not found") }
        if FilePaths.isDirectory(resolved) { throw TopologyProblem(path, "program \(shown) is a folder, not a file") }
        if !FilePaths.isExecutableFile(resolved) {
            throw TopologyProblem(path, "program \(shown) is not executable (chmod +x it)")
        }
    }
}

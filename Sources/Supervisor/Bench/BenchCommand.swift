import CLI
import Foundation
import Glibc
import NetCore

/// `supervisor bench FILE …`: the seeds' experiments as one command (see BenchOptions and BenchRunner).
enum BenchCommand {
    static func run(_ args: inout Arguments) throws -> Int32 {
        let options = try BenchOptions.parse(&args)
        let topology: Topology
        do { topology = try TopologyLoader.load(path: options.file) } catch { throw RuntimeError("\(error)") }
        var before: BenchRun?
        if let compare = options.compare {
            do {
                before = try JSONDecoder().decode(BenchRun.self, from: Data(contentsOf: URL(fileURLWithPath: compare)))
            } catch {
                throw UsageError("--compare \(compare): not the results.json of a bench run (\(error.localizedDescription))")
            }
        }
        let cwd = FileManager.default.currentDirectoryPath
        let folder = RunFolder(base: cwd, topology: topology.name)
        // Everything the file can tell is checked before anything starts.
        let runner = try BenchRunner(options: options, topology: topology, folder: folder)
        var startedHere = false
        if !folder.isLive() {
            FileHandle.standardError.write(Data("bench: starting \(topology.name) (supervisor up \(options.file) --detach)\n".utf8))
            do {
                try startDetached(options.file)
            } catch {
                // A start that failed half-way (a service never healthy) leaves the rest running: the
                // run that started it takes it down again.
                if folder.isLive() {
                    stopTopology(folder)
                    FileHandle.standardError.write(Data("bench: stopped what had started of \(topology.name)\n".utf8))
                }
                throw error
            }
            startedHere = true
        }
        let control = ControlClient(folder: folder)
        let status = try Locate.check(control.send(["command": "status"]))
        let originalCount = (status["instances"] as? [[String: Any]] ?? []).filter { $0["service"] as? String == runner.backendService.name }.count
        defer {
            if startedHere {
                stopTopology(folder)
            } else {
                runner.restore(count: originalCount)
            }
        }

        let rows = try runner.run()
        let run = BenchRun(topology: topology.name, command: (["supervisor"] + CommandLine.arguments.dropFirst()).joined(separator: " "),
                           machine: machineDescription(), date: ISO8601DateFormatter().string(from: Date()), path: options.path,
                           requestsPerRun: options.requests, durationMs: options.durationMs, rows: rows)
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let out = options.out ?? "\(folder.path)/bench-\(stamp)"
        let files = try BenchReport.write(run, to: out)
        print("\nwrote \(files.count) files to \(out):")
        for f in files { print("  \(f)") }
        if let before { print("\n" + BenchReport.compare(run, with: before)) }
        return 0
    }

    /// `supervisor down` for a topology this run started, waiting (up to a minute) until it has gone.
    private static func stopTopology(_ folder: RunFolder) {
        _ = try? ControlClient(folder: folder).send(["command": "down"])
        let deadline = Date().addingTimeInterval(60)
        while FileManager.default.fileExists(atPath: folder.controlSocket) && Date() < deadline { usleep(50_000) }
    }

    /// Starts the topology in the background and waits until it is healthy.
    private static func startDetached(_ file: String) throws {
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devNull) }
        let (rd, wr) = try Posix.pipe(nonBlocking: false)
        let pid = try Spawn.start(Spawn.Request(path: Spawn.currentExecutable(), arguments: ["up", file, "--detach"],
                                                environment: Spawn.currentEnvironment(),
                                                workingDirectory: FileManager.default.currentDirectoryPath,
                                                descriptors: [(devNull, 0), (wr, 1), (wr, 2)]))
        Posix.close(wr)
        let output = Posix.readAll(rd)
        Posix.close(rd)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        guard Spawn.Exit(status: status) == .code(0) else {
            throw RuntimeError("could not start the topology:\n\(String(decoding: output, as: UTF8.self))")
        }
    }

    static func machineDescription() -> String {
        var u = utsname()
        uname(&u)
        let kernel = withUnsafeBytes(of: u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last?
            .trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        let mem = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8))?.split(separator: "\n").first
            .map { String($0.split(separator: " ").dropFirst().first ?? "?") } ?? "?"
        return "\(CPU.count) cores (\(model)), \((Int(mem) ?? 0) / 1024 / 1024) GiB, Linux \(kernel)"
    }
}

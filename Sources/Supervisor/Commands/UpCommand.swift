import CLI
import Foundation
import Glibc
import NetCore

/// `supervisor up FILE [--detach]`: checks the file, holds every port, starts the services in dependency
/// order and prints the merged log until Ctrl-C or SIGTERM, then stops everything in reverse order.
enum UpCommand {
    static func run(_ args: inout Arguments) throws -> Int32 {
        let detach = args.flag("--detach") || args.flag("-d")
        let daemon = args.flag("--daemon")   // internal: the background half of --detach
        let noColor = args.flag("--no-color")
        guard let file = args.positional() else { throw UsageError("up needs a topology file, e.g. supervisor up topologies/lb5.json") }
        try args.finish()

        let topology: Topology
        do {
            topology = try TopologyLoader.load(path: file)
        } catch {
            throw InvalidInputError("\(error)\nnothing was started")
        }
        let cwd = FileManager.default.currentDirectoryPath
        let folder = RunFolder(base: cwd, topology: topology.name)
        if !daemon && folder.isLive() { return try alreadyRunning(topology, folder: folder) }
        do {
            try TopologyLoader.checkPortsFree(topology)
        } catch {
            throw RuntimeError("\(error)\nnothing was started")
        }
        try folder.create()
        if detach && !daemon { return try startInBackground(file: topology.file, folder: folder) }
        return try runInForeground(topology, folder: folder, daemon: daemon, color: !noColor && !daemon && LogMerger.shouldColor(fd: 1, environment: ProcessInfo.processInfo.environment))
    }

    /// `up` on a topology that runs here already, as docker compose does it: an unchanged file leaves
    /// everything be (exit 0); an edited one is applied to the running topology (TopologyApply), and
    /// each service changed is listed. Instances given up on are started again either way.
    private static func alreadyRunning(_ topology: Topology, folder: RunFolder) throws -> Int32 {
        let control = ControlClient(folder: folder)
        let status = try control.send(["command": "status"], timeoutMs: 5000)
        let pid = status["pid"] as? Int ?? 0
        let runningFile = status["file"] as? String ?? topology.file
        let fromFile = runningFile == topology.file ? "" : ", started from \(runningFile)"
        guard let running = status["definitions"] as? TopologyFingerprint.Services else {
            throw RuntimeError("\(topology.name) is already running here (pid \(pid)\(fromFile)); stop it with `supervisor down` first")
        }
        let changed = TopologyFingerprint.differences(running: running, file: TopologyFingerprint.of(topology))
        let failed = (status["instances"] as? [[String: Any]] ?? []).filter { $0["state"] as? String == "failed" }.compactMap { $0["name"] as? String }
        if changed.isEmpty && failed.isEmpty {
            print("\(topology.name) is already running here (pid \(pid)\(fromFile)) as \(topology.file) describes it: "
                  + "`supervisor status` shows it, `supervisor logs -f` follows its log, `supervisor down` stops it")
            return 0
        }
        let todo = (changed.isEmpty ? [] : ["applying \(topology.file): \(changed.joined(separator: "; "))"])
            + (failed.isEmpty ? [] : ["restarting what had failed: \(failed.joined(separator: ", "))"])
        print("\(topology.name) is running here (pid \(pid)\(fromFile)); \(todo.joined(separator: "; "))")
        // Here rather than in the supervisor, whose loop must not wait: a port the file adds that is the
        // local end of a closing outgoing connection is waited for (saying so), a taken one refused.
        do {
            try TopologyLoader.checkPortsFree(topology, except: Set(status["held_ports"] as? [Int] ?? []))
        } catch {
            throw RuntimeError("\(error)\nnothing was changed")
        }
        // Long enough for every service of a big file to be recreated and pass its checks.
        let reply = try Locate.check(control.send(["command": "apply", "file": topology.file], timeoutMs: 30 * 60_000))
        if let message = reply["message"] as? String, !message.isEmpty { print(message) }
        RunTopology.record(topology, in: folder)
        print("\(topology.name) now runs as \(topology.file) describes it")
        return 0
    }

    private static func runInForeground(_ topology: Topology, folder: RunFolder, daemon: Bool, color: Bool) throws -> Int32 {
        Signals.ignoreSIGPIPE()
        let signals: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGCHLD]
        Signals.block(signals)   // before any thread starts, so only the signalfd sees them

        let loop = try EventLoop(name: "supervisor")
        let terminal = daemon ? open("/dev/null", O_WRONLY | O_CLOEXEC) : 1
        let logs = LogMerger(loop: loop, terminalFD: terminal, color: color, filePath: folder.logFile)
        let programs = URL(fileURLWithPath: Spawn.currentExecutable()).deletingLastPathComponent().path
        for s in topology.services {
            let name: String
            switch s.program {
            case .backend: name = "backend"
            case .balancer: name = "balancer"
            case .proxy: name = "proxy"
            case .command: continue
            }
            guard access("\(programs)/\(name)", X_OK) == 0 else {
                throw RuntimeError("services.\(s.name) needs \(name), but it is not built next to the supervisor (\(programs)/\(name)); "
                                   + "`swift build` builds all four programs\nnothing was started")
            }
        }
        let launcher = Launcher(topology: topology, runFolder: folder.path, programsFolder: programs)
        let runner = TopologyRunner(loop: loop, topology: topology, launcher: launcher, logs: logs)
        runner.groupGuard = GroupGuard.start()
        let control: ControlServer
        do {
            control = try ControlServer(path: folder.controlSocket, loop: loop, runner: runner)
        } catch {
            throw RuntimeError("cannot open the control socket \(folder.controlSocket): \(error)")
        }
        try? "\(getpid())\n".write(toFile: "\(folder.path)/supervisor.pid", atomically: true, encoding: .utf8)
        RunTopology.record(topology, in: folder)

        var exitCode: Int32 = 0
        let finish = {
            control.close()
            unlink("\(folder.path)/supervisor.pid")
            logs.event("all stopped")
            logs.flushAll()
            loop.stop()
        }
        control.onDown = { runner.down(finish) }
        let watcher = try SignalWatcher(signals: signals) { sig in
            if sig == SIGCHLD {
                while let (pid, exit) = Spawn.reapAny() { runner.childExited(pid: pid, exit: exit) }
                return
            }
            if runner.stopping {
                // A second Ctrl-C: do not wait for graceful stops any more.
                logs.event("received \(Spawn.signalName(sig)) again: killing everything now")
                for i in runner.allInstances where i.isRunning { kill(-i.pid, SIGKILL); kill(i.pid, SIGKILL) }
                return
            }
            logs.event("received \(Spawn.signalName(sig)): stopping everything (again to force)")
            runner.down(finish)
        }
        try loop.register(watcher, events: Events.readable)
        do {
            try runner.up()
        } catch {
            logs.event("\(error)")
            exitCode = 1
            runner.down(finish)
        }
        // What `up` logged before the loop runs ("starting", "x is healthy" for a service without a check)
        // is written at the end of a loop batch; wake the loop for one, or it waits for the next event,
        // which for a topology whose children print nothing may be minutes away.
        loop.execute {}
        loop.run()
        return exitCode
    }

    /// `--detach`: starts the same command in the background (its own process group, its output in the
    /// run folder) and returns once everything is healthy, or says what failed.
    private static func startInBackground(file: String, folder: RunFolder) throws -> Int32 {
        let out = open(folder.daemonOutput, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(out); close(devNull) }
        var request = Spawn.Request(path: Spawn.currentExecutable(), arguments: ["up", file, "--daemon"],
                                    environment: Spawn.currentEnvironment(),
                                    workingDirectory: FileManager.default.currentDirectoryPath,
                                    descriptors: [(devNull, 0), (out, 1), (out, 2)])
        request.newSession = true
        request.deathSignal = 0   // it must outlive this command
        let pid: pid_t
        do { pid = try Spawn.start(request) } catch { throw RuntimeError("cannot start the supervisor in the background: \(error)") }

        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: folder.controlSocket) {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid || Date() > deadline {
                let output = (try? String(contentsOfFile: folder.daemonOutput, encoding: .utf8)) ?? ""
                throw RuntimeError("the background supervisor did not start:\n\(output)")
            }
            usleep(20_000)
        }
        let reply = try ControlClient(folder: folder).send(["command": "wait", "timeout_ms": 120_000], timeoutMs: 130_000)
        print(StatusCommand.table(reply["instances"] as? [[String: Any]] ?? []))
        if reply["ok"] as? Bool != true {
            Program.printError("supervisor: \(reply["error"] as? String ?? "not everything is healthy") (it keeps running; see `supervisor logs`)")
            return 1
        }
        print("\(folder.name) is up (supervisor pid \(pid)); `supervisor logs -f` follows the merged log, `supervisor down` stops it")
        return 0
    }
}

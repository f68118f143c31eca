import Glibc
import NetCore

/// The `prefork` model: a master process that owns the listening socket and starts N copies of this
/// program as workers, each a single event loop accepting on that same socket (nginx's master/worker
/// shape). A worker that dies is replaced; SIGTERM is passed to all and the master waits for them.
enum PreforkServer {
    static func run(sockets: ListeningSockets, workers: Int, settings: ServerSettings) throws -> Int32 {
        let socket = sockets.perWorker[0]
        let exe = Spawn.currentExecutable()
        var arguments = workerArguments(Array(CommandLine.arguments.dropFirst()))
        arguments += ["--model", "event", "--workers", "1", "--prefork-worker"]
        let environment = Spawn.currentEnvironment().filter { !$0.hasPrefix("LISTEN_") } + ["LISTEN_FDS=1", "LISTEN_PID="]

        func startWorker() throws -> pid_t {
            var request = Spawn.Request(path: exe, arguments: arguments, environment: environment,
                                        descriptors: [(0, 0), (1, 1), (2, 2), (socket, 3)])
            request.newProcessGroup = false
            request.deathSignal = SIGTERM
            return try Spawn.start(request)
        }

        var children: [pid_t: UInt64] = [:]
        for _ in 0..<workers { children[try startWorker()] = Clock.monotonicNanos() }

        var set = sigset_t()
        sigemptyset(&set)
        for s in WorkerGroup.terminationSignals + [SIGCHLD] { sigaddset(&set, s) }
        var stopping = false
        var stopDeadline: UInt64 = 0
        while true {
            var info = siginfo_t()
            var timeout = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            let sig = sigtimedwait(&set, &info, &timeout)
            if sig > 0 && sig != SIGCHLD && !stopping {
                stopping = true
                sockets.stopListening()   // the workers' copies are handed down; the master's says stop
                stopDeadline = Clock.monotonicNanos() + settings.shutdownTimeout.nanos + Clock.nanosPerSecond
                for pid in children.keys { kill(pid, SIGTERM) }
            }
            while let (pid, exit) = Spawn.reapAny() {
                guard let startedAt = children.removeValue(forKey: pid) else { continue }
                if stopping { continue }
                Console.log("backend: prefork worker \(pid) \(exit); starting a replacement")
                // A worker that dies at once would spin; give it a moment before the next try.
                if Clock.monotonicNanos() - startedAt < Clock.nanosPerSecond { usleep(500_000) }
                if let replacement = try? startWorker() { children[replacement] = Clock.monotonicNanos() }
            }
            if stopping {
                if children.isEmpty { return 0 }
                if Clock.monotonicNanos() > stopDeadline {
                    for pid in children.keys { kill(pid, SIGKILL) }
                    stopDeadline = .max
                }
            }
        }
    }

    /// The master's own arguments minus the ones it sets itself for workers.
    private static func workerArguments(_ args: [String]) -> [String] {
        var result: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--model" || a == "--workers" { i += 2; continue }
            if a.hasPrefix("--model=") || a.hasPrefix("--workers=") || a == "--reuseport" { i += 1; continue }
            result.append(a)
            i += 1
        }
        return result
    }
}

enum Console {
    static func log(_ line: String) {
        print(line)
        fflush(nil)
    }
}

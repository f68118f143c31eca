import CLinux
import Glibc

/// Starting child processes with fork/exec done in C: each child gets exactly the descriptors it is given
/// (everything else is closed), default signal handling and an empty mask, optionally its own process group
/// and a death signal so it does not outlive us. Exec failures come back as errors, not as exit 127.
public enum Spawn {
    public struct Request {
        public var path: String
        public var arguments: [String]
        public var environment: [String]
        public var workingDirectory: String?
        /// (descriptor here, descriptor in the child); 0, 1 and 2 should always be mapped.
        public var descriptors: [(Int32, Int32)]
        public var newProcessGroup = true
        /// A session of its own (setsid), for a daemon: no controlling terminal, no signals from one.
        public var newSession = false
        public var deathSignal: Int32 = SIGKILL

        public init(path: String, arguments: [String], environment: [String], workingDirectory: String? = nil,
                    descriptors: [(Int32, Int32)]) {
            self.path = path
            self.arguments = arguments
            self.environment = environment
            self.workingDirectory = workingDirectory
            self.descriptors = descriptors
        }
    }

    /// Starts the child; returns its pid. The thread that calls this must outlive the child when a death
    /// signal is set (Linux sends it when the spawning *thread* exits).
    public static func start(_ request: Request) throws(SystemError) -> pid_t {
        let argv = CStringArray([request.path.split(separator: "/").last.map(String.init) ?? request.path] + request.arguments.dropFirst(0))
        // LISTEN_PID needs room for the child's pid, written in the child after fork.
        let env = CStringArray(request.environment.map { $0.hasPrefix("LISTEN_PID=") ? "LISTEN_PID=" + String(repeating: " ", count: 20) : $0 })
        var map: [Int32] = []
        for (from, to) in request.descriptors { map.append(from); map.append(to) }
        var execErrno: Int32 = 0
        let pid: pid_t = request.path.withCString { path in
            (request.workingDirectory ?? "").withCString { cwd in
                map.withUnsafeBufferPointer { fdMap in
                    var req = cl_spawn_request(
                        path: path, argv: argv.pointer, envp: env.pointer,
                        cwd: request.workingDirectory == nil ? nil : cwd,
                        fd_map: fdMap.baseAddress, fd_map_count: Int32(request.descriptors.count),
                        new_process_group: request.newSession ? 2 : (request.newProcessGroup ? 1 : 0), death_signal: request.deathSignal)
                    return cl_spawn(&req, &execErrno)
                }
            }
        }
        if pid < 0 { throw SystemError(execErrno != 0 ? "exec \(request.path)" : "fork", errno: execErrno != 0 ? execErrno : errno) }
        return pid
    }

    /// How a child ended.
    public enum Exit: Equatable, Sendable, CustomStringConvertible {
        case code(Int32)
        case signal(Int32)

        public init(status: Int32) {
            if cl_wifsignaled(status) != 0 { self = .signal(cl_wtermsig(status)) }
            else { self = .code(cl_wexitstatus(status)) }
        }

        public var description: String {
            switch self {
            case .code(let c): return "exited with code \(c)"
            case .signal(let s): return "killed by \(Spawn.signalName(s))"
            }
        }
    }

    /// Reaps one exited child without blocking; nil when none has exited.
    public static func reapAny() -> (pid_t, Exit)? {
        var status: Int32 = 0
        let pid = waitpid(-1, &status, WNOHANG)
        guard pid > 0 else { return nil }
        return (pid, Exit(status: status))
    }

    public static func signalName(_ s: Int32) -> String {
        switch s {
        case SIGHUP: return "SIGHUP"
        case SIGINT: return "SIGINT"
        case SIGQUIT: return "SIGQUIT"
        case SIGILL: return "SIGILL"
        case SIGTRAP: return "SIGTRAP"
        case SIGABRT: return "SIGABRT"
        case SIGBUS: return "SIGBUS"
        case SIGFPE: return "SIGFPE"
        case SIGKILL: return "SIGKILL"
        case SIGSEGV: return "SIGSEGV"
        case SIGPIPE: return "SIGPIPE"
        case SIGALRM: return "SIGALRM"
        case SIGTERM: return "SIGTERM"
        default: return "signal \(s)"
        }
    }

    /// The absolute path of the running executable.
    public static func currentExecutable() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, 4095)
        return n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }

    /// The current environment as KEY=VALUE strings.
    public static func currentEnvironment() -> [String] {
        var result: [String] = []
        var p = environ
        while let entry = p.pointee {
            result.append(String(cString: entry))
            p += 1
        }
        return result
    }
}

/// A NUL-terminated array of C strings that lives as long as this object.
final class CStringArray {
    let pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let count: Int

    init(_ strings: [String]) {
        count = strings.count
        pointer = .allocate(capacity: count + 1)
        for (i, s) in strings.enumerated() { pointer[i] = strdup(s) }
        pointer[count] = nil
    }

    deinit {
        for i in 0..<count { free(pointer[i]) }
        pointer.deallocate()
    }
}

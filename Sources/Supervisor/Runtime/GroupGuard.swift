import Glibc
import NetCore

/// Kills what a killed supervisor leaves behind. Each instance runs in a process group of its own,
/// and its direct child dies with the supervisor (PR_SET_PDEATHSIG), but whatever that child started
/// (a wrapper script's server) would live on, holding its port, after a `kill -9` of the supervisor:
/// nothing is left to kill the group. So the supervisor starts a small guard process, its own
/// executable again (`supervisor _group-guard`), and tells it over a pipe which groups are alive.
/// When the pipe's write end closes, because the supervisor ended however it ended, the guard kills
/// every group still on its list and exits. After a clean stop the list is empty.
final class GroupGuard {
    static let command = "_group-guard"

    private let writeFD: Int32

    private init(writeFD: Int32) { self.writeFD = writeFD }

    /// Starts the guard; nil (and groups are only killed by a supervisor alive to do it) if it cannot start.
    static func start() -> GroupGuard? {
        guard let pipe = try? Posix.pipe(nonBlocking: false) else { return nil }
        defer { Posix.close(pipe.read) }
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { if devNull >= 0 { Posix.close(devNull) } }
        var request = Spawn.Request(path: Spawn.currentExecutable(), arguments: [command], environment: [],
                                    descriptors: [(pipe.read, 0), (devNull >= 0 ? devNull : 1, 1), (2, 2)])
        // Out of the terminal's process group (a Ctrl-C is for the supervisor, which stops in order), and
        // not killed with the supervisor: outliving it is the guard's job.
        request.newProcessGroup = true
        request.deathSignal = 0
        guard (try? Spawn.start(request)) != nil else {
            Posix.close(pipe.write)
            return nil
        }
        try? Posix.setNonBlocking(pipe.write, true)   // a guard that died must never block the supervisor
        return GroupGuard(writeFD: pipe.write)
    }

    func watch(_ group: pid_t) { tell("+\(group)\n") }
    func forget(_ group: pid_t) { tell("-\(group)\n") }

    private func tell(_ line: String) {
        var bytes = Array(line.utf8)
        _ = write(writeFD, &bytes, bytes.count)
    }

    /// The guard process: reads `+GROUP` and `-GROUP` lines until end of file, then kills what is left.
    static func run() -> Int32 {
        for s in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] { signal(s, SIG_IGN) }
        var groups = Set<pid_t>()
        var line: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(0, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            for byte in buffer[0..<n] {
                guard byte == UInt8(ascii: "\n") else { line.append(byte); continue }
                if let sign = line.first, let group = pid_t(String(decoding: line.dropFirst(), as: UTF8.self)), group > 1 {
                    if sign == UInt8(ascii: "+") { groups.insert(group) } else { groups.remove(group) }
                }
                line.removeAll(keepingCapacity: true)
            }
        }
        for group in groups { kill(-group, SIGKILL) }
        return 0
    }
}

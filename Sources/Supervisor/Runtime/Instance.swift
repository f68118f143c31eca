import Foundation
import Glibc
import NetCore

/// What an instance is doing, as `status` shows it.
enum InstanceState: String, Sendable {
    case starting, healthy, unhealthy, backoff, stopping, stopped, failed
}

/// One running copy of a service in its slot. Slot N always gets port N of the service's range, so an
/// instance keeps its port across restarts and scaling.
final class Instance {
    /// Its definition; `up` on an edited file may swap in one that starts the program the same way.
    var service: Service
    let slot: Int
    /// "backend.3", or just "balancer" for a service that never has more than one instance.
    let name: String
    let port: Int?
    let colorIndex: Int
    /// The listening socket the supervisor holds for this slot (-1 without a port).
    var listenFD: Int32 = -1

    var state = InstanceState.stopped
    /// Whether the supervisor wants it running; false once asked to stop (exits are then expected).
    var wanted = false
    var pid: pid_t = 0
    var startedAt: UInt64 = 0
    /// When its current run became healthy (0: not yet). A run counts as stable only once it has been
    /// healthy long enough: one that never passes its checks must not forgive the crashes before it.
    var healthyAt: UInt64 = 0
    var startedWall = 0
    /// Restarts over the instance's life, and restarts in a row without a stable run between.
    var restarts = 0
    var retriesInARow = 0
    var lastExit: Spawn.Exit?
    /// Why it is failed or unhealthy, for `status` and the log.
    var reason: String?
    var healthPasses = 0
    var healthFailures = 0
    /// What the last failed check said (an HTTP status, a refused connect), for the reason shown when
    /// an instance never becomes healthy.
    var lastHealthFailure: String?
    var healthTask: ScheduledTask?
    var pendingTask: ScheduledTask?
    /// Callbacks waiting for this instance's exit (stop, restart).
    var onExit: [() -> Void] = []
    /// Whether it is in its balancers' and proxies' upstream lists.
    var joined = false
    /// Added to its admin socket's name while an older instance of the same name still holds the
    /// usual path (a balancer moving port starts beside the old one); empty otherwise.
    var adminTag = ""

    init(service: Service, slot: Int, colorIndex: Int) {
        self.service = service
        self.slot = slot
        name = service.maxInstances == 1 ? service.name : "\(service.name).\(slot)"
        port = service.port(ofInstance: slot)
        self.colorIndex = colorIndex
    }

    var isRunning: Bool { pid > 0 }

    /// The address other services use to reach it.
    func address(host: String) -> String? {
        guard let port else { return nil }
        let h = (host == "0.0.0.0" || host.isEmpty) ? "127.0.0.1" : (host == "::" ? "::1" : host)
        return h.contains(":") ? "[\(h)]:\(port)" : "\(h):\(port)"
    }
}

/// Restart timing: at once after the first crash, then doubling from the initial backoff up to the cap;
/// after `maxRetries` restarts in a row the instance is given up on.
enum RestartBackoff {
    /// Delay before restart number `retry` in a row (0-based), or nil when it is time to give up.
    static func delay(retry: Int, policy: RestartPolicy) -> Int? {
        if retry >= policy.maxRetries { return nil }
        if retry == 0 { return 0 }
        var d = policy.initialBackoffMs
        for _ in 1..<retry where d < policy.maxBackoffMs { d *= 2 }
        return min(d, policy.maxBackoffMs)
    }
}

/// Resident memory and similar facts about a running process, read from /proc.
enum ProcStats {
    static func residentBytes(_ pid: pid_t) -> Int? {
        guard let fd = Optional(open("/proc/\(pid)/statm", O_RDONLY | O_CLOEXEC)), fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 128)
        let n = read(fd, &buf, 127)
        guard n > 0 else { return nil }
        let fields = String(decoding: buf[0..<n], as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// User+system CPU seconds a process has used.
    static func cpuSeconds(_ pid: pid_t) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return nil }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

import Foundation
import Glibc

/// What /proc says about a process under test: whether it still runs, the CPU it has used, its
/// resident memory.
public enum ProcessStat {
    /// Running and not a zombie: a reparented child may linger unreaped in a container without an init.
    public static func isRunning(_ pid: Int) -> Bool {
        guard let fields = statFields(pid) else { return false }
        return fields.first != "Z"
    }

    /// User and system CPU time so far, in clock ticks (100 a second).
    public static func cpuTicks(_ pid: pid_t) -> Int {
        guard let fields = statFields(Int(pid)), fields.count > 12 else { return 0 }
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }

    /// Resident memory (VmRSS) in KB.
    public static func residentKB(_ pid: pid_t) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    /// /proc/PID/stat after the command name (which may hold spaces): state first.
    private static func statFields(_ pid: Int) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }
}

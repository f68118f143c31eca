import CLI
import Foundation
import Glibc

/// `supervisor logs [FILE] [-f] [-n N] [NAME…]`: the merged log from the run folder's files (the live one
/// and the rotated ones), optionally only some services or instances, then following new lines (across
/// rotations) until interrupted.
enum LogsCommand {
    static func run(_ args: inout Arguments) throws -> Int32 {
        let follow = args.flag("-f") || args.flag("--follow")
        let count = try args.int("-n", in: 0...10_000_000) ?? args.int("--tail", in: 0...10_000_000)
        let file = Locate.topologyFile(&args)
        var names: [String] = []
        while let n = args.positional() { names.append(n) }
        try args.finish()
        let folder = try runFolderAllowingStopped(file: file)
        let path = folder.logFile
        guard let history = LogHistory(path: path) else {
            throw RuntimeError("no merged log at \(path) yet")
        }
        if !names.isEmpty { try checkNames(names, folder: folder, file: file, history: history) }
        let matches: (String) -> Bool = { line in
            guard !names.isEmpty else { return true }
            guard let shown = name(of: Substring(line)) else { return false }
            return names.contains { wanted in shown == wanted || shown.hasPrefix(wanted + ".") }
        }
        if let count {
            for line in history.lastLines(count, matching: matches) { print(line) }
        } else {
            history.forEachLine { line in if matches(line) { print(line) } }
        }
        fflush(nil)
        guard follow else { return 0 }
        followFile(path, fd: history.takeLiveFile(), from: history.followOffset, folder: folder) { matches(String($0)) }
        return 0
    }

    /// The instance name in a merged line ("12:00:00.123 backend.3    | …").
    static func name(of line: Substring) -> String? {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        return parts.count >= 2 ? String(parts[1]) : nil
    }

    /// NAME is checked against the topology, as `docker compose logs` checks services: a name it does not
    /// declare is a mistake (exit 2), a declared one with nothing logged yet simply prints nothing. Only
    /// when the topology cannot be found any more are the names the log files carry the reference.
    private static func checkNames(_ names: [String], folder: RunFolder, file: String?, history: LogHistory) throws {
        let known: [String]
        let source: String
        if let topology = try RunTopology.find(folder, named: file) {
            known = RunTopology.logNames(topology)
            source = topology.file
        } else {
            var seen = Set<String>()
            history.forEachLine { line in if let n = name(of: Substring(line)) { seen.insert(n) } }
            known = seen.sorted()
            source = folder.logFile
        }
        for wanted in names where !known.contains(where: { $0 == wanted || $0.hasPrefix(wanted + ".") }) {
            let services = known.filter { !$0.contains(".") }
            throw UsageError("no service or instance '\(wanted)' in \(source)\(Suggestion.hint(for: wanted, in: known))"
                             + " (have: \(services.joined(separator: ", ")))")
        }
    }

    /// `logs` works after the supervisor has stopped too: a named or single run folder is enough.
    private static func runFolderAllowingStopped(file: String?) throws -> RunFolder {
        if let folder = try? Locate.runFolder(file: file) { return folder }
        let cwd = FileManager.default.currentDirectoryPath
        if let file { return RunFolder(base: cwd, topology: try Locate.load(file).name) }
        let all = ((try? FileManager.default.contentsOfDirectory(atPath: "\(cwd)/.run")) ?? []).sorted()
        if all.count == 1 { return RunFolder(path: "\(cwd)/.run/\(all[0])") }
        throw RuntimeError(all.isEmpty ? "no run folder under \(cwd)/.run: nothing has run here yet"
                                       : "several run folders (\(all.joined(separator: ", "))); name the topology file")
    }

    /// Prints new lines from `offset` of the live file (open as `fd`), moving to the new file when the log
    /// rotates, until the supervisor has been gone and the file quiet for a second.
    private static func followFile(_ path: String, fd start: Int32, from offset: Int, folder: RunFolder, matches: (Substring) -> Bool) {
        var fd = start
        var inode = LogHistory.inode(fd)
        lseek(fd, off_t(offset), SEEK_SET)
        var pending: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        var quietSince = Date()
        while true {
            let n = read(fd, &buf, buf.count)
            if n > 0 {
                quietSince = Date()
                pending += buf[0..<n]
                while let nl = pending.firstIndex(of: 0x0A) {
                    // Bytes a child printed: invalid UTF-8 shows as U+FFFD.
                    let line = String(decoding: pending[..<nl], as: UTF8.self)
                    if matches(Substring(line)) { print(line) }
                    pending.removeSubrange(...nl)
                }
                fflush(nil)
                continue
            }
            // Rotated: the name now points at a new file; finish the old one, then read the new from its start.
            let current = open(path, O_RDONLY | O_CLOEXEC)
            if current >= 0 && LogHistory.inode(current) != inode {
                close(fd)
                fd = current
                inode = LogHistory.inode(fd)
                continue
            }
            if current >= 0 { close(current) }
            if Date().timeIntervalSince(quietSince) > 1 && !folder.isLive() { close(fd); return }
            usleep(100_000)
        }
    }
}

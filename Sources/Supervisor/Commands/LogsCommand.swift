import CLI
import Foundation
import Glibc

/// `supervisor logs [FILE] [-f] [-n N] [NAME…]`: the merged log from the run folder's file, optionally
/// only some services or instances, then following new lines (across rotations) until interrupted.
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
        guard FileManager.default.fileExists(atPath: path) else {
            throw RuntimeError("no merged log at \(path) yet")
        }
        let matches: (Substring) -> Bool = { line in
            guard !names.isEmpty else { return true }
            guard let shown = name(of: line) else { return false }
            return names.contains { wanted in shown == wanted || shown.hasPrefix(wanted + ".") }
        }
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        // A name nothing in the log carries is a typo, not an empty answer.
        let known = Set(lines.compactMap { name(of: $0) })
        for wanted in names where !known.contains(where: { $0 == wanted || $0.hasPrefix(wanted + ".") }) {
            throw RuntimeError("no service or instance '\(wanted)' in \(path) (have: \(known.sorted().joined(separator: ", ")))")
        }
        var selected = lines.filter(matches)
        if let count { selected = Array(selected.suffix(count)) }
        for line in selected { print(line) }
        fflush(nil)
        guard follow else { return 0 }
        try followFile(path, folder: folder, matches: matches)
        return 0
    }

    /// The instance name in a merged line ("12:00:00.123 backend.3    | …").
    static func name(of line: Substring) -> String? {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        return parts.count >= 2 ? String(parts[1]) : nil
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

    private static func followFile(_ path: String, folder: RunFolder, matches: (Substring) -> Bool) throws {
        var fd = open(path, O_RDONLY | O_CLOEXEC)
        var inode = inodeOf(fd)
        lseek(fd, 0, SEEK_END)
        var pending: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        var quietSince = Date()
        while true {
            let n = read(fd, &buf, buf.count)
            if n > 0 {
                quietSince = Date()
                pending += buf[0..<n]
                while let nl = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[..<nl], as: UTF8.self)
                    if matches(Substring(line)) { print(line) }
                    pending.removeSubrange(...nl)
                }
                fflush(nil)
                continue
            }
            // Rotated: the name now points at a new file; finish the old one, then read the new from its start.
            let current = open(path, O_RDONLY | O_CLOEXEC)
            if current >= 0 && inodeOf(current) != inode {
                close(fd)
                fd = current
                inode = inodeOf(fd)
                continue
            }
            if current >= 0 { close(current) }
            if Date().timeIntervalSince(quietSince) > 1 && !folder.isLive() { return }
            usleep(100_000)
        }
    }

    private static func inodeOf(_ fd: Int32) -> UInt64 {
        var st = stat()
        return fstat(fd, &st) == 0 ? UInt64(st.st_ino) : 0
    }
}

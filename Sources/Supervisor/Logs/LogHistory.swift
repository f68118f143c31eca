import Glibc

/// The merged log as `logs` reads it back: the live file and the rotated ones (`log.1` newest …
/// `log.N` oldest, see RotatingLogFile) as one stream of whole lines, so `-n` reaches past a rotation.
///
/// Every file is opened up front, newest first, and a file met twice (renamed by a rotation between two
/// opens) is skipped, so a rotation while reading neither repeats nor skips a file.
/// Lines are bytes a child printed: invalid UTF-8 is shown as U+FFFD, never refused.
final class LogHistory {
    /// Open descriptors, newest (the live file) first.
    private var files: [Int32] = []
    /// The live file's bytes up to its last whole line (a line being written is left to `-f`).
    private let live: [UInt8]
    /// Where following starts in the live file: just past its last whole line.
    let followOffset: Int

    /// nil when there is no live log file.
    init?(path: String, keep: Int = 16) {
        var seen: Set<UInt64> = []
        for (i, name) in ([path] + (1...keep).map { "\(path).\($0)" }).enumerated() {
            let fd = open(name, O_RDONLY | O_CLOEXEC)
            if fd < 0 {
                if i == 0 { return nil }
                break   // rotated files are numbered without gaps
            }
            let inode = Self.inode(fd)
            if seen.contains(inode) { close(fd); continue }
            seen.insert(inode)
            files.append(fd)
        }
        var bytes = Self.readAll(files[0])
        let end = (bytes.lastIndex(of: 0x0A).map { $0 + 1 }) ?? 0
        bytes.removeSubrange(end...)
        live = bytes
        followOffset = end
    }

    deinit { for fd in files where fd >= 0 { close(fd) } }

    /// The live file's descriptor, handed to the caller (who closes it) to follow from `followOffset`.
    func takeLiveFile() -> Int32 {
        let fd = files[0]
        files[0] = -1
        return fd
    }

    /// Calls `body` with every line, oldest first.
    func forEachLine(_ body: (String) -> Void) {
        for i in files.indices.reversed() {
            let bytes = i == 0 ? live : Self.readAll(files[i])
            for range in Self.lineRanges(bytes) { body(String(decoding: bytes[range], as: UTF8.self)) }
        }
    }

    /// The last `count` lines that `matches` accepts, oldest first, reading older files only as needed.
    func lastLines(_ count: Int, matching matches: (String) -> Bool) -> [String] {
        var picked: [String] = []   // newest first
        for i in files.indices where picked.count < count {
            let bytes = i == 0 ? live : Self.readAll(files[i])
            for range in Self.lineRanges(bytes).reversed() {
                let line = String(decoding: bytes[range], as: UTF8.self)
                if matches(line) { picked.append(line) }
                if picked.count == count { break }
            }
        }
        return picked.reversed()
    }

    /// Each line's bytes without its "\n"; a last piece with no "\n" (a rotated file never has one) too.
    static func lineRanges(_ bytes: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            ranges.append(start..<end)
            start = end + 1
        }
        return ranges
    }

    static func readAll(_ fd: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var offset: off_t = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return bytes }
            bytes += chunk[..<n]
            offset += off_t(n)
        }
    }

    static func inode(_ fd: Int32) -> UInt64 {
        var st = stat()
        return fstat(fd, &st) == 0 ? UInt64(st.st_ino) : 0
    }
}

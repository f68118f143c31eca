import Glibc
import NetCore

/// The log file: every merged line, no colour, written in batches (one `write` per loop batch, not per
/// line). When the next line would take the file past `maxBytes` it is rotated first (log → log.1 →
/// log.2 …, `keep` old files), so each file holds whole lines and stays under the limit unless one line
/// alone is larger. Writes block: to a regular file they cost a memory copy into the page cache.
final class RotatingLogFile {
    let path: String
    let maxBytes: Int
    /// Rotated files kept besides the live one: log.1 (newest) … log.<keep> (oldest).
    let keep: Int
    let buffer = ByteBuffer(capacity: 256 * 1024)
    private var fd: Int32
    private(set) var size: Int
    /// The first failure since the last `takeError()`, for the merger to report once.
    private var error: SystemError?
    private var failing = false
    private var closed = false

    init(path: String, maxBytes: Int, keep: Int) throws(SystemError) {
        self.path = path
        self.maxBytes = max(maxBytes, 1)
        self.keep = max(keep, 0)
        fd = try Self.open(path)
        var st = stat()
        size = fstat(fd, &st) == 0 ? Int(st.st_size) : 0
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    private static func open(_ path: String) throws(SystemError) -> Int32 {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        if fd < 0 { throw .last("open \(path)") }
        return fd
    }

    /// Writes the buffered lines, rotating at line boundaries.
    func flush() {
        if closed { buffer.clear(); return }
        while !buffer.isEmpty {
            if fd < 0 { reopen(); if fd < 0 { buffer.clear(); return } }
            let available = buffer.readableBytes
            var n = available
            if size + available > maxBytes {
                n = lastLineEnd(within: maxBytes - size)
                if n == 0 {
                    if size > 0 { rotate(); continue }
                    n = firstLineEnd()  // one line larger than the limit: it gets a file of its own
                }
            }
            do {
                try Posix.writeAll(fd, UnsafeRawBufferPointer(start: buffer.readPointer, count: n))
                failing = false
            } catch let e {
                // Disk full or similar: these lines are lost for the file (the terminal still had them).
                if !failing { error = e }
                failing = true
            }
            buffer.consume(n)
            size += n
        }
        buffer.shrinkIfIdle(to: 256 * 1024)
    }

    /// The end (after "\n") of the last whole line among the first `limit` readable bytes, or 0.
    private func lastLineEnd(within limit: Int) -> Int {
        if limit <= 0 { return 0 }
        let p = buffer.readPointer
        var i = min(limit, buffer.readableBytes)
        while i > 0 && p[i - 1] != 0x0A { i -= 1 }
        return i
    }

    private func firstLineEnd() -> Int {
        let p = buffer.readPointer
        let n = buffer.readableBytes
        guard let hit = memchr(p, 0x0A, n) else { return n }
        return UnsafeMutablePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - p + 1
    }

    /// log.(keep-1) → log.keep … log → log.1, then a fresh log. With keep 0 the file starts over.
    func rotate() {
        if keep == 0 {
            if ftruncate(fd, 0) != 0 && error == nil { error = .last("truncate \(path)") }
            size = 0
            return
        }
        for i in stride(from: keep - 1, through: 1, by: -1) {
            _ = rename("\(path).\(i)", "\(path).\(i + 1)")  // a missing older file is fine
        }
        if rename(path, "\(path).1") != 0 {
            // Keep appending rather than lose lines; try again after another maxBytes.
            if error == nil { error = .last("rename \(path)") }
            size = 0
            return
        }
        Glibc.close(fd)
        fd = -1
        reopen()
    }

    private func reopen() {
        do {
            fd = try Self.open(path)
            var st = stat()
            size = fstat(fd, &st) == 0 ? Int(st.st_size) : 0
        } catch let e {
            if error == nil { error = e }
        }
    }

    func takeError() -> SystemError? {
        defer { error = nil }
        return error
    }

    func close() {
        flush()
        closed = true
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}

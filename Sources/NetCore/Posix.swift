import CLinux
import Glibc

/// Every system call the toolkit makes on a hot path, wrapped once: EINTR retried here, EAGAIN returned as
/// `.wouldBlock`, any other failure thrown as `SystemError`.
public enum Posix {
    @usableFromInline @inline(__always)
    static func retrying(_ call: String, _ body: () -> Int) throws(SystemError) -> IOResult {
        while true {
            let r = body()
            if r >= 0 { return .processed(r) }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            throw SystemError(call, errno: e)
        }
    }

    @inlinable @inline(__always)
    public static func read(_ fd: Int32, _ pointer: UnsafeMutableRawPointer, _ count: Int) throws(SystemError) -> IOResult {
        try retrying("read") { Glibc.read(fd, pointer, count) }
    }

    /// `read` for sockets: recv(2) goes straight to the protocol, skipping the file layer's position
    /// lock and permission hooks that read(2) passes through (measurably cheaper per call).
    @inlinable @inline(__always)
    public static func receive(_ fd: Int32, _ pointer: UnsafeMutableRawPointer, _ count: Int) throws(SystemError) -> IOResult {
        try retrying("recv") { Glibc.recv(fd, pointer, count, 0) }
    }

    @inlinable @inline(__always)
    public static func write(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) throws(SystemError) -> IOResult {
        try retrying("write") { Glibc.write(fd, pointer, count) }
    }

    @inlinable @inline(__always)
    public static func send(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int, more: Bool = false) throws(SystemError) -> IOResult {
        let flags = CL_MSG_NOSIGNAL | (more ? CL_MSG_MORE : 0)
        return try retrying("send") { Glibc.send(fd, pointer, count, flags) }
    }

    @inlinable @inline(__always)
    public static func writev(_ fd: Int32, _ iov: UnsafePointer<iovec>, _ count: Int32) throws(SystemError) -> IOResult {
        try retrying("writev") { Glibc.writev(fd, iov, count) }
    }

    @inlinable @inline(__always)
    public static func sendfile(_ out: Int32, _ file: Int32, offset: inout Int, count: Int) throws(SystemError) -> IOResult {
        var off = off_t(offset)
        let r = try retrying("sendfile") { cl_sendfile(out, file, &off, count) }
        offset = Int(off)
        return r
    }

    @inlinable @inline(__always)
    public static func splice(from: Int32, to: Int32, count: Int, more: Bool = false) throws(SystemError) -> IOResult {
        try retrying("splice") { cl_splice(from, to, count, more ? 1 : 0) }
    }

    /// Accepts one connection (non-blocking, CLOEXEC). `nil` when none is waiting.
    @inlinable
    public static func accept(_ fd: Int32, _ addr: UnsafeMutablePointer<sockaddr_storage>) throws(SystemError) -> Int32? {
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = try addr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(SystemError) in
            try retrying("accept4") { Int(cl_accept4(fd, sa, &len)) }
        }
        switch r {
        case .processed(let client): return Int32(client)
        case .wouldBlock: return nil
        }
    }

    /// Closes a descriptor. EINTR on close must not be retried on Linux (the fd is already gone).
    @inline(__always)
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    public static func pipe(nonBlocking: Bool) throws(SystemError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        if cl_pipe2(&fds, nonBlocking ? 1 : 0) != 0 { throw .last("pipe2") }
        return (fds[0], fds[1])
    }

    /// Grows a pipe to 1 MiB where the system allows it, so a bursty writer is not blocked; best effort.
    @discardableResult
    public static func growPipe(_ fd: Int32) -> Bool {
        cl_set_pipe_size(fd, 1 << 20) > 0
    }

    /// Waits until `fd` is ready for `events` (POLLIN, POLLOUT); false when `ms` pass first or the wait fails.
    public static func waitReady(_ fd: Int32, _ events: Int32, ms: Int) -> Bool {
        var p = pollfd(fd: fd, events: Int16(events), revents: 0)
        var n: Int32
        repeat { n = Glibc.poll(&p, 1, Int32(clamping: ms)) } while n < 0 && errno == EINTR
        return n > 0
    }

    public static func setNonBlocking(_ fd: Int32, _ on: Bool = true) throws(SystemError) {
        if cl_set_nonblocking(fd, on ? 1 : 0) != 0 { throw .last("fcntl(O_NONBLOCK)") }
    }

    public static func setCloseOnExec(_ fd: Int32, _ on: Bool) throws(SystemError) {
        if cl_set_cloexec(fd, on ? 1 : 0) != 0 { throw .last("fcntl(FD_CLOEXEC)") }
    }

    /// Writes every byte, waiting with poll when the descriptor is non-blocking and full. For logs and
    /// control messages, never for client sockets on an event loop.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            switch try write(fd, bytes.baseAddress! + offset, bytes.count - offset) {
            case .processed(let n): offset += n
            case .wouldBlock:
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = Glibc.poll(&p, 1, 1000)
            }
        }
    }

    /// Reads until EOF (or an error) from a blocking descriptor: a child's output, a short reply.
    public static func readAll(_ fd: Int32) -> [UInt8] {
        var result: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = Glibc.read(fd, &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return result }
            result += buf[0..<n]
        }
    }

    public static func writeAll(_ fd: Int32, _ text: String) throws(SystemError) {
        try writeAll(fd, Array(text.utf8))
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
        // Typed throws through withUnsafeBytes (a rethrows function) crashes Swift 6.3's IRGen when the
        // closure is written at the call site; catching inside keeps the closure non-throwing.
        var failure: SystemError?
        bytes.withUnsafeBytes { raw in
            do throws(SystemError) { try writeAll(fd, raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}


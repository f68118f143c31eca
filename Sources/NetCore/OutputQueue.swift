import CLinux
import Glibc

/// What a connection still has to send, in order: bytes it wrote into `buffer` (response heads, small
/// bodies), shared memory blobs (cached files) and file ranges (sent with sendfile). `flush` gathers
/// consecutive memory pieces into one sendmsg and never copies a blob.
public final class OutputQueue {
    public enum FlushResult: Equatable {
        case drained
        case wouldBlock
    }

    enum Segment {
        /// Bytes of `buffer` up to this writer index.
        case buffered(end: Int)
        case blob(Blob, offset: Int, count: Int)
        case file(OpenFile, offset: Int, count: Int)
    }

    public let buffer: ByteBuffer
    private var segments: [Segment] = []
    private var head = 0
    /// Where the bytes not yet claimed by a `.buffered` segment start.
    private var sealed = 0
    private static let maxIOV = 32
    public private(set) var pendingBytes = 0
    /// The last send stopped short (the socket was full): sending more before it drains would only
    /// meet EAGAIN. It stays set, with nothing queued, when the socket left part of a caller's bytes
    /// (`send(to:queuedThen:)`): the caller then waits for the socket to be writable.
    public private(set) var blocked = false
    /// Bytes handed to the kernel over the queue's life (for logs and metrics).
    public private(set) var totalSent = 0

    /// With `pool`, the buffer starts parked there (see `ByteBuffer.init(capacity:allowsCompaction:pool:)`).
    /// Where the segment list comes from while the queue is busy (with `pool`), or nil.
    private let pool: BufferPool?

    public init(capacity: Int = 4096, pool: BufferPool? = nil) {
        buffer = ByteBuffer(capacity: capacity, allowsCompaction: false, pool: pool)
        self.pool = pool
        if pool == nil { segments.reserveCapacity(8) }
    }

    public var isEmpty: Bool { pendingBytes == 0 && buffer.writerIndex == sealed }

    /// Marks the bytes written into `buffer` since the last seal as the next segment.
    @inline(__always)
    private func seal() {
        let end = buffer.writerIndex
        if end > sealed {
            pendingBytes += end - sealed
            appendSegment(.buffered(end: end))
            sealed = end
        }
    }

    /// A parked queue has no segment list: the first segment takes one from the pool.
    @inline(__always)
    private func appendSegment(_ segment: Segment) {
        if segments.capacity == 0, let pool { segments = pool.segmentLists.take() }
        segments.append(segment)
    }

    public func enqueue(_ blob: Blob, offset: Int = 0, count: Int? = nil) {
        seal()
        let n = count ?? (blob.count - offset)
        if n <= 0 { return }
        appendSegment(.blob(blob, offset: offset, count: n))
        pendingBytes += n
    }

    public func enqueue(file: OpenFile, offset: Int, count: Int) {
        seal()
        if count <= 0 { return }
        appendSegment(.file(file, offset: offset, count: count))
        pendingBytes += count
    }

    /// Writes as much as the socket takes. `.drained` means everything queued has been sent.
    /// `closing`: the caller closes right after draining; the last bytes are held (MSG_MORE) so close()
    /// sends them together with the FIN in one segment.
    public func flush(to fd: Int32, closing: Bool = false) throws(SystemError) -> FlushResult {
        seal()
        if head == segments.count {
            reset()
            return .drained
        }
        return try withIOVectors { iov throws(SystemError) in try flush(to: fd, closing: closing, iov: iov) }
    }

    /// The gather list for one send, on the stack: a queue keeps no memory for it between sends.
    @inline(__always)
    private func withIOVectors<R>(_ body: (UnsafeMutablePointer<iovec>) throws(SystemError) -> R) throws(SystemError) -> R {
        try withUnsafeTemporaryAllocation(of: iovec.self, capacity: Self.maxIOV) { buffer throws(SystemError) in
            try body(buffer.baseAddress!)
        }
    }

    private func flush(to fd: Int32, closing: Bool, iov: UnsafeMutablePointer<iovec>) throws(SystemError) -> FlushResult {
        while head < segments.count {
            if case .file(let file, let offset, let count) = segments[head] {
                var off = offset
                switch try Posix.sendfile(fd, file.fd, offset: &off, count: min(count, 1 << 30)) {
                case .wouldBlock:
                    return .wouldBlock
                case .processed(let n):
                    if n == 0 { throw SystemError("sendfile", errno: EIO) }  // file shrank under us
                    advanceFile(n)
                }
                continue
            }
            let (count, total) = gather(into: iov)
            // More is coming when a file follows: let the kernel fill packets (no half-empty segment).
            let flags = CL_MSG_NOSIGNAL | ((closing || head + count < segments.count) ? CL_MSG_MORE : 0)
            let r = try Posix.retrying("sendmsg") { () -> Int in
                // One piece, the usual case: send(2) skips copying in a message header and an iovec array.
                if count == 1 { return Glibc.send(fd, iov[0].iov_base, iov[0].iov_len, flags) }
                var msg = msghdr()
                msg.msg_iov = iov
                msg.msg_iovlen = count
                return Glibc.sendmsg(fd, &msg, flags)
            }
            switch r {
            case .wouldBlock:
                blocked = true
                return .wouldBlock
            case .processed(let n):
                advanceMemory(n)
                if n < total {
                    blocked = true
                    return .wouldBlock
                }
            }
        }
        reset()
        return .drained
    }

    /// Sends what is queued and then as much of `count` bytes at `bytes` as the socket takes, in one call,
    /// and returns how many of the caller's bytes went out. What the socket does not take stays with the
    /// caller: a relay to a slow reader holds one read's worth in its own buffer and reads no more until
    /// that is gone, instead of piling copies up here (HAProxy's one buffer per direction).
    public func send(to fd: Int32, queuedThen bytes: UnsafeRawPointer, _ count: Int) throws(SystemError) -> Int {
        seal()
        if count == 0 { return 0 }
        return try withIOVectors { iov throws(SystemError) in try send(to: fd, queuedThen: bytes, count, iov: iov) }
    }

    private func send(to fd: Int32, queuedThen bytes: UnsafeRawPointer, _ count: Int,
                      iov: UnsafeMutablePointer<iovec>) throws(SystemError) -> Int {
        var (queued, total) = gather(into: iov)
        if blocked || head + queued < segments.count || queued == Self.maxIOV {
            // The queue cannot go out in the same call (a file first, or too many pieces), or the last
            // flush found the socket full: send the queue on its own first.
            if try flush(to: fd, closing: false, iov: iov) == .wouldBlock { return 0 }
            (queued, total) = (0, 0)
        }
        iov[queued] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes), iov_len: count)
        let r = try Posix.retrying("sendmsg") { () -> Int in
            if queued == 0 { return Glibc.send(fd, bytes, count, CL_MSG_NOSIGNAL) }
            var msg = msghdr()
            msg.msg_iov = iov
            msg.msg_iovlen = queued + 1
            return Glibc.sendmsg(fd, &msg, CL_MSG_NOSIGNAL)
        }
        var sent = 0
        if case .processed(let n) = r { sent = n }
        if sent < total {
            advanceMemory(sent)
            blocked = true
            return 0
        }
        advanceMemory(total)
        reset()
        let own = sent - total
        totalSent += own
        blocked = own < count
        return own
    }

    /// Fills `iov` with the memory segments from `head` up to the next file; returns their number and size.
    @inline(__always)
    private func gather(into iov: UnsafeMutablePointer<iovec>) -> (Int, Int) {
        var n = 0
        var total = 0
        var start = readStart()
        var i = head
        while i < segments.count && n < Self.maxIOV {
            switch segments[i] {
            case .buffered(let end):
                iov[n] = iovec(iov_base: UnsafeMutableRawPointer(buffer.base + start), iov_len: end - start)
                total += end - start
                start = end
            case .blob(let blob, let offset, let count):
                iov[n] = iovec(iov_base: blob.pointer + offset, iov_len: count)
                total += count
            case .file:
                return (n, total)
            }
            n += 1
            i += 1
        }
        return (n, total)
    }

    /// The buffer offset where the head segment's unsent bytes begin.
    @inline(__always)
    private func readStart() -> Int { buffer.readerIndex }

    private func advanceMemory(_ sent: Int) {
        var left = sent
        totalSent += sent
        pendingBytes -= sent
        while left > 0 {
            switch segments[head] {
            case .buffered(let end):
                let available = end - buffer.readerIndex
                if left >= available {
                    buffer.readerIndex = end
                    left -= available
                    head += 1
                } else {
                    buffer.readerIndex += left
                    left = 0
                }
            case .blob(let blob, let offset, let count):
                if left >= count {
                    left -= count
                    segments[head] = .buffered(end: buffer.readerIndex)  // drop the reference now
                    head += 1
                } else {
                    segments[head] = .blob(blob, offset: offset + left, count: count - left)
                    left = 0
                }
            case .file:
                return
            }
        }
    }

    private func advanceFile(_ sent: Int) {
        totalSent += sent
        pendingBytes -= sent
        guard case .file(let file, let offset, let count) = segments[head] else { return }
        if sent >= count {
            segments[head] = .buffered(end: buffer.readerIndex)
            head += 1
        } else {
            segments[head] = .file(file, offset: offset + sent, count: count - sent)
        }
    }

    /// Moves unsent buffered bytes to the start of the buffer, so a long stream that never fully drains
    /// reuses the same memory instead of growing it. Blob and file segments hold no buffer offsets.
    public func compact() {
        let shift = buffer.readerIndex
        guard shift > 0 else { return }
        let unsent = buffer.writerIndex - shift
        if unsent > 0 { memmove(buffer.base, buffer.base + shift, unsent) }
        for i in head..<segments.count {
            if case .buffered(let end) = segments[i] { segments[i] = .buffered(end: end - shift) }
        }
        sealed -= shift
        buffer.readerIndex = 0
        buffer.writerIndex = unsent
    }

    /// Appends bytes to send (a body being relayed), compacting first once half the buffer is spent.
    @inline(__always)
    public func append(_ p: UnsafeRawPointer, _ n: Int) {
        if buffer.readerIndex > 32 * 1024 && buffer.readerIndex * 2 > buffer.capacity { compact() }
        buffer.append(p, n)
    }

    /// Gives the buffer's storage to `pool` while nothing is queued (an idle connection); the next
    /// write takes storage back. Leaves `blocked` as it is.
    public func park(in pool: BufferPool) {
        guard pendingBytes == 0, buffer.writerIndex == sealed else { return }
        pool.segmentLists.give(&segments)
        head = 0
        sealed = 0
        buffer.clear()
        buffer.park(in: pool)
    }

    /// Forgets everything (after a full flush, or when the connection is abandoned).
    public func reset() {
        blocked = false
        segments.removeAll(keepingCapacity: true)
        head = 0
        buffer.clear()
        sealed = 0
        pendingBytes = 0
    }
}

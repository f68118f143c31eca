import Glibc
import NetCore

/// The merged stream's terminal side: lines queue in one buffer and go out with non-blocking writes, at
/// the end of each loop batch or when the descriptor becomes writable again. A terminal that cannot keep
/// up costs whole lines (counted, then reported in one line once it drains), never a stalled loop: the
/// loop must keep draining the children's pipes, or the children would block on their own logging.
final class TerminalWriter: FDHandler {
    private unowned let loop: EventLoop
    private let descriptor: TerminalDescriptor
    let buffer = ByteBuffer(capacity: 64 * 1024)
    /// Above this many queued bytes, new lines are dropped instead of queued.
    let cap: Int
    /// Try to write in the middle of a batch once this much is queued, to keep the buffer small.
    private let earlyWrite: Int
    private let clock: LogClock
    /// The notice's prefix (`supervisor   | `, coloured when the terminal is).
    private let noticePrefix: [UInt8]
    private let filePath: String?
    /// Waiting for EPOLLOUT: writing before it arrives would only return EAGAIN.
    private var waiting = false
    /// Registered with the loop; only while waiting, so an idle terminal costs no wake-ups.
    private var polled = false
    private var released = false
    /// The descriptor failed (closed pipe, bad fd) or there never was one; lines are not queued.
    private(set) var gone: Bool
    private(set) var dropped = 0
    private var unreported = 0

    init(loop: EventLoop, fd: Int32, cap: Int, clock: LogClock, noticePrefix: [UInt8], filePath: String?) {
        self.loop = loop
        self.cap = cap
        earlyWrite = min(256 * 1024, cap / 2)
        self.clock = clock
        self.noticePrefix = noticePrefix
        self.filePath = filePath
        descriptor = TerminalDescriptor(fd)
        gone = fd < 0
        super.init(fd: descriptor.fd)
    }

    /// Queues one finished line. With `colored`, the line's plain prefix (`plainPrefixCount` bytes after
    /// the stamp) is swapped for the coloured one.
    @inline(__always)
    func append(_ line: UnsafeRawBufferPointer, plainPrefixCount: Int, colored: [UInt8]?) {
        if gone { return }
        let size = line.count + (colored.map { $0.count - plainPrefixCount } ?? 0)
        if buffer.readableBytes + size > cap {
            dropped += 1
            unreported += 1
            return
        }
        if let colored {
            buffer.append(line.baseAddress!, LogClock.width)
            buffer.append(colored)
            let rest = LogClock.width + plainPrefixCount
            buffer.append(line.baseAddress! + rest, line.count - rest)
        } else {
            buffer.append(line)
        }
        if !waiting && buffer.readableBytes >= earlyWrite { write() }
    }

    /// End of a loop batch: write what is queued unless we are waiting for writability anyway.
    func batchEnded() {
        if !waiting && !gone && !buffer.isEmpty { write() }
    }

    override func handleEvent(_ events: UInt32) {
        waiting = false
        // EPOLLERR on a pipe means its reader is gone; EPOLLHUP on a terminal means it hung up.
        if events & (Events.error | Events.hangup) != 0 && events & Events.writable == 0 {
            stop()
            return
        }
        write()
    }

    /// Writes until the buffer is empty or the descriptor is full; then waits for EPOLLOUT.
    private func write() {
        while !buffer.isEmpty && !gone {
            do {
                switch try Posix.write(fd, buffer.readPointer, buffer.readableBytes) {
                case .processed(let n):
                    buffer.consume(n)
                    if buffer.isEmpty { reportDrops() }
                case .wouldBlock:
                    waitForWritable()
                    return
                }
            } catch {
                stop()
                return
            }
        }
        if polled {
            polled = false
            loop.deregister(self)
        }
        // A burst may have grown the buffer; do not pin megabytes once it is over.
        buffer.shrinkIfIdle(to: 64 * 1024)
    }

    private func waitForWritable() {
        waiting = true
        if polled { return }
        if loop.setInterest(self, events: Events.writable) {
            polled = true
        } else {
            // Not pollable (should not happen for a pipe or a terminal): try again shortly.
            loop.schedule(after: 10 * Clock.nanosPerMilli) { [weak self] in
                self?.waiting = false
                self?.write()
            }
        }
    }

    /// Once the terminal has caught up, say how many lines it missed and where they are.
    private func reportDrops() {
        guard unreported > 0 else { return }
        let whereAll = filePath.map { "all lines are in \($0)" } ?? "no log file was given"
        clock.refresh()
        buffer.append(UnsafeRawPointer(clock.bytes), LogClock.width)
        buffer.append(noticePrefix)
        buffer.append("\(unreported) lines dropped: terminal too slow (\(whereAll))\n")
        unreported = 0
    }

    /// Blocking drain for shutdown, bounded so a terminal nobody reads cannot hold the supervisor forever.
    func drain(timeoutMillis: Int) {
        let deadline = Clock.monotonicNanos() + UInt64(timeoutMillis) * Clock.nanosPerMilli
        while !gone {
            if buffer.isEmpty { reportDrops() }
            if buffer.isEmpty { return }
            do {
                switch try Posix.write(fd, buffer.readPointer, buffer.readableBytes) {
                case .processed(let n):
                    buffer.consume(n)
                case .wouldBlock:
                    let now = Clock.monotonicNanos()
                    if now >= deadline { return }
                    var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&p, 1, Int32(min((deadline - now) / Clock.nanosPerMilli + 1, 1000)))
                }
            } catch {
                stop()
            }
        }
    }

    /// Stops using the descriptor (it failed, or the merger is closing).
    func stop() {
        gone = true
        buffer.clear()
        if polled {
            polled = false
            loop.deregister(self)
        }
        if !released {
            released = true
            descriptor.release()
        }
    }
}

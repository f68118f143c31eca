import CLinux
import Glibc
import NetCore

/// One child's stdout or stderr pipe, read by the loop whenever it has bytes. Reading is never paused (a
/// full pipe would block the child inside its own logging); lines go straight to the merger, so the only
/// bytes kept here are one unfinished line of at most 16 KiB.
final class LogSource: FDHandler {
    let name: String
    let prefix: LinePrefix
    /// Holds the source alive while its pipe is open; released at EOF (the merger forgets it then).
    private let merger: LogMerger
    private let buffer = ByteBuffer(capacity: 64 * 1024)
    private var framer = LineFramer()
    private(set) var closed = false

    /// Bytes asked for per read: room is always there, since at most one ≤16 KiB line waits in the buffer.
    private static let readChunk = 32 * 1024
    /// Reads per wake-up before letting the other sources have a turn (the loop comes back: level-triggered).
    private static let readsPerEvent = 8
    /// A larger pipe lets a child write a burst without waiting for us (1 MiB is the unprivileged maximum).
    private static let pipeSize: Int32 = 1 << 20

    init(fd: Int32, name: String, prefix: LinePrefix, merger: LogMerger) {
        self.name = name
        self.prefix = prefix
        self.merger = merger
        super.init(fd: fd)
        _ = cl_set_pipe_size(fd, Self.pipeSize)  // best effort; a smaller pipe still works
    }

    override func handleEvent(_ events: UInt32) {
        readAvailable()
    }

    /// Reads what the pipe holds now and emits every complete line; at EOF or on an error, the last
    /// partial line too, and the pipe is closed.
    func readAvailable() {
        if closed { return }
        merger.clock.refresh()
        for _ in 0..<Self.readsPerEvent {
            buffer.reserve(Self.readChunk)
            let room = buffer.writableBytes
            let result: IOResult
            do {
                result = try Posix.read(fd, buffer.writePointer, room)
            } catch {
                finish()
                return
            }
            switch result {
            case .wouldBlock:
                return
            case .processed(0):
                finish()
                return
            case .processed(let n):
                buffer.writerIndex += n
                emitLines(atEOF: false)
                if n < room { return }  // the pipe is empty: skip the read that would say EAGAIN
            }
        }
    }

    @inline(__always)
    private func emitLines(atEOF: Bool) {
        while let line = framer.next(buffer, atEOF: atEOF) {
            merger.emit(line, prefix)
        }
    }

    /// Emits the unfinished line, if any, and closes the pipe. Called at EOF and when the merger closes.
    func finish() {
        if closed { return }
        closed = true
        emitLines(atEOF: true)
        loop.deregister(self, closing: true)
        Posix.close(fd)
        merger.sourceClosed(self)
    }

    private var loop: EventLoop { merger.loop }
}

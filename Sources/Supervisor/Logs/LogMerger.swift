import Glibc
import NetCore

/// The supervisor's single output stream: every child's stdout and stderr, and the supervisor's own
/// events, merged line by line, stamped and prefixed with the instance name:
///
///     14:03:07.412 backend.3    | 127.0.0.1:51234 "GET / HTTP/1.1" 200 1042 0.113ms
///     14:03:07.415 backend.3    ! warning: slow disk        (stderr: "!" instead of "|")
///     14:03:07.500 supervisor   | backend.3 healthy
///
/// Lines go to the terminal (non-blocking, dropped and counted when it cannot keep up), to a rotating
/// file (every line, never coloured) and to subscribers. Confined to one event loop: create it and call
/// it on the loop's thread (or before the loop runs).
///
/// On the hot path a line is formatted once, straight into the file's batch buffer (or a scratch buffer
/// when there is no file), and copied from there to the terminal's buffer: no allocation per line.
final class LogMerger {
    let loop: EventLoop
    let clock = LogClock()
    let nameWidth: Int
    let color: Bool
    private let terminal: TerminalWriter
    private let file: RotatingLogFile?
    /// Where a line is formatted when there is no file.
    private let scratch = ByteBuffer(capacity: 32 * 1024)
    private let subscribers = LogSubscribers()
    private var sources: [LogSource] = []
    private let supervisorPrefix: LinePrefix
    private let eventBuffer = ByteBuffer(capacity: 1024)
    /// Write the file mid-batch once this much is queued, so a long batch does not grow the buffer.
    private static let fileFlushBytes = 1 << 20
    /// How long `flushAll` waits for a terminal that is not reading.
    static let shutdownTimeoutMillis = 5000

    /// Lines that entered the merged stream (children's lines, pieces of over-long lines, events). Each
    /// is in the file and went to subscribers; the terminal got all but `linesDropped` of them.
    private(set) var linesWritten = 0
    var linesDropped: Int { terminal.dropped }
    /// Pipes still open.
    var openSources: Int { sources.count }

    /// - Parameters:
    ///   - terminalFD: where the merged stream goes for a person to read; -1 for none.
    ///   - color: colour names on the terminal (see `shouldColor`); the file never gets colour.
    ///   - filePath: the log file, appended to and rotated past `maxFileBytes`, keeping `keepFiles` old
    ///     ones; nil for none. If it cannot be opened, the first line on the terminal says why.
    ///   - terminalBufferBytes: how far the terminal may fall behind before lines are dropped for it.
    init(loop: EventLoop, terminalFD: Int32 = 1, color: Bool, filePath: String?, maxFileBytes: Int = 10 << 20,
         keepFiles: Int = 3, nameWidth: Int = 12, terminalBufferBytes: Int = 4 << 20) {
        // A terminal pipe whose reader has gone must be an EPIPE error here, not a dead supervisor.
        signal(SIGPIPE, SIG_IGN)
        self.loop = loop
        self.color = color
        self.nameWidth = max(nameWidth, 1)
        supervisorPrefix = LinePrefix(name: "supervisor", width: self.nameWidth, colorIndex: color ? -1 : nil,
                                      isStderr: false)
        var openError: SystemError?
        if let filePath {
            do { file = try RotatingLogFile(path: filePath, maxBytes: maxFileBytes, keep: keepFiles) } catch {
                file = nil
                openError = error
            }
        } else {
            file = nil
        }
        terminal = TerminalWriter(loop: loop, fd: terminalFD, cap: max(terminalBufferBytes, 64 * 1024),
                                  clock: clock, noticePrefix: supervisorPrefix.colored,
                                  filePath: file == nil ? nil : filePath)
        loop.onBatchEnd { [weak self] in self?.batchEnded() }
        if let openError { event("cannot open the log file: \(openError); logging to the terminal only") }
    }

    /// Lets go of the terminal descriptor if `close()` was never called. (The loop keeps the small
    /// batch-end closure, which finds no merger and does nothing.)
    deinit { terminal.stop() }

    /// Colour when the output is a terminal and NO_COLOR is not set (to anything, even empty).
    static func shouldColor(fd: Int32 = 1, environment: [String: String]) -> Bool {
        isatty(fd) == 1 && environment["NO_COLOR"] == nil
    }

    // MARK: sources

    /// Starts reading one child's output pipe (non-blocking read end; the merger owns and closes it at EOF).
    func attach(fd: Int32, name: String, colorIndex: Int, isStderr: Bool) {
        let prefix = LinePrefix(name: name, width: nameWidth, colorIndex: color ? max(colorIndex, 0) : nil,
                                isStderr: isStderr)
        // The merger owns this end, so making sure it cannot block the loop affects no one else.
        try? Posix.setNonBlocking(fd)
        let source = LogSource(fd: fd, name: name, prefix: prefix, merger: self)
        do {
            try loop.register(source, events: Events.readable)
        } catch {
            event("cannot read the output of \(name): \(error)")
            Posix.close(fd)
            return
        }
        sources.append(source)
    }

    /// Takes in what `name`'s pipes hold now, so an event about it (its exit) comes after its last words
    /// rather than before them: the exit can be reaped before the loop has read the pipe.
    func catchUp(name: String) {
        for source in sources where source.name == name { source.readAvailable() }
    }

    func sourceClosed(_ source: LogSource) {
        if let i = sources.firstIndex(where: { $0 === source }) { sources.remove(at: i) }
    }

    // MARK: lines

    /// One line of the supervisor's own (name "supervisor"); several if `text` holds line ends.
    func event(_ text: String) {
        clock.refresh()
        eventBuffer.clear()
        eventBuffer.append(text)
        var framer = LineFramer()
        while let line = framer.next(eventBuffer, atEOF: true) { emit(line, supervisorPrefix) }
        eventBuffer.shrinkIfIdle(to: 1024)
    }

    /// Formats one line into the merged stream. The hot path: copies only, into reused buffers.
    @inline(__always)
    func emit(_ line: FramedLine, _ prefix: LinePrefix) {
        linesWritten += 1
        let out = file?.buffer ?? scratch
        let start = out.writerIndex
        out.append(UnsafeRawPointer(clock.bytes), LogClock.width)
        out.append(prefix.plain)
        out.append(UnsafeRawPointer(line.start), line.count)
        if line.continued { out.append(Self.continuation) }
        out.append(byte: 0x0A)
        let formatted = UnsafeRawBufferPointer(start: out.base + start, count: out.writerIndex - start)
        terminal.append(formatted, plainPrefixCount: prefix.plain.count, colored: color ? prefix.colored : nil)
        if !subscribers.isEmpty { subscribers.publish(formatted) }
        if out === scratch {
            scratch.clear()
        } else if out.readableBytes >= Self.fileFlushBytes {
            file?.flush()
        }
    }

    /// Marks a piece of a line longer than 16 KiB; the line goes on in the next piece.
    private static let continuation: StaticString = " …"

    // MARK: subscribers

    /// Adds a receiver of every finished line (plain, "\n" included, valid during the call only); it
    /// returns false to be removed. Returns an id for `unsubscribe`.
    func subscribe(_ sink: @escaping (UnsafeRawBufferPointer) -> Bool) -> Int {
        subscribers.add(sink)
    }

    func unsubscribe(_ id: Int) {
        subscribers.remove(id)
    }

    // MARK: output

    /// End of a loop batch: the file gets this batch's lines in one write; the terminal gets what it takes.
    private func batchEnded() {
        if let file {
            if !file.buffer.isEmpty { file.flush() }
            if let error = file.takeError() { event("log file \(file.path): \(error)") }
        }
        terminal.batchEnded()
    }

    /// Writes out anything buffered (called at shutdown): reads what the pipes hold now, writes the file,
    /// and waits (up to `terminalWaitMillis`, 5 s by default) for the terminal to take the rest.
    func flushAll(terminalWaitMillis: Int = LogMerger.shutdownTimeoutMillis) {
        for source in sources { source.readAvailable() }
        file?.flush()
        terminal.drain(timeoutMillis: terminalWaitMillis)
    }

    /// Final shutdown: emits every pipe's unfinished line, closes the pipes and the file, flushes the
    /// terminal and lets go of it. The merger writes nothing afterwards.
    func close() {
        for source in sources { source.readAvailable() }
        for source in sources { source.finish() }
        file?.close()
        terminal.drain(timeoutMillis: Self.shutdownTimeoutMillis)
        terminal.stop()
    }
}

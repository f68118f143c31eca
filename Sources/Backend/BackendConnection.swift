import Glibc
import HTTPCore
import NetCore

/// One client connection on an event loop: reads requests (pipelined ones too), answers them in order,
/// and keeps the connection for the next one. All of its state is touched only by its loop.
final class BackendConnection: FDHandler, DrainableConnection {
    private unowned(unsafe) let worker: BackendWorker
    private let input: ByteBuffer
    private let output: OutputQueue
    private var parser: HTTPRequestParser
    private var peer: sockaddr_storage
    private var discard = BodyDiscard()
    /// When the request now being read started: its first byte, or the accept for the first request.
    private var requestStartedAt: UInt64
    private var awaitingFirstRequest = true
    private var requestClockStopped = false
    private var closeAfterFlush = false
    /// The client may still be sending bytes we will not read: close by lingering, not at once.
    private var lingerOnClose = false
    private var peerClosed = false
    private var lingering = false
    private var closed = false
    /// Index in the worker's connection table.
    var slot = -1

    /// Output beyond which further pipelined requests wait until the client has read some.
    private static let outputHighWater = 256 * 1024
    /// A response body at least this large is logged once it has left (or failed to), with the bytes
    /// that did and the time it took, as nginx logs `$body_bytes_sent` and `$request_time`; a smaller
    /// one is logged when answered (it goes out within the same turn).
    private static let logAfterSendingBytes = 64 * 1024
    private var deferredLog: DeferredLog?

    init(fd: Int32, peer: UnsafePointer<sockaddr_storage>, worker: BackendWorker) {
        self.worker = worker
        self.peer = peer.pointee
        // Buffers take storage from the worker's pool only while the connection is busy.
        input = ByteBuffer(capacity: 4096, pool: worker.bufferPool)
        output = OutputQueue(capacity: 4096, pool: worker.bufferPool)
        parser = HTTPRequestParser(limits: worker.limits, headerLists: worker.headerLists)
        requestStartedAt = worker.loop.now
        super.init(fd: fd)
    }

    /// Tries the socket at once: on loopback and fast links the request is usually there already, and a
    /// connection answered and closed right away never costs an epoll registration. False if it is gone.
    func start() -> Bool {
        handleEvent(Events.readable)
        return !closed
    }

    var isIdle: Bool { output.isEmpty && input.isEmpty && !discard.isActive }

    // MARK: events

    override func handleEvent(_ events: UInt32) {
        if lingering {
            drainLinger()
            return
        }
        if events & (Events.readable | Events.readHangup | Events.hangup | Events.error) != 0 {
            readAvailable()
        }
        if closed { return }
        // Requests that waited behind a large response go as soon as it has drained.
        while process() == .outputFull {
            flush()
            if closed { return }
            if !output.isEmpty { break }
        }
        flush()
        if closed { return }
        rearm()
    }

    private func readAvailable() {
        while true {
            do {
                switch try input.receive(from: fd, chunk: 4096) {
                case .wouldBlock:
                    return
                case .processed(0):
                    peerClosed = true
                    return
                case .processed:
                    if input.writableBytes > 0 { return }   // a short read: the socket is drained
                    // Full buffer: keep reading only while a head might still be completing.
                    if input.readableBytes > worker.limits.maxHeadSize { return }
                }
            } catch {
                close()
                return
            }
        }
    }

    private enum ProcessOutcome { case idle, outputFull }

    /// Answers every complete request in the input, in order, until output backs up.
    @discardableResult
    private func process() -> ProcessOutcome {
        while !closeAfterFlush && !closed {
            if output.pendingBytes > Self.outputHighWater { return .outputFull }
            if discard.isActive {
                if input.isEmpty { break }
                switch discard.feed(input.readPointer, input.readableBytes) {
                case .consumed(let n, _):
                    input.consume(n)
                case .invalid:
                    lingerOnClose = true
                    closeAfterFlush = true
                    return .idle
                }
                continue
            }
            if input.isEmpty { break }
            if requestClockStopped {
                requestClockStopped = false
                requestStartedAt = worker.loop.now
            }
            switch parser.parse(input.readable) {
            case .needMore:
                if peerClosed { closeAfterFlush = true }
                return .idle
            case .invalid(let error):
                let outcome = worker.responder.respond(to: error, into: output)
                log(line: nil, outcome)
                lingerOnClose = true
                closeAfterFlush = true
                return .idle
            case .complete:
                answer()
            }
        }
        if peerClosed && (input.isEmpty || discard.isActive) { closeAfterFlush = true }
        return .idle
    }

    private func answer() {
        let base = UnsafePointer(input.readPointer)
        let keepAlive = parser.head.keepAlive && worker.settings.keepsAlive && !worker.draining && !peerClosed
        var outcome = worker.responder.respond(to: parser.head, base: base, keepAlive: keepAlive, into: output)
        if worker.log != nil && !parser.head.isHealthProbe(base) {
            logDeferred(sent: nil)   // a pipelined request's answer: the one before it is logged first
            let line = parser.head.requestLine.buffer(in: base)
            if outcome.bodyBytes >= Self.logAfterSendingBytes {
                deferredLog = DeferredLog(line: Array(line), status: outcome.status, bodyBytes: outcome.bodyBytes,
                                          startedAt: requestStartedAt)
            } else {
                log(line: line, outcome)
            }
        }
        input.consume(parser.head.length)
        if parser.head.hasBody {
            if parser.head.contentLength > worker.settings.maxDiscardedBody || parser.head.expectsContinue {
                // Not worth reading: say close and let the rest of the body be dropped while lingering.
                outcome.close = true
                lingerOnClose = true
            } else {
                discard.start(parser.head)
            }
        }
        parser.reset()
        if outcome.close {
            closeAfterFlush = true
        } else if awaitingFirstRequest {
            // Kept alive: from now on small responses must not wait for the client's ACK (Nagle).
            Socket.setNoDelay(fd)
        }
        awaitingFirstRequest = false
        requestClockStopped = true
    }

    private func flush() {
        if !output.isEmpty {
            do {
                let closingNext = closeAfterFlush && !(lingerOnClose && !peerClosed)
                if try output.flush(to: fd, closing: closingNext) == .wouldBlock { return }
            } catch {
                close()
                return
            }
        }
        if deferredLog != nil { logDeferred(sent: nil) }
        if closeAfterFlush { finish() }
    }

    /// Arms the one deadline this connection has, by what it waits for, and the events it wants.
    private func rearm() {
        let loop = worker.loop
        let settings = worker.settings
        if !output.isEmpty {
            loop.setDeadline(self, loop.now &+ settings.sendTimeout.nanos)
            let wantRead = output.pendingBytes <= Self.outputHighWater
            if !loop.setInterest(self, events: Events.writable | (wantRead ? Events.readable | Events.readHangup : 0)) {
                close()
            }
            return
        }
        if !loop.setInterest(self, events: Events.readable | Events.readHangup) {
            close()
            return
        }
        if discard.isActive {
            loop.setDeadline(self, loop.now &+ settings.headerTimeout.nanos)
        } else if !input.isEmpty || awaitingFirstRequest {
            loop.setDeadline(self, requestStartedAt &+ settings.headerTimeout.nanos)
        } else {
            loop.setDeadline(self, loop.now &+ (worker.draining ? ShutdownGrace.nanos : settings.keepAliveTimeout.nanos))
        }
        // Waiting for a request, a connection holds no buffers and no header list (see `BufferPool`).
        if input.isEmpty {
            input.park(in: worker.bufferPool)
            output.park(in: worker.bufferPool)
            parser.releaseStorage()
        }
    }

    override func timerFired(now: UInt64) {
        if closed { return }
        if lingering || !output.isEmpty || discard.isActive {
            close()   // linger over, or the client stopped reading or sending
            return
        }
        if !input.isEmpty {
            // A request started but its head never finished: 408, as nginx answers slow headers.
            let outcome = worker.responder.respond(to: HTTPParseError(.requestTimeout, "request header timeout"),
                                                   into: output)
            log(line: nil, outcome)
            lingerOnClose = true
            closeAfterFlush = true
            flush()
            if !closed { rearm() }
            return
        }
        close()   // idle keep-alive connection, or one that never sent a request
    }

    // MARK: closing

    /// Ends the connection once everything is sent. When the client may still be sending, shut our side
    /// and drain theirs for a moment, so their unread bytes do not turn our close into a reset that
    /// destroys the answer before they read it.
    private func finish() {
        if closed || lingering { return }
        guard lingerOnClose && !peerClosed else {
            close()
            return
        }
        lingering = true
        if !LingeringClose.start(self, on: worker.loop, scratch: input) { close() }
    }

    private func drainLinger() {
        if LingeringClose.peerFinished(fd, scratch: input) { close() }
    }

    func close() {
        if closed { return }
        closed = true
        // What is still queued never left: the deferred line counts only what did.
        if let d = deferredLog { logDeferred(sent: max(0, d.bodyBytes - output.pendingBytes)) }
        worker.loop.deregister(self, closing: true)
        Posix.close(fd)
        output.reset()
        worker.connectionClosed(self)
    }

    /// Graceful shutdown: an idle connection closes now; a busy one after the response it is sending.
    func drain() {
        guard isIdle else {
            if !output.isEmpty { closeAfterFlush = true }
            return
        }
        // A request already in the socket, or one a busy keep-alive client is about to send, is answered
        // (with Connection: close) within a moment's grace rather than lost under the close.
        handleEvent(Events.readable)
        if !closed && isIdle && !peerClosed { worker.loop.setDeadline(self, worker.loop.now &+ ShutdownGrace.nanos) }
    }


    // MARK: logging

    /// Writes the deferred line: `sent` body bytes, or all of them.
    private func logDeferred(sent: Int?) {
        guard let d = deferredLog else { return }
        deferredLog = nil
        let outcome = StaticResponder.Outcome(status: d.status, bodyBytes: sent ?? d.bodyBytes, close: false)
        d.line.withUnsafeBytes { log(line: $0, outcome, startedAt: d.startedAt) }
    }

    private func log(line: UnsafeRawBufferPointer?, _ outcome: StaticResponder.Outcome, startedAt: UInt64? = nil) {
        guard let log = worker.log else { return }
        let b = log.buffer
        b.append(address: &peer)
        b.append(" \"")
        if let line { b.append(logField: line) } else { b.append(byte: 0x2D) }
        b.append("\" ")
        b.append(decimal: outcome.status)
        b.append(byte: 0x20)
        b.append(decimal: outcome.bodyBytes)
        b.append(byte: 0x20)
        b.append(milliseconds: Clock.monotonicNanos() &- (startedAt ?? requestStartedAt))
        b.append(byte: 0x0A)
        log.lineDone()
    }
}

/// A log line held until its large response has been sent (see `logAfterSendingBytes`).
private struct DeferredLog {
    let line: [UInt8]
    let status: Int
    let bodyBytes: Int
    let startedAt: UInt64
}

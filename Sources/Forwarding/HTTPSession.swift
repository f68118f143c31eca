import Glibc
import HTTPCore
import NetCore

/// One client connection to the balancer or proxy in HTTP mode. It parses each request, picks an upstream
/// for it, forwards the rewritten request and streams the response back, then takes the next request on
/// the same connection. Buffers in both directions are bounded: a side that reads slowly stops the other
/// side being read (backpressure), so a large body never sits in memory whole.
final class HTTPSession: FDHandler, UpstreamClient {
    enum Phase { case idle, connecting, exchanging }

    /// Responses queued for a client (pipelining) before its requests are no longer read, and the
    /// largest response head taken from an upstream.
    static let highWater = 64 * 1024
    /// Body bytes held for a slow reader, each way, before the fast side is no longer read: one
    /// upstream read's worth, as HAProxy's one 16 KB buffer per direction. A response body to a client
    /// that takes every window whole is read in larger windows, up to `highWater`.
    static let bodyWindow = 16 * 1024

    unowned(unsafe) let worker: ForwardingWorker
    var peer: sockaddr_storage
    let input: ByteBuffer
    let output: OutputQueue
    var parser: HTTPRequestParser
    var responseParser: HTTPResponseParser
    var phase = Phase.idle
    var slot = -1
    var closed = false
    var peerClosed = false
    var closeAfterFlush = false
    var lingerOnClose = false
    var lingering = false
    var servedAny = false
    var requestStartedAt: UInt64
    var requestClockStopped = false

    // The exchange in progress.
    var upstream: UpstreamConnection?
    var route = 0
    var snapshot: PoolSnapshot?
    var upstreamIndex = -1
    var tried: UInt64 = 0
    var attempts = 0
    var method = HTTPMethod.get
    var clientMinor: UInt8 = 1
    var clientKeepAlive = true
    var requestHasBody = false
    var requestBody = BodyProgress.none
    /// Whether the whole request body sits in `requestHead`, so the request can be replayed.
    var bodyInHead = false
    /// The largest body kept for a replay (nginx buffers request bodies; we stream all but small ones).
    static let replayableBodyLimit = 16 * 1024
    /// The rewritten request head, kept until the response starts so it can be replayed on retry.
    let requestHead: ByteBuffer
    /// Whether any request byte reached an upstream socket on the current attempt.
    var sentAnything = false
    var responseStarted = false
    var responseHeadDone = false
    /// The response head did not fit in one body window: the upstream is read on, up to `highWater`.
    var responseHeadIsLarge = false
    /// How much of the response body is read from the upstream before it is passed on: it doubles
    /// while the client takes each window whole, and falls back to `bodyWindow` when the client's
    /// socket fills, the buffer shrinking to what the client has yet to take.
    var responseWindow = HTTPSession.bodyWindow
    var shrinkResponseBuffer = false
    var responseBody = BodyProgress.none
    /// The upstream closed its side while body bytes it sent still waited in its buffer for the client.
    var upstreamEOF = false
    var dechunk = false
    /// Whether the upstream said its connection may be reused after this response.
    var keepUpstream = true
    var status = 0
    var bodyBytesToClient = 0
    var exchangeStartedAt: UInt64 = 0
    let logLine: ByteBuffer
    /// Health checks passing through are not logged (see `HTTPRequestHead.isHealthProbe`).
    var quietExchange = false

    init(fd: Int32, peer: UnsafePointer<sockaddr_storage>, worker: ForwardingWorker) {
        self.worker = worker
        self.peer = peer.pointee
        // Buffers take storage from the worker's pool only while the connection is busy.
        let pool = worker.bufferPool
        input = ByteBuffer(capacity: 8192, pool: pool)
        output = OutputQueue(capacity: 8192, pool: pool)
        requestHead = ByteBuffer(capacity: 1024, pool: pool)
        logLine = ByteBuffer(capacity: 256, pool: pool)
        parser = HTTPRequestParser(headerLists: worker.headerLists)
        responseParser = HTTPResponseParser(headerLists: worker.headerLists)
        requestStartedAt = worker.loop.now
        super.init(fd: fd)
    }

    func start() {
        clientEvent(Events.readable)
    }

    // MARK: client side

    override func handleEvent(_ events: UInt32) { clientEvent(events) }

    private func clientEvent(_ events: UInt32) {
        if lingering {
            drainLinger()
            return
        }
        if events & (Events.readable | Events.readHangup | Events.hangup | Events.error) != 0 {
            readClient()
            if closed { return }
        }
        advance()
    }

    private func readClient() {
        // While a request body is being forwarded, only read as much as the upstream can take.
        let limit = phase == .exchanging && requestBody.isActive ? Self.bodyWindow : 64 * 1024
        while input.readableBytes < limit {
            do {
                switch try input.receive(from: fd, chunk: 16 * 1024) {
                case .wouldBlock: return
                case .processed(0):
                    peerClosed = true
                    return
                case .processed:
                    if input.writableBytes > 0 { return }
                }
            } catch {
                abortExchange("client connection failed")
                return
            }
        }
    }

    /// Moves everything forward as far as it can go without blocking, then arms events and deadlines.
    func advance() {
        while !closed {
            if phase == .idle {
                if closeAfterFlush || output.pendingBytes > Self.highWater { break }
                if input.isEmpty {
                    if peerClosed { closeAfterFlush = true }
                    break
                }
                if requestClockStopped {
                    requestClockStopped = false
                    requestStartedAt = worker.loop.now
                }
                switch parser.parse(input.readable) {
                case .needMore:
                    if peerClosed { closeAfterFlush = true }
                case .invalid(let error):
                    exchangeStartedAt = requestStartedAt   // what the log's duration counts from
                    respondLocal(error.status, reason: error.reason, close: true)
                    lingerOnClose = true
                    log(line: nil, upstream: nil)
                case .complete:
                    beginExchange()
                    continue
                }
                break
            }
            if phase == .connecting { break }
            // Exchanging.
            pumpRequestBody()
            if closed || phase != .exchanging { continue }
            flushUpstream()
            if closed || phase != .exchanging { continue }
            pumpResponse()
            if closed { return }
            if phase == .exchanging { break }
        }
        if closed { return }
        flushClient()
        if closed { return }
        rearm()
    }

    func flushClient() {
        if !output.isEmpty {
            do {
                let closing = closeAfterFlush && phase == .idle && !(lingerOnClose && !peerClosed)
                if try output.flush(to: fd, closing: closing) == .wouldBlock { return }
            } catch {
                abortExchange("client connection failed")
                return
            }
        }
        if closeAfterFlush && phase == .idle { finish() }
    }

    /// Events and the deadline for the client side, and read interest on the upstream (backpressure).
    func rearm() {
        let loop = worker.loop
        let settings = worker.settings
        parkBuffers()
        var events: UInt32 = 0
        // A body piece the client's socket did not take waits in the upstream's buffer, not in `output`.
        let clientFull = !output.isEmpty || (phase == .exchanging && output.blocked)
        if clientFull { events |= Events.writable }
        // Read the client while idle, or while its body is being forwarded and the upstream keeps up.
        let bodyFlowing = phase == .exchanging && requestBody.isActive
        let wantRead = phase == .idle
            ? output.pendingBytes <= Self.highWater && !closeAfterFlush
            : (bodyFlowing ? (upstream?.output.pendingBytes ?? 0) < Self.bodyWindow : input.readableBytes < 64 * 1024)
        if wantRead && !peerClosed { events |= Events.readable | Events.readHangup }
        // Once the client has half-closed, its EOF stays readable (level-triggered): watching for it
        // again would wake the loop without end while the upstream is waited on.
        if events == 0 && !peerClosed { events = Events.readHangup }
        // While an upstream answers a request without a body, a client not yet watched stays unwatched:
        // whatever it sends next (a pipelined request, its FIN) waits in the socket, and the first rearm
        // once idle registers it and hears it. A connection closed after one response never costs an
        // epoll_ctl.
        let unwatchedWhileAnswering = phase != .idle && !requestBody.isActive && !clientFull && !registered
        if !unwatchedWhileAnswering && !loop.setInterest(self, events: events) {
            abort()
            return
        }
        if phase == .idle {
            if !output.isEmpty {
                loop.setDeadline(self, loop.now &+ settings.sendTimeout.nanos)
            } else if !input.isEmpty || !servedAny {
                loop.setDeadline(self, requestStartedAt &+ settings.headerTimeout.nanos)
            } else {
                loop.setDeadline(self, loop.now &+ (worker.draining ? ShutdownGrace.nanos : settings.clientIdleTimeout.nanos))
            }
        } else if clientFull {
            // While an exchange runs the upstream side owns the clock; the client's only guards sending.
            loop.setDeadline(self, loop.now &+ settings.sendTimeout.nanos)
        } else {
            loop.cancelDeadline(self)
        }
        if let up = upstream, phase == .exchanging {
            var upEvents: UInt32 = 0
            if !up.output.isEmpty { upEvents |= Events.writable }
            let wantResponse = responseHeadDone
                ? output.pendingBytes + up.input.readableBytes < responseWindow
                : output.pendingBytes <= Self.highWater
            if wantResponse { upEvents |= Events.readable | Events.readHangup }
            // The upstream's clock runs while we wait on it (to take the request, to answer, to send more of
            // its body) and starts again at every step, so a long body that keeps moving is never cut.
            // While the client is the slow reader the upstream is not to blame: the client's send clock
            // governs instead.
            // Once its EOF has been read it stays readable (level-triggered): watching that would spin.
            // For the same reason nothing else is watched while the client holds things up: an EOF that
            // arrives meanwhile waits in the socket until the window has room and the upstream is read.
            if upstreamEOF { upEvents &= Events.writable }
            if upEvents == 0 {
                loop.cancelDeadline(up)
            } else {
                loop.setDeadline(up, loop.now &+ settings.responseTimeout.nanos)
            }
            if !up.setInterest(upEvents) { upstreamFailed(connectFailure: false) }
        }
    }

    /// While the session waits, its empty buffers go back to the worker's pool, and between requests its
    /// header lists too: a keep-alive client between requests holds none, and a slow reader only the
    /// body window it is being fed from.
    @inline(__always)
    private func parkBuffers() {
        let pool = worker.bufferPool
        input.park(in: pool)
        output.park(in: pool)
        requestHead.park(in: pool)
        logLine.park(in: pool)
        if phase == .idle && input.isEmpty {
            parser.releaseStorage()
            responseParser.releaseStorage()
        }
    }

    override func timerFired(now: UInt64) {
        if closed { return }
        if lingering {
            close()
            return
        }
        if phase != .idle || !output.isEmpty {
            abortExchange("client stopped reading")
            return
        }
        if !input.isEmpty {
            exchangeStartedAt = requestStartedAt
            respondLocal(.requestTimeout, reason: "request header timeout", close: true)
            lingerOnClose = true
            log(line: nil, upstream: nil)
            advance()
            return
        }
        close()
    }

    // MARK: closing

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

    /// Ends an exchange that cannot finish by dropping the client connection, which has part of a
    /// response already or is gone. The log line says why, with the status the client saw (499 when it
    /// saw none, as nginx logs a client that left). Bytes already queued for the client are sent first,
    /// so it sees as much of the response as there is before the connection ends.
    func abortExchange(_ why: StaticString, upstream failed: Upstream? = nil) {
        if closed { return }
        if phase != .idle {
            if status == 0 { status = 499 }
            _ = try? output.flush(to: fd)
            log(line: logLine.readable, upstream: failed ?? upstream?.upstream, aborted: why)
            phase = .idle
        }
        abort()
    }

    /// The shutdown timeout passed: an exchange still running is cut and logged as such.
    func cut() {
        if phase != .idle { abortExchange("shutdown timeout passed") } else { close() }
    }

    /// Drops the client connection at once; an upstream mid-exchange is closed too (never pooled).
    func abort() {
        if let up = upstream {
            detachUpstream()
            up.close()
        }
        close()
    }

    func close() {
        if closed { return }
        closed = true
        if let up = upstream {
            detachUpstream()
            up.close()
        }
        worker.loop.deregister(self, closing: true)
        Posix.close(fd)
        worker.sessionClosed(self)
    }

    /// Graceful shutdown: idle connections close now, busy ones after the current response.
    func drain() {
        if phase == .idle && output.isEmpty && input.isEmpty {
            // A request may already sit unread in the socket (a busy keep-alive client): closing over it
            // would reset it unanswered. It is answered instead, with Connection: close.
            // And one that a busy client is about to send is given a moment (`ShutdownGrace`): closed
            // under it, it would be lost; answered, the client learns to go elsewhere.
            readClient()
            if closed { return }
            if input.isEmpty && !peerClosed {
                worker.loop.setDeadline(self, worker.loop.now &+ ShutdownGrace.nanos)
            } else {
                advance()
            }
        } else {
            clientKeepAlive = false
            if phase == .idle { closeAfterFlush = true }
        }
    }
}

/// Where a body stands: how much is left, or the chunk decoder finding its end.
enum BodyProgress {
    case none
    case length(Int)
    case chunked(ChunkedDecoder)
    case untilClose

    var isActive: Bool {
        if case .none = self { return false }
        return true
    }
}

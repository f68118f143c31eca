import Glibc
import HTTPCore
import NetCore

/// `--model thread`: one blocking thread per client connection, as the seeds' threaded balancer worked.
/// It shares the routes, pools, health state, rewriting and logs of the event model; what differs is
/// only how waiting is done (a thread blocked in read, not a loop). Upstream connections are opened
/// per request: a simple threaded proxy has no shared pool.
enum ThreadedForwarder {
    static let server = ThreadPerConnectionServer()

    static func run(sockets: ListeningSockets, service: ForwardingService) {
        server.run(socket: sockets.perWorker[0], shutdownTimeout: service.settings.shutdownTimeout,
                   stopListening: sockets.stopListening) { fd, peer in
            let connection = ThreadedConnection(fd: fd, peer: peer, service: service)
            if service.mode == .tcp { connection.relayTCP() } else { connection.serveHTTP() }
        }
    }
}

/// One client connection served by its own thread with blocking calls.
final class ThreadedConnection {
    private let fd: Int32
    private var peer: sockaddr_storage
    private let service: ForwardingService
    private let settings: ForwardingSettings
    private let input = ByteBuffer(capacity: 16384)
    private let output = ByteBuffer(capacity: 16384)
    private var parser = HTTPRequestParser()
    private var responseParser = HTTPResponseParser()
    private var rewriter: MessageRewriter
    private var rng = FastRandom(seed: Clock.monotonicNanos())
    private let log: LogSink?
    private let date = DateCache()
    /// Stats slot: threads share the last worker slot (the event model's are not in use).
    private let statsSlot: Int

    init(fd: Int32, peer: sockaddr_storage, service: ForwardingService) {
        self.fd = fd
        self.peer = peer
        self.service = service
        settings = service.settings
        rewriter = MessageRewriter(via: settings.via)
        log = settings.quiet ? nil : LogSink(fd: 1)
        statsSlot = service.workerCount - 1
        Socket.setNoDelay(fd)
    }

    // MARK: HTTP

    func serveHTTP() {
        while !ThreadedForwarder.server.isDraining || !input.isEmpty || requestWaiting() {
            var result = parser.parse(input.readable)
            // The whole head must arrive within the header timeout, counted from its first byte, however
            // slowly it trickles in (each read waits only for what is left of it).
            var headStarted: UInt64? = input.isEmpty ? nil : Clock.monotonicNanos()
            while result == .needMore {
                var waitMs = settings.clientIdleTimeout.milliseconds
                if let headStarted {
                    let left = settings.headerTimeout.milliseconds - Int((Clock.monotonicNanos() &- headStarted) / Clock.nanosPerMilli)
                    if left <= 0 {
                        reply(408, "request header timeout", close: true)
                        logLine(nil, status: 408, bytes: 0, upstream: nil, started: headStarted)
                        return
                    }
                    waitMs = left
                }
                Socket.setTimeouts(fd, receiveMs: waitMs, sendMs: settings.responseTimeout.milliseconds)
                // Between requests the connection is idle: a shutdown may wake and close it.
                ThreadedForwarder.server.setIdle(fd, input.isEmpty)
                let got = try? input.receive(from: fd, chunk: 16384)
                ThreadedForwarder.server.setIdle(fd, false)
                guard case .processed(let n)? = got, n > 0 else {
                    // A receive timeout in the middle of a head: the next turn finds no time left (408).
                    if headStarted != nil, case .wouldBlock? = got { continue }
                    return
                }
                if headStarted == nil { headStarted = Clock.monotonicNanos() }
                result = parser.parse(input.readable)
            }
            Socket.setTimeouts(fd, receiveMs: settings.responseTimeout.milliseconds, sendMs: settings.responseTimeout.milliseconds)
            let started = headStarted ?? Clock.monotonicNanos()
            if case .invalid(let e) = result {
                reply(e.status.code, e.reason, close: true)
                logLine(nil, status: e.status.code, bytes: 0, upstream: nil, started: started)
                return
            }
            guard exchange(started: started) else { return }
        }
    }

    /// Forwards one parsed request and its response; false when the client connection must end.
    private func exchange(started: UInt64) -> Bool {
        let base = UnsafePointer(input.readPointer)
        let head = parser.head
        let line = Array(head.requestLine.buffer(in: base))
        let keepAlive = head.keepAlive && !ThreadedForwarder.server.isDraining
        if head.method == .connect {
            input.consume(head.length)
            parser.reset()
            reply(501, "CONNECT is not supported here", close: true)
            logLine(line, status: 501, bytes: 0, upstream: nil, started: started)
            return false
        }
        if let monitor = settings.monitorPath, head.targetIs(monitor, base) {
            let close = !keepAlive || head.hasBody
            input.consume(head.length)
            parser.reset()
            reply(200, "alive", close: close, bodyless: head.method == .head)
            logLine(line, status: 200, bytes: 0, upstream: nil, started: started)
            return !close
        }
        let match = service.routes.match(head, base)
        if case .dotSegments = match {
            input.consume(head.length)
            parser.reset()
            reply(400, "a . or .. segment in the path", close: true)
            logLine(line, status: 400, bytes: 0, upstream: nil, started: started)
            return false
        }
        guard case .route(let routeIndex) = match else {
            input.consume(head.length)
            parser.reset()
            reply(404, "no route for this path", close: !keepAlive || head.hasBody, bodyless: head.method == .head)
            logLine(line, status: 404, bytes: 0, upstream: nil, started: started)
            return keepAlive && !head.hasBody
        }
        let route = service.routes.routes[routeIndex]
        let requestHead = ByteBuffer(capacity: 1024)
        rewriter.writeRequest(head, base, route: route, client: &peer, clientFD: fd, into: requestHead)
        // The body (Content-Length only in this model; chunked bodies are relayed until the decoder ends).
        let method = head.method
        let isChunked = head.isChunked
        var bodyLeft = max(0, head.contentLength)
        input.consume(head.length)
        parser.reset()

        let snapshot = route.pool.snapshot
        var tried: UInt64 = 0
        for _ in 0...snapshot.upstreams.count {
            guard let index = route.pool.pick(snapshot, now: Clock.monotonicNanos(), excluded: tried, rng: &rng) else { break }
            tried |= 1 << UInt64(index & 63)
            let up = snapshot.upstreams[index]
            let upFD: Int32
            do {
                upFD = try Socket.connectBlocking(to: up.address, timeoutMs: Int32(settings.connectTimeout.milliseconds))
            } catch {
                service.connectFailed(up, error, now: Clock.monotonicNanos())
                continue
            }
            defer { Posix.close(upFD) }
            service.connected(up)
            up.active.add(1, ordering: .relaxed)
            defer { up.active.subtract(1, ordering: .relaxed) }
            Socket.setNoDelay(upFD)
            Socket.setTimeouts(upFD, receiveMs: settings.responseTimeout.milliseconds, sendMs: settings.responseTimeout.milliseconds)
            guard writeAll(upFD, requestHead.readable) else { continue }
            // Request body straight through.
            var decoder = ChunkedDecoder()
            var bodyDone = !isChunked && bodyLeft == 0
            while !bodyDone {
                if input.isEmpty && read(fd, into: input) != .data {
                    logLine(line, status: 499, bytes: 0, upstream: up, started: started,
                            aborted: "client closed in the middle of its request body")
                    return false
                }
                let n: Int
                if isChunked {
                    switch decoder.feed(input.readPointer, input.readableBytes, onData: { _, _ in }) {
                    case .needMore: n = input.readableBytes
                    case .done(let c): n = c; bodyDone = true
                    case .invalid(let e):
                        reply(e.status.code, e.reason, close: true)
                        logLine(line, status: e.status.code, bytes: 0, upstream: nil, started: started)
                        return false
                    }
                } else {
                    n = min(bodyLeft, input.readableBytes)
                    bodyLeft -= n
                    bodyDone = bodyLeft == 0
                }
                guard writeAll(upFD, UnsafeRawBufferPointer(start: input.readPointer, count: n)) else {
                    // Part of the body is gone: never replayed (the event model does the same).
                    reply(502, "upstream connection failed", close: true)
                    logLine(line, status: 502, bytes: 0, upstream: up, started: started)
                    return false
                }
                input.consume(n)
            }
            // Response.
            let upIn = ByteBuffer(capacity: 16384)
            responseParser.reset()
            let rHead: HTTPResponseHead
            switch readFinalHead(from: upFD, into: upIn, method: method) {
            case .head(let h):
                rHead = h
            case .nothing where method.isIdempotent:
                continue   // nothing came back: try the next one
            case .timedOut:
                reply(504, "upstream did not answer in time", close: true)
                logLine(line, status: 504, bytes: 0, upstream: up, started: started)
                return false
            case .nothing, .broken:
                reply(502, "upstream connection failed", close: true)
                logLine(line, status: 502, bytes: 0, upstream: up, started: started)
                return false
            }
            let clientKeepAlive = keepAlive && rHead.framing != .untilClose && !(head.minorVersion == 0 && rHead.framing == .chunked)
            output.clear()
            rewriter.writeResponse(rHead, UnsafePointer(upIn.readPointer), clientMinor: head.minorVersion,
                                   keepAlive: clientKeepAlive, dechunk: false, into: output)
            upIn.consume(rHead.length)
            var sent = 0
            // An exchange cut short is logged with why, as in the event model.
            func aborted(_ why: StaticString) -> Bool {
                logLine(line, status: rHead.status, bytes: sent, upstream: up, started: started, aborted: why)
                return false
            }
            guard writeAll(fd, output.readable) else { return aborted("client connection failed") }
            var left = 0
            if case .length(let n) = rHead.framing { left = n }
            var chunks = ChunkedDecoder()
            loop: while true {
                switch rHead.framing {
                case .none: break loop
                case .length:
                    if left == 0 { break loop }
                case .chunked:
                    if chunks.isFinished { break loop }
                case .untilClose: break
                }
                if upIn.isEmpty {
                    switch read(upFD, into: upIn) {
                    case .data: break
                    case .closed where rHead.framing == .untilClose: break loop
                    case .closed: return aborted("upstream connection failed in the middle of its response")
                    case .timedOut: return aborted("upstream went silent in the middle of its response")
                    }
                }
                var n = upIn.readableBytes
                switch rHead.framing {
                case .length: n = min(n, left); left -= n
                case .chunked:
                    switch chunks.feed(upIn.readPointer, n, onData: { _, _ in }) {
                    case .needMore: break
                    case .done(let c): n = c
                    case .invalid: return aborted("upstream sent an invalid chunk")
                    }
                default: break
                }
                guard writeAll(fd, UnsafeRawBufferPointer(start: upIn.readPointer, count: n)) else {
                    return aborted("client connection failed")
                }
                sent += n
                upIn.consume(n)
            }
            up.stats[statsSlot].record(status: rHead.status, micros: (Clock.monotonicNanos() - started) / 1000, bytes: sent)
            logLine(line, status: rHead.status, bytes: sent, upstream: up, started: started)
            return clientKeepAlive
        }
        let allDown = route.pool.allUnavailable(snapshot, now: Clock.monotonicNanos())
        reply(allDown ? 503 : 502, allDown ? "no upstream is up" : "no upstream could be reached", close: true)
        logLine(line, status: allDown ? 503 : 502, bytes: 0, upstream: nil, started: started)
        return false
    }

    // MARK: TCP

    /// Relays bytes both ways until both sides are done, with poll and two small buffers.
    func relayTCP() {
        let pool = service.routes.routes[0].pool
        let snapshot = pool.snapshot
        var tried: UInt64 = 0
        let started = Clock.monotonicNanos()
        var upFD: Int32 = -1
        var chosen: Upstream?
        while upFD < 0, let i = pool.pick(snapshot, now: Clock.monotonicNanos(), excluded: tried, rng: &rng) {
            tried |= 1 << UInt64(i & 63)
            do {
                upFD = try Socket.connectBlocking(to: snapshot.upstreams[i].address, timeoutMs: Int32(settings.connectTimeout.milliseconds))
                chosen = snapshot.upstreams[i]
            } catch {
                service.connectFailed(snapshot.upstreams[i], error, now: Clock.monotonicNanos())
            }
        }
        guard let up = chosen else { return }
        defer { Posix.close(upFD) }
        service.connected(up)
        up.active.add(1, ordering: .relaxed)
        defer { up.active.subtract(1, ordering: .relaxed) }
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: upFD, events: Int16(POLLIN), revents: 0)]
        var open = [true, true]
        var buf = [UInt8](repeating: 0, count: 65536)
        var bytes = [0, 0]
        while open[0] || open[1] {
            fds[0].events = open[0] ? Int16(POLLIN) : 0
            fds[1].events = open[1] ? Int16(POLLIN) : 0
            if poll(&fds, 2, Int32(settings.clientIdleTimeout.milliseconds)) <= 0 { break }
            for side in 0..<2 where open[side] && fds[side].revents != 0 {
                let from = side == 0 ? fd : upFD
                let to = side == 0 ? upFD : fd
                let n = Glibc.recv(from, &buf, buf.count, 0)
                if n <= 0 {
                    open[side] = false
                    Socket.shutdownWrite(to)
                    continue
                }
                guard buf.withUnsafeBytes({ writeAll(to, UnsafeRawBufferPointer(start: $0.baseAddress, count: n)) }) else { return }
                bytes[side] += n
            }
        }
        up.stats[statsSlot].record(status: 0, micros: (Clock.monotonicNanos() - started) / 1000, bytes: bytes[1])
        if let log {
            log.buffer.append(address: &peer)
            log.buffer.append(" -> \(up.key) tcp \(bytes[0]) \(bytes[1]) ")
            log.buffer.append(milliseconds: Clock.monotonicNanos() - started)
            log.buffer.append(byte: 0x0A)
            log.flush()
        }
    }

    private enum FinalHead { case head(HTTPResponseHead), nothing, broken, timedOut }

    /// Reads the upstream's response up to its final head; interim (1xx) heads are read past, as this
    /// model forwards only the final one. `nothing`: the upstream closed without a byte (a retry is safe).
    private func readFinalHead(from upFD: Int32, into upIn: ByteBuffer, method: HTTPMethod) -> FinalHead {
        while true {
            var parsed = responseParser.parse(upIn.readable, requestMethod: method)
            while parsed == .needMore {
                switch read(upFD, into: upIn) {
                case .data: parsed = responseParser.parse(upIn.readable, requestMethod: method)
                case .timedOut: return .timedOut
                case .closed: return upIn.isEmpty ? .nothing : .broken
                }
            }
            guard parsed == .complete else { return .broken }
            let head = responseParser.head
            if !head.isInterim { return .head(head) }
            upIn.consume(head.length)
            responseParser.reset()
        }
    }

    // MARK: helpers

    /// While shutting down: whether a request is in the socket or arrives within a moment (it is read, to
    /// be answered with Connection: close rather than lost under the close).
    private func requestWaiting() -> Bool {
        guard Posix.waitReady(fd, POLLIN, ms: ShutdownGrace.milliseconds) else { return false }
        input.reserve(4096)
        let n = Glibc.recv(fd, input.writePointer, input.writableBytes, Int32(MSG_DONTWAIT))
        if n > 0 { input.writerIndex += n }
        return n > 0
    }

    private enum Read { case data, closed, timedOut }

    /// One blocking read; `timedOut` when the socket's receive timeout passed with nothing.
    private func read(_ fd: Int32, into b: ByteBuffer) -> Read {
        switch try? b.receive(from: fd, chunk: 16384) {
        case .processed(let n)? where n > 0: return .data
        case .wouldBlock?: return .timedOut
        default: return .closed
        }
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = Glibc.send(fd, bytes.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL))
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return false }
            off += n
        }
        return true
    }

    /// `bodyless`: the answer to a HEAD, with the length a GET would get and no body.
    private func reply(_ status: Int, _ reason: StaticString, close: Bool, bodyless: Bool = false) {
        let body = "\(status) \(HTTPStatus(status).reason): \(reason)\n"
        output.clear()
        output.append("HTTP/1.1 \(status) \(HTTPStatus(status).reason)\r\nServer: \(settings.serverName)\r\n")
        date.refresh()
        output.appendDateHeader(date)
        output.append("Content-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n")
        if close { output.append("Connection: close\r\n") }
        output.append(bodyless ? "\r\n" : "\r\n" + body)
        _ = writeAll(fd, output.readable)
    }

    private func logLine(_ line: [UInt8]?, status: Int, bytes: Int, upstream: Upstream?, started: UInt64,
                         aborted: StaticString? = nil) {
        guard let log else { return }
        let b = log.buffer
        b.append(address: &peer)
        b.append(" -> ")
        b.append(upstream?.key ?? "-")
        b.append(" \"")
        if let line { b.append(logField: line) } else { b.append(byte: 0x2D) }
        b.append("\" ")
        b.append(decimal: status)
        b.append(byte: 0x20)
        b.append(decimal: bytes)
        b.append(byte: 0x20)
        b.append(milliseconds: Clock.monotonicNanos() - started)
        if let aborted {
            b.append(" aborted: ")
            b.append(aborted)
        }
        b.append(byte: 0x0A)
        log.flush()
    }
}

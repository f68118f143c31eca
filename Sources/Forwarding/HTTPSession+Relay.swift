import Glibc
import HTTPCore
import NetCore

/// Relaying bodies both ways, finishing an exchange, and the answers the proxy gives itself.
extension HTTPSession {
    /// Client → upstream: request body bytes, as they arrive, while the upstream keeps up.
    func pumpRequestBody() {
        guard let up = upstream, requestBody.isActive else { return }
        while !input.isEmpty && up.output.pendingBytes < Self.bodyWindow {
            switch requestBody {
            case .none, .untilClose:
                return
            case .length(let left):
                let n = min(left, input.readableBytes)
                up.output.append(input.readPointer, n)
                input.consume(n)
                requestBody = left == n ? .none : .length(left - n)
            case .chunked(var decoder):
                let available = input.readableBytes
                switch decoder.feed(input.readPointer, available, onData: { _, _ in }) {
                case .needMore:
                    up.output.append(input.readPointer, available)
                    input.consume(available)
                    requestBody = .chunked(decoder)
                case .done(let consumed):
                    up.output.append(input.readPointer, consumed)
                    input.consume(consumed)
                    requestBody = .none
                case .invalid(let error):
                    // Part of this body may have gone upstream already: that connection cannot be reused.
                    if let connection = upstream {
                        detachUpstream()
                        connection.close()
                    }
                    phase = .idle
                    requestBody = .none
                    respondLocal(error.status, reason: error.reason, close: true)
                    lingerOnClose = true
                    log(line: logLine.readable, upstream: nil)
                    return
                }
            }
        }
        if peerClosed && requestBody.isActive && input.isEmpty {
            abortExchange("client closed in the middle of its request body")
        }
    }

    /// Upstream → client: the response head (rewritten), then its body within the client's buffer.
    func pumpResponse() {
        guard let up = upstream else { return }
        while !responseHeadDone {
            guard !up.input.isEmpty else { return }
            switch responseParser.parse(up.input.readable, requestMethod: method) {
            case .needMore:
                // The head fills the whole read buffer and is still not complete.
                if up.input.readableBytes >= Self.highWater { failResponseHead(up, reason: "upstream response head too large") }
                else if up.input.readableBytes >= Self.bodyWindow { responseHeadIsLarge = true }
                return
            case .invalid(let error):
                failResponseHead(up, reason: error.reason)
                return
            case .complete:
                let base = UnsafePointer(up.input.readPointer)
                let head = responseParser.head
                if head.isInterim {
                    // 100 Continue and friends go to the client as they are; the final answer follows. An
                    // HTTP/1.0 client gets none (RFC 9110 §15.2).
                    if head.status != 101 && clientMinor == 1 {
                        output.buffer.append(UnsafeRawBufferPointer(start: base, count: head.length))
                    }
                    up.input.consume(head.length)
                    responseParser.reset()
                    continue
                }
                status = head.status
                switch head.framing {
                case .none: responseBody = .none
                case .length(let n): responseBody = n > 0 ? .length(n) : .none
                case .chunked: responseBody = .chunked(ChunkedDecoder())
                case .untilClose: responseBody = .untilClose
                }
                // HTTP/1.0 clients cannot take chunked: unwrap it and end the body by closing.
                dechunk = clientMinor == 0 && head.framing == .chunked
                if head.framing == .untilClose || dechunk { clientKeepAlive = false }
                if requestBody.isActive { clientKeepAlive = false }   // answered before the body ended
                up.served += 1
                let upstreamReusable = head.keepAlive
                worker.rewriter.writeResponse(head, base, clientMinor: clientMinor, keepAlive: clientKeepAlive,
                                              dechunk: dechunk, into: output.buffer)
                up.input.consume(head.length)
                responseParser.reset()
                responseHeadDone = true
                keepUpstream = upstreamReusable
            }
        }
        pumpResponseBody(up)
        // The upstream closed after sending what the client has now taken whole: finish (or fail) it.
        if upstreamEOF && !closed && upstream === up && up.input.isEmpty { upstreamClosed() }
    }

    /// An upstream answered with a head we cannot pass on: the client gets a 502 of our own instead.
    private func failResponseHead(_ up: UpstreamConnection, reason: StaticString) {
        up.upstream.stats[worker.index].failures.add(1, ordering: .relaxed)
        detachUpstream()
        up.close()
        phase = .idle
        respondLocal(.badGateway, reason: reason, close: true)
        lingerOnClose = requestBody.isActive
        log(line: logLine.readable, upstream: up.upstream)
    }

    /// The body goes to the client from the upstream connection's buffer. What the client's socket does
    /// not take stays there, and the upstream is not read again until it is gone (see `rearm`), so a slow
    /// reader costs one buffer, not a pile of copies.
    private func pumpResponseBody(_ up: UpstreamConnection) {
        defer {
            if shrinkResponseBuffer {
                // What the client has yet to take moves to the smallest block that holds it, and the
                // buffer is back to one window once that has gone.
                up.input.shrink(toFit: Self.bodyWindow)
                if up.input.capacity <= Self.bodyWindow { shrinkResponseBuffer = false }
            }
        }
        while output.pendingBytes < Self.bodyWindow {
            switch responseBody {
            case .none:
                completeExchange(reusable: keepUpstream && !requestBody.isActive)
                return
            case .length(let left):
                if up.input.isEmpty { return }
                let n = min(left, up.input.readableBytes)
                guard let taken = relayToClient(up.input.readPointer, n, last: n == left) else { return }
                up.input.consume(taken)
                bodyBytesToClient += taken
                responseBody = left == taken ? .none : .length(left - taken)
                if taken < n { return }   // the client's socket is full
            case .chunked(let decoder):
                if up.input.isEmpty { return }
                if dechunk {
                    if !dechunkToClient(up, decoder) { return }
                } else if !relayChunksToClient(up, decoder) {
                    return
                }
            case .untilClose:
                if up.input.isEmpty { return }
                let n = up.input.readableBytes
                guard let taken = relayToClient(up.input.readPointer, n, last: false) else { return }
                up.input.consume(taken)
                bodyBytesToClient += taken
                if taken < n { return }
            }
        }
    }

    /// Chunked bytes passed on as they are. The decoder only finds where the body ends; it is advanced
    /// over exactly the bytes the client took. False when the pump should stop for now.
    private func relayChunksToClient(_ up: UpstreamConnection, _ decoder: ChunkedDecoder) -> Bool {
        let available = up.input.readableBytes
        var ahead = decoder
        var data = 0
        var end = available
        var finished = false
        switch ahead.feed(up.input.readPointer, available, onData: { _, n in data += n }) {
        case .needMore: break
        case .done(let consumed): end = consumed; finished = true
        case .invalid:
            // The client has a partial response already; it must see the connection fail.
            abortExchange("upstream sent an invalid chunk")
            return false
        }
        guard let taken = relayToClient(up.input.readPointer, end, last: false) else { return false }
        if taken == end {
            bodyBytesToClient += data
            responseBody = finished ? .none : .chunked(ahead)
        } else {
            // Part went out: the decoder moves over that part only, the rest waits for the client.
            var partial = decoder
            data = 0
            _ = partial.feed(up.input.readPointer, taken, onData: { _, n in data += n })
            bodyBytesToClient += data
            responseBody = .chunked(partial)
        }
        up.input.consume(taken)
        return taken == end
    }

    /// Chunked from the upstream, plain to an HTTP/1.0 client (closed at the end): the data is copied
    /// out of its chunks into the client's queue.
    private func dechunkToClient(_ up: UpstreamConnection, _ decoder: ChunkedDecoder) -> Bool {
        var decoder = decoder
        let out = output
        var data = 0
        let result = decoder.feed(up.input.readPointer, up.input.readableBytes) { p, n in
            out.append(p, n)
            data += n
        }
        bodyBytesToClient += data
        switch result {
        case .needMore:
            up.input.consume(up.input.readableBytes)
            responseBody = .chunked(decoder)
        case .done(let consumed):
            up.input.consume(consumed)
            responseBody = .none
        case .invalid:
            abortExchange("upstream sent an invalid chunk")
            return false
        }
        return true
    }

    /// Response body bytes for the client, from the upstream's buffer: they go out at once, behind what
    /// is queued (the response head), and the count the socket took is returned. The last bytes for a
    /// client that is closed after this response, when they are few, are queued instead, for the flush
    /// that sends them together with the FIN. Nil when the client is gone (aborted).
    @inline(__always)
    private func relayToClient(_ p: UnsafeMutablePointer<UInt8>, _ n: Int, last: Bool) -> Int? {
        if !clientKeepAlive && last && output.pendingBytes + n <= Self.bodyWindow {
            output.append(p, n)
            return n
        }
        do {
            let taken = try output.send(to: fd, queuedThen: p, n)
            if taken < n && responseWindow > Self.bodyWindow {
                // A slow reader: it gets the smallest window, and the buffer gives back what it grew by.
                responseWindow = Self.bodyWindow
                shrinkResponseBuffer = true
            }
            return taken
        } catch {
            abortExchange("client connection failed")
            return nil
        }
    }

    /// The response has been relayed whole: return the upstream connection, log, and go on.
    func completeExchange(reusable: Bool) {
        guard let up = upstream else { return }
        let upstreamInfo = up.upstream
        detachUpstream()
        if reusable && up.input.isEmpty && !worker.draining {
            worker.connectionPool.checkin(up)
        } else {
            up.close()
        }
        let micros = (worker.loop.now &- exchangeStartedAt) / 1000
        upstreamInfo.stats[worker.index].record(status: status, micros: micros, bytes: bodyBytesToClient)
        log(line: logLine.readable, upstream: upstreamInfo)
        phase = .idle
        requestClockStopped = true
        if !clientKeepAlive { closeAfterFlush = true }
        if requestBody.isActive {
            closeAfterFlush = true
            lingerOnClose = true
        }
    }

    // MARK: answers of our own

    /// A short plain-text response from the proxy itself (errors, redirects, 503 when nothing is up).
    func respondLocal(_ status: HTTPStatus, reason: StaticString, close: Bool, location: String? = nil) {
        self.status = status.code
        let b = output.buffer
        b.appendStatusLine(status)
        b.append("Server: ")
        b.append(worker.settings.serverName)
        b.append("\r\n")
        b.appendDateHeader(worker.date)
        if let location { b.appendHeader("Location", location) }
        b.append("Content-Type: text/plain; charset=utf-8\r\n")
        let bodyLength = String(status.code).utf8.count + 1 + status.reason.utf8CodeUnitCount + 2
            + reason.utf8CodeUnitCount + 1
        b.appendHeader("Content-Length", decimal: bodyLength)
        if close || !clientKeepAlive {
            b.append("Connection: close\r\n")
            closeAfterFlush = true
        } else if clientMinor == 0 {
            b.append("Connection: keep-alive\r\n")
        }
        b.append("\r\n")
        bodyBytesToClient = 0
        if method != .head {   // a HEAD answer has the GET's length and no body
            b.append(decimal: status.code)
            b.append(byte: 0x20)
            b.append(status.reason)
            b.append(": ")
            b.append(reason)
            b.append(byte: 0x0A)
            bodyBytesToClient = bodyLength
        }
        phase = .idle
        requestClockStopped = true
    }

    /// `client -> upstream "request line" status bytes duration`, the seeds' balancer log with the choice shown.
    func log(line: UnsafeRawBufferPointer?, upstream: Upstream?, aborted: StaticString? = nil) {
        guard let log = worker.log, !(quietExchange && line != nil) else { return }
        let b = log.buffer
        b.append(address: &peer)
        b.append(" -> ")
        if let upstream { b.append(upstream.key) } else { b.append(byte: 0x2D) }
        b.append(" \"")
        if let line, !line.isEmpty { b.append(logField: line) } else { b.append(byte: 0x2D) }
        b.append("\" ")
        b.append(decimal: status)
        b.append(byte: 0x20)
        b.append(decimal: bodyBytesToClient)
        b.append(byte: 0x20)
        b.append(milliseconds: Clock.monotonicNanos() &- exchangeStartedAt)
        if let aborted {
            b.append(" aborted: ")
            b.append(aborted)
        }
        b.append(byte: 0x0A)
        log.lineDone()
    }
}

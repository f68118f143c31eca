import Glibc
import HTTPCore
import NetCore

/// Starting an exchange: routing, rewriting the request, choosing and reaching an upstream, retries.
extension HTTPSession {
    func beginExchange() {
        let base = UnsafePointer(input.readPointer)
        let head = parser.head
        servedAny = true
        method = head.method
        clientMinor = head.minorVersion
        clientKeepAlive = head.keepAlive && !worker.draining
        requestHasBody = head.hasBody
        exchangeStartedAt = requestStartedAt
        status = 0
        bodyBytesToClient = 0
        quietExchange = false
        if worker.log != nil {
            quietExchange = head.isHealthProbe(base)
            logLine.clear()
            logLine.append(head.requestLine.buffer(in: base))
        }

        if head.method == .connect {
            consumeRequestHead(head)
            respondLocal(.notImplemented, reason: "CONNECT is not supported here", close: true)
            log(line: logLine.readable, upstream: nil)
            return
        }
        if let monitor = worker.settings.monitorPath, head.targetIs(monitor, base) {
            consumeRequestHead(head)
            respondLocal(.ok, reason: "alive", close: !clientKeepAlive || requestHasBody)
            lingerOnClose = requestHasBody
            log(line: logLine.readable, upstream: nil)
            return
        }
        let table = worker.service.routes
        switch table.match(head, base) {
        case .none:
            consumeRequestHead(head)
            respondLocal(.notFound, reason: "no route for this path", close: !clientKeepAlive || requestHasBody)
            log(line: logLine.readable, upstream: nil)
            return
        case .dotSegments:
            consumeRequestHead(head)
            respondLocal(.badRequest, reason: "a . or .. segment in the path", close: true)
            lingerOnClose = requestHasBody
            log(line: logLine.readable, upstream: nil)
            return
        case .redirect(let i):
            var location = table.routes[i].prefix
            let origin = head.origin.buffer(in: base)
            if let q = origin.firstIndex(of: 0x3F) { location += String(decoding: origin[q...], as: UTF8.self) }
            consumeRequestHead(head)
            respondLocal(.movedPermanently, reason: "moved to the folder", close: !clientKeepAlive || requestHasBody, location: location)
            log(line: logLine.readable, upstream: nil)
            return
        case .route(let i):
            route = i
        }

        // Rewrite the head once; it is kept for a replay until the response starts.
        requestHead.clear()
        worker.rewriter.writeRequest(head, base, route: table.routes[route], client: &peer, clientFD: fd, into: requestHead)
        if head.isChunked { requestBody = .chunked(ChunkedDecoder()) }
        else if head.contentLength > 0 { requestBody = .length(head.contentLength) }
        else { requestBody = .none }
        consumeRequestHead(head)
        bodyInHead = method.isIdempotent && keepSmallBodyForReplay()

        snapshot = worker.snapshot(forRoute: route)
        tried = 0
        attempts = 0
        responseStarted = false
        responseHeadDone = false
        responseHeadIsLarge = false
        responseWindow = Self.bodyWindow
        responseParser.reset()
        connectUpstream()
    }

    /// A small body that has arrived whole goes into the kept request head, so an idempotent request
    /// with a body (PUT, DELETE) can be replayed on a fresh connection as one without.
    private func keepSmallBodyForReplay() -> Bool {
        let n: Int
        switch requestBody {
        case .none, .untilClose:
            return false
        case .length(let left):
            guard left <= Self.replayableBodyLimit, left <= input.readableBytes else { return false }
            n = left
        case .chunked(var decoder):
            let available = min(input.readableBytes, Self.replayableBodyLimit)
            guard case .done(let consumed) = decoder.feed(input.readPointer, available, onData: { _, _ in }) else { return false }
            n = consumed
        }
        requestHead.append(UnsafeRawBufferPointer(start: input.readPointer, count: n))
        input.consume(n)
        requestBody = .none
        return true
    }

    private func consumeRequestHead(_ head: HTTPRequestHead) {
        input.consume(head.length)
        parser.reset()
    }

    /// Picks the next upstream and reaches it (pooled connection or a new one).
    func connectUpstream() {
        guard let snapshot else { return }
        let pool = worker.service.routes.routes[route].pool
        let now = worker.loop.now
        guard attempts <= snapshot.upstreams.count, let index = pool.pick(snapshot, now: now, excluded: tried, rng: &worker.rng) else {
            if tried == 0, let newer = worker.catchUp(route: route) {
                self.snapshot = newer
                return connectUpstream()
            }
            let allDown = tried == 0 || pool.allUnavailable(snapshot, now: now)
            phase = .idle
            if allDown {
                respondLocal(.serviceUnavailable, reason: "no upstream is up", close: !clientKeepAlive || requestBody.isActive)
            } else {
                respondLocal(.badGateway, reason: "no upstream could be reached", close: !clientKeepAlive || requestBody.isActive)
            }
            if requestBody.isActive { lingerOnClose = true }
            log(line: logLine.readable, upstream: nil)
            return
        }
        attempts += 1
        tried |= 1 << UInt64(index & 63)
        upstreamIndex = index
        let up = snapshot.upstreams[index]
        up.active.add(1, ordering: .relaxed)
        sentAnything = false

        if let pooled = worker.connectionPool.checkout(up) {
            attach(pooled)
            phase = .exchanging
            beginSending()
            return
        }
        let fd: Int32
        let inProgress: Bool
        do {
            (fd, inProgress) = try Socket.connect(to: up.address)
        } catch {
            up.active.subtract(1, ordering: .relaxed)
            connectFailed(up, error)
            return
        }
        Socket.setNoDelay(fd)
        let connection = UpstreamConnection(fd: fd, upstream: up, worker: worker)
        attach(connection)
        if inProgress {
            connection.connecting = true
            phase = .connecting
            if !connection.setInterest(Events.writable) {
                upstreamFailed(connectFailure: true)
                return
            }
            worker.loop.setDeadline(connection, worker.loop.now &+ worker.settings.connectTimeout.nanos)
            return
        }
        worker.service.connected(up)
        phase = .exchanging
        beginSending()
    }

    private func attach(_ connection: UpstreamConnection) {
        connection.client = self
        upstream = connection
        upstreamEOF = false
    }

    /// Lets go of the upstream connection and its in-flight count (the connection is not closed here).
    func detachUpstream() {
        guard let up = upstream else { return }
        up.client = nil
        up.upstream.active.subtract(1, ordering: .relaxed)
        upstream = nil
        worker.loop.cancelDeadline(up)
    }

    /// Queues the request head; the body follows as `advance` pumps it, and `rearm` runs the clock.
    private func beginSending() {
        guard let up = upstream else { return }
        up.output.buffer.append(requestHead.readable)
    }

    /// A new connection failed (refused, unreachable, timed out): the upstream is marked down (unless
    /// the shortage was ours: out of descriptors) and the next one tried.
    private func connectFailed(_ up: Upstream, _ error: SystemError) {
        worker.service.connectFailed(up, error, now: worker.loop.now)
        up.stats[worker.index].failures.add(1, ordering: .relaxed)
        phase = .connecting
        connectUpstream()
    }

    // MARK: upstream events

    func upstreamEvent(_ connection: UpstreamConnection, _ events: UInt32) {
        guard connection === upstream else { return }
        if connection.connecting {
            let error = connection.finishConnect(events)
            if error != 0 {
                upstreamFailed(connectFailure: true, errno: error)
            } else {
                worker.service.connected(connection.upstream)
                phase = .exchanging
                beginSending()
            }
        } else if events & (Events.readable | Events.readHangup | Events.hangup | Events.error) != 0 {
            // While the client takes each window whole, the next is read in the same wake-up (up to
            // four): a window-sized buffer then costs no extra trips through epoll.
            var rounds = 1
            while readUpstream(connection) && rounds < 4 {
                rounds += 1
                pumpResponse()
                if closed || upstream !== connection || !responseHeadDone || !connection.input.isEmpty
                    || !output.isEmpty || output.blocked { break }
                responseWindow = min(responseWindow * 2, Self.highWater)   // the client keeps up
            }
        }
        // Whatever happened (data, a retry, a local 502/503, the end of a close-delimited body): move on.
        if !closed { advance() }
    }

    func upstreamTimedOut(_ connection: UpstreamConnection) {
        guard connection === upstream else { return }
        if connection.connecting {
            upstreamFailed(connectFailure: true, errno: ETIMEDOUT)
            if !closed { advance() }
            return
        }
        // Slow, not dead: no retry (the request may be running), no marking down.
        connection.upstream.stats[worker.index].failures.add(1, ordering: .relaxed)
        if responseHeadDone {
            abortExchange("upstream went silent in the middle of its response", upstream: connection.upstream)
            return
        }
        detachUpstream()
        connection.close()
        phase = .idle
        respondLocal(.gatewayTimeout, reason: "upstream did not answer in time", close: true)
        lingerOnClose = requestBody.isActive
        log(line: logLine.readable, upstream: connection.upstream)
        if !closed { advance() }
    }

    /// Reads the upstream until its buffer holds a window; true when it stopped for that reason (more
    /// may be waiting), false when the socket is drained, closed or failed.
    @discardableResult
    private func readUpstream(_ up: UpstreamConnection) -> Bool {
        let limit = responseHeadIsLarge ? Self.highWater : (responseHeadDone ? responseWindow : Self.bodyWindow)
        while up.input.readableBytes < limit {
            do {
                switch try up.input.receive(from: up.fd, chunk: 16 * 1024) {
                case .wouldBlock:
                    return false
                case .processed(0):
                    upstreamClosed()
                    return false
                case .processed:
                    responseStarted = true
                    if up.input.writableBytes > 0 { return false }
                }
            } catch {
                upstreamFailed(connectFailure: false)
                return false
            }
        }
        return true
    }

    func flushUpstream() {
        guard let up = upstream, !up.output.isEmpty else { return }
        do {
            _ = try up.output.flush(to: up.fd)
            sentAnything = true
        } catch {
            upstreamFailed(connectFailure: false)
        }
    }

    /// The upstream closed its side. Mid-body that ends a close-delimited response; before any response
    /// byte it is a failure that an idempotent request may be retried after.
    func upstreamClosed() {
        guard let up = upstream else { return }
        if responseHeadDone {
            // Body bytes read before the EOF still go to the client: forward what the client takes now,
            // and the rest once it takes that (`pumpResponse` comes back here when the buffer is empty).
            // The upstream is not read or watched meanwhile: its EOF stays readable.
            upstreamEOF = true
            keepUpstream = false
            if !up.input.isEmpty {
                pumpResponse()
                if closed || upstream !== up || !up.input.isEmpty { return }
            }
            if case .untilClose = responseBody {
                responseBody = .none
                completeExchange(reusable: false)
                return
            }
        }
        upstreamFailed(connectFailure: false)
    }

    /// The upstream connection broke. Retry where it is safe, otherwise answer 502 or cut the client off.
    func upstreamFailed(connectFailure: Bool, errno: Int32 = 0) {
        guard let connection = upstream else { return }
        let up = connection.upstream
        let wasReused = connection.reused
        detachUpstream()
        connection.close()
        up.stats[worker.index].failures.add(1, ordering: .relaxed)
        if connectFailure {
            worker.service.connectFailed(up, SystemError("connect", errno: errno == 0 ? ECONNREFUSED : errno), now: worker.loop.now)
        }
        if responseStarted && responseHeadDone {
            // The client already has part of a response: it must see the connection fail.
            abortExchange("upstream connection failed in the middle of its response", upstream: up)
            return
        }
        // Safe to send again: nothing reached the upstream, or an idempotent request whose body (if any)
        // is kept whole with its head.
        let replayable = !sentAnything || (method.isIdempotent && (!requestHasBody || bodyInHead))
        if !responseStarted && replayable {
            responseParser.reset()
            if wasReused && !connectFailure {
                // A stale pooled connection says nothing about the upstream: try it again, and do not count
                // it as a try (each stale one is closed, so this ends with a fresh connection).
                tried &= ~(1 << UInt64(upstreamIndex & 63))
                attempts -= 1
            }
            phase = .connecting
            connectUpstream()
            if !closed && phase == .exchanging { advance() }
            return
        }
        phase = .idle
        respondLocal(.badGateway, reason: "upstream connection failed", close: true)
        lingerOnClose = requestBody.isActive
        log(line: logLine.readable, upstream: up)
    }
}

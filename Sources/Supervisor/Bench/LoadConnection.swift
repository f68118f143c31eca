import Glibc
import HTTPCore
import NetCore

/// One connection of the load generator: sends a request, reads and checks the whole response, then
/// sends the next (closed loop). Anything short of a complete, well-framed response of the expected
/// length is a failure, never a success.
final class LoadConnection: FDHandler {
    enum Phase { case connecting, sending, readingHead, readingBody, done }

    private unowned(unsafe) let worker: LoadWorker
    private var phase = Phase.connecting
    private let input = ByteBuffer(capacity: 64 * 1024)
    private var parser = HTTPResponseParser()
    private var body = BodyProgress.none
    private var bodyBytes = 0
    private var status = 0
    private var sent = 0
    private var startedAt: UInt64 = 0
    private var responseKeepAlive = true
    var closed = false

    init(fd: Int32, worker: LoadWorker) {
        self.worker = worker
        super.init(fd: fd)
    }

    /// Starts a request on this connection (already connected, or connecting).
    func begin(connecting: Bool, at now: UInt64) {
        startedAt = now
        sent = 0
        bodyBytes = 0
        status = 0
        input.clear()
        parser.reset()
        phase = connecting ? .connecting : .sending
        worker.began(self)
        // No whole response within the timeout (ab's -s): a failure, and the connection is closed.
        worker.loop.setDeadline(self, now &+ worker.config.timeout.nanos)
        if connecting {
            if !worker.loop.setInterest(self, events: Events.writable) { fail() }
        } else {
            send()
        }
    }

    override func handleEvent(_ events: UInt32) {
        switch phase {
        case .connecting:
            if Socket.pendingError(fd) != 0 { fail(); return }
            phase = .sending
            send()
        case .sending:
            send()
        case .readingHead, .readingBody:
            read()
        case .done:
            break
        }
    }

    override func timerFired(now: UInt64) { fail(timedOut: true) }

    private func send() {
        let request = worker.request
        while sent < request.count {
            let n = request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN { _ = worker.loop.setInterest(self, events: Events.writable); return }
                if errno == EINTR { continue }
                fail()
                return
            }
            sent += n
        }
        phase = .readingHead
        if !worker.loop.setInterest(self, events: Events.readable) { fail() }
    }

    private func read() {
        while true {
            if input.writableBytes == 0 {
                // Body bytes were counted already; only the unparsed tail matters.
                input.compact()
                if input.writableBytes == 0 { input.clear() }
            }
            let n = Glibc.read(fd, input.writePointer, input.writableBytes)
            if n < 0 {
                if errno == EAGAIN { return }
                if errno == EINTR { continue }
                fail()
                return
            }
            if n == 0 {
                // The server closed: the end of a close-delimited body, anything else is a failure.
                if phase == .readingBody, case .untilClose = body { finish(reusable: false) } else { fail() }
                return
            }
            worker.bytesReceived += n
            input.writerIndex += n
            if !consume() { return }
            if phase == .done { return }
        }
    }

    /// Parses what arrived; false once the response is finished (or failed).
    private func consume() -> Bool {
        if phase == .readingHead {
            switch parser.parse(input.readable, requestMethod: .get) {
            case .needMore:
                return true
            case .invalid:
                fail()
                return false
            case .complete:
                let head = parser.head
                if head.isInterim {
                    input.consume(head.length)
                    parser.reset()
                    return consume()
                }
                status = head.status
                responseKeepAlive = head.keepAlive
                switch head.framing {
                case .none: body = .none
                case .length(let n): body = n > 0 ? .length(n) : .none
                case .chunked: body = .chunked(ChunkedDecoder())
                case .untilClose: body = .untilClose
                }
                input.consume(head.length)
                phase = .readingBody
            }
        }
        switch body {
        case .none:
            finish(reusable: responseKeepAlive)
            return false
        case .length(let left):
            let n = min(left, input.readableBytes)
            bodyBytes += n
            input.consume(n)
            if n == left {
                body = .none
                finish(reusable: responseKeepAlive && input.isEmpty)
                return false
            }
            body = .length(left - n)
        case .chunked(var decoder):
            var data = 0
            let r = decoder.feed(input.readPointer, input.readableBytes) { _, n in data += n }
            bodyBytes += data
            switch r {
            case .needMore:
                input.consume(input.readableBytes)
                body = .chunked(decoder)
            case .done(let c):
                input.consume(c)
                body = .none
                finish(reusable: responseKeepAlive && input.isEmpty)
                return false
            case .invalid:
                fail()
                return false
            }
        case .untilClose:
            bodyBytes += input.readableBytes
            input.consume(input.readableBytes)
        }
        return true
    }

    /// A whole response: checked, counted, and the next request goes (on this connection if it may).
    private func finish(reusable: Bool) {
        phase = .done
        worker.ended(self)
        let expected = worker.config.expectedBodyLength
        if expected >= 0 && status >= 200 && status < 300 && bodyBytes != expected {
            worker.recordFailure(.lengthMismatch)
            close()
            worker.next(self)
            return
        }
        worker.recordSuccess(status: status, bodyBytes: bodyBytes, latency: Clock.monotonicNanos() &- startedAt)
        if !(reusable && worker.config.keepAlive) { close() }
        worker.next(self)
    }

    private func fail(timedOut: Bool = false) {
        if phase == .done || closed { return }
        let wasConnecting = phase == .connecting
        phase = .done
        worker.ended(self)
        worker.recordFailure(timedOut ? .timeout : wasConnecting ? .connect : .broken)
        close()
        worker.next(self)
    }

    /// The run stopped with this request under way: closed without counting it either way.
    func abandon() {
        phase = .done
        close()
    }

    func close() {
        if closed { return }
        closed = true
        worker.loop.deregister(self, closing: true)
        Posix.close(fd)
    }
}

/// Where a response body stands.
enum BodyProgress {
    case none
    case length(Int)
    case chunked(ChunkedDecoder)
    case untilClose
}

import Glibc
import HTTPCore
import NetCore

/// The `thread` model, for the seeds' threaded-versus-async comparison: an accept loop hands each
/// connection to its own thread, which reads, answers and writes with blocking calls. Same parser and
/// responder as the event model; no in-memory file cache (each thread would hold its own copy).
enum ThreadServer {
    static let server = ThreadPerConnectionServer()

    static func run(sockets: ListeningSockets, site: SiteConfig, settings: ServerSettings) -> Int32 {
        server.run(socket: sockets.perWorker[0], shutdownTimeout: settings.shutdownTimeout, stopListening: sockets.stopListening) { fd, peer in
            serve(fd, peer: peer, site: site, settings: settings)
        }
        return 0
    }

    private static func serve(_ fd: Int32, peer: sockaddr_storage, site: SiteConfig, settings: ServerSettings) {
        var peer = peer
        Socket.setNoDelay(fd)
        // Waits go through poll, so each timeout means what it does in the event model: the header
        // timeout bounds the whole head, the send timeout a stall with no progress.
        guard (try? Posix.setNonBlocking(fd)) != nil else { return }
        let limits = HTTPLimits.default
        let date = DateCache()
        let responder = StaticResponder(site: site, date: date, maxTarget: limits.maxRequestLine)
        let log = settings.quiet ? nil : LogSink(fd: 1)
        let input = ByteBuffer(capacity: 4096)
        let output = OutputQueue(capacity: 4096)
        var parser = HTTPRequestParser(limits: limits)
        var discard = BodyDiscard()
        var first = true
        var started = Clock.monotonicNanos()
        /// When the head being read began (its first byte, or the accept for the first request).
        var headStarted: UInt64? = started

        /// Logged once the response has left (or stopped), with the body bytes that did and the time taken.
        func logLine(_ line: [UInt8]?, _ outcome: StaticResponder.Outcome) {
            guard let log else { return }
            let b = log.buffer
            b.append(address: &peer)
            b.append(" \"")
            if let line { b.append(logField: line) } else { b.append(byte: 0x2D) }
            b.append("\" ")
            b.append(decimal: outcome.status)
            b.append(byte: 0x20)
            b.append(decimal: max(0, outcome.bodyBytes - output.pendingBytes))
            b.append(byte: 0x20)
            b.append(milliseconds: Clock.monotonicNanos() &- started)
            b.append(byte: 0x0A)
            log.flush()
        }

        /// Sends everything queued; false when the client made no progress for the send timeout.
        func send() -> Bool {
            while true {
                switch try? output.flush(to: fd) {
                case .drained?: return true
                case .wouldBlock?: if !Posix.waitReady(fd, POLLOUT, ms: settings.sendTimeout.milliseconds) { return false }
                case nil: return false
                }
            }
        }

        while true {
            // Answer everything already buffered before waiting for more.
            if discard.isActive && !input.isEmpty {
                guard case .consumed(let n, _) = discard.feed(input.readPointer, input.readableBytes) else { return }
                input.consume(n)
                continue
            }
            if !discard.isActive && !input.isEmpty {
                switch parser.parse(input.readable) {
                case .invalid(let error):
                    let outcome = responder.respond(to: error, into: output)
                    _ = send()
                    logLine(nil, outcome)
                    Socket.shutdownWrite(fd)
                    return
                case .complete:
                    let base = UnsafePointer(input.readPointer)
                    let keepAlive = parser.head.keepAlive && settings.keepsAlive && !server.isDraining
                    var outcome = responder.respond(to: parser.head, base: base, keepAlive: keepAlive, into: output)
                    let line = Array(parser.head.requestLine.buffer(in: base))
                    input.consume(parser.head.length)
                    if parser.head.hasBody {
                        if parser.head.contentLength > settings.maxDiscardedBody { outcome.close = true }
                        else { discard.start(parser.head) }
                    }
                    parser.reset()
                    let sent = send()
                    logLine(line, outcome)
                    guard sent, !outcome.close else { return }
                    first = false
                    started = Clock.monotonicNanos()
                    headStarted = nil
                    continue
                case .needMore:
                    break
                }
            }
            let idle = input.isEmpty && !discard.isActive
            if discard.isActive { headStarted = nil }
            else if !idle && headStarted == nil { headStarted = Clock.monotonicNanos() }
            var waitMs = settings.headerTimeout.milliseconds
            if let headStarted {
                waitMs -= Int((Clock.monotonicNanos() &- headStarted) / Clock.nanosPerMilli)
            } else if idle && !first {
                waitMs = settings.keepAliveTimeout.milliseconds
            }
            // Shutting down, an idle keep-alive connection waits only a moment for a request already on its
            // way (answered with Connection: close rather than lost under the close).
            if idle && server.isDraining { waitMs = min(waitMs, ShutdownGrace.milliseconds) }
            server.setIdle(fd, idle)
            let ready = waitMs > 0 && Posix.waitReady(fd, POLLIN, ms: waitMs)
            server.setIdle(fd, false)
            if !ready {
                // A started head gets 408; an idle connection just closes.
                if !idle && !discard.isActive {
                    let outcome = responder.respond(to: HTTPParseError(.requestTimeout, "request header timeout"), into: output)
                    _ = send()
                    logLine(nil, outcome)
                }
                return
            }
            switch try? input.receive(from: fd, chunk: 4096) {
            case .processed(let n)? where n > 0:
                if idle { started = Clock.monotonicNanos() }
            case .wouldBlock?:
                continue
            default:
                return
            }
        }
    }
}

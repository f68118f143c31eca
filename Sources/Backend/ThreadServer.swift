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

        func logLine(_ line: UnsafeRawBufferPointer?, _ outcome: StaticResponder.Outcome) {
            guard let log else { return }
            let b = log.buffer
            b.append(address: &peer)
            b.append(" \"")
            if let line { b.append(line) } else { b.append(byte: 0x2D) }
            b.append("\" ")
            b.append(decimal: outcome.status)
            b.append(byte: 0x20)
            b.append(decimal: outcome.bodyBytes)
            b.append(byte: 0x20)
            b.append(milliseconds: Clock.monotonicNanos() &- started)
            b.append(byte: 0x0A)
            log.flush()
        }

        while true {
            // Answer everything already buffered before blocking for more.
            if discard.isActive && !input.isEmpty {
                guard case .consumed(let n, _) = discard.feed(input.readPointer, input.readableBytes) else { return }
                input.consume(n)
                continue
            }
            if !discard.isActive && !input.isEmpty {
                switch parser.parse(input.readable) {
                case .invalid(let error):
                    logLine(nil, responder.respond(to: error, into: output))
                    _ = try? output.flush(to: fd)
                    Socket.shutdownWrite(fd)
                    return
                case .complete:
                    let base = UnsafePointer(input.readPointer)
                    let keepAlive = parser.head.keepAlive && !server.isDraining
                    var outcome = responder.respond(to: parser.head, base: base, keepAlive: keepAlive, into: output)
                    logLine(parser.head.requestLine.buffer(in: base), outcome)
                    input.consume(parser.head.length)
                    if parser.head.hasBody {
                        if parser.head.contentLength > settings.maxDiscardedBody { outcome.close = true }
                        else { discard.start(parser.head) }
                    }
                    parser.reset()
                    guard (try? output.flush(to: fd)) == .drained, !outcome.close else { return }
                    first = false
                    started = Clock.monotonicNanos()
                    continue
                case .needMore:
                    break
                }
            }
            let idle = input.isEmpty && !discard.isActive
            let waitMs = idle && !first ? settings.keepAliveTimeout.milliseconds : settings.headerTimeout.milliseconds
            Socket.setTimeouts(fd, receiveMs: waitMs, sendMs: settings.sendTimeout.milliseconds)
            server.setIdle(fd, idle)
            if idle && server.isDraining { return }
            let result = try? input.receive(from: fd, chunk: 4096)
            server.setIdle(fd, false)
            switch result {
            case .processed(let n) where n > 0:
                if idle { started = Clock.monotonicNanos() }
            case .wouldBlock:
                // SO_RCVTIMEO expired: a started head gets 408; an idle connection just closes.
                if !idle && !discard.isActive {
                    logLine(nil, responder.respond(to: HTTPParseError(.requestTimeout, "request header timeout"), into: output))
                    _ = try? output.flush(to: fd)
                }
                return
            default:
                return
            }
        }
    }
}

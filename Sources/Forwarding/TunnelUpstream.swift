import NetCore

/// The upstream end of a TCP-mode tunnel. Unlike an HTTP upstream connection it has no buffers and never
/// goes to a pool: its events and timer go straight to the session that owns it.
final class TunnelUpstream: FDHandler {
    unowned(unsafe) let session: TCPSession
    let upstream: Upstream
    var connecting = false

    init(fd: Int32, upstream: Upstream, session: TCPSession) {
        self.session = session
        self.upstream = upstream
        super.init(fd: fd)
    }

    override func handleEvent(_ events: UInt32) { session.upstreamEvent(events) }

    override func timerFired(now: UInt64) { session.upstreamTimedOut() }
}

import NetCore

/// What one socket of an edge-triggered tunnel can do without blocking. Events set the flags; only a
/// call that stops short (EAGAIN, or a read or send shorter than asked) clears them, and any change after
/// that brings a new edge. So a flag is never false while the socket could still make progress.
struct SocketReadiness {
    var readable = false
    var writable = false
    /// The peer's FIN had arrived when the event was read, so everything it sent before is already
    /// queued: a short read that follows has taken it all, and the stream has ended without a read of 0.
    var finReceived = false
    /// An error or a full hang-up was reported: read on past a short read to learn which.
    var broken = false

    @inline(__always)
    mutating func update(_ events: UInt32) {
        if events & (Events.readable | Events.readHangup | Events.hangup | Events.error) != 0 { readable = true }
        if events & Events.readHangup != 0 { finReceived = true }
        if events & (Events.hangup | Events.error) != 0 { broken = true }
        // An error makes a send fail at once, which ends the tunnel: treat it as writable.
        if events & (Events.writable | Events.hangup | Events.error) != 0 { writable = true }
    }
}

import NetCore

/// What one socket of an edge-triggered tunnel can do without blocking. Events set the flags; only a
/// call that stops short (EAGAIN, or a read or send shorter than asked) clears them, and any change after
/// that brings a new edge. So a flag is never false while the socket could still make progress.
struct SocketReadiness {
    var readable = false
    var writable = false
    /// The peer's FIN (or an error) was reported: read on past a short read, to the end.
    var hungUp = false

    static let hangupEvents = Events.readHangup | Events.hangup | Events.error

    @inline(__always)
    mutating func update(_ events: UInt32) {
        if events & (Events.readable | Self.hangupEvents) != 0 { readable = true }
        if events & Self.hangupEvents != 0 { hungUp = true }
        // An error makes a send fail at once, which ends the tunnel: treat it as writable.
        if events & (Events.writable | Events.hangup | Events.error) != 0 { writable = true }
    }
}

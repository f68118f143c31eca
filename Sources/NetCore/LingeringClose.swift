/// Closing a connection whose peer may still be sending (after an error answer, or with a request body
/// left unread): shut our side, then read and drop what arrives for a moment. Closing at once with
/// unread bytes makes the kernel send a reset, which can destroy our answer before the peer reads it
/// (nginx's lingering_close).
public enum LingeringClose {
    public static let period = 2 * Clock.nanosPerSecond

    /// Starts lingering on `h`; false when the peer is already gone (close now).
    public static func start(_ h: FDHandler, on loop: EventLoop, scratch: ByteBuffer) -> Bool {
        Socket.shutdownWrite(h.fd)
        guard loop.setInterest(h, events: Events.readable | Events.readHangup) else { return false }
        loop.setDeadline(h, loop.now &+ period)
        return !peerFinished(h.fd, scratch: scratch)
    }

    /// Reads and drops what the peer sent; true once it has closed its side (or the socket failed).
    public static func peerFinished(_ fd: Int32, scratch: ByteBuffer) -> Bool {
        while true {
            scratch.clear()
            do {
                switch try scratch.receive(from: fd, chunk: 4096) {
                case .wouldBlock: return false
                case .processed(0): return true
                case .processed: continue
                }
            } catch {
                return true
            }
        }
    }
}

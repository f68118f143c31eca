import Glibc

/// A connection that takes one request and gives one answer, then closes (the admin API and the
/// supervisor's control socket). Subclasses read and parse; this sends the answer without blocking the
/// loop (waiting for writability when the socket is full) and closes once it is out.
open class OneShotConnection: FDHandler {
    public unowned let loop: EventLoop
    private var output: [UInt8] = []
    private var sent = 0
    public private(set) var closed = false

    public init(fd: Int32, loop: EventLoop) {
        self.loop = loop
        super.init(fd: fd)
    }

    /// True once an answer has been given (later events only continue sending it).
    public var isAnswering: Bool { !output.isEmpty }

    public func answer(_ bytes: [UInt8]) {
        if closed { return }
        output = bytes
        continueAnswer()
    }

    /// Sends what the socket takes; closes when all is out or the peer is gone.
    public func continueAnswer() {
        while sent < output.count {
            let n = output[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN, loop.setInterest(self, events: Events.writable) { return }
                break
            }
            sent += n
        }
        close()
    }

    public func close() {
        if closed { return }
        closed = true
        loop.deregister(self, closing: true)
        Posix.close(fd)
    }
}

/// Anything registered with an event loop for readiness on one file descriptor.
/// Subclasses override `handleEvent`; the loop hands them the epoll event bits.
open class FDHandler: TimerTarget {
    public let fd: Int32
    /// Bumped on every registration so an event queued for a closed-and-reused fd is dropped.
    var generation: UInt32 = 0
    public internal(set) var registered = false
    public internal(set) var interest: UInt32 = 0

    public init(fd: Int32) {
        self.fd = fd
        super.init()
    }

    open func handleEvent(_ events: UInt32) {}
}

/// Epoll event bits, named.
public enum Events {
    public static let readable: UInt32 = 0x001      // EPOLLIN
    public static let writable: UInt32 = 0x004      // EPOLLOUT
    public static let error: UInt32 = 0x008         // EPOLLERR
    public static let hangup: UInt32 = 0x010        // EPOLLHUP
    public static let readHangup: UInt32 = 0x2000   // EPOLLRDHUP
    public static let exclusive: UInt32 = 1 << 28   // EPOLLEXCLUSIVE
    public static let edgeTriggered: UInt32 = 1 << 31
}

import Glibc

/// A failed system call: which call and the errno it left. Thrown by the `Posix` wrappers for every
/// error that is not EINTR (retried) or EAGAIN (returned as `.wouldBlock`).
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public let call: String
    public let errno: Int32

    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// Whether the call failed for want of something on this machine (descriptors, memory, local ports),
    /// which says nothing about the peer it was for.
    public var isLocalShortage: Bool { SystemError.isLocalShortage(errno) }

    public static func isLocalShortage(_ errno: Int32) -> Bool {
        errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM || errno == EADDRNOTAVAIL
    }

    /// The error for the errno the last call left behind.
    public static func last(_ call: String) -> SystemError {
        SystemError(call, errno: Glibc.errno)
    }

    public var reason: String { String(cString: strerror(errno)) }
    public var description: String { "\(call): \(reason)" }
}

/// The outcome of a non-blocking call that did not fail: how much it did, or that it would block.
public enum IOResult: Equatable, Sendable {
    case processed(Int)
    case wouldBlock
}

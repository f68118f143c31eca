import CLinux
import Glibc

/// Socket creation and options. Every socket is created non-blocking and close-on-exec.
public enum Socket {
    /// Binds and listens on `address`. `reusePort` lets several sockets (one per worker) share the port;
    /// SO_REUSEADDR is always set so a restart does not wait out TIME_WAIT.
    public static func listen(on address: SocketAddress, backlog: Int32 = 4096, reusePort: Bool = false) throws(SystemError) -> Int32 {
        let fd = cl_socket(address.family, CL_SOCK_STREAM)
        if fd < 0 { throw .last("socket") }
        if case .unix(let path) = address.kind { unlink(path) }
        _ = cl_setsockopt_int(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        if reusePort { _ = cl_setsockopt_int(fd, SOL_SOCKET, CL_SO_REUSEPORT, 1) }
        if address.family == AF_INET6 { _ = cl_setsockopt_int(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0) }
        let rc = address.withSockaddr { sa, len in Glibc.bind(fd, sa, len) }
        if rc != 0 {
            let e = SystemError.last("bind")
            Posix.close(fd)
            throw e
        }
        if Glibc.listen(fd, backlog) != 0 {
            let e = SystemError.last("listen")
            Posix.close(fd)
            throw e
        }
        return fd
    }

    /// Starts a non-blocking connect. Returns the fd and whether the connection is still in progress
    /// (wait for writability, then check `pendingError`).
    public static func connect(to address: SocketAddress) throws(SystemError) -> (fd: Int32, inProgress: Bool) {
        let fd = cl_socket(address.family, CL_SOCK_STREAM)
        if fd < 0 { throw .last("socket") }
        while true {
            let rc = address.withSockaddr { sa, len in Glibc.connect(fd, sa, len) }
            if rc == 0 { return (fd, false) }
            let e = errno
            if e == EINTR { continue }
            if e == EINPROGRESS { return (fd, true) }
            Posix.close(fd)
            throw SystemError("connect", errno: e)
        }
    }

    /// Connects and waits up to `timeoutMs` (blocking helper for tests, health checks and control clients).
    public static func connectBlocking(to address: SocketAddress, timeoutMs: Int32) throws(SystemError) -> Int32 {
        let (fd, inProgress) = try connect(to: address)
        if inProgress {
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let n = Glibc.poll(&p, 1, timeoutMs)
            if n <= 0 {
                Posix.close(fd)
                throw SystemError("connect", errno: n == 0 ? ETIMEDOUT : errno)
            }
            let err = pendingError(fd)
            if err != 0 {
                Posix.close(fd)
                throw SystemError("connect", errno: err)
            }
        }
        try Posix.setNonBlocking(fd, false)
        return fd
    }

    /// How a non-blocking connect ended, from its first event: 0 when connected, else the errno. An event
    /// without error or hang-up means connected on Linux, so SO_ERROR is read only when one is flagged.
    @inline(__always)
    public static func connectError(_ fd: Int32, events: UInt32) -> Int32 {
        if events & (Events.error | Events.hangup) == 0 { return 0 }
        return pendingError(fd)
    }

    /// The error a non-blocking connect finished with (SO_ERROR), 0 on success.
    public static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        if cl_getsockopt_int(fd, SOL_SOCKET, CL_SO_ERROR, &value) != 0 { return errno }
        return value
    }

    @inline(__always)
    public static func setNoDelay(_ fd: Int32) {
        _ = cl_setsockopt_int(fd, CL_IPPROTO_TCP, CL_TCP_NODELAY, 1)
    }

    /// For a listening socket whose clients speak first (HTTP); accepted sockets inherit both options.
    /// - TCP_DEFER_ACCEPT: a connection is handed over when its first bytes arrive, not at the handshake,
    ///   so accepting it and reading the request take one wake-up instead of two (Apache httpd's default
    ///   on Linux; nginx's `deferred`). One that stays silent is handed over after about a second anyway.
    /// - TCP_QUICKACK off: the ACK of a request is held back to ride on the response, instead of going
    ///   out alone the moment the request arrives (Linux starts every connection acknowledging at once).
    ///   A response within the delayed-ACK time (40 ms) saves a packet (HAProxy's tcp-smart-accept, on by
    ///   default in its HTTP mode).
    public static func setClientsSpeakFirst(_ fd: Int32) {
        _ = cl_setsockopt_int(fd, CL_IPPROTO_TCP, CL_TCP_DEFER_ACCEPT, 1)
        _ = cl_setsockopt_int(fd, CL_IPPROTO_TCP, CL_TCP_QUICKACK, 0)
    }

    public static func setCork(_ fd: Int32, _ on: Bool) {
        _ = cl_setsockopt_int(fd, CL_IPPROTO_TCP, CL_TCP_CORK, on ? 1 : 0)
    }

    /// Makes close() send RST instead of FIN (aborting a connection that must not look complete).
    public static func setLingerZero(_ fd: Int32) { _ = cl_set_linger_zero(fd) }

    /// Receive/send timeouts for blocking sockets (the thread-per-connection model).
    public static func setTimeouts(_ fd: Int32, receiveMs: Int, sendMs: Int) {
        _ = cl_set_timeout(fd, 0, Int32(receiveMs))
        _ = cl_set_timeout(fd, 1, Int32(sendMs))
    }

    /// Half-closes: the peer reads EOF, and can still send to us.
    public static func shutdownWrite(_ fd: Int32) { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    public static func localAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return rc == 0 ? SocketAddress(storage: &storage) : nil
    }

    public static func peerAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) }
        }
        return rc == 0 ? SocketAddress(storage: &storage) : nil
    }

    /// Connections in a listening socket's accept queue (accepted by the kernel, not yet by the program);
    /// nil when `fd` is not a listening TCP socket.
    public static func acceptQueueLength(_ fd: Int32) -> Int? {
        let n = cl_listen_queue_length(fd)
        return n >= 0 ? Int(n) : nil
    }

    /// True when `fd` is a listening stream socket (used to validate sockets handed down by a parent).
    public static func isListening(_ fd: Int32) -> Bool {
        var value: Int32 = 0
        return cl_getsockopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN, &value) == 0 && value != 0
    }
}

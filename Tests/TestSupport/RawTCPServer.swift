import Foundation
import Glibc
import NetCore
import Synchronization

/// A plain TCP server for tests of the TCP relay: each accepted connection runs `handler` on its own
/// thread with a blocking socket (10 s timeouts), so a test scripts exactly what the upstream says and when.
public final class RawTCPServer: @unchecked Sendable {
    public let port: UInt16
    private let stopped = Atomic<Bool>(false)

    public init(_ handler: @escaping @Sendable (RawConnection) -> Void) throws {
        let fd = try Socket.listen(on: .loopback(port: 0))
        port = Socket.localAddress(fd)?.port ?? 0
        serveConnections(on: fd, name: "raw", until: { [self] in stopped.load(ordering: .relaxed) }) { client in
            handler(RawConnection(fd: client))
        }
    }

    deinit { stopped.store(true, ordering: .relaxed) }
}

/// A blocking TCP connection with deadlines on every call (10 s unless told otherwise).
public final class RawConnection: @unchecked Sendable {
    public let fd: Int32

    init(fd: Int32, timeout: Double = 10) {
        self.fd = fd
        try? Posix.setNonBlocking(fd, false)
        Socket.setTimeouts(fd, receiveMs: Int(timeout * 1000), sendMs: Int(timeout * 1000))
    }

    public convenience init(port: UInt16, timeout: Double = 10) throws {
        self.init(fd: try Socket.connectBlocking(to: .loopback(port: port), timeoutMs: 2000), timeout: timeout)
    }

    deinit { Posix.close(fd) }

    /// `more`: hold the last partial segment back (MSG_MORE) for what follows, such as a FIN.
    public func send(_ bytes: [UInt8], more: Bool = false) throws {
        let flags = Int32(MSG_NOSIGNAL) | (more ? Int32(MSG_MORE) : 0)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, flags) }
            if n <= 0 { throw SystemError.last("send") }
            off += n
        }
    }

    public func send(_ text: String, more: Bool = false) throws { try send(Array(text.utf8), more: more) }

    /// Reads exactly `count` bytes; fewer only if the peer ends first (or a read times out).
    public func read(count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out[got...].withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            got += n
        }
        return Array(out[0..<got])
    }

    /// Reads until the peer ends its side (or a read fails or times out: then `ended` is false).
    public func readToEnd() -> (bytes: [UInt8], ended: Bool) {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return (out, true) }
            if n < 0 { return (out, false) }
            out += chunk[0..<n]
        }
    }

    public func shutdownWrite() { Socket.shutdownWrite(fd) }
}

/// Deterministic pseudo-random bytes (a test payload that no buffer boundary can line up with).
public func patternBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    return (0..<count).map { _ in
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}

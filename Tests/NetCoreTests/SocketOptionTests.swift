import CLinux
import Glibc
import Testing
@testable import NetCore

/// Kernel behaviour the servers rely on, checked on the machine that runs them.
@Suite struct SocketOptionTests {
    private func noDelay(_ fd: Int32) -> Int32 {
        var value: Int32 = -1
        _ = cl_getsockopt_int(fd, CL_IPPROTO_TCP, CL_TCP_NODELAY, &value)
        return value
    }

    /// The TCP balancer sets TCP_NODELAY once on its listening socket instead of on every tunnel.
    @Test func acceptedSockets_inheritNoDelay_fromTheListener() throws {
        for on in [true, false] {
            let listener = try Socket.listen(on: .loopback(port: 0))
            defer { Posix.close(listener) }
            if on { Socket.setNoDelay(listener) }
            let port = try #require(Socket.localAddress(listener)?.port)
            let client = try Socket.connectBlocking(to: .loopback(port: port), timeoutMs: 2000)
            defer { Posix.close(client) }
            var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            #expect(poll(&ready, 1, 2000) == 1)
            var peer = sockaddr_storage()
            let fd = try #require(try Posix.accept(listener, &peer))
            defer { Posix.close(fd) }
            #expect((noDelay(fd) != 0) == on)
        }
    }

    /// HTTP listeners: a connection is handed over with its request already readable, and the accepted
    /// socket holds ACKs back for the response (it inherits the listener's delayed-ACK mode).
    @Test func clientsSpeakFirst_listenerHandsOverConnectionsWithTheirRequest() throws {
        let listener = try Socket.listen(on: .loopback(port: 0))
        defer { Posix.close(listener) }
        Socket.setClientsSpeakFirst(listener)
        let port = try #require(Socket.localAddress(listener)?.port)
        let client = try Socket.connectBlocking(to: .loopback(port: port), timeoutMs: 2000)
        defer { Posix.close(client) }
        var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        #expect(poll(&ready, 1, 300) == 0, "a connection without a request is not handed over yet")
        #expect(Glibc.send(client, "GET / HTTP/1.1\r\n\r\n", 18, Int32(MSG_NOSIGNAL)) == 18)
        #expect(poll(&ready, 1, 2000) == 1)
        var peer = sockaddr_storage()
        let fd = try #require(try Posix.accept(listener, &peer))
        defer { Posix.close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, 64, 0) } == 18)
        var quickAck: Int32 = -1
        _ = cl_getsockopt_int(fd, CL_IPPROTO_TCP, CL_TCP_QUICKACK, &quickAck)
        #expect(quickAck == 0)
    }
}

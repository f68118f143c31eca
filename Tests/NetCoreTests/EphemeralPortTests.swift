import Foundation
import Glibc
import Synchronization
import Testing
@testable import NetCore

/// Ports 44444 and 18000 lie in Linux's ephemeral range, so an outgoing connection can hold one as its
/// local end for a while: binding must wait for that, but not for a real listener.
@Suite struct EphemeralPortTests {
    /// An outgoing connection from 127.0.0.1:`port` to a listener of ours.
    func connectionFrom(port: UInt16, to server: Int32) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try SocketAddress.loopback(port: port).withSockaddr { sa, len in
            if bind(fd, sa, len) != 0 {
                let e = SystemError.last("bind")
                Posix.close(fd)
                throw e
            }
        }
        let target = try #require(Socket.localAddress(server))
        try target.withSockaddr { sa, len in
            if Glibc.connect(fd, sa, len) != 0 { throw SystemError.last("connect") }
        }
        return fd
    }

    @Test func portHeldByAConnection_isWaitedFor_andThenListenedOn() throws {
        // Tests running beside this one pick free ports and connect out too: one may take our port (as a
        // listener, or as its own local end) in a gap we leave. That is interference, not a failure: try
        // again on another port.
        for attempt in 1...5 {
            if try waitForAConnectionToRelease(lastAttempt: attempt == 5) { return }
        }
    }

    /// One run of the scenario; false when another process took the port along the way.
    private func waitForAConnectionToRelease(lastAttempt: Bool) throws -> Bool {
        let server = try Socket.listen(on: .loopback(port: 0))
        defer { Posix.close(server) }
        // A free port: bound once and released.
        let probe = try Socket.listen(on: .loopback(port: 0))
        let port = try #require(Socket.localAddress(probe)?.port)
        Posix.close(probe)
        guard let client = try? connectionFrom(port: port, to: server) else { return false }
        var peer = sockaddr_storage()
        try? Posix.setNonBlocking(server, false)
        let accepted = try #require(try Posix.accept(server, &peer))

        #expect(PortTable.heldOnlyByConnections(port: Int(port)))
        #expect(throws: SystemError.self) { _ = try Socket.listen(on: .loopback(port: port)) }

        let released = Atomic<Bool>(false)
        let closer = OSThread.start(name: "closer") {
            usleep(300_000)
            Posix.close(accepted)   // the peer closes first, so our side does not linger in TIME_WAIT
            usleep(50_000)
            Posix.close(client)
            released.store(true, ordering: .relaxed)
        }
        defer { closer.join() }
        let fd: Int32
        do {
            fd = try Socket.listenWaitingForConnections(on: .loopback(port: port), waitMs: 5_000)
        } catch {
            if !lastAttempt { return false }   // a broken wait fails every attempt, the last one loudly
            throw error
        }
        let wasReleased = released.load(ordering: .relaxed)
        #expect(wasReleased)
        #expect(Socket.isListening(fd))
        Posix.close(fd)
        return true
    }

    @Test func portHeldByAListener_failsAtOnce() throws {
        let holder = try Socket.listen(on: .loopback(port: 0))
        defer { Posix.close(holder) }
        let port = try #require(Socket.localAddress(holder)?.port)
        #expect(!PortTable.heldOnlyByConnections(port: Int(port)))
        #expect(!PortTable.listeningInodes(port: Int(port)).isEmpty)
        let started = Date()
        // "At once" against a 20 s wait: generous, because a loaded CI machine is slow to scan /proc.
        #expect(throws: SystemError.self) { _ = try Socket.listenWaitingForConnections(on: .loopback(port: port), waitMs: 20_000) }
        #expect(Date().timeIntervalSince(started) < 5)
    }

    /// An outgoing connection that closed first leaves its port in TIME_WAIT for 60 s, and no one can
    /// listen there meanwhile (SO_REUSEADDR or not). That ends by itself, so it is waited for longer
    /// than an open connection, and the wait is announced.
    @Test func portHeldByAClosingConnection_isWaitedForLonger_andSaysSo() throws {
        for attempt in 1...5 {
            let server = try Socket.listen(on: .loopback(port: 0))
            defer { Posix.close(server) }
            let probe = try Socket.listen(on: .loopback(port: 0))
            let port = try #require(Socket.localAddress(probe)?.port)
            Posix.close(probe)
            guard let client = try? connectionFrom(port: port, to: server) else { continue }
            var peer = sockaddr_storage()
            try? Posix.setNonBlocking(server, false)
            let accepted = try #require(try Posix.accept(server, &peer))
            Posix.close(client)   // our side closes first: it is the one left in TIME_WAIT
            usleep(50_000)
            Posix.close(accepted)
            usleep(50_000)
            // Another test may have taken the port in a gap we left; then try another.
            guard PortTable.use(port: Int(port)) == .connections(closing: true) || attempt == 5 else { continue }
            #expect(PortTable.use(port: Int(port)) == .connections(closing: true))

            var notes: [String] = []
            let started = Date()
            #expect(throws: SystemError.self) {
                _ = try Socket.listenWaitingForConnections(on: .loopback(port: port), waitMs: 100, closingWaitMs: 1_500) { notes.append($0) }
            }
            #expect(Date().timeIntervalSince(started) >= 1.4, "gave up after the open-connection wait, not the closing one")
            #expect(notes == [PortTable.waitingNote(Int(port), closing: true, limitMs: 1_500)])
            #expect(notes.first?.contains("closing (TIME_WAIT); waiting up to 2 s") == true, "\(notes)")
            return
        }
    }
}

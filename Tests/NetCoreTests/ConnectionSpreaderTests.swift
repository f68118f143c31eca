import Foundation
import Glibc
import Synchronization
import Testing
@testable import NetCore

/// A connection as a loop's table sees it: held open until the test ends.
private final class HeldConnection: DrainableConnection {
    var slot = -1
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    func drain() {}
    deinit { Posix.close(fd) }
}

/// Each loop's connections, kept in a ConnectionTable that reports its load to the spreader.
private final class LoopSide: @unchecked Sendable {
    let thread: LoopThread
    let table: ConnectionTable
    let accepted = Atomic<Int>(0)

    init(_ slot: LoadSlot) throws {
        thread = try LoopThread()
        table = ConnectionTable(load: slot)
    }

    /// Runs on the loop: the connection joins this loop's table.
    func adopt(_ fd: Int32) {
        table.add(HeldConnection(fd: fd))
        accepted.add(1, ordering: .relaxed)
    }
}

/// Keeps a loop's listener alive; used only on that loop.
private final class ListenerBox: @unchecked Sendable {
    var listener: Listener?
}

@Suite struct ConnectionSpreaderTests {
    @Test func aBurstAcceptedByOneLoop_isSharedWithTheIdleOne() throws {
        // Only loop 0 listens (as when the kernel wakes the same loop for a whole burst); loop 1 only
        // takes what it is handed. Without the spreader loop 1 would end with nothing.
        let spreader = ConnectionSpreader(loops: 2)
        let sides = try [LoopSide(spreader.slots[0]), LoopSide(spreader.slots[1])]
        defer { for s in sides { s.thread.stop() } }
        let listenFD = try Socket.listen(on: .loopback(port: 0))
        let port = try #require(Socket.localAddress(listenFD)?.port)
        let registered = DispatchSemaphore(value: 0)
        let listener = ListenerBox()
        sides[0].thread.loop.execute {
            let l = Listener(fd: listenFD, loop: sides[0].thread.loop, shared: true, ownsSocket: true,
                             spreader: spreader, index: 0) { fd, _ in sides[0].adopt(fd) }
            try? l.start()
            listener.listener = l   // touched only on loop 0
            registered.signal()
        }
        sides[1].thread.loop.execute {
            spreader.register(1, loop: sides[1].thread.loop) { fd, _ in sides[1].adopt(fd) }
            registered.signal()
        }
        #expect(registered.wait(timeout: .now() + 5) == .success)
        #expect(registered.wait(timeout: .now() + 5) == .success)

        var clients: [Int32] = []
        defer { for c in clients { Posix.close(c) } }
        for _ in 0..<40 { clients.append(try Socket.connectBlocking(to: .loopback(port: port), timeoutMs: 2000)) }

        let deadline = Date().addingTimeInterval(5)
        while sides[0].accepted.load(ordering: .relaxed) + sides[1].accepted.load(ordering: .relaxed) < 40 && Date() < deadline {
            usleep(1000)
        }
        let a = sides[0].accepted.load(ordering: .relaxed)
        let b = sides[1].accepted.load(ordering: .relaxed)
        #expect(a + b == 40)
        // Kept within the spreader's gap: at most 4 apart, or a quarter of the smaller share.
        #expect(abs(a - b) <= 5, "loop 0 kept \(a), loop 1 was handed \(b)")
        sides[0].thread.loop.execute { listener.listener?.close() }
    }

    @Test func balancedLoops_keepWhatTheyAccept() {
        let spreader = ConnectionSpreader(loops: 3)
        let tables = spreader.slots.map { ConnectionTable(load: $0) }
        let held = (0..<3).map { _ in (0..<10).map { _ in HeldConnection(fd: -1) } }
        for (i, t) in tables.enumerated() { for c in held[i] { t.add(c) } }
        for i in 0..<3 { #expect(spreader.lessLoaded(than: i) == nil) }
        // Loop 2 loses six connections: loops 0 and 1 now hand new ones to it.
        for c in held[2].prefix(6) { tables[2].remove(c) }
        #expect(spreader.lessLoaded(than: 0) == 2)
        #expect(spreader.lessLoaded(than: 1) == 2)
        #expect(spreader.lessLoaded(than: 2) == nil)
    }
}

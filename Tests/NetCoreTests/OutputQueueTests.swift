import Foundation
import Glibc
import Testing
@testable import NetCore

@Suite struct OutputQueueTests {
    /// A connected pair with a tiny send buffer, so writes come back partial and `.wouldBlock`.
    func tightPair() throws -> (writer: Int32, reader: Int32) {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        var small: Int32 = 4096
        setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, 4)
        try Posix.setNonBlocking(fds[0])
        return (fds[0], fds[1])
    }

    /// Flushes `q` until it drains, reading a little each round so the writer keeps meeting a full
    /// socket, then reads the rest: every byte the reader got, and the rounds it took.
    func drain(_ q: OutputQueue, to w: Int32, readingFrom r: Int32) throws -> (received: [UInt8], rounds: Int) {
        var received: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 8192)
        var rounds = 0
        while true {
            let result = try q.flush(to: w)
            let n = read(r, &buf, buf.count)
            if n > 0 { received += buf[0..<n] }
            rounds += 1
            if result == .drained { break }
            #expect(rounds < 100_000)
            if rounds >= 100_000 { break }
        }
        shutdown(w, Int32(SHUT_WR))
        while true {
            let n = read(r, &buf, buf.count)
            if n <= 0 { break }
            received += buf[0..<n]
        }
        return (received, rounds)
    }

    @Test func mixedSegments_arriveInOrderAndExact_despitePartialWrites() throws {
        let (w, r) = try tightPair()
        defer { close(w); close(r) }
        let blob = Blob((0..<100_000).map { UInt8($0 % 251) })
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("oq-\(UUID().uuidString)").path
        let fileBytes = (0..<300_000).map { UInt8(($0 * 7) % 256) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(fileBytes)))
        defer { unlink(path) }
        let file = OpenFile(fd: open(path, O_RDONLY | O_CLOEXEC))

        let q = OutputQueue(capacity: 64)
        q.buffer.append("head-1|")
        q.enqueue(blob, offset: 10, count: 50_000)
        q.buffer.append("|head-2|")
        q.enqueue(file: file, offset: 1000, count: 200_000)
        q.buffer.append("|tail")
        var expected = Array("head-1|".utf8) + Array(blob.bytes[10..<50_010])
        expected += Array("|head-2|".utf8) + Array(fileBytes[1000..<201_000]) + Array("|tail".utf8)
        #expect(q.pendingBytes == 0 || q.pendingBytes <= expected.count)

        let (received, rounds) = try drain(q, to: w, readingFrom: r)
        #expect(rounds > 10)   // really was partial
        #expect(received == expected)
        #expect(q.isEmpty)
    }

    @Test func queue_isReusableAfterDraining() throws {
        let (w, r) = try tightPair()
        defer { close(w); close(r) }
        let q = OutputQueue(capacity: 16)
        var buf = [UInt8](repeating: 0, count: 64)
        for i in 0..<3 {
            q.buffer.append("message \(i);")
            #expect(try q.flush(to: w) == .drained)
            let n = read(r, &buf, 64)
            #expect(String(decoding: buf[0..<n], as: UTF8.self) == "message \(i);")
        }
    }

    /// A relay's body, sent from the caller's memory behind the queued head: when the socket takes it
    /// all nothing is copied, so the queue does not grow to the size of the body.
    @Test func sendQueuedThen_sendsHeadAndBorrowedBodyInOneGo_withoutCopying() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        try Posix.setNonBlocking(fds[0])
        let q = OutputQueue(capacity: 256)
        let body = (0..<40_000).map { UInt8($0 % 253) }
        q.buffer.append("HTTP/1.1 200 OK\r\n\r\n")
        let taken = try body.withUnsafeBytes { try q.send(to: fds[0], queuedThen: $0.baseAddress!, $0.count) }
        #expect(taken == body.count)
        #expect(q.isEmpty && !q.blocked)
        #expect(q.buffer.capacity == 256)
        #expect(q.totalSent == 19 + body.count)
        var received = [UInt8](repeating: 0, count: 50_000)
        let n = read(fds[1], &received, received.count)
        #expect(Array(received[0..<max(n, 0)]) == Array("HTTP/1.1 200 OK\r\n\r\n".utf8) + body)
    }

    /// A full socket takes part of the body and the rest stays with the caller, uncopied: the queue
    /// never grows past its first size however slow the reader, and offering what is left, again and
    /// again as the reader drains, delivers every byte in order.
    @Test func sendQueuedThen_leavesWhatTheSocketDoesNotTakeWithTheCaller() throws {
        let (w, r) = try tightPair()
        defer { close(w); close(r) }
        let q = OutputQueue(capacity: 64)
        q.buffer.append("head|")
        let body = (0..<200_000).map { UInt8($0 % 241) }
        let expected = Array("head|".utf8) + body
        var offset = 0
        var received: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 8192)
        var rounds = 0
        while offset < body.count || received.count < expected.count {
            let taken = try body.withUnsafeBytes { try q.send(to: w, queuedThen: $0.baseAddress! + offset, body.count - offset) }
            offset += taken
            #expect(q.buffer.capacity == 64)
            let n = read(r, &buf, buf.count)
            if n > 0 { received += buf[0..<n] }
            rounds += 1
            if rounds >= 100_000 { Issue.record("no progress"); break }
        }
        #expect(rounds > 2)   // the socket was full at least once
        #expect(received == expected)
        #expect(q.isEmpty)
    }
}

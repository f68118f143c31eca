import Glibc
import Testing
@testable import NetCore

@Suite struct BufferPoolTests {
    func connectedPair() -> [Int32] {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        return fds
    }

    @Test func aParkedBuffer_holdsNoStorage_andTakesItBackWhenWrittenTo() {
        let pool = BufferPool()
        let buffer = ByteBuffer(capacity: 8192, pool: pool)
        #expect(buffer.isParked)
        buffer.append("GET / HTTP/1.1\r\n")
        #expect(!buffer.isParked && buffer.capacity == 8192)
        #expect(buffer.string == "GET / HTTP/1.1\r\n")
        buffer.park(in: pool)
        #expect(!buffer.isParked, "bytes still to be read keep their storage")
        buffer.consume(buffer.readableBytes)
        buffer.park(in: pool)
        #expect(buffer.isParked && pool.keptBytes == 8192)
        // The next connection to get busy takes the same block, without a malloc.
        let other = ByteBuffer(capacity: 8192, pool: pool)
        other.append("x")
        #expect(pool.keptBytes == 0)
        other.consume(1)
        other.park(in: pool)
        buffer.append(decimal: 12345)
        #expect(buffer.string == "12345")
    }

    @Test func aBufferThatGrew_parksItsLargerBlock_andStartsSmallAgain() {
        let pool = BufferPool()
        let buffer = ByteBuffer(capacity: 1024, pool: pool)
        buffer.append([UInt8](repeating: 7, count: 5000))
        #expect(buffer.capacity >= 5000)
        buffer.clear()
        buffer.park(in: pool)
        #expect(pool.keptBytes == 8192)
        buffer.append("small")
        #expect(buffer.capacity == 1024)
    }

    @Test func thePool_keepsNoMoreThanItsLimit_andFreesBlocksOfOtherSizes() {
        let pool = BufferPool(limit: 3 * 4096)
        let buffers = (0..<5).map { _ in ByteBuffer(capacity: 4096, pool: pool) }
        for b in buffers { b.append(byte: 1) }
        for b in buffers { b.clear(); b.park(in: pool) }
        #expect(pool.keptBytes == 3 * 4096)
        let odd = ByteBuffer(capacity: 3000, pool: pool)
        odd.append(byte: 1)
        odd.clear()
        odd.park(in: pool)
        #expect(pool.keptBytes == 3 * 4096)
        let large = ByteBuffer(capacity: 1 << 20, pool: BufferPool())
        large.append(byte: 1)
        #expect(large.capacity == 1 << 20)
    }

    @Test func shrinkToFit_keepsTheUnreadBytes_inTheSmallestBlockThatHoldsThem() {
        let buffer = ByteBuffer(capacity: 64 * 1024)
        let bytes = (0..<60_000).map { UInt8($0 % 251) }
        buffer.append(bytes)
        buffer.consume(40_000)
        buffer.shrink(toFit: 16 * 1024)
        #expect(buffer.capacity == 32 * 1024)
        #expect(buffer.bytes == Array(bytes[40_000...]))
        buffer.consume(buffer.readableBytes)
        buffer.shrink(toFit: 16 * 1024)
        #expect(buffer.capacity == 16 * 1024)
        buffer.append("still usable")
        #expect(buffer.string == "still usable")

        let queued = ByteBuffer(capacity: 64 * 1024, allowsCompaction: false)
        queued.append(bytes)
        queued.consume(50_000)
        queued.shrink(toFit: 16 * 1024)
        #expect(queued.capacity == 64 * 1024, "offsets into it are remembered elsewhere: it never moves")
    }

    @Test func aParkedBuffer_receivesFromASocket() throws {
        let fds = connectedPair()
        defer { close(fds[0]); close(fds[1]) }
        let pool = BufferPool()
        let input = ByteBuffer(capacity: 4096, pool: pool)
        #expect(write(fds[1], "hello", 5) == 5)
        #expect(try input.receive(from: fds[0], chunk: 16384) == .processed(5))
        #expect(input.string == "hello" && input.capacity == 4096)
    }

    @Test func aParkedOutputQueue_sendsWhatIsWrittenNext() throws {
        let fds = connectedPair()
        defer { close(fds[0]); close(fds[1]) }
        let pool = BufferPool()
        let q = OutputQueue(capacity: 8192, pool: pool)
        q.buffer.append("first ")
        q.park(in: pool)
        #expect(!q.buffer.isParked, "queued bytes are never given away")
        #expect(try q.flush(to: fds[0]) == .drained)
        q.park(in: pool)
        #expect(q.buffer.isParked && q.isEmpty)
        q.buffer.append("second")
        #expect(try q.flush(to: fds[0]) == .drained)
        var buf = [UInt8](repeating: 0, count: 64)
        let n = read(fds[1], &buf, 64)
        #expect(String(decoding: buf[0..<max(n, 0)], as: UTF8.self) == "first second")
    }
}

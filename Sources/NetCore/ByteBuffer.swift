import Glibc

/// A growable byte buffer with a read and a write index, owned by one connection on one loop.
/// Bytes between `readerIndex` and `writerIndex` are readable; the space after `writerIndex` is where reads
/// land. One allocation for the life of the connection unless a request needs more room, or, for a
/// connection that parks its buffers while idle (`park(in:)`), one block from its loop's pool while busy.
public final class ByteBuffer {
    public private(set) var base: UnsafeMutablePointer<UInt8>
    /// 0 while parked.
    public private(set) var capacity: Int
    public var readerIndex = 0
    public var writerIndex = 0
    /// False for buffers whose offsets are remembered elsewhere (an output queue's segments): growing
    /// then reallocates but never moves bytes to a new offset.
    public let allowsCompaction: Bool
    /// The size the buffer starts with, and takes again when it leaves its pool.
    private let initialCapacity: Int
    /// Where a parked buffer's storage went, and where it takes storage from again.
    private var pool: BufferPool?
    /// What a parked buffer points at: nothing is ever read from or written to it.
    nonisolated(unsafe) private static let parkedBase = UnsafeMutablePointer<UInt8>.allocate(capacity: 16)

    /// With `pool`, the buffer starts parked there: it takes its storage when first written to, so a
    /// connection that never gets busy never holds any.
    public init(capacity: Int, allowsCompaction: Bool = true, pool: BufferPool? = nil) {
        self.allowsCompaction = allowsCompaction
        initialCapacity = max(capacity, 16)
        self.pool = pool
        if pool != nil {
            self.capacity = 0
            base = Self.parkedBase
        } else {
            self.capacity = initialCapacity
            base = .allocate(capacity: initialCapacity)
        }
    }

    deinit { if capacity > 0 { base.deallocate() } }

    /// Whether the buffer holds no storage (parked in a pool) until bytes are written to it.
    @inline(__always) public var isParked: Bool { capacity == 0 }

    /// Gives the storage of an empty buffer to `pool`; the next write or receive takes storage back.
    /// A no-op while bytes are readable or when already parked.
    @inline(__always)
    public func park(in pool: BufferPool) {
        guard readerIndex == writerIndex, capacity > 0 else { return }
        pool.give(base, capacity: capacity)
        base = Self.parkedBase
        capacity = 0
        readerIndex = 0
        writerIndex = 0
        if self.pool !== pool { self.pool = pool }
    }

    /// Storage for a parked buffer: at least `n` bytes, and at least what it started with.
    private func unpark(atLeast n: Int) {
        let want = max(n, initialCapacity)
        if let pool { (base, capacity) = pool.take(atLeast: want) }
        else { base = .allocate(capacity: want); capacity = want }
    }

    @inline(__always) public var readableBytes: Int { writerIndex - readerIndex }
    @inline(__always) public var writableBytes: Int { capacity - writerIndex }
    @inline(__always) public var isEmpty: Bool { readerIndex == writerIndex }
    @inline(__always) public var readPointer: UnsafeMutablePointer<UInt8> { base + readerIndex }
    @inline(__always) public var writePointer: UnsafeMutablePointer<UInt8> { base + writerIndex }

    /// The readable bytes as a buffer pointer (valid until the next mutation).
    @inline(__always)
    public var readable: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + readerIndex, count: writerIndex - readerIndex)
    }

    @inline(__always)
    public func clear() {
        readerIndex = 0
        writerIndex = 0
    }

    /// Marks `n` readable bytes consumed; resets to the start when everything is consumed.
    @inline(__always)
    public func consume(_ n: Int) {
        readerIndex += n
        if readerIndex == writerIndex { readerIndex = 0; writerIndex = 0 }
    }

    /// Moves the readable bytes to the start so the free space after them is as large as it can be.
    public func compact() {
        if readerIndex == 0 { return }
        let n = readableBytes
        if n > 0 { memmove(base, base + readerIndex, n) }
        readerIndex = 0
        writerIndex = n
    }

    /// Makes room for at least `n` more bytes after `writerIndex`, compacting first, then growing.
    public func reserve(_ n: Int) {
        if writableBytes >= n { return }
        if capacity == 0 {
            unpark(atLeast: n)
            return
        }
        if allowsCompaction {
            compact()
            if writableBytes >= n { return }
        }
        var newCapacity = capacity
        while newCapacity - writerIndex < n { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: writerIndex)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    /// Moves the readable bytes into the smallest block holding them and at least `minimum` bytes (a
    /// power-of-two multiple of it), when that is smaller than the current one: a relay whose reader
    /// stalled keeps only what it has yet to pass on. Never moves a buffer that does not allow compaction.
    public func shrink(toFit minimum: Int) {
        guard allowsCompaction, capacity > minimum else { return }
        let n = readableBytes
        var target = minimum
        while target < n { target *= 2 }
        guard target < capacity else { return }
        let (newBase, newCapacity) = pool?.take(atLeast: target) ?? (.allocate(capacity: target), target)
        if n > 0 { newBase.update(from: base + readerIndex, count: n) }
        if let pool { pool.give(base, capacity: capacity) } else { base.deallocate() }
        base = newBase
        capacity = newCapacity
        readerIndex = 0
        writerIndex = n
    }

    /// Shrinks back to `capacity` bytes when idle, so one large request does not pin memory forever.
    public func shrinkIfIdle(to target: Int) {
        if isEmpty { shrink(toFit: target) }
    }

    @inline(__always)
    public func append(_ pointer: UnsafeRawPointer, _ count: Int) {
        reserve(count)
        (base + writerIndex).update(from: pointer.assumingMemoryBound(to: UInt8.self), count: count)
        writerIndex += count
    }

    @inline(__always)
    public func append(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 0 { append(bytes.baseAddress!, bytes.count) }
    }

    @inline(__always)
    public func append(byte: UInt8) {
        reserve(1)
        base[writerIndex] = byte
        writerIndex += 1
    }

    @inline(__always)
    public func append(_ s: StaticString) {
        append(s.utf8Start, s.utf8CodeUnitCount)
    }

    public func append(_ s: String) {
        var s = s
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    public func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Appends text for a quoted log field: `"`, `\` and bytes outside printable ASCII become `\xHH`, as
    /// nginx writes them, so a request line can neither end its field early nor forge another line.
    public func append(logField bytes: UnsafeRawBufferPointer) {
        guard bytes.contains(where: { $0 < 0x20 || $0 >= 0x7F || $0 == 0x22 || $0 == 0x5C }) else {
            append(bytes)
            return
        }
        let digits: StaticString = "0123456789ABCDEF"
        for b in bytes {
            if b < 0x20 || b >= 0x7F || b == 0x22 || b == 0x5C {
                append("\\x")
                append(byte: digits.utf8Start[Int(b >> 4)])
                append(byte: digits.utf8Start[Int(b & 15)])
            } else {
                append(byte: b)
            }
        }
    }

    public func append(logField bytes: [UInt8]) {
        bytes.withUnsafeBytes { append(logField: $0) }
    }

    /// Appends a non-negative or negative integer in decimal without allocating.
    public func append(decimal value: Int) {
        reserve(20)
        writerIndex += Decimal.write(value, to: base + writerIndex)
    }

    /// Appends an integer in lower-case hex (chunk sizes, ETags).
    public func append(hex value: UInt64) {
        reserve(16)
        writerIndex += Decimal.writeHex(value, to: base + writerIndex)
    }

    /// Receives from socket `fd` into the free space, growing by `chunk` when full. Returns bytes read, 0 at EOF.
    @inline(__always)
    public func receive(from fd: Int32, chunk: Int) throws(SystemError) -> IOResult {
        if writableBytes < 512 {
            if capacity == 0 { unpark(atLeast: 0) } else { reserve(chunk) }
        }
        let r = try Posix.receive(fd, base + writerIndex, capacity - writerIndex)
        if case .processed(let n) = r { writerIndex += n }
        return r
    }

    /// Copies the readable bytes out (tests and slow paths only).
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base + readerIndex, count: readableBytes)) }
    public var string: String { String(decoding: UnsafeBufferPointer(start: base + readerIndex, count: readableBytes), as: UTF8.self) }
}

/// Integer formatting into raw memory, for headers and log lines built without Foundation.
public enum Decimal {
    /// Writes `value` in decimal at `out` (room for 20 bytes needed); returns bytes written.
    @inline(__always)
    public static func write(_ value: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var v = value.magnitude
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &tmp) { raw -> Int in
            let digits = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var n = 0
            repeat {
                digits[n] = UInt8(truncatingIfNeeded: v % 10) &+ 48
                v /= 10
                n += 1
            } while v > 0
            var written = 0
            if value < 0 { out[0] = UInt8(ascii: "-"); written = 1 }
            for i in 0..<n { out[written + i] = digits[n - 1 - i] }
            return written + n
        }
    }

    /// Writes `value` in lower-case hex at `out` (room for 16 bytes needed); returns bytes written.
    @inline(__always)
    public static func writeHex(_ value: UInt64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var n = 1
        var probe = value >> 4
        while probe > 0 { n += 1; probe >>= 4 }
        var v = value
        for i in stride(from: n - 1, through: 0, by: -1) {
            let d = UInt8(truncatingIfNeeded: v & 0xF)
            out[i] = d < 10 ? d &+ 48 : d &+ 87
            v >>= 4
        }
        return n
    }
}

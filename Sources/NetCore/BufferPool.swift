/// Storage blocks for connection buffers, reused on one loop, so that a connection holds buffer memory
/// only while bytes are in flight. A connection that goes idle parks its empty buffers here (see
/// `ByteBuffer.park(in:)`), as nginx and HAProxy free theirs between requests: an idle keep-alive client
/// then costs the backend ~0.8 KB and the balancer ~2.2 KB, not 8 KB buffers each way. The next connection
/// with bytes to hold takes a block back without a malloc.
///
/// Blocks are kept by size, powers of two from 256 bytes to 16 KB, up to `limit` bytes in all; anything
/// else given back is freed. Touched only by the loop's thread.
public final class BufferPool {
    private static let smallestShift = 8
    private static let largestShift = 14
    private var free: [[UnsafeMutablePointer<UInt8>]]
    /// Bytes held in `free`.
    public private(set) var keptBytes = 0
    public let limit: Int
    /// Output queues' segment lists, lent the same way.
    let segmentLists = SpareLists<OutputQueue.Segment>(capacity: 8)

    public init(limit: Int = 2 << 20) {
        self.limit = limit
        free = Array(repeating: [], count: Self.largestShift - Self.smallestShift + 1)
    }

    deinit {
        for list in free { for block in list { block.deallocate() } }
    }

    /// A block of at least `n` bytes and its capacity.
    @inline(__always)
    func take(atLeast n: Int) -> (UnsafeMutablePointer<UInt8>, Int) {
        let shift = Self.classShift(n)
        if shift <= Self.largestShift {
            let i = shift - Self.smallestShift
            let capacity = 1 << shift
            if let block = free[i].popLast() {
                keptBytes -= capacity
                return (block, capacity)
            }
            return (.allocate(capacity: capacity), capacity)
        }
        return (.allocate(capacity: n), n)
    }

    /// Takes back a block of `capacity` bytes: kept for reuse, or freed.
    @inline(__always)
    func give(_ block: UnsafeMutablePointer<UInt8>, capacity: Int) {
        let shift = Self.classShift(capacity)
        guard 1 << shift == capacity, shift <= Self.largestShift, keptBytes + capacity <= limit else {
            block.deallocate()
            return
        }
        free[shift - Self.smallestShift].append(block)
        keptBytes += capacity
    }

    /// The smallest size class (as a power of two) holding `n` bytes.
    @inline(__always)
    private static func classShift(_ n: Int) -> Int {
        if n <= 1 << smallestShift { return smallestShift }
        return Int.bitWidth - (n - 1).leadingZeroBitCount
    }
}

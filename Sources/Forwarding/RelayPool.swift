import CLinux
import Glibc
import NetCore

/// One worker's reusable TCP-relay resources: copy blocks and splice pipes. A tunnel takes them while
/// bytes are in flight and gives them back when idle, so neither malloc nor pipe2 runs per connection
/// and an idle tunnel holds no buffer.
final class RelayPool {
    static let blockSize = 16 * 1024
    static let keepBlocks = 256
    static let keepPipes = 128

    private var blocks: [UnsafeMutableRawPointer] = []
    private var pipes: [(read: Int32, write: Int32)] = []

    init() {
        blocks.reserveCapacity(Self.keepBlocks)
        pipes.reserveCapacity(Self.keepPipes)
    }

    deinit {
        for b in blocks { b.deallocate() }
        for p in pipes { Posix.close(p.read); Posix.close(p.write) }
    }

    @inline(__always)
    func takeBlock() -> UnsafeMutableRawPointer {
        if let b = blocks.popLast() { return b }
        return .allocate(byteCount: Self.blockSize, alignment: 64)
    }

    @inline(__always)
    func give(block: UnsafeMutableRawPointer) {
        if blocks.count < Self.keepBlocks { blocks.append(block) } else { block.deallocate() }
    }

    func takePipe() throws(SystemError) -> (read: Int32, write: Int32) {
        if let p = pipes.popLast() { return p }
        return try Posix.pipe(nonBlocking: true)
    }

    /// Only an empty pipe is kept; one with bytes left in it is closed.
    func give(pipe p: (read: Int32, write: Int32), empty: Bool) {
        if empty && pipes.count < Self.keepPipes {
            pipes.append(p)
        } else {
            Posix.close(p.read)
            Posix.close(p.write)
        }
    }
}

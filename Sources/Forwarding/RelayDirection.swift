import Glibc
import NetCore

/// One direction of a TCP relay. It starts by copying through a small block (recv/send); once a read
/// fills that block — a bulk transfer — it moves to splice(2) through a pipe for the rest of the
/// connection, so large bodies never cross into user space. Short request/response turns skip the
/// pipe's extra descriptors and wake-ups, which cost more than the copy (HAProxy's splice-auto).
///
/// It moves bytes only while the sockets' readiness flags allow, and clears a flag as soon as a call
/// stops short, so with edge-triggered events it makes no call that is bound to fail: a short read means
/// the socket is drained (the next data brings a new edge), a short send means it is full.
struct RelayDirection {
    enum Outcome { case progress, idle, failed }

    private var block: UnsafeMutableRawPointer?
    private var start = 0
    private var end = 0
    private var pipe: (read: Int32, write: Int32)?
    private var inPipe = 0
    private var spliceWanted = false
    private(set) var sourceEOF = false
    private var shutDestination = false
    private(set) var bytes = 0

    static let copyLimit = RelayPool.blockSize
    static let pipeCapacity = 64 * 1024

    var splicing: Bool { pipe != nil }
    /// Bytes read from the source and not yet written to the destination.
    var pending: Int { end - start + inPipe }
    var finished: Bool { sourceEOF && pending == 0 }

    /// Moves what it can without blocking. `otherFinished`: the opposite direction is done, so the
    /// connection closes as soon as this one is (no half-close to send).
    mutating func pump(from source: Int32, _ src: inout SocketReadiness, to destination: Int32,
                       _ dst: inout SocketReadiness, pool: RelayPool, otherFinished: Bool) -> Outcome {
        var moved = false
        do {
            if pipe == nil {
                if try copy(from: source, &src, to: destination, &dst, pool: pool, moved: &moved) {
                    return moved ? .progress : .idle   // the destination is full
                }
                if spliceWanted { pipe = try pool.takePipe() }
            }
            if pipe != nil { try splice(from: source, &src, to: destination, &dst, moved: &moved) }
        } catch {
            return .failed
        }
        return finishHalf(destination, moved, otherFinished: otherFinished)
    }

    /// Copy mode. True when it stopped because the destination is full.
    private mutating func copy(from source: Int32, _ src: inout SocketReadiness, to destination: Int32,
                               _ dst: inout SocketReadiness, pool: RelayPool, moved: inout Bool) throws(SystemError) -> Bool {
        while true {
            if start < end {
                if !dst.writable { return true }
                // The last bytes before a half-close go out with the FIN that follows them, in one segment.
                switch try Posix.send(destination, block! + start, end - start, more: sourceEOF) {
                case .wouldBlock:
                    dst.writable = false
                    return true
                case .processed(let n):
                    start += n
                    bytes += n
                    moved = true
                    if start < end { dst.writable = false; return true }   // short send: its buffer is full
                }
            }
            if spliceWanted || sourceEOF || !src.readable {
                if let b = block { pool.give(block: b); block = nil }   // idle: hold no buffer
                return false
            }
            if block == nil { block = pool.takeBlock() }
            start = 0
            end = 0
            switch try Posix.receive(source, block!, Self.copyLimit) {
            case .wouldBlock:
                src.readable = false
            case .processed(0):
                sourceEOF = true
                moved = true
            case .processed(let n):
                end = n
                moved = true
                // A full block means more is coming: this direction is a bulk transfer.
                if n == Self.copyLimit { spliceWanted = true }
                else if src.broken { }                            // read on: the next call says how it ended
                else if src.finReceived { sourceEOF = true }      // drained up to the FIN: no read of 0 needed
                else { src.readable = false }                     // a short read drained the socket
            }
        }
    }

    /// Splice mode: source socket -> pipe -> destination socket.
    private mutating func splice(from source: Int32, _ src: inout SocketReadiness, to destination: Int32,
                                 _ dst: inout SocketReadiness, moved: inout Bool) throws(SystemError) {
        guard let pipe else { return }
        while true {
            if inPipe > 0 && dst.writable {
                // No SPLICE_F_MORE: a relay cannot know more is coming, and holding a partial
                // segment back costs the peer a 200 ms wait on every request-response turn.
                switch try Posix.splice(from: pipe.read, to: destination, count: inPipe) {
                case .wouldBlock: dst.writable = false
                case .processed(let n): inPipe -= n; bytes += n; moved = true
                }
            }
            if sourceEOF || !src.readable || inPipe >= Self.pipeCapacity { return }
            switch try Posix.splice(from: source, to: pipe.write, count: Self.pipeCapacity - inPipe) {
            case .wouldBlock:
                // EAGAIN means an empty socket or a full pipe; only with an empty pipe is it the socket.
                if inPipe == 0 { src.readable = false; return }
                if !dst.writable { return }
            case .processed(0):
                sourceEOF = true
                moved = true
            case .processed(let n):
                inPipe += n
                moved = true
            }
        }
    }

    /// Half-close: once the source is done and everything is passed on, the destination learns it.
    private mutating func finishHalf(_ destination: Int32, _ moved: Bool, otherFinished: Bool) -> Outcome {
        if sourceEOF && pending == 0 && !shutDestination {
            // Both directions done: the close that follows tells the peer; a shutdown first is a wasted call.
            if !otherFinished { Socket.shutdownWrite(destination) }
            shutDestination = true
            return .progress
        }
        return moved ? .progress : .idle
    }

    /// Hands the block and pipe back (a pipe is reused only when empty).
    mutating func release(to pool: RelayPool) {
        if let b = block { pool.give(block: b) }
        block = nil
        if let p = pipe { pool.give(pipe: p, empty: inPipe == 0) }
        pipe = nil
    }
}

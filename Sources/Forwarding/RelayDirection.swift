import Glibc
import NetCore

/// One direction of a TCP relay. It starts by copying through a small buffer (recv/send); once a read
/// fills that buffer — a bulk transfer — it moves to splice(2) through a pipe for the rest of the
/// connection, so large bodies never cross into user space. Short request/response turns skip the
/// pipe's extra descriptors and wake-ups, which cost more than the copy (HAProxy's splice-auto).
struct RelayDirection {
    enum Outcome { case progress, idle, failed }

    private(set) var buffer: ByteBuffer?
    private(set) var pipe: (read: Int32, write: Int32)?
    private var inPipe = 0
    private var spliceWanted = false
    private(set) var sourceEOF = false
    private var shutDestination = false
    private(set) var bytes = 0
    private var closingAfter = false

    static let copyLimit = 16 * 1024
    static let pipeCapacity = 64 * 1024

    var splicing: Bool { pipe != nil }
    /// Bytes read from the source and not yet written to the destination.
    var pending: Int { (buffer?.readableBytes ?? 0) + inPipe }
    var finished: Bool { sourceEOF && pending == 0 }
    var wantsRead: Bool { !sourceEOF && (splicing ? inPipe < Self.pipeCapacity : (buffer?.readableBytes ?? 0) == 0) }
    var wantsWrite: Bool { pending > 0 }

    /// Moves what it can without blocking. `otherFinished`: the opposite direction is done, so the
    /// connection closes as soon as this one is (no half-close to send).
    mutating func pump(from source: Int32, to destination: Int32, pipes: PipePool, otherFinished: Bool = false) -> Outcome {
        closingAfter = otherFinished
        var moved = false
        do {
            if !splicing {
                if buffer == nil { buffer = ByteBuffer(capacity: Self.copyLimit) }
                let b = buffer!
                while true {
                    if !b.isEmpty {
                        switch try Posix.send(destination, b.readPointer, b.readableBytes) {
                        case .wouldBlock: return moved ? .progress : .idle
                        case .processed(let n): b.consume(n); bytes += n; moved = true
                        }
                        if !b.isEmpty { continue }
                    }
                    if spliceWanted {
                        pipe = try pipes.take()
                        break
                    }
                    if sourceEOF { break }
                    switch try Posix.read(source, b.writePointer, b.writableBytes) {
                    case .wouldBlock: return finishHalf(destination, moved)
                    case .processed(0): sourceEOF = true; moved = true
                    case .processed(let n):
                        b.writerIndex += n
                        moved = true
                        // A full buffer means more is coming: this direction is a bulk transfer.
                        if b.writableBytes == 0 { spliceWanted = true }
                    }
                }
                if !splicing { return finishHalf(destination, moved) }
            }
            guard let pipe else { return .failed }
            while !sourceEOF && inPipe < Self.pipeCapacity {
                switch try Posix.splice(from: source, to: pipe.write, count: Self.pipeCapacity - inPipe) {
                case .wouldBlock: break
                case .processed(0): sourceEOF = true
                case .processed(let n): inPipe += n; moved = true; continue
                }
                break
            }
            while inPipe > 0 {
                // No SPLICE_F_MORE: a relay cannot know more is coming, and holding a partial
                // segment back costs the peer a 200 ms wait on every request-response turn.
                switch try Posix.splice(from: pipe.read, to: destination, count: inPipe) {
                case .wouldBlock: break
                case .processed(let n): inPipe -= n; bytes += n; moved = true; continue
                }
                break
            }
        } catch {
            return .failed
        }
        return finishHalf(destination, moved)
    }

    /// Half-close: once the source is done and everything is passed on, the destination learns it.
    private mutating func finishHalf(_ destination: Int32, _ moved: Bool) -> Outcome {
        if sourceEOF && pending == 0 && !shutDestination {
            // Both directions done: the close that follows tells the peer; a shutdown first is a wasted call.
            if !closingAfter { Socket.shutdownWrite(destination) }
            shutDestination = true
            return .progress
        }
        return moved ? .progress : .idle
    }

    /// Hands the pipe back (reused only when empty).
    mutating func release(to pipes: PipePool) {
        if let p = pipe { pipes.give(p, empty: inPipe == 0) }
        pipe = nil
    }
}

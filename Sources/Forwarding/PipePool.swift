import CLinux
import Glibc
import NetCore

/// Pipes for splice(2), reused across TCP sessions on one worker (two syscalls and four descriptors
/// saved per connection). Only empty pipes come back; one with bytes left in it is closed.
final class PipePool {
    private var free: [(read: Int32, write: Int32)] = []
    static let keep = 128

    func take() throws(SystemError) -> (read: Int32, write: Int32) {
        if let p = free.popLast() { return p }
        return try Posix.pipe(nonBlocking: true)
    }

    func give(_ p: (read: Int32, write: Int32), empty: Bool) {
        if empty && free.count < Self.keep {
            free.append(p)
        } else {
            Posix.close(p.read)
            Posix.close(p.write)
        }
    }
}

/// One direction of a TCP relay: source socket → pipe → destination socket.
struct SpliceDirection {
    var pipe: (read: Int32, write: Int32)?
    var inPipe = 0
    var sourceEOF = false
    var shutDestination = false
    var bytes = 0
    static let capacity = 64 * 1024

    var finished: Bool { sourceEOF && inPipe == 0 }

    enum Outcome { case progress, idle, failed }

    /// Moves what it can: source into the pipe while there is room, the pipe into the destination.
    mutating func pump(from source: Int32, to destination: Int32) -> Outcome {
        guard let pipe else { return .failed }
        var moved = false
        do {
            while !sourceEOF && inPipe < Self.capacity {
                switch try Posix.splice(from: source, to: pipe.write, count: Self.capacity - inPipe) {
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
        if sourceEOF && inPipe == 0 && !shutDestination {
            // Half-close: the other side learns this side is done, and may keep talking back.
            Socket.shutdownWrite(destination)
            shutDestination = true
            moved = true
        }
        return moved ? .progress : .idle
    }
}

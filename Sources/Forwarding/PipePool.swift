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


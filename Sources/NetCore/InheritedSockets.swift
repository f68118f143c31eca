import Glibc

/// Listening sockets handed down by a parent in the systemd convention: `LISTEN_FDS=n` sockets starting at
/// fd 3, for the process named by `LISTEN_PID` (when set), optionally named by `LISTEN_FDNAMES`.
public struct InheritedSockets: Sendable {
    public struct Entry: Sendable {
        public let fd: Int32
        public let name: String?
        public let address: SocketAddress?
    }
    public let entries: [Entry]

    public static let firstFD: Int32 = 3

    /// Reads and clears the environment so the sockets are not claimed twice by our own children.
    public static func fromEnvironment() -> InheritedSockets {
        defer {
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let countText = getenv("LISTEN_FDS").map({ String(cString: $0) }), let count = Int(countText), count > 0 else {
            return InheritedSockets(entries: [])
        }
        if let pidText = getenv("LISTEN_PID").map({ String(cString: $0) }), let pid = Int32(pidText), pid != getpid() {
            return InheritedSockets(entries: [])
        }
        let names = getenv("LISTEN_FDNAMES").map { String(cString: $0).split(separator: ":", omittingEmptySubsequences: false).map(String.init) } ?? []
        var entries: [Entry] = []
        for i in 0..<count {
            let fd = firstFD + Int32(i)
            guard Socket.isListening(fd) else { continue }
            try? Posix.setCloseOnExec(fd, true)
            try? Posix.setNonBlocking(fd, true)
            entries.append(Entry(fd: fd, name: i < names.count ? names[i] : nil, address: Socket.localAddress(fd)))
        }
        return InheritedSockets(entries: entries)
    }

    /// The inherited socket bound to `port`, or the only one when there is exactly one.
    public func socket(forPort port: UInt16?) -> Int32? {
        if let port, let match = entries.first(where: { $0.address?.port == port }) { return match.fd }
        return entries.count == 1 ? entries[0].fd : nil
    }
}

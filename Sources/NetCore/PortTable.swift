import Glibc

/// What the kernel's TCP tables say about a local port (/proc/net/tcp and tcp6).
public enum PortTable {
    /// Socket inodes in LISTEN state on `port`, any local address, IPv4 and IPv6.
    public static func listeningInodes(port: Int) -> [String] {
        sockets(port: port).filter { $0.listening && $0.inode != "0" }.map(\.inode)
    }

    /// True when `port` is taken only as the local end of connections (no listener): with 44444 and
    /// 18000 inside Linux's ephemeral range (32768–60999), an outgoing connection can hold one for a
    /// while, and it frees itself when that connection ends.
    public static func heldOnlyByConnections(port: Int) -> Bool {
        let entries = sockets(port: port)
        return !entries.isEmpty && !entries.contains { $0.listening }
    }

    private struct Entry {
        let listening: Bool
        let inode: String
    }

    private static func sockets(port: Int) -> [Entry] {
        var result: [Entry] = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = readText(table) else { continue }
            // "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid  timeout inode"
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, let portHex = fields[1].split(separator: ":").last,
                      Int(portHex, radix: 16) == port else { continue }
                result.append(Entry(listening: fields[3] == "0A", inode: String(fields[9])))
            }
        }
        return result
    }

    private static func readText(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let bytes = Posix.readAll(fd)
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }

    /// What to tell a user whose port is held by connections, not a listener.
    public static func ephemeralAdvice(_ port: Int) -> String {
        "port \(port) is in use as the local end of an outgoing connection (it lies in Linux's ephemeral "
            + "range, see /proc/sys/net/ipv4/ip_local_port_range) and frees itself when that connection ends; "
            + "try again, or keep the kernel from handing it out: sysctl -w net.ipv4.ip_local_reserved_ports=\(port)"
    }
}

extension Socket {
    /// Listens like `listen(on:)`, but when the port is taken only as the local end of outgoing
    /// connections (no listener), waits up to `waitMs` for them to end before giving up.
    public static func listenWaitingForConnections(on address: SocketAddress, backlog: Int32 = 4096, reusePort: Bool = false,
                                                   waitMs: Int = 10_000) throws(SystemError) -> Int32 {
        let deadline = Clock.monotonicNanos() + UInt64(waitMs) * Clock.nanosPerMilli
        while true {
            do {
                return try listen(on: address, backlog: backlog, reusePort: reusePort)
            } catch {
                guard error.errno == EADDRINUSE, let port = address.port, port != 0,
                      PortTable.heldOnlyByConnections(port: Int(port)), Clock.monotonicNanos() < deadline else { throw error }
                usleep(50_000)
            }
        }
    }
}

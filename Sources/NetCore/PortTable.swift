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
        if case .connections = use(port: port) { return true }
        return false
    }

    /// What holds a local port, from one read of the tables.
    public enum Use: Equatable {
        case unused, listening
        /// Only connections; `closing` when every one of them is on its way out (TIME_WAIT and the other
        /// closing states). An outgoing connection that closed first stays in TIME_WAIT for 60 s, and
        /// until then no one can listen on its port, SO_REUSEADDR or not; but it ends by itself.
        case connections(closing: Bool)
    }

    public static func use(port: Int) -> Use {
        let entries = sockets(port: port)
        if entries.isEmpty { return .unused }
        if entries.contains(where: \.listening) { return .listening }
        return .connections(closing: entries.allSatisfy(\.closing))
    }

    private struct Entry {
        let state: String
        let inode: String
        var listening: Bool { state == "0A" }
        /// FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, LAST_ACK, CLOSING (include/net/tcp_states.h).
        var closing: Bool { ["04", "05", "06", "07", "09", "0B"].contains(state) }
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
                result.append(Entry(state: String(fields[3]), inode: String(fields[9])))
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
    /// How long `listenWaitingForConnections` waits for open outgoing connections on the port to end.
    public static let openConnectionWaitMs = 10_000
    /// How long it waits when all of them are closing: past the 60 s of TIME_WAIT.
    public static let closingConnectionWaitMs = 65_000

    /// Listens like `listen(on:)`, but when the port is taken only as the local end of outgoing
    /// connections (no listener), waits for them to end before giving up: up to `waitMs` for open ones,
    /// up to `closingWaitMs` (past the 60 s of TIME_WAIT) when all of them are closing, since those end
    /// by themselves. `onWait` is told once, when the waiting starts, so no one stares at a silent minute.
    public static func listenWaitingForConnections(on address: SocketAddress, backlog: Int32 = 4096, reusePort: Bool = false,
                                                   waitMs: Int = openConnectionWaitMs, closingWaitMs: Int = closingConnectionWaitMs,
                                                   onWait: (String) -> Void = { try? Posix.writeAll(2, $0 + "\n") }) throws(SystemError) -> Int32 {
        let start = Clock.monotonicNanos()
        var told = false
        while true {
            do {
                return try listen(on: address, backlog: backlog, reusePort: reusePort)
            } catch {
                guard error.errno == EADDRINUSE, let port = address.port, port != 0,
                      case .connections(let closing) = PortTable.use(port: Int(port)) else { throw error }
                let limitMs = closing ? max(waitMs, closingWaitMs) : waitMs
                guard Clock.monotonicNanos() - start < UInt64(limitMs) * Clock.nanosPerMilli else { throw error }
                if !told {
                    told = true
                    onWait(PortTable.waitingNote(Int(port), closing: closing, limitMs: limitMs))
                }
                // Reading the tables costs: with tens of thousands of sockets in TIME_WAIT after a load
                // test, a scan every 50 ms kept a core a quarter busy for the whole minute.
                usleep(closing ? 250_000 : 50_000)
            }
        }
    }
}

extension PortTable {
    /// What a program waiting for `port` says while it waits.
    public static func waitingNote(_ port: Int, closing: Bool, limitMs: Int) -> String {
        let limit = limitMs >= 60_000 ? "a minute or so" : "\((limitMs + 999) / 1000) s"
        return closing
            ? "port \(port) is the local end of an outgoing connection that is closing (TIME_WAIT); waiting up to \(limit) "
                + "for the kernel to let it go (sysctl -w net.ipv4.ip_local_reserved_ports=\(port) keeps this from happening)"
            : "port \(port) is the local end of an outgoing connection; waiting up to \(limit) for it to end"
    }
}

/// Finds the process listening on a TCP port, the way `ss -ltnp` does: the listening socket's inode
/// from /proc/net/tcp{,6}, then the process with an fd linked to `socket:[inode]`. Only processes this
/// user may inspect are found; the caller says so when none is.
struct PortOwner: Equatable {
    var pid: Int32
    /// /proc/<pid>/comm: the program name, at most 15 characters.
    var command: String

    static func find(port: Int) -> PortOwner? {
        let inodes = listeningInodes(port: port)
        guard !inodes.isEmpty else { return nil }
        let targets = Set(inodes.map { "socket:[\($0)]" })
        // Lowest pid first: with a prefork server that is the parent, the process a user would stop.
        for pid in RawFiles.entries("/proc").compactMap(Int32.init).sorted() {
            let fdFolder = "/proc/\(pid)/fd"
            for fd in RawFiles.entries(fdFolder) {
                if let target = RawFiles.linkTarget("\(fdFolder)/\(fd)"), targets.contains(target) {
                    let command = RawFiles.text("/proc/\(pid)/comm")?.trimmingNewline ?? "?"
                    return PortOwner(pid: pid, command: command)
                }
            }
        }
        return nil
    }

    /// Inodes of sockets in LISTEN state (0A) on `port`, on any local address, IPv4 and IPv6.
    static func listeningInodes(port: Int) -> [String] {
        var inodes: [String] = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = RawFiles.text(table) else { continue }
            // "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid  timeout inode"
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[3] == "0A",
                      let portHex = fields[1].split(separator: ":").last, Int(portHex, radix: 16) == port,
                      fields[9] != "0" else { continue }
                inodes.append(String(fields[9]))
            }
        }
        return inodes
    }
}

private extension String {
    var trimmingNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}

import NetCore
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

    static func listeningInodes(port: Int) -> [String] { PortTable.listeningInodes(port: port) }
}

private extension String {
    var trimmingNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}

import CLinux

/// Gives memory back to the system once a burst of connections is over. The allocator keeps what
/// connections freed for reuse, so after 400 slow downloads a balancer would stay at ~40 MB for the
/// rest of its life; a loop that has just closed its last connection, after many, asks it to release
/// its free pages (malloc_trim). Rare by design: at most once a second, and only after a burst.
struct IdleMemoryTrim {
    static let burst = 64
    static let minimumGap: UInt64 = 1_000_000_000

    private var closedSinceTrim = 0
    private var lastTrim: UInt64 = 0

    mutating func connectionClosed(remaining: Int, now: UInt64) {
        closedSinceTrim += 1
        guard remaining == 0, closedSinceTrim >= Self.burst, now &- lastTrim >= Self.minimumGap else { return }
        closedSinceTrim = 0
        lastTrim = now
        _ = cl_malloc_trim()
    }
}

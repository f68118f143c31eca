import Glibc

/// The `HH:MM:SS.mmm ` stamp at the start of every merged line, in the supervisor's local time.
/// `localtime_r` runs once per wall-clock second; between seconds only the milliseconds are rewritten,
/// so stamping a line is a 13-byte copy.
final class LogClock {
    /// Bytes in a stamp, the trailing space included.
    static let width = 13
    /// The current stamp; valid after `refresh()`.
    let bytes: UnsafeMutablePointer<UInt8>
    private var second = Int.min

    init() {
        bytes = .allocate(capacity: Self.width)
        bytes.initialize(repeating: 0x20, count: Self.width)
        tzset()  // localtime_r does not promise to read TZ itself
        refresh()
    }

    deinit { bytes.deallocate() }

    /// Re-reads the wall clock. Called once per read from a pipe, not per line: lines that arrived in one
    /// read arrived together.
    func refresh() {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let s = Int(ts.tv_sec)
        if s != second {
            second = s
            var t = time_t(s)
            var parts = tm()
            localtime_r(&t, &parts)
            put(Int(parts.tm_hour), at: 0)
            bytes[2] = 0x3A
            put(Int(parts.tm_min), at: 3)
            bytes[5] = 0x3A
            put(Int(parts.tm_sec), at: 6)
            bytes[8] = 0x2E
        }
        let ms = Int(ts.tv_nsec) / 1_000_000
        bytes[9] = UInt8(truncatingIfNeeded: 48 + ms / 100)
        bytes[10] = UInt8(truncatingIfNeeded: 48 + ms / 10 % 10)
        bytes[11] = UInt8(truncatingIfNeeded: 48 + ms % 10)
        bytes[12] = 0x20
    }

    private func put(_ value: Int, at i: Int) {
        bytes[i] = UInt8(truncatingIfNeeded: 48 + value / 10 % 10)
        bytes[i + 1] = UInt8(truncatingIfNeeded: 48 + value % 10)
    }
}

import CLinux

/// Monotonic time in nanoseconds; timers and durations use it, never the wall clock.
public enum Clock {
    @inline(__always)
    public static func monotonicNanos() -> UInt64 { cl_monotonic_ns() }

    /// Wall-clock seconds since the epoch (coarse, for Date headers and log stamps).
    @inline(__always)
    public static func wallSeconds() -> Int { Int(cl_realtime_seconds()) }

    public static let nanosPerMilli: UInt64 = 1_000_000
    public static let nanosPerSecond: UInt64 = 1_000_000_000
}

/// A duration given in milliseconds on a command line, kept in nanoseconds.
public struct Timeout: Sendable, Equatable {
    public var nanos: UInt64
    public init(milliseconds: Int) { nanos = UInt64(max(0, milliseconds)) * Clock.nanosPerMilli }
    public init(seconds: Double) { nanos = UInt64(max(0, seconds) * 1e9) }
    public var milliseconds: Int { Int(nanos / Clock.nanosPerMilli) }
}

public enum CPU {
    /// Cores this process may run on (honours affinity masks and cgroup-pinned CPU sets).
    public static var count: Int { Int(cl_cpu_count()) }
}

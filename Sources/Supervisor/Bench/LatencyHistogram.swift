/// Request latencies in microseconds, kept as a log-linear histogram (every value below 128 µs exact,
/// above that 64 buckets per power of two: under 1.6% error), so a million samples cost 18 KB and
/// percentiles come out of one pass.
struct LatencyHistogram: Sendable {
    private(set) var counts = [UInt64](repeating: 0, count: 2304)
    private(set) var count: UInt64 = 0
    private(set) var sumMicros: UInt64 = 0
    private(set) var maxMicros: UInt64 = 0

    @inline(__always)
    static func index(_ v: UInt64) -> Int {
        if v < 128 { return Int(v) }
        let msb = 63 - v.leadingZeroBitCount
        let shift = msb - 6
        let mantissa = Int(v >> UInt64(shift))
        return min(64 + shift * 64 + (mantissa - 64), 2303)
    }

    /// The largest value that lands in bucket `i` (what a percentile reports: never optimistic).
    static func upperBound(_ i: Int) -> UInt64 {
        if i < 128 { return UInt64(i) }
        let shift = (i - 64) / 64
        let mantissa = UInt64(64 + (i - 64) % 64)
        return ((mantissa + 1) << UInt64(shift)) - 1
    }

    @inline(__always)
    mutating func record(micros: UInt64) {
        counts[Self.index(micros)] += 1
        count += 1
        sumMicros += micros
        if micros > maxMicros { maxMicros = micros }
    }

    mutating func merge(_ other: LatencyHistogram) {
        for i in 0..<counts.count { counts[i] += other.counts[i] }
        count += other.count
        sumMicros += other.sumMicros
        maxMicros = max(maxMicros, other.maxMicros)
    }

    /// The latency at or below which `fraction` of the requests finished (0.99 for p99).
    func percentile(_ fraction: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let target = UInt64((Double(count) * fraction).rounded(.up))
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen >= max(1, target) { return min(Self.upperBound(i), maxMicros) }
        }
        return maxMicros
    }

    var meanMicros: Double { count == 0 ? 0 : Double(sumMicros) / Double(count) }
}

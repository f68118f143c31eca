import NetCore
import Synchronization

/// One upstream server. Shared by every worker thread: identity and weight are fixed, everything that
/// changes is atomic. Per-request counters live in per-worker blocks so workers do not fight over them.
public final class Upstream: Sendable {
    public enum State: UInt8, Sendable {
        case up = 0, down = 1, draining = 2

        public var name: String {
            switch self {
            case .up: return "up"
            case .down: return "down"
            case .draining: return "draining"
            }
        }
    }

    public let address: SocketAddress
    /// "HOST:PORT" as given, the key the admin API uses.
    public let key: String
    public let weight: Int
    private let stateValue = Atomic<UInt8>(State.up.rawValue)
    /// Requests (or TCP connections) in flight right now, across all workers: least-conn reads it.
    public let active = Atomic<Int>(0)
    /// Consecutive health-check results, for the rise/fall thresholds.
    let healthStreak = Atomic<Int>(0)
    /// When passively marked down with active checks off: monotonic time to try it again.
    let retryAt = Atomic<UInt64>(0)
    public let stats: [UpstreamStats]

    public init(address: SocketAddress, key: String, weight: Int, workers: Int) {
        self.address = address
        self.key = key
        self.weight = max(1, weight)
        stats = (0..<max(1, workers)).map { _ in UpstreamStats() }
    }

    public var state: State { State(rawValue: stateValue.load(ordering: .relaxed)) ?? .down }

    /// Sets the state; returns the previous one (so only real transitions get logged).
    @discardableResult
    func setState(_ s: State) -> State {
        State(rawValue: stateValue.exchange(s.rawValue, ordering: .relaxed)) ?? .down
    }

    /// Moves up↔down but never out of draining.
    func transition(from: State, to: State) -> Bool {
        stateValue.compareExchange(expected: from.rawValue, desired: to.rawValue, ordering: .relaxed).exchanged
    }

    /// Whether new requests may go here now.
    @inline(__always)
    func isAvailable(now: UInt64) -> Bool {
        let s = stateValue.load(ordering: .relaxed)
        if s == State.up.rawValue { return true }
        if s == State.down.rawValue {
            let at = retryAt.load(ordering: .relaxed)
            return at != 0 && now >= at
        }
        return false
    }
}

/// Counters one worker keeps for one upstream (relaxed atomics: one writer, read by the admin thread).
public final class UpstreamStats: Sendable {
    public let requests = Atomic<UInt64>(0)
    public let failures = Atomic<UInt64>(0)
    public let bytesOut = Atomic<UInt64>(0)
    /// Responses by status class: index 1 = 1xx … 5 = 5xx, 0 = other (TCP connections).
    public let statusClasses: [Counter]
    /// Latency histogram: counts at or below each bound in `LatencyBuckets.bounds` (µs), plus +Inf last.
    public let latency: [Counter]
    public let latencySumMicros = Atomic<UInt64>(0)

    init() {
        statusClasses = (0..<6).map { _ in Counter() }
        latency = (0...LatencyBuckets.bounds.count).map { _ in Counter() }
    }

    @inline(__always)
    func record(status: Int, micros: UInt64, bytes: Int) {
        requests.add(1, ordering: .relaxed)
        let cls = status / 100
        statusClasses[cls >= 1 && cls <= 5 ? cls : 0].add(1)
        latency[LatencyBuckets.index(micros)].add(1)
        latencySumMicros.add(micros, ordering: .relaxed)
        bytesOut.add(UInt64(max(0, bytes)), ordering: .relaxed)
    }
}

/// An atomic counter that can sit in an array (Atomic itself cannot be copied into one).
public final class Counter: Sendable {
    private let value = Atomic<UInt64>(0)

    @inline(__always)
    public func add(_ n: UInt64) { value.add(n, ordering: .relaxed) }

    @inline(__always)
    public func load() -> UInt64 { value.load(ordering: .relaxed) }
}

public enum LatencyBuckets {
    /// Upper bounds in microseconds: 0.5 ms … 10 s.
    public static let bounds: [UInt64] = [500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
                                          500_000, 1_000_000, 2_500_000, 10_000_000]

    @inline(__always)
    static func index(_ micros: UInt64) -> Int {
        var i = 0
        while i < bounds.count && micros > bounds[i] { i += 1 }
        return i
    }
}

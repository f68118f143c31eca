import Glibc
import NetCore
import Synchronization

/// How the next upstream is chosen.
public enum Strategy: String, Sendable, CaseIterable {
    case roundRobin = "round-robin"
    case leastConn = "least-conn"
    case random2 = "random2"
    case weighted = "weighted"
}

/// An immutable view of a pool's upstreams, rebuilt on every change and handed to each worker, so the
/// request path reads it without a lock.
public final class PoolSnapshot: Sendable {
    public let upstreams: [Upstream]
    /// Upstream indices in serving order: each once for round-robin, smooth weighted order otherwise.
    let schedule: [Int]
    /// Counts the pool's changes: a worker never goes back to an older list than the one it has.
    let generation: UInt64

    init(upstreams: [Upstream], weighted: Bool, generation: UInt64 = 0) {
        self.upstreams = upstreams
        self.generation = generation
        schedule = weighted ? PoolSnapshot.smoothWeighted(upstreams.map(\.weight)) : Array(upstreams.indices)
    }

    /// nginx's smooth weighted round-robin, unrolled into one cycle: weights 5,1,1 give a,a,b,a,c,a,a.
    static func smoothWeighted(_ weights: [Int]) -> [Int] {
        guard !weights.isEmpty else { return [] }
        let total = weights.reduce(0, +)
        var current = [Int](repeating: 0, count: weights.count)
        var order: [Int] = []
        order.reserveCapacity(total)
        for _ in 0..<total {
            var best = 0
            for i in weights.indices {
                current[i] += weights[i]
                if current[i] > current[best] { best = i }
            }
            current[best] -= total
            order.append(best)
        }
        return order
    }
}

/// A set of upstreams behind one route, and the strategy that picks among them. The counter behind
/// round-robin is shared by all workers, so requests go strictly in turn across the whole process.
public final class UpstreamPool: Sendable {
    public let name: String
    public let strategy: Strategy
    private let next = Atomic<UInt64>(0)
    private let current: Mutex<PoolSnapshot>
    let workers: Int

    public init(name: String, strategy: Strategy, upstreams: [Upstream], workers: Int) {
        self.name = name
        self.strategy = strategy
        self.workers = workers
        current = Mutex(PoolSnapshot(upstreams: upstreams, weighted: strategy == .weighted))
    }

    public var snapshot: PoolSnapshot { current.withLock { $0 } }

    /// Replaces the upstream list (admin changes); returns the new snapshot for the workers.
    func update(_ change: ([Upstream]) -> [Upstream]) -> PoolSnapshot {
        current.withLock { snap in
            snap = PoolSnapshot(upstreams: change(snap.upstreams), weighted: strategy == .weighted, generation: snap.generation + 1)
            return snap
        }
    }

    /// Picks an upstream from `snapshot` that is available and not in `excluded` (tried already).
    /// nil when none is: the caller answers 503 (all down) or 502 (all tried).
    @inline(__always)
    func pick(_ snapshot: PoolSnapshot, now: UInt64, excluded: UInt64, rng: inout FastRandom) -> Int? {
        let ups = snapshot.upstreams
        let n = ups.count
        if n == 0 { return nil }
        switch strategy {
        case .roundRobin, .weighted:
            // A turn that lands on an unavailable upstream is spent and the next turn taken, rather than
            // handing that turn to its neighbour: with one of three down, the other two get half each,
            // not one a quarter and the other three quarters.
            let schedule = snapshot.schedule
            var turn = 0
            for _ in 0..<schedule.count {
                turn = Int(next.wrappingAdd(1, ordering: .relaxed).oldValue % UInt64(schedule.count))
                let i = schedule[turn]
                if excluded & (1 << UInt64(i & 63)) == 0 && ups[i].isAvailable(now: now) { return i }
            }
            // Other workers took turns in between, so some entries were never looked at (with one upstream
            // of five left, it could be missed and the request get a 503): look at each once more, in order.
            for k in 1...schedule.count {
                let i = schedule[(turn + k) % schedule.count]
                if excluded & (1 << UInt64(i & 63)) == 0 && ups[i].isAvailable(now: now) { return i }
            }
            return nil
        case .leastConn:
            // Fewest in flight; ties go round-robin so equal upstreams share the load.
            let start = Int(next.wrappingAdd(1, ordering: .relaxed).oldValue % UInt64(n))
            var best: Int?
            var bestActive = Int.max
            for k in 0..<n {
                let i = (start + k) % n
                guard excluded & (1 << UInt64(i & 63)) == 0, ups[i].isAvailable(now: now) else { continue }
                let a = ups[i].active.load(ordering: .relaxed)
                if a < bestActive { best = i; bestActive = a }
            }
            return best
        case .random2:
            // Power of two choices: two distinct random candidates, the less busy one wins.
            var available = 0
            for i in 0..<n where excluded & (1 << UInt64(i & 63)) == 0 && ups[i].isAvailable(now: now) { available += 1 }
            if available == 0 { return nil }
            let first = rng.next(below: available)
            var second = available > 1 ? rng.next(below: available - 1) : first
            if available > 1 && second >= first { second += 1 }
            var a = -1, b = -1, rank = 0
            for i in 0..<n where excluded & (1 << UInt64(i & 63)) == 0 && ups[i].isAvailable(now: now) {
                if rank == first { a = i }
                if rank == second { b = i }
                rank += 1
            }
            return ups[a].active.load(ordering: .relaxed) <= ups[b].active.load(ordering: .relaxed) ? a : b
        }
    }

    /// True when no upstream is available at all (the answer is 503, not 502).
    func allUnavailable(_ snapshot: PoolSnapshot, now: UInt64) -> Bool {
        !snapshot.upstreams.contains { $0.isAvailable(now: now) }
    }
}

/// xorshift64*: a per-worker random source for load balancing (no syscall, no lock, not for secrets).
public struct FastRandom: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }

    @inline(__always)
    public mutating func next(below n: Int) -> Int { Int(next() % UInt64(n)) }
}

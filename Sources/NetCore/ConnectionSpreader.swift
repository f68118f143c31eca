import Glibc
import Synchronization

/// One loop's connection count, on a cache line of its own (the other loops read it on every accept).
public final class LoadSlot: @unchecked Sendable {
    /// Connections the loop holds.
    let connections = Atomic<Int>(0)
    /// Connections handed to the loop and not yet adopted by it.
    let incoming = Atomic<Int>(0)
    private let padding: (Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0)

    public init() {}

    @inline(__always)
    var load: Int { connections.load(ordering: .relaxed) &+ incoming.load(ordering: .relaxed) }
}

/// Keeps the loops that share one listening socket evenly loaded. The kernel gives a burst of new
/// connections to whichever loop is awake, so keep-alive clients that open all their connections at once
/// (wrk, a browser, a pool) can land nearly all on one loop and stay there while the other loops idle.
/// A loop that accepts while clearly busier than the least loaded one hands the new connection over
/// (HAProxy's per-thread accept queues do the same). Under steady load the counts stay close and nothing
/// moves, so a short-lived connection pays for two relaxed loads and nothing else.
public final class ConnectionSpreader: @unchecked Sendable {
    public typealias Adopt = (_ fd: Int32, _ peer: UnsafePointer<sockaddr_storage>) -> Void

    public let slots: [LoadSlot]
    private let receivers: Mutex<[Receiver?]>
    /// Hand over only past this many connections more than the least loaded loop (or a quarter more).
    static let minimumGap = 4

    private struct Receiver: @unchecked Sendable {   // its closure is only ever run on its own loop
        let loop: EventLoop
        let adopt: Adopt
    }

    /// A spreader for `loops` loops accepting on `sockets`, or nil when there is nothing to even out
    /// (one loop, or a socket per loop).
    public static func sharing(_ sockets: ListeningSockets, loops: Int) -> ConnectionSpreader? {
        sockets.shared && loops > 1 ? ConnectionSpreader(loops: loops) : nil
    }

    public init(loops: Int) {
        slots = (0..<loops).map { _ in LoadSlot() }
        receivers = Mutex(Array(repeating: nil, count: loops))
    }

    /// Loop `index` takes connections handed to it with `adopt`, run on `loop`.
    public func register(_ index: Int, loop: EventLoop, adopt: @escaping Adopt) {
        receivers.withLock { $0[index] = Receiver(loop: loop, adopt: adopt) }
    }

    /// Loop `index` takes no more (its listener closed for a graceful stop).
    public func unregister(_ index: Int) {
        receivers.withLock { $0[index] = nil }
    }

    /// The loop that should take a connection accepted by loop `index`, when it is not `index` itself.
    @inline(__always)
    public func lessLoaded(than index: Int) -> Int? {
        let mine = slots[index].load
        var best = index
        var bestLoad = mine
        for j in slots.indices where j != index {
            let load = slots[j].load
            if load < bestLoad { best = j; bestLoad = load }
        }
        guard best != index, mine - bestLoad >= max(Self.minimumGap, bestLoad / 4) else { return nil }
        return best
    }

    /// Passes an accepted connection to loop `target`; false (keep it) when that loop is not taking any.
    public func handOff(_ fd: Int32, _ peer: UnsafePointer<sockaddr_storage>, to target: Int) -> Bool {
        guard let receiver = receivers.withLock({ $0[target] }) else { return false }
        let slot = slots[target]
        slot.incoming.add(1, ordering: .relaxed)
        let address = peer.pointee
        receiver.loop.execute {
            slot.incoming.subtract(1, ordering: .relaxed)
            var address = address
            receiver.adopt(fd, &address)
        }
        return true
    }
}

import Synchronization

/// A connection a worker keeps in its table and can ask to finish up (graceful shutdown).
public protocol DrainableConnection: AnyObject {
    /// Its index in the table (kept by the table).
    var slot: Int { get set }
    /// Close now if idle; otherwise close after the response in progress.
    func drain()
    /// The shutdown timeout passed: close now, logging what is cut short.
    func cut()
}

public extension DrainableConnection {
    func cut() {}
}

/// On a graceful stop, how long an idle keep-alive connection stays open for a request already on its
/// way: answered (with Connection: close) rather than lost under the close. Every model uses it.
public enum ShutdownGrace {
    public static let milliseconds = 100
    public static let nanos = UInt64(milliseconds) * Clock.nanosPerMilli
}

/// One loop's live connections, added and removed in O(1) by slot, and the graceful-shutdown
/// bookkeeping: once draining, `done` runs when the last connection has gone.
public final class ConnectionTable {
    private var items: [DrainableConnection] = []
    public private(set) var draining = false
    private var onDrained: (() -> Void)?
    /// Where other loops see how many connections this one holds (when a spreader evens them out).
    private let load: LoadSlot?

    public init(load: LoadSlot? = nil) {
        self.load = load
    }

    public var count: Int { items.count }

    public func add(_ c: DrainableConnection) {
        c.slot = items.count
        items.append(c)
        load?.connections.add(1, ordering: .relaxed)
    }

    public func remove(_ c: DrainableConnection) {
        let i = c.slot
        guard i >= 0, i < items.count, items[i] === c else { return }
        let last = items.count - 1
        if i != last {
            items[i] = items[last]
            items[i].slot = i
        }
        items.removeLast()
        c.slot = -1
        load?.connections.subtract(1, ordering: .relaxed)
        if draining && items.isEmpty { fireDrained() }
    }

    /// Asks every connection to finish; `done` runs once none is left (at once if there are none).
    public func drainAll(_ done: @escaping () -> Void) {
        draining = true
        onDrained = done
        for c in items { c.drain() }   // a copy: drain() may remove entries
        if items.isEmpty { fireDrained() }
    }

    /// Cuts every connection still open (a copy: cut() removes entries).
    public func cutAll() {
        for c in items { c.cut() }
    }

    private func fireDrained() {
        let done = onDrained
        onDrained = nil
        done?()
    }
}

/// Something on a loop that can time out. Each target has at most one entry in its loop's timer heap;
/// moving a deadline later costs a field write, and the entry re-queues itself when it comes due early.
open class TimerTarget {
    /// When the target wants `timerFired` (monotonic ns); 0 = no deadline.
    public internal(set) var deadline: UInt64 = 0
    /// The key of this target's heap entry, or 0 when it has none.
    var queuedAt: UInt64 = 0
    var heapIndex: Int = -1

    public init() {}

    /// Called on the loop thread once `deadline` has passed.
    open func timerFired(now: UInt64) {}
}

/// An indexed binary min-heap of timer targets keyed by `queuedAt`; removal is O(log n) so a closed
/// connection leaves nothing behind.
struct TimerHeap {
    private(set) var items: [TimerTarget] = []

    var isEmpty: Bool { items.isEmpty }
    // Indexing rather than `first`: unspecialised generic helpers allocate in debug builds.
    var earliest: UInt64? { items.isEmpty ? nil : items[0].queuedAt }

    mutating func push(_ t: TimerTarget, at key: UInt64) {
        t.queuedAt = key
        t.heapIndex = items.count
        items.append(t)
        siftUp(items.count - 1)
    }

    mutating func remove(_ t: TimerTarget) {
        let i = t.heapIndex
        guard i >= 0, i < items.count, items[i] === t else { return }
        let last = items.count - 1
        if i != last {
            items.swapAt(i, last)
            items[i].heapIndex = i
        }
        items.removeLast()
        t.heapIndex = -1
        t.queuedAt = 0
        if i < items.count {
            siftDown(i)
            siftUp(i)
        }
    }

    /// Moves an already-queued target to an earlier key.
    mutating func decrease(_ t: TimerTarget, to key: UInt64) {
        t.queuedAt = key
        siftUp(t.heapIndex)
    }

    mutating func popIfDue(_ now: UInt64) -> TimerTarget? {
        guard !items.isEmpty, items[0].queuedAt <= now else { return nil }
        let first = items[0]
        remove(first)
        return first
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent].queuedAt <= items[i].queuedAt { break }
            items.swapAt(parent, i)
            items[parent].heapIndex = parent
            items[i].heapIndex = i
            i = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = items.count
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var m = l
            if l + 1 < n && items[l + 1].queuedAt < items[l].queuedAt { m = l + 1 }
            if items[i].queuedAt <= items[m].queuedAt { break }
            items.swapAt(i, m)
            items[i].heapIndex = i
            items[m].heapIndex = m
            i = m
        }
    }
}

/// Arrays lent out on one loop, for lists a connection needs only while it is busy (parsed header
/// fields, an output queue's segments): a connection that waits gives its list back, and the next one
/// to get busy takes it, so an idle connection holds none and a busy one allocates none.
/// Touched only by the loop's thread.
public final class SpareLists<Element> {
    @usableFromInline var spare: [[Element]] = []
    /// Room reserved in a new list; lists grown far beyond it are not kept.
    @usableFromInline let capacity: Int
    @usableFromInline let keep: Int

    public init(capacity: Int, keep: Int = 1024) {
        self.capacity = capacity
        self.keep = keep
    }

    /// An empty list with room for `capacity` elements.
    @inlinable
    public func take() -> [Element] {
        if let list = spare.popLast() { return list }
        var list: [Element] = []
        list.reserveCapacity(capacity)
        return list
    }

    /// Takes `list` back, leaving it empty and without storage.
    @inlinable
    public func give(_ list: inout [Element]) {
        guard list.capacity > 0 else { return }
        var taken: [Element] = []
        swap(&taken, &list)
        guard spare.count < keep, taken.capacity <= capacity * 4 else { return }
        taken.removeAll(keepingCapacity: true)
        spare.append(taken)
    }
}

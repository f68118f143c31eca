/// Receivers of the merged stream besides the terminal and the file (`supervisor logs -f` clients). Each
/// gets every finished line, plain, "\n" included, as a pointer valid only during the call; it copies what
/// it keeps and returns false to be removed (a client that went away).
final class LogSubscribers {
    typealias Sink = (UnsafeRawBufferPointer) -> Bool

    private var entries: [(id: Int, sink: Sink)] = []
    private var nextID = 1

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }

    func add(_ sink: @escaping Sink) -> Int {
        let id = nextID
        nextID += 1
        entries.append((id, sink))
        return id
    }

    func remove(_ id: Int) {
        entries.removeAll { $0.id == id }
    }

    func publish(_ line: UnsafeRawBufferPointer) {
        // Iterate a snapshot (a retain, not a copy): a sink may subscribe or unsubscribe from inside.
        let current = entries
        for entry in current where !entry.sink(line) { remove(entry.id) }
    }
}

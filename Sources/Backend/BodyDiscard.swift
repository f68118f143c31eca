import HTTPCore

/// Reads past a request body the backend has no use for, so the next request on the connection parses.
struct BodyDiscard {
    private enum Mode { case none, length(Int), chunked(ChunkedDecoder) }
    private var mode = Mode.none

    var isActive: Bool {
        if case .none = mode { return false }
        return true
    }

    mutating func start(_ head: HTTPRequestHead) {
        if head.isChunked { mode = .chunked(ChunkedDecoder()) }
        else if head.contentLength > 0 { mode = .length(head.contentLength) }
        else { mode = .none }
    }

    enum Step { case consumed(Int, finished: Bool), invalid }

    /// Consumes what belongs to the body from `p[0..<n]`.
    mutating func feed(_ p: UnsafePointer<UInt8>, _ n: Int) -> Step {
        switch mode {
        case .none:
            return .consumed(0, finished: true)
        case .length(let left):
            let take = min(left, n)
            if take == left { mode = .none; return .consumed(take, finished: true) }
            mode = .length(left - take)
            return .consumed(take, finished: false)
        case .chunked(var decoder):
            switch decoder.feed(p, n, onData: { _, _ in }) {
            case .needMore:
                mode = .chunked(decoder)
                return .consumed(n, finished: false)
            case .done(let consumed):
                mode = .none
                return .consumed(consumed, finished: true)
            case .invalid:
                mode = .none
                return .invalid
            }
        }
    }
}

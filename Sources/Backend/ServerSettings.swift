import NetCore

/// Timeouts and limits of the HTTP server side, from the command line.
struct ServerSettings: Sendable {
    /// Time allowed to send a whole request head, counted from its first byte (slowloris guard): 408.
    var headerTimeout = Timeout(milliseconds: 20_000)
    /// Idle time allowed between requests on a kept-alive connection.
    var keepAliveTimeout = Timeout(milliseconds: 75_000)
    /// Time a client may take to accept more of a response before it is dropped.
    var sendTimeout = Timeout(milliseconds: 60_000)
    /// How long SIGTERM waits for in-flight requests before exiting anyway.
    var shutdownTimeout = Timeout(milliseconds: 10_000)
    /// Request bodies the backend does not use are read and dropped up to this size, then it closes.
    var maxDiscardedBody = 1 << 20
    var quiet = false

    /// `--keepalive-timeout 0` turns keep-alive off, as in nginx: every response says Connection: close.
    var keepsAlive: Bool { keepAliveTimeout.nanos > 0 }
}

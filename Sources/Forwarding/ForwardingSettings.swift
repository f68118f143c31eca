import NetCore

/// Timeouts, limits and health-check settings shared by the balancer and the proxy.
public struct ForwardingSettings: Sendable {
    public var connectTimeout = Timeout(milliseconds: 3_000)
    /// Time an upstream may take to start its response (504 after it), and to send the next body bytes.
    public var responseTimeout = Timeout(milliseconds: 60_000)
    public var headerTimeout = Timeout(milliseconds: 20_000)
    /// Time a client may stall reading a response before it is dropped.
    public var sendTimeout = Timeout(milliseconds: 60_000)
    /// Idle time allowed between a client's requests.
    public var clientIdleTimeout = Timeout(milliseconds: 75_000)
    /// Idle upstream connections are closed after this, well before the backend's own keep-alive
    /// timeout (75 s), so a pooled connection is never one the backend has just closed.
    public var poolIdleTimeout = Timeout(milliseconds: 15_000)
    public var maxIdlePerUpstream = 64
    public var shutdownTimeout = Timeout(milliseconds: 10_000)
    /// Passive marking down when active checks are off: how long before the upstream is tried again.
    public var retryDownAfter = Timeout(milliseconds: 10_000)
    public var health = HealthSettings()
    public var quiet = false
    /// "1.1 balancer" / "1.1 proxy".
    public var via: StaticString = "1.1 balancer"
    public var serverName = "balancer"
    /// A path answered here, never forwarded (HAProxy's monitor-uri): whether this process is alive,
    /// whatever the state of its upstreams, so a supervisor's liveness check does not restart it
    /// because one upstream hangs.
    public var monitorPath: [UInt8]?

    public init() {}
}

public struct HealthSettings: Sendable {
    /// 0 turns active checks off.
    public var interval = Timeout(milliseconds: 1_000)
    public var timeout = Timeout(milliseconds: 1_000)
    public var path = "/healthz"
    /// HTTP checks ask `path` and want 2xx/3xx; TCP checks only connect (the default in TCP mode).
    public var useHTTP = true
    /// Consecutive failures that mark an upstream down, successes that bring it back.
    public var fall = 2
    public var rise = 2

    public init() {}
    public var enabled: Bool { interval.nanos > 0 }
}

import CLI
import NetCore

/// Options the balancer and the proxy share.
public struct ForwardingOptions: Sendable {
    public var port = 0
    public var host = "0.0.0.0"
    public var workers = CPU.count
    public var model = "event"
    public var admin: String?
    public var strategy = Strategy.roundRobin
    public var reusePort = false
    /// Microseconds a busy worker keeps polling before it sleeps (see `PollWindow`).
    public var busyPollMicros = 0
    public var settings = ForwardingSettings()

    public static let usage = """
      --host ADDR              address to bind (default 0.0.0.0)
      --workers N              event loops (threads) (default: CPU cores)
      --model MODEL            event (epoll loops, default) | thread (a thread per client connection)
      --strategy NAME          round-robin (default) | least-conn | random2 | weighted
      --admin PATH             serve the admin API on this unix socket (GET/POST /upstreams,
                               DELETE /upstreams/HOST:PORT, GET /metrics)
      --quiet                  no per-request log lines
      --busy-poll-us N         a busy worker polls up to N µs for the next event before sleeping, which
                               saves a costly wake-up per request on VMs; adaptive, so a quiet worker
                               sleeps at once (0..1000, 0 = off; default 50 when there are fewer
                               workers than CPUs, else 0)
      --connect-timeout DUR    to reach an upstream before trying the next (default 3s)
      --response-timeout DUR   the longest an upstream may keep us waiting: to take the request, to
                               start answering (504 after) or between two pieces of its body; a
                               body that keeps moving is never cut (default 60s)
      --header-timeout DUR     for a client to send its request head, 408 after (default 20s)
      --idle-timeout DUR       idle client keep-alive connections close after (default 75s)
      --pool-idle-timeout DUR  idle upstream connections close after (default 15s, below the backend's 75s)
      --health-interval DUR    active health check period, 0 = off (default 1s)
      --fail-timeout DUR       with checks off, how long an upstream whose connect failed gets no
                               traffic; the next connection that gets through brings it back (default 10s)
      --health-timeout DUR     one check's time limit (default 1s)
      --health-path PATH       what HTTP checks ask for (default /healthz; TCP mode only connects)
      --monitor-path PATH      a request for exactly PATH is answered here with 200 (this process is
                               alive), never forwarded: a liveness check for a supervisor (HTTP mode;
                               HAProxy's monitor-uri, so PATH?query is forwarded as usual)
      --health-fall N          failed checks that mark an upstream down (default 2)
      --health-rise N          passed checks that bring it back (default 2)
      --shutdown-timeout DUR   on SIGTERM, how long in-flight requests may take (default 10s)
    """

    public static func parse(_ args: inout Arguments, defaultPort: Int) throws(UsageError) -> ForwardingOptions {
        var o = ForwardingOptions()
        o.port = try args.int("--port", in: 0...65535) ?? defaultPort
        o.host = try args.value("--host") ?? o.host
        o.workers = try args.int("--workers", in: 1...256) ?? o.workers
        o.model = try args.choice("--model", ["event", "thread"]) ?? o.model
        if o.model == "thread" {
            for name in ["--busy-poll-us", "--reuseport"] where args.has(name) {
                throw UsageError("\(name) has no effect with --model thread (a blocking thread per connection); leave it out")
            }
        }
        o.admin = try args.value("--admin")
        if let s = try args.choice("--strategy", Strategy.allCases.map(\.rawValue)) { o.strategy = Strategy(rawValue: s)! }
        o.reusePort = args.flag("--reuseport")
        o.busyPollMicros = try args.int("--busy-poll-us", in: 0...1000)
            ?? defaultBusyPollMicros(workers: o.workers, cpus: CPU.count)
        var s = o.settings
        s.quiet = args.flag("--quiet")
        if let ms = try args.duration("--connect-timeout", allowZero: false) { s.connectTimeout = Timeout(milliseconds: ms) }
        if let ms = try args.duration("--response-timeout", allowZero: false) { s.responseTimeout = Timeout(milliseconds: ms) }
        if let ms = try args.duration("--header-timeout", allowZero: false) { s.headerTimeout = Timeout(milliseconds: ms) }
        if let ms = try args.duration("--idle-timeout") { s.clientIdleTimeout = Timeout(milliseconds: ms) }
        if let ms = try args.duration("--pool-idle-timeout") { s.poolIdleTimeout = Timeout(milliseconds: ms) }
        if let ms = try args.duration("--shutdown-timeout") { s.shutdownTimeout = Timeout(milliseconds: ms) }
        if let ms = try args.duration("--health-interval") { s.health.interval = Timeout(milliseconds: ms) }
        if let ms = try args.duration("--fail-timeout", allowZero: false) { s.retryDownAfter = Timeout(milliseconds: ms) }
        if let ms = try args.duration("--health-timeout", allowZero: false) { s.health.timeout = Timeout(milliseconds: ms) }
        if let path = try args.value("--health-path") {
            guard path.hasPrefix("/") else { throw UsageError("--health-path must start with /") }
            s.health.path = path
        }
        if let path = try args.value("--monitor-path") {
            guard path.hasPrefix("/"), !path.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) else {
                throw UsageError("--monitor-path must be a path starting with /, without spaces, ? or #, got '\(path)'")
            }
            s.monitorPath = Array(path.utf8)
        }
        s.health.fall = try args.int("--health-fall", in: 1...100) ?? s.health.fall
        s.health.rise = try args.int("--health-rise", in: 1...100) ?? s.health.rise
        o.settings = s
        return o
    }

    /// Polling pays only on a CPU the worker would otherwise leave idle. With a worker for every CPU,
    /// a polling worker holds a CPU that the other workers, the upstreams or the clients on this machine
    /// need: measured with 2 workers on 2 CPUs, 0.96 of HAProxy's keep-alive rate polling, 1.00 not.
    static func defaultBusyPollMicros(workers: Int, cpus: Int) -> Int {
        workers < cpus ? 50 : 0
    }
}

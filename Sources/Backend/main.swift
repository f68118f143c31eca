import CLI
import Glibc
import NetCore

let usage = """
Usage: backend [--port PORT] [--root DIR] [options]

A static-file HTTP/1.1 server: GET and HEAD, caching validators (ETag, Last-Modified, 304), byte ranges
(206/416), folder listings, /healthz, and one access-log line per request on stdout.

Options:
  --port PORT              port to listen on (default 8080; 0 picks a free one and prints it)
  --host ADDR              address to bind (default 0.0.0.0)
  --root DIR               folder to serve (default www)
  --workers N              event loops (threads), or processes for prefork (default: CPU cores)
  --model MODEL            event (epoll loops, default) | thread (a thread per connection) |
                           prefork (N processes sharing the listening socket, each one event loop)
  --reuseport              one SO_REUSEPORT socket per worker instead of one shared socket
  --quiet                  no access log
  --header-timeout DUR     time to send a request head before 408 (default 20s)
  --keepalive-timeout DUR  idle time allowed between requests (default 75s; 0 = no keep-alive)
  --send-timeout DUR       time a client may stall reading a response (default 60s)
  --shutdown-timeout DUR   on SIGTERM, how long in-flight requests may take (default 10s)
  --cache-max-file SIZE    files up to SIZE bytes are kept in memory, re-checked on every hit
                           (default 262144; 0 turns the cache off)
  -h, --help               this text

A listening socket passed by a parent (LISTEN_FDS/LISTEN_PID, first fd 3) is used instead of binding.
DUR is 500ms, 5s, 2m or plain seconds. SIGTERM/SIGINT stop accepting, finish in-flight requests, exit 0.
"""

Program.run(name: "backend", usage: usage) { args in
    let port = try args.int("--port", in: 0...65535) ?? 8080
    let host = try args.value("--host") ?? "0.0.0.0"
    let root = try args.value("--root") ?? "www"
    let workers = try args.int("--workers", in: 1...256) ?? CPU.count
    let model = try args.choice("--model", ["event", "thread", "prefork"]) ?? "event"
    let preforkChild = args.flag("--prefork-worker")
    let reusePort = args.flag("--reuseport")
    var settings = ServerSettings()
    settings.quiet = args.flag("--quiet")
    if let ms = try args.duration("--header-timeout", allowZero: false) { settings.headerTimeout = Timeout(milliseconds: ms) }
    if let ms = try args.duration("--keepalive-timeout") { settings.keepAliveTimeout = Timeout(milliseconds: ms) }
    if let ms = try args.duration("--send-timeout", allowZero: false) { settings.sendTimeout = Timeout(milliseconds: ms) }
    if let ms = try args.duration("--shutdown-timeout") { settings.shutdownTimeout = Timeout(milliseconds: ms) }
    let cacheMax = try args.int("--cache-max-file", in: 0...(1 << 30)) ?? 256 * 1024
    try args.finish()

    let address: SocketAddress
    do {
        address = try SocketAddress.resolve(host, port: UInt16(port))
    } catch {
        throw UsageError("--host: \(error)")
    }
    guard let realRoot = realpath(root, nil) else {
        throw RuntimeError("cannot serve '\(root)': \(String(cString: strerror(errno))) (--root must be an existing folder)")
    }
    let rootPath = String(cString: realRoot)
    free(realRoot)
    let rootFD = open(rootPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard rootFD >= 0 else {
        throw RuntimeError("cannot serve '\(root)': \(String(cString: strerror(errno))) (--root must be a folder)")
    }

    Signals.ignoreSIGPIPE()
    Signals.block(WorkerGroup.terminationSignals + [SIGCHLD])

    let sockets: ListeningSockets
    do {
        sockets = try ListeningSockets.open(address, workers: model == "event" ? workers : 1,
                                            reusePort: reusePort && model == "event")
    } catch {
        throw RuntimeError("\(error)")
    }
    sockets.forEachSocket(Socket.setClientsSpeakFirst)
    let site = SiteConfig(rootFD: rootFD, rootPath: rootPath, port: sockets.address.port ?? UInt16(port),
                          model: preforkChild ? "prefork" : model, startedAt: Clock.monotonicNanos(),
                          cacheMaxFileSize: model == "thread" ? 0 : cacheMax, cacheMaxBytes: 64 << 20)
    if !preforkChild {
        let source = sockets.inherited ? "inherited socket" : "bound"
        let count = model == "event" || model == "prefork" ? "\(workers) \(model == "prefork" ? "processes" : "workers")" : "a thread per connection"
        print("backend: serving \(rootPath) on \(sockets.address) (\(model) model, \(count), \(source), pid \(getpid()))")
    }
    fflushStdout()

    switch model {
    case "thread":
        return ThreadServer.run(sockets: sockets, site: site, settings: settings)
    case "prefork":
        return try PreforkServer.run(sockets: sockets, workers: workers, settings: settings)
    default:
        return try EventServer.run(sockets: sockets, site: site, settings: settings, workers: workers)
    }
}

func fflushStdout() { fflush(nil) }

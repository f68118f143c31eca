import CLI
import Forwarding

let usage = """
Usage: balancer --upstream HOST:PORT[,weight=N] [--upstream …] [options]

An HTTP load balancer (or, with --mode tcp, a TCP relay) in front of a pool of upstreams. Each request
(each connection in TCP mode) goes to the next upstream by the strategy; upstreams that fail to connect
or fail their health checks get no traffic until they recover. One log line per request shows the
choice: client -> upstream "request line" status bytes duration.

Options:
  --port PORT              port to listen on (default 44444; 0 picks a free one and prints it)
  --upstream HOST:PORT     an upstream, repeatable; `,weight=N` weighs it for --strategy weighted
  --mode MODE              http (default: parse, rewrite headers, keep-alive pools, retries) |
                           tcp (relay bytes both ways with splice, no HTTP parsing)
\(ForwardingOptions.usage)
  -h, --help               this text

A listening socket passed by a parent (LISTEN_FDS/LISTEN_PID, first fd 3) is used instead of binding.
Example: balancer --port 44444 --upstream 127.0.0.1:9001 --upstream 127.0.0.1:9002 --admin /tmp/lb.sock
"""

Program.run(name: "balancer", usage: usage) { args in
    let mode = try args.choice("--mode", ["http", "tcp"]) ?? "http"
    var upstreams: [UpstreamSpec] = []
    for text in try args.values("--upstream") {
        var flags: [String] = []
        let list = try UpstreamSpec.parseList(text, option: "--upstream", flags: &flags)
        if let flag = flags.first { throw UsageError("--upstream '\(text)': unknown word '\(flag)'") }
        for u in list where upstreams.contains(where: { $0.key == u.key }) {
            throw UsageError("--upstream \(u.key) is given twice")
        }
        upstreams += list
    }
    if mode == "tcp" {
        // Silently ignoring them would let a user believe they are in force.
        for name in ["--health-path", "--response-timeout", "--header-timeout", "--pool-idle-timeout", "--monitor-path"] where args.has(name) {
            throw UsageError("\(name) has no effect with --mode tcp (no HTTP is spoken); leave it out")
        }
    }
    let options = try ForwardingOptions.parse(&args, defaultPort: 44444)
    try args.finish()
    if upstreams.isEmpty && options.admin == nil {
        throw UsageError("give at least one --upstream HOST:PORT (or --admin PATH to add them later)")
    }
    if upstreams.count > 64 { throw UsageError("at most 64 upstreams") }
    return try ForwardingProgram.run(name: "balancer", mode: mode == "tcp" ? .tcp : .http,
                                     routes: [.init(prefix: "/", upstreams: upstreams, stripPrefix: false)],
                                     options: options)
}

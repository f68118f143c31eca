import CLI
import Forwarding

let usage = """
Usage: proxy --route PREFIX=HOST:PORT[,HOST:PORT…][,strip-prefix] … [--default HOST:PORT[,…]] [options]

A reverse proxy that routes each request by the longest matching path prefix (on a segment boundary:
/images/ matches /images/a.jpg, not /imagesX). A routed folder named without its slash (/images)
redirects to /images/. Several upstreams on one route are balanced like the balancer does.

Options:
  --port PORT              port to listen on (default 18000; 0 picks a free one and prints it)
  --route PREFIX=TARGETS   a route, repeatable; TARGETS is HOST:PORT[,weight=N] separated by commas,
                           plus `strip-prefix` to forward /images/a.jpg as /a.jpg
  --default TARGETS        where every other path goes (a route for "/"); without it they get 404
  --strip-prefix           strip the matched prefix on every route (X-Forwarded-Prefix tells the upstream)
\(ForwardingOptions.usage)
  -h, --help               this text

Example: proxy --port 18000 --route /images/=127.0.0.1:8889 --route /pdf/=127.0.0.1:8890 --default 127.0.0.1:8888
"""

Program.run(name: "proxy", usage: usage) { args in
    let stripAll = args.flag("--strip-prefix")
    var routes: [ForwardingProgram.RouteSpec] = []
    for text in try args.values("--route") {
        guard let eq = text.firstIndex(of: "="), text.first == "/" else {
            throw UsageError("--route '\(text)': expected PREFIX=HOST:PORT, PREFIX starting with /")
        }
        let prefix = String(text[..<eq])
        var flags: [String] = []
        let upstreams = try UpstreamSpec.parseList(String(text[text.index(after: eq)...]), option: "--route \(prefix)", flags: &flags)
        for f in flags where f != "strip-prefix" { throw UsageError("--route '\(text)': unknown word '\(f)' (only strip-prefix)") }
        if routes.contains(where: { $0.prefix == prefix }) { throw UsageError("--route \(prefix) is given twice") }
        // A request target cannot carry these, so such a route could never match.
        if let bad = prefix.utf8.first(where: { $0 <= 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
            throw UsageError("--route \(prefix): a path prefix cannot contain \(bad == 0x20 ? "a space" : "'\(Character(UnicodeScalar(bad)))'" ); percent-encode it as requests do")
        }
        // "/b" already covers "/b/…", and "/b/" sends a bare "/b" to itself by redirect: one would never be reached.
        let twin = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix + "/"
        if prefix != "/", routes.contains(where: { $0.prefix == twin }) {
            throw UsageError("--route \(prefix) and --route \(twin) overlap: \(prefix.hasSuffix("/") ? twin : prefix) would never be reached; keep one")
        }
        routes.append(.init(prefix: prefix, upstreams: upstreams, stripPrefix: stripAll || flags.contains("strip-prefix")))
    }
    if let text = try args.value("--default") {
        if routes.contains(where: { $0.prefix == "/" }) { throw UsageError("--default and --route /=… both set the default") }
        var flags: [String] = []
        let upstreams = try UpstreamSpec.parseList(text, option: "--default", flags: &flags)
        if let f = flags.first { throw UsageError("--default '\(text)': unknown word '\(f)'") }
        routes.append(.init(prefix: "/", upstreams: upstreams, stripPrefix: false))
    }
    let options = try ForwardingOptions.parse(&args, defaultPort: 18000)
    try args.finish()
    if routes.isEmpty { throw UsageError("give at least one --route PREFIX=HOST:PORT or --default HOST:PORT") }
    return try ForwardingProgram.run(name: "proxy", mode: .http, routes: routes, options: options)
}

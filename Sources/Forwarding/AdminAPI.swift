import Glibc
import HTTPCore
import JSON
import NetCore

/// The admin API's answers, independent of the socket: `GET /upstreams`, `POST /upstreams`,
/// `DELETE /upstreams/HOST:PORT`, `GET /metrics`, `GET /healthz`. The supervisor scales through it.
struct AdminAPI {
    let service: ForwardingService

    struct Reply {
        var status: Int
        var contentType = "application/json"
        var body: String
    }

    func handle(method: String, path: String, body: [UInt8]) -> Reply {
        let route = path.split(separator: "?").first.map(String.init) ?? path
        switch (method, route) {
        case ("GET", "/upstreams"):
            return Reply(status: 200, body: json(.array(service.pools.flatMap { pool in pool.snapshot.upstreams.map { describe($0, pool) } })))
        case ("POST", "/upstreams"):
            return add(body)
        case ("GET", "/metrics"):
            return Reply(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Metrics.render(service))
        case ("GET", "/healthz"):
            return Reply(status: 200, body: "{\"status\":\"ok\",\"pid\":\(getpid())}\n")
        default:
            if route.hasPrefix("/upstreams/") {
                let encoded = route.dropFirst("/upstreams/".count)
                guard let key = percentDecoded(encoded) else { return error(400, "malformed %-escape in \(encoded)") }
                switch method {
                case "DELETE":
                    guard let u = service.drain(key: key) else {
                        return error(404, "no upstream \(key)")
                    }
                    let pool = service.pools.first { p in p.snapshot.upstreams.contains { $0 === u } } ?? service.pools[0]
                    return Reply(status: 202, body: json(describe(u, pool)))
                case "GET":
                    for pool in service.pools {
                        if let u = pool.snapshot.upstreams.first(where: { $0.key == key }) {
                            return Reply(status: 200, body: json(describe(u, pool)))
                        }
                    }
                    return error(404, "no upstream \(key)")
                default:
                    return error(405, "use GET or DELETE on /upstreams/HOST:PORT")
                }
            }
            if route == "/upstreams" { return error(405, "use GET or POST on /upstreams") }
            return error(404, "unknown path \(route); try /upstreams or /metrics")
        }
    }

    private func add(_ body: [UInt8]) -> Reply {
        let example = "{\"address\":\"127.0.0.1:9004\",\"weight\":1}"
        let object: JSONValue
        do { object = try OrderedJSONParser.parse(body) } catch {
            return self.error(400, "the body must be a JSON object such as \(example): \(error.description)")
        }
        guard case .object = object else { return error(400, "the body must be a JSON object such as \(example)") }
        guard case .string(let text)? = object["address"] else { return error(400, "\"address\" (HOST:PORT) is required") }
        var weight = 1
        if let w = object["weight"] {
            guard case .number(let value, _) = w, let whole = Int(exactly: value), whole >= 1 && whole <= 1000 else {
                return error(400, "\"weight\" must be a whole number from 1 to 1000")
            }
            weight = whole
        }
        let address: SocketAddress
        do { address = try SocketAddress.parse(text) } catch { return self.error(400, "\"address\": \(error)") }
        var routePrefix = service.routes.routes.last?.prefix ?? "/"
        if let r = object["route"] {
            guard case .string(let prefix) = r else { return error(400, "\"route\" must be a route prefix such as \"/images/\"") }
            routePrefix = prefix
        }
        guard let route = service.routes.routes.first(where: { $0.prefix == routePrefix }) else {
            return error(404, "no route \(routePrefix)")
        }
        let existed = route.pool.snapshot.upstreams.contains { $0.key == text && $0.state != .draining }
        let u = service.add(address, key: text, weight: weight, to: route.pool)
        return Reply(status: existed ? 200 : 201, body: json(describe(u, route.pool)))
    }

    private func describe(_ u: Upstream, _ pool: UpstreamPool) -> JSONValue {
        var requests: UInt64 = 0
        var failures: UInt64 = 0
        for s in u.stats {
            requests += s.requests.load(ordering: .relaxed)
            failures += s.failures.load(ordering: .relaxed)
        }
        var d: [String: JSONValue] = [
            "address": .string(u.key), "weight": .integer(u.weight), "state": .string(u.state.name),
            "active": .integer(u.active.load(ordering: .relaxed)), "requests": .integer(requests),
            "failures": .integer(failures), "pool": .string(pool.name),
        ]
        if let route = service.routes.routes.first(where: { $0.pool === pool }) { d["route"] = .string(route.prefix) }
        return .sortedObject(d)
    }

    private func error(_ status: Int, _ message: String) -> Reply {
        Reply(status: status, body: json(.sortedObject(["error": .string(message)])))
    }

    private func json(_ value: JSONValue) -> String { value.text + "\n" }
}

/// Prometheus text exposition of the per-upstream counters, summed over workers.
enum Metrics {
    static func render(_ service: ForwardingService) -> String {
        let p = service.settings.serverName
        var out = ""
        let classes = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"]
        out += "# HELP \(p)_requests_total Requests (connections in TCP mode) relayed, by upstream and status class.\n"
        out += "# TYPE \(p)_requests_total counter\n"
        forEachUpstream(service) { u, _ in
            for (i, name) in classes.enumerated() {
                let n = u.stats.reduce(0) { $0 + $1.statusClasses[i].load() }
                if n > 0 || i == 2 { out += "\(p)_requests_total{upstream=\"\(u.key)\",code=\"\(name)\"} \(n)\n" }
            }
        }
        out += "# HELP \(p)_upstream_failures_total Failed connects, broken connections and timeouts, by upstream.\n"
        out += "# TYPE \(p)_upstream_failures_total counter\n"
        forEachUpstream(service) { u, _ in
            out += "\(p)_upstream_failures_total{upstream=\"\(u.key)\"} \(u.stats.reduce(0) { $0 + $1.failures.load(ordering: .relaxed) })\n"
        }
        out += "# HELP \(p)_upstream_active Requests in flight, by upstream.\n# TYPE \(p)_upstream_active gauge\n"
        forEachUpstream(service) { u, _ in out += "\(p)_upstream_active{upstream=\"\(u.key)\"} \(u.active.load(ordering: .relaxed))\n" }
        out += "# HELP \(p)_upstream_up 1 when the upstream takes new requests.\n# TYPE \(p)_upstream_up gauge\n"
        forEachUpstream(service) { u, _ in
            out += "\(p)_upstream_up{upstream=\"\(u.key)\",state=\"\(u.state.name)\"} \(u.state == .up ? 1 : 0)\n"
        }
        out += "# HELP \(p)_request_duration_seconds Time from request to the end of the response, by upstream.\n"
        out += "# TYPE \(p)_request_duration_seconds histogram\n"
        forEachUpstream(service) { u, _ in
            var cumulative: UInt64 = 0
            for (i, bound) in LatencyBuckets.bounds.enumerated() {
                cumulative += u.stats.reduce(0) { $0 + $1.latency[i].load() }
                out += "\(p)_request_duration_seconds_bucket{upstream=\"\(u.key)\",le=\"\(Double(bound) / 1e6)\"} \(cumulative)\n"
            }
            cumulative += u.stats.reduce(0) { $0 + $1.latency[LatencyBuckets.bounds.count].load() }
            out += "\(p)_request_duration_seconds_bucket{upstream=\"\(u.key)\",le=\"+Inf\"} \(cumulative)\n"
            let sum = Double(u.stats.reduce(0) { $0 + $1.latencySumMicros.load(ordering: .relaxed) }) / 1e6
            out += "\(p)_request_duration_seconds_sum{upstream=\"\(u.key)\"} \(sum)\n"
            out += "\(p)_request_duration_seconds_count{upstream=\"\(u.key)\"} \(cumulative)\n"
        }
        return out
    }

    private static func forEachUpstream(_ service: ForwardingService, _ body: (Upstream, UpstreamPool) -> Void) {
        for pool in service.pools { for u in pool.snapshot.upstreams { body(u, pool) } }
    }
}

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
        /// The methods a 405 lists (RFC 9110 §15.5.6).
        var allow: String? = nil
    }

    func handle(method: String, path: String, body: [UInt8]) -> Reply {
        let parts = path.split(separator: "?", maxSplits: 1)
        let route = parts.first.map(String.init) ?? path
        let query = parts.count > 1 ? String(parts[1]) : ""
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
                    // `?route=/images/` drains it out of that route's pool only; without it, out of every pool.
                    var only: UpstreamPool?
                    if let prefix = queryValue(query, "route") {
                        guard let r = service.routes.routes.first(where: { $0.prefix == prefix }) else { return error(404, "no route \(prefix)") }
                        only = r.pool
                    }
                    let drained = service.drain(key: key, from: only)
                    guard let (u, pool) = drained.first else { return error(404, "no upstream \(key)") }
                    return Reply(status: 202, body: json(describe(u, pool)))
                case "GET":
                    for pool in service.pools {
                        if let u = pool.snapshot.upstreams.first(where: { $0.key == key }) {
                            return Reply(status: 200, body: json(describe(u, pool)))
                        }
                    }
                    return error(404, "no upstream \(key)")
                default:
                    return error(405, "use GET or DELETE on /upstreams/HOST:PORT", allow: "GET, DELETE")
                }
            }
            switch route {
            case "/upstreams": return error(405, "use GET or POST on /upstreams", allow: "GET, POST")
            case "/metrics", "/healthz": return error(405, "use GET on \(route)", allow: "GET")
            default: return error(404, "unknown path \(route); try /upstreams or /metrics")
            }
        }
    }

    private func add(_ body: [UInt8]) -> Reply {
        let example = "{\"address\":\"127.0.0.1:9004\",\"weight\":1}"
        let object: JSONValue
        do { object = try OrderedJSONParser.parse(body) } catch {
            return self.error(400, "the body must be a JSON object such as \(example): \(error.description)")
        }
        guard case .object(let members) = object else { return error(400, "the body must be a JSON object such as \(example)") }
        for member in members where !["address", "weight", "route"].contains(member.key) {
            return error(400, "unknown key \(JSONValue.quoted(member.key)); the keys are address, weight and route")
        }
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
        if let existing = route.pool.snapshot.upstreams.first(where: { $0.key == text && $0.state != .draining }) {
            // Adding it again is a no-op (the supervisor re-joins instances); asking for another weight is not.
            guard object["weight"] == nil || existing.weight == weight else {
                return error(409, "\(text) is already in \(route.pool.name) with weight \(existing.weight); DELETE it first to change it")
            }
            return Reply(status: 200, body: json(describe(existing, route.pool)))
        }
        let u = service.add(address, key: text, weight: weight, to: route.pool)
        return Reply(status: 201, body: json(describe(u, route.pool)))
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

    private func error(_ status: Int, _ message: String, allow: String? = nil) -> Reply {
        Reply(status: status, body: json(.sortedObject(["error": .string(message)])), allow: allow)
    }

    /// The percent-decoded value of `name` in a query string (`route=%2Fimages%2F`).
    private func queryValue(_ query: String, _ name: String) -> String? {
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2 && kv[0] == name { return percentDecoded(kv[1]) }
        }
        return nil
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
        forEachUpstream(service) { u, id in
            for (i, name) in classes.enumerated() {
                let n = u.stats.reduce(0) { $0 + $1.statusClasses[i].load() }
                if n > 0 || i == 2 { out += "\(p)_requests_total{\(id),code=\"\(name)\"} \(n)\n" }
            }
        }
        out += "# HELP \(p)_upstream_failures_total Failed connects, broken connections and timeouts, by upstream.\n"
        out += "# TYPE \(p)_upstream_failures_total counter\n"
        forEachUpstream(service) { u, id in
            out += "\(p)_upstream_failures_total{\(id)} \(u.stats.reduce(0) { $0 + $1.failures.load(ordering: .relaxed) })\n"
        }
        out += "# HELP \(p)_upstream_active Requests in flight, by upstream.\n# TYPE \(p)_upstream_active gauge\n"
        forEachUpstream(service) { u, id in out += "\(p)_upstream_active{\(id)} \(u.active.load(ordering: .relaxed))\n" }
        out += "# HELP \(p)_upstream_up 1 when the upstream takes new requests.\n# TYPE \(p)_upstream_up gauge\n"
        forEachUpstream(service) { u, id in
            out += "\(p)_upstream_up{\(id),state=\"\(u.state.name)\"} \(u.state == .up ? 1 : 0)\n"
        }
        out += "# HELP \(p)_request_duration_seconds Time from request to the end of the response, by upstream.\n"
        out += "# TYPE \(p)_request_duration_seconds histogram\n"
        forEachUpstream(service) { u, id in
            var cumulative: UInt64 = 0
            for (i, bound) in LatencyBuckets.bounds.enumerated() {
                cumulative += u.stats.reduce(0) { $0 + $1.latency[i].load() }
                out += "\(p)_request_duration_seconds_bucket{\(id),le=\"\(Double(bound) / 1e6)\"} \(cumulative)\n"
            }
            cumulative += u.stats.reduce(0) { $0 + $1.latency[LatencyBuckets.bounds.count].load() }
            out += "\(p)_request_duration_seconds_bucket{\(id),le=\"+Inf\"} \(cumulative)\n"
            let sum = Double(u.stats.reduce(0) { $0 + $1.latencySumMicros.load(ordering: .relaxed) }) / 1e6
            out += "\(p)_request_duration_seconds_sum{\(id)} \(sum)\n"
            out += "\(p)_request_duration_seconds_count{\(id)} \(cumulative)\n"
        }
        return out
    }

    /// Each upstream of each pool, with the labels that name its series: an upstream on two routes is
    /// two series, told apart by pool.
    private static func forEachUpstream(_ service: ForwardingService, _ body: (Upstream, String) -> Void) {
        for pool in service.pools {
            let poolLabel = labelValue(pool.name)
            for u in pool.snapshot.upstreams { body(u, "upstream=\"\(u.key)\",pool=\"\(poolLabel)\"") }
        }
    }

    /// A label value as the exposition format spells it: a route prefix may hold `"` or `\`.
    static func labelValue(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

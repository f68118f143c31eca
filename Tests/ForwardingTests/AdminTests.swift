import Foundation
import Glibc
import NetCore
import Testing
import TestSupport

@Suite struct AdminTests {
    func socketPath() -> String { temporarySocketPath() }

    func list(_ socket: String) throws -> [[String: Any]] {
        let r = try admin(socket, "GET", "/upstreams")
        return (try JSONSerialization.jsonObject(with: Data(r.body)) as? [[String: Any]]) ?? []
    }

    @Test func upstreams_areListedWithTheirState() throws {
        let backends = try startBackends(2)
        let sock = socketPath()
        let lb = try ForwarderProcess("balancer", ["--admin", sock, "--upstream", "127.0.0.1:\(backends[0].port),weight=2",
                                                   "--upstream", "127.0.0.1:\(backends[1].port)"])
        _ = try lb.get("/robots.txt")
        // The response reaches the client a moment before the worker has counted it.
        var items = try list(sock)
        let deadline = Date().addingTimeInterval(2)
        while items.map({ $0["requests"] as? Int ?? 0 }).reduce(0, +) == 0 && Date() < deadline {
            usleep(5_000)
            items = try list(sock)
        }
        #expect(items.count == 2)
        #expect(items[0]["address"] as? String == "127.0.0.1:\(backends[0].port)")
        #expect(items[0]["weight"] as? Int == 2)
        #expect(items[0]["state"] as? String == "up")
        #expect(items.map { $0["requests"] as? Int ?? 0 }.reduce(0, +) == 1)
        #expect(items[0]["active"] as? Int == 0)
        #expect(items[0]["failures"] as? Int == 0)
    }

    @Test func adding_andDrainingUnderLoad_failNoRequest() throws {
        let backends = try startBackends(3)
        let sock = socketPath()
        let lb = try ForwarderProcess("balancer", ["--admin", sock, "--workers", "2", "--quiet",
                                                   "--upstream", "127.0.0.1:\(backends[0].port)",
                                                   "--upstream", "127.0.0.1:\(backends[1].port)"])
        let load = ClientLoop(port: lb.port)
        load.waitFor(100)
        let added = try admin(sock, "POST", "/upstreams", body: "{\"address\":\"127.0.0.1:\(backends[2].port)\"}")
        #expect(added.status == 201)
        load.waitFor(200)
        let drained = try admin(sock, "DELETE", "/upstreams/127.0.0.1:\(backends[0].port)")
        #expect(drained.status == 202)
        #expect(drained.text.contains("\"state\":\"draining\""))
        // Gone from the list once its in-flight requests are done.
        let deadline = Date().addingTimeInterval(5)
        while try list(sock).contains(where: { $0["address"] as? String == "127.0.0.1:\(backends[0].port)" }) && Date() < deadline {
            usleep(20_000)
        }
        let now = try list(sock).compactMap { $0["address"] as? String }
        #expect(now == ["127.0.0.1:\(backends[1].port)", "127.0.0.1:\(backends[2].port)"])
        load.waitFor(200)
        #expect(load.stop().failures == 0)
        // The new upstream really got traffic, the removed one no more.
        let served = try list(sock).first { $0["address"] as? String == "127.0.0.1:\(backends[2].port)" }
        #expect((served?["requests"] as? Int ?? 0) > 0)
    }

    /// What the supervisor does to move a backend to another port: add the new address, then drain the
    /// old one at once. Workers learn of the addition a moment later than the drain, so a worker must not
    /// answer 503 from its older list meanwhile. Swapped back and forth under load: no request fails.
    @Test(arguments: ["http", "tcp"])
    func addingOneAndDrainingTheOnlyOtherAtOnce_underLoad_failsNoRequest(mode: String) throws {
        // Quiet: thousands of requests would fill the access log's pipe, which nothing here reads.
        let backends = try startBackends(2, arguments: ["--workers", "1", "--quiet"])
        let sock = socketPath()
        let lb = try ForwarderProcess("balancer", ["--admin", sock, "--workers", "2", "--quiet", "--mode", mode,
                                                   "--upstream", "127.0.0.1:\(backends[0].port)"])
        let load = ClientLoop(port: lb.port, clients: 4)
        load.waitFor(100)
        var serving = 0
        for _ in 0..<40 {
            let next = 1 - serving
            #expect(try admin(sock, "POST", "/upstreams", body: "{\"address\":\"127.0.0.1:\(backends[next].port)\"}").status == 201)
            #expect(try admin(sock, "DELETE", "/upstreams/127.0.0.1:\(backends[serving].port)").status == 202)
            // The drained one leaves the list once its requests are done; then it can be added again.
            let deadline = Date().addingTimeInterval(5)
            while try list(sock).count > 1 && Date() < deadline { usleep(2_000) }
            serving = next
            load.waitFor(20)
        }
        let (requests, failures) = load.stop()
        #expect(failures == 0, "\(failures) of \(requests) requests failed")
    }

    @Test func badAdminRequests_getClearErrors() throws {
        let backend = try BackendProcess()
        let sock = socketPath()
        let lb = try ForwarderProcess("balancer", ["--admin", sock, "--upstream", "127.0.0.1:\(backend.port)"])
        defer { withExtendedLifetime(lb) {} }
        #expect(try admin(sock, "POST", "/upstreams", body: "not json").status == 400)
        #expect(try admin(sock, "POST", "/upstreams", body: "{\"address\":\"nohost\"}").status == 400)
        #expect(try admin(sock, "DELETE", "/upstreams/127.0.0.1:1").status == 404)
        #expect(try admin(sock, "GET", "/nothing").status == 404)
        // Each refusal says what to fix, as JSON any client can read.
        let refusals: [(body: String, says: String)] = [
            ("", "the body must be a JSON object"),
            ("[1]", "the body must be a JSON object"),
            ("{\"address\": 9004}", "\"address\" (HOST:PORT) is required"),
            ("{\"address\":\"127.0.0.1:9\",\"weight\":0}", "\"weight\" must be a whole number from 1 to 1000"),
            ("{\"address\":\"127.0.0.1:9\",\"weight\":1.5}", "\"weight\" must be a whole number from 1 to 1000"),
            ("{\"address\":\"127.0.0.1:9\",\"route\":1}", "\"route\" must be a route prefix"),
            ("{\"address\":\"127.0.0.1:9\",\"route\":\"/nope/\"}", "no route /nope/"),
        ]
        for (body, says) in refusals {
            let r = try admin(sock, "POST", "/upstreams", body: body)
            #expect(r.status == 400 || r.status == 404, "\(body)")
            let object = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
            let message = object?["error"] as? String ?? ""
            #expect(message.contains(says), "\(body): \(message)")
        }
        #expect(try list(sock).count == 1, "a refused request added nothing")
    }

    @Test func upstreamKeys_mayBePercentEncoded() throws {
        let backends = try startBackends(2)
        let sock = socketPath()
        let lb = try ForwarderProcess("balancer", ["--admin", sock, "--upstream", "127.0.0.1:\(backends[0].port)",
                                                   "--upstream", "127.0.0.1:\(backends[1].port)"])
        defer { withExtendedLifetime(lb) {} }
        let one = try admin(sock, "GET", "/upstreams/127.0.0.1%3A\(backends[1].port)")
        #expect(one.status == 200)
        let object = try JSONSerialization.jsonObject(with: Data(one.body)) as? [String: Any]
        #expect(object?["address"] as? String == "127.0.0.1:\(backends[1].port)")
        #expect(try admin(sock, "DELETE", "/upstreams/127.0.0.1%3a\(backends[1].port)").status == 202)
        #expect(try admin(sock, "GET", "/upstreams/127.0.0.1%3").status == 400)
    }

    @Test func metrics_arePrometheusText() throws {
        let backend = try BackendProcess()
        let sock = socketPath()
        let lb = try ForwarderProcess("balancer", ["--admin", sock, "--upstream", "127.0.0.1:\(backend.port)"])
        for _ in 0..<3 { _ = try lb.get("/robots.txt") }
        _ = try lb.get("/missing")
        // The response reaches the client a moment before the worker has counted it.
        let key0 = "127.0.0.1:\(backend.port)"
        var m = try admin(sock, "GET", "/metrics")
        let deadline = Date().addingTimeInterval(2)
        while !m.text.contains("balancer_request_duration_seconds_count{upstream=\"\(key0)\",pool=\"default\"} 4") && Date() < deadline {
            usleep(5_000)
            m = try admin(sock, "GET", "/metrics")
        }
        #expect(m.status == 200)
        #expect(m.header("Content-Type")?.hasPrefix("text/plain") == true)
        let key = "127.0.0.1:\(backend.port)"
        #expect(m.text.contains("balancer_requests_total{upstream=\"\(key)\",pool=\"default\",code=\"2xx\"} 3"))
        #expect(m.text.contains("balancer_requests_total{upstream=\"\(key)\",pool=\"default\",code=\"4xx\"} 1"))
        #expect(m.text.contains("# TYPE balancer_request_duration_seconds histogram"))
        #expect(m.text.contains("balancer_request_duration_seconds_count{upstream=\"\(key)\",pool=\"default\"} 4"))
        #expect(m.text.contains("balancer_upstream_up{upstream=\"\(key)\",pool=\"default\",state=\"up\"} 1"))
    }

    @Test func oneUpstreamOnTwoRoutes_hasDistinctSeries_andIsDrainedPerRoute() throws {
        let backend = try BackendProcess()
        let key = "127.0.0.1:\(backend.port)"
        let sock = socketPath()
        let proxy = try ForwarderProcess("proxy", ["--admin", sock, "--route", "/images/=\(key)", "--default", key])
        _ = try proxy.get("/images/pokijan.jpg")
        // The response reaches the client a moment before the worker has counted it.
        var m = try admin(sock, "GET", "/metrics").text
        let deadline = Date().addingTimeInterval(2)
        while !m.contains("pool=\"/images/\",code=\"2xx\"} 1") && Date() < deadline {
            usleep(5_000)
            m = try admin(sock, "GET", "/metrics").text
        }
        // Prometheus rejects an exposition with the same series twice.
        let series = m.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ").dropLast().joined(separator: " ") }
        #expect(Set(series).count == series.count, "duplicate series in:\n\(m)")
        #expect(m.contains("proxy_requests_total{upstream=\"\(key)\",pool=\"/images/\",code=\"2xx\"} 1"))
        let drained = try admin(sock, "DELETE", "/upstreams/\(key)?route=/")
        #expect(drained.status == 202)
        let listed = try JSONSerialization.jsonObject(with: Data(try admin(sock, "GET", "/upstreams").body)) as? [[String: Any]] ?? []
        let states = Dictionary(uniqueKeysWithValues: listed.map { ($0["pool"] as? String ?? "?", $0["state"] as? String ?? "?") })
        #expect(states["/images/"] == "up")
        #expect(states["default"] == nil || states["default"] == "draining")
    }

    @Test func metricsLabels_escapeQuotesAndBackslashesInRoutePrefixes() throws {
        let backend = try BackendProcess()
        let key = "127.0.0.1:\(backend.port)"
        let sock = socketPath()
        let proxy = try ForwarderProcess("proxy", ["--admin", sock, "--route", "/say\"hi\\/=\(key)", "--default", key])
        let m = try admin(sock, "GET", "/metrics").text
        #expect(m.contains("upstream=\"\(key)\",pool=\"/say\\\"hi\\\\/\""), "\(m)")
        withExtendedLifetime(proxy) {}
    }

    @Test func adminMethodsAndDuplicates_areAnsweredAsHTTPSays() throws {
        let backend = try BackendProcess()
        let sock = socketPath()
        let lb = try ForwarderProcess("balancer", ["--admin", sock, "--upstream", "127.0.0.1:\(backend.port)"])
        defer { withExtendedLifetime(lb) {} }
        let wrongMethod = try admin(sock, "PUT", "/upstreams", body: "{}")
        #expect(wrongMethod.status == 405 && wrongMethod.header("Allow") == "GET, POST")
        let onMetrics = try admin(sock, "POST", "/metrics", body: "{}")
        #expect(onMetrics.status == 405 && onMetrics.header("Allow") == "GET")
        let key = "127.0.0.1:\(backend.port)"
        #expect(try admin(sock, "POST", "/upstreams", body: "{\"address\":\"\(key)\"}").status == 200)   // already there: a no-op
        let reweigh = try admin(sock, "POST", "/upstreams", body: "{\"address\":\"\(key)\",\"weight\":5}")
        #expect(reweigh.status == 409)
        let unknown = try admin(sock, "POST", "/upstreams", body: "{\"address\":\"127.0.0.1:9\",\"pool\":\"/x/\"}")
        #expect(unknown.status == 400 && unknown.text.contains("unknown key \\\"pool\\\""), "\(unknown.text)")
        // A second balancer must not take over (and, on exit, delete) a live admin socket.
        let second = try RunningProgram("balancer", ["--port", "0", "--host", "127.0.0.1", "--admin", sock, "--upstream", key])
        #expect(second.waitForExit(timeout: 10) == .code(1))
        #expect(second.output().contains { $0.contains("a running process answers on it") })
        #expect(try admin(sock, "GET", "/upstreams").status == 200)
    }
}

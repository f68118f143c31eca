import Foundation
import Glibc
import Testing
import TestSupport
@testable import Forwarding

@Suite struct StrategyTests {
    func upstreamArgs(_ backends: [BackendProcess], weights: [Int]? = nil) -> [String] {
        backends.enumerated().flatMap { i, b in
            ["--upstream", "127.0.0.1:\(b.port)" + (weights.map { ",weight=\($0[i])" } ?? "")]
        }
    }

    @Test func roundRobin_goesStrictlyInTurn_acrossWorkersAndConnections() throws {
        let backends = try startBackends(3)
        let lb = try ForwarderProcess("balancer", ["--workers", "2"] + upstreamArgs(backends))
        let expected = backends.map { Int($0.port) }
        // New connection per request (each may land on either worker) and one kept-alive connection.
        let fresh = try (0..<9).map { _ in answeringPort(try lb.get("/healthz")) }
        #expect(fresh == (0..<9).map { expected[$0 % 3] })
        let client = try lb.client()
        let kept = try (0..<6).map { _ in answeringPort(try client.request("GET", "/healthz")) }
        #expect(kept == (0..<6).map { expected[$0 % 3] })
    }

    @Test func roundRobin_spreadsADownUpstreamsTurnsEvenly() throws {
        let backends = try startBackends(3)
        let dead = try deadPort()
        let args = ["--upstream", "127.0.0.1:\(backends[0].port)", "--upstream", "127.0.0.1:\(dead)",
                    "--upstream", "127.0.0.1:\(backends[1].port)", "--upstream", "127.0.0.1:\(backends[2].port)"]
        let lb = try ForwarderProcess("balancer", ["--workers", "1"] + args)
        for _ in 0..<4 { #expect(try lb.get("/healthz").status == 200) }   // the dead one is found down on its turn
        var counts: [Int: Int] = [:]
        for _ in 0..<60 { counts[answeringPort(try lb.get("/healthz")) ?? 0, default: 0] += 1 }
        #expect(counts == Dictionary(uniqueKeysWithValues: backends.map { (Int($0.port), 20) }), "\(counts)")
    }

    @Test(arguments: [Strategy.roundRobin, .weighted])
    func theOneUpstreamLeftUp_isAlwaysFound_whileWorkersPickAtOnce(strategy: Strategy) async throws {
        // Four of five draining (a scale-down to one): every pick must find the fifth, even when other
        // workers take round-robin turns in the middle of this one's search.
        let ups = (0..<5).map { Upstream(address: .loopback(port: UInt16(9001 + $0)), key: "127.0.0.1:\(9001 + $0)", weight: 1 + $0 % 2, workers: 2) }
        for u in ups.dropFirst() { _ = u.setState(.draining) }
        let pool = UpstreamPool(name: "default", strategy: strategy, upstreams: ups, workers: 2)
        let snapshot = pool.snapshot
        let misses = await withTaskGroup(of: Int.self) { group in
            for seed in 1...4 {
                group.addTask {
                    var rng = FastRandom(seed: UInt64(seed))
                    var missed = 0
                    for _ in 0..<200_000 where pool.pick(snapshot, now: 1, excluded: 0, rng: &rng) != 0 { missed += 1 }
                    return missed
                }
            }
            return await group.reduce(0, +)
        }
        #expect(misses == 0)
    }

    @Test func weighted_followsTheWeights_inSmoothOrder() throws {
        let backends = try startBackends(2)
        let lb = try ForwarderProcess("balancer", ["--strategy", "weighted"] + upstreamArgs(backends, weights: [3, 1]))
        let ports = try (0..<8).map { _ in answeringPort(try lb.get("/healthz")) }
        let a = Int(backends[0].port), b = Int(backends[1].port)
        #expect(ports == [a, a, b, a, a, a, b, a])
        #expect(PoolSnapshot.smoothWeighted([5, 1, 1]) == [0, 0, 1, 0, 2, 0, 0])
    }

    @Test func leastConn_avoidsTheUpstreamThatIsBusy() throws {
        var slow = EchoServer.Behavior()
        slow.delay = 1.5
        let busy = try EchoServer(slow)
        let idle = try EchoServer()
        let lb = try ForwarderProcess("balancer", ["--strategy", "least-conn", "--workers", "1",
                                                   "--upstream", "127.0.0.1:\(busy.port)", "--upstream", "127.0.0.1:\(idle.port)"])
        // The first request ties at zero in flight and goes to the first upstream, which holds it.
        let held = try lb.client(timeout: 5)
        try held.send("GET /held HTTP/1.1\r\nHost: a\r\n\r\n")
        let deadline = Date().addingTimeInterval(3)
        while busy.received.isEmpty && Date() < deadline { usleep(10_000) }
        #expect(busy.received.count == 1)
        for i in 0..<5 { #expect(try lb.get("/quick\(i)").status == 200) }
        #expect(idle.received.count == 5)
        #expect(busy.received.count == 1)
        #expect(try held.readResponse().status == 200)
    }

    @Test func random2_spreadsLoadAndAnswersEverything() throws {
        let backends = try startBackends(3)
        let lb = try ForwarderProcess("balancer", ["--strategy", "random2"] + upstreamArgs(backends))
        var seen = Set<Int>()
        for _ in 0..<60 {
            let r = try lb.get("/healthz")
            #expect(r.status == 200)
            if let p = answeringPort(r) { seen.insert(p) }
        }
        #expect(seen.count == 3)
    }
}

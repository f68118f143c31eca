import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Glibc
import Testing
import TestSupport
@testable import Supervisor

@Suite struct BenchCommandTests {
    /// A bench run that starts the topology and finds part of it failing says so, and takes down what it
    /// started: `up --detach` leaves a half-started topology running, the bench must not.
    @Test func aTopologyThatFailsToStart_isTakenDownAgain() throws {
        let t = try SupervisorFixture.lb5(backends: 1, maxBackends: 2)
        let broken = t.json.replacingOccurrences(
            of: #""program": "balancer","#,
            with: #""program": "balancer", "args": ["--no-such-option"], "restart": {"max_retries": 1, "backoff": "50ms"},"#)
        #expect(broken != t.json)
        let f = try SupervisorFixture(topology: broken)
        let (exit, lines) = try f.run(["bench", f.topologyPath, "--backends", "1", "--concurrency", "1",
                                       "--requests", "10", "--warmup", "0", "--out", "\(f.folder)/results"], timeout: 60)
        #expect(exit == .code(1), "\(lines.suffix(20))")
        let text = lines.joined(separator: "\n")
        #expect(text.contains("could not start the topology") && text.contains("balancer failed"), "\(text)")
        #expect(text.contains("bench: stopped what had started of topology"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: "\(f.folder)/.run/topology/control.sock"),
                "the half-started topology is still running")
        #expect(try f.run(["status"]).0 != .code(0), "status still finds a running supervisor")
    }

    @Test func tinyRun_printsRows_andWritesTablesAndWellFormedCharts() throws {
        let t = try SupervisorFixture.lb5(backends: 1, maxBackends: 2)
        let f = try SupervisorFixture(topology: t.json)
        let out = "\(f.folder)/results"
        let (exit, lines) = try f.run(["bench", f.topologyPath, "--backends", "1-2", "--concurrency", "1,2",
                                       "--requests", "60", "--warmup", "10", "--out", out], timeout: 120)
        #expect(exit == .code(0), "\(lines.suffix(20))")
        let rows = lines.filter { $0.range(of: #"^\s+\d+\s+event\s+(on|off)\s+\d+\s"#, options: .regularExpression) != nil }
        #expect(rows.count == 8)   // 2 backend counts × 2 keep-alive × 2 concurrency
        // The topology was started for the run and stopped after.
        #expect(!FileManager.default.fileExists(atPath: "\(f.folder)/.run/topology/control.sock"))

        let run = try JSONDecoder().decode(BenchRun.self, from: Data(contentsOf: URL(fileURLWithPath: "\(out)/results.json")))
        #expect(run.rows.count == 8)
        #expect(run.rows.allSatisfy { $0.completeRequests == 60 && $0.failedRequests == 0 && $0.non2xx == 0 })
        #expect(Set(run.rows.map(\.backends)) == [1, 2])
        let md = try String(contentsOfFile: "\(out)/results.md", encoding: .utf8)
        #expect(md.contains("| backends | model | keep-alive | concurrency | time (s) | complete | failed | non-2xx |"))
        #expect(md.contains("p99 ms"))
        let csv = try String(contentsOfFile: "\(out)/results.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 9)
        for name in ["rps-event-close.svg", "rps-event-keepalive.svg", "latency-event-close.svg", "latency-event-keepalive.svg"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(name)"))
            let parser = XMLParser(data: data)
            #expect(parser.parse(), "\(name) is not well-formed XML: \(String(describing: parser.parserError))")
            let text = String(decoding: data, as: UTF8.self)
            #expect(text.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
            #expect(text.contains("<polyline"))
        }

        // Against the earlier run.
        let (exit2, lines2) = try f.run(["bench", f.topologyPath, "--backends", "2", "--concurrency", "2", "--keepalive", "on",
                                         "--requests", "40", "--warmup", "0", "--out", "\(f.folder)/again",
                                         "--compare", "\(out)/results.json"], timeout: 120)
        #expect(exit2 == .code(0))
        #expect(lines2.contains { $0.contains("compared with the run of") })
    }

    @Test func chaosRun_killsABackendHalfway_andTheTableSaysSo() throws {
        let t = try SupervisorFixture.lb5(backends: 2, maxBackends: 2)
        let f = try SupervisorFixture(topology: t.json)
        _ = try f.start()
        let before = try f.status().filter { $0["service"] as? String == "backend" }.compactMap { $0["pid"] as? Int }
        let out = "\(f.folder)/chaos"
        let (exit, lines) = try f.run(["bench", f.topologyPath, "--backends", "2", "--concurrency", "4", "--keepalive", "on",
                                       "--requests", "3000", "--warmup", "0", "--chaos", "kill-backend", "--out", out], timeout: 120)
        #expect(exit == .code(0), "\(lines.suffix(10))")
        let run = try JSONDecoder().decode(BenchRun.self, from: Data(contentsOf: URL(fileURLWithPath: "\(out)/results.json")))
        let row = try #require(run.rows.first)
        #expect(row.chaos?.contains("killed backend.") == true)
        #expect(row.completeRequests + row.failedRequests == 3000)
        let md = try String(contentsOfFile: "\(out)/results.md", encoding: .utf8)
        #expect(md.contains("## Chaos"))
        // The supervisor replaced the killed backend (a topology already running is left running).
        let deadline = Date().addingTimeInterval(10)
        var after: [Int] = []
        repeat {
            after = try f.status().filter { $0["service"] as? String == "backend" && $0["state"] as? String == "healthy" }.compactMap { $0["pid"] as? Int }
        } while (after.count < 2 || Set(after) == Set(before)) && Date() < deadline
        #expect(after.count == 2 && Set(after) != Set(before))
    }

    @Test func badOptions_areRefusedWithTheReason() throws {
        let t = try SupervisorFixture.lb5(backends: 1, maxBackends: 3)
        let f = try SupervisorFixture(topology: t.json)
        let cases: [([String], String)] = [
            (["bench"], "bench needs a topology file"),
            (["bench", f.topologyPath, "--keepalive", "maybe"], "--keepalive must be one of on, off, both"),
            (["bench", f.topologyPath, "--model", "fork"], "--model must be a comma list of event, thread, prefork"),
            (["bench", f.topologyPath, "--requests", "10", "--duration", "1s"], "give --requests or --duration, not both"),
            (["bench", f.topologyPath, "--concurrency", "0"], "--concurrency must be a comma list"),
            (["bench", f.topologyPath, "--backends", "5-1"], "--backends must be a range"),
            (["bench", f.topologyPath, "--compare", "/no/such.json"], "--compare /no/such.json: no such file"),
            (["bench", f.topologyPath, "--target", "database"], "--target must be one of balancer, proxy, backend"),
        ]
        for (args, expected) in cases {
            let (exit, out) = try f.run(args)
            #expect(exit == .code(2), "\(args)")
            #expect(out.joined(separator: "\n").contains(expected), "\(args): \(out)")
        }
        let (exit, out) = try f.run(["bench", f.topologyPath, "--backends", "1-9", "--requests", "10"], timeout: 60)
        #expect(exit == .code(2))
        #expect(out.joined().contains("backend can run 1 to 3 instances, not 4"))
        #expect(!FileManager.default.fileExists(atPath: "\(f.folder)/.run/topology/control.sock"))   // stopped again
    }
}

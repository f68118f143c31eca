import Foundation
import Glibc
import NetCore
import Testing
import TestSupport

@Suite struct SupervisorScalingTests {
    @Test func scale_5to1to5_underLoad_failsNoRequest() throws {
        let t = try SupervisorFixture.lb5(backends: 5)
        let f = try SupervisorFixture(topology: t.json)
        _ = try f.start()
        let load = ClientLoop(port: UInt16(t.proxy), paths: ["/images/pokijan.jpg", "/page.html"])
        load.waitFor(200)
        var (exit, out) = try f.run(["scale", "backend=1"])
        #expect(exit == .code(0), "\(out)")
        #expect(try f.status().filter { ($0["name"] as? String ?? "").hasPrefix("backend.") }.count == 1)
        load.waitFor(200)
        (exit, out) = try f.run(["scale", "backend=5"])
        #expect(exit == .code(0), "\(out)")
        load.waitFor(300)
        #expect(load.stop().failures == 0)
        let backends = try f.status().filter { ($0["name"] as? String ?? "").hasPrefix("backend.") }
        #expect(backends.map { $0["port"] as? Int } == (0..<5).map { t.firstBackend + $0 })   // slots keep their ports
        #expect(backends.allSatisfy { $0["state"] as? String == "healthy" })
    }

    @Test func scale_outsideTheRange_isRefusedWithTheReason() throws {
        let t = try SupervisorFixture.lb5(backends: 2, maxBackends: 3)
        let f = try SupervisorFixture(topology: t.json)
        _ = try f.start()
        // A count outside the declared range, or an unknown service, is a usage error (2), as in bench --backends.
        let (exit, out) = try f.run(["scale", "backend=4"])
        #expect(exit == .code(2))
        #expect(out.joined().contains("backend can run 1 to 3 instances, not 4"))
        let (exit2, out2) = try f.run(["scale", "nothing=2"])
        #expect(exit2 == .code(2))
        #expect(out2.joined().contains("no service 'nothing'"))
        // The same when only the running supervisor can tell (the file was moved away since `up`).
        try FileManager.default.moveItem(atPath: f.topologyPath, toPath: f.topologyPath + ".moved")
        let (exit3, out3) = try f.run(["scale", "backend=4"])
        #expect(exit3 == .code(2), "\(out3)")
        #expect(out3.joined().contains("backend can run 1 to 3 instances, not 4"), "\(out3)")
        let (exit4, out4) = try f.run(["stop", "nothing"])
        #expect(exit4 == .code(2), "\(out4)")
        #expect(out4.joined().contains("no service or instance 'nothing'"), "\(out4)")
        try FileManager.default.moveItem(atPath: f.topologyPath + ".moved", toPath: f.topologyPath)
    }

    @Test func stopAndStart_takeAnInstanceOutAndBackIntoTheBalancer() throws {
        let t = try SupervisorFixture.lb5(backends: 2)
        let f = try SupervisorFixture(topology: t.json)
        _ = try f.start()
        #expect(try f.run(["stop", "backend.2"]).0 == .code(0))
        #expect(try f.instance("backend.2")?["state"] as? String == "stopped")
        // Stopped on purpose, its port refuses at once rather than queueing for no one.
        #expect(throws: SystemError.self) { try Socket.connectBlocking(to: .loopback(port: UInt16(t.firstBackend + 1)), timeoutMs: 1000) }
        // The balancer answers /healthz itself (the supervisor's liveness check); with a query it goes through.
        let ports = try (0..<4).map { _ in answeringPort(try HTTPTestClient(port: UInt16(t.balancer)).request("GET", "/healthz?through")) }
        #expect(Set(ports) == [t.firstBackend])
        #expect(try f.run(["start", "backend.2"]).0 == .code(0))
        let after = try (0..<4).map { _ in answeringPort(try HTTPTestClient(port: UInt16(t.balancer)).request("GET", "/healthz?through")) }
        #expect(Set(after) == [t.firstBackend, t.firstBackend + 1])
        #expect(try f.run(["restart", "balancer"]).0 == .code(0))
        #expect(try HTTPTestClient(port: UInt16(t.proxy)).request("GET", "/page.html").status == 200)
    }

    @Test func scaleUp_takesUpStoppedSlotsFirst_andNeverLeavesTheRange() throws {
        let t = try SupervisorFixture.lb5(backends: 3, maxBackends: 4)
        let f = try SupervisorFixture(topology: t.json)
        _ = try f.start()
        #expect(try f.run(["stop", "backend.2"]).0 == .code(0))
        let (exit, out) = try f.run(["scale", "backend=4"])
        #expect(exit == .code(0), "\(out)")
        #expect(out.joined().contains("started backend.2, backend.4"), "\(out)")
        let backends = try f.status().filter { ($0["name"] as? String ?? "").hasPrefix("backend.") }
        #expect(backends.map { $0["port"] as? Int } == (0..<4).map { t.firstBackend + $0 })
        #expect(backends.allSatisfy { $0["state"] as? String == "healthy" })
        #expect(try f.run(["scale", "backend=4"]).1.joined().contains("already runs 4"))
    }

    @Test func aSecondScaleOfTheSameService_whileOneRuns_isRefused() throws {
        // A service that takes a second to start accepting, so the first scale is still under way.
        let first = try SupervisorFixture.freeRange(3)
        let json = """
        {"services": {"slow": {"program": "/usr/bin/env", "args": ["python3", "slow.py"], "port": "\(first)-\(first + 2)",
          "scale": [1, 3], "instances": 1, "health": {"tcp": true, "interval": "100ms"}}}}
        """
        let f = try SupervisorFixture(topology: json)
        try """
        import socket, time
        time.sleep(1.0)
        s = socket.socket(fileno=3)
        while True:
            c, _ = s.accept()
            c.close()
        """.write(toFile: "\(f.folder)/slow.py", atomically: true, encoding: .utf8)
        let up = try f.start(waitFor: "slow.1 is healthy")
        let scaling = try RunningProgram("supervisor", ["scale", "slow=3"], workingDirectory: f.folder)
        #expect(up.waitForLine { $0.contains("scaling slow to 3") } != nil)
        let (exit, out) = try f.run(["scale", "slow=2"])
        #expect(exit == .code(1))
        #expect(out.joined().contains("slow is being scaled already"), "\(out)")
        #expect(scaling.waitForExit(timeout: 60) == .code(0))
        #expect(try f.run(["scale", "slow=2"]).0 == .code(0))   // and once it is done, it is free again
    }

    @Test func stoppedRouteTarget_keepsItsRouteThroughAProxyRestart_andJoinsAgain() throws {
        let p = try SupervisorFixture.freePorts(3)
        let json = """
        {"services": {
          "site": {"program": "backend", "root": "\(Binaries.www)", "port": \(p[0]), "health": {"http": "/healthz", "interval": "100ms"}},
          "images": {"program": "backend", "root": "\(Binaries.www)", "port": \(p[1]), "health": {"http": "/healthz", "interval": "100ms"}},
          "proxy": {"program": "proxy", "port": \(p[2]), "routes": {"/images/": "images", "/": "site"},
                    "health": {"http": "/healthz", "interval": "100ms"}}}}
        """
        let f = try SupervisorFixture(topology: json)
        _ = try f.start()
        #expect(try f.run(["stop", "images"]).0 == .code(0))
        #expect(try f.run(["restart", "proxy"]).0 == .code(0))
        // Not handed to the "/" route: the route is there, with nothing up behind it.
        let r = try HTTPTestClient(port: UInt16(p[2])).request("GET", "/images/pokijan.jpg")
        #expect(r.status == 503 || r.status == 502, "\(r.status) \(r.text)")
        let (exit, out) = try f.run(["start", "images"])
        #expect(exit == .code(0), "\(out)")
        var status = 0
        let deadline = Date().addingTimeInterval(10)
        while status != 200 && Date() < deadline {
            status = (try? HTTPTestClient(port: UInt16(p[2])).request("GET", "/images/pokijan.jpg").status) ?? 0
            if status != 200 { usleep(50_000) }
        }
        #expect(status == 200)
    }
}

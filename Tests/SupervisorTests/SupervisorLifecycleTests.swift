import Foundation
import Glibc
import NetCore
import Synchronization
import Testing
import TestSupport

@Suite struct SupervisorLifecycleTests {
    @Test func up_startsEverythingHealthy_andTrafficFlowsThroughProxyAndBalancer() throws {
        let t = try SupervisorFixture.lb5()
        let f = try SupervisorFixture(topology: t.json)
        let up = try f.start()
        for port in [t.proxy, t.balancer] {
            let r = try HTTPTestClient(port: UInt16(port)).request("GET", "/page.html")
            #expect(r.status == 200)
            #expect(r.header("Via")?.contains("balancer") == true)
        }
        let status = try f.status()
        #expect(status.map { $0["name"] as? String } == ["backend.1", "backend.2", "backend.3", "balancer", "proxy"])
        #expect(status.allSatisfy { $0["state"] as? String == "healthy" })
        #expect(status.allSatisfy { ($0["pid"] as? Int ?? 0) > 0 && ($0["memory_bytes"] as? Int ?? 0) > 0 })
        #expect(status[1]["port"] as? Int == t.firstBackend + 1)
        // Dependency order in the merged log: backends healthy before the balancer starts, the balancer before the proxy.
        let lines = up.output()
        let firstIndex = { (text: String) in lines.firstIndex { $0.contains(text) } ?? Int.max }
        #expect(firstIndex("backend.3 is healthy") < firstIndex("balancer started"))
        #expect(firstIndex("balancer is healthy") < firstIndex("proxy started"))

        let (exit, _) = try f.run(["down"])
        #expect(exit == .code(0))
        #expect(up.waitForExit(timeout: 20) == .code(0))
        for s in status { #expect(kill(pid_t(s["pid"] as? Int ?? 0), 0) != 0, "\(s["name"] ?? "?") still running") }
    }

    @Test func killedBackend_isRestarted_andItsPortNeverRefuses() throws {
        let t = try SupervisorFixture.lb5(backends: 2)
        let f = try SupervisorFixture(topology: t.json)
        let up = try f.start()
        let victim = try #require(try f.instance("backend.2"))
        let oldPid = pid_t(victim["pid"] as! Int)
        kill(oldPid, SIGKILL)
        // The supervisor holds the socket: connections are accepted into the backlog while it restarts.
        for _ in 0..<20 {
            let r = try HTTPTestClient(port: UInt16(t.firstBackend + 1), timeout: 10).request("GET", "/healthz")
            #expect(r.status == 200)
        }
        #expect(up.waitForLine { $0.contains("backend.2 killed by SIGKILL") } != nil)
        #expect(up.waitForLine { $0.contains("restarting backend.2 now") } != nil)
        let now = try #require(try f.instance("backend.2"))
        #expect(now["pid"] as? Int != Int(oldPid))
        #expect(now["restarts"] as? Int == 1)
    }

    @Test func hungBackend_isRestarted_butTheBalancerAndProxyInFrontAreNot() throws {
        let t = try SupervisorFixture.lb5(backends: 1)
        let f = try SupervisorFixture(topology: t.json)
        let up = try f.start()
        let backend = pid_t(try #require(try f.instance("backend.1")?["pid"] as? Int))
        kill(backend, SIGSTOP)
        defer { kill(backend, SIGCONT) }
        // Their health checks ask them, not the backend behind them.
        for port in [t.balancer, t.proxy] {
            let r = try HTTPTestClient(port: UInt16(port), timeout: 3).request("GET", "/healthz")
            #expect(r.status == 200 && r.text.contains("alive"), "\(r.status) \(r.text)")
        }
        #expect(up.waitForLine(timeout: 10) { $0.contains("backend.1 is unhealthy") } != nil)
        kill(backend, SIGCONT)   // so its stop does not wait for the kill timeout
        #expect(up.waitForLine(timeout: 20) { $0.contains("backend.1 started (pid") && !$0.contains("pid \(backend)") } != nil)
        let lines = up.output()
        #expect(!lines.contains { $0.contains("balancer is unhealthy") || $0.contains("proxy is unhealthy") }, "\(lines)")
        for name in ["balancer", "proxy"] { #expect(try f.instance(name)?["restarts"] as? Int == 0) }
    }

    @Test func stoppedProcess_isContinuedSoItCanStop_insteadOfWaitingForTheKill() throws {
        let f = try SupervisorFixture(topology: #"{"services": {"nap": {"program": "/bin/sleep", "args": ["60"], "stop_timeout": "10s"}}}"#)
        let up = try f.start(waitFor: "nap is healthy")
        let pid = pid_t(try #require(try f.instance("nap")?["pid"] as? Int))
        kill(pid, SIGSTOP)
        let started = Date()
        #expect(try f.run(["stop", "nap"]).0 == .code(0))
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(up.waitForLine { $0.contains("nap stopped (killed by SIGTERM)") } != nil, "\(up.output())")
    }

    @Test func builtInPrograms_endTheirOwnGracefulStopInsideTheStopTimeout() throws {
        let t = try SupervisorFixture.lb5(backends: 1)
        let f = try SupervisorFixture(topology: t.json)
        _ = try f.start()
        for name in ["backend.1", "balancer", "proxy"] {
            let pid = try #require(try f.instance(name)?["pid"] as? Int)
            let cmdline = (FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()).split(separator: 0)
                .map { String(decoding: $0, as: UTF8.self) }
            let i = cmdline.firstIndex(of: "--shutdown-timeout")
            #expect(i.map { cmdline[$0 + 1] } == "9000ms", "\(name): \(cmdline)")   // stop_timeout 10 s, less a second
        }
        // One the topology gives in args is the one used (given twice, the program would refuse to start).
        let port = try SupervisorFixture.freePorts(1)[0]
        let own = try SupervisorFixture(topology: """
        {"services": {"site": {"program": "backend", "root": "\(Binaries.www)", "port": \(port), "args": ["--shutdown-timeout=3s"]}}}
        """)
        _ = try own.start(waitFor: "site is healthy")
    }

    @Test func programThatBindsItsOwnPort_runsWithHoldPortFalse() throws {
        let port = try SupervisorFixture.freePorts(1)[0]
        let json = """
        {"services": {"py": {"program": "/usr/bin/env", "args": ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"],
          "port": \(port), "hold_port": false, "health": {"http": "/", "interval": "100ms"}}}}
        """
        let f = try SupervisorFixture(topology: json)
        _ = try f.start(waitFor: "py is healthy")
        #expect(try HTTPTestClient(port: UInt16(port)).request("GET", "/").status == 200)
    }

    @Test func programThatExitsAtOnce_backsOff_thenIsMarkedFailed() throws {
        let json = """
        {"services": {"flaky": {"program": "/bin/sh", "args": ["-c", "echo flaky here; exit 3"],
          "restart": {"max_retries": 3, "backoff": "50ms", "max_backoff": "200ms"}}}}
        """
        let f = try SupervisorFixture(topology: json)
        let up = try f.start(waitFor: "flaky failed")
        let lines = up.output()
        #expect(lines.contains { $0.contains("flaky") && $0.contains("| flaky here") })
        #expect(lines.contains { $0.contains("flaky exited with code 3") })
        #expect(lines.contains { $0.contains("restarting flaky now") })
        #expect(lines.contains { $0.contains("restarting flaky in 50 ms") })
        #expect(lines.contains { $0.contains("restarting flaky in 100 ms") })
        #expect(lines.contains { $0.contains("flaky failed: gave up after 3 restarts in a row (last: exited with code 3)") })
        let s = try #require(try f.instance("flaky"))
        #expect(s["state"] as? String == "failed")
        #expect((s["reason"] as? String)?.contains("gave up") == true)
    }

    @Test func runsThatNeverBecomeHealthy_countTowardGivingUp_howeverLongTheyLast() throws {
        // Each run outlives stable_after but never passes a check: only a healthy run forgives.
        let port = try SupervisorFixture.freePorts(1)[0]
        let json = """
        {"services": {"mute": {"program": "/bin/sleep", "args": ["60"], "port": \(port),
          "health": {"http": "/healthz", "interval": "50ms", "timeout": "100ms", "start_timeout": "300ms"},
          "restart": {"max_retries": 2, "backoff": "50ms", "stable_after": "100ms"}, "stop_timeout": "1s"}}}
        """
        let f = try SupervisorFixture(topology: json)
        let up = try f.start(waitFor: "mute failed", timeout: 20)
        #expect(up.output().contains { $0.contains("mute failed: gave up after 2 restarts in a row") })
        // The reason says what the checks got, not only that they failed.
        #expect(up.output().contains { $0.contains("not healthy 300 ms after starting; last check: ") }, "\(up.output())")
    }

    @Test func instanceThatStopsAccepting_isFoundUnhealthy_andRestarted() throws {
        // Accepts for a moment, then stops (the process stays alive): only a check that sees whether the
        // program takes connections off the queue can tell; the supervisor holds the socket open itself.
        let port = try SupervisorFixture.freePorts(1)[0]
        let json = """
        {"services": {"stuck": {"program": "/usr/bin/env", "port": \(port), "args": ["python3", "stuck.py"],
          "health": {"tcp": true, "interval": "100ms", "timeout": "300ms", "unhealthy_after": 2},
          "restart": {"max_retries": 10, "backoff": "50ms"}}}}
        """
        let f = try SupervisorFixture(topology: json)
        try """
        import socket, time
        s = socket.socket(fileno=3)
        s.settimeout(0.05)
        end = time.time() + 1.0
        while time.time() < end:
            try:
                c, _ = s.accept()
                c.close()
            except socket.timeout:
                pass
        s.close()
        time.sleep(60)
        """.write(toFile: "\(f.folder)/stuck.py", atomically: true, encoding: .utf8)
        let up = try f.start(waitFor: "stuck is healthy")
        let firstPid = try #require(try f.instance("stuck")?["pid"] as? Int)
        #expect(up.waitForLine(timeout: 10) { $0.contains("stuck is unhealthy") && $0.contains("not accepted") } != nil)
        #expect(up.waitForLine(timeout: 10) { $0.contains("stuck started (pid") && !$0.contains("pid \(firstPid)") } != nil)
        #expect((try f.instance("stuck")?["restarts"] as? Int ?? 0) >= 1)
    }

    @Test func supervisorKilledWithSIGKILL_leavesNoChildBehind() throws {
        let t = try SupervisorFixture.lb5(backends: 2)
        let f = try SupervisorFixture(topology: t.json)
        let up = try f.start()
        let pids = try f.status().compactMap { $0["pid"] as? Int }.map { pid_t($0) }
        #expect(pids.count == 4)
        up.signal(SIGKILL)
        _ = up.waitForExit(timeout: 5)
        let deadline = Date().addingTimeInterval(5)
        while pids.contains(where: { kill($0, 0) == 0 }) && Date() < deadline { usleep(20_000) }
        #expect(!pids.contains(where: { kill($0, 0) == 0 }), "children outlived the supervisor")
        // The next command sees nothing running (the stale control socket is cleaned up).
        let (exit, out) = try f.run(["status"])
        #expect(exit == .code(1))
        #expect(out.joined().contains("no topology is running"))
    }

    @Test func sigterm_stopsEverythingInReverseOrder_andExitsZero() throws {
        let t = try SupervisorFixture.lb5(backends: 1)
        let f = try SupervisorFixture(topology: t.json)
        let up = try f.start()
        up.signal(SIGTERM)
        #expect(up.waitForExit(timeout: 20) == .code(0))
        let lines = up.output()
        let at = { (text: String) in lines.firstIndex { $0.contains(text) } ?? -1 }
        #expect(at("proxy stopped") < at("balancer stopped"))
        #expect(at("balancer stopped") < at("backend.1 stopped"))
        #expect(lines.last?.contains("all stopped") == true)
    }
}

import Foundation
import Glibc
import NetCore
import Testing
import TestSupport

/// What the supervisor leaves behind, and what it hands down: a given-up instance's port, the processes a
/// wrapper script starts, and the state of the listening socket a command gets.
@Suite struct SupervisorCleanupTests {
    @Test func givenUpInstance_refusesConnections_insteadOfQueueingThem() throws {
        let port = try SupervisorFixture.freePorts(1)[0]
        let json = """
        {"services": {"flaky": {"program": "/bin/sh", "port": \(port), "args": ["-c", "exit 3"],
          "restart": {"max_retries": 2, "backoff": "50ms", "max_backoff": "100ms"}}}}
        """
        let f = try SupervisorFixture(topology: json)
        let up = try f.start(waitFor: "flaky failed")
        var refused: Int32 = 0
        do {
            Posix.close(try Socket.connectBlocking(to: .loopback(port: UInt16(port)), timeoutMs: 2000))
        } catch {
            refused = error.errno
        }
        #expect(refused == ECONNREFUSED)
        // Started again by hand, it binds its port again (and fails again, as it exits at once).
        let (_, out) = try f.run(["start", "flaky"])
        #expect(!out.joined().contains("cannot listen"), "\(out)")
        #expect(up.waitForLine { $0.contains("starting flaky (asked)") } != nil)
        let startedLines = up.output().filter { $0.contains("flaky started (pid") && $0.contains("port \(port)") }
        #expect(startedLines.count >= 4, "\(startedLines)")   // the first start, two restarts, and this one
    }

    @Test func wrapperKilled_takesItsOwnChildrenWithIt() throws {
        let json = """
        {"services": {"wrapper": {"program": "/bin/sh", "args": ["-c", "sleep 300 & echo child=$!; wait"],
          "restart": {"backoff": "50ms"}}}}
        """
        let f = try SupervisorFixture(topology: json)
        let up = try f.start(waitFor: "child=")
        let line = try #require(up.output().first { $0.contains("child=") })
        let child = try #require(Int(line.split(separator: "=").last ?? ""))
        let wrapper = try #require(try f.instance("wrapper")?["pid"] as? Int)
        kill(pid_t(wrapper), SIGKILL)
        #expect(up.waitForLine { $0.contains("restarting wrapper now") } != nil)
        let deadline = Date().addingTimeInterval(5)
        while ProcessStat.isRunning(child) && Date() < deadline { usleep(20_000) }
        #expect(!ProcessStat.isRunning(child), "the old generation's child \(child) still runs")
    }

    /// `kill -9` of the supervisor: its direct children die with it (PR_SET_PDEATHSIG), and what they
    /// started in their process groups is killed by the guard it left behind, so nothing holds a port.
    @Test func supervisorKilled_takesWhatItsChildrenStartedWithIt() throws {
        let port = try SupervisorFixture.freePorts(1)[0]
        let json = """
        {"services": {"wrapper": {"program": "/bin/sh", "port": \(port), "args": ["-c", "sleep 300 & echo child=$!; wait"]},
                      "plain": {"program": "/bin/sh", "args": ["-c", "sleep 300 & echo other=$!; wait"]}}}
        """
        let f = try SupervisorFixture(topology: json)
        let up = try f.start(waitFor: "other=")
        _ = up.waitForLine { $0.contains("child=") }
        let children = ["child=", "other="].compactMap { key in
            up.output().first { $0.contains(key) }.flatMap { Int($0.split(separator: "=").last ?? "") }
        }
        #expect(children.count == 2)
        up.signal(SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        while children.contains(where: ProcessStat.isRunning) && Date() < deadline { usleep(20_000) }
        for child in children { #expect(!ProcessStat.isRunning(child), "\(child) outlived the killed supervisor") }
        Posix.close(try Socket.listen(on: .loopback(port: UInt16(port))))   // the next `up` can have the port
    }

    @Test func commandGetsItsListeningSocketBlocking_asSystemdHandsItDown() throws {
        let port = try SupervisorFixture.freePorts(1)[0]
        let json = """
        {"services": {"peek": {"program": "/bin/sh", "port": \(port), "args": ["-c", "grep flags /proc/self/fdinfo/3; sleep 300"]}}}
        """
        let f = try SupervisorFixture(topology: json)
        let up = try f.start(waitFor: "flags:")
        let line = try #require(up.output().first { $0.contains("flags:") })
        let flags = try #require(Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).last ?? "", radix: 8))
        #expect(flags & Int(O_NONBLOCK) == 0, "\(line)")
    }

    @Test func exitLine_comesAfterTheChildsLastOutput() throws {
        // Five programs that say one line and exit at once, each run several times: the exit is often
        // reaped before the merger has read the pipe.
        let services = (1...5).map { i in
            "\"t\(i)\": {\"program\": \"/bin/sh\", \"args\": [\"-c\", \"echo last words; exit 3\"], \"restart\": {\"max_retries\": 4, \"backoff\": \"1ms\", \"max_backoff\": \"1ms\"}}"
        }
        let f = try SupervisorFixture(topology: "{\"services\": {\(services.joined(separator: ", "))}}")
        let up = try f.start(waitFor: "t5 failed")
        for i in 1...5 { #expect(up.waitForLine { $0.contains("t\(i) failed") } != nil) }
        var said: [String: Int] = [:]
        for line in up.output() {
            guard let name = line.split(separator: " ").dropFirst().first.map(String.init) else { continue }
            if line.contains("| last words") { said[name, default: 0] += 1 }
            if let range = line.range(of: #"t\d exited with code 3"#, options: .regularExpression) {
                let who = String(line[range].prefix(2))
                #expect(said[who, default: 0] > 0, "\(who) exited before its line was shown: \(line)")
                said[who, default: 0] -= 1
            }
        }
    }
}

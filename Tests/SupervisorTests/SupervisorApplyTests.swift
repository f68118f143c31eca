import Foundation
import Glibc
import NetCore
import Testing
import TestSupport

/// `up` on an edited topology file while it runs applies the edit, as `docker compose up` does.
@Suite struct SupervisorApplyTests {
    private func pid(_ f: SupervisorFixture, _ name: String) throws -> Int? { try f.instance(name)?["pid"] as? Int }

    @Test func anEditedFile_isApplied_recreatingOnlyWhatStartsDifferently() throws {
        let json = """
        {"services": {
          "web": {"program": "/bin/sh", "args": ["-c", "echo web says $V; sleep 300"], "env": {"V": "one"},
                  "scale": [1, 3], "instances": 2},
          "idle": {"program": "/bin/sh", "args": ["-c", "sleep 300"]},
          "calm": {"program": "/bin/sh", "args": ["-c", "sleep 300"], "stop_timeout": "5s"},
          "db": {"program": "/bin/sh", "args": ["-c", "sleep 300"]}}}
        """
        let f = try SupervisorFixture(topology: json)
        let up = try f.start(waitFor: "db is healthy", timeout: 15)
        let before = try Dictionary(uniqueKeysWithValues: ["web.1", "web.2", "idle", "calm"].map { ($0, try pid(f, $0)) })

        // web: a new environment (so a new process) and one more instance; calm: a setting only the
        // supervisor reads; db gone; cache new; idle untouched.
        let edited = json.replacingOccurrences(of: #""V": "one""#, with: #""V": "two""#)
            .replacingOccurrences(of: #""instances": 2"#, with: #""instances": 3"#)
            .replacingOccurrences(of: #""stop_timeout": "5s""#, with: #""stop_timeout": "6s""#)
            .replacingOccurrences(of: #""db": {"program": "/bin/sh", "args": ["-c", "sleep 300"]}"#,
                                  with: #""cache": {"program": "/bin/sh", "args": ["-c", "echo cache is up; sleep 300"]}"#)
        try edited.write(toFile: f.topologyPath, atomically: true, encoding: .utf8)
        let (exit, out) = try f.run(["up", f.topologyPath])
        let text = out.joined(separator: "\n")
        #expect(exit == .code(0), "\(text)")
        for expected in ["applying \(f.topologyPath): cache (added); calm (stop_timeout); db (removed); web (env, instances)",
                         "recreated web.1, web.2 (env, instances); scaled web to 3 (started web.3)",
                         "updated calm (stop_timeout)", "started cache", "removed db", "now runs as \(f.topologyPath) describes it"] {
            #expect(text.contains(expected), "expected '\(expected)' in:\n\(text)")
        }

        let status = try f.status()
        #expect(status.map { $0["name"] as? String ?? "" }.sorted() == ["cache", "calm", "idle", "web.1", "web.2", "web.3"])
        #expect(status.allSatisfy { $0["state"] as? String == "healthy" }, "\(status)")
        #expect(try pid(f, "idle") == before["idle"]!, "an unchanged service was restarted")
        #expect(try pid(f, "calm") == before["calm"]!, "a change only the supervisor reads restarted the process")
        #expect(try pid(f, "web.1") != before["web.1"]! && pid(f, "web.2") != before["web.2"]!)
        // The recreated instances run with the new environment, the new one too.
        for name in ["web.1", "web.2", "web.3"] {
            #expect(up.waitForLine(timeout: 10) { $0.contains("\(name) ") && $0.contains("| web says two") } != nil, "\(name)")
        }
        #expect(up.waitForLine(timeout: 10) { $0.contains("| cache is up") } != nil)

        // The file now says what runs.
        let (again, againOut) = try f.run(["up", f.topologyPath])
        #expect(again == .code(0))
        #expect(againOut.joined().contains("already running here"), "\(againOut)")
    }

    /// The lb5 shape under a client loop through the proxy: the backends get another folder to serve
    /// and one more instance, the balancer another strategy. No request fails, and the proxy, which did
    /// not change, is not restarted.
    @Test func recreatingBackendsAndTheBalancer_underLoad_failsNoRequest() throws {
        let t = try SupervisorFixture.lb5(backends: 2)
        let f = try SupervisorFixture(topology: t.json)
        _ = try f.start()
        let site = try TempSite()
        try site.write("page.html", "the edited site\n")
        let proxyPid = try pid(f, "proxy")
        let balancerPid = try pid(f, "balancer")

        let edited = t.json.replacingOccurrences(of: "\"root\": \"\(Binaries.www)\"", with: "\"root\": \"\(site.path)\"")
            .replacingOccurrences(of: "\"instances\": 2", with: "\"instances\": 3")
            .replacingOccurrences(of: "\"upstreams\": \"backend\",", with: "\"upstreams\": \"backend\", \"strategy\": \"least-conn\",")
        #expect(edited != t.json)
        let text = try applyUnderLoad(edited, f, port: t.proxy)
        #expect(text.contains("recreated backend.1, backend.2 (instances, root); scaled backend to 3"), "\(text)")
        #expect(text.contains("recreated balancer (strategy)"), "\(text)")

        #expect(try pid(f, "proxy") == proxyPid)
        #expect(try pid(f, "balancer") != balancerPid)
        let status = try f.status()
        #expect(status.filter { ($0["name"] as? String ?? "").hasPrefix("backend.") }.compactMap { $0["port"] as? Int }
                == (0..<3).map { t.firstBackend + $0 })
        #expect(status.allSatisfy { $0["state"] as? String == "healthy" }, "\(status)")
        // Every backend serves the new folder, the new one too (round robin over three).
        for _ in 0..<6 {
            let r = try HTTPTestClient(port: UInt16(t.proxy)).request("GET", "/page.html")
            #expect(r.status == 200 && r.text == "the edited site\n", "\(r.status) \(r.text)")
        }
    }

    /// Moved to other ports, an instance starts on its new port beside the old one and joins its
    /// routers before the old one is drained out of them and stopped: the backends, and the balancer,
    /// the proxy's only upstream for "/", twice (its admin socket keeps its usual path throughout).
    @Test func movingBackendsAndTheBalancerToOtherPorts_underLoad_failsNoRequest() throws {
        let t = try SupervisorFixture.lb5(backends: 2, maxBackends: 2)
        let f = try SupervisorFixture(topology: t.json)
        _ = try f.start()
        let moved = try SupervisorFixture.freeRange(2)
        let balancerPorts = try SupervisorFixture.freePorts(2)
        let backendsMoved = t.json.replacingOccurrences(of: "\"port\": \"\(t.firstBackend)-\(t.firstBackend + 1)\"", with: "\"port\": \"\(moved)-\(moved + 1)\"")
        var text = try applyUnderLoad(backendsMoved.replacingOccurrences(of: "\"port\": \(t.balancer),", with: "\"port\": \(balancerPorts[0]),"), f, port: t.proxy)
        #expect(text.contains("recreated backend.1, backend.2 (port)"), "\(text)")
        #expect(text.contains("recreated balancer (port)"), "\(text)")
        text = try applyUnderLoad(backendsMoved.replacingOccurrences(of: "\"port\": \(t.balancer),", with: "\"port\": \(balancerPorts[1]),"), f, port: t.proxy)
        #expect(text.contains("recreated balancer (port)"), "\(text)")
        #expect(try f.status().compactMap { $0["port"] as? Int } == [moved, moved + 1, balancerPorts[1], t.proxy])
        // The old ports are let go: nothing listens there any more.
        for port in [t.firstBackend, t.balancer, balancerPorts[0]] {
            #expect(throws: (any Error).self) { try HTTPTestClient(port: UInt16(port)).request("GET", "/healthz") }
        }
        let upstreams = try admin("\(f.folder)/.run/\(f.topologyName)/balancer.admin.sock", "GET", "/upstreams").text
        #expect(upstreams.contains("127.0.0.1:\(moved)") && upstreams.contains("127.0.0.1:\(moved + 1)"), "\(upstreams)")
    }

    @Test func anEditNamingATakenPort_changesNothing_andSaysWhoHoldsIt() throws {
        let json = #"{"services": {"web": {"program": "/bin/sh", "args": ["-c", "sleep 300"]}}}"#
        let f = try SupervisorFixture(topology: json)
        _ = try f.start(waitFor: "web is healthy", timeout: 10)
        let webPid = try pid(f, "web")
        let taken = try Socket.listen(on: .loopback(port: 0))
        defer { Posix.close(taken) }
        let port = Int(Socket.localAddress(taken)?.port ?? 0)
        let edited = "{\"services\": {\"web\": {\"program\": \"/bin/sh\", \"args\": [\"-c\", \"sleep 301\"]},"
            + " \"site\": {\"program\": \"backend\", \"root\": \"\(Binaries.www)\", \"port\": \(port)}}}"
        try edited.write(toFile: f.topologyPath, atomically: true, encoding: .utf8)
        let (exit, out) = try f.run(["up", f.topologyPath])
        let text = out.joined(separator: "\n")
        #expect(exit == .code(1), "\(text)")
        #expect(text.contains("port \(port) is already in use by pid \(getpid())"), "\(text)")
        #expect(text.contains("nothing was changed"), "\(text)")
        #expect(try f.status().map { $0["name"] as? String } == ["web"])
        #expect(try pid(f, "web") == webPid)
    }

    /// A recreated instance that does not come up stops the rolling change there: the instances not yet
    /// recreated go on serving as before, and `up` says what failed and what was not done.
    @Test func anEditThatDoesNotStart_stopsAtTheFirstInstance_andTheRestGoOnServing() throws {
        let first = try SupervisorFixture.freeRange(2)
        let json = """
        {"services": {"site": {"program": "backend", "root": "\(Binaries.www)", "workers": 1, "scale": [1, 2], "instances": 2,
                               "port": "\(first)-\(first + 1)", "health": {"http": "/healthz", "interval": "200ms"},
                               "restart": {"max_retries": 2, "backoff": "50ms"}},
                      "other": {"program": "/bin/sh", "args": ["-c", "sleep 300"]}}}
        """
        let f = try SupervisorFixture(topology: json)
        _ = try f.start(waitFor: "site.2 is healthy", timeout: 15)
        let secondPid = try pid(f, "site.2")
        try json.replacingOccurrences(of: #""workers": 1,"#, with: #""workers": 1, "args": ["--no-such-option"],"#)
            .replacingOccurrences(of: "sleep 300", with: "sleep 301")
            .write(toFile: f.topologyPath, atomically: true, encoding: .utf8)
        let (exit, out) = try f.run(["up", f.topologyPath])
        let text = out.joined(separator: "\n")
        #expect(exit == .code(1), "\(text)")
        #expect(text.contains("site: site.1 failed to start: gave up after 2 restarts in a row (last: exited with code 2)"), "\(text)")
        #expect(text.contains("not done: other"), "\(text)")
        #expect(text.contains("`supervisor logs site` shows what went wrong"), "\(text)")
        #expect(try pid(f, "site.2") == secondPid)
        #expect(try HTTPTestClient(port: UInt16(first + 1)).request("GET", "/page.html").status == 200)
        // Not half taken for done: the same file is tried again.
        let (again, againOut) = try f.run(["up", f.topologyPath])
        #expect(again == .code(1), "\(againOut)")
        #expect(againOut.joined().contains("applying \(f.topologyPath): other (args); site (args)"), "\(againOut)")
    }

    /// `up` again on an unchanged file starts what had been given up on, once its cause is gone, as
    /// `docker compose up` starts containers that had exited.
    @Test func upAgain_restartsInstancesThatHadFailed() throws {
        let json = #"{"services": {"web": {"program": "/bin/sh", "args": ["-c", "test -f ready || exit 3; echo web runs; sleep 300"],"#
            + #" "restart": {"max_retries": 1, "backoff": "50ms"}}, "other": {"program": "/bin/sh", "args": ["-c", "sleep 300"]}}}"#
        let f = try SupervisorFixture(topology: json)
        let up = try f.start(waitFor: "web failed", timeout: 15)
        let otherPid = try pid(f, "other")
        #expect(try f.instance("web")?["state"] as? String == "failed")
        #expect(FileManager.default.createFile(atPath: "\(f.folder)/ready", contents: nil))
        let (exit, out) = try f.run(["up", f.topologyPath])
        let text = out.joined(separator: "\n")
        #expect(exit == .code(0), "\(text)")
        #expect(text.contains("restarting what had failed: web"), "\(text)")
        #expect(text.contains("restarted web (it had failed)"), "\(text)")
        #expect(up.waitForLine(timeout: 10) { $0.contains("| web runs") } != nil)
        #expect(try f.instance("web")?["state"] as? String == "healthy")
        #expect(try pid(f, "other") == otherPid)
    }

    /// `bench` runs a service with other args for a while (`reconfigure`); until it puts the file's back,
    /// `up` sees the difference and applies the file.
    @Test func argsReplacedAtRunTime_areSeenAsAChange_andTheFileIsApplied() throws {
        let json = #"{"services": {"web": {"program": "/bin/sh", "args": ["-c", "echo from the file; sleep 300"]}}}"#
        let f = try SupervisorFixture(topology: json)
        let up = try f.start(waitFor: "web is healthy", timeout: 10)
        let reply = try control(f, #"{"command": "reconfigure", "service": "web", "args": ["-c", "echo replaced; sleep 300"]}"#)
        #expect(reply.contains(#""ok":true"#), "\(reply)")
        #expect(up.waitForLine(timeout: 10) { $0.contains("| replaced") } != nil)
        let (exit, out) = try f.run(["up", f.topologyPath])
        #expect(exit == .code(0), "\(out)")
        #expect(out.joined().contains("applying \(f.topologyPath): web (args)"), "\(out)")
        #expect(up.waitForLine(timeout: 10) { $0.contains("| from the file") && !$0.contains("started") } != nil)
        let (again, againOut) = try f.run(["up", f.topologyPath])
        #expect(again == .code(0) && againOut.joined().contains("already running here"), "\(againOut)")
    }

    /// Writes `edited` over the topology file and runs `up` on it while clients loop through `port`;
    /// expects exit 0 and no failed request, and returns what `up` printed.
    private func applyUnderLoad(_ edited: String, _ f: SupervisorFixture, port: Int) throws -> String {
        let load = ClientLoop(port: UInt16(port))
        load.waitFor(200)
        try edited.write(toFile: f.topologyPath, atomically: true, encoding: .utf8)
        let (exit, out) = try f.run(["up", f.topologyPath], timeout: 120)
        load.waitFor(200)
        let (requests, failures) = load.stop()
        let text = out.joined(separator: "\n")
        #expect(exit == .code(0), "\(text)")
        #expect(failures == 0, "\(failures) of \(requests) requests failed\n\(text)")
        return text
    }

    /// One request on the running supervisor's control socket, as the other commands send it.
    private func control(_ f: SupervisorFixture, _ line: String) throws -> String {
        let fd = try Socket.connectBlocking(to: SocketAddress(.unix("\(f.folder)/.run/\(f.topologyName)/control.sock")), timeoutMs: 2000)
        defer { Posix.close(fd) }
        Socket.setTimeouts(fd, receiveMs: 30_000, sendMs: 5000)
        try Posix.writeAll(fd, line + "\n")
        return String(decoding: Posix.readAll(fd), as: UTF8.self)
    }
}

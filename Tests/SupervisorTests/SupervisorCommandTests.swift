import Foundation
import Glibc
import NetCore
import Testing
import TestSupport

@Suite struct SupervisorCommandTests {
    @Test func mergedLog_interleavesChildrenWithoutTornLines() throws {
        // Unquoted echo: the script sits inside a JSON string.
        let script = "i=0; while [ $i -lt 3000 ]; do echo $SERVICE line $i padding-padding-padding-padding; i=$((i+1)); done; sleep 30"
        let json = """
        {"services": {
          "a": {"program": "/bin/sh", "args": ["-c", "\(script)"]},
          "b": {"program": "/bin/sh", "args": ["-c", "\(script)"]},
          "c": {"program": "/bin/sh", "args": ["-c", "\(script)"]}}}
        """
        let f = try SupervisorFixture(topology: json)
        let up = try f.start(waitFor: "c is healthy")
        for name in ["a", "b", "c"] {
            #expect(up.waitForLine(timeout: 20) { $0.contains("| \(name) line 2999 ") } != nil)
        }
        let (exit, lines) = try f.run(["logs"])
        #expect(exit == .code(0))
        var next = ["a": 0, "b": 0, "c": 0]
        for line in lines where line.contains(" line ") {
            // "HH:MM:SS.mmm a            | a line 17 padding-…"
            let parts = line.split(separator: "|", maxSplits: 1)
            #expect(parts.count == 2, "no prefix: \(line)")
            let name = parts[0].split(separator: " ")[1]
            let words = parts[1].split(separator: " ")
            #expect(words.count == 4 && String(words[0]) == String(name) && words[3] == "padding-padding-padding-padding", "torn: \(line)")
            #expect(Int(words[2]) == next[String(name)], "out of order: \(line)")
            next[String(name)] = (Int(words[2]) ?? 0) + 1
        }
        #expect(next == ["a": 3000, "b": 3000, "c": 3000])
        // -n and a name filter.
        let (_, tail) = try f.run(["logs", "-n", "5", "b"])
        #expect(tail.count == 5)
        #expect(tail.allSatisfy { $0.contains(" b ") || $0.contains("| b ") })
        let (typoExit, typo) = try f.run(["logs", "-n", "5", "bb"])
        #expect(typoExit == .code(2))
        #expect(typo.joined().contains("no service or instance 'bb'"), "\(typo)")
    }

    /// `up` again, as with docker compose: an unchanged file is fine (exit 0, nothing restarted); an
    /// edited one is applied, naming each service and setting that differs (SupervisorApplyTests).
    @Test func upAgain_onTheSameFile_isFine_andOnAnEditedOne_appliesTheEdit() throws {
        let json = #"{"services": {"web": {"program": "/bin/sh", "args": ["-c", "sleep 300"], "env": {"A": "1", "B": "2", "C": "3"}}}}"#
        let f = try SupervisorFixture(topology: json)
        _ = try f.start(waitFor: "web is healthy", timeout: 10)
        let pid = try f.instance("web")?["pid"] as? Int
        let (same, sameOut) = try f.run(["up", f.topologyPath])
        #expect(same == .code(0), "\(sameOut)")
        #expect(sameOut.joined().contains("already running here"), "\(sameOut)")
        #expect(try f.instance("web")?["pid"] as? Int == pid)
        try json.replacingOccurrences(of: "sleep 300", with: "sleep 301").replacingOccurrences(of: #""A": "1""#, with: #""A": "9""#)
            .write(toFile: f.topologyPath, atomically: true, encoding: .utf8)
        let (edited, editedOut) = try f.run(["up", f.topologyPath])
        #expect(edited == .code(0), "\(editedOut)")
        #expect(editedOut.joined().contains("applying \(f.topologyPath): web (args, env)"), "\(editedOut)")
        #expect(editedOut.joined().contains("recreated web (args, env)"), "\(editedOut)")
        #expect(try f.instance("web")?["pid"] as? Int != pid)
    }

    @Test func startupEvents_areShownAtOnce_whenNoChildPrintsAnything() throws {
        let f = try SupervisorFixture(topology: #"{"services": {"silent": {"program": "/bin/sh", "args": ["-c", "sleep 30"]}}}"#)
        _ = try f.start(waitFor: "silent is healthy", timeout: 10)
        #expect(LogFileText.read(f.logFile).contains("silent is healthy"))
    }

    @Test func statusJSON_andTable_describeEveryInstance() throws {
        let t = try SupervisorFixture.lb5(backends: 2)
        let f = try SupervisorFixture(topology: t.json)
        _ = try f.start()
        let json = try f.status()
        #expect(json.count == 4)
        for item in json {
            for key in ["name", "pid", "port", "state", "restarts", "uptime_seconds", "memory_bytes"] {
                #expect(item[key] != nil, "\(key) missing in \(item)")
            }
        }
        let (exit, table) = try f.run(["status"])
        #expect(exit == .code(0))
        #expect(table.first?.hasPrefix("NAME") == true)
        #expect(table.contains { $0.hasPrefix("backend.1") && $0.contains("healthy") && $0.contains(String(t.firstBackend)) })
    }

    @Test func badTopologyFiles_areRefusedWithFileKeyAndReason_andNothingStarts() throws {
        let taken = try Socket.listen(on: .loopback(port: 0))
        defer { Posix.close(taken) }
        let takenPort = Int(Socket.localAddress(taken)?.port ?? 0)
        let cases: [(String, String)] = [
            (#"{"services": {"web": {"program": "backend", "prot": 80}}}"#, "services.web.prot: unknown key 'prot' (did you mean 'port'?)"),
            (#"{"services": {"web": {"program": "backend", "root": "/nope", "port": "80"}}}"#, "services.web.port"),
            (#"{"services": {"web": {"program": "bakend", "port": 1}}}"#, "program 'bakend' not found"),
            (#"{"services": {"web": {"program": "/bin/echo", "args": ["{prot}"]}}}"#, "services.web.args[0]: unknown placeholder {prot} (did you mean {port}?)"),
            ("{\"services\": {\"web\": {\"program\": \"backend\", \"root\": \"\(Binaries.www)\", \"port\": \(takenPort)}}}", "port \(takenPort) is already in use by pid \(getpid())"),
            (#"{"services": {"a": {"program": "/bin/true", "depends_on": ["b"]}, "b": {"program": "/bin/true", "depends_on": ["a"]}}}"#, "dependency cycle"),
            ("{\"services\": ", "invalid JSON"),
            (#"{"name": "../elsewhere", "services": {"x": {"program": "/bin/true"}}}"#, "name: \"../elsewhere\" may only use"),
        ]
        for (json, expected) in cases {
            let f = try SupervisorFixture(topology: json)
            let p = try RunningProgram("supervisor", ["up", f.topologyPath], workingDirectory: f.folder)
            // A wrong file is a usage error (2); a port someone else holds is a runtime one (1).
            #expect(p.waitForExit(timeout: 10) == .code(expected.hasPrefix("port ") ? 1 : 2), "\(json)")
            let text = p.output().joined(separator: "\n")
            #expect(text.contains(f.topologyPath) || text.contains("topology.json"), "no file name in: \(text)")
            #expect(text.contains(expected), "expected '\(expected)' in: \(text)")
            #expect(text.contains("nothing was started"))
            #expect(!text.contains("Fatal error"))
        }
    }

    @Test func commandsWithoutARunningSupervisor_sayWhatToDo() throws {
        let f = try SupervisorFixture(topology: #"{"services": {"x": {"program": "/bin/true"}}}"#)
        for args in [["status"], ["scale", "x=2"], ["down"], ["restart", "x"]] {
            let (exit, out) = try f.run(args)
            #expect(exit == .code(1), "\(args)")
            #expect(out.joined().contains("no topology is running"), "\(args): \(out)")
        }
        let (exit, out) = try f.run(["bogus"])
        #expect(exit == .code(2))
        #expect(out.joined().contains("unknown command 'bogus'"))
        #expect(try f.run(["--help"]).0 == .code(0))
    }

    @Test func detach_returnsOnceHealthy_andTheTopologyKeepsRunning() throws {
        let t = try SupervisorFixture.lb5(backends: 1)
        let f = try SupervisorFixture(topology: t.json)
        let (exit, out) = try f.run(["up", f.topologyPath, "--detach"], timeout: 60)
        #expect(exit == .code(0), "\(out)")
        #expect(out.joined(separator: "\n").contains("is up"))
        #expect(try HTTPTestClient(port: UInt16(t.proxy)).request("GET", "/page.html").status == 200)
        #expect(try f.status().allSatisfy { $0["state"] as? String == "healthy" })
        let (down, _) = try f.run(["down"])
        #expect(down == .code(0))
        #expect(!FileManager.default.fileExists(atPath: "\(f.folder)/.run/topology/control.sock"))
    }
}

/// A log file's text, invalid bytes shown as U+FFFD.
enum LogFileText {
    static func read(_ path: String) -> String {
        String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
    }
}

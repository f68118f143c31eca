import Foundation
import Glibc
import Testing
import TestSupport

/// How `supervisor` answers mistakes in how it is called: exit 2 with the reason, whatever is running.
@Suite struct SupervisorUsageTests {
    /// A folder with a topology file and nothing running in it.
    private func idleFolder() throws -> SupervisorFixture {
        try SupervisorFixture(topology: #"{"services": {"x": {"program": "/bin/true"}}}"#)
    }

    @Test func anUnknownOption_isAUsageError_beforeLookingForARunningSupervisor() throws {
        let f = try idleFolder()
        let commands: [[String]] = [
            ["status"], ["status", "topology.json"], ["logs"], ["logs", "-n", "3", "x"], ["scale", "x=1"],
            ["restart", "x"], ["stop", "x"], ["start", "x"], ["down"], ["up", "topology.json"],
            ["bench", "topology.json"], ["load", "http://127.0.0.1:9/"],
        ]
        for args in commands {
            let (exit, out) = try f.run(args + ["--bogus"], timeout: 20)
            #expect(exit == .code(2), "\(args): \(out)")
            #expect(out.joined(separator: "\n").contains("unknown option '--bogus'"), "\(args): \(out)")
        }
    }

    @Test func eachCommandsHelp_isThatCommandsUsage() throws {
        let f = try idleFolder()
        let expected = ["up": "up FILE", "status": "status [FILE]", "logs": "logs [FILE]", "scale": "scale [FILE]",
                        "restart": "restart|stop|start", "stop": "restart|stop|start", "start": "restart|stop|start",
                        "down": "down [FILE]", "bench": "bench FILE", "load": "load URL"]
        for (command, usage) in expected {
            for flag in ["--help", "-h"] {
                let (exit, out) = try f.run([command, flag], timeout: 10)
                #expect(exit == .code(0), "\(command) \(flag)")
                #expect(out.first == "Usage: supervisor \(usage)" || out.first?.hasPrefix("Usage: supervisor \(usage) ") == true,
                        "\(command) \(flag): \(out.prefix(2))")
            }
        }
        // The options each documents are its own.
        #expect(try f.run(["bench", "--help"]).1.contains { $0.contains("--concurrency") })
        #expect(try f.run(["load", "--help"]).1.contains { $0.contains("--timeout") })
        #expect(try f.run(["--help"]).0 == .code(0))
    }

    @Test func noCommand_orAnOptionInstead_isAUsageError_listingEveryCommand() throws {
        let f = try idleFolder()
        for (args, reason) in [([String](), "a command is needed"), (["--bogus"], "unknown option '--bogus'")] {
            let (exit, out) = try f.run(args, timeout: 10)
            let text = out.joined(separator: "\n")
            #expect(exit == .code(2), "\(args)")
            #expect(text.contains(reason), "\(args): \(text)")
            for command in ["up", "status", "logs", "scale", "restart", "stop", "start", "down", "bench", "load"] {
                #expect(text.contains(command), "\(args): \(command) missing in \(text)")
            }
        }
    }

    @Test func scaleOutsideTheDeclaredRange_isAUsageError() throws {
        let f = try SupervisorFixture(topology: """
            {"services": {"w": {"program": "/bin/sh", "args": ["-c", "sleep 30"], "scale": [1, 3], "instances": 1}}}
            """)
        _ = try f.start(waitFor: "w.1 is healthy")
        let (exit, out) = try f.run(["scale", "w=9"])
        #expect(exit == .code(2), "\(out)")
        #expect(out.joined().contains("w can run 1 to 3 instances, not 9"), "\(out)")
        let (typoExit, typo) = try f.run(["scale", "ww=2"])
        #expect(typoExit == .code(2), "\(typo)")
        #expect(typo.joined().contains("no service 'ww'") && typo.joined().contains("did you mean 'w'?"), "\(typo)")
        // Within the range it still scales.
        let (okExit, ok) = try f.run(["scale", "w=2"])
        #expect(okExit == .code(0), "\(ok)")
        #expect(try f.instance("w.2")?["state"] as? String == "healthy")
    }
}

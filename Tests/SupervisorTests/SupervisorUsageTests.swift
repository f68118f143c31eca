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
}

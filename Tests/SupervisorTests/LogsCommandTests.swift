import Foundation
import Glibc
import Testing
import TestSupport

/// `supervisor logs` as a user runs it: whatever bytes the children printed, whichever file the lines
/// have rotated into, names checked against the topology.
@Suite struct LogsCommandTests {
    @Test func bytesThatAreNotUTF8_areShownAsReplacementCharacters_neverAnError() throws {
        // printf's octal escapes: the bytes 0xFF 0xFE, which no UTF-8 text contains.
        let json = #"""
        {"services": {"bin": {"program": "/bin/sh", "args": ["-c", "printf 'bad utf8 \\377\\376 end\\n'; sleep 30"]}}}
        """#
        let f = try SupervisorFixture(topology: json)
        let up = try f.start(waitFor: "bin is healthy")
        #expect(up.waitForLine(timeout: 20) { $0.contains("bad utf8") } != nil)
        let expected = "| bad utf8 \u{FFFD}\u{FFFD} end"
        for args in [["logs"], ["logs", "-n", "2"], ["logs", "bin"]] {
            let (exit, out) = try f.run(args, timeout: 20)
            #expect(exit == .code(0), "\(args): \(out)")
            #expect(out.contains { $0.hasSuffix(expected) }, "\(args): \(out)")
            #expect(!out.joined().contains("NSCocoaErrorDomain"), "\(args): \(out)")
        }
        // Following: the old lines first, then it waits (stopped here, as Ctrl-C would).
        let follow = try RunningProgram("supervisor", ["logs", "-f", "-n", "3"], workingDirectory: f.folder)
        #expect(follow.waitForLine(timeout: 20) { $0.hasSuffix(expected) } != nil, "\(follow.output())")
        #expect(!follow.hasExited(), "\(follow.output())")
        follow.signal(SIGTERM)
        #expect(follow.waitForExit(timeout: 10) != nil)
    }

    /// The files as the supervisor leaves them after a rotation: supervisor.log.1 holds the older lines.
    private func rotatedRun() throws -> SupervisorFixture {
        let json = """
        {"services": {
          "pdf": {"program": "/bin/true"},
          "quiet": {"program": "/bin/true"},
          "web": {"program": "/bin/true", "scale": [1, 3]}}}
        """
        let f = try SupervisorFixture(topology: json)
        let run = "\(f.folder)/.run/topology"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let old = (1...100).map { "12:00:00.000 pdf          | old line \($0)\n" }.joined()
        let new = (1...100).map { "12:00:01.000 web.\($0 % 2 + 1)        | new line \($0)\n" }.joined()
        try old.write(toFile: "\(run)/supervisor.log.1", atomically: true, encoding: .utf8)
        try new.write(toFile: "\(run)/supervisor.log", atomically: true, encoding: .utf8)
        return f
    }

    @Test func afterARotation_namesComeFromTheTopology_andTailReadsBackIntoTheRotatedFile() throws {
        let f = try rotatedRun()
        let file = f.topologyPath
        // A service whose lines are all in the rotated file.
        let (pdfExit, pdf) = try f.run(["logs", file, "-n", "5", "pdf"], timeout: 20)
        #expect(pdfExit == .code(0), "\(pdf)")
        #expect(pdf.map { $0.split(separator: "|").last.map(String.init) } == (96...100).map { " old line \($0)" })
        // -n spans both files, oldest line first; no -n prints both files whole.
        let (_, tail) = try f.run(["logs", file, "-n", "150"], timeout: 20)
        #expect(tail.count == 150)
        #expect(tail.first?.hasSuffix("| old line 51") == true, "\(tail.prefix(2))")
        #expect(tail.last?.hasSuffix("| new line 100") == true)
        let (_, all) = try f.run(["logs", file], timeout: 20)
        #expect(all.count == 200)
        // An instance, and a service by its instances.
        let (_, two) = try f.run(["logs", file, "-n", "3", "web.2"], timeout: 20)
        #expect(two.count == 3 && two.allSatisfy { $0.contains(" web.2 ") }, "\(two)")
        // Declared but silent: nothing to show, not an error.
        let (quietExit, quiet) = try f.run(["logs", file, "quiet"], timeout: 20)
        #expect(quietExit == .code(0), "\(quiet)")
        #expect(quiet.isEmpty, "\(quiet)")
        // Not declared: a usage error naming the name and the likely one.
        let (typoExit, typo) = try f.run(["logs", file, "-n", "5", "pfd"], timeout: 20)
        #expect(typoExit == .code(2))
        #expect(typo.joined().contains("no service or instance 'pfd'") && typo.joined().contains("did you mean 'pdf'?"), "\(typo)")
    }

    @Test func aDeclaredServiceWithNoLines_printsNothing_whileRunningAndAfterDown() throws {
        let json = """
        {"services": {"talker": {"program": "/bin/sh", "args": ["-c", "echo hello; sleep 30"]},
                      "quiet": {"program": "/bin/sh", "args": ["-c", "sleep 30"]}}}
        """
        let f = try SupervisorFixture(topology: json)
        let up = try f.start(waitFor: "quiet is healthy")
        #expect(up.waitForLine(timeout: 20) { $0.hasSuffix("| hello") } != nil)
        let (exit, out) = try f.run(["logs", "quiet"], timeout: 20)
        #expect(exit == .code(0), "\(out)")
        #expect(out.isEmpty, "\(out)")
        let (typoExit, typo) = try f.run(["logs", "qiuet"], timeout: 20)
        #expect(typoExit == .code(2))
        #expect(typo.joined().contains("did you mean 'quiet'?"), "\(typo)")
        // Stopped: the topology `up` ran is still what names are checked against.
        #expect(try f.run(["down"]).0 == .code(0))
        #expect(up.waitForExit(timeout: 20) != nil)
        let (afterExit, after) = try f.run(["logs", "quiet"], timeout: 20)
        #expect(afterExit == .code(0), "\(after)")
        #expect(after.isEmpty, "\(after)")
        #expect(try f.run(["logs", "qiuet"], timeout: 20).0 == .code(2))
    }
}

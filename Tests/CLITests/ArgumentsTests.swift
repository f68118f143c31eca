import Testing
@testable import CLI

@Suite struct ArgumentsTests {
    @Test func valuesFlagsAndPositionals_areTaken() throws {
        var a = Arguments(["up", "--port", "9001", "--quiet", "--upstream=a:1", "--upstream", "b:2", "file.json"], program: "t")
        #expect(a.positional() == "up")
        #expect(try a.int("--port", in: 1...65535) == 9001)
        let quiet = a.flag("--quiet")
        #expect(quiet)
        #expect(try a.values("--upstream") == ["a:1", "b:2"])
        #expect(a.positional() == "file.json")
        try a.finish()
    }

    @Test func leftovers_andBadValues_areUsageErrorsNamingTheProblem() {
        var a = Arguments(["--bogus"], program: "t")
        #expect(throws: UsageError.self) { try a.finish() }
        var b = Arguments(["--port", "x"], program: "t")
        do {
            _ = try b.int("--port", in: 1...10)
            Issue.record("accepted --port x")
        } catch {
            #expect(error.message.contains("--port"))
        }
        var c = Arguments(["--port"], program: "t")
        #expect(throws: UsageError.self) { _ = try c.value("--port") }
        var d = Arguments(["--port", "1", "--port", "2"], program: "t")
        #expect(throws: UsageError.self) { _ = try d.value("--port") }
        var e = Arguments(["--model", "fork"], program: "t")
        #expect(throws: UsageError.self) { _ = try e.choice("--model", ["event", "thread"]) }
    }

    @Test func durations_acceptUnits() {
        #expect(Arguments.parseDuration("250ms") == 250)
        #expect(Arguments.parseDuration("5s") == 5000)
        #expect(Arguments.parseDuration("2m") == 120_000)
        #expect(Arguments.parseDuration("1.5") == 1500)
        #expect(Arguments.parseDuration("soon") == nil)
        #expect(Arguments.parseDuration("-1s") == nil)
        for odd in ["0x10s", "1e3s", "infs", "1.s", ".5s", "s", "", "100000000000s"] {
            #expect(Arguments.parseDuration(odd) == nil, "\(odd)")
        }
        #expect(Arguments.parseDuration("24h") == 86_400_000)
        var zero = Arguments(["--connect-timeout", "0"], program: "t")
        #expect(throws: UsageError.self) { try zero.duration("--connect-timeout", allowZero: false) }
        var negative = Arguments(["--port", "-1"], program: "t")
        #expect(throws: UsageError.self) { try negative.int("--port", in: 0...65535) }
    }
}

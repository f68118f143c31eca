import Foundation
import Glibc
import Synchronization
import Testing
import TestSupport

/// A server that answers its first connection (the load generator's length probe) and after that only
/// listens: every later request gets no answer, as from a stuck upstream.
final class StallingServer: Sendable {
    final class Count: Sendable { let value = Atomic<Int>(0) }
    private let count = Count()
    private let server: RawTCPServer

    init() throws {
        let count = self.count
        server = try RawTCPServer { c in
            guard count.value.add(1, ordering: .relaxed).newValue == 1 else {
                _ = c.readToEnd()   // until the client gives up (or 10 s pass)
                return
            }
            _ = c.read(count: 1)
            try? c.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        }
    }

    var port: UInt16 { server.port }
    var url: String { "http://127.0.0.1:\(port)/" }
    var accepted: Int { count.value.load(ordering: .relaxed) }

    /// Waits until `n` connections have arrived (a readiness check, not a sleep).
    func waitForConnections(_ n: Int, timeout: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while accepted < n { if Date() > deadline { return false }; usleep(10_000) }
        return true
    }
}

/// `supervisor load` against a target that stops answering: it always ends, when it was told to, and
/// says what happened to every request.
@Suite struct LoadCommandTests {
    private func line(_ out: [String], _ prefix: String) -> String? { out.first { $0.hasPrefix(prefix) } }

    @Test func aZeroDurationOrTimeout_isAUsageError() throws {
        for args in [["-d", "0s"], ["-d", "0"], ["-s", "0"], ["--timeout", "0ms"]] {
            let p = try RunningProgram("supervisor", ["load", "http://127.0.0.1:9/"] + args)
            #expect(p.waitForExit(timeout: 10) == .code(2), "\(args)")
            #expect(p.output().joined().contains("must be more than 0"), "\(args): \(p.output())")
        }
    }

    @Test func aRequestWithNoAnswerWithinTheTimeout_isAFailure() throws {
        let server = try StallingServer()
        let started = Date()
        let p = try RunningProgram("supervisor", ["load", server.url, "-n", "3", "-c", "1", "-s", "300ms"])
        #expect(p.waitForExit(timeout: 20) == .code(1))
        let out = p.output()
        #expect(line(out, "Complete requests:")?.hasSuffix(" 0") == true, "\(out)")
        #expect(line(out, "Failed requests:")?.contains("3 (") == true && line(out, "Failed requests:")?.contains("timed out: 3") == true, "\(out)")
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(server.accepted == 4)   // the probe and one connection per request: each stalled one was given up
    }

    @Test func theDuration_isADeadline_andWhatIsInFlightThenIsCut() throws {
        let server = try StallingServer()
        let started = Date()
        let p = try RunningProgram("supervisor", ["load", server.url, "-d", "1s", "-c", "2"])
        let exit = p.waitForExit(timeout: 15)
        let took = Date().timeIntervalSince(started)
        let out = p.output()
        #expect(exit == .code(0), "\(out)")
        #expect(took < 5, "took \(took) s")
        #expect(line(out, "Cut in flight:")?.hasPrefix("Cut in flight:          2 ") == true, "\(out)")
        #expect(line(out, "Complete requests:")?.hasSuffix(" 0") == true, "\(out)")
        #expect(line(out, "Failed requests:")?.hasPrefix("Failed requests:        0 ") == true, "\(out)")
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func aSignal_stopsTheRun_andPrintsThePartialReport(signal: Int32) throws {
        let server = try StallingServer()
        let p = try RunningProgram("supervisor", ["load", server.url, "-d", "60s", "-c", "2"])
        #expect(server.waitForConnections(3))   // the probe, then both connections of the run
        p.signal(signal)
        #expect(p.waitForExit(timeout: 10) == .code(1))
        let out = p.output()
        #expect(line(out, "Stopped early:")?.contains(signal == SIGINT ? "SIGINT" : "SIGTERM") == true, "\(out)")
        #expect(line(out, "Cut in flight:")?.hasPrefix("Cut in flight:          2 ") == true, "\(out)")
        #expect(line(out, "Complete requests:") != nil, "\(out)")
    }
}

import Foundation
import Glibc
import NetCore
import Testing
import TestSupport
@testable import Supervisor

@Suite struct LoadGeneratorTests {
    func config(_ port: UInt16, path: String = "/page.html", c: Int, n: Int, keepAlive: Bool) -> LoadConfig {
        LoadConfig(target: .loopback(port: port), hostHeader: "127.0.0.1:\(port)", path: path, concurrency: c,
                   keepAlive: keepAlive, requests: n, durationMs: 0)
    }

    @Test(arguments: [false, true])
    func countsAreExact_againstARealBackend(keepAlive: Bool) throws {
        let backend = try BackendProcess(arguments: ["--workers", "1"])
        let r = try LoadGenerator.run(config(backend.port, c: 8, n: 500, keepAlive: keepAlive))
        #expect(r.complete == 500)
        #expect(r.failed == 0)
        #expect(r.non2xx == 0)
        let page = try Data(contentsOf: URL(fileURLWithPath: Binaries.www).appendingPathComponent("page.html")).count
        #expect(r.bodyBytes == 500 * page)
        #expect(r.bytesReceived > r.bodyBytes)
        #expect(r.p50Ms > 0 && r.p50Ms <= r.p90Ms && r.p90Ms <= r.p99Ms && r.p99Ms <= r.maxMs)
    }

    @Test func keepAlive_reusesConnections_andCloseOpensOnePerRequest() throws {
        let echo = try EchoServer()
        _ = try LoadGenerator.run(config(echo.port, c: 4, n: 200, keepAlive: true))
        #expect(echo.connections.load(ordering: .relaxed) <= 5)   // four, plus the length probe
        let before = echo.connections.load(ordering: .relaxed)
        _ = try LoadGenerator.run(config(echo.port, c: 4, n: 200, keepAlive: false))
        #expect(echo.connections.load(ordering: .relaxed) - before == 201)
    }

    @Test func wrongStatus_isCountedAsNon2xx() throws {
        let backend = try BackendProcess()
        let r = try LoadGenerator.run(config(backend.port, path: "/missing", c: 2, n: 50, keepAlive: true))
        #expect(r.complete == 50)
        #expect(r.non2xx == 50)
        #expect(r.failed == 0)
    }

    @Test func shortOrWrongLengthBodies_areFailures_neverSuccesses() throws {
        // A server that promises 1000 bytes and sends 10 before closing: a truncated response.
        let fd = try Socket.listen(on: .loopback(port: 0))
        let port = Socket.localAddress(fd)!.port!
        let liar = OSThread.start(name: "liar") {
            var peer = sockaddr_storage()
            // Serves until nobody has connected for a second (a deadline, not a count to hang on).
            while true {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, 1000) <= 0 { break }
                guard let c = try? Posix.accept(fd, &peer) else { continue }
                try? Posix.setNonBlocking(c, false)
                var buf = [UInt8](repeating: 0, count: 4096)
                _ = read(c, &buf, buf.count)
                try? Posix.writeAll(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
                Posix.close(c)
            }
        }
        var cfg = config(port, c: 2, n: 20, keepAlive: false)
        cfg.expectedBodyLength = 1000
        let r = try LoadGenerator.run(cfg)
        liar.join()
        Posix.close(fd)
        #expect(r.complete == 0)
        #expect(r.failed == 20)
        #expect(r.failedBroken == 20)

        // A whole response of the wrong length (the learned length is 1205; ask for 999).
        let backend = try BackendProcess()
        var wrong = config(backend.port, c: 2, n: 30, keepAlive: true)
        wrong.expectedBodyLength = 999
        let w = try LoadGenerator.run(wrong)
        #expect(w.failedLength == 30)
        #expect(w.complete == 0)
    }

    @Test func refusedConnections_areFailures() throws {
        let port = try deadPort()
        var cfg = config(port, c: 2, n: 10, keepAlive: true)
        cfg.expectedBodyLength = 0
        let r = try LoadGenerator.run(cfg)
        #expect(r.failedConnect == 10)
        #expect(r.complete == 0)
    }

    @Test func histogram_percentilesAreNeverOptimistic() {
        var h = LatencyHistogram()
        for v in 1...1000 { h.record(micros: UInt64(v) * 100) }   // 100 µs … 100 ms
        #expect(h.count == 1000)
        let p99 = h.percentile(0.99)
        #expect(p99 >= 99_000 && p99 <= 99_000 * 102 / 100)
        #expect(h.percentile(1.0) == 100_000)
        for v: UInt64 in [0, 1, 127, 128, 129, 1000, 123_456, 10_000_000] {
            let i = LatencyHistogram.index(v)
            #expect(LatencyHistogram.upperBound(i) >= v)
        }
    }
}

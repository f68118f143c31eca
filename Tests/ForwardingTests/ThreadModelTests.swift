import Foundation
import Glibc
import Testing
import TestSupport

@Suite struct ThreadModelTests {
    @Test(arguments: ["balancer", "proxy"])
    func threadModel_forwardsInTurnWithKeepAliveAndLargeBodies(program: String) throws {
        let backends = try startBackends(2)
        let args = program == "balancer"
            ? backends.flatMap { ["--upstream", "127.0.0.1:\($0.port)"] }
            : ["--default", backends.map { "127.0.0.1:\($0.port)" }.joined(separator: ",")]
        let fwd = try ForwarderProcess(program, ["--model", "thread"] + args)
        let client = try fwd.client(timeout: 10)
        let ports = try (0..<4).map { _ in answeringPort(try client.request("GET", "/healthz")) }
        #expect(ports == [0, 1, 0, 1].map { Int(backends[$0].port) })
        let pdf = Array(try Data(contentsOf: URL(fileURLWithPath: Binaries.www).appendingPathComponent("pdf/nfc.pdf")))
        #expect(try client.request("GET", "/pdf/nfc.pdf").body == pdf)
        fwd.program.signal(SIGTERM)
        #expect(fwd.program.waitForExit(timeout: 15) == .code(0))
    }

    @Test func threadModel_tcpMode_relaysBothWays() throws {
        let backend = try BackendProcess()
        let lb = try ForwarderProcess("balancer", ["--model", "thread", "--mode", "tcp", "--upstream", "127.0.0.1:\(backend.port)"])
        let c = try lb.client()
        #expect(try c.request("GET", "/robots.txt").status == 200)
        #expect(try c.request("GET", "/page.html").status == 200)
    }

    @Test(arguments: ["thread", "event"])
    func slowlorisHead_gets408WithinTheHeaderTimeout_andIsLoggedWithItsOwnDuration(model: String) throws {
        let backend = try BackendProcess()
        let lb = try ForwarderProcess("balancer", ["--model", model, "--header-timeout", "1s", "--idle-timeout", "30s",
                                                   "--upstream", "127.0.0.1:\(backend.port)"])
        let client = try lb.client(timeout: 10)
        let started = Date()
        try client.send("GET /page.html HTTP/1.1\r\n")
        // One header byte every 200 ms: each read is quick, the head as a whole is not.
        var got408 = false
        for byte in "X-Slow: aaaaaaaaaaaaaaaaaaaa".utf8 {
            usleep(200_000)
            if (try? client.send([byte])) == nil { break }
            if Date().timeIntervalSince(started) > 1.2 { break }
        }
        if let r = try? client.readResponse() { got408 = r.status == 408 }
        #expect(got408)
        #expect(Date().timeIntervalSince(started) < 3)
        let line = lb.program.waitForLine { $0.contains(" 408 ") }
        let ms = line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0.dropLast(2)) }
        #expect(ms.map { $0 >= 900 && $0 < 3000 } == true, "\(line ?? "no 408 log line")")
    }
}

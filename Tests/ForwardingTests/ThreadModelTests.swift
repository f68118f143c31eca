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
}

import Foundation
import Glibc
import Testing
import TestSupport

@Suite struct TCPModeTests {
    @Test func eachConnection_goesToTheNextUpstream_andBytesPassBothWays() throws {
        let backends = try startBackends(3)
        let lb = try ForwarderProcess("balancer", ["--mode", "tcp", "--workers", "2"] + backends.flatMap { ["--upstream", "127.0.0.1:\($0.port)"] })
        var ports: [Int?] = []
        for _ in 0..<6 {
            let c = try lb.client()
            // Keep-alive inside the tunnel: the same upstream answers both.
            let a = answeringPort(try c.request("GET", "/healthz"))
            let b = answeringPort(try c.request("GET", "/healthz"))
            #expect(a == b)
            ports.append(a)
        }
        #expect(ports == (0..<6).map { Int(backends[$0 % 3].port) })
        let pdf = Array(try Data(contentsOf: URL(fileURLWithPath: Binaries.www).appendingPathComponent("pdf/nfc.pdf")))
        #expect(try lb.client(timeout: 10).request("GET", "/pdf/nfc.pdf").body == pdf)
        #expect(lb.program.waitForLine { $0.contains(" tcp ") } != nil)
    }

    @Test func halfClose_isPassedOn() throws {
        let backend = try BackendProcess()
        let lb = try ForwarderProcess("balancer", ["--mode", "tcp", "--upstream", "127.0.0.1:\(backend.port)"])
        let c = try lb.client()
        try c.send("GET /robots.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        c.shutdownWrite()
        #expect(try c.readResponse().status == 200)
        #expect(c.isClosedByServer(timeout: 3))
    }

    @Test func refusedUpstream_isSkipped() throws {
        let backend = try BackendProcess()
        let lb = try ForwarderProcess("balancer", ["--mode", "tcp", "--upstream", "127.0.0.1:\(try deadPort())",
                                                   "--upstream", "127.0.0.1:\(backend.port)"])
        for _ in 0..<4 { #expect(try lb.get("/robots.txt").status == 200) }
    }
}

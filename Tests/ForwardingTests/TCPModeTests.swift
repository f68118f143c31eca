import Foundation
import Glibc
import NetCore
import Synchronization
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

/// The relay's edge-triggered readiness tracking: cases where a missed edge would hang the tunnel.
@Suite struct TCPRelayEdgeTests {
    @Test func serverThatSpeaksFirst_isHeard_beforeTheClientSendsAnything() throws {
        let server = try RawTCPServer { c in
            try? c.send("220 banner\r\n")
            _ = c.readToEnd()
        }
        let lb = try ForwarderProcess("balancer", ["--mode", "tcp", "--upstream", "127.0.0.1:\(server.port)"])
        let c = try RawConnection(port: lb.port, timeout: 5)
        #expect(String(decoding: c.read(count: 12), as: UTF8.self) == "220 banner\r\n")
    }

    @Test func megabytesBothWaysAtOnce_withASlowReader_arriveByteExact() throws {
        // The upstream echoes everything; the client writes 6 MB before it starts reading, so every
        // buffer on the way fills and the relay must wait for writability in both copy and splice mode.
        let server = try RawTCPServer { c in
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { Glibc.recv(c.fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                guard (try? c.send(Array(chunk[0..<n]))) != nil else { return }
            }
            c.shutdownWrite()
        }
        let lb = try ForwarderProcess("balancer", ["--mode", "tcp", "--upstream", "127.0.0.1:\(server.port)"])
        let c = try RawConnection(port: lb.port, timeout: 10)
        let payload = patternBytes(6 << 20, seed: 42)
        let received = Mutex<(bytes: [UInt8], ended: Bool)>(([], false))
        let reader = OSThread.start(name: "reader") {
            usleep(300_000)   // let the pipes and socket buffers fill first
            let r = c.readToEnd()
            received.withLock { $0 = r }
        }
        try c.send(payload)
        c.shutdownWrite()
        reader.join()
        let r = received.withLock { $0 }
        #expect(r.ended)
        #expect(r.bytes.count == payload.count)
        let exact = r.bytes == payload   // not inside #expect: a failure would print megabytes
        #expect(exact)
    }

    @Test func upstreamHalfClose_reachesTheClient_whileTheClientGoesOnSending() throws {
        // The upstream says its piece and shuts its side; the client, having seen the end, still sends,
        // and the upstream must get all of it. (The client speaks first so the upstream can tell the
        // tunnel from the balancer's health-check connections, which send nothing.)
        let got = Mutex<[UInt8]>([])
        let upstreamDone = DispatchSemaphore(value: 0)
        let server = try RawTCPServer { c in
            guard c.read(count: 6) == Array("hello\n".utf8) else { return }
            try? c.send("done\n")
            c.shutdownWrite()
            let r = c.readToEnd()
            got.withLock { $0 = r.bytes }
            upstreamDone.signal()
        }
        let lb = try ForwarderProcess("balancer", ["--mode", "tcp", "--upstream", "127.0.0.1:\(server.port)"])
        let c = try RawConnection(port: lb.port, timeout: 5)
        try c.send("hello\n")
        let first = c.readToEnd()
        #expect(first.ended)
        #expect(first.bytes == Array("done\n".utf8))
        let tail = patternBytes(300_000, seed: 7)
        try c.send(tail)
        c.shutdownWrite()
        #expect(c.readToEnd().ended)   // the relay closes once both sides are done
        #expect(upstreamDone.wait(timeout: .now() + 5) == .success)
        let received = got.withLock { $0 }
        #expect(received.count == tail.count)
        let exact = received == tail   // not inside #expect: a failure would print 300 KB
        #expect(exact)
    }
}

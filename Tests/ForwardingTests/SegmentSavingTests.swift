import Glibc
import Testing
import TestSupport

/// Packets the forwarders save on a short connection, counted by the client in its own TCP_INFO. On
/// loopback every segment costs the sending process a pass through both TCP stacks, so these are what
/// a connection-per-request benchmark measures.
@Suite struct SegmentSavingTests {
    /// HTTP mode holds the ACK of a request back so it rides on the response (HAProxy's tcp-smart-accept):
    /// the client sees the SYN-ACK and then the response, nothing between.
    @Test func httpMode_acknowledgesTheRequest_withTheResponse() throws {
        let backend = try BackendProcess()
        let lb = try ForwarderProcess("balancer", ["--upstream", "127.0.0.1:\(backend.port)"])
        _ = try lb.get("/robots.txt")   // the upstream connection is pooled from here on
        let bare = try bareSegmentsPerRequest(port: lb.port)
        #expect(bare.contains(1), "segments without data the client received, per connection: \(bare)")
    }

    /// The backend does the same for the requests it answers itself.
    @Test func backend_acknowledgesTheRequest_withTheResponse() throws {
        let backend = try BackendProcess()
        let bare = try bareSegmentsPerRequest(port: backend.port)
        #expect(bare.contains(1), "segments without data the client received, per connection: \(bare)")
    }

    /// One request on each of up to five fresh connections: the segments without data each client
    /// received, stopping at the first that saw only the SYN-ACK. The kernel holds an ACK for 40 ms at
    /// most, and a response slower than that on a loaded machine brings it out alone, so a test asks for
    /// one connection of several to show the saving. Without the option none can: the ACK then leaves as
    /// the request arrives, before any response exists.
    private func bareSegmentsPerRequest(port: UInt16) throws -> [Int] {
        var bare: [Int] = []
        for _ in 0..<5 {
            let c = try HTTPTestClient(port: port)
            #expect(try c.request("GET", "/robots.txt").status == 200)
            let n = try #require(bareSegmentsReceived(c.fd))
            bare.append(n)
            if n == 1 { break }
        }
        return bare
    }

    /// TCP mode: an upstream's last bytes reach the client in the same segment as the FIN that follows
    /// them, as the upstream sent them, not as data and then a bare FIN.
    @Test func tcpMode_sendsAnUpstreamsLastBytes_withItsFIN() throws {
        let server = try RawTCPServer { c in
            try? c.send("bye\r\n", more: true)
            c.shutdownWrite()   // data and FIN leave in one segment, as nginx sends a closing response
            _ = c.readToEnd()
        }
        let lb = try ForwarderProcess("balancer", ["--mode", "tcp", "--upstream", "127.0.0.1:\(server.port)"])
        let c = try RawConnection(port: lb.port, timeout: 5)
        let got = c.readToEnd()
        #expect(got.ended)
        #expect(String(decoding: got.bytes, as: UTF8.self) == "bye\r\n")
        #expect(bareSegmentsReceived(c.fd) == 1)   // the SYN-ACK; the FIN came with the bytes
    }
}

import Foundation
import Glibc
import Testing
import TestSupport

/// Exchanges that take longer than the response timeout while they keep moving, upstreams that break in
/// the middle of an answer, and replays of requests with bodies.
@Suite struct SlowExchangeTests {
    @Test func slowUpload_isNotCutByTheResponseTimeout() throws {
        let echo = try EchoServer()
        let lb = try ForwarderProcess("balancer", ["--response-timeout", "400ms", "--upstream", "127.0.0.1:\(echo.port)"])
        let client = try lb.client(timeout: 10)
        let piece = Array(repeating: UInt8(ascii: "u"), count: 1000)
        try client.send("PUT /upload HTTP/1.1\r\nHost: a\r\nContent-Length: \(piece.count * 8)\r\n\r\n")
        for _ in 0..<8 {   // 1.6 s in all, four times the timeout, never 400 ms without a byte
            try client.send(piece)
            usleep(200_000)
        }
        let r = try client.readResponse()
        #expect(r.status == 200)
        #expect(echo.received.last?.body.count == piece.count * 8)
    }

    @Test func slowDownload_isNotCutByTheResponseTimeout() throws {
        let pieces = 8
        let upstream = try RawTCPServer { conn in
            _ = readRequestHead(conn)
            try? conn.send("HTTP/1.1 200 OK\r\nContent-Length: \(pieces * 100)\r\n\r\n")
            for _ in 0..<pieces {
                usleep(200_000)
                try? conn.send(String(repeating: "d", count: 100))
            }
        }
        let lb = try ForwarderProcess("balancer", ["--response-timeout", "400ms", "--health-interval", "0",
                                                   "--upstream", "127.0.0.1:\(upstream.port)"])
        let r = try lb.client(timeout: 10).request("GET", "/trickle")
        #expect(r.status == 200)
        #expect(r.body.count == pieces * 100)
    }

    @Test func clientThatPausesReading_stillGetsTheWholeBody() throws {
        // Larger than every socket buffer on the way, so the balancer must stop reading the upstream.
        let site = try TempSite()
        let big = patternBytes(16 << 20, seed: 7)
        try site.write("big.bin", big)
        let backend = try BackendProcess(root: site.path)
        let lb = try ForwarderProcess("balancer", ["--workers", "1", "--response-timeout", "300ms",
                                                   "--upstream", "127.0.0.1:\(backend.port)"])
        let client = try lb.client(timeout: 10)
        try client.send("GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
        usleep(1_000_000)   // the upstream waits on us, not the other way round: no timeout is its fault
        #expect(try client.readResponse().body == big)
    }

    /// Bodies without a length, to a client that stops reading for a while: chunked passed on as it is
    /// (the relay stops part-way through a chunk and goes on from there), chunked unwrapped for an
    /// HTTP/1.0 client, and close-delimited. Each arrives whole and in order.
    @Test(arguments: ["chunked", "chunked-to-1.0", "close"])
    func unframedBodies_reachAClientThatPauses_whole(kind: String) throws {
        let body = patternBytes(16 << 20, seed: 11)   // more than the kernel buffers on the way hold
        let upstream = try RawTCPServer { conn in
            _ = readRequestHead(conn)
            if kind == "close" {
                try? conn.send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                try? conn.send(body)
                return   // the connection closes when the handler returns
            }
            try? conn.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            var at = 0
            var size = 1
            while at < body.count {   // chunks from 1 byte to ~100 KB, so chunk heads fall anywhere in a window
                let n = min(size, body.count - at)
                try? conn.send(Array(String(n, radix: 16).utf8) + [13, 10] + Array(body[at..<(at + n)]) + [13, 10], more: true)
                at += n
                size = size * 7 % 100_003 + 1
            }
            try? conn.send("0\r\n\r\n")
            _ = conn.read(count: 1)
        }
        let lb = try ForwarderProcess("balancer", ["--workers", "1", "--health-interval", "0", "--upstream", "127.0.0.1:\(upstream.port)"])
        let client = try lb.client(timeout: 20)
        try client.send("GET /body HTTP/\(kind == "chunked-to-1.0" ? "1.0" : "1.1")\r\nHost: a\r\n\r\n")
        usleep(500_000)   // every buffer on the way fills; the balancer must hold the rest back, not drop it
        let r = try client.readResponse()
        #expect(r.status == 200)
        #expect(r.body.count == body.count)
        #expect(r.body == body)
    }

    /// An upstream that sends its whole answer and closes: its EOF is read while the end of the body
    /// still waits in the balancer for a client that reads slowly. That end must still reach the client
    /// (close-delimited, and with a Content-Length from an upstream that says `Connection: close`).
    @Test(arguments: ["close", "length"])
    func upstreamClosingAfterItsBody_whileTheClientLags_losesNoBytes(kind: String) throws {
        let body = patternBytes(8 << 20, seed: 13)   // more than the kernel buffers on the way hold
        let upstream = try RawTCPServer { conn in
            _ = readRequestHead(conn)
            let length = kind == "length" ? "Content-Length: \(body.count)\r\n" : ""
            try? conn.send("HTTP/1.1 200 OK\r\nConnection: close\r\n\(length)\r\n")
            try? conn.send(body)
        }
        let lb = try ForwarderProcess("balancer", ["--workers", "1", "--health-interval", "0", "--upstream", "127.0.0.1:\(upstream.port)"])
        // A small receive window (set before connecting) and a reader that lags keep the balancer's
        // socket to the client full to the end, so the upstream's EOF is read before the last bytes go.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var small: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = lb.port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        let request = Array("GET /body HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        #expect(request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == request.count)
        usleep(300_000)
        var got: [UInt8] = []
        var piece = [UInt8](repeating: 0, count: 64 * 1024)
        var bodyStart: Int?
        while bodyStart == nil || got.count < bodyStart! + body.count {
            let n = piece.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }   // closed (or reset) early
            got.append(contentsOf: piece[0..<n])
            if bodyStart == nil, let i = (0..<max(got.count - 3, 0)).first(where: { got[$0..<$0 + 4].elementsEqual([13, 10, 13, 10]) }) {
                bodyStart = i + 4
            }
            usleep(1000)
        }
        #expect(bodyStart != nil)
        let received = Array(got[min(bodyStart ?? 0, got.count)...])
        #expect(received.count == body.count)
        let whole = received == body
        #expect(whole)
    }

    /// A client that half-closes after its request (shutdown(SHUT_WR), as `curl`-like tools and
    /// HTTP/1.0 scripts do) while the upstream takes its time: the balancer waits without spinning.
    @Test func halfClosedClient_waitingOnASlowUpstream_doesNotSpin() throws {
        let upstream = try RawTCPServer { conn in
            while true {
                let head = readRequestHead(conn)
                if head.isEmpty { return }
                if head.hasPrefix("GET /slow ") { usleep(1_500_000) }
                try? conn.send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            }
        }
        let lb = try ForwarderProcess("balancer", ["--workers", "1", "--health-interval", "0", "--upstream", "127.0.0.1:\(upstream.port)"])
        let client = try lb.client(timeout: 10)
        #expect(try client.request("GET", "/first").status == 200)   // the connection is watched from now on
        try client.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        client.shutdownWrite()
        usleep(200_000)
        let before = ProcessStat.cpuTicks(lb.program.pid)
        usleep(1_000_000)
        let spent = ProcessStat.cpuTicks(lb.program.pid) - before   // clock ticks, 100 a second
        #expect(spent < 20, "the balancer used \(spent) ticks of CPU in 1 s while waiting")
        #expect(try client.readResponse().text == "hello")
    }

    @Test func oversizedResponseHead_gets502AtOnce() throws {
        let upstream = try RawTCPServer { conn in
            _ = readRequestHead(conn)
            try? conn.send("HTTP/1.1 200 OK\r\nX-Big: " + String(repeating: "a", count: 100_000) + "\r\n\r\n")
            _ = conn.read(count: 1)
        }
        let lb = try ForwarderProcess("balancer", ["--health-interval", "0", "--upstream", "127.0.0.1:\(upstream.port)"])
        let started = Date()
        let r = try lb.client(timeout: 10).request("GET", "/big-head")
        #expect(r.status == 502)
        #expect(r.text.contains("too large"))
        #expect(Date().timeIntervalSince(started) < 3)
    }

    @Test(arguments: ["event", "thread"])
    func brokenResponses_areLoggedAsAborted_andTheClientSeesThemEnd(model: String) throws {
        let upstream = try RawTCPServer { conn in
            let head = readRequestHead(conn)
            if head.hasPrefix("GET /short ") {
                try? conn.send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + String(repeating: "s", count: 10))
            } else {
                try? conn.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nZZ\r\n")
            }
        }
        let lb = try ForwarderProcess("balancer", ["--model", model, "--health-interval", "0", "--upstream", "127.0.0.1:\(upstream.port)"])
        for (target, why) in [("/short", "aborted: upstream connection failed"), ("/badchunk", "aborted: upstream sent an invalid chunk")] {
            let client = try lb.client()
            try client.send("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(throws: HTTPTestClient.ClientError.self) { try client.readResponse() }
            let line = lb.program.waitForLine { $0.contains("\"GET \(target) HTTP/1.1\"") }
            #expect(line?.contains(" 200 ") == true && line?.contains(why) == true, "\(line ?? "no log line")")
        }
        // The head and the valid part of the body were sent before the connection ended.
        let client = try lb.client()
        try client.send("GET /badchunk HTTP/1.1\r\nHost: a\r\n\r\n")
        let got = client.readAllUntilClosed()
        #expect(String(decoding: got, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    @Test(arguments: ["event", "thread"])
    func clientLeavingInTheMiddleOfItsBody_isLoggedAsAborted(model: String) throws {
        let echo = try EchoServer(EchoServer.Behavior())
        let lb = try ForwarderProcess("balancer", ["--model", model, "--health-interval", "0", "--upstream", "127.0.0.1:\(echo.port)"])
        let client = try lb.client()
        try client.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" + String(repeating: "x", count: 10))
        client.shutdownWrite()   // nothing more can come
        let line = lb.program.waitForLine { $0.contains("\"POST /upload HTTP/1.1\"") }
        #expect(line?.contains(" 499 ") == true && line?.contains("aborted: client closed in the middle of its request body") == true,
                "\(line ?? "no log line")")
        #expect(try lb.get("/after").status == 200)   // and it goes on serving
    }

    @Test func idempotentRequestWithASmallBody_isReplayedOnAStaleConnection() throws {
        var b = EchoServer.Behavior()
        b.dropSecondRequest = true
        let echo = try EchoServer(b)
        let lb = try ForwarderProcess("balancer", ["--workers", "1", "--upstream", "127.0.0.1:\(echo.port)"])
        #expect(try lb.get("/first").status == 200)   // leaves a pooled connection that will drop
        let put = try lb.client().request("PUT", "/doc", body: Array("v=2".utf8))
        #expect(put.status == 200)
        #expect(echo.received.last.map { $0.requestLine + " " + String(decoding: $0.body, as: UTF8.self) } == "PUT /doc HTTP/1.1 v=2")
    }
}

extension HTTPTestClient {
    /// Every byte until the server closes (or the read deadline passes).
    func readAllUntilClosed() -> [UInt8] {
        var out = unread
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return out }
            out += chunk[0..<n]
        }
    }
}

import Foundation
import Testing
import TestSupport

@Suite struct ConnectionHandlingTests {
    @Test func keepAlive_servesManyRequestsOnOneConnection() throws {
        let server = try BackendProcess()
        let client = try server.client()
        for _ in 0..<50 { #expect(try client.request("GET", "/robots.txt").status == 200) }
    }

    /// Waiting for its next request, a connection holds no buffers and no header or segment lists: they
    /// go back to the loop's pools (it was ~10 KB a client; now ~0.75; nginx holds ~0.5 KB).
    @Test func idleKeepAliveClients_holdNoBuffers() throws {
        let server = try BackendProcess(arguments: ["--workers", "1"])
        let perClient = try residentKBPerIdleClient(pid: server.program.pid, count: 600) { try server.client() }
        #expect(perClient < 1.2, "the backend holds \(perClient) KB for each idle keep-alive client")
    }

    @Test func http10_closesUnlessKeepAliveIsAsked() throws {
        let server = try BackendProcess()
        let plain = try server.client()
        let r = try plain.request("GET", "/robots.txt", version: "HTTP/1.0")
        #expect(r.status == 200)
        #expect(r.header("Connection") == "close")
        #expect(plain.isClosedByServer(timeout: 2))

        let kept = try server.client()
        let k = try kept.request("GET", "/robots.txt", headers: ["Connection: keep-alive"], version: "HTTP/1.0")
        #expect(k.header("Connection") == "keep-alive")
        #expect(try kept.request("GET", "/robots.txt", headers: ["Connection: keep-alive"], version: "HTTP/1.0").status == 200)
    }

    @Test func connectionClose_isHonoured() throws {
        let server = try BackendProcess()
        let client = try server.client()
        let r = try client.request("GET", "/robots.txt", headers: ["Connection: close"])
        #expect(r.header("Connection") == "close")
        #expect(client.isClosedByServer(timeout: 2))
    }

    @Test func pipelinedRequests_areAnsweredInOrder() throws {
        let server = try BackendProcess()
        let client = try server.client()
        let targets = ["/robots.txt", "/page.html", "/nope", "/css/site.css", "/images/pokijan.jpg"]
        try client.send(targets.map { "GET \($0) HTTP/1.1\r\nHost: a\r\n\r\n" }.joined())
        let statuses = try targets.map { _ in try client.readResponse() }
        #expect(statuses.map(\.status) == [200, 200, 404, 200, 200])
        #expect(statuses[1].body == (try wwwFile("page.html")))
        #expect(statuses[4].body == (try wwwFile("images/pokijan.jpg")))
    }

    @Test func manyPipelinedLargeResponses_allArrive() throws {
        let server = try BackendProcess()
        let client = try server.client(timeout: 10)
        try client.send(String(repeating: "GET /pdf/nfc.pdf HTTP/1.1\r\nHost: a\r\n\r\n", count: 8))
        let expected = try wwwFile("pdf/nfc.pdf")
        for _ in 0..<8 { #expect(try client.readResponse().body == expected) }
    }

    @Test func requestBodies_areSkipped_soTheNextRequestStillWorks() throws {
        let server = try BackendProcess()
        let client = try server.client()
        try client.send("GET /robots.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /robots.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        #expect(try client.readResponse().status == 200)
        try client.send("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /robots.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try client.readResponse().status == 405)
        #expect(try client.readResponse().status == 200)
    }

    @Test func slowHeaders_get408AndAreClosed() throws {
        let server = try BackendProcess(arguments: ["--header-timeout", "400ms"])
        let client = try server.client()
        try client.send("GET /page.html HTTP/1.1\r\nHost: a\r\nX-Slow:")
        let started = Date()
        let r = try client.readResponse()
        #expect(r.status == 408)
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(client.isClosedByServer(timeout: 3))
    }

    @Test(arguments: ["event", "thread", "prefork"])
    func tricklingHeaders_stillTimeOut(model: String) throws {
        let server = try BackendProcess(arguments: ["--model", model, "--workers", "1", "--header-timeout", "500ms"])
        let client = try server.client()
        let started = Date()
        var got408 = false
        // One byte every 100 ms never finishes a head; the deadline counts from the first byte.
        for byte in "GET / HTTP/1.1\r\nHost: a\r\nX-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".utf8 {
            if (try? client.send([byte])) == nil { break }
            usleep(100_000)
            if Date().timeIntervalSince(started) > 1.5 { break }
        }
        if let r = try? client.readResponse() { got408 = r.status == 408 }
        #expect(got408)
        #expect(Date().timeIntervalSince(started) < 4)
    }

    @Test(arguments: ["event", "thread"])
    func keepAliveTimeoutZero_turnsKeepAliveOff_andSaysSo(model: String) throws {
        let server = try BackendProcess(arguments: ["--model", model, "--keepalive-timeout", "0"])
        let client = try server.client()
        let r = try client.request("GET", "/robots.txt")
        #expect(r.status == 200)
        #expect(r.header("Connection") == "close")   // RFC 9112 §9.6: a server that will close says so
        #expect(client.isClosedByServer(timeout: 3))
    }

    @Test(arguments: ["event", "thread"])
    func stalledReader_isCutAfterTheSendTimeout_andTheLogSaysWhatLeft(model: String) throws {
        let site = try TempSite()
        let size = 48 << 20
        try site.write("big.bin", [UInt8](repeating: 7, count: size))
        let server = try BackendProcess(root: site.path, arguments: ["--model", model, "--send-timeout", "1s"])
        let client = try server.client(timeout: 10)
        try client.send("GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")   // and never reads
        let line = server.program.waitForLine(timeout: 15) { $0.contains("\"GET /big.bin HTTP/1.1\" 200 ") }
        let fields = line?.split(separator: " ") ?? []
        let bytes = fields.dropLast().last.flatMap { Int($0) } ?? -1
        let ms = fields.last.flatMap { Double($0.dropLast(2)) } ?? -1
        #expect(bytes >= 0 && bytes < size, "\(line ?? "no line")")
        #expect(ms >= 900 && ms < 4000, "\(line ?? "no line")")
        withExtendedLifetime(client) {}
    }

    @Test func idleKeepAliveConnections_areClosedAfterTheTimeout() throws {
        let server = try BackendProcess(arguments: ["--keepalive-timeout", "300ms"])
        let client = try server.client()
        #expect(try client.request("GET", "/robots.txt").status == 200)
        #expect(client.isClosedByServer(timeout: 3))
    }

    @Test func silentConnection_isClosedWithoutAResponse() throws {
        let server = try BackendProcess(arguments: ["--header-timeout", "300ms"])
        let client = try server.client()
        #expect(client.isClosedByServer(timeout: 3))
        #expect(client.unread.isEmpty)
    }

    @Test func clientHalfClose_stillGetsItsAnswer() throws {
        let server = try BackendProcess()
        let client = try server.client()
        try client.send("GET /robots.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        client.shutdownWrite()
        #expect(try client.readResponse().status == 200)
        #expect(client.isClosedByServer(timeout: 2))
    }
}

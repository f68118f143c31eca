import Foundation
import Glibc
import Testing
import TestSupport

/// What an upstream receives for requests a client shapes on purpose: headers a client must not control,
/// the request-target forms of RFC 9112 §3.2, and HTTP/1.0 clients.
@Suite struct ForwardedRequestTests {
    @Test func connectionHeader_cannotStripFramingOrHost() throws {
        let echo = try EchoServer()
        let lb = try ForwarderProcess("balancer", ["--workers", "1", "--upstream", "127.0.0.1:\(echo.port)"])
        // Were Content-Length dropped as "hop-by-hop", the body would reach the upstream as a second,
        // smuggled request the balancer never saw.
        let smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
        let client = try lb.client()
        try client.send("POST /upload HTTP/1.1\r\nHost: shop.example\r\nConnection: Content-Length, Host, X-Hop\r\n"
                        + "X-Hop: 1\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n" + smuggled)
        #expect(try client.readResponse().status == 200)
        #expect(try client.request("GET", "/next").status == 200)
        #expect(echo.received.map(\.requestLine) == ["POST /upload HTTP/1.1", "GET /next HTTP/1.1"])
        let post = try #require(echo.received.first)
        #expect(post.headers("Content-Length") == ["\(smuggled.utf8.count)"])
        #expect(post.headers("Host") == ["shop.example"])
        #expect(post.headers("X-Hop").isEmpty)   // an extension field it names is still hop-by-hop
        #expect(String(decoding: post.body, as: UTF8.self) == smuggled)
    }

    @Test func connectionHeaderFromUpstream_cannotStripTheResponseFraming() throws {
        var b = EchoServer.Behavior()
        b.extraHeaders = ["Connection: Content-Length"]
        let echo = try EchoServer(b)
        let lb = try ForwarderProcess("balancer", ["--workers", "1", "--upstream", "127.0.0.1:\(echo.port)"])
        let client = try lb.client()
        let first = try client.request("GET", "/one")
        #expect(first.header("Content-Length") == "\(first.body.count)")
        #expect(first.text.hasPrefix("GET /one HTTP/1.1"))
        #expect(try client.request("GET", "/two").text.hasPrefix("GET /two HTTP/1.1"))   // still in step
    }

    @Test func forwardedProtoAndHost_areThisHopsNotTheClients() throws {
        let echo = try EchoServer()
        let lb = try ForwarderProcess("balancer", ["--upstream", "127.0.0.1:\(echo.port)"])
        _ = try lb.get("/spoof", headers: ["X-Forwarded-Proto: https", "X-Forwarded-Host: evil.example"])
        let seen = try #require(echo.received.last)
        #expect(seen.headers("X-Forwarded-Proto") == ["http"])
        #expect(seen.headers("X-Forwarded-Host") == ["localhost"])
    }

    @Test func http10RequestWithoutHost_reachesTheUpstreamWithOne() throws {
        let echo = try EchoServer()
        let lb = try ForwarderProcess("balancer", ["--upstream", "127.0.0.1:\(echo.port)"])
        let client = try lb.client()
        try client.send("GET /old HTTP/1.0\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        let seen = try #require(echo.received.last)
        #expect(seen.requestLine == "GET /old HTTP/1.1")
        #expect(seen.headers("Host") == ["127.0.0.1:\(lb.port)"])
    }

    @Test func absoluteFormTarget_isForwardedInOriginFormWithItsHost() throws {
        let echo = try EchoServer()
        let proxy = try ForwarderProcess("proxy", ["--route", "/api/=127.0.0.1:\(echo.port)", "--default", "127.0.0.1:\(try deadPort())"])
        let client = try proxy.client()
        try client.send("GET http://shop.example:8080/api/items?page=2 HTTP/1.1\r\nHost: other.example\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        let seen = try #require(echo.received.last)
        #expect(seen.requestLine == "GET /api/items?page=2 HTTP/1.1")
        #expect(seen.headers("Host") == ["shop.example:8080"])
        #expect(seen.headers("X-Forwarded-Host") == ["shop.example:8080"])
    }

    @Test func asteriskAndConnect_getTheirOwnAnswers() throws {
        let echo = try EchoServer()
        let lb = try ForwarderProcess("balancer", ["--upstream", "127.0.0.1:\(echo.port)"])
        let client = try lb.client()
        try client.send("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        #expect(echo.received.last?.requestLine == "OPTIONS * HTTP/1.1")
        let tunnel = try lb.client()
        try tunnel.send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        #expect(try tunnel.readResponse().status == 501)
        #expect(echo.received.count == 1)
    }

    @Test func fragmentAndRawEightBitTargets_areRejected() throws {
        let echo = try EchoServer()
        let lb = try ForwarderProcess("balancer", ["--upstream", "127.0.0.1:\(echo.port)"])
        for target in [Array("/page#frag".utf8), Array("/caf".utf8) + [0xC3, 0xA9]] {
            let client = try lb.client()
            try client.send(Array("GET ".utf8) + target + Array(" HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
            #expect(try client.readResponse().status == 400)
        }
        #expect(echo.received.isEmpty)
        #expect(try lb.get("/caf%C3%A9").status == 200)
    }

    @Test func dotSegments_areRefused_soTheRouteAndTheUpstreamCannotDisagree() throws {
        let images = try EchoServer()
        let other = try EchoServer()
        let proxy = try ForwarderProcess("proxy", ["--route", "/images/=127.0.0.1:\(images.port),strip-prefix",
                                                   "--default", "127.0.0.1:\(other.port)"])
        for path in ["/images/../pdf/x", "/images/%2e%2E/pdf/x", "/images/..", "/./pdf/x", "/images/.%2e/x"] {
            let client = try proxy.client()
            try client.send("GET \(path) HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try client.readResponse().status == 400, "\(path)")
        }
        #expect(images.received.isEmpty && other.received.isEmpty)
        #expect(try proxy.get("/images/...x/.hidden").status == 200)
        #expect(images.received.last?.requestLine == "GET /...x/.hidden HTTP/1.1")
    }

    @Test func answersOfItsOwn_carryTheCurrentDate() throws {
        let proxy = try ForwarderProcess("proxy", ["--route", "/only/=127.0.0.1:\(try deadPort())", "--workers", "1"])
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let first = try #require(try proxy.get("/elsewhere").header("Date").flatMap(formatter.date(from:)))
        usleep(2_200_000)   // the worker sleeps in between: its cached clock must not be what it answers with
        let second = try #require(try proxy.get("/elsewhere").header("Date").flatMap(formatter.date(from:)))
        #expect(second.timeIntervalSince(first) >= 2)
    }

    @Test func interimResponses_neverReachAnHTTP10Client() throws {
        let upstream = try RawTCPServer { conn in
            _ = readRequestHead(conn)
            try? conn.send("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                           + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        }
        let lb = try ForwarderProcess("balancer", ["--upstream", "127.0.0.1:\(upstream.port)", "--health-interval", "0"])
        let old = try lb.client()
        try old.send("GET /hints HTTP/1.0\r\nHost: a\r\n\r\n")
        let r = try old.readResponse()
        #expect(r.status == 200 && r.text == "ok")
        let current = try lb.client()
        try current.send("GET /hints HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try current.readResponse().status == 103)
        #expect(try current.readResponse().status == 200)
    }
}

/// Reads from a raw upstream connection up to the end of one request head.
func readRequestHead(_ conn: RawConnection) -> String {
    var head: [UInt8] = []
    while !head.ends(with: [13, 10, 13, 10]) {
        let byte = conn.read(count: 1)
        if byte.isEmpty { break }
        head += byte
    }
    return String(decoding: head, as: UTF8.self)
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}

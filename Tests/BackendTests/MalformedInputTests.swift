import Foundation
import Testing
import TestSupport

@Suite struct MalformedInputTests {
    /// Each bad request with the status it must get; the connection must then be closed.
    static let cases: [(String, Int)] = [
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nX-\u{7}: b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: \u{1}\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505),
        ("GET /" + String(repeating: "x", count: 10_000) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414),
        ("GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X-Pad: " + String(repeating: "p", count: 200) + "\r\n", count: 200) + "\r\n", 431),
        ("GET / HTTP/1.1\r\nHost: a\r\n" + (0..<150).map { "X-\($0): v\r\n" }.joined() + "\r\n", 431),
        ("\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}\u{00}\u{01}\u{fc}\u{03}\u{03}\r\n\r\n", 400),   // a TLS hello
        ("GET\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 405),      // bad body after a valid head
    ]

    @Test func eachMalformedRequest_getsItsStatus_andTheServerGoesOn() throws {
        let server = try BackendProcess()
        for (text, status) in Self.cases {
            let client = try server.client()
            try client.send(text)
            let r = try client.readResponse()
            #expect(r.status == status, "\(text.prefix(60).debugDescription) got \(r.status)")
            #expect(client.isClosedByServer(timeout: 3), "\(text.prefix(60).debugDescription) left open")
        }
        #expect(try server.client().request("GET", "/page.html").status == 200)
    }

    @Test func randomGarbageBarrage_neverTakesTheServerDown() throws {
        let server = try BackendProcess(arguments: ["--header-timeout", "1s"])
        var rng = SystemRandomNumberGenerator()
        for i in 0..<200 {
            guard let client = try? server.client(timeout: 2) else { continue }
            var bytes = (0..<Int.random(in: 1...2000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if i % 3 == 0 { bytes = Array("GET /".utf8) + bytes + Array("\r\n\r\n".utf8) }
            if i % 5 == 0 { bytes = Array("GET / HTTP/1.1\r\nHost: a\r\n".utf8) + bytes + Array("\r\n\r\n".utf8) }
            try? client.send(bytes)
            client.shutdownWrite()
            _ = try? client.readResponse()
        }
        #expect(!server.program.hasExited())
        let client = try server.client()
        for _ in 0..<3 { #expect(try client.request("GET", "/page.html").status == 200) }
    }
}

import Testing
@testable import HTTPCore

@Suite struct RequestLineTests {
    @Test func get_isParsedIntoMethodTargetAndVersion() {
        let (result, head, bytes) = parse("GET /images/pokijan.jpg?size=2 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(result == .complete)
        #expect(head.method == .get)
        #expect(head.text(head.target, bytes) == "/images/pokijan.jpg?size=2")
        #expect(head.minorVersion == 1)
        #expect(head.text(head.requestLine, bytes) == "GET /images/pokijan.jpg?size=2 HTTP/1.1")
        #expect(head.length == bytes.count)
    }

    @Test func knownMethods_areRecognisedCaseSensitively() {
        #expect(parse("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").1.method == .head)
        #expect(parse("POST / HTTP/1.1\r\nHost: a\r\n\r\n").1.method == .post)
        #expect(parse("DELETE / HTTP/1.1\r\nHost: a\r\n\r\n").1.method == .delete)
        #expect(parse("get / HTTP/1.1\r\nHost: a\r\n\r\n").1.method == .other)
        #expect(parse("BREW / HTTP/1.1\r\nHost: a\r\n\r\n").1.method == .other)
    }

    @Test func emptyLinesBeforeTheRequestLine_areIgnored() {
        let (result, head, bytes) = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(result == .complete)
        #expect(head.text(head.target, bytes) == "/")
        #expect(head.length == bytes.count)
    }

    @Test func bareLFLineEnds_areAccepted() {
        let (result, head, bytes) = parse("GET /x HTTP/1.1\nHost: a\nAccept: */*\n\n")
        #expect(result == .complete)
        #expect(head.headerPairs(bytes).map(\.0) == ["Host", "Accept"])
    }

    @Test func absoluteFormTarget_isAccepted() {
        #expect(isComplete("GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\n\r\n"))
    }

    @Test func asteriskTarget_isOnlyForOptions() {
        #expect(isComplete("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(rejection("GET * HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
    }

    @Test func targetWithoutLeadingSlash_isRejected() {
        #expect(rejection("GET index.html HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
    }

    @Test func malformedRequestLines_areRejectedWith400() {
        #expect(rejection("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == 400)        // two spaces
        #expect(rejection("GET / HTTP/1.1 \r\nHost: a\r\n\r\n") == 400)       // trailing space
        #expect(rejection("GET /\r\nHost: a\r\n\r\n") == 400)                  // HTTP/0.9 style
        #expect(rejection("GET / HTTP/1\r\nHost: a\r\n\r\n") == 400)
        #expect(rejection("GET / http/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(rejection("G@T / HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(rejection("GET /a\u{01}b HTTP/1.1\r\nHost: a\r\n\r\n") == 400)  // control char in target
        #expect(rejection("GET / HTTP/1.1\rHost: a\r\n\r\n") == 400)          // bare CR
    }

    @Test func unknownHTTPVersions_get505() {
        #expect(rejection("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == 505)
        #expect(rejection("GET / HTTP/0.9\r\nHost: a\r\n\r\n") == 505)
    }

    @Test func laterHTTP1MinorVersions_areServedAsHTTP11() {
        // RFC 9110 §2.5: processed as the highest 1.x minor version implemented.
        let (result, head, _) = parse("GET / HTTP/1.2\r\nHost: a\r\n\r\n")
        #expect(result == .complete)
        #expect(head.minorVersion == 1)
        #expect(head.keepAlive)
    }

    @Test func aBadRequestLine_isRejectedBeforeTheHeadEnds() {
        // An HTTP/0.9 request has no header section: waiting for one would hold it until the timeout.
        #expect(rejection("GET /robots.txt\r\n") == 400)
        #expect(rejection("GET / HTTP/3.0\r\n") == 505)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\n") == nil)   // a good line waits for the rest
        // Fed in pieces, the line is checked once it has ended.
        var parser = HTTPRequestParser()
        let first = Array("GET /a".utf8), whole = Array("GET /a\r\nX".utf8)
        #expect(first.withUnsafeBytes { parser.parse($0) } == .needMore)
        if case .invalid(let e) = whole.withUnsafeBytes({ parser.parse($0) }) { #expect(e.status.code == 400) } else { Issue.record("accepted") }
    }

    @Test func overlongRequestLine_gets414_evenBeforeItEnds() {
        let long = "GET /" + String(repeating: "a", count: 9000)
        #expect(rejection(long + " HTTP/1.1\r\nHost: a\r\n\r\n") == 414)
        #expect(rejection(long) == 414)
        let fits = "GET /" + String(repeating: "a", count: 8000) + " HTTP/1.1\r\nHost: a\r\n\r\n"
        #expect(isComplete(fits))
    }
}

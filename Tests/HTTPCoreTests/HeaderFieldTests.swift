import Testing
@testable import HTTPCore
import NetCore

@Suite struct HeaderFieldTests {
    @Test func headers_keepOrderAndDuplicates_withValuesTrimmed() {
        let (result, head, bytes) = parse("GET / HTTP/1.1\r\nHost: a\r\nAccept:  text/html \r\nCookie: x=1\r\nCookie: y=2\r\n\r\n")
        #expect(result == .complete)
        let pairs = head.headerPairs(bytes)
        #expect(pairs.map(\.0) == ["Host", "Accept", "Cookie", "Cookie"])
        #expect(pairs.map(\.1) == ["a", "text/html", "x=1", "y=2"])
    }

    @Test func emptyHeaderValue_isAllowed() {
        let (result, head, bytes) = parse("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n")
        #expect(result == .complete)
        #expect(head.headerPairs(bytes)[1].1 == "")
    }

    @Test func headerNames_areMatchedCaseInsensitively() {
        let (_, head, _) = parse("GET / HTTP/1.1\r\nhOsT: a\r\ncontent-LENGTH: 3\r\n\r\nabc")
        #expect(head.hostIndex == 0)
        #expect(head.contentLength == 3)
    }

    @Test func obsFold_isRejected() {
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n\ttwo\r\n\r\n") == 400)
    }

    @Test func whitespaceBeforeColon_isRejected() {
        #expect(rejection("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nContent-Length\t: 0\r\n\r\n") == 400)
    }

    @Test func controlCharacters_inNamesOrValues_areRejected() {
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nX-A\u{01}: b\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\u{00}c\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\u{7F}\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n") == 400)
        // Tab and bytes above 0x7F (obs-text) are allowed in values.
        #expect(isComplete("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\tc \u{E9}\r\n\r\n"))
    }

    @Test func headerLineWithoutColon_isRejected() {
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\n: value\r\n\r\n") == 400)
    }

    @Test func host_isRequiredOnceIn11_andOptionalIn10() {
        #expect(rejection("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400)
        #expect(isComplete("GET / HTTP/1.0\r\n\r\n"))
        #expect(isComplete("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"))
        #expect(rejection("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == 400)
    }

    @Test func headerSectionLargerThanTheLimit_gets431() {
        let big = String(repeating: "X-Filler: " + String(repeating: "v", count: 1000) + "\r\n", count: 40)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\n" + big + "\r\n") == 431)
        // Also while still arriving: no need to wait for the end of an already-too-large head.
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\n" + big) == 431)
    }

    @Test func tooManyHeaderFields_get431() {
        let many = (0..<101).map { "X-\($0): v\r\n" }.joined()
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\n" + many + "\r\n") == 431)
        let fine = (0..<98).map { "X-\($0): v\r\n" }.joined()
        #expect(isComplete("GET / HTTP/1.1\r\nHost: a\r\n" + fine + "\r\n"))
    }
}

@Suite struct ParserStorageTests {
    /// An idle connection's parser gives its header list back; the next head takes one and is parsed
    /// whole, and the list goes round without a new allocation.
    @Test func aParserThatGaveItsListBack_parsesTheNextHeadWhole() {
        let lists = SpareLists<HeaderField>(capacity: 16)
        var parser = HTTPRequestParser(headerLists: lists)
        #expect(parser.head.headers.capacity == 0, "no list until a head is parsed")
        let first = Array("GET /a HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n".utf8)
        #expect(first.withUnsafeBytes { parser.parse($0) } == .complete)
        #expect(parser.head.headers.count == 2)
        parser.reset()
        parser.releaseStorage()
        #expect(parser.head.headers.capacity == 0)
        let second = Array("GET /b HTTP/1.1\r\nHost: y\r\nA: 1\r\nB: 2\r\n\r\n".utf8)
        #expect(second.withUnsafeBytes { parser.parse($0) } == .complete)
        #expect(parser.head.headerPairs(second).map(\.0) == ["Host", "A", "B"])

        var response = HTTPResponseParser(headerLists: lists)
        let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: y\r\n\r\nok".utf8)
        #expect(answer.withUnsafeBytes { response.parse($0, requestMethod: .get) } == .complete)
        #expect(response.head.headers.count == 2)
        response.releaseStorage()
        #expect(response.head.headers.isEmpty && response.head.headers.capacity == 0)
    }
}

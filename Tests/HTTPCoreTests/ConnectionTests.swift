import Testing
@testable import HTTPCore

@Suite struct ConnectionTests {
    @Test func http11_keepsAliveByDefault() {
        #expect(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n").1.keepAlive)
    }

    @Test func http11_withClose_doesNotKeepAlive() {
        #expect(!parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").1.keepAlive)
        #expect(!parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n").1.keepAlive)
    }

    @Test func http10_closesByDefault_andKeepsAliveWhenAsked() {
        #expect(!parse("GET / HTTP/1.0\r\n\r\n").1.keepAlive)
        #expect(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").1.keepAlive)
    }

    @Test func closeAnywhere_winsOverKeepAlive() {
        #expect(!parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n").1.keepAlive)
        #expect(!parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close, keep-alive\r\n\r\n").1.keepAlive)
    }

    @Test func expectContinue_andUpgrade_areNoted() {
        let head = parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nConnection: upgrade\r\nContent-Length: 1\r\n\r\n").1
        #expect(head.expectsContinue)
        #expect(head.wantsUpgrade)
    }

    @Test func pipelinedRequests_parseOneAfterAnother() {
        let text = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\nGET /c HTTP/1.1\r\nHost: a\r\n\r\n"
        var bytes = Array(text.utf8)
        var parser = HTTPRequestParser()
        var targets: [String] = []
        while !bytes.isEmpty {
            let result = bytes.withUnsafeBytes { parser.parse($0) }
            #expect(result == .complete)
            let head = parser.head
            targets.append(head.text(head.target, bytes))
            bytes.removeFirst(head.length)
            parser.reset()
        }
        #expect(targets == ["/a", "/b", "/c"])
    }

    @Test func headArrivingByteByByte_completesExactlyAtTheEnd() {
        let text = "GET /slow HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n"
        let bytes = Array(text.utf8)
        var parser = HTTPRequestParser()
        for n in 1...bytes.count {
            let result = bytes[0..<n].withUnsafeBytes { parser.parse($0) }
            if n < bytes.count { #expect(result == .needMore, "after \(n) bytes") }
            else { #expect(result == .complete) }
        }
        #expect(parser.head.length == bytes.count)
    }
}

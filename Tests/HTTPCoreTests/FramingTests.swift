import Testing
@testable import HTTPCore

@Suite struct FramingTests {
    @Test func contentLength_setsTheBodyLength() {
        let (result, head, _) = parse("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n")
        #expect(result == .complete)
        #expect(head.contentLength == 42)
        #expect(!head.isChunked)
        #expect(head.hasBody)
    }

    @Test func noFramingHeaders_meansNoBody() {
        let (_, head, _) = parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(head.contentLength == -1)
        #expect(!head.hasBody)
    }

    @Test func invalidContentLength_isRejected() {
        for value in ["abc", "-1", "+5", "1 2", "5, 5", "0x10", "", "1234567890123456789"] {
            #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(value)\r\n\r\n") == 400, "Content-Length: \(value)")
        }
    }

    @Test func duplicateContentLength_isRejected_evenWhenEqual() {
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n") == 400)
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") == 400)
    }

    @Test func chunkedTransferEncoding_isRecognised() {
        let (result, head, _) = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n")
        #expect(result == .complete)
        #expect(head.isChunked)
        #expect(head.hasBody)
    }

    @Test func contentLengthWithTransferEncoding_isRejected() {
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") == 400)
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n") == 400)
    }

    @Test func transferEncodingNotEndingInChunked_isRejected() {
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n") == 400)
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") == 400)
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n") == 400)
    }

    @Test func unknownTransferCoding_beforeChunked_gets501() {
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == 501)
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: x-custom\r\nTransfer-Encoding: chunked\r\n\r\n") == 501)
    }

    @Test func chunkedTwice_isRejected() {
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n") == 400)
    }

    @Test func transferEncodingInHTTP10_isRejected() {
        #expect(rejection("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400)
    }
}

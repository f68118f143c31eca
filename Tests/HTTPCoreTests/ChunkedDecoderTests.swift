import Testing
@testable import HTTPCore

@Suite struct ChunkedDecoderTests {
    /// Decodes `text` whole, returning the verdict and the data it carried.
    func decode(_ text: String) -> (ChunkedDecoder.Result, String) {
        var decoder = ChunkedDecoder()
        var data: [UInt8] = []
        let bytes = Array(text.utf8)
        let result = bytes.withUnsafeBufferPointer { p in
            decoder.feed(p.baseAddress!, p.count) { q, n in data.append(contentsOf: UnsafeBufferPointer(start: q, count: n)) }
        }
        return (result, String(decoding: data, as: UTF8.self))
    }

    @Test func chunks_areDecoded_andTheEndIsFound() {
        let text = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\nGET /next"
        let (result, data) = decode(text)
        #expect(result == .done(consumed: text.utf8.count - "GET /next".utf8.count))
        #expect(data == "hello, world")
    }

    @Test func extensionsAndTrailers_areAccepted() {
        let (result, data) = decode("4;name=value\r\nWiki\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n")
        #expect(result != .needMore)
        if case .invalid = result { Issue.record("rejected valid extensions/trailers") }
        #expect(data == "Wiki")
    }

    @Test func bodyArrivingByteByByte_givesTheSameData() {
        let bytes = Array("a\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n".utf8)
        var decoder = ChunkedDecoder()
        var data: [UInt8] = []
        var finishedAt = -1
        for i in 0..<bytes.count {
            let r = bytes[i...i].withUnsafeBufferPointer { p in
                decoder.feed(p.baseAddress!, 1) { q, n in data.append(contentsOf: UnsafeBufferPointer(start: q, count: n)) }
            }
            if case .done = r { finishedAt = i }
        }
        #expect(finishedAt == bytes.count - 1)
        #expect(String(decoding: data, as: UTF8.self) == "0123456789abc")
        #expect(decoder.bodyBytes == 13)
    }

    @Test func malformedChunkedBodies_areRejected() {
        let bad = [
            "g\r\nabc\r\n0\r\n\r\n",                 // not hex
            "\r\n",                                  // empty size
            "5\nhello\r\n0\r\n\r\n",                 // bare LF after size
            "5\r\nhelloX\r\n0\r\n\r\n",              // data longer than size
            "5\r\nhello\n0\r\n\r\n",                 // bare LF after data
            "0\r\n\n",                               // bare LF at the end
            "fffffffffffffffff\r\n",                 // size overflow
            "5;\u{01}\r\nhello\r\n0\r\n\r\n",        // control char in extension
            "0\r\n X-Folded: 1\r\n\r\n",             // trailer starting with whitespace
        ]
        for text in bad {
            let (result, _) = decode(text)
            if case .invalid = result { continue }
            Issue.record("accepted \(text.debugDescription): \(result)")
        }
    }

    @Test func incompleteBody_needsMore() {
        #expect(decode("5\r\nhel").0 == .needMore)
        #expect(decode("5\r\nhello\r\n0\r\n").0 == .needMore)
    }
}

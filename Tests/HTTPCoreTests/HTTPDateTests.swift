import Testing
@testable import HTTPCore

@Suite struct HTTPDateTests {
    @Test func format_isIMFFixdate() {
        #expect(HTTPDate.string(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }

    @Test func parse_acceptsAllThreeFormats() {
        for text in ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            let bytes = Array(text.utf8)
            #expect(bytes.withUnsafeBufferPointer { HTTPDate.parse($0.baseAddress!, $0.count) } == 784111777, "\(text)")
        }
    }

    @Test func parse_rejectsGarbage() {
        for text in ["yesterday", "Sun, 36 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", ""] {
            let bytes = Array(text.utf8) + [0]
            #expect(bytes.withUnsafeBufferPointer { HTTPDate.parse($0.baseAddress!, $0.count - 1) } == nil, "\(text)")
        }
    }
}

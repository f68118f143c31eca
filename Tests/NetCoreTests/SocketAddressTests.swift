import Testing
@testable import NetCore

@Suite struct SocketAddressTests {
    @Test func parse_acceptsTheUsualForms() throws {
        #expect(try SocketAddress.parse("127.0.0.1:9001").description == "127.0.0.1:9001")
        #expect(try SocketAddress.parse("[::1]:8080").description == "[::1]:8080")
        #expect(try SocketAddress.parse(":44444").description == "0.0.0.0:44444")
        #expect(try SocketAddress.parse("localhost:9002").description == "127.0.0.1:9002")
        #expect(try SocketAddress.parse("/run/admin.sock").description == "unix:/run/admin.sock")
    }

    @Test func parse_rejectsBadInputWithAReason() {
        for text in ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "::1:80", "[::1", "host.invalid.:80x"] {
            #expect(throws: SocketAddress.ParseError.self, "\(text)") { _ = try SocketAddress.parse(text) }
        }
    }
}

import Testing
@testable import Backend

@Suite struct TargetPathTests {
    func resolve(_ path: String) -> String? {
        let bytes = Array(path.utf8)
        let out = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count + 16)
        defer { out.deallocate() }
        let outcome = bytes.withUnsafeBufferPointer { TargetPath.resolve($0.baseAddress!, $0.count, into: out) }
        guard case .path(let n, _) = outcome else { return nil }
        return String(decoding: UnsafeBufferPointer(start: out, count: n), as: UTF8.self)
    }

    @Test func cleanPaths_passThrough() {
        #expect(resolve("/") == "/")
        #expect(resolve("/page.html") == "/page.html")
        #expect(resolve("/images/") == "/images/")
    }

    @Test func dotSegmentsAndRepeatedSlashes_areResolved() {
        #expect(resolve("/a/./b//c") == "/a/b/c")
        #expect(resolve("/a/b/../c") == "/a/c")
        #expect(resolve("/images/.") == "/images/")
        #expect(resolve("/a/..") == "/")
    }

    @Test func percentEscapes_areDecodedOnce() {
        #expect(resolve("/my%20file.txt") == "/my file.txt")
        #expect(resolve("/%2541") == "/%41")
    }

    @Test func escapesAboveTheRoot_areRefused() {
        #expect(resolve("/..") == nil)
        #expect(resolve("/../etc/passwd") == nil)
        #expect(resolve("/a/../../etc/passwd") == nil)
        #expect(resolve("/%2e%2e/etc/passwd") == nil)
        #expect(resolve("/images/..%2f..%2fetc%2fpasswd") == nil)
    }

    @Test func nulAndBadEscapes_areRefused() {
        #expect(resolve("/page.html%00.txt") == nil)
        #expect(resolve("/bad%zz") == nil)
        #expect(resolve("/trunc%4") == nil)
    }
}

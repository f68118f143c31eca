import Foundation
import Testing
import TestSupport

@Suite struct ConditionalRangeTests {
    @Test func ifNoneMatch_withTheETag_gets304WithoutBody() throws {
        let server = try BackendProcess()
        let client = try server.client()
        let first = try client.request("GET", "/page.html")
        let etag = try #require(first.header("ETag"))
        let r = try client.request("GET", "/page.html", headers: ["If-None-Match: \"other\", \(etag)"])
        #expect(r.status == 304)
        #expect(r.body.isEmpty)
        #expect(r.header("ETag") == etag)
        #expect(try client.request("GET", "/page.html", headers: ["If-None-Match: W/\(etag)"]).status == 304)
        #expect(try client.request("GET", "/page.html", headers: ["If-None-Match: *"]).status == 304)
        #expect(try client.request("GET", "/page.html", headers: ["If-None-Match: \"stale\""]).status == 200)
        // A list sent on two lines is one list (RFC 9110 §5.3), in either order.
        #expect(try client.request("GET", "/page.html", headers: ["If-None-Match: \"x\"", "If-None-Match: \(etag)"]).status == 304)
        #expect(try client.request("GET", "/page.html", headers: ["If-Match: \"x\"", "If-Match: \(etag)"]).status == 200)
    }

    @Test func ifModifiedSince_comparesWithLastModified() throws {
        let server = try BackendProcess()
        let client = try server.client()
        let lastModified = try #require(try client.request("GET", "/page.html").header("Last-Modified"))
        #expect(try client.request("GET", "/page.html", headers: ["If-Modified-Since: \(lastModified)"]).status == 304)
        #expect(try client.request("GET", "/page.html", headers: ["If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"]).status == 200)
        #expect(try client.request("GET", "/page.html", headers: ["If-Modified-Since: not a date"]).status == 200)
        // If-None-Match wins when both are present.
        #expect(try client.request("GET", "/page.html", headers: ["If-None-Match: \"x\"", "If-Modified-Since: \(lastModified)"]).status == 200)
    }

    @Test func ifMatchAndIfUnmodifiedSince_get412WhenTheFileIsAnotherVersion() throws {
        let server = try BackendProcess()
        let client = try server.client()
        let first = try client.request("GET", "/page.html")
        let etag = try #require(first.header("ETag"))
        let lastModified = try #require(first.header("Last-Modified"))
        #expect(try client.request("GET", "/page.html", headers: ["If-Match: \"nope\""]).status == 412)
        #expect(try client.request("GET", "/page.html", headers: ["If-Match: \"nope\", \(etag)"]).status == 200)
        #expect(try client.request("GET", "/page.html", headers: ["If-Match: *"]).status == 200)
        #expect(try client.request("GET", "/page.html", headers: ["If-Match: W/\(etag)"]).status == 412)   // strong comparison
        #expect(try client.request("HEAD", "/page.html", headers: ["If-Match: \"nope\""]).status == 412)
        #expect(try client.request("GET", "/page.html", headers: ["If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT"]).status == 412)
        #expect(try client.request("GET", "/page.html", headers: ["If-Unmodified-Since: \(lastModified)"]).status == 200)
        // If-Match wins when both are present, and the connection stays usable after a 412.
        #expect(try client.request("GET", "/page.html", headers: ["If-Match: \(etag)", "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT"]).status == 200)
    }

    @Test func singleRanges_get206WithContentRange() throws {
        let server = try BackendProcess()
        let client = try server.client()
        let file = try wwwFile("page.html")
        let n = file.count

        let a = try client.request("GET", "/page.html", headers: ["Range: bytes=0-9"])
        #expect(a.status == 206)
        #expect(a.header("Content-Range") == "bytes 0-9/\(n)")
        #expect(a.body == Array(file[0...9]))

        let b = try client.request("GET", "/page.html", headers: ["Range: bytes=-5"])
        #expect(b.status == 206)
        #expect(b.header("Content-Range") == "bytes \(n - 5)-\(n - 1)/\(n)")
        #expect(b.body == Array(file[(n - 5)...]))

        let c = try client.request("GET", "/page.html", headers: ["Range: bytes=100-"])
        #expect(c.status == 206)
        #expect(c.body == Array(file[100...]))

        let d = try client.request("GET", "/page.html", headers: ["Range: bytes=10-99999"])
        #expect(d.header("Content-Range") == "bytes 10-\(n - 1)/\(n)")
    }

    @Test func rangeInsideALargeFile_isExact() throws {
        let server = try BackendProcess(arguments: ["--cache-max-file", "0"])
        let file = try wwwFile("pdf/nfc.pdf")
        let r = try server.client().request("GET", "/pdf/nfc.pdf", headers: ["Range: bytes=200000-200999"])
        #expect(r.status == 206)
        #expect(r.body == Array(file[200000...200999]))
    }

    @Test func unsatisfiableRange_gets416() throws {
        let server = try BackendProcess()
        let client = try server.client()
        let n = try wwwFile("page.html").count
        let r = try client.request("GET", "/page.html", headers: ["Range: bytes=\(n)-"])
        #expect(r.status == 416)
        #expect(r.header("Content-Range") == "bytes */\(n)")
        #expect(try client.request("GET", "/page.html", headers: ["Range: bytes=-0"]).status == 416)
        // A first byte too far out for any file is still past this one's end.
        #expect(try client.request("GET", "/page.html", headers: ["Range: bytes=99999999999999999999999-"]).status == 416)
    }

    @Test func overlongLastPositions_areClamped_andEmptyFilesAreSentWhole() throws {
        let site = try TempSite()
        try site.write("empty.txt", [])
        try site.write("ten.txt", "0123456789")
        let server = try BackendProcess(root: site.path)
        let client = try server.client()
        let clamped = try client.request("GET", "/ten.txt", headers: ["Range: bytes=2-99999999999999999999999"])
        #expect(clamped.status == 206 && clamped.text == "23456789" && clamped.header("Content-Range") == "bytes 2-9/10")
        let suffix = try client.request("GET", "/ten.txt", headers: ["Range: bytes=-99999999999999999999999"])
        #expect(suffix.status == 206 && suffix.text == "0123456789")
        for range in ["0-0", "0-", "-5"] {   // no byte to point at: the whole (empty) file, as nginx
            let r = try client.request("GET", "/empty.txt", headers: ["Range: bytes=\(range)"])
            #expect(r.status == 200 && r.body.isEmpty, "\(range): \(r.status)")
        }
    }

    @Test func rangesThatCannotBeHonoured_getTheWholeFile() throws {
        let server = try BackendProcess()
        let client = try server.client()
        #expect(try client.request("GET", "/page.html", headers: ["Range: bytes=0-1,5-6"]).status == 200)
        #expect(try client.request("GET", "/page.html", headers: ["Range: lines=1-2"]).status == 200)
        #expect(try client.request("GET", "/page.html", headers: ["Range: bytes=9-3"]).status == 200)
        #expect(try client.request("GET", "/page.html", headers: ["Range: bytes=0-4", "If-Range: \"old\""]).status == 200)
        let etag = try #require(try client.request("HEAD", "/page.html").header("ETag"))
        #expect(try client.request("GET", "/page.html", headers: ["Range: bytes=0-4", "If-Range: \(etag)"]).status == 206)
    }
}

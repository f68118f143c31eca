import Foundation
import Glibc
import Testing
import TestSupport

@Suite struct FolderTests {
    @Test func root_servesItsIndexHtml() throws {
        let server = try BackendProcess()
        let r = try server.client().request("GET", "/")
        #expect(r.status == 200)
        #expect(r.body == (try wwwFile("index.html")))
        #expect(r.header("Content-Type") == "text/html; charset=utf-8")
    }

    @Test func folderWithoutIndex_getsAListingWithLinks() throws {
        let server = try BackendProcess()
        let r = try server.client().request("GET", "/images/")
        #expect(r.status == 200)
        #expect(r.header("Content-Type") == "text/html; charset=utf-8")
        #expect(r.text.contains("<a href=\"pokijan.jpg\">pokijan.jpg</a>"))
        #expect(r.text.contains("<a href=\"research_center.png\">research_center.png</a>"))
        #expect(r.text.contains("Index of /images/"))
    }

    @Test func listing_escapesNamesAndMarksFolders() throws {
        let site = try TempSite()
        try site.write("docs/a&b <x>.txt", "1")
        try site.write("docs/sub/inner.txt", "2")
        try site.write("docs/.hidden", "3")
        let server = try BackendProcess(root: site.path)
        let r = try server.client().request("GET", "/docs/")
        #expect(r.text.contains("href=\"a%26b%20%3Cx%3E.txt\">a&amp;b &lt;x&gt;.txt</a>"))
        #expect(r.text.contains("href=\"sub/\">sub/</a>"))
        #expect(!r.text.contains(".hidden"))
    }

    @Test func listing_showsNamesThatAreNotUTF8_withLinksThatReachThem() throws {
        let site = try TempSite()
        try site.write("files/plain.txt", "p")
        // A name in Latin-1, as an old archive leaves it: bytes that are not UTF-8.
        let path = Array((site.path + "/files/caf").utf8) + [0xE9] + Array(".txt".utf8) + [0]
        let fd = path.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644) }
        #expect(fd >= 0)
        _ = write(fd, "latin", 5)
        close(fd)
        let server = try BackendProcess(root: site.path)
        let client = try server.client()
        let listing = try client.request("GET", "/files/").text
        #expect(listing.contains("href=\"caf%E9.txt\""), "\(listing)")
        #expect(try client.request("GET", "/files/caf%E9.txt").text == "latin")
    }

    @Test func folderWithoutSlash_redirectsToTheSlashForm() throws {
        let server = try BackendProcess()
        let client = try server.client()
        let r = try client.request("GET", "/images")
        #expect(r.status == 301)
        #expect(r.header("Location") == "/images/")
        let q = try client.request("GET", "/images?sort=name")
        #expect(q.header("Location") == "/images/?sort=name")
    }

    @Test func redirect_isNeverProtocolRelative() throws {
        let server = try BackendProcess()
        let r = try server.client().request("GET", "//images")
        #expect(r.status == 301)
        #expect(r.header("Location") == "/images/")
    }
}

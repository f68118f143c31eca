import Foundation
import Glibc
import Testing
import TestSupport

@Suite struct StaticFileTests {
    @Test func get_servesTheFileWithNginxStyleHeaders() throws {
        let server = try BackendProcess(arguments: ["--workers", "1"])
        let r = try server.client().request("GET", "/page.html")
        #expect(r.status == 200)
        #expect(r.body == (try wwwFile("page.html")))
        #expect(r.header("Content-Type") == "text/html; charset=utf-8")
        #expect(r.header("Content-Length") == String(r.body.count))
        #expect(r.header("Accept-Ranges") == "bytes")
        #expect(r.header("Server") == "backend")
        #expect(r.header("Date")?.hasSuffix(" GMT") == true)
        #expect(r.header("Last-Modified")?.hasSuffix(" GMT") == true)
        let etag = try #require(r.header("ETag"))
        #expect(etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.contains("-"))
    }

    @Test func head_sendsTheSameHeadersWithoutABody() throws {
        let server = try BackendProcess()
        let client = try server.client()
        let get = try client.request("GET", "/page.html")
        let head = try client.request("HEAD", "/page.html")
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        #expect(head.header("Content-Length") == get.header("Content-Length"))
        #expect(head.header("ETag") == get.header("ETag"))
        // The connection is still in step: the next response is the right one.
        #expect(try client.request("GET", "/robots.txt").body == (try wwwFile("robots.txt")))
    }

    @Test func contentTypes_followTheExtension() throws {
        let site = try TempSite()
        let types = ["a.html": "text/html; charset=utf-8", "a.css": "text/css; charset=utf-8",
                     "a.js": "text/javascript; charset=utf-8", "a.json": "application/json",
                     "a.txt": "text/plain; charset=utf-8", "a.svg": "image/svg+xml", "a.png": "image/png",
                     "a.jpg": "image/jpeg", "a.JPEG": "image/jpeg", "a.gif": "image/gif", "a.ico": "image/x-icon",
                     "a.webp": "image/webp", "a.pdf": "application/pdf", "a.woff2": "font/woff2",
                     "a.unknownext": "application/octet-stream", "noext": "application/octet-stream"]
        for name in types.keys { try site.write(name, "x") }
        let server = try BackendProcess(root: site.path)
        let client = try server.client()
        for (name, type) in types {
            #expect(try client.request("GET", "/\(name)").header("Content-Type") == type, "\(name)")
        }
    }

    @Test func otherMethods_get405WithAllow() throws {
        let server = try BackendProcess()
        let client = try server.client()
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
            let r = try client.request(method, "/page.html", body: method == "POST" ? Array("a=1".utf8) : [])
            #expect(r.status == 405, "\(method)")
            #expect(r.header("Allow") == "GET, HEAD")
        }
        #expect(try client.request("GET", "/page.html").status == 200)
    }

    @Test func missingFile_gets404() throws {
        let server = try BackendProcess()
        let r = try server.client().request("GET", "/nope.html")
        #expect(r.status == 404)
        #expect(r.header("Content-Length") == String(r.body.count))
    }

    @Test func largeFile_isSentByteExact() throws {
        let server = try BackendProcess(arguments: ["--cache-max-file", "1024"])
        let r = try server.client().request("GET", "/pdf/nfc.pdf")
        #expect(r.status == 200)
        #expect(r.header("Content-Type") == "application/pdf")
        #expect(r.body == (try wwwFile("pdf/nfc.pdf")))
    }

    @Test func cachedFile_isNeverServedStale() throws {
        let site = try TempSite()
        try site.write("note.txt", "version one")
        let server = try BackendProcess(root: site.path)
        let client = try server.client()
        #expect(try client.request("GET", "/note.txt").text == "version one")
        #expect(try client.request("GET", "/note.txt").text == "version one")   // now from the cache
        try site.write("note.txt", "version TWO")                              // same size, new content
        #expect(try client.request("GET", "/note.txt").text == "version TWO")
        // Rewritten in place with size and mtime restored, as `cp -p` or `rsync -t --inplace` do.
        let path = site.url("note.txt").path
        var before = stat()
        #expect(stat(path, &before) == 0)
        #expect(try client.request("GET", "/note.txt").text == "version TWO")   // cached again
        let handle = try FileHandle(forWritingTo: site.url("note.txt"))
        try handle.write(contentsOf: Data("version 3!!".utf8))
        try handle.close()
        var times = [before.st_atim, before.st_mtim]   // to the nanosecond, as `touch -r` would
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        #expect(try client.request("GET", "/note.txt").text == "version 3!!")
        try FileManager.default.removeItem(at: site.url("note.txt"))
        #expect(try client.request("GET", "/note.txt").status == 404)
    }

    @Test func fileFromBefore1970_hasANegativeETagTime_likeNginx() throws {
        let site = try TempSite()
        try site.write("old.txt", "old!")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: -315_619_200)],   // 1960-01-01
                                              ofItemAtPath: site.url("old.txt").path)
        let server = try BackendProcess(root: site.path)
        #expect(try server.client().request("GET", "/old.txt").header("ETag") == "\"-12cff780-4\"")
    }

    @Test func healthz_answersJSONWithPidAndPort() throws {
        let server = try BackendProcess()
        let r = try server.client().request("GET", "/healthz")
        #expect(r.status == 200)
        #expect(r.header("Content-Type") == "application/json")
        let json = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
        #expect(json?["status"] as? String == "ok")
        #expect(json?["pid"] as? Int == Int(server.program.pid))
        #expect(json?["port"] as? Int == Int(server.port))
        #expect(json?["uptime_seconds"] is Double || json?["uptime_seconds"] is Int)
    }
}

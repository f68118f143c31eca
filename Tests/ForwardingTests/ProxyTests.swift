import Foundation
import Glibc
import Testing
import TestSupport

@Suite struct ProxyTests {
    @Test func routes_matchTheLongestPrefixOnASegmentBoundary() throws {
        let images = try EchoServer(), pdf = try EchoServer(), deep = try EchoServer(), fallback = try EchoServer()
        let proxy = try ForwarderProcess("proxy", ["--route", "/images/=127.0.0.1:\(images.port)",
                                                   "--route", "/pdf/=127.0.0.1:\(pdf.port)",
                                                   "--route", "/images/big/=127.0.0.1:\(deep.port)",
                                                   "--default", "127.0.0.1:\(fallback.port)"])
        let client = try proxy.client()
        for target in ["/images/a.jpg", "/images/big/b.jpg", "/pdf/x.pdf", "/imagesX/c", "/", "/page.html?x=1"] {
            #expect(try client.request("GET", target).status == 200)
        }
        #expect(images.received.map(\.requestLine) == ["GET /images/a.jpg HTTP/1.1"])
        #expect(deep.received.map(\.requestLine) == ["GET /images/big/b.jpg HTTP/1.1"])
        #expect(pdf.received.map(\.requestLine) == ["GET /pdf/x.pdf HTTP/1.1"])
        #expect(fallback.received.map(\.requestLine) == ["GET /imagesX/c HTTP/1.1", "GET / HTTP/1.1", "GET /page.html?x=1 HTTP/1.1"])
    }

    @Test func folderWithoutSlash_redirects() throws {
        let images = try EchoServer()
        let proxy = try ForwarderProcess("proxy", ["--route", "/images/=127.0.0.1:\(images.port)"])
        let r = try proxy.get("/images")
        #expect(r.status == 301)
        #expect(r.header("Location") == "/images/")
        #expect(try proxy.get("/images?x=1").header("Location") == "/images/?x=1")
        #expect(try proxy.get("/elsewhere").status == 404)   // no default route
        #expect(images.received.isEmpty)
    }

    @Test func stripPrefix_forwardsThePathWithoutIt_andSaysSo() throws {
        let stripped = try EchoServer(), kept = try EchoServer()
        let proxy = try ForwarderProcess("proxy", ["--route", "/images/=127.0.0.1:\(stripped.port),strip-prefix",
                                                   "--route", "/pdf/=127.0.0.1:\(kept.port)"])
        #expect(try proxy.get("/images/pokijan.jpg?v=2").status == 200)
        #expect(try proxy.get("/images/").status == 200)
        #expect(try proxy.get("/pdf/nfc.pdf").status == 200)
        #expect(stripped.received.map(\.requestLine) == ["GET /pokijan.jpg?v=2 HTTP/1.1", "GET / HTTP/1.1"])
        #expect(stripped.received.first?.headers("X-Forwarded-Prefix") == ["/images"])
        #expect(kept.received.map(\.requestLine) == ["GET /pdf/nfc.pdf HTTP/1.1"])
        #expect(kept.received.first?.headers("X-Forwarded-Prefix") == [])
        #expect(kept.received.first?.headers("Via") == ["1.1 proxy"])
    }

    @Test func seedsTopology_servesFilesByteExact_withGlobalStripPrefix() throws {
        // The seeds' reverse proxy: an image server and a PDF server rooted at their own folders.
        let www = URL(fileURLWithPath: Binaries.www)
        let images = try BackendProcess(root: www.appendingPathComponent("images").path)
        let pdfs = try BackendProcess(root: www.appendingPathComponent("pdf").path)
        let site = try BackendProcess()
        let proxy = try ForwarderProcess("proxy", ["--strip-prefix", "--route", "/images/=127.0.0.1:\(images.port)",
                                                   "--route", "/pdf/=127.0.0.1:\(pdfs.port)", "--default", "127.0.0.1:\(site.port)"])
        let client = try proxy.client(timeout: 10)
        let jpg = try client.request("GET", "/images/pokijan.jpg")
        #expect(jpg.body == Array(try Data(contentsOf: www.appendingPathComponent("images/pokijan.jpg"))))
        #expect(jpg.header("Content-Type") == "image/jpeg")
        let pdf = try client.request("GET", "/pdf/nfc.pdf")
        #expect(pdf.body == Array(try Data(contentsOf: www.appendingPathComponent("pdf/nfc.pdf"))))
        let listing = try client.request("GET", "/images/")
        #expect(listing.text.contains("pokijan.jpg"))
        #expect(try client.request("GET", "/page.html").status == 200)
    }

    @Test func severalUpstreamsOnOneRoute_areBalanced() throws {
        let a = try BackendProcess(), b = try BackendProcess()
        let proxy = try ForwarderProcess("proxy", ["--route", "/=127.0.0.1:\(a.port),127.0.0.1:\(b.port)"])
        let ports = try (0..<4).map { _ in answeringPort(try proxy.get("/healthz")) }
        #expect(ports == [Int(a.port), Int(b.port), Int(a.port), Int(b.port)])
    }

    @Test func usageErrors_exitTwoWithTheReason() throws {
        for args in [["--route", "images=127.0.0.1:1"], ["--route", "/a/=127.0.0.1:1,bogus"], [], ["--default", "nope"],
                     ["--route", "/b=127.0.0.1:1", "--route", "/b/=127.0.0.1:2"], ["--route", "/c d/=127.0.0.1:1"]] {
            let p = try RunningProgram("proxy", args)
            #expect(p.waitForExit(timeout: 10) == .code(2), "\(args)")
            #expect(p.output().contains { $0.contains("proxy:") }, "\(args)")
        }
        let lb = try RunningProgram("balancer", ["--upstream", "127.0.0.1:99999"])
        #expect(lb.waitForExit(timeout: 10) == .code(2))
        for args in [["--mode", "tcp", "--response-timeout", "5s"], ["--model", "thread", "--busy-poll-us", "10"],
                     ["--connect-timeout", "0"], ["--idle-timeout", "100000000000s"], ["--connect-timeout", "-1s"]] {
            let p = try RunningProgram("balancer", ["--upstream", "127.0.0.1:9001"] + args)
            #expect(p.waitForExit(timeout: 10) == .code(2), "\(args)")
            #expect(!p.output().contains { $0.contains("Fatal error") }, "\(args)")
        }
        let poll = try RunningProgram("balancer", ["--upstream", "127.0.0.1:9001", "--busy-poll-us", "5000"])
        #expect(poll.waitForExit(timeout: 10) == .code(2))
        #expect(poll.output().contains { $0.contains("--busy-poll-us") })
        let help = try RunningProgram("balancer", ["--help"])
        #expect(help.waitForExit(timeout: 10) == .code(0))
    }
}

import Foundation
import Glibc
import Testing
import TestSupport

@Suite struct PathSafetyTests {
    @Test func traversalAttempts_neverLeaveTheRoot() throws {
        let server = try BackendProcess()
        let client = try server.client()
        let attempts = ["/../etc/passwd", "/images/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                        "/images/..%2f..%2f..%2fetc%2fpasswd", "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
                        "/page.html%00.txt", "/..%5c..%5cetc%5cpasswd", "http://x/../../etc/passwd"]
        for target in attempts {
            let r = try client.request("GET", target)
            #expect([400, 403, 404].contains(r.status), "\(target) got \(r.status)")
            #expect(!r.text.contains("root:"), "\(target) leaked a file")
            if r.status == 400 { break }   // a 400 closes the connection
        }
        for target in attempts {
            let r = try server.client().request("GET", target)
            #expect([400, 403, 404].contains(r.status), "\(target) got \(r.status)")
            #expect(!r.text.contains("root:"))
        }
    }

    @Test func symlinkLeadingOutOfTheRoot_isForbidden() throws {
        let site = try TempSite()
        try site.write("inside.txt", "inside")
        try FileManager.default.createSymbolicLink(atPath: site.url("passwd").path, withDestinationPath: "/etc/passwd")
        try FileManager.default.createSymbolicLink(atPath: site.url("etc").path, withDestinationPath: "/etc")
        try FileManager.default.createSymbolicLink(atPath: site.url("alias.txt").path, withDestinationPath: "inside.txt")
        let server = try BackendProcess(root: site.path)
        let client = try server.client()
        #expect(try client.request("GET", "/passwd").status == 403)
        #expect(try client.request("GET", "/etc/passwd").status == 403)
        #expect(try client.request("GET", "/etc/").status == 403)
        #expect(try client.request("GET", "/alias.txt").text == "inside")   // a link inside the root is fine
    }

    @Test func fileReplacedByAnOutsideSymlink_afterCaching_isForbidden() throws {
        let site = try TempSite()
        try site.write("data.txt", "cached")
        let server = try BackendProcess(root: site.path)
        let client = try server.client()
        #expect(try client.request("GET", "/data.txt").text == "cached")
        try FileManager.default.removeItem(at: site.url("data.txt"))
        try FileManager.default.createSymbolicLink(atPath: site.url("data.txt").path, withDestinationPath: "/etc/passwd")
        #expect(try client.request("GET", "/data.txt").status == 403)
    }
}

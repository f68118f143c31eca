import Foundation
import Glibc
import Testing
import TestSupport

/// The hot path must not allocate per request (DESIGN.md): measured from outside with an LD_PRELOAD
/// allocation counter, over many keep-alive requests after a warm-up.
@Suite struct AllocationTests {
    /// Asks for a report (SIGUSR2) and returns the `n`th one (1-based) once it has been printed.
    func report(_ server: BackendProcess, number n: Int) -> Int? {
        server.program.signal(SIGUSR2)
        var seen = 0
        var value: Int?
        _ = server.program.waitForLine { line in
            guard line.hasPrefix("malloc-count: ") else { return false }
            seen += 1
            value = Int(line.dropFirst("malloc-count: ".count))
            return seen == n
        }
        return seen == n ? value : nil
    }

    @Test func cachedFileOverKeepAlive_allocatesNothingPerRequest() throws {
        let library = Binaries.path("libMallocCounter.so")
        try #require(FileManager.default.fileExists(atPath: library), "libMallocCounter.so not built")
        let server = try BackendProcess(arguments: ["--workers", "1", "--quiet"], environment: ["LD_PRELOAD": library])
        let client = try server.client()
        for _ in 0..<200 { _ = try client.request("GET", "/page.html") }   // warm-up: caches, buffers, date
        let before = try #require(report(server, number: 1))
        let requests = 2000
        for _ in 0..<requests { #expect(try client.request("GET", "/page.html").status == 200) }
        let after = try #require(report(server, number: 2))
        let perRequest = Double(after - before) / Double(requests)
        // The two signal reports themselves and the Date refresh may allocate a handful in total.
        #expect(perRequest < 0.05, "\(after - before) allocations for \(requests) requests")
    }
}

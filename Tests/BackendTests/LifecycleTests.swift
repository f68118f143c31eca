import Foundation
import Glibc
import NetCore
import Testing
import TestSupport

@Suite struct LifecycleTests {
    @Test func help_exitsZero_andUsageErrorsExitTwoWithTheReason() throws {
        let help = try RunningProgram("backend", ["--help"])
        #expect(help.waitForExit(timeout: 10) == .code(0))
        #expect(help.output().contains { $0.contains("Usage: backend") })

        let bad = try RunningProgram("backend", ["--bogus"])
        #expect(bad.waitForExit(timeout: 10) == .code(2))
        #expect(bad.output().contains { $0.contains("unknown option '--bogus'") })

        let badPort = try RunningProgram("backend", ["--port", "99999"])
        #expect(badPort.waitForExit(timeout: 10) == .code(2))
        #expect(badPort.output().contains { $0.contains("--port") })

        let badModel = try RunningProgram("backend", ["--model", "fork"])
        #expect(badModel.waitForExit(timeout: 10) == .code(2))

        for option in ["--header-timeout", "--send-timeout"] {
            let zero = try RunningProgram("backend", ["--port", "0", option, "0"])
            #expect(zero.waitForExit(timeout: 10) == .code(2))
            #expect(zero.output().contains { $0.contains(option) && $0.contains("more than 0") })
        }
    }

    @Test func missingRoot_exitsOneWithAClearMessage() throws {
        let p = try RunningProgram("backend", ["--port", "0", "--root", "/no/such/folder"])
        #expect(p.waitForExit(timeout: 10) == .code(1))
        let text = p.output().joined(separator: "\n")
        #expect(text.contains("/no/such/folder"))
        #expect(!text.contains("Fatal error"))
    }

    @Test func portInUse_exitsOneNamingThePort() throws {
        let first = try BackendProcess()
        let second = try RunningProgram("backend", ["--port", String(first.port), "--host", "127.0.0.1", "--root", Binaries.www])
        #expect(second.waitForExit(timeout: 10) == .code(1))
        #expect(second.output().contains { $0.contains("in use") && $0.contains(String(first.port)) })
    }

    @Test func sigterm_finishesInFlightRequestsAndExitsZero() throws {
        let server = try BackendProcess()
        let idle = try server.client()
        #expect(try idle.request("GET", "/robots.txt").status == 200)
        // A response bigger than the socket buffers is in flight when SIGTERM arrives.
        let busy = try server.client(timeout: 10)
        try busy.send("GET /pdf/nfc.pdf HTTP/1.1\r\nHost: a\r\n\r\n")
        usleep(100_000)
        server.program.signal(SIGTERM)
        let r = try busy.readResponse()
        #expect(r.body == (try wwwFile("pdf/nfc.pdf")))
        #expect(server.program.waitForExit(timeout: 10) == .code(0))
        #expect(idle.isClosedByServer(timeout: 2))
    }

    @Test func accessLog_hasOneLinePerRequest_andQuietSilencesIt() throws {
        let server = try BackendProcess()
        let client = try server.client()
        _ = try client.request("GET", "/page.html")
        _ = try client.request("GET", "/missing")
        let size = try wwwFile("page.html").count
        let line = server.program.waitForLine { $0.contains("\"GET /page.html HTTP/1.1\"") }
        #expect(line?.range(of: #"^127\.0\.0\.1:\d+ "GET /page.html HTTP/1.1" 200 \#(size) \d+\.\d{3}ms$"#, options: .regularExpression) != nil, "\(line ?? "no line")")
        #expect(server.program.waitForLine { $0.contains("\"GET /missing HTTP/1.1\" 404") } != nil)

        let quiet = try BackendProcess(arguments: ["--quiet"])
        _ = try quiet.client().request("GET", "/page.html")
        #expect(quiet.program.waitForLine(timeout: 1) { $0.contains("GET /page.html") } == nil)
    }

    @Test(arguments: ["event", "thread"])
    func sigterm_answersBusyKeepAliveClients_insteadOfDroppingTheirNextRequest(model: String) throws {
        let server = try BackendProcess(arguments: ["--model", model, "--workers", "1", "--quiet"])
        let (lost, exit) = requestsLostAcrossSIGTERM(server.program, port: server.port)
        #expect(exit == .code(0))
        #expect(lost <= 1, "lost \(lost)")   // at most one crossing the close at that very moment
    }

    @Test(arguments: ["event", "thread"])
    func accessLog_escapesQuotesAndBackslashes_asNginxDoes(model: String) throws {
        let server = try BackendProcess(arguments: ["--model", model])
        let client = try server.client()
        #expect(try client.request("GET", #"/a"b\c"#).status == 404)
        #expect(server.program.waitForLine { $0.contains(#""GET /a\x22b\x5Cc HTTP/1.1" 404 "#) } != nil, "\(server.program.output())")
    }

    @Test(arguments: ["event", "thread"])
    func accessLog_ofALargeFile_saysWhatWasSent_andWhenItEnded(model: String) throws {
        let site = try TempSite()
        let size = 32 << 20
        try site.write("big.bin", [UInt8](repeating: 0, count: size))
        let server = try BackendProcess(root: site.path, arguments: ["--model", model, "--workers", "1"])
        // Whole: the full size, and a duration that includes a pause in the middle of reading.
        let whole = try server.client(timeout: 10)
        try whole.send("GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
        usleep(300_000)
        #expect(try whole.readResponse().body.count == size)
        let wholeLine = server.program.waitForLine { $0.contains("\"GET /big.bin HTTP/1.1\" 200 \(size) ") }
        let ms = wholeLine.flatMap { $0.split(separator: " ").last }.flatMap { Double($0.dropLast(2)) } ?? 0
        #expect(ms >= 250, "\(wholeLine ?? "no line")")
        // Cut short: the client reads a little and leaves; the line counts what left, not the file's size.
        let quitter = try server.client(timeout: 10)
        try quitter.send("GET /big.bin?cut HTTP/1.1\r\nHost: a\r\n\r\n")
        var some = [UInt8](repeating: 0, count: 65536)
        _ = recv(quitter.fd, &some, some.count, 0)
        shutdown(quitter.fd, Int32(SHUT_RDWR))
        let cutLine = server.program.waitForLine { $0.contains("\"GET /big.bin?cut HTTP/1.1\" 200 ") }
        let bytes = cutLine.flatMap { $0.split(separator: " ").dropLast().last }.flatMap { Int($0) } ?? -1
        #expect(bytes >= 0 && bytes < size, "\(cutLine ?? "no line")")
    }

    @Test func inheritedListeningSocket_isUsedInsteadOfBinding() throws {
        let fd = try Socket.listen(on: .loopback(port: 0))
        defer { Posix.close(fd) }
        let port = try #require(Socket.localAddress(fd)?.port)
        // The port is taken by our socket, so the backend can only serve it through LISTEN_FDS.
        let server = try BackendProcess(environment: ["LISTEN_FDS": "1", "LISTEN_PID": ""],
                                        extraDescriptors: [(fd, 3)], port: port)
        #expect(server.port == port)
        #expect(server.program.output().contains { $0.contains("inherited socket") })
        #expect(try server.client().request("GET", "/robots.txt").status == 200)
    }

    @Test(arguments: ["thread", "prefork", "event"])
    func everyModel_servesKeepAlivePipeliningAndLargeFiles(model: String) throws {
        let server = try BackendProcess(arguments: ["--model", model, "--workers", "2"])
        let client = try server.client()
        for _ in 0..<5 { #expect(try client.request("GET", "/page.html").status == 200) }
        try client.send("GET /robots.txt HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        #expect(try client.readResponse().status == 404)
        #expect(try client.request("GET", "/pdf/nfc.pdf").body == (try wwwFile("pdf/nfc.pdf")))
        #expect(try server.client().request("GET", "/x", headers: ["Content-Length: 1", "Transfer-Encoding: chunked"]).status == 400)
        let health = try server.client().request("GET", "/healthz")
        #expect(health.text.contains("\"model\":\"\(model)\""))
        server.program.signal(SIGTERM)
        #expect(server.program.waitForExit(timeout: 15) == .code(0))
    }

    @Test(arguments: ["thread", "prefork", "event"])
    func sigterm_refusesNewClientsAtOnce_whileADownloadFinishes(model: String) throws {
        let site = try TempSite()
        let size = 32 << 20
        try site.write("big.bin", [UInt8](repeating: 0, count: size))
        let server = try BackendProcess(root: site.path, arguments: ["--model", model, "--workers", "1"])
        let busy = try server.client(timeout: 10)
        try busy.send("GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")   // not read yet: it stays in flight
        usleep(200_000)
        server.program.signal(SIGTERM)
        var refused = false
        let deadline = Date().addingTimeInterval(5)
        while !refused && Date() < deadline {
            do { Posix.close(try Socket.connectBlocking(to: .loopback(port: server.port), timeoutMs: 500)) } catch { refused = error.errno == ECONNREFUSED }
            if !refused { usleep(20_000) }
        }
        #expect(refused)
        #expect(try busy.readResponse().body.count == size)
        #expect(server.program.waitForExit(timeout: 15) == .code(0))
    }

    @Test func preforkWorker_thatDies_isReplaced() throws {
        let server = try BackendProcess(arguments: ["--model", "prefork", "--workers", "1"])
        let before = try server.client().request("GET", "/healthz")
        let json = try JSONSerialization.jsonObject(with: Data(before.body)) as? [String: Any]
        let workerPid = try #require(json?["pid"] as? Int)
        #expect(workerPid != Int(server.program.pid))
        kill(pid_t(workerPid), SIGKILL)
        // The socket stays open in the master, so requests wait in the backlog for the replacement.
        let after = try server.client(timeout: 10).request("GET", "/healthz")
        #expect(after.status == 200)
        #expect(!after.text.contains("\"pid\":\(workerPid),"))
    }
}

import Foundation
import Testing
import TestSupport

/// `--monitor-path`: a liveness answer from the balancer or proxy itself (HAProxy's monitor-uri).
@Suite struct MonitorPathTests {
    @Test(arguments: ["event", "thread"])
    func monitorPath_isAnsweredHere_evenWithEveryUpstreamDown(model: String) throws {
        let lb = try ForwarderProcess("balancer", ["--model", model, "--monitor-path", "/alive",
                                                   "--upstream", "127.0.0.1:\(try deadPort())"])
        let client = try lb.client()
        let r = try client.request("GET", "/alive")
        #expect(r.status == 200)
        #expect(r.text.contains("alive"))
        #expect(r.header("Via") == nil)   // not forwarded
        // HEAD: the same length, no body, and the connection stays in step for the next request.
        let head = try client.request("HEAD", "/alive")
        #expect(head.status == 200 && head.body.isEmpty && head.header("Content-Length") == r.header("Content-Length"))
        #expect(try client.request("GET", "/alive").status == 200)
        #expect(try client.request("GET", "/alive?q").status == 503)   // only the exact target
    }

    @Test func localAnswersToHEAD_haveNoBody() throws {
        let backend = try BackendProcess()
        let proxy = try ForwarderProcess("proxy", ["--route", "/images/=127.0.0.1:\(backend.port)"])
        let client = try proxy.client()
        let head = try client.request("HEAD", "/nowhere")
        #expect(head.status == 404 && head.body.isEmpty)
        #expect(try client.request("GET", "/images/pokijan.jpg").status == 200)   // still in step
    }

    @Test(arguments: ["event", "thread"])
    func logLines_escapeQuotesInTheRequestLine(model: String) throws {
        let backend = try BackendProcess()
        let lb = try ForwarderProcess("balancer", ["--model", model, "--upstream", "127.0.0.1:\(backend.port)"])
        #expect(try lb.client().request("GET", #"/say"hi""#).status == 404)
        #expect(lb.program.waitForLine { $0.contains(#""GET /say\x22hi\x22 HTTP/1.1" 404 "#) } != nil, "\(lb.program.output())")
    }

    @Test func monitorPath_isAUsageErrorInTCPMode_orWithoutALeadingSlash() throws {
        for args in [["--mode", "tcp", "--monitor-path", "/alive"], ["--monitor-path", "alive"]] {
            let p = try RunningProgram("balancer", args + ["--port", "0", "--upstream", "127.0.0.1:9"])
            #expect(p.waitForExit(timeout: 10) == .code(2))
            #expect(p.output().contains { $0.contains("--monitor-path") })
        }
    }
}

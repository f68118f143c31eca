import Foundation
import Glibc
import NetCore
import TestSupport

/// A supervisor run in a folder of its own (so its .run/ is private), over a topology written for the
/// test with free ports.
final class SupervisorFixture: @unchecked Sendable {
    let folder: String
    let topologyPath: String
    private(set) var up: RunningProgram?

    init(topology json: String) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("sup-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        topologyPath = "\(folder)/topology.json"
        try json.write(toFile: topologyPath, atomically: true, encoding: .utf8)
    }

    deinit {
        if let up, !up.hasExited() {
            _ = try? run(["down"], timeout: 20)
            _ = up.waitForExit(timeout: 20)
        }
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// `supervisor up` in the foreground, waiting until `line` appears in its merged log.
    func start(waitFor line: String = "proxy is healthy", timeout: Double = 30) throws -> RunningProgram {
        let p = try RunningProgram("supervisor", ["up", topologyPath, "--no-color"], workingDirectory: folder)
        up = p
        guard p.waitForLine(timeout: timeout, where: { $0.contains(line) }) != nil else {
            throw RunningProgram.StartError(description: "supervisor never logged '\(line)':\n" + p.output().suffix(40).joined(separator: "\n"))
        }
        return p
    }

    /// Runs another supervisor command in the same folder and returns (exit, output).
    func run(_ args: [String], timeout: Double = 60) throws -> (Spawn.Exit?, [String]) {
        let p = try RunningProgram("supervisor", args, workingDirectory: folder)
        let exit = p.waitForExit(timeout: timeout)
        return (exit, p.output())
    }

    func status() throws -> [[String: Any]] {
        let (_, lines) = try run(["status", "--json"])
        let text = lines.joined(separator: "\n")
        return (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
    }

    func instance(_ name: String) throws -> [String: Any]? {
        try status().first { $0["name"] as? String == name }
    }

    var logFile: String { "\(folder)/.run/\(topologyName)/supervisor.log" }
    var topologyName: String { "topology" }

    /// Free TCP ports (bound and released; good enough on a quiet loopback).
    static func freePorts(_ n: Int) throws -> [Int] {
        var fds: [Int32] = []
        defer { for fd in fds { Posix.close(fd) } }
        var ports: [Int] = []
        for _ in 0..<n {
            let fd = try Socket.listen(on: .loopback(port: 0))
            fds.append(fd)
            ports.append(Int(Socket.localAddress(fd)?.port ?? 0))
        }
        return ports
    }

    /// Consecutive free ports for a scalable service.
    static func freeRange(_ n: Int) throws -> Int {
        for _ in 0..<50 {
            let base = Int.random(in: 20000...30000)
            var fds: [Int32] = []
            var ok = true
            for p in base..<(base + n) {
                if let fd = try? Socket.listen(on: .loopback(port: UInt16(p))) { fds.append(fd) } else { ok = false; break }
            }
            for fd in fds { Posix.close(fd) }
            if ok { return base }
        }
        throw RunningProgram.StartError(description: "no free port range of \(n)")
    }

    /// The lb5 shape on free ports: `backends` scalable backends, a balancer over them, a proxy in front.
    static func lb5(backends: Int = 3, maxBackends: Int = 5) throws -> (json: String, balancer: Int, proxy: Int, firstBackend: Int) {
        let first = try freeRange(maxBackends)
        let p = try freePorts(2)
        let www = Binaries.www
        let json = """
        {
          "name": "topology",
          "services": {
            "backend": {"program": "backend", "root": "\(www)", "workers": 1, "scale": [1, \(maxBackends)],
                        "instances": \(backends), "port": "\(first)-\(first + maxBackends - 1)",
                        "health": {"http": "/healthz", "interval": "200ms"}},
            "balancer": {"program": "balancer", "port": \(p[0]), "upstreams": "backend", "workers": 1,
                         "health": {"http": "/healthz", "interval": "200ms"}},
            "proxy": {"program": "proxy", "port": \(p[1]), "workers": 1, "routes": {"/": "balancer"},
                      "health": {"http": "/healthz", "interval": "200ms"}}
          }
        }
        """
        return (json, p[0], p[1], first)
    }
}

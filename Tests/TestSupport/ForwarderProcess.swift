import Foundation
import Glibc
import NetCore

/// A balancer or proxy started on a free port, with the port read back from its startup line.
public final class ForwarderProcess: @unchecked Sendable {
    public let program: RunningProgram
    public let port: UInt16

    public init(_ name: String, _ arguments: [String]) throws {
        program = try RunningProgram(name, ["--port", "0", "--host", "127.0.0.1"] + arguments)
        guard let line = program.waitForLine(where: { $0.hasPrefix("\(name): listening on") }) else {
            throw RunningProgram.StartError(description: "\(name) did not start: \(program.output().joined(separator: "\n"))")
        }
        guard let range = line.range(of: #":(\d+) \("#, options: .regularExpression),
              let p = UInt16(line[range].dropFirst().dropLast(2)) else {
            throw RunningProgram.StartError(description: "no port in '\(line)'")
        }
        port = p
    }

    public func client(timeout: Double = 5) throws -> HTTPTestClient { try HTTPTestClient(port: port, timeout: timeout) }

    /// One request on a fresh connection.
    public func get(_ target: String, headers: [String] = [], method: String = "GET") throws -> TestResponse {
        try client().request(method, target, headers: headers)
    }
}

/// Several backends on free ports.
public func startBackends(_ count: Int, root: String = Binaries.www, arguments: [String] = ["--workers", "1"]) throws -> [BackendProcess] {
    try (0..<count).map { _ in try BackendProcess(root: root, arguments: arguments) }
}

/// Port of the backend that answered, from its /healthz JSON.
public func answeringPort(_ r: TestResponse) -> Int? {
    guard let json = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] else { return nil }
    return json["port"] as? Int
}

/// Runs an admin API request over the unix socket.
public func admin(_ socket: String, _ method: String, _ path: String, body: String? = nil) throws -> TestResponse {
    let c = try HTTPTestClient(unixPath: socket)
    return try c.request(method, path, headers: body == nil ? [] : ["Content-Type: application/json"],
                         body: body.map { Array($0.utf8) } ?? [])
}

/// A fresh path for an admin unix socket.
public func temporarySocketPath() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("admin-\(UUID().uuidString.prefix(8)).sock").path
}

/// A port with nothing listening (bound then closed), for "upstream is down" tests.
public func deadPort() throws -> UInt16 {
    let fd = try Socket.listen(on: .loopback(port: 0))
    let port = Socket.localAddress(fd)?.port ?? 1
    Posix.close(fd)
    return port
}

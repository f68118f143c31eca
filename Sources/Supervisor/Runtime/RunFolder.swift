import Foundation
import Glibc
import NetCore

/// `.run/<topology>/` under the folder `up` ran in: the control socket, the merged log, admin sockets.
/// Other commands find a running supervisor through it.
struct RunFolder {
    let path: String

    init(base: String, topology: String) {
        path = "\(base)/.run/\(topology)"
    }

    init(path: String) { self.path = path }

    var controlSocket: String { "\(path)/control.sock" }
    var logFile: String { "\(path)/supervisor.log" }
    var daemonOutput: String { "\(path)/daemon.out" }
    var name: String { URL(fileURLWithPath: path).lastPathComponent }

    func create() throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw RuntimeFailure("cannot create the run folder \(path): \(error.localizedDescription)")
        }
    }

    /// Whether a supervisor answers on the control socket; removes a socket nobody answers on.
    func isLive() -> Bool {
        guard FileManager.default.fileExists(atPath: controlSocket) else { return false }
        if let fd = try? Socket.connectBlocking(to: SocketAddress(.unix(controlSocket)), timeoutMs: 1000) {
            Posix.close(fd)
            return true
        }
        unlink(controlSocket)   // left by a supervisor that was killed
        return false
    }

    /// Run folders with a live supervisor under `base`/.run.
    static func live(in base: String) -> [RunFolder] {
        let root = "\(base)/.run"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.sorted().map { RunFolder(path: "\(root)/\($0)") }.filter { $0.isLive() }
    }
}

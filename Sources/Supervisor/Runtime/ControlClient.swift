import Foundation
import Glibc
import NetCore

/// Sends one command to a running supervisor and waits for its answer.
struct ControlClient {
    let folder: RunFolder

    func send(_ request: [String: Any], timeoutMs: Int = 120_000) throws -> [String: Any] {
        let fd: Int32
        do {
            fd = try Socket.connectBlocking(to: SocketAddress(.unix(folder.controlSocket)), timeoutMs: 2000)
        } catch {
            throw RuntimeFailure("no supervisor is answering on \(folder.controlSocket) (\(error.reason)); is it running?")
        }
        defer { Posix.close(fd) }
        Socket.setTimeouts(fd, receiveMs: timeoutMs, sendMs: 5000)
        let bytes = ControlProtocol.encode(request)
        do {
            try Posix.writeAll(fd, bytes)
        } catch {
            throw RuntimeFailure("could not send to the supervisor: \(error)")
        }
        guard let reply = ControlProtocol.decode(Posix.readAll(fd)) else {
            throw RuntimeFailure("the supervisor did not answer (it may have stopped or timed out)")
        }
        return reply
    }
}

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
        var answer: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            answer += buf[0..<n]
        }
        guard let reply = ControlProtocol.decode(answer) else {
            throw RuntimeFailure("the supervisor did not answer (it may have stopped or timed out)")
        }
        return reply
    }
}

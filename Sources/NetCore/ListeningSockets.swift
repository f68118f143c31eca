import Glibc

/// The listening socket(s) a server's workers accept on: one handed down by a parent (systemd
/// convention), or bound here, either one shared by all workers or one per worker with SO_REUSEPORT.
public struct ListeningSockets: Sendable {
    /// One entry per worker; the same fd repeated when the socket is shared.
    public let perWorker: [Int32]
    public let shared: Bool
    public let inherited: Bool
    public let address: SocketAddress

    /// On shutdown, new clients should be refused at once (and go elsewhere), not queued until we exit
    /// and then reset. A socket we bound stops listening (shutdown(2) on a listening socket closes it for
    /// new connections, safely under threads still polling it). One handed down by a supervisor is left
    /// alone: it is the supervisor's too, and it queues connections for the next instance on purpose.
    public func stopListening() {
        guard !inherited else { return }
        for fd in Set(perWorker) { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
    }

    public enum Failure: Error, CustomStringConvertible {
        case bind(SocketAddress, SystemError)
        public var description: String {
            switch self {
            case .bind(let address, let error):
                var text = "cannot listen on \(address): \(error.reason)"
                if error.errno == EADDRINUSE, let port = address.port, PortTable.heldOnlyByConnections(port: Int(port)) {
                    text = "cannot listen on \(address): " + PortTable.ephemeralAdvice(Int(port))
                } else if error.errno == EADDRINUSE, let port = address.port {
                    text += " (another process holds port \(port); `ss -ltnp 'sport = :\(port)'` shows which)"
                } else if error.errno == EACCES {
                    text += " (ports below 1024 need privileges)"
                }
                return text
            }
        }
    }

    /// Applies a socket option to each distinct socket; accepted connections inherit most TCP options,
    /// so one call here replaces one per connection.
    public func forEachSocket(_ body: (Int32) -> Void) {
        for fd in Set(perWorker) { body(fd) }
    }

    /// Uses an inherited socket for `address`'s port when there is one; otherwise binds.
    public static func open(_ address: SocketAddress, workers: Int, reusePort: Bool,
                            inherited: InheritedSockets = .fromEnvironment()) throws -> ListeningSockets {
        if let fd = inherited.socket(forPort: address.port == 0 ? nil : address.port) {
            let bound = Socket.localAddress(fd) ?? address
            return ListeningSockets(perWorker: Array(repeating: fd, count: workers), shared: true,
                                    inherited: true, address: bound)
        }
        if !reusePort || workers == 1 {
            let fd: Int32
            do { fd = try Socket.listenWaitingForConnections(on: address) } catch { throw Failure.bind(address, error) }
            let bound = Socket.localAddress(fd) ?? address
            return ListeningSockets(perWorker: Array(repeating: fd, count: workers), shared: workers > 1,
                                    inherited: false, address: bound)
        }
        // SO_REUSEPORT would let us share a port with an unrelated process of the same user without a
        // word; bind once without it first so "address in use" is still reported.
        var target = address
        if address.port != 0 {
            do { Posix.close(try Socket.listenWaitingForConnections(on: address)) } catch { throw Failure.bind(address, error) }
        }
        var fds: [Int32] = []
        for _ in 0..<workers {
            do {
                let fd = try Socket.listen(on: target, reusePort: true)
                if target.port == 0, let bound = Socket.localAddress(fd) { target = bound }
                fds.append(fd)
            } catch {
                for fd in fds { Posix.close(fd) }
                throw Failure.bind(target, error)
            }
        }
        return ListeningSockets(perWorker: fds, shared: false, inherited: false, address: target)
    }
}

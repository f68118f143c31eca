import CLI
import Glibc
import NetCore

extension TopologyLoader {
    /// Refuses a topology whose ports are taken, before anything starts: binds every port of every
    /// instance slot (up to scale's max, since scaling up later must not fail) on `topology.host`, and
    /// names the process holding a taken one. Ports in `held` are the caller's own (a running topology's,
    /// about to take an edited file) and are not checked. A port held only by outgoing connections is
    /// waited for (`Socket.listenWaitingForConnections`), up to `waitMs` when given.
    static func checkPortsFree(_ topology: Topology, except held: Set<Int> = [], waitMs: Int? = nil) throws(TopologyError) {
        let host: SocketAddress
        do { host = try SocketAddress.resolve(topology.host, port: 1) } catch {
            throw TopologyError(file: topology.file, keyPath: "host", reason: "cannot use host '\(topology.host)': \(error)")
        }
        for service in topology.services {
            for (slot, port) in service.slotPorts.enumerated() where !held.contains(port) {
                let label = service.maxInstances > 1 ? "port \(port) (instance \(slot + 1))" : "port \(port)"
                guard let problem = bindProblem(host.withPort(UInt16(port)), port: port, label: label, waitMs: waitMs) else { continue }
                let keyPath = problem.isAboutHost ? "host" : "services.\(service.name).port"
                throw TopologyError(file: topology.file, keyPath: keyPath, reason: problem.reason + problem.advice)
            }
        }
    }

    private struct BindProblem {
        var reason: String
        var advice: String
        var isAboutHost = false
    }

    /// nil if `address` can be listened on right now; otherwise why not.
    /// `label` names the port in messages: "port 9003 (instance 3)".
    private static func bindProblem(_ address: SocketAddress, port: Int, label: String, waitMs: Int?) -> BindProblem? {
        do {
            // SO_REUSEADDR (always set by Socket.listen) so a port in TIME_WAIT from a previous run counts
            // as free; listening, not just binding, so a socket bound by another process conflicts too.
            let fd = try Socket.listenWaitingForConnections(on: address, backlog: 1, waitMs: waitMs ?? Socket.openConnectionWaitMs,
                                                            closingWaitMs: waitMs ?? Socket.closingConnectionWaitMs) { note in
                Program.printError("supervisor: \(note)")
            }
            Posix.close(fd)
            return nil
        } catch {
            switch error.errno {
            case EADDRINUSE where PortTable.heldOnlyByConnections(port: port):
                return BindProblem(reason: PortTable.ephemeralAdvice(port), advice: "")
            case EADDRINUSE:
                let who = PortOwner.find(port: port).map { "by pid \($0.pid) (\($0.command))" }
                    ?? "by another process (not visible from here)"
                return BindProblem(reason: "\(label) is already in use \(who)",
                                   advice: "; stop that process or choose another port")
            case EACCES:
                return BindProblem(reason: "\(label) needs privileges to bind (\(error.reason))",
                                   advice: "; choose a port from 1024 up")
            case EADDRNOTAVAIL:
                return BindProblem(reason: "cannot bind \(address): \(error.reason)",
                                   advice: "; host must be an address of this machine, such as 127.0.0.1", isAboutHost: true)
            default:
                return BindProblem(reason: "cannot bind \(address): \(error.reason)", advice: "")
            }
        }
    }
}

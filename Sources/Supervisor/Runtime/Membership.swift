import Foundation
import Glibc
import NetCore

/// Keeps balancers' and proxies' upstream lists in step with the instances the supervisor runs, through
/// their admin APIs: an instance joins once healthy, and leaves (drained: no new requests, in-flight
/// ones finish) before it is stopped. That is what makes scaling and stop/start lose no request.
extension TopologyRunner {
    /// Balancer and proxy instances that route to `service`, with the route prefix for proxies.
    func routers(of service: String) -> [(instance: Instance, route: String?)] {
        var result: [(Instance, String?)] = []
        for s in topology.services {
            switch s.program {
            case .balancer where s.upstreams == service:
                for i in instances(of: s.name) where i.isRunning { result.append((i, nil)) }
            case .proxy:
                for route in s.routes where route.service == service {
                    for i in instances(of: s.name) where i.isRunning { result.append((i, route.prefix)) }
                }
            default:
                break
            }
        }
        return result
    }

    /// Adds `instance` to every router of its service; `done(error)` runs on the loop.
    func join(_ instance: Instance, done: @escaping (Error?) -> Void) {
        guard let address = instance.address(host: topology.host) else { done(nil); return }
        let calls = routers(of: instance.service.name).map { (AdminClient(socketPath: launcher.adminSocket($0.instance)), $0.route) }
        runOffLoop(done) {
            for (client, route) in calls { try client.add(address, route: route) }
        } then: { [weak instance] in instance?.joined = true }
    }

    /// Drains `instance` out of every router of its service; `done(error)` runs on the loop.
    func leave(_ instance: Instance, done: @escaping (Error?) -> Void) {
        guard let address = instance.address(host: topology.host) else { done(nil); return }
        let calls = routers(of: instance.service.name).map { AdminClient(socketPath: launcher.adminSocket($0.instance)) }
        let timeout = instance.service.stopTimeoutMs + 30_000
        runOffLoop(done) {
            for client in calls { try client.drain(address, timeoutMs: timeout) }
        } then: { [weak instance] in instance?.joined = false }
    }

    /// Runs blocking admin calls on a thread of their own and reports back on the loop.
    private func runOffLoop(_ done: @escaping (Error?) -> Void, _ work: @escaping @Sendable () throws -> Void,
                            then success: @escaping () -> Void) {
        let loop = self.loop
        let box = LoopBox((done, success))
        OSThread.start(name: "admin-call") {
            var failure: Error?
            do { try work() } catch { failure = error }
            let result = ErrorBox(failure)
            loop.execute {
                if result.error == nil { box.value.1() }
                box.value.0(result.error)
            }
        }.detach()
    }

    // MARK: scaling

    /// Scales `serviceName` to `count` instances: new ones start in the lowest free slots, pass their
    /// health check, then join the routers; removed ones (highest slots first) are drained, then stopped.
    func scale(_ serviceName: String, to count: Int, reply done: @escaping (Result<String, RuntimeFailure>) -> Void) {
        guard !scaling.contains(serviceName) else {
            done(.failure(RuntimeFailure("\(serviceName) is being scaled already; try again once that has finished")))
            return
        }
        scaling.insert(serviceName)
        let reply = { [unowned self] (result: Result<String, RuntimeFailure>) in
            self.scaling.remove(serviceName)
            done(result)
        }
        guard let service = topology.service(named: serviceName) else {
            reply(.failure(RuntimeFailure("no service '\(serviceName)' in \(topology.name) (services: \(topology.services.map(\.name).joined(separator: ", ")))", callersMistake: true)))
            return
        }
        if let refusal = service.scaleRefusal(count, file: topology.file) {
            reply(.failure(RuntimeFailure(refusal, callersMistake: true)))
            return
        }
        // What scaling counts is the instances meant to serve: a stopped or failed one is not serving.
        let all = instances(of: serviceName)
        let current = all.filter { $0.wanted && $0.state != .failed }
        if count == current.count {
            reply(.success("\(serviceName) already runs \(count) instance\(count == 1 ? "" : "s")"))
            return
        }
        if count > current.count {
            // Slots left stopped or failed are taken up again, lowest first, before new ones are opened:
            // instance N keeps port N of the range, and the range is never outgrown.
            let idle = all.filter { !($0.wanted && $0.state != .failed) && !$0.isRunning }.sorted { $0.slot < $1.slot }
            var added = Array(idle.prefix(count - current.count))
            var opened: [Instance] = []
            do {
                while added.count < count - current.count {
                    let instance = try addInstance(to: service)
                    added.append(instance)
                    opened.append(instance)
                }
            } catch {
                for i in opened { removeInstance(i) }
                reply(.failure(RuntimeFailure("\(error)")))
                return
            }
            for i in added {
                i.wanted = true
                i.retriesInARow = 0
            }
            added.sort { $0.slot < $1.slot }
            logs.event("scaling \(serviceName) to \(count): starting \(added.map(\.name).joined(separator: ", "))")
            for i in added { start(i) }
            whenHealthy(added, timeoutMs: service.health.startTimeoutMs + 5_000) { [unowned self] failure in
                if let failure {
                    reply(.failure(failure))
                    return
                }
                var left = added.count
                var firstError: Error?
                for i in added {
                    self.join(i) { error in
                        if firstError == nil { firstError = error }
                        left -= 1
                        guard left == 0 else { return }
                        if let firstError {
                            reply(.failure(RuntimeFailure("started but could not join the balancer: \(firstError)")))
                        } else {
                            self.logs.event("scaled \(serviceName) to \(count)")
                            reply(.success("scaled \(serviceName) to \(count) (started \(added.map(\.name).joined(separator: ", ")))"))
                        }
                    }
                }
            }
            return
        }
        let removing = Array(current.sorted { $0.slot > $1.slot }.prefix(current.count - count))
        logs.event("scaling \(serviceName) to \(count): draining \(removing.map(\.name).joined(separator: ", "))")
        retire(all: removing) { [unowned self] error in
            self.logs.event("scaled \(serviceName) to \(count)")
            if let error { reply(.failure(RuntimeFailure("\(error)"))) }
            else { reply(.success("scaled \(serviceName) to \(count) (stopped \(removing.map(\.name).joined(separator: ", ")))")) }
        }
    }

    /// Drains an instance out of its routers, stops it and frees its slot.
    func retire(_ instance: Instance, done: @escaping (Error?) -> Void) {
        leave(instance) { [unowned self] error in
            self.stop(instance) {
                self.removeInstance(instance)
                done(error)
            }
        }
    }

    /// Retires every instance of `list` at once; `done` gets the first error once all have stopped.
    func retire(all list: [Instance], done: @escaping (Error?) -> Void) {
        if list.isEmpty { return done(nil) }
        var left = list.count
        var firstError: Error?
        for instance in list {
            retire(instance) { error in
                if firstError == nil { firstError = error }
                left -= 1
                if left == 0 { done(firstError) }
            }
        }
    }

    /// Calls back once every instance is healthy, or with the first failure (or a timeout).
    func whenHealthy(_ list: [Instance], timeoutMs: Int, _ done: @escaping (RuntimeFailure?) -> Void) {
        let deadline = loop.now &+ UInt64(timeoutMs) * Clock.nanosPerMilli
        var finished = false
        var task: ScheduledTask?
        task = loop.repeating(every: 20 * Clock.nanosPerMilli) { [unowned self] in
            if finished { return }
            if let failed = list.first(where: { $0.state == .failed }) {
                finished = true
                task?.cancel()
                done(RuntimeFailure("\(failed.name) failed to start: \(failed.reason ?? "unknown")"))
            } else if list.allSatisfy({ $0.state == .healthy }) {
                finished = true
                task?.cancel()
                done(nil)
            } else if self.loop.now > deadline {
                finished = true
                task?.cancel()
                done(RuntimeFailure("\(list.filter { $0.state != .healthy }.map(\.name).joined(separator: ", ")) not healthy after \(timeoutMs / 1000)s"))
            }
        }
    }
}

/// Carries loop-confined values through a thread hop and back to the loop that owns them.
final class LoopBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

struct ErrorBox: @unchecked Sendable {
    let error: Error?
    init(_ e: Error?) { error = e }
}

import Foundation
import Glibc
import NetCore

/// `up` on an edited topology file while it runs, as docker compose does `up` after an edit: unchanged
/// services are left alone; a service whose program would now start differently (command line,
/// environment, folder, port) is recreated one instance at a time; a change only the supervisor reads
/// (scale, health checks, restart policy, dependencies) is taken over without a restart; services new
/// to the file start, and services gone from it are drained out of their routers and stopped.
///
/// Services are changed one after another in the file's dependency order, each healthy before the
/// next, so a balancer is recreated only once the backends it will list run. The first failure stops
/// the rest, and says what was done before it.
extension TopologyRunner {
    enum ServiceChange: Equatable {
        case add
        /// The settings that differ (the file's key names), for the log and the reply.
        case recreate([String])
        case update([String])
        case remove
    }

    /// Why a scale, a `reconfigure` or another apply must wait, while an edited file is being applied.
    var applyingRefusal: String? {
        applying ? "an edited \(topology.name) is being applied; try again once that has finished" : nil
    }

    /// Ports this topology holds or its programs listen on: its own to hand over to an edited file.
    var heldPorts: Set<Int> { Set(allInstances.compactMap { ($0.listenFD >= 0 || $0.isRunning) ? $0.port : nil }) }

    /// What applying `file` changes, service by service, in the order it is done.
    func changes(toApply file: Topology) -> [(service: String, change: ServiceChange)] {
        let running = TopologyFingerprint.of(topology, argumentOverrides: argumentOverrides)
        let wanted = TopologyFingerprint.of(file)
        let removed = topology.services.reversed().map(\.name).filter { file.service(named: $0) == nil }
        // A service gone from the file goes first when the file gives one of its ports to another;
        // otherwise last, so its routers are changed before it is drained out of them.
        let portsWanted = Set(file.services.flatMap(\.slotPorts))
        let early = removed.filter { name in instances(of: name).contains { $0.port.map(portsWanted.contains) ?? false } }
        var steps = early.map { (service: $0, change: ServiceChange.remove) }
        for service in file.services {
            guard let old = topology.service(named: service.name) else {
                steps.append((service.name, .add))
                continue
            }
            let keys = TopologyFingerprint.differingKeys(running[service.name] ?? [:], wanted[service.name] ?? [:])
            if keys.isEmpty { continue }
            steps.append((service.name, startsDifferently(old, as: service) ? .recreate(keys) : .update(keys)))
        }
        steps += removed.filter { !early.contains($0) }.map { ($0, .remove) }
        return steps
    }

    /// Whether an instance of `new` would be started otherwise than the running ones of `old`, in any
    /// slot both have: another name, port, program, argument, environment variable or folder.
    private func startsDifferently(_ old: Service, as new: Service) -> Bool {
        if old.holdsPort != new.holdsPort || old.workingDirectory != new.workingDirectory { return true }
        let peers = { [unowned self] (service: String) in self.peers(of: service) }
        for slot in 1...max(1, min(old.maxInstances, new.maxInstances)) {
            let a = Instance(service: old, slot: slot, colorIndex: 0)
            let b = Instance(service: new, slot: slot, colorIndex: 0)
            if a.name != b.name || a.port != b.port { return true }
            let runningCommand = launcher.arguments(for: a, extraArguments: argumentOverrides[old.name], peers: peers)
            let fileCommand = launcher.arguments(for: b, peers: peers)
            if runningCommand.path != fileCommand.path || runningCommand.args != fileCommand.args { return true }
            if launcher.environment(for: a) != launcher.environment(for: b) { return true }
        }
        return false
    }

    /// Applies `file` to the running topology; `done` gets a line per service changed, or the failure.
    func apply(_ file: Topology, done: @escaping (Result<[String], RuntimeFailure>) -> Void) {
        if stopping { return done(.failure(RuntimeFailure("\(topology.name) is stopping"))) }
        if let busy = applyingRefusal { return done(.failure(RuntimeFailure(busy))) }
        if !scaling.isEmpty {
            return done(.failure(RuntimeFailure("\(scaling.sorted().joined(separator: ", ")) is being scaled; try again once that has finished")))
        }
        guard file.host == topology.host else {
            return done(.failure(RuntimeFailure("\(file.file): host: \(topology.name) runs on \(topology.host), the file says \(file.host); "
                                                + "every service would move: supervisor down, then supervisor up \(file.file)")))
        }
        // Ports this topology holds or listens on are its own to hand over; any other port the file
        // names must be free, or nothing is changed. No waiting here, on the loop: `up` has waited out
        // outgoing connections on those ports before asking.
        do {
            try TopologyLoader.checkPortsFree(file, except: heldPorts, waitMs: 0)
        } catch {
            return done(.failure(RuntimeFailure("\(error)\nnothing was changed")))
        }
        let steps = changes(toApply: file)
        applying = true
        logs.event("applying \(file.file): "
                   + (steps.isEmpty ? "nothing to change" : steps.map(Self.describe).joined(separator: "; ")))
        runChanges(steps[...], file: file, done: []) { [unowned self] result in
            guard case .success(let lines) = result else {
                self.applying = false
                return done(result)
            }
            self.topology = file   // the file's own order and path, now that every service is as it says
            self.reviveFailed { revived in
                self.applying = false
                self.logs.event("applied \(file.file)")
                done(revived.map { lines + ($0.map { [$0] } ?? []) })
            }
        }
    }

    /// Starts again, with a fresh count of retries, every instance given up on: `up` asks for the whole
    /// file to run, as `docker compose up` starts containers that had exited. The reply's line, if any.
    private func reviveFailed(_ done: @escaping (Result<String?, RuntimeFailure>) -> Void) {
        let failed = allInstances.filter { $0.state == .failed && $0.wanted && !$0.isRunning }
        if failed.isEmpty { return done(.success(nil)) }
        for instance in failed {
            logs.event("restarting \(instance.name): it had failed (\(instance.reason ?? "no reason recorded"))")
            instance.retriesInARow = 0
            start(instance)
        }
        let timeoutMs = failed.map(\.service.health.startTimeoutMs).max()! + 5_000
        whenHealthy(failed, timeoutMs: timeoutMs) { failure in
            if let failure { return done(.failure(RuntimeFailure("\(failure)\n`supervisor logs \(failed[0].name)` shows what went wrong"))) }
            done(.success("restarted \(failed.map(\.name).joined(separator: ", ")) (\(failed.count == 1 ? "it" : "they") had failed)"))
        }
    }

    private static func describe(_ step: (service: String, change: ServiceChange)) -> String {
        switch step.change {
        case .add: return "start \(step.service) (added)"
        case .remove: return "stop \(step.service) (removed)"
        case .recreate(let keys): return "recreate \(step.service) (\(keys.joined(separator: ", ")))"
        case .update(let keys): return "update \(step.service) (\(keys.joined(separator: ", "))) without a restart"
        }
    }

    private func runChanges(_ steps: ArraySlice<(service: String, change: ServiceChange)>, file: Topology, done lines: [String],
                            finish: @escaping (Result<[String], RuntimeFailure>) -> Void) {
        guard let (name, change) = steps.first else { return finish(.success(lines)) }
        let next = { [unowned self] (result: Result<String, RuntimeFailure>) in
            switch result {
            case .success(let line):
                self.runChanges(steps.dropFirst(), file: file, done: lines + [line], finish: finish)
            case .failure(let failure):
                let before = lines.isEmpty ? "" : "\ndone before it: " + lines.joined(separator: "; ")
                let after = steps.count > 1 ? "\nnot done: " + steps.dropFirst().map(\.service).joined(separator: ", ") : ""
                let next = "\nwhat was not changed runs as before; `supervisor logs \(name)` shows what went wrong"
                    + (change == .add ? "" : ", and `supervisor up \(file.file)` tries again")
                finish(.failure(RuntimeFailure("\(name): \(failure.description)\(before)\(after)\(next)")))
            }
        }
        let service = file.service(named: name)
        switch change {
        case .remove:
            removeService(name, done: next)
        case .add:
            startService(service!, done: next)
        case .update(let keys):
            updateService(service!, keys: keys, done: next)
        case .recreate(let keys):
            recreateService(service!, keys: keys, done: next)
        }
    }

    // MARK: the four changes

    private func startService(_ service: Service, done: @escaping (Result<String, RuntimeFailure>) -> Void) {
        logs.event("adding \(service.name)")
        let list: [Instance]
        do { list = try addService(service) } catch { return done(.failure(RuntimeFailure("\(error)"))) }
        whenHealthy(list, timeoutMs: service.health.startTimeoutMs + 5_000) { failure in
            if let failure { return done(.failure(failure)) }
            done(.success("started \(list.map(\.name).joined(separator: ", "))"))
        }
    }

    private func removeService(_ name: String, done: @escaping (Result<String, RuntimeFailure>) -> Void) {
        logs.event("removing \(name): it is no longer in the file")
        retire(all: instances(of: name)) { [unowned self] error in
            self.forgetService(name)
            if let error { return done(.failure(RuntimeFailure("stopped, but could not be drained out of its routers first: \(error)"))) }
            done(.success("removed \(name)"))
        }
    }

    private func updateService(_ service: Service, keys: [String], done: @escaping (Result<String, RuntimeFailure>) -> Void) {
        replaceDefinition(service)
        for instance in instances(of: service.name) {
            let newChecks = instance.service.health != service.health
            instance.service = service
            if newChecks && instance.isRunning { watchHealth(instance) }
        }
        logs.event("updated \(service.name) (\(keys.joined(separator: ", "))) without restarting it")
        fitScale(service) { result in
            done(result.map { scaled in "updated \(service.name) (\(keys.joined(separator: ", ")))" + (scaled.map { "; \($0)" } ?? "") })
        }
    }

    private func recreateService(_ service: Service, keys: [String], done: @escaping (Result<String, RuntimeFailure>) -> Void) {
        // Kept until every instance runs the new definition: should one fail, the service still differs
        // from the file, and `up` on the same file recreates it again rather than call it up to date.
        let before = (definition: topology.service(named: service.name), overrides: argumentOverrides[service.name])
        let done = { [unowned self] (result: Result<String, RuntimeFailure>) in
            if case .failure = result, let old = before.definition {
                self.replaceDefinition(old)
                self.argumentOverrides[service.name] = before.overrides
            }
            done(result)
        }
        argumentOverrides[service.name] = nil   // the file's args are the ones asked for now
        replaceDefinition(service)
        logs.event("recreating \(service.name) (\(keys.joined(separator: ", "))), one instance at a time")
        // Slots the new range no longer has go first, then the rest are recreated in slot order.
        retireBeyondRange(service) { [unowned self] retired in
            if case .failure(let failure) = retired { return done(.failure(failure)) }
            let retiredLine = (try? retired.get()) ?? nil
            let list = self.instances(of: service.name).sorted { $0.slot < $1.slot }
            self.recreateInstances(list[...], as: service, recreated: []) { result in
                switch result {
                case .failure(let failure):
                    done(.failure(failure))
                case .success(let names):
                    self.fitScale(service) { scaled in
                        let what = names.isEmpty ? "\(service.name) (none was running)" : names.joined(separator: ", ")
                        done(scaled.map { ["recreated \(what) (\(keys.joined(separator: ", ")))", retiredLine, $0].compactMap { $0 }.joined(separator: "; ") })
                    }
                }
            }
        }
    }

    // MARK: instances

    private func recreateInstances(_ list: ArraySlice<Instance>, as service: Service, recreated: [String],
                                   done: @escaping (Result<[String], RuntimeFailure>) -> Void) {
        guard let old = list.first else { return done(.success(recreated)) }
        recreate(old, as: service) { [unowned self] failure, fresh in
            if let failure { return done(.failure(failure)) }
            self.recreateInstances(list.dropFirst(), as: service, recreated: recreated + (fresh.wanted ? [fresh.name] : []), done: done)
        }
    }

    /// Starts `old`'s slot again as `service` says. On the same port, `old` is stopped first and the
    /// held socket stays open in between, so connections wait in its queue rather than being refused
    /// (a `restart`). On a new port the new instance starts beside the old one and joins its routers
    /// before the old one is drained out of them and stopped, so a route served by one instance never
    /// goes empty. An instance stopped on purpose stays stopped, with the new definition.
    private func recreate(_ old: Instance, as service: Service, done: @escaping (RuntimeFailure?, Instance) -> Void) {
        let fresh = Instance(service: service, slot: old.slot, colorIndex: old.colorIndex)
        let movesPort = fresh.port != old.port
        if movesPort && old.isRunning { return handOver(old, to: fresh, done: done) }
        let wasWanted = old.wanted
        let proceed = { [unowned self] in
            if !movesPort && old.listenFD >= 0 && service.holdsPort {
                fresh.listenFD = old.listenFD
                old.listenFD = -1
            } else {
                self.releaseSocket(old)
            }
            if !movesPort { fresh.joined = old.joined }
            self.replace(old, with: fresh)
            guard wasWanted else { return done(nil, fresh) }
            fresh.wanted = true
            self.start(fresh)
            self.whenHealthy([fresh], timeoutMs: service.health.startTimeoutMs + 5_000) { failure in
                if let failure { return done(failure, fresh) }
                guard movesPort, !self.routers(of: service.name).isEmpty, !fresh.joined else { return done(nil, fresh) }
                self.join(fresh) { error in done(error.map { RuntimeFailure("started but could not join its routers: \($0)") }, fresh) }
            }
        }
        guard old.isRunning else {
            old.wanted = false
            old.pendingTask?.cancel()   // a restart waiting out its backoff
            return proceed()
        }
        let stopOld = { [unowned self] in self.stop(old) { proceed() } }
        if movesPort && old.joined { leave(old) { _ in stopOld() } } else { stopOld() }
    }

    /// `fresh` on its new port beside the running `old`: healthy, then in the routers, then `old` out
    /// of them and stopped. Should `fresh` not come up, it is stopped and `old` goes on as it was.
    private func handOver(_ old: Instance, to fresh: Instance, done: @escaping (RuntimeFailure?, Instance) -> Void) {
        do { try bindSocket(fresh) } catch { return done(RuntimeFailure("\(error)"), old) }
        // Both a balancer or proxy of the same name: the new one's admin socket waits beside the old
        // one's, and takes its usual path once the old one is gone.
        let usualAdminPath = launcher.adminSocket(fresh)
        if fresh.service.program.servesAdminAPI && fresh.name == old.name && old.adminTag.isEmpty { fresh.adminTag = ".next" }
        add(fresh, beside: old)
        fresh.wanted = true
        start(fresh)
        whenHealthy([fresh], timeoutMs: fresh.service.health.startTimeoutMs + 5_000) { [unowned self] failure in
            if let failure {
                self.stop(fresh) { self.removeInstance(fresh) }
                return done(failure, old)
            }
            let joinFresh = { (next: @escaping (Error?) -> Void) in
                self.routers(of: fresh.service.name).isEmpty || fresh.joined ? next(nil) : self.join(fresh, done: next)
            }
            joinFresh { joinError in
                self.retire(old) { _ in
                    if !fresh.adminTag.isEmpty && rename(self.launcher.adminSocket(fresh), usualAdminPath) == 0 { fresh.adminTag = "" }
                    done(joinError.map { RuntimeFailure("started but could not join its routers: \($0)") }, fresh)
                }
            }
        }
    }

    /// Brings the service to the file's instance count (as `scale` would); the reply's line, if it did.
    private func fitScale(_ service: Service, done: @escaping (Result<String?, RuntimeFailure>) -> Void) {
        retireBeyondRange(service) { [unowned self] retired in
            if case .failure(let failure) = retired { return done(.failure(failure)) }
            let retiredLine = (try? retired.get()) ?? nil
            let serving = self.instances(of: service.name).filter { $0.wanted && $0.state != .failed }
            if serving.count == service.instances { return done(.success(retiredLine)) }
            self.scale(service.name, to: service.instances) { result in
                done(result.map { scaled in [retiredLine, scaled].compactMap { $0 }.joined(separator: "; ") })
            }
        }
    }

    /// Drains and stops the instances in slots past the service's new range, and forgets them; the
    /// reply's line, if there were any.
    private func retireBeyondRange(_ service: Service, done: @escaping (Result<String?, RuntimeFailure>) -> Void) {
        let beyond = instances(of: service.name).filter { $0.slot > service.maxInstances }
        if beyond.isEmpty { return done(.success(nil)) }
        logs.event("stopping \(beyond.map(\.name).joined(separator: ", ")): past \(service.name)'s new scale range")
        retire(all: beyond) { error in
            if let error { return done(.failure(RuntimeFailure("\(error)"))) }
            done(.success("stopped \(beyond.map(\.name).joined(separator: ", ")) (past the new scale range)"))
        }
    }

    /// The service's definition in the running topology (in place, or added at the end), so routers,
    /// peers and `scale` see it while the rest of the file is applied.
    private func replaceDefinition(_ service: Service) {
        if let i = topology.services.firstIndex(where: { $0.name == service.name }) {
            topology.services[i] = service
        } else {
            topology.services.append(service)
        }
    }
}

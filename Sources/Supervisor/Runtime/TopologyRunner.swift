import Foundation
import Glibc
import HTTPCore
import NetCore

/// Runs a topology on one event loop (the main thread): holds every instance's listening socket, starts
/// services in dependency order, reaps every child, restarts crashed and unhealthy ones with backoff,
/// and stops everything in reverse order. All state here is touched only on the loop.
final class TopologyRunner {
    let loop: EventLoop
    /// What runs; `up` on an edited file replaces it service by service (TopologyApply).
    var topology: Topology {
        didSet { launcher.topology = topology }
    }
    private(set) var launcher: Launcher
    let logs: LogMerger
    /// Instances by service, in slot order (slot N at index N-1); vacant slots are absent.
    private(set) var instances: [String: [Instance]] = [:]
    /// Services whose instances have not been started yet (waiting for their dependencies).
    private var waiting: [String]
    private var colorCounter = 0
    private(set) var stopping = false
    private var onStopped: [() -> Void] = []
    /// Called whenever an instance changes state (the control server's `--detach` wait listens here).
    var onChange: (() -> Void)?
    /// Extra arguments replacing a service's own `args` (set by `reconfigure`, e.g. a backend's --model).
    var argumentOverrides: [String: [String]] = [:]
    /// Told of every instance's process group, to kill them all should the supervisor be killed.
    var groupGuard: GroupGuard?
    /// Services with a scale under way: a second one at the same time would count half-started instances.
    var scaling: Set<String> = []
    /// An edited topology file being applied: no scale meanwhile, nor a second apply.
    var applying = false

    init(loop: EventLoop, topology: Topology, launcher: Launcher, logs: LogMerger) {
        self.loop = loop
        self.topology = topology
        self.launcher = launcher
        self.logs = logs
        waiting = topology.services.map(\.name)
        for s in topology.services {
            instances[s.name] = (1...max(1, s.instances)).map { slot in makeInstance(s, slot: slot) }
        }
    }

    private func makeInstance(_ s: Service, slot: Int) -> Instance {
        colorCounter += 1
        return Instance(service: s, slot: slot, colorIndex: colorCounter)
    }

    var allInstances: [Instance] { topology.services.flatMap { instances[$0.name] ?? [] } }

    func instances(of service: String) -> [Instance] { instances[service] ?? [] }

    // MARK: starting

    /// Binds every instance's socket (so nothing starts if one port is taken), then starts what has
    /// no dependencies; the rest follow as their dependencies become healthy.
    func up() throws {
        for instance in allInstances { try bindSocket(instance) }
        for instance in allInstances { instance.wanted = true }
        logs.event("starting \(topology.name): \(topology.services.map { "\($0.name)×\($0.instances)" }.joined(separator: ", "))")
        startReadyServices()
    }

    /// Closes the instance's held socket. Done when nothing will run behind it (given up on, or not to be
    /// restarted): connections are then refused at once, and balancers move on, instead of waiting in an
    /// accept queue no one reads. `start` binds it again.
    func releaseSocket(_ instance: Instance) {
        guard instance.listenFD >= 0 else { return }
        Posix.close(instance.listenFD)
        instance.listenFD = -1
    }

    func bindSocket(_ instance: Instance) throws {
        guard let port = instance.port, instance.listenFD < 0 else { return }
        let address = try SocketAddress.resolve(topology.host, port: UInt16(port))
        if !instance.service.holdsPort {
            // The program binds it itself: only check that it is free now, so a taken port is said up front.
            do { Posix.close(try Socket.listen(on: address)) } catch {
                throw RuntimeFailure("cannot listen on \(address) for \(instance.name): \(error.reason)")
            }
            return
        }
        do {
            // On the supervisor's loop: a closing connection's minute would stall everything else, so the
            // short wait only (`up` has waited out closing connections before starting anything).
            instance.listenFD = try Socket.listenWaitingForConnections(on: address, closingWaitMs: Socket.openConnectionWaitMs) { [logs] note in
                logs.event(note)
            }
        } catch {
            if error.errno == EADDRINUSE, PortTable.heldOnlyByConnections(port: port) {
                throw RuntimeFailure("cannot listen on \(address) for \(instance.name): " + PortTable.ephemeralAdvice(port))
            }
            throw RuntimeFailure("cannot listen on \(address) for \(instance.name): \(error.reason)")
        }
    }

    /// Starts each waiting service whose dependencies are all healthy.
    private func startReadyServices() {
        if stopping { return }
        var progress = true
        while progress {
            progress = false
            for name in waiting {
                guard let s = topology.service(named: name) else { continue }
                let blockers = s.dependsOn.filter { !serviceHealthy($0) }
                if !blockers.isEmpty { continue }
                waiting.removeAll { $0 == name }
                for instance in instances(of: name) { start(instance) }
                progress = true
                break
            }
        }
    }

    func serviceHealthy(_ name: String) -> Bool {
        let list = instances(of: name).filter(\.wanted)
        return !list.isEmpty && list.allSatisfy { $0.state == .healthy }
    }

    /// Whether everything wanted is healthy (what `up --detach` waits for).
    var allHealthy: Bool { waiting.isEmpty && allInstances.filter(\.wanted).allSatisfy { $0.state == .healthy } }
    var anyFailed: Instance? { allInstances.first { $0.state == .failed } }

    /// Spawns the instance's process and starts watching its health.
    func start(_ instance: Instance) {
        guard instance.wanted, !instance.isRunning, !stopping else { return }
        instance.pendingTask?.cancel()
        instance.pendingTask = nil
        let launched: Launcher.Launched
        do {
            try bindSocket(instance)
            launched = try launcher.launch(instance, extraArguments: argumentOverrides[instance.service.name]) { [unowned self] service in
                self.peers(of: service)
            }
        } catch {
            logs.event("\(instance.name) could not start: \(error)")
            handleExit(instance, description: "could not start: \(error)", clean: false)
            return
        }
        instance.pid = launched.pid
        groupGuard?.watch(launched.pid)
        instance.startedAt = loop.now
        instance.healthyAt = 0
        instance.startedWall = Clock.wallSeconds()
        instance.state = .starting
        instance.healthPasses = 0
        instance.healthFailures = 0
        instance.lastHealthFailure = nil
        logs.attach(fd: launched.stdout, name: instance.name, colorIndex: instance.colorIndex, isStderr: false)
        logs.attach(fd: launched.stderr, name: instance.name, colorIndex: instance.colorIndex, isStderr: true)
        logs.event("\(instance.name) started (pid \(launched.pid)\(instance.port.map { ", port \($0)" } ?? ""))")
        // A router starts with its upstream lists on its command line: those instances are in.
        let s = instance.service
        for target in (s.upstreams.map { [$0] } ?? []) + s.routes.map(\.service) {
            for peer in peers(of: target) { peer.joined = true }
        }
        watchHealth(instance)
        onChange?()
    }

    /// The instances a balancer or proxy should list for `service`: every slot that is meant to run.
    func peers(of service: String) -> [Instance] {
        instances(of: service).filter { $0.wanted && ($0.joined || $0.state != .stopped) }
    }

    // MARK: health

    func watchHealth(_ instance: Instance) {
        let h = instance.service.health
        instance.healthTask?.cancel()
        if case .none = h.kind {
            // Nothing to ask: alive counts as healthy.
            becameHealthy(instance, detail: "running (no health check)")
            return
        }
        instance.healthTask = loop.repeating(every: UInt64(h.intervalMs) * Clock.nanosPerMilli) { [unowned self, unowned instance] in
            self.probe(instance)
        }
        // First check soon after start rather than a whole interval later.
        loop.schedule(after: 50 * Clock.nanosPerMilli) { [weak self, weak instance] in
            guard let self, let instance, instance.isRunning else { return }
            self.probe(instance)
        }
        let pid = instance.pid
        instance.pendingTask = loop.schedule(after: UInt64(h.startTimeoutMs) * Clock.nanosPerMilli) { [unowned self, unowned instance] in
            guard instance.pid == pid, instance.state == .starting else { return }
            let last = instance.lastHealthFailure.map { "; last check: \($0)" } ?? ""
            let after = h.startTimeoutMs % 1000 == 0 ? "\(h.startTimeoutMs / 1000)s" : "\(h.startTimeoutMs) ms"
            self.unhealthy(instance, reason: "not healthy \(after) after starting\(last)")
        }
    }

    private func probe(_ instance: Instance) {
        guard instance.isRunning, let port = instance.port, instance.state != .stopping else { return }
        let h = instance.service.health
        let check: HealthProbe.Check
        switch h.kind {
        case .http(let path): check = .http(path: path, host: "127.0.0.1:\(port)")
        case .tcp: check = .tcp
        case .none: return
        }
        let host = instance.address(host: topology.host).flatMap { try? SocketAddress.parse($0) } ?? .loopback(port: UInt16(port))
        let pid = instance.pid
        let started = loop.now
        HealthProbe.start(host, check: check, timeout: Timeout(milliseconds: h.timeoutMs), loop: loop) { [weak self, weak instance] ok, detail in
            guard let self, let instance, instance.pid == pid, let ok else { return }   // nil: no verdict
            if ok, case .tcp = check, instance.listenFD >= 0 {
                // We hold the socket, so the kernel completes every connect whether or not the program
                // accepts: the check passes only once the program has taken the connection off the queue.
                self.awaitAccepted(instance, pid: pid, deadline: started &+ UInt64(h.timeoutMs) * Clock.nanosPerMilli)
                return
            }
            self.healthResult(instance, ok: ok, detail: detail)
        }
    }

    private func awaitAccepted(_ instance: Instance, pid: pid_t, deadline: UInt64) {
        guard instance.pid == pid else { return }
        let queued = Socket.acceptQueueLength(instance.listenFD) ?? 0
        if queued == 0 {
            healthResult(instance, ok: true, detail: "accepting connections")
        } else if loop.now >= deadline {
            healthResult(instance, ok: false, detail: "\(queued) connection\(queued == 1 ? "" : "s") not accepted")
        } else {
            loop.schedule(after: 10 * Clock.nanosPerMilli) { [weak self, weak instance] in
                guard let self, let instance else { return }
                self.awaitAccepted(instance, pid: pid, deadline: deadline)
            }
        }
    }

    private func healthResult(_ instance: Instance, ok: Bool, detail: String) {
        let h = instance.service.health
        if ok {
            instance.healthFailures = 0
            instance.healthPasses += 1
            if instance.state == .starting && instance.healthPasses >= h.healthyAfter { becameHealthy(instance, detail: detail) }
        } else {
            instance.healthPasses = 0
            instance.healthFailures += 1
            instance.lastHealthFailure = detail
            if instance.state == .healthy && instance.healthFailures >= h.unhealthyAfter {
                unhealthy(instance, reason: "\(instance.healthFailures) health checks failed in a row (\(detail))")
            }
        }
    }

    private func becameHealthy(_ instance: Instance, detail: String) {
        instance.state = .healthy
        instance.healthyAt = loop.now
        instance.reason = nil
        instance.pendingTask?.cancel()
        instance.pendingTask = nil
        logs.event("\(instance.name) is healthy (\(detail))")
        onChange?()
        startReadyServices()
    }

    /// A failed health check restarts the instance, as a crash would (and counts toward giving up).
    private func unhealthy(_ instance: Instance, reason: String) {
        instance.state = .unhealthy
        instance.reason = reason
        logs.event("\(instance.name) is unhealthy: \(reason); restarting it")
        onChange?()
        terminate(instance, grace: instance.service.stopTimeoutMs)
    }

    // MARK: exits and restarts

    /// Every child's exit, from the SIGCHLD reaper.
    func childExited(pid: pid_t, exit: Spawn.Exit) {
        guard let instance = allInstances.first(where: { $0.pid == pid }) else { return }
        // Whatever the program left behind in its process group (a wrapper script's server, say) goes
        // with it, as a container's processes do when its main process ends; a restart must not find
        // the old generation still serving. The group cannot have a new leader yet: its id was this pid.
        kill(-pid, SIGKILL)
        groupGuard?.forget(pid)
        logs.catchUp(name: instance.name)
        instance.pid = 0
        instance.lastExit = exit
        instance.healthTask?.cancel()
        instance.healthTask = nil
        let waiters = instance.onExit
        instance.onExit = []
        if !instance.wanted || stopping {
            instance.state = .stopped
            instance.pendingTask?.cancel()
            logs.event("\(instance.name) stopped (\(exit))")
            onChange?()
            for w in waiters { w() }
            checkAllStopped()
            return
        }
        let clean = exit == .code(0)
        let unhealthyRestart = instance.state == .unhealthy
        handleExit(instance, description: unhealthyRestart ? "restarted after failing health checks (\(exit))" : "\(exit)",
                   clean: clean && !unhealthyRestart)
        for w in waiters { w() }
    }

    /// Decides what follows an unexpected exit: restart now, restart after a backoff, or give up.
    private func handleExit(_ instance: Instance, description: String, clean: Bool) {
        let policy = instance.service.restart
        if instance.state != .unhealthy { logs.event("\(instance.name) \(description)") }
        if policy.when == .never || (policy.when == .onFailure && clean) {
            instance.state = .stopped
            instance.wanted = false
            releaseSocket(instance)
            logs.event("\(instance.name) will not be restarted (restart policy \(policy.when.rawValue))")
            onChange?()
            return
        }
        // A run healthy for long enough forgives earlier crashes.
        if instance.healthyAt > 0 && loop.now &- instance.healthyAt >= UInt64(policy.stableAfterMs) * Clock.nanosPerMilli {
            instance.retriesInARow = 0
        }
        guard let delay = RestartBackoff.delay(retry: instance.retriesInARow, policy: policy) else {
            instance.state = .failed
            instance.reason = "gave up after \(instance.retriesInARow) restart\(instance.retriesInARow == 1 ? "" : "s") in a row (last: \(description))"
            releaseSocket(instance)
            logs.event("\(instance.name) failed: \(instance.reason!)")
            onChange?()
            return
        }
        instance.retriesInARow += 1
        instance.restarts += 1
        instance.reason = description
        onChange?()
        if delay == 0 {
            logs.event("restarting \(instance.name) now")
            start(instance)
        } else {
            instance.state = .backoff
            logs.event("restarting \(instance.name) in \(delay) ms")
            instance.pendingTask = loop.schedule(after: UInt64(delay) * Clock.nanosPerMilli) { [unowned self, unowned instance] in
                instance.pendingTask = nil
                self.start(instance)
            }
        }
    }

    /// SIGTERM to the instance's process group, SIGKILL after `grace` if it is still there.
    func terminate(_ instance: Instance, grace: Int) {
        guard instance.isRunning else { return }
        let pid = instance.pid
        kill(-pid, SIGTERM)
        kill(pid, SIGTERM)
        // A stopped process (kill -STOP, a debugger) would only see the SIGTERM once continued: it is
        // continued now, so it can finish its requests and exit, as systemd does.
        kill(-pid, SIGCONT)
        loop.schedule(after: UInt64(grace) * Clock.nanosPerMilli) { [weak self, weak instance] in
            guard let instance, instance.pid == pid else { return }
            self?.logs.event("\(instance.name) did not stop within \(grace) ms; killing it")
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
        }
    }

    // MARK: stopping

    /// Stops one instance on purpose; `done` runs once it has exited.
    func stop(_ instance: Instance, done: @escaping () -> Void) {
        instance.wanted = false
        instance.pendingTask?.cancel()
        instance.pendingTask = nil
        guard instance.isRunning else {
            if instance.state != .failed { instance.state = .stopped }
            onChange?()
            done()
            return
        }
        instance.state = .stopping
        instance.onExit.append(done)
        onChange?()
        terminate(instance, grace: instance.service.stopTimeoutMs)
    }

    /// Stops everything, last-started service first, each service's instances together.
    func down(_ done: @escaping () -> Void) {
        if !stopping {
            stopping = true
            logs.event("stopping \(topology.name)")
        }
        onStopped.append(done)
        stopServices(topology.services.reversed().map(\.name))
    }

    private func stopServices(_ remaining: [String]) {
        guard let first = remaining.first else {
            checkAllStopped()
            return
        }
        let list = instances(of: first)
        var left = list.count
        if left == 0 {
            stopServices(Array(remaining.dropFirst()))
            return
        }
        for instance in list {
            stop(instance) { [unowned self] in
                left -= 1
                if left == 0 { self.stopServices(Array(remaining.dropFirst())) }
            }
        }
    }

    private func checkAllStopped() {
        guard stopping, allInstances.allSatisfy({ !$0.isRunning }) else { return }
        for instance in allInstances { releaseSocket(instance) }
        let callbacks = onStopped
        onStopped = []
        for c in callbacks { c() }
    }

    // MARK: slots (scaling)

    /// Adds an instance in the lowest free slot (its port is that slot's port); never past the range.
    func addInstance(to service: Service) throws -> Instance {
        var list = instances(of: service.name)
        let used = Set(list.map(\.slot))
        guard let slot = (1...service.maxInstances).first(where: { !used.contains($0) }) else {
            throw RuntimeFailure("\(service.name) has no free slot: all \(service.maxInstances) are taken (one may still be stopping)")
        }
        let instance = makeInstance(service, slot: slot)
        try bindSocket(instance)
        list.append(instance)
        list.sort { $0.slot < $1.slot }
        instances[service.name] = list
        return instance
    }

    /// Forgets a stopped instance and frees its port.
    func removeInstance(_ instance: Instance) {
        releaseSocket(instance)
        instances[instance.service.name]?.removeAll { $0 === instance }
        onChange?()
    }

    // MARK: services coming and going (TopologyApply)

    /// Puts `fresh` in the place of `old` (same service, same slot), once `old` has exited.
    func replace(_ old: Instance, with fresh: Instance) {
        guard let i = instances[old.service.name]?.firstIndex(where: { $0 === old }) else { return }
        instances[old.service.name]?[i] = fresh
        onChange?()
    }

    /// Adds `fresh` to `old`'s slot while `old` still runs there (a port move hands over between them).
    func add(_ fresh: Instance, beside old: Instance) {
        guard let i = instances[old.service.name]?.firstIndex(where: { $0 === old }) else { return }
        instances[old.service.name]?.insert(fresh, at: i + 1)
        onChange?()
    }

    /// A service new to the topology: its definition, and its instances with their sockets bound. It
    /// starts once its dependencies are healthy, as at `up`.
    func addService(_ service: Service) throws -> [Instance] {
        topology.services.append(service)
        instances[service.name] = []
        do {
            for _ in 0..<max(1, service.instances) { _ = try addInstance(to: service) }
        } catch {
            forgetService(service.name)
            throw error
        }
        let list = instances(of: service.name)
        for instance in list { instance.wanted = true }
        waiting.append(service.name)
        startReadyServices()
        return list
    }

    /// Drops a service whose instances have all been stopped and removed.
    func forgetService(_ name: String) {
        for instance in instances(of: name) { releaseSocket(instance) }
        instances[name] = nil
        waiting.removeAll { $0 == name }
        argumentOverrides[name] = nil
        topology.services.removeAll { $0.name == name }
        onChange?()
    }
}

/// A failure at run time that the user should read as is.
struct RuntimeFailure: Error, CustomStringConvertible {
    let description: String
    /// The request itself was wrong (a name or count the topology does not allow): the client exits 2.
    let callersMistake: Bool
    init(_ text: String, callersMistake: Bool = false) {
        description = text
        self.callersMistake = callersMistake
    }
}

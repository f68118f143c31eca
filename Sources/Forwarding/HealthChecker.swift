import Glibc
import HTTPCore
import NetCore

/// Active health checks, run on the admin loop: every interval each upstream gets one probe (unless one
/// is still running), and the results move it up or down through the rise/fall thresholds.
final class HealthChecker {
    private let loop: EventLoop
    private let service: ForwardingService
    private var inFlight = Set<ObjectIdentifier>()

    init(loop: EventLoop, service: ForwardingService) {
        self.loop = loop
        self.service = service
    }

    func start() {
        let h = service.settings.health
        guard h.enabled else { return }
        loop.repeating(every: h.interval.nanos) { [unowned self] in self.round() }
        round()
    }

    private func round() {
        for pool in service.pools {
            for up in pool.snapshot.upstreams where up.state != .draining {
                let id = ObjectIdentifier(up)
                if inFlight.contains(id) { continue }
                inFlight.insert(id)
                let h = service.settings.health
                let check: HealthProbe.Check = h.useHTTP ? .http(path: h.path, host: up.key) : .tcp
                HealthProbe.start(up.address, check: check, timeout: h.timeout, loop: loop) { [unowned self] ok, detail in
                    self.inFlight.remove(id)
                    guard let ok else { return }   // out of descriptors here: no verdict on the upstream
                    self.service.healthResult(up, ok: ok, detail: detail)
                }
            }
        }
    }
}


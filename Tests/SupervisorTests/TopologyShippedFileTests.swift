import Testing
import TestSupport
@testable import Supervisor

/// The topology files in topologies/ load and say what the README promises.
@Suite struct TopologyShippedFileTests {
    let repository = Binaries.repositoryRoot.path

    @Test func lb5_loadsInDependencyOrderWithItsPortsAndRoutes() throws {
        let topology = try TopologyLoader.load(path: repository + "/topologies/lb5.json")
        #expect(topology.name == "lb5")
        #expect(topology.host == "127.0.0.1")
        #expect(topology.file == repository + "/topologies/lb5.json")
        #expect(topology.services.map(\.name) == ["backend", "images", "pdf", "balancer", "proxy"])

        let backend = try #require(topology.service(named: "backend"))
        #expect(backend.program == .backend)
        #expect(backend.root == repository + "/www")
        #expect(backend.workers == 1)
        #expect((backend.instances, backend.minInstances, backend.maxInstances) == (5, 1, 5))
        #expect(backend.slotPorts == [9001, 9002, 9003, 9004, 9005])
        #expect(backend.health == HealthCheck(kind: .http(path: "/healthz"), intervalMs: 1000, timeoutMs: 1000,
                                              healthyAfter: 1, unhealthyAfter: 3, startTimeoutMs: 30_000))
        #expect(backend.restart == RestartPolicy(when: .always, maxRetries: 5, initialBackoffMs: 100,
                                                 maxBackoffMs: 10_000, stableAfterMs: 30_000))
        #expect(backend.workingDirectory == repository + "/topologies")

        #expect(topology.service(named: "images")?.firstPort == 8889)
        #expect(topology.service(named: "pdf")?.firstPort == 8890)

        let balancer = try #require(topology.service(named: "balancer"))
        #expect(balancer.firstPort == 44444)
        #expect(balancer.upstreams == "backend")
        #expect(balancer.strategy == "round-robin")
        #expect(balancer.mode == "http")
        #expect(balancer.dependsOn == ["backend"])

        let proxy = try #require(topology.service(named: "proxy"))
        #expect(proxy.firstPort == 18000)
        #expect(proxy.routes.map(\.prefix) == ["/images/", "/pdf/", "/"])
        #expect(proxy.routes.map(\.service) == ["images", "pdf", "balancer"])
        #expect(proxy.dependsOn == ["images", "pdf", "balancer"])
        #expect(proxy.stripPrefix == false)
    }

    @Test func proxyTopology_servesFoldersBehindStrippedPrefixes() throws {
        let topology = try TopologyLoader.load(path: repository + "/topologies/proxy.json")
        #expect(topology.services.map(\.name) == ["site", "images", "pdfs", "proxy"])
        #expect(topology.service(named: "site")?.root == repository + "/www")
        #expect(topology.service(named: "images")?.root == repository + "/www/images")
        #expect(topology.service(named: "pdfs")?.root == repository + "/www/pdf")
        #expect(topology.services.compactMap(\.firstPort) == [8888, 8889, 8890, 18000])
        let proxy = try #require(topology.service(named: "proxy"))
        #expect(proxy.stripPrefix)
        #expect(proxy.routes.map(\.prefix) == ["/images/", "/pdf/", "/"])
        #expect(proxy.routes.map(\.service) == ["images", "pdfs", "site"])
    }
}

import Glibc
import NetCore
import Testing
@testable import Supervisor

/// Defaults, path resolution, ordering and the port check.
@Suite struct TopologyLoaderTests {
    @Test func defaults_fillEverythingLeftOut() throws {
        try TopologyTestFolder.with { folder in
            let topology = try folder.load(#"{"services": {"web": {"program": "backend", "root": "../www", "port": 9001}}}"#)
            #expect(topology.name == "test")
            #expect(topology.host == "127.0.0.1")
            let web = try #require(topology.services.first)
            #expect((web.instances, web.minInstances, web.maxInstances) == (1, 1, 1))
            #expect(web.root == folder.www)
            #expect(web.workingDirectory == folder.topologies)
            #expect(web.health.kind == .http(path: "/healthz"))
            #expect(web.stopTimeoutMs == 10_000)
            #expect(web.args.isEmpty && web.environment.isEmpty && web.dependsOn.isEmpty)
        }
    }

    @Test func scaleWithoutInstances_startsAtItsMaximum() throws {
        try TopologyTestFolder.with { folder in
            let topology = try folder.load(#"{"services": {"web": {"program": "backend", "root": "../www", "scale": [2, 4], "port": "9001-9004"}}}"#)
            let web = try #require(topology.services.first)
            #expect((web.instances, web.minInstances, web.maxInstances) == (4, 2, 4))
        }
    }

    @Test func command_isFoundNextToTheTopologyWithDefaultsForItsPort() throws {
        try TopologyTestFolder.with { folder in
            try folder.writeScript("serve.sh")
            let topology = try folder.load(#"""
                {"name": "tools", "services": {
                  "job": {"program": "serve.sh", "directory": "..", "args": ["--port", "{port}"], "env": {"A": "1"},
                          "stop_timeout": 0.5, "health": {"interval": "250ms", "start_timeout": "1m"}},
                  "tcp": {"program": "./serve.sh", "port": 7000, "restart": {"policy": "on-failure", "max_retries": 0}}}}
                """#)
            #expect(topology.name == "tools")
            let job = try #require(topology.service(named: "job"))
            #expect(job.program == .command(folder.topologies + "/serve.sh"))
            #expect(job.workingDirectory == folder.root)
            #expect(job.args == ["--port", "{port}"])
            #expect(job.environment == ["A": "1"])
            #expect(job.stopTimeoutMs == 500)
            #expect(job.health.kind == .none)
            #expect(job.health.intervalMs == 250 && job.health.startTimeoutMs == 60_000)
            let tcp = try #require(topology.service(named: "tcp"))
            #expect(tcp.health.kind == .tcp)
            #expect(tcp.restart.when == .onFailure && tcp.restart.maxRetries == 0)
        }
    }

    @Test func dependencyOrder_keepsFileOrderAmongEquals() throws {
        try TopologyTestFolder.with { folder in
            let topology = try folder.load(#"""
                {"services": {
                  "z": {"program": "/bin/sh", "depends_on": ["y"]},
                  "a": {"program": "/bin/sh"},
                  "y": {"program": "/bin/sh", "depends_on": ["a"]},
                  "b": {"program": "/bin/sh"}}}
                """#)
            #expect(topology.services.map(\.name) == ["a", "y", "z", "b"])
        }
    }

    @Test func portInUse_namesTheProcessHoldingIt() throws {
        let fd = try Socket.listen(on: .loopback(port: 0))
        defer { Posix.close(fd) }
        let port = try #require(Socket.localAddress(fd)?.port)
        try TopologyTestFolder.with { folder in
            let topology = try folder.load(#"{"services": {"web": {"program": "backend", "root": "../www", "port": \#(port)}}}"#)
            do throws(TopologyError) {
                try TopologyLoader.checkPortsFree(topology)
                Issue.record("port \(port) is held, yet the check passed")
            } catch {
                let comm = RawFiles.text("/proc/self/comm")?.split(separator: "\n").first.map(String.init) ?? "?"
                #expect(error.keyPath == "services.web.port")
                #expect(error.reason.hasPrefix("port \(port) is already in use by pid \(getpid()) (\(comm))"), "\(error.reason)")
            }
        }
    }

    @Test func freePorts_passTheCheck() throws {
        // Ask the kernel for a free port, then release it for the check.
        let fd = try Socket.listen(on: .loopback(port: 0))
        let port = try #require(Socket.localAddress(fd)?.port)
        Posix.close(fd)
        try TopologyTestFolder.with { folder in
            let topology = try folder.load(#"{"services": {"web": {"program": "backend", "root": "../www", "port": \#(port)}, "job": {"program": "/bin/sh"}}}"#)
            try TopologyLoader.checkPortsFree(topology)
        }
    }

    @Test func missingFile_isReportedWithoutKeyPath() {
        #expect(throws: TopologyError.self) { try TopologyLoader.load(path: "/nonexistent/topology.json") }
        do throws(TopologyError) { _ = try TopologyLoader.load(path: "/nonexistent/topology.json") } catch {
            #expect(error.file == "/nonexistent/topology.json")
            #expect(error.keyPath.isEmpty)
            #expect(error.reason.contains("No such file or directory"))
        }
    }
}

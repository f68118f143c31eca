// swift-tools-version:6.0
// One package, no dependencies: everything here builds with the Swift toolchain alone.
import PackageDescription

let optimize: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "WebTopology",
    products: [
        .executable(name: "backend", targets: ["Backend"]),
        .executable(name: "balancer", targets: ["Balancer"]),
        .executable(name: "proxy", targets: ["Proxy"]),
        .executable(name: "supervisor", targets: ["Supervisor"]),
        // Test tooling: an LD_PRELOAD allocation counter for the allocations-per-request test.
        .library(name: "MallocCounter", type: .dynamic, targets: ["MallocCounter"]),
    ],
    targets: [
        // Thin C wrappers for the Linux calls Glibc does not export to Swift.
        .target(name: "CLinux"),
        // Sockets, the epoll event loop, timers, listening sockets handed down by a parent.
        .target(name: "NetCore", dependencies: ["CLinux"], swiftSettings: optimize),
        // HTTP/1.1 request parsing and response writing over raw bytes.
        .target(name: "HTTPCore", dependencies: ["NetCore"], swiftSettings: optimize),
        // JSON read with members in document order and line/column errors, and written compactly:
        // topology files, the admin API, the supervisor's control socket. No Foundation, so the
        // forwarders do not load it (and its ICU) for one admin endpoint.
        .target(name: "JSON"),
        // The forwarding engine the balancer and the proxy both run on: pools, routing, health, admin API.
        .target(name: "Forwarding", dependencies: ["NetCore", "HTTPCore", "CLI", "JSON"], swiftSettings: optimize),
        // Command-line parsing and the conventions every program shares (usage errors, --help, exit codes).
        .target(name: "CLI", dependencies: []),
        .executableTarget(name: "Backend", dependencies: ["NetCore", "HTTPCore", "CLI"], swiftSettings: optimize),
        .executableTarget(name: "Balancer", dependencies: ["Forwarding", "CLI"], swiftSettings: optimize),
        .executableTarget(name: "Proxy", dependencies: ["Forwarding", "CLI"], swiftSettings: optimize),
        // The supervisor starts the other three programs from its own folder: depending on them makes
        // `swift run supervisor …` build them too.
        .executableTarget(name: "Supervisor", dependencies: ["NetCore", "HTTPCore", "CLI", "JSON", "Backend", "Balancer", "Proxy"],
                          swiftSettings: optimize),
        .testTarget(name: "SupervisorTests", dependencies: ["Supervisor", "NetCore", "HTTPCore", "JSON", "TestSupport"]),
        .target(name: "MallocCounter", path: "Tests/MallocCounter"),
        // Test helpers: start the built programs, speak HTTP to them over real sockets.
        .target(name: "TestSupport", dependencies: ["NetCore", "HTTPCore"], path: "Tests/TestSupport"),
        .testTarget(name: "HTTPCoreTests", dependencies: ["HTTPCore", "NetCore"]),
        .testTarget(name: "NetCoreTests", dependencies: ["NetCore", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["CLI"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "BackendTests", dependencies: ["Backend", "NetCore", "HTTPCore", "TestSupport"]),
        .testTarget(name: "ForwardingTests", dependencies: ["Forwarding", "NetCore", "HTTPCore", "CLI", "TestSupport"]),
    ]
)

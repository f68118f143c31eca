import CLI
import NetCore
import Testing
@testable import Forwarding

/// Workers poll before sleeping only when a CPU would otherwise sit idle; an explicit value always wins.
struct BusyPollDefaultTests {
    private func parse(_ arguments: [String]) throws -> ForwardingOptions {
        var args = Arguments(arguments, program: "balancer")
        return try ForwardingOptions.parse(&args, defaultPort: 44444)
    }

    @Test func aWorkerForEveryCPUDoesNotPoll() throws {
        #expect(try parse(["--workers", "\(CPU.count)"]).busyPollMicros == 0)
        #expect(try parse([]).busyPollMicros == 0, "the default is a worker per CPU")
    }

    @Test func fewerWorkersThanCPUsPoll() throws {
        #expect(ForwardingOptions.defaultBusyPollMicros(workers: 1, cpus: 2) == 50)
        #expect(ForwardingOptions.defaultBusyPollMicros(workers: 2, cpus: 2) == 0)
        #expect(ForwardingOptions.defaultBusyPollMicros(workers: 3, cpus: 2) == 0)
        if CPU.count > 1 { #expect(try parse(["--workers", "1"]).busyPollMicros == 50) }
    }

    @Test func anExplicitValueWins() throws {
        #expect(try parse(["--workers", "\(CPU.count)", "--busy-poll-us", "20"]).busyPollMicros == 20)
        #expect(try parse(["--workers", "1", "--busy-poll-us", "0"]).busyPollMicros == 0)
    }
}

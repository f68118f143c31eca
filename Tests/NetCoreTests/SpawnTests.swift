import Foundation
import Glibc
import Testing
@testable import NetCore

@Suite struct SpawnTests {
    func run(_ script: String, descriptors extra: [(Int32, Int32)] = [], env: [String] = [],
             newSession: Bool = false) throws -> (String, Spawn.Exit) {
        let (rd, wr) = try Posix.pipe(nonBlocking: false)
        var request = Spawn.Request(path: "/bin/sh", arguments: ["-c", script], environment: env,
                                    descriptors: [(0, 0), (wr, 1), (2, 2)] + extra)
        request.newSession = newSession
        let pid = try Spawn.start(request)
        Posix.close(wr)
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(rd, &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        Posix.close(rd)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return (String(decoding: out, as: UTF8.self), Spawn.Exit(status: status))
    }

    @Test func child_getsExactlyTheMappedDescriptors() throws {
        let (rd, wr) = try Posix.pipe(nonBlocking: false)
        defer { Posix.close(rd); Posix.close(wr) }
        // Our pipe is CLOEXEC and unmapped except as fd 3: the child must see 0, 1, 2, 3 and nothing else.
        let (out, exit) = try run("ls /proc/self/fd | sort -n | tr '\\n' ' '", descriptors: [(rd, 3)])
        #expect(exit == .code(0))
        // `ls` itself opens one descriptor for reading the folder.
        let fds = out.split(separator: " ").compactMap { Int($0) }
        #expect(Array(fds.prefix(4)) == [0, 1, 2, 3])
        #expect(fds.count <= 5)
    }

    @Test func listenPid_isTheChildsOwnPid() throws {
        let (out, _) = try run("echo $$ $LISTEN_PID", env: ["LISTEN_PID=", "LISTEN_FDS=1"])
        let parts = out.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(parts.count == 2 && parts[0] == parts[1])
    }

    @Test func exitCodesAndSignals_areReported() throws {
        #expect(try run("exit 7").1 == .code(7))
        #expect(try run("kill -9 $$").1 == .signal(SIGKILL))
        #expect(Spawn.Exit.signal(SIGSEGV).description == "killed by SIGSEGV")
    }

    @Test func missingProgram_isAnErrorNotAnExit127() {
        #expect(throws: SystemError.self) {
            _ = try Spawn.start(Spawn.Request(path: "/no/such/program", arguments: [], environment: [],
                                              descriptors: [(0, 0), (1, 1), (2, 2)]))
        }
    }

    @Test func child_startsWithDefaultSignalsAndItsOwnProcessGroup() throws {
        signal(SIGUSR1, SIG_IGN)
        defer { signal(SIGUSR1, SIG_DFL) }
        let (out, _) = try run("ps -o pgid= -p $$; grep SigIgn /proc/self/status")
        let lines = out.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(Int32(lines[0].trimmingCharacters(in: .whitespaces)) != getpgrp())
        // SigIgn is a hex mask; SIGUSR1 (bit 9) must not be ignored in the child.
        let mask = UInt64(lines[1].split(separator: "\t").last ?? "0", radix: 16) ?? 0
        #expect(mask & (1 << 9) == 0)
    }

    @Test func daemon_getsASessionOfItsOwn() throws {
        // ps prints the session id and whether a terminal is attached ("?" when none).
        let (out, _) = try run("echo $$; ps -o sid=,tty= -p $$", newSession: true)
        let lines = out.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(lines.count == 2)
        #expect(lines.last?.first == lines.first?.first, "\(out)")   // its own session: sid == pid
        #expect(lines.last?.last == "?", "\(out)")
    }
}

import Foundation
import Glibc
import NetCore

/// A program under test started for real, its stdout and stderr captured line by line. Killed (SIGKILL)
/// when the test drops it, so a failing test never leaves a process behind.
public final class RunningProgram: @unchecked Sendable {
    public let pid: pid_t
    private let outFD: Int32
    private var pending: [UInt8] = []
    public private(set) var lines: [String] = []
    private var exitStatus: Spawn.Exit?
    private let lock = NSLock()

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Starts `program` (a name in the build folder, or a path) with `arguments`.
    public init(_ program: String, _ arguments: [String], environment: [String: String] = [:],
                extraDescriptors: [(Int32, Int32)] = [], workingDirectory: String? = nil) throws {
        let path = program.hasPrefix("/") ? program : Binaries.path(program)
        let (readEnd, writeEnd) = try Posix.pipe(nonBlocking: false)
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LISTEN_") }
        for (k, v) in environment { env[k] = v }
        var request = Spawn.Request(path: path, arguments: arguments,
                                    environment: env.map { "\($0.key)=\($0.value)" }, workingDirectory: workingDirectory,
                                    descriptors: [(0, 0), (writeEnd, 1), (writeEnd, 2)] + extraDescriptors)
        request.deathSignal = SIGKILL
        do {
            pid = try Spawn.start(request)
        } catch {
            Posix.close(readEnd)
            Posix.close(writeEnd)
            throw StartError(description: "cannot start \(path): \(error)")
        }
        Posix.close(writeEnd)
        outFD = readEnd
        try? Posix.setNonBlocking(readEnd, true)
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        Posix.close(outFD)
    }

    /// Reads whatever output is available, waiting up to `timeout` seconds for some.
    @discardableResult
    public func pump(timeout: Double) -> Bool {
        var p = pollfd(fd: outFD, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(timeout * 1000)) > 0 else { return false }
        var buf = [UInt8](repeating: 0, count: 65536)
        var got = false
        while true {
            let n = read(outFD, &buf, buf.count)
            if n <= 0 { break }
            got = true
            pending.append(contentsOf: buf[0..<n])
        }
        while let nl = pending.firstIndex(of: 0x0A) {
            lock.lock()
            lines.append(String(decoding: pending[..<nl], as: UTF8.self))
            lock.unlock()
            pending.removeSubrange(...nl)
        }
        return got
    }

    /// Waits until a line satisfies `match`, returning it; nil after `timeout` seconds or at exit.
    public func waitForLine(timeout: Double = 10, where match: (String) -> Bool) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        var checked = 0
        while true {
            while checked < lines.count {
                if match(lines[checked]) { return lines[checked] }
                checked += 1
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return nil }
            if !pump(timeout: min(left, 0.2)) && hasExited() {
                pump(timeout: 0)
                while checked < lines.count {
                    if match(lines[checked]) { return lines[checked] }
                    checked += 1
                }
                return nil
            }
        }
    }

    /// Every line printed so far (after draining what is available now).
    public func output() -> [String] {
        while pump(timeout: 0.05) {}
        return lines
    }

    public func signal(_ sig: Int32) { kill(pid, sig) }

    public func hasExited() -> Bool {
        if exitStatus != nil { return true }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            exitStatus = Spawn.Exit(status: status)
            return true
        }
        return false
    }

    /// Waits for the program to end; nil if it is still running after `timeout` seconds.
    public func waitForExit(timeout: Double) -> Spawn.Exit? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if hasExited() { return exitStatus }
            pump(timeout: 0.02)
        }
        return hasExited() ? exitStatus : nil
    }
}

/// A backend started on a free port, with the port read back from its startup line.
public final class BackendProcess: @unchecked Sendable {
    public let program: RunningProgram
    public let port: UInt16

    public init(root: String = Binaries.www, arguments: [String] = [], environment: [String: String] = [:],
                extraDescriptors: [(Int32, Int32)] = [], port: UInt16 = 0) throws {
        program = try RunningProgram("backend", ["--port", String(port), "--root", root, "--host", "127.0.0.1"] + arguments,
                                     environment: environment, extraDescriptors: extraDescriptors)
        guard let line = program.waitForLine(where: { $0.hasPrefix("backend: serving") }) else {
            throw RunningProgram.StartError(description: "backend did not start: \(program.output().joined(separator: "\n"))")
        }
        guard let range = line.range(of: #":(\d+) \("#, options: .regularExpression),
              let p = UInt16(line[range].dropFirst().dropLast(2)) else {
            throw RunningProgram.StartError(description: "no port in '\(line)'")
        }
        self.port = p
    }

    public var address: SocketAddress { .loopback(port: port) }

    public func client(timeout: Double = 5) throws -> HTTPTestClient {
        try HTTPTestClient(port: port, timeout: timeout)
    }
}

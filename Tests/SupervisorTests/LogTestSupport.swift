import Foundation
import Glibc
import NetCore
@testable import Supervisor

/// Runs an event loop on its own thread for the duration of a test (as in NetCoreTests' `LoopThread`),
/// and runs closures on it synchronously, so a test can drive loop-confined objects.
final class LogLoop: @unchecked Sendable {
    let loop: EventLoop
    private var thread: OSThread?
    /// The merger under test; created and used on the loop thread only.
    var merger: LogMerger!

    init() throws {
        loop = try EventLoop(name: "log-test")
        let loop = self.loop
        thread = OSThread.start(name: "log-test-loop") { loop.run() }
    }

    /// Stops the loop after closing the merger (its pipes and file), so nothing outlives the test.
    func stop() {
        sync { self.merger?.close(); self.merger = nil }
        loop.stop()
        thread?.join()
    }

    /// Runs `body` on the loop thread and returns its result; a loop that does not answer in 30 s is a bug.
    @discardableResult
    func sync<R>(_ body: @escaping () -> R) -> R {
        let box = LogUnchecked<(body: () -> R, result: R?)>((body, nil))
        let done = DispatchSemaphore(value: 0)
        loop.execute {
            box.value.result = box.value.body()
            done.signal()
        }
        precondition(done.wait(timeout: .now() + 30) == .success, "the event loop did not answer")
        return box.value.result!
    }

    /// Creates the merger on the loop thread.
    func startMerger(terminalFD: Int32, color: Bool = false, filePath: String?, maxFileBytes: Int = 10 << 20,
                     keepFiles: Int = 3, terminalBufferBytes: Int = 4 << 20) {
        sync {
            self.merger = LogMerger(loop: self.loop, terminalFD: terminalFD, color: color, filePath: filePath,
                                    maxFileBytes: maxFileBytes, keepFiles: keepFiles,
                                    terminalBufferBytes: terminalBufferBytes)
        }
    }

    /// CPU seconds the loop thread has used so far: the merger's own cost, apart from the children's.
    func loopCPUSeconds() -> Double {
        sync {
            var ts = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        }
    }

    /// Polls `condition` on the loop until it holds or `timeout` seconds pass.
    func wait(timeout: Double = 20, until condition: @escaping (LogMerger) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if sync({ condition(self.merger) }) { return true }
            usleep(2000)
        }
        return false
    }
}

final class LogUnchecked<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// A fresh folder under /tmp for one test's log files, removed by `remove()`.
struct LogTempFolder {
    let path: String

    init() {
        var template = Array("/tmp/logmerger-test-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// File, pipe and process helpers for the log tests, in a namespace so they cannot clash with other
/// helpers in this test target.
enum LogIO {
    /// A pipe for a fake child: the read end non-blocking (handed to the merger), the write end blocking.
    static func logPipe() throws -> (read: Int32, write: Int32) {
        let p = try Posix.pipe(nonBlocking: false)
        try Posix.setNonBlocking(p.read)
        return p
    }

    static func writeAll(_ fd: Int32, _ text: String) {
        writeAll(fd, Array(text.utf8))
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { try? Posix.writeAll(fd, $0) }
    }

    /// Everything readable from a non-blocking descriptor right now.
    static func readAvailable(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        return out
    }

    static func fileBytes(_ path: String) -> [UInt8] {
        (FileManager.default.contents(atPath: path).map { [UInt8]($0) }) ?? []
    }

    /// A file's lines, split on "\n" (the last, empty piece after the final "\n" left out).
    static func fileLines(_ path: String) -> [String] {
        splitLines(fileBytes(path))
    }

    static func splitLines(_ bytes: [UInt8]) -> [String] {
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// True when `line` starts with a `HH:MM:SS.mmm ` stamp.
    static func hasStamp(_ line: String) -> Bool {
        let b = Array(line.utf8)
        guard b.count >= 13 else { return false }
        let digits = [0, 1, 3, 4, 6, 7, 9, 10, 11]
        return digits.allSatisfy { b[$0] >= 48 && b[$0] <= 57 } && b[2] == 58 && b[5] == 58 && b[8] == 46 && b[12] == 32
    }

    /// The line without its stamp.
    static func unstamped(_ line: String) -> String { String(line.dropFirst(13)) }

    /// Starts `/bin/sh -c script` with its stdout on a new pipe; returns the pid and the pipe's non-blocking
    /// read end (for the merger).
    static func spawnLogger(script: String) throws -> (pid: pid_t, read: Int32) {
        let p = try logPipe()
        let devnull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { Posix.close(devnull); Posix.close(p.write) }
        var request = Spawn.Request(path: "/bin/sh", arguments: ["-c", script], environment: ["PATH=/usr/bin:/bin"],
                                    descriptors: [(devnull, 0), (p.write, 1), (devnull, 2)])
        request.deathSignal = 0  // the spawning test thread may end before the child; let it finish on its own
        let pid = try Spawn.start(request)
        return (pid, p.read)
    }

    /// A pseudo-terminal pair, for a descriptor that is a TTY. posix_openpt and friends need _XOPEN_SOURCE,
    /// which the Glibc module does not define, so they are looked up at run time.
    static func openPseudoTerminal() -> (master: Int32, fd: Int32)? {
        typealias IntOfInt = @convention(c) (Int32) -> Int32
        typealias Name = @convention(c) (Int32) -> UnsafeMutablePointer<CChar>?
        guard let me = dlopen(nil, RTLD_NOW),
              let openpt = dlsym(me, "posix_openpt"), let grant = dlsym(me, "grantpt"),
              let unlock = dlsym(me, "unlockpt"), let name = dlsym(me, "ptsname") else { return nil }
        let master = unsafeBitCast(openpt, to: IntOfInt.self)(O_RDWR | O_NOCTTY)
        guard master >= 0 else { return nil }
        guard unsafeBitCast(grant, to: IntOfInt.self)(master) == 0, unsafeBitCast(unlock, to: IntOfInt.self)(master) == 0,
              let path = unsafeBitCast(name, to: Name.self)(master) else {
            Posix.close(master)
            return nil
        }
        let fd = open(path, O_RDWR | O_NOCTTY)
        guard fd >= 0 else { Posix.close(master); return nil }
        return (master, fd)
    }

    /// True when `bytes` ends with `suffix`.
    static func endsWith(_ bytes: [UInt8], _ suffix: [UInt8]) -> Bool {
        bytes.count >= suffix.count && Array(bytes[(bytes.count - suffix.count)...]) == suffix
    }
}

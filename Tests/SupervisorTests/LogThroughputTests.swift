import Foundation
import Glibc
import NetCore
import Testing
@testable import Supervisor

/// Five children logging flat out into one merger (file plus /dev/null as the terminal). Not a timing
/// assertion: it checks that every line arrives exactly once and whole, and prints lines per second.
/// `bench/logmerge.sh` runs it in release with 200,000 lines per child (LOGMERGE_LINES).
@Suite struct LogThroughputTests {
    static let children = 5
    static var linesPerChild: Int {
        ProcessInfo.processInfo.environment["LOGMERGE_LINES"].flatMap(Int.init) ?? 20_000
    }

    /// An 80-byte payload naming its child, so a line glued to another child's line cannot pass.
    static func payload(_ name: String) -> String {
        let text = name + " line with some text of typical length, as a busy access log would write"
        return String((text + String(repeating: ".", count: 80)).prefix(80))
    }

    @Test func fiveChildren_flatOut_everyLineOnceAndWhole() throws {
        let t = try LogLoop()
        let folder = LogTempFolder()
        defer { t.stop(); folder.remove() }
        let log = folder.file("merged.log")
        let devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { Posix.close(devnull) }
        t.startMerger(terminalFD: devnull, filePath: log, maxFileBytes: 1 << 40)
        let perChild = Self.linesPerChild
        let names = (1...Self.children).map { "backend.\($0)" }

        let cpuBefore = t.loopCPUSeconds()
        let started = Date()
        var pids: [pid_t] = []
        for (i, name) in names.enumerated() {
            let child = try LogIO.spawnLogger(script: "yes '\(Self.payload(name))' | head -n \(perChild)")
            pids.append(child.pid)
            t.sync { t.merger.attach(fd: child.read, name: name, colorIndex: i, isStderr: false) }
        }
        #expect(t.wait(timeout: 300) { $0.openSources == 0 })
        t.sync { t.merger.flushAll() }
        let seconds = Date().timeIntervalSince(started)
        let cpu = t.loopCPUSeconds() - cpuBefore
        for pid in pids { var status: Int32 = 0; waitpid(pid, &status, 0) }

        let total = perChild * Self.children
        let (written, dropped) = t.sync { (t.merger.linesWritten, t.merger.linesDropped) }
        print("logmerge: \(Self.children) children × \(perChild) lines = \(total) lines in "
              + String(format: "%.3f s = %.0f lines/s", seconds, Double(total) / seconds)
              + String(format: "; merger thread CPU %.3f s = %.0f lines per CPU-second", cpu, Double(total) / cpu)
              + " (written \(written), dropped for the terminal \(dropped))")
        #expect(written == total)

        let expected = names.map { Array(LinePrefix.fit($0, width: 12).utf8) + Array(" | \(Self.payload($0))\n".utf8) }
        let check = checkLines(path: log, expected: expected)
        print("logmerge: file has \(check.lines) lines, \(check.torn) torn, per child \(check.perSource)")
        #expect(check.lines == total)
        #expect(check.torn == 0)
        #expect(check.perSource == Array(repeating: perChild, count: Self.children))
    }

    /// Counts the lines of a merged file that are exactly a stamp plus one of `expected` (the line after
    /// its stamp), per expected line; `torn` counts every other line. memchr/memcmp keep it quick in debug.
    func checkLines(path: String, expected: [[UInt8]]) -> (lines: Int, torn: Int, perSource: [Int]) {
        let data = FileManager.default.contents(atPath: path) ?? Data()
        var perSource = Array(repeating: 0, count: expected.count)
        var lines = 0, torn = 0
        data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
            var offset = 0
            while offset < raw.count {
                let start = base + offset
                let end = memchr(start, 0x0A, raw.count - offset).map {
                    UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - start + 1
                } ?? (raw.count - offset)
                lines += 1
                let body = start + 13
                let match = expected.firstIndex { e in
                    e.count == end - 13 && e.withUnsafeBytes { memcmp(body, $0.baseAddress!, e.count) == 0 }
                }
                if let match, start[2] == 58, start[5] == 58, start[8] == 46, start[12] == 32 {
                    perSource[match] += 1
                } else {
                    torn += 1
                }
                offset += end
            }
        }
        return (lines, torn, perSource)
    }
}

import Foundation
import Glibc
import NetCore
import Testing
@testable import Supervisor

/// A terminal nobody reads must cost terminal lines, never the children's progress or the file's lines.
@Suite struct LogBackpressureTests {
    @Test func slowTerminal_dropsAndCountsLines_whileChildrenAreDrained() throws {
        let t = try LogLoop()
        let folder = LogTempFolder()
        defer { t.stop(); folder.remove() }
        let log = folder.file("merged.log")
        // A pipe we do not read until the child is done: it fills after 64 KiB.
        let terminal = try Posix.pipe(nonBlocking: false)
        try Posix.setNonBlocking(terminal.read)
        defer { Posix.close(terminal.read); Posix.close(terminal.write) }
        t.startMerger(terminalFD: terminal.write, filePath: log, maxFileBytes: 1 << 30, terminalBufferBytes: 256 << 10)

        // 620,000 lines of 81 bytes: 50 MB from one child, as fast as it can write.
        let lines = 620_000
        let text = "chatty line with some text of typical length so that it is eighty bytes long ok"
        let child = try LogIO.spawnLogger(script: "yes '\(text)' | head -n \(lines)")
        t.sync { t.merger.attach(fd: child.read, name: "chatty", colorIndex: 0, isStderr: false) }
        let started = Date()
        #expect(t.wait(timeout: 120) { $0.openSources == 0 })
        let seconds = Date().timeIntervalSince(started)
        var status: Int32 = 0
        waitpid(child.pid, &status, 0)
        print("slow terminal: 50 MB child finished in \(String(format: "%.2f", seconds)) s")
        #expect(seconds < 60)

        let (written, dropped) = t.sync { (t.merger.linesWritten, t.merger.linesDropped) }
        #expect(written == lines)
        #expect(dropped > 0)
        t.sync { t.merger.flushAll(terminalWaitMillis: 0) }  // the file; the terminal is still full
        let check = LogThroughputTests().checkLines(path: log, expected: [Array("chatty       | \(text)\n".utf8)])
        #expect(check.lines == lines && check.torn == 0)

        // Now read the terminal: it gets the lines it had room for, then one line saying what it missed.
        var shown: [UInt8] = []
        let notice = Array("lines dropped: terminal too slow (all lines are in \(log))\n".utf8)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && !LogIO.endsWith(shown, notice) {
            let chunk = LogIO.readAvailable(terminal.read)
            if chunk.isEmpty { usleep(1000) }
            shown += chunk
        }
        let shownLines = LogIO.splitLines(shown)
        #expect(shownLines.last.map(LogIO.unstamped) == "supervisor   | \(dropped) lines dropped: terminal too slow (all lines are in \(log))")
        #expect(shownLines.count - 1 + dropped == lines)
        #expect(shownLines.dropLast().allSatisfy { LogIO.unstamped($0) == "chatty       | " + text })
    }
}

import Foundation
import Glibc
import NetCore
import Testing
@testable import Supervisor

/// The merger over real pipes and a real event loop: whole lines, in order per source, prefixed.
@Suite struct LogMergerTests {
    @Test func oddPieces_fromSeveralPipes_comeOutWholeInOrderAndPrefixed() throws {
        let t = try LogLoop()
        let folder = LogTempFolder()
        defer { t.stop(); folder.remove() }
        let terminal = try LogIO.logPipe()
        defer { Posix.close(terminal.read); Posix.close(terminal.write) }
        t.startMerger(terminalFD: terminal.write, filePath: folder.file("merged.log"))
        let pipes = try (0..<3).map { _ in try LogIO.logPipe() }
        for (i, p) in pipes.enumerated() {
            t.sync { t.merger.attach(fd: p.read, name: "backend.\(i + 1)", colorIndex: i, isStderr: false) }
        }
        // Interleave the three writers piece by piece: half lines, several lines per write, a CRLF, and a
        // final line with no "\n".
        let pieces = ["one: al", "pha\none: beta\none: gam", "ma\r\none: del", "ta\n", "one: last without newline"]
        for piece in pieces {
            for (i, p) in pipes.enumerated() { LogIO.writeAll(p.write, piece.replacingOccurrences(of: "one", with: "src\(i + 1)")) }
            usleep(3000)  // let the loop read the partial lines on their own
        }
        for p in pipes { Posix.close(p.write) }
        #expect(t.wait { $0.openSources == 0 })
        t.sync { t.merger.flushAll() }

        let lines = LogIO.fileLines(folder.file("merged.log"))
        #expect(lines.count == 15)
        #expect(lines.allSatisfy(LogIO.hasStamp))
        for i in 1...3 {
            let mine = lines.map(LogIO.unstamped).filter { $0.hasPrefix("backend.\(i)    | ") }
            #expect(mine == ["alpha", "beta", "gamma", "delta", "last without newline"].map {
                "backend.\(i)    | src\(i): \($0)"
            })
        }
        #expect(t.sync { t.merger.linesWritten } == 15)
        // The terminal got the same lines (no colour asked for).
        #expect(LogIO.splitLines(LogIO.readAvailable(terminal.read)) == lines)
    }

    @Test func stderrLines_useTheBangSeparator() throws {
        let t = try LogLoop()
        let folder = LogTempFolder()
        defer { t.stop(); folder.remove() }
        t.startMerger(terminalFD: -1, filePath: folder.file("merged.log"))
        let out = try LogIO.logPipe(), err = try LogIO.logPipe()
        t.sync {
            t.merger.attach(fd: out.read, name: "balancer", colorIndex: 0, isStderr: false)
            t.merger.attach(fd: err.read, name: "balancer", colorIndex: 0, isStderr: true)
        }
        LogIO.writeAll(out.write, "to stdout\n")
        Posix.close(out.write)
        #expect(t.wait { $0.openSources == 1 })
        LogIO.writeAll(err.write, "to stderr\n")
        Posix.close(err.write)
        #expect(t.wait { $0.openSources == 0 })
        t.sync { t.merger.flushAll() }
        #expect(LogIO.fileLines(folder.file("merged.log")).map(LogIO.unstamped) == ["balancer     | to stdout", "balancer     ! to stderr"])
    }

    @Test func colour_onlyOnTheTerminalWhenAsked_neverInTheFile() throws {
        for color in [true, false] {
            let t = try LogLoop()
            let folder = LogTempFolder()
            defer { t.stop(); folder.remove() }
            let terminal = try LogIO.logPipe()
            defer { Posix.close(terminal.read); Posix.close(terminal.write) }
            t.startMerger(terminalFD: terminal.write, color: color, filePath: folder.file("merged.log"))
            let p = try LogIO.logPipe()
            t.sync {
                t.merger.attach(fd: p.read, name: "backend.2", colorIndex: 1, isStderr: false)
                t.merger.event("backend.2 started")
            }
            LogIO.writeAll(p.write, "hello\n")
            Posix.close(p.write)
            #expect(t.wait { $0.openSources == 0 })
            t.sync { t.merger.flushAll() }
            let shown = LogIO.splitLines(LogIO.readAvailable(terminal.read)).map(LogIO.unstamped)
            let file = LogIO.fileLines(folder.file("merged.log")).map(LogIO.unstamped)
            #expect(file == ["supervisor   | backend.2 started", "backend.2    | hello"])
            if color {
                #expect(shown == ["\u{1B}[1msupervisor  \u{1B}[0m | backend.2 started",
                                  "\u{1B}[33mbackend.2   \u{1B}[0m | hello"])
            } else {
                #expect(shown == file)
            }
            #expect(!LogIO.fileBytes(folder.file("merged.log")).contains(0x1B))
        }
    }

    @Test func line100KiB_comesOutInBoundedPieces() throws {
        let t = try LogLoop()
        let folder = LogTempFolder()
        defer { t.stop(); folder.remove() }
        t.startMerger(terminalFD: -1, filePath: folder.file("merged.log"))
        let p = try LogIO.logPipe()
        t.sync { t.merger.attach(fd: p.read, name: "big", colorIndex: 0, isStderr: false) }
        let payload = (0..<102_400).map { i -> UInt8 in UInt8(97 + i % 26) }
        LogIO.writeAll(p.write, payload + [0x0A] + Array("after\n".utf8))
        Posix.close(p.write)
        #expect(t.wait { $0.openSources == 0 })
        t.sync { t.merger.flushAll() }

        let lines = LogIO.fileLines(folder.file("merged.log")).map(LogIO.unstamped)
        #expect(lines.count == 8)  // 6 pieces of 16 KiB, the 4 KiB rest, "after"
        let prefix = "big          | "
        var joined: [UInt8] = []
        for (i, line) in lines.prefix(7).enumerated() {
            #expect(line.hasPrefix(prefix))
            var body = Array(line.utf8.dropFirst(prefix.utf8.count))
            if i < 6 {
                #expect(line.hasSuffix(" …"))
                body.removeLast(" …".utf8.count)
                #expect(body.count == 16 * 1024)
            }
            joined += body
        }
        #expect(joined == payload)
        #expect(lines.last == prefix + "after")
    }

    @Test func invalidUTF8_passesThroughUnchanged() throws {
        let t = try LogLoop()
        let folder = LogTempFolder()
        defer { t.stop(); folder.remove() }
        t.startMerger(terminalFD: -1, filePath: folder.file("merged.log"))
        let p = try LogIO.logPipe()
        t.sync { t.merger.attach(fd: p.read, name: "raw", colorIndex: 0, isStderr: false) }
        let odd: [UInt8] = [0xFF, 0xC3, 0x28, 0x00, 0xE2, 0x82]
        LogIO.writeAll(p.write, odd + [0x0A])
        Posix.close(p.write)
        #expect(t.wait { $0.openSources == 0 })
        t.sync { t.merger.flushAll() }
        let bytes = LogIO.fileBytes(folder.file("merged.log"))
        #expect(Array(bytes.dropFirst(13)) == Array("raw          | ".utf8) + odd + [0x0A])
    }

    @Test func events_areSupervisorLines_oneLinePerTextLine() throws {
        let t = try LogLoop()
        let folder = LogTempFolder()
        defer { t.stop(); folder.remove() }
        t.startMerger(terminalFD: -1, filePath: folder.file("merged.log"))
        t.sync {
            t.merger.event("backend.3 exited with code 1")
            t.merger.event("restarting in 400 ms\nscaled to 3")
            t.merger.flushAll()
        }
        #expect(LogIO.fileLines(folder.file("merged.log")).map(LogIO.unstamped) == [
            "supervisor   | backend.3 exited with code 1",
            "supervisor   | restarting in 400 ms",
            "supervisor   | scaled to 3",
        ])
    }

    @Test func subscribers_getEveryPlainLine_untilTheyRefuse() throws {
        let t = try LogLoop()
        defer { t.stop() }
        t.startMerger(terminalFD: -1, color: true, filePath: nil)
        let seen = LogUnchecked<[String]>([])
        let second = LogUnchecked<[String]>([])
        t.sync {
            _ = t.merger.subscribe { line in
                seen.value.append(String(decoding: line, as: UTF8.self))
                return true
            }
            _ = t.merger.subscribe { line in
                second.value.append(String(decoding: line, as: UTF8.self))
                return second.value.count < 2  // leaves after its second line
            }
            for i in 1...3 { t.merger.event("event \(i)") }
        }
        #expect(seen.value.map(LogIO.unstamped) == (1...3).map { "supervisor   | event \($0)\n" })
        #expect(second.value.count == 2)
        #expect(seen.value.allSatisfy { !$0.contains("\u{1B}") })
    }

    @Test func unopenableFile_isReportedAndTheTerminalStillWorks() throws {
        let t = try LogLoop()
        defer { t.stop() }
        let terminal = try LogIO.logPipe()
        defer { Posix.close(terminal.read); Posix.close(terminal.write) }
        t.startMerger(terminalFD: terminal.write, filePath: "/nonexistent-folder/merged.log")
        t.sync { t.merger.event("still here"); t.merger.flushAll() }
        let shown = LogIO.splitLines(LogIO.readAvailable(terminal.read)).map(LogIO.unstamped)
        #expect(shown.count == 2)
        #expect(shown.first?.hasPrefix("supervisor   | cannot open the log file") == true)
        #expect(shown.last == "supervisor   | still here")
    }

    @Test func terminalReaderGone_theFileKeepsEveryLine() throws {
        let t = try LogLoop()
        let folder = LogTempFolder()
        defer { t.stop(); folder.remove() }
        let terminal = try LogIO.logPipe()
        defer { Posix.close(terminal.write) }
        t.startMerger(terminalFD: terminal.write, filePath: folder.file("merged.log"))
        Posix.close(terminal.read)  // writes now fail with EPIPE (SIGPIPE must not kill us)
        let p = try LogIO.logPipe()
        t.sync { t.merger.attach(fd: p.read, name: "backend.1", colorIndex: 0, isStderr: false) }
        for i in 1...1000 { LogIO.writeAll(p.write, "line \(i)\n") }
        Posix.close(p.write)
        #expect(t.wait { $0.openSources == 0 })
        t.sync { t.merger.flushAll() }
        #expect(LogIO.fileLines(folder.file("merged.log")).count == 1000)
        #expect(t.sync { t.merger.linesDropped } == 0)  // a terminal that is gone is not a slow one
    }

    @Test func shouldColor_needsATerminalAndNoNOCOLOR() throws {
        let p = try LogIO.logPipe()
        defer { Posix.close(p.read); Posix.close(p.write) }
        #expect(!LogMerger.shouldColor(fd: p.write, environment: [:]))

        let slave = try #require(LogIO.openPseudoTerminal())
        defer { Posix.close(slave.master); Posix.close(slave.fd) }
        #expect(LogMerger.shouldColor(fd: slave.fd, environment: ["TERM": "xterm"]))
        #expect(!LogMerger.shouldColor(fd: slave.fd, environment: ["NO_COLOR": "1"]))
        #expect(!LogMerger.shouldColor(fd: slave.fd, environment: ["NO_COLOR": ""]))
    }
}

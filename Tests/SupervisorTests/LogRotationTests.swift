import Foundation
import Glibc
import NetCore
import Testing
@testable import Supervisor

/// The log file rotates past its size limit at line boundaries and keeps the configured number of files.
@Suite struct LogRotationTests {
    @Test func pastTheLimit_rotatesAndKeepsNFiles_eachWithWholeLines() throws {
        let t = try LogLoop()
        let folder = LogTempFolder()
        defer { t.stop(); folder.remove() }
        let log = folder.file("merged.log")
        t.startMerger(terminalFD: -1, filePath: log, maxFileBytes: 4000, keepFiles: 2)
        let p = try LogIO.logPipe()
        t.sync { t.merger.attach(fd: p.read, name: "backend.1", colorIndex: 0, isStderr: false) }
        // 400 lines of 42 bytes ≈ 17 KB: four rotations, so the oldest files must have been let go.
        for i in 1...400 {
            LogIO.writeAll(p.write, "line \(String(i).padding(toLength: 5, withPad: " ", startingAt: 0))\n")
            if i % 50 == 0 { usleep(2000) }
        }
        Posix.close(p.write)
        #expect(t.wait { $0.openSources == 0 })
        t.sync { t.merger.flushAll() }

        let files = [log + ".2", log + ".1", log]
        #expect(files.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        #expect(!FileManager.default.fileExists(atPath: log + ".3"))
        for file in files {
            let bytes = LogIO.fileBytes(file)
            #expect(bytes.count <= 4000)
            #expect(bytes.last == 0x0A)
        }
        // Oldest to newest, the kept files hold a contiguous run of lines that ends with the last one.
        let numbers = files.flatMap(LogIO.fileLines).map { line -> Int in
            #expect(LogIO.unstamped(line).hasPrefix("backend.1    | line "))
            return Int(line.split(separator: " ").last!)!
        }
        #expect(numbers.last == 400)
        #expect(numbers == Array((400 - numbers.count + 1)...400))
        #expect(numbers.count > 150)  // at least the two full rotated files
    }

    @Test func keepZero_startsTheFileOver() throws {
        let t = try LogLoop()
        let folder = LogTempFolder()
        defer { t.stop(); folder.remove() }
        let log = folder.file("merged.log")
        t.startMerger(terminalFD: -1, filePath: log, maxFileBytes: 1000, keepFiles: 0)
        t.sync {
            for i in 1...100 { t.merger.event("event \(i)") }
            t.merger.flushAll()
        }
        #expect(!FileManager.default.fileExists(atPath: log + ".1"))
        #expect(LogIO.fileBytes(log).count <= 1000)
        #expect(LogIO.fileLines(log).last.map(LogIO.unstamped) == "supervisor   | event 100")
    }
}

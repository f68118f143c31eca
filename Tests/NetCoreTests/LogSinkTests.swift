import Foundation
import Glibc
import Testing
@testable import NetCore

@Suite struct LogSinkTests {
    @Test func linesFromManyThreadsIntoOnePipe_neverTearOrGlue() throws {
        let (rd, wr) = try Posix.pipe(nonBlocking: false)
        let threads = (0..<4).map { t in
            OSThread.start(name: "logger") {
                let sink = LogSink(fd: wr)
                for i in 0..<5000 {
                    sink.buffer.append("thread=\(t) line=\(i) " + String(repeating: "x", count: (i * 37) % 300) + "\n")
                    sink.lineDone()
                    if i % 50 == 0 { sink.flush() }
                }
                sink.flush()
            }
        }
        var data: [UInt8] = []
        // Read on this thread while the writers run; close the write end once they are done.
        let closer = OSThread.start(name: "closer") {
            for th in threads { th.join() }
            Posix.close(wr)
        }
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(rd, &buf, buf.count)
            if n <= 0 { break }
            data += buf[0..<n]
        }
        closer.join()
        Posix.close(rd)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 20_000)
        var next = [Int](repeating: 0, count: 4)
        for line in lines {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let t = Int(parts[0].dropFirst(7)), let i = Int(parts[1].dropFirst(5)) else {
                Issue.record("torn line: \(line.prefix(80))")
                continue
            }
            #expect(i == next[t], "thread \(t) out of order")
            next[t] = i + 1
            let xs = parts.count > 2 ? parts[2].count : 0
            #expect(xs == (i * 37) % 300, "line \(i) of thread \(t) damaged")
        }
    }
}

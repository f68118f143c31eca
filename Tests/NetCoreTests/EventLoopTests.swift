import Foundation
import Glibc
import Synchronization
import Testing
@testable import NetCore

/// Runs a loop on its own thread for the duration of a test.
final class LoopThread: @unchecked Sendable {
    let loop: EventLoop
    private var thread: OSThread?

    init(busyPollLimit: UInt64 = 0) throws {
        loop = try EventLoop(name: "test")
        loop.busyPollLimit = busyPollLimit
        let loop = self.loop
        thread = OSThread.start(name: "test-loop") { loop.run() }
    }

    func stop() {
        loop.stop()
        thread?.join()
    }
}

final class Recorder: @unchecked Sendable {
    private let lock = Mutex<[String]>([])
    func add(_ s: String) { lock.withLock { $0.append(s) } }
    var events: [String] { lock.withLock { $0 } }

    func wait(for count: Int, timeout: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if events.count >= count { return true }
            usleep(1000)
        }
        return false
    }
}

@Suite struct EventLoopTests {
    @Test func scheduledTasks_fireInDeadlineOrder() throws {
        let t = try LoopThread()
        defer { t.stop() }
        let r = Recorder()
        t.loop.execute {
            t.loop.schedule(after: 60 * Clock.nanosPerMilli) { r.add("c") }
            t.loop.schedule(after: 20 * Clock.nanosPerMilli) { r.add("a") }
            t.loop.schedule(after: 40 * Clock.nanosPerMilli) { r.add("b") }
        }
        #expect(r.wait(for: 3))
        #expect(r.events == ["a", "b", "c"])
    }

    @Test func cancelledTask_neverRuns() throws {
        let t = try LoopThread()
        defer { t.stop() }
        let r = Recorder()
        t.loop.execute {
            let task = t.loop.schedule(after: 20 * Clock.nanosPerMilli) { r.add("cancelled") }
            t.loop.schedule(after: 60 * Clock.nanosPerMilli) { r.add("kept") }
            task.cancel()
        }
        #expect(r.wait(for: 1))
        usleep(50_000)
        #expect(r.events == ["kept"])
    }

    @Test func movedDeadline_firesAtTheNewTimeOnly() throws {
        final class Target: TimerTarget, @unchecked Sendable {
            let r: Recorder
            let start: UInt64
            init(_ r: Recorder, _ start: UInt64) { self.r = r; self.start = start }
            override func timerFired(now: UInt64) { r.add("fired after \((now - start) / Clock.nanosPerMilli)ms") }
        }
        let t = try LoopThread()
        defer { t.stop() }
        let r = Recorder()
        t.loop.execute {
            let target = Target(r, t.loop.now)
            t.loop.setDeadline(target, t.loop.now + 30 * Clock.nanosPerMilli)
            t.loop.setDeadline(target, t.loop.now + 120 * Clock.nanosPerMilli)   // later: a field write
        }
        #expect(r.wait(for: 1))
        let ms = Int(r.events[0].split(separator: " ")[2].dropLast(2)) ?? 0
        #expect(ms >= 115)
        usleep(50_000)
        #expect(r.events.count == 1)
    }

    @Test func repeatingTask_runsUntilCancelled() throws {
        let t = try LoopThread()
        defer { t.stop() }
        let r = Recorder()
        nonisolated(unsafe) var handle: ScheduledTask?
        t.loop.execute {
            handle = t.loop.repeating(every: 10 * Clock.nanosPerMilli) {
                r.add("tick")
                if r.events.count == 3 { handle?.cancel() }
            }
        }
        #expect(r.wait(for: 3))
        usleep(60_000)
        #expect(r.events.count == 3)
    }

    @Test func execute_fromManyThreads_runsEveryTaskOnTheLoop() throws {
        let t = try LoopThread()
        defer { t.stop() }
        let counter = Atomic<Int>(0)
        let wrongThread = Atomic<Int>(0)
        let threads = (0..<4).map { _ in
            OSThread.start(name: "poster") {
                for _ in 0..<1000 {
                    t.loop.execute {
                        if !t.loop.inLoop { wrongThread.add(1, ordering: .relaxed) }
                        counter.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        for th in threads { th.join() }
        let deadline = Date().addingTimeInterval(5)
        while counter.load(ordering: .relaxed) < 4000 && Date() < deadline { usleep(1000) }
        #expect(counter.load(ordering: .relaxed) == 4000)
        #expect(wrongThread.load(ordering: .relaxed) == 0)
    }

    @Test func readiness_isDeliveredToTheRegisteredHandler() throws {
        final class PipeReader: FDHandler, @unchecked Sendable {
            let r: Recorder
            init(fd: Int32, r: Recorder) { self.r = r; super.init(fd: fd) }
            override func handleEvent(_ events: UInt32) {
                var buf = [UInt8](repeating: 0, count: 64)
                let n = read(fd, &buf, 64)
                if n > 0 { r.add(String(decoding: buf[0..<n], as: UTF8.self)) }
            }
        }
        let (rd, wr) = try Posix.pipe(nonBlocking: true)
        defer { Posix.close(rd); Posix.close(wr) }
        let t = try LoopThread()
        defer { t.stop() }
        let r = Recorder()
        t.loop.execute { try? t.loop.register(PipeReader(fd: rd, r: r), events: Events.readable) }
        usleep(20_000)
        _ = write(wr, "ping", 4)
        #expect(r.wait(for: 1))
        #expect(r.events == ["ping"])
    }
}

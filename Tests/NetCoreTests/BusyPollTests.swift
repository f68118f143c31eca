import Foundation
import Glibc
import Synchronization
import Testing
@testable import NetCore

@Suite struct BusyPollTests {
    @Test func window_growsWhileEventsComeSoon_andStopsWhenSleepsAreLong() {
        var w = PollWindow(limit: 50_000)
        #expect(w.current == 0)
        w.update(afterSleeping: 10_000)
        #expect(w.current == 12_500)
        for _ in 0..<5 { w.update(afterSleeping: 10_000) }
        #expect(w.current == 50_000)
        var longSleeps = 0
        while w.current > 0 && longSleeps < 10 {
            w.update(afterSleeping: 2_000_000)
            longSleeps += 1
        }
        #expect(w.current == 0)
        #expect(longSleeps <= 4)

        var off = PollWindow(limit: 0)
        off.update(afterSleeping: 0)
        #expect(off.current == 0)
    }

    /// What the loop thread has used and how often it slept, read on the loop itself.
    private static func loopThreadUsage(_ loop: EventLoop) -> (cpuNanos: UInt64, sleeps: Int) {
        let result = Mutex<(UInt64, Int)?>(nil)
        loop.execute {
            var ts = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
            let cpu = UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
            let status = (try? String(contentsOfFile: "/proc/thread-self/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("voluntary_ctxt_switches") }
            let sleeps = Int(line?.split(separator: "\t").last ?? "") ?? -1
            result.withLock { $0 = (cpu, sleeps) }
        }
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if let r = result.withLock({ $0 }) { return r }
            usleep(500)
        }
        return (0, -1)
    }

    /// Posts `count` tasks, `gapMicros` apart, and waits until the loop has run them all.
    private static func post(_ count: Int, gapMicros: UInt32, to loop: EventLoop) -> Bool {
        let done = Atomic<Int>(0)
        for _ in 0..<count {
            loop.execute { done.add(1, ordering: .relaxed) }
            usleep(gapMicros)
        }
        let deadline = Date().addingTimeInterval(5)
        while done.load(ordering: .relaxed) < count && Date() < deadline { usleep(500) }
        return done.load(ordering: .relaxed) == count
    }

    @Test func busyLoop_catchesCloseEventsAwake_whereASleepingLoopWakesForEach() throws {
        func sleepsWhileBusy(limit: UInt64) throws -> Int {
            let t = try LoopThread(busyPollLimit: limit)
            defer { t.stop() }
            let before = Self.loopThreadUsage(t.loop)
            #expect(Self.post(1500, gapMicros: 20, to: t.loop))
            let after = Self.loopThreadUsage(t.loop)
            return after.sleeps - before.sleeps
        }
        let sleeping = try sleepsWhileBusy(limit: 0)
        let polling = try sleepsWhileBusy(limit: 1_000_000)
        #expect(sleeping > 500, "a loop without polling sleeps between tasks posted ~0.1 ms apart")
        #expect(polling * 4 < sleeping, "polling up to 1 ms: \(polling) sleeps, without: \(sleeping)")
    }

    @Test func pollingLoop_sleepsAtOnce_whenEventsAreFarApart() throws {
        // Polling up to 1 ms before every sleep would burn a third of a core at one event per 3 ms.
        let t = try LoopThread(busyPollLimit: 1_000_000)
        defer { t.stop() }
        let before = Self.loopThreadUsage(t.loop)
        #expect(Self.post(200, gapMicros: 3_000, to: t.loop))
        let after = Self.loopThreadUsage(t.loop)
        let usedMillis = Double(after.cpuNanos - before.cpuNanos) / 1e6
        #expect(usedMillis < 60, "loop thread used \(usedMillis) ms of CPU over ~600 ms")
    }

    @Test func pollingLoop_firesTimersOnTime() throws {
        let t = try LoopThread(busyPollLimit: 1_000_000)
        defer { t.stop() }
        let firedAfter = Atomic<Int>(-1)
        let start = Clock.monotonicNanos()
        t.loop.execute {
            t.loop.schedule(after: 20 * Clock.nanosPerMilli) {
                firedAfter.store(Int((Clock.monotonicNanos() - start) / Clock.nanosPerMilli), ordering: .relaxed)
            }
        }
        // Events keep the window open while the timer comes due.
        #expect(Self.post(1000, gapMicros: 50, to: t.loop))
        let deadline = Date().addingTimeInterval(5)
        while firedAfter.load(ordering: .relaxed) < 0 && Date() < deadline { usleep(1000) }
        let ms = firedAfter.load(ordering: .relaxed)
        #expect(ms >= 20 && ms < 200, "fired after \(ms) ms")
    }
}

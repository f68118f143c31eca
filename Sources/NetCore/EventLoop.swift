import CLinux
import Glibc
import Synchronization

/// One epoll loop, run by one thread. Everything registered with it is touched only from that thread;
/// other threads reach it through `execute`, which queues a task and wakes the loop with an eventfd.
public final class EventLoop: @unchecked Sendable {
    public let name: String
    private let epfd: Int32
    private var handlers: [FDHandler?] = []
    private var timers = TimerHeap()
    private var events: UnsafeMutablePointer<cl_epoll_event>
    private let maxEvents = 256
    private let wakeup: Wakeup
    private let tasks = Mutex<[@Sendable () -> Void]>([])
    private var running = false
    private var thread: pthread_t?
    private var afterBatch: [() -> Void] = []
    private var onWakeHooks: [() -> Void] = []
    private var pollWindow = PollWindow(limit: 0)

    /// Up to how many nanoseconds the loop keeps polling for events before it sleeps, adapted to the
    /// load (see `PollWindow`); 0 (the default) sleeps at once. Set before `run()`.
    public var busyPollLimit: UInt64 {
        get { pollWindow.limit }
        set { pollWindow = PollWindow(limit: newValue) }
    }

    /// Monotonic nanoseconds, read once per wake-up; good enough for timeouts and log durations.
    public private(set) var now: UInt64 = Clock.monotonicNanos()

    public init(name: String = "loop") throws(SystemError) {
        self.name = name
        epfd = cl_epoll_create()
        if epfd < 0 { throw .last("epoll_create1") }
        events = .allocate(capacity: maxEvents)
        let efd = cl_eventfd(0)
        if efd < 0 { throw .last("eventfd") }
        wakeup = Wakeup(fd: efd)
        try register(wakeup, events: Events.readable)
    }

    deinit {
        events.deallocate()
        Posix.close(wakeup.fd)
        Posix.close(epfd)
    }

    /// True when called from the thread running this loop.
    public var inLoop: Bool {
        guard let thread else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    // MARK: registration

    public func register(_ h: FDHandler, events: UInt32) throws(SystemError) {
        let fd = Int(h.fd)
        if fd >= handlers.count { handlers.append(contentsOf: repeatElement(nil, count: max(fd + 1 - handlers.count, 64))) }
        h.generation &+= 1
        if cl_epoll_ctl(epfd, CL_EPOLL_CTL_ADD, h.fd, events, Self.key(h)) != 0 { throw .last("epoll_ctl(ADD)") }
        handlers[fd] = h
        h.registered = true
        h.interest = events
    }

    /// Sets the events a handler waits for, registering it on first use; a no-op when they are already
    /// those. False only when a first registration fails (the caller should close).
    @inline(__always)
    @discardableResult
    public func setInterest(_ h: FDHandler, events: UInt32) -> Bool {
        guard h.registered else {
            do { try register(h, events: events) } catch { return false }
            return true
        }
        if h.interest == events { return true }
        h.interest = events
        _ = cl_epoll_ctl(epfd, CL_EPOLL_CTL_MOD, h.fd, events, Self.key(h))
        return true
    }

    @inline(__always)
    public func modify(_ h: FDHandler, events: UInt32) { setInterest(h, events: events) }

    /// Removes a handler and its timer. Call before closing its fd; with `closing`, the epoll entry is
    /// left for close() to remove (one syscall fewer per connection).
    public func deregister(_ h: FDHandler, closing: Bool = false) {
        cancelDeadline(h)
        guard h.registered else { return }
        h.registered = false
        if !closing { _ = cl_epoll_ctl(epfd, CL_EPOLL_CTL_DEL, h.fd, 0, 0) }
        let fd = Int(h.fd)
        if fd < handlers.count, handlers[fd] === h { handlers[fd] = nil }
    }

    @inline(__always)
    private static func key(_ h: FDHandler) -> UInt64 {
        UInt64(h.generation) << 32 | UInt64(UInt32(bitPattern: h.fd))
    }

    // MARK: timers

    /// Asks for `target.timerFired` at `deadline` (monotonic ns). Moving a deadline later is one field
    /// write; the heap entry is only touched when the new deadline is earlier than the queued one.
    @inline(__always)
    public func setDeadline(_ target: TimerTarget, _ deadline: UInt64) {
        target.deadline = deadline
        if target.heapIndex < 0 {
            timers.push(target, at: deadline)
        } else if deadline < target.queuedAt {
            timers.decrease(target, to: deadline)
        }
    }

    public func cancelDeadline(_ target: TimerTarget) {
        target.deadline = 0
        if target.heapIndex >= 0 { timers.remove(target) }
    }

    /// Runs `body` once after `delay` on this loop; returns a handle that can cancel it.
    @discardableResult
    public func schedule(after delay: UInt64, _ body: @escaping () -> Void) -> ScheduledTask {
        let task = ScheduledTask(loop: self, body)
        setDeadline(task, now &+ delay)
        return task
    }

    /// Runs `body` every `interval` on this loop until the handle is cancelled.
    @discardableResult
    public func repeating(every interval: UInt64, _ body: @escaping () -> Void) -> ScheduledTask {
        let task = ScheduledTask(loop: self, body)
        task.interval = interval
        setDeadline(task, now &+ interval)
        return task
    }

    private func runDueTimers() {
        var woke = false
        while let t = timers.popIfDue(now) {
            if t.deadline == 0 { continue }
            if t.deadline > now {
                timers.push(t, at: t.deadline)
                continue
            }
            if !woke {
                woke = true
                runWakeHooks()   // a timer may answer too (408, 504)
            }
            t.deadline = 0
            t.timerFired(now: now)
        }
    }

    // MARK: cross-thread

    /// Queues `task` to run on this loop's thread; safe from any thread.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        tasks.withLock { $0.append(task) }
        wakeup.signal()
    }

    /// Runs `body` each time the loop wakes to events or due timers, before it handles them: a cached
    /// clock refreshed here is current for everything the batch answers, even after a long sleep.
    public func onWake(_ body: @escaping () -> Void) {
        onWakeHooks.append(body)
    }

    @inline(__always)
    private func runWakeHooks() {
        for i in 0..<onWakeHooks.count { onWakeHooks[i]() }
    }

    /// Runs `body` after every batch of events (e.g. flushing buffered log lines once per batch).
    public func onBatchEnd(_ body: @escaping () -> Void) {
        afterBatch.append(body)
    }

    private func runTasks() {
        let pending = tasks.withLock { queue -> [@Sendable () -> Void] in
            if queue.isEmpty { return [] }
            let q = queue
            queue.removeAll(keepingCapacity: true)
            return q
        }
        for task in pending { task() }
    }

    // MARK: running

    /// Runs until `stop()`; call on the thread that owns the loop.
    public func run() {
        thread = pthread_self()
        running = true
        now = Clock.monotonicNanos()
        while running {
            let n = waitForEvents()
            // Not on the empty turns of a busy poll: there is nothing to answer, and they are many.
            if n > 0 {
                runWakeHooks()
                dispatch(Int(n))
            }
            runDueTimers()
            runTasks()
            for i in 0..<afterBatch.count { afterBatch[i]() }
        }
    }

    /// Ready events into `events`, sleeping until one arrives or the earliest timer is due; a loop that
    /// polls before sleeping (`busyPollLimit`) first polls for up to its current window.
    private func waitForEvents() -> Int32 {
        let adapting = pollWindow.limit > 0
        let start = adapting ? Clock.monotonicNanos() : 0
        if pollWindow.current > 0, timers.earliest.map({ $0 > now }) ?? true {
            let until = min(start &+ pollWindow.current, timers.earliest ?? .max)
            repeat {
                let n = cl_epoll_wait(epfd, events, Int32(maxEvents), 0)
                now = Clock.monotonicNanos()
                if n != 0 { return n }
            } while now < until
        }
        let n = sleepForEvents()
        if n > 0 && adapting { pollWindow.update(afterSleeping: now &- start) }
        return n
    }

    private func sleepForEvents() -> Int32 {
        var timeout: Int32 = -1
        if let next = timers.earliest {
            timeout = next <= now ? 0 : Int32(min((next - now + 999_999) / 1_000_000, 60_000))
        }
        let n = cl_epoll_wait(epfd, events, Int32(maxEvents), timeout)
        now = Clock.monotonicNanos()
        return n
    }

    @inline(__always)
    private func dispatch(_ n: Int) {
        for i in 0..<n {
            let ev = events[i]
            let fd = Int(UInt32(truncatingIfNeeded: ev.data))
            let generation = UInt32(truncatingIfNeeded: ev.data >> 32)
            guard fd < handlers.count, let h = handlers[fd], h.generation == generation else { continue }
            h.handleEvent(ev.events)
        }
    }

    /// Stops `run()` after the current batch; safe from any thread.
    public func stop() {
        execute { [unowned self] in self.running = false }
    }
}

/// A closure run by the loop's timer heap (health checks, periodic flushes); not for per-request use.
public final class ScheduledTask: TimerTarget {
    private unowned let loop: EventLoop
    private let body: () -> Void
    var interval: UInt64 = 0
    public private(set) var cancelled = false

    init(loop: EventLoop, _ body: @escaping () -> Void) {
        self.loop = loop
        self.body = body
    }

    public func cancel() {
        cancelled = true
        loop.cancelDeadline(self)
    }

    public override func timerFired(now: UInt64) {
        if cancelled { return }
        body()
        if interval > 0, !cancelled { loop.setDeadline(self, now &+ interval) }
    }
}

/// The eventfd that wakes a loop blocked in epoll_wait when another thread queues work.
final class Wakeup: FDHandler, @unchecked Sendable {
    func signal() {
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }

    override func handleEvent(_ events: UInt32) {
        var value: UInt64 = 0
        _ = Glibc.read(fd, &value, 8)
    }
}

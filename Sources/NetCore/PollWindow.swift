/// How long a busy event loop keeps polling (epoll_wait with a zero timeout) before it sleeps.
///
/// Why: on a virtual machine, waking a thread that sleeps on an idle CPU costs the waker an
/// inter-processor interrupt and the sleeper a slow return from halt. A forwarder that is faster than
/// its neighbours sleeps between most of their messages and pays this on nearly every request (measured:
/// 0.25 sleeps per request against HAProxy's 0.18, and nginx and wrk slower per request beside it).
/// Polling a few tens of microseconds first catches the next event awake.
///
/// The window adapts the way the kernel's halt-polling does, so a quiet loop does not burn CPU: it
/// grows while events keep arriving soon after the loop has gone to sleep (a longer poll would have
/// caught them), and halves, down to nothing, while sleeps last longer than the limit.
struct PollWindow {
    /// Nanoseconds; 0 turns polling off.
    let limit: UInt64
    /// Nanoseconds the next wait polls before sleeping.
    private(set) var current: UInt64 = 0

    init(limit: UInt64) { self.limit = limit }

    /// After a wait that had to sleep and was woken by an event `waited` ns after it began (its poll
    /// included).
    mutating func update(afterSleeping waited: UInt64) {
        if limit == 0 { return }
        if waited <= limit {
            current = current == 0 ? max(limit / 4, 1) : min(current * 2, limit)
        } else {
            current /= 2
            if current < limit / 8 { current = 0 }
        }
    }
}

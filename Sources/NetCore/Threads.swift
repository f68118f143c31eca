import CLinux
import Glibc

/// A joinable OS thread running a closure; names itself for `top -H` and core dumps.
public final class OSThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: () -> Void
    private let name: String

    private init(name: String, body: @escaping () -> Void) {
        self.name = name
        self.body = body
    }

    /// Starts `body` on a new thread.
    @discardableResult
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) -> OSThread {
        let t = OSThread(name: name, body: body)
        let context = Unmanaged.passRetained(t).toOpaque()
        let rc = pthread_create(&t.handle, nil, { raw in
            let thread = Unmanaged<OSThread>.fromOpaque(raw!).takeRetainedValue()
            _ = cl_set_thread_name(String(thread.name.prefix(15)))
            thread.body()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return t
    }

    public func join() {
        pthread_join(handle, nil)
    }

    public func detach() {
        pthread_detach(handle)
    }
}

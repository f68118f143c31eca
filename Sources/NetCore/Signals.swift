import CLinux
import Glibc

/// Signals delivered through a signalfd on an event loop instead of async handlers.
/// Block them in the main thread before starting any other thread, so every thread inherits the mask and
/// only the signalfd sees them.
public final class SignalWatcher: FDHandler {
    private let onSignal: (Int32) -> Void

    /// Blocks `signals` for this thread (and threads it starts later) and returns a watcher to register.
    public init(signals: [Int32], onSignal: @escaping (Int32) -> Void) throws(SystemError) {
        let fd = signals.withUnsafeBufferPointer { cl_signalfd($0.baseAddress, Int32($0.count)) }
        if fd < 0 { throw .last("signalfd") }
        self.onSignal = onSignal
        super.init(fd: fd)
    }

    public override func handleEvent(_ events: UInt32) {
        while true {
            var pid: Int32 = 0
            let sig = cl_signalfd_read(fd, &pid)
            if sig <= 0 { return }
            onSignal(sig)
        }
    }
}

public enum Signals {
    /// Writes to a closed socket return EPIPE instead of killing the process.
    public static func ignoreSIGPIPE() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Blocks `signals` in the calling thread; threads started afterwards inherit the mask.
    public static func block(_ signals: [Int32]) {
        _ = signals.withUnsafeBufferPointer { cl_block_signals($0.baseAddress, Int32($0.count)) }
    }
}

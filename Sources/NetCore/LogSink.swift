import Glibc

/// Buffered log lines for one loop, written to a descriptor (stdout) in whole lines. Each write is at
/// most PIPE_BUF bytes and ends on a line end, so lines from several threads or processes sharing one
/// pipe never tear or glue together. Flushed at the end of each event batch, not per line.
public final class LogSink {
    public let buffer = ByteBuffer(capacity: 16384)
    private let fd: Int32
    private static let atomicWrite = 4096

    public init(fd: Int32 = 1) { self.fd = fd }

    /// Call after appending one complete line (ending in "\n"); flushes early when the buffer is large.
    @inline(__always)
    public func lineDone() {
        if buffer.readableBytes >= 64 * 1024 { flush() }
    }

    public func flush() {
        while !buffer.isEmpty {
            let available = buffer.readableBytes
            var n = min(available, Self.atomicWrite)
            if n < available {
                // Cut after the last newline that fits; a single longer line goes out whole.
                let p = buffer.readPointer
                var cut = n
                while cut > 0 && p[cut - 1] != 0x0A { cut -= 1 }
                if cut > 0 {
                    n = cut
                } else {
                    var end = n
                    while end < available && p[end - 1] != 0x0A { end += 1 }
                    n = end
                }
            }
            do {
                try Posix.writeAll(fd, UnsafeRawBufferPointer(start: buffer.readPointer, count: n))
            } catch {
                // stdout is gone (closed pipe): logging must never take the server down.
                buffer.clear()
                return
            }
            buffer.consume(n)
        }
    }
}

extension ByteBuffer {
    /// Appends a socket address as text (`1.2.3.4:5678`, `[::1]:5678`, `unix`) without allocating for IPv4.
    public func append(address storage: UnsafePointer<sockaddr_storage>) {
        let family = Int32(storage.pointee.ss_family)
        if family == AF_INET {
            let sin = UnsafeRawPointer(storage).load(as: sockaddr_in.self)
            let a = UInt32(bigEndian: sin.sin_addr.s_addr)
            append(decimal: Int(a >> 24)); append(byte: 0x2E)
            append(decimal: Int((a >> 16) & 0xFF)); append(byte: 0x2E)
            append(decimal: Int((a >> 8) & 0xFF)); append(byte: 0x2E)
            append(decimal: Int(a & 0xFF)); append(byte: 0x3A)
            append(decimal: Int(UInt16(bigEndian: sin.sin_port)))
        } else if let address = SocketAddress(storage: storage) {
            append(address.description)
        } else {
            append("unix")
        }
    }

    /// Appends a duration in milliseconds with three decimals (microsecond resolution).
    public func append(milliseconds nanos: UInt64) {
        let micros = Int(nanos / 1000)
        append(decimal: micros / 1000)
        append(byte: 0x2E)
        let frac = micros % 1000
        if frac < 100 { append(byte: 0x30) }
        if frac < 10 { append(byte: 0x30) }
        append(decimal: frac)
        append("ms")
    }
}

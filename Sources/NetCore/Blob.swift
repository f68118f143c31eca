import Glibc

/// Immutable bytes in memory, shared by reference (a cached file's contents). Never mutated after init,
/// so any loop may read it.
public final class Blob: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let count: Int

    public init(count: Int) {
        self.count = count
        pointer = .allocate(byteCount: max(count, 1), alignment: 16)
    }

    public init(_ bytes: [UInt8]) {
        count = bytes.count
        pointer = .allocate(byteCount: max(count, 1), alignment: 16)
        bytes.withUnsafeBytes { if $0.count > 0 { pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
    }

    deinit { pointer.deallocate() }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }
}

/// An open file descriptor closed when the last reference goes (a file body being sent).
public final class OpenFile {
    public let fd: Int32
    public init(fd: Int32) { self.fd = fd }
    deinit { Posix.close(fd) }
}

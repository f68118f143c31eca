import Glibc
import NetCore

/// A cached small file: its bytes and metadata, and how to re-check it (a path relative to the root).
final class CachedFile {
    let key: [UInt8]
    let hash: UInt64
    /// NUL-terminated path relative to the site root, for fstatat on every hit.
    let relativePath: [CChar]
    let meta: FileMeta
    let body: Blob

    init(key: [UInt8], hash: UInt64, relativePath: [CChar], meta: FileMeta, body: Blob) {
        self.key = key
        self.hash = hash
        self.relativePath = relativePath
        self.meta = meta
        self.body = body
    }
}

/// One loop's cache of small hot files, keyed by clean request path. Every hit is re-validated with one
/// fstatat (inode, size, mtime, ctime), so a changed, replaced or removed file is never served stale; a hit
/// costs one syscall where an uncached file costs open, fstat, sendfile and close.
final class FileCache {
    let maxFileSize: Int
    let maxTotalBytes: Int
    private var slots: [CachedFile?]
    private var mask: Int
    private var count = 0
    private var totalBytes = 0

    init(maxFileSize: Int, maxTotalBytes: Int) {
        self.maxFileSize = maxFileSize
        self.maxTotalBytes = maxTotalBytes
        slots = Array(repeating: nil, count: 256)
        mask = 255
    }

    var isEnabled: Bool { maxFileSize > 0 && maxTotalBytes > 0 }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in 0..<n { h = (h ^ UInt64(p[i])) &* 0x100_0000_01b3 }
        return h
    }

    /// The fresh cached file for this path, or nil (not cached, or changed on disk: then dropped).
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64, rootFD: Int32) -> CachedFile? {
        var i = Int(truncatingIfNeeded: h) & mask
        while let entry = slots[i] {
            if entry.hash == h && entry.key.count == n && entry.key.withUnsafeBufferPointer({ memcmp($0.baseAddress!, p, n) == 0 }) {
                var st = stat()
                let ok = entry.relativePath.withUnsafeBufferPointer { fstatat(rootFD, $0.baseAddress!, &st, 0) } == 0
                if ok && (st.st_mode & S_IFMT) == S_IFREG && FileIdentity(st) == entry.meta.identity { return entry }
                remove(at: i)
                return nil
            }
            i = (i + 1) & mask
        }
        return nil
    }

    func insert(_ file: CachedFile) {
        guard file.body.count <= maxFileSize, file.body.count <= maxTotalBytes else { return }
        // Over budget: start over rather than track recency on every hit.
        if totalBytes + file.body.count > maxTotalBytes { clear() }
        if (count + 1) * 4 > slots.count * 3 { grow() }
        var i = Int(truncatingIfNeeded: file.hash) & mask
        while let entry = slots[i] {
            if entry.key == file.key {
                totalBytes -= entry.body.count
                slots[i] = file
                totalBytes += file.body.count
                return
            }
            i = (i + 1) & mask
        }
        slots[i] = file
        count += 1
        totalBytes += file.body.count
    }

    private func clear() {
        for i in 0..<slots.count { slots[i] = nil }
        count = 0
        totalBytes = 0
    }

    private func grow() {
        let old = slots
        slots = Array(repeating: nil, count: old.count * 2)
        mask = slots.count - 1
        count = 0
        totalBytes = 0
        for case let entry? in old { insert(entry) }
    }

    /// Removes slot `i` and re-seats the entries after it (linear probing has no tombstones).
    private func remove(at index: Int) {
        guard let gone = slots[index] else { return }
        slots[index] = nil
        count -= 1
        totalBytes -= gone.body.count
        var i = (index + 1) & mask
        while let entry = slots[i] {
            slots[i] = nil
            count -= 1
            totalBytes -= entry.body.count
            insert(entry)
            i = (i + 1) & mask
        }
    }
}

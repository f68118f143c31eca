import Glibc
import HTTPCore
import NetCore

/// What identifies one version of a file: if any of these change, cached bytes are stale.
struct FileIdentity: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int
    var mtimeSeconds: Int
    var mtimeNanos: Int
    /// The inode's change time: it moves on a rewrite that restores size and mtime (`cp -p`,
    /// `rsync -t --inplace`) and on a permission change, which mtime alone would miss.
    var ctimeSeconds: Int
    var ctimeNanos: Int

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int(st.st_size)
        mtimeSeconds = Int(st.st_mtim.tv_sec)
        mtimeNanos = Int(st.st_mtim.tv_nsec)
        ctimeSeconds = Int(st.st_ctim.tv_sec)
        ctimeNanos = Int(st.st_ctim.tv_nsec)
    }
}

/// The validators and type of a file, and its response fields in wire form
/// (`Content-Type`, `Last-Modified`, `ETag`, `Accept-Ranges`), built once per file version.
final class FileMeta {
    let identity: FileIdentity
    let contentType: StaticString
    /// `"<mtime hex>-<size hex>"` with quotes, as nginx forms it.
    let etag: [UInt8]
    let fields: Blob

    init(identity: FileIdentity, contentType: StaticString) {
        self.identity = identity
        self.contentType = contentType
        let tag = ByteBuffer(capacity: 40)
        tag.append(byte: 0x22)
        // nginx prints a time before 1970 as a negative number, so such versions stay distinct.
        if identity.mtimeSeconds < 0 { tag.append(byte: 0x2D) }
        tag.append(hex: UInt64(identity.mtimeSeconds.magnitude))
        tag.append(byte: 0x2D)
        tag.append(hex: UInt64(identity.size))
        tag.append(byte: 0x22)
        etag = tag.bytes

        let out = ByteBuffer(capacity: 256)
        out.appendHeader("Content-Type", contentType)
        out.append("Last-Modified: ")
        out.reserve(HTTPDate.length)
        HTTPDate.format(identity.mtimeSeconds, into: out.writePointer)
        out.writerIndex += HTTPDate.length
        out.append("\r\nETag: ")
        out.append(etag)
        out.append("\r\nAccept-Ranges: bytes\r\n")
        fields = Blob(out.bytes)
    }

    var size: Int { identity.size }
    var lastModified: Int { identity.mtimeSeconds }
}

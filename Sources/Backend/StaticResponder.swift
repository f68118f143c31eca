import CLinux
import Glibc
import HTTPCore
import NetCore

/// Answers one parsed request from the site folder, writing the response head (and small bodies) into an
/// output queue and queueing file bodies by reference (cached blob) or by descriptor (sendfile).
/// One per loop or per thread; not thread-safe.
final class StaticResponder {
    struct Outcome {
        var status: Int
        var bodyBytes: Int
        /// The response said "Connection: close"; the connection ends once it is sent.
        var close: Bool
    }

    private let site: SiteConfig
    private let cache: FileCache
    let date: DateCache
    /// Clean-path scratch space: the longest request line fits, plus a NUL.
    private let path: UnsafeMutablePointer<UInt8>
    private let pathCapacity: Int
    private let scratch = ByteBuffer(capacity: 4096)
    /// The HTTP minor version of the request being answered (1.0 clients need keep-alive said out loud).
    private var minorVersion: UInt8 = 1

    init(site: SiteConfig, date: DateCache, maxTarget: Int) {
        self.site = site
        self.date = date
        cache = FileCache(maxFileSize: site.cacheMaxFileSize, maxTotalBytes: site.cacheMaxBytes)
        pathCapacity = maxTarget + 16
        path = .allocate(capacity: pathCapacity)
    }

    deinit { path.deallocate() }

    // MARK: entry points

    func respond(to head: HTTPRequestHead, base: UnsafePointer<UInt8>, keepAlive: Bool, into out: OutputQueue) -> Outcome {
        let isHead = head.method == .head
        minorVersion = head.minorVersion
        guard head.method == .get || isHead else {
            return simple(.methodNotAllowed, "405 Method Not Allowed\n", extra: "Allow: GET, HEAD\r\n",
                          head: false, keepAlive: keepAlive, out)
        }
        let originPointer = head.origin.pointer(in: base)
        let originCount = Int(head.origin.count)
        let queryAt = TargetPath.queryStart(originPointer, originCount)
        let pathCount = queryAt ?? originCount
        if pathCount + 2 > pathCapacity {
            return simple(.uriTooLong, "414 URI Too Long\n", head: isHead, keepAlive: false, out)
        }
        switch TargetPath.resolve(originPointer, pathCount, into: path) {
        case .invalid(let status):
            return simple(status, "400 Bad Request: invalid path\n", head: isHead, keepAlive: false, out)
        case .path(let length, let trailingSlash):
            if length == 8 && memcmp(path, "/healthz", 8) == 0 {
                return health(isHead: isHead, keepAlive: keepAlive, out)
            }
            let h = FileCache.hash(path, length)
            if cache.isEnabled, let hit = cache.lookup(path, length, hash: h, rootFD: site.rootFD) {
                return serve(meta: hit.meta, blob: hit.body, file: nil, head, base, keepAlive, out)
            }
            let query = queryAt.map { (originPointer + $0, originCount - $0) }
            return serveUncached(length: length, trailingSlash: trailingSlash, hash: h, query: query,
                                 head, base, keepAlive, out)
        }
    }

    /// The response to a request the parser refused; the connection closes after it.
    func respond(to error: HTTPParseError, into out: OutputQueue) -> Outcome {
        minorVersion = 1
        scratch.clear()
        scratch.append(decimal: error.status.code)
        scratch.append(byte: 0x20)
        scratch.append(error.status.reason)
        scratch.append(": ")
        scratch.append(error.reason)
        scratch.append(byte: 0x0A)
        return simpleBody(error.status, scratch.readable, extra: nil, head: false, keepAlive: false, out)
    }

    // MARK: files

    private func serveUncached(length: Int, trailingSlash: Bool, hash: UInt64, query: (UnsafePointer<UInt8>, Int)?,
                               _ head: HTTPRequestHead, _ base: UnsafePointer<UInt8>, _ keepAlive: Bool,
                               _ out: OutputQueue) -> Outcome {
        let isHead = head.method == .head
        // Relative path for openat2: drop the leading "/", "." for the root itself.
        let relative = path + 1
        var relativeLength = length - 1
        if relativeLength == 0 { relative[0] = 0x2E; relativeLength = 1 }
        relative[relativeLength] = 0
        var fd = relative.withMemoryRebound(to: CChar.self, capacity: relativeLength + 1) {
            cl_open_beneath(site.rootFD, $0, O_RDONLY)
        }
        if fd < 0 { return openFailure(errno, isHead: isHead, keepAlive: keepAlive, out) }
        var st = stat()
        fstat(fd, &st)
        var cacheRelative = Array(UnsafeBufferPointer(start: relative, count: relativeLength)).map { CChar(bitPattern: $0) }
        var contentPath = (UnsafePointer(path), length)

        if (st.st_mode & S_IFMT) == S_IFDIR {
            if !trailingSlash {
                Posix.close(fd)
                return redirectToFolder(length: length, query: query, isHead: isHead, keepAlive: keepAlive, out)
            }
            let index = cl_open_beneath(fd, "index.html", O_RDONLY)
            var indexStat = stat()
            if index >= 0 && fstat(index, &indexStat) == 0 && (indexStat.st_mode & S_IFMT) == S_IFREG {
                Posix.close(fd)
                fd = index
                st = indexStat
                if relativeLength == 1 && relative[0] == 0x2E { cacheRelative = [] }
                else if cacheRelative.last != 0x2F { cacheRelative.append(0x2F) }
                cacheRelative.append(contentsOf: "index.html".utf8.map { CChar(bitPattern: $0) })
                contentPath = (UnsafePointer(("index.html" as StaticString).utf8Start), 10)
            } else {
                if index >= 0 { Posix.close(index) }
                defer { Posix.close(fd) }
                return listing(dirFD: fd, length: length, isHead: isHead, keepAlive: keepAlive, out)
            }
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            Posix.close(fd)
            return simple(.forbidden, "403 Forbidden\n", head: isHead, keepAlive: keepAlive, out)
        }
        let meta = FileMeta(identity: FileIdentity(st), contentType: MIMEType.forPath(contentPath.0, contentPath.1))
        if cache.isEnabled && meta.size <= cache.maxFileSize, let blob = readWhole(fd, meta) {
            Posix.close(fd)
            cacheRelative.append(0)
            cache.insert(CachedFile(key: Array(UnsafeBufferPointer(start: path, count: length)), hash: hash,
                                    relativePath: cacheRelative, meta: meta, body: blob))
            return serve(meta: meta, blob: blob, file: nil, head, base, keepAlive, out)
        }
        return serve(meta: meta, blob: nil, file: OpenFile(fd: fd), head, base, keepAlive, out)
    }

    /// Reads a small file into memory, or nil if it changed while being read (then it is sent from disk).
    private func readWhole(_ fd: Int32, _ meta: FileMeta) -> Blob? {
        let blob = Blob(count: meta.size)
        var done = 0
        while done < meta.size {
            let n = pread(fd, blob.pointer + done, meta.size - done, off_t(done))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            done += n
        }
        var after = stat()
        guard fstat(fd, &after) == 0, FileIdentity(after) == meta.identity else { return nil }
        return blob
    }

    private func serve(meta: FileMeta, blob: Blob?, file: OpenFile?, _ head: HTTPRequestHead,
                       _ base: UnsafePointer<UInt8>, _ keepAlive: Bool, _ out: OutputQueue) -> Outcome {
        let b = out.buffer
        if Preconditions.failed(head, base, meta) {
            return simple(.preconditionFailed, "412 Precondition Failed\n", head: head.method == .head, keepAlive: keepAlive, out)
        }
        if Preconditions.notModified(head, base, meta) {
            b.appendStatusLine(.notModified)
            commonFields(b)
            b.append(meta.fields.bytes)
            connectionField(b, head.minorVersion, keepAlive)
            b.appendEndOfHead()
            return Outcome(status: 304, bodyBytes: 0, close: !keepAlive)
        }
        var first = 0
        var count = meta.size
        var status = HTTPStatus.ok
        switch Preconditions.range(head, base, meta) {
        case .full:
            break
        case .partial(let f, let l):
            first = f
            count = l - f + 1
            status = .partialContent
        case .unsatisfiable:
            b.appendStatusLine(.rangeNotSatisfiable)
            commonFields(b)
            b.append("Content-Range: bytes */")
            b.append(decimal: meta.size)
            b.append("\r\nContent-Length: 0\r\n")
            connectionField(b, head.minorVersion, keepAlive)
            b.appendEndOfHead()
            return Outcome(status: 416, bodyBytes: 0, close: !keepAlive)
        }
        b.appendStatusLine(status)
        commonFields(b)
        b.append(meta.fields.bytes)
        if status == .partialContent {
            b.append("Content-Range: bytes ")
            b.append(decimal: first)
            b.append(byte: 0x2D)
            b.append(decimal: first + count - 1)
            b.append(byte: 0x2F)
            b.append(decimal: meta.size)
            b.append("\r\n")
        }
        b.appendHeader("Content-Length", decimal: count)
        connectionField(b, head.minorVersion, keepAlive)
        b.appendEndOfHead()
        if head.method == .head { return Outcome(status: status.code, bodyBytes: 0, close: !keepAlive) }
        if let blob {
            out.enqueue(blob, offset: first, count: count)
        } else if let file {
            out.enqueue(file: file, offset: first, count: count)
        }
        return Outcome(status: status.code, bodyBytes: count, close: !keepAlive)
    }

    private func openFailure(_ e: Int32, isHead: Bool, keepAlive: Bool, _ out: OutputQueue) -> Outcome {
        switch e {
        case ENOENT, ENOTDIR, ENAMETOOLONG:
            return simple(.notFound, "404 Not Found\n", head: isHead, keepAlive: keepAlive, out)
        case EXDEV, ELOOP, EACCES, EPERM:
            // EXDEV/ELOOP: the path (or a symlink in it) leads outside the root.
            return simple(.forbidden, "403 Forbidden\n", head: isHead, keepAlive: keepAlive, out)
        case EMFILE, ENFILE:
            return simple(.serviceUnavailable, "503 Service Unavailable: out of file descriptors\n",
                          head: isHead, keepAlive: false, out)
        default:
            return simple(.internalServerError, "500 Internal Server Error\n", head: isHead, keepAlive: false, out)
        }
    }

    // MARK: folders

    private func redirectToFolder(length: Int, query: (UnsafePointer<UInt8>, Int)?, isHead: Bool,
                                  keepAlive: Bool, _ out: OutputQueue) -> Outcome {
        // Built from the clean path, re-encoded, never from the raw target: "//evil.example" must not
        // become a protocol-relative Location.
        scratch.clear()
        PercentEncoding.appendPath(UnsafeBufferPointer(start: path, count: length), to: scratch)
        scratch.append(byte: 0x2F)
        if let (q, n) = query, n > 0, q[0] == 0x3F { scratch.append(q, n) }
        let location = Array(scratch.readable)
        let b = out.buffer
        let body: StaticString = "301 Moved Permanently\n"
        b.appendStatusLine(.movedPermanently)
        commonFields(b)
        b.append("Location: ")
        b.append(location)
        b.append("\r\nContent-Type: text/plain; charset=utf-8\r\n")
        b.appendHeader("Content-Length", decimal: body.utf8CodeUnitCount)
        connectionField(b, minorVersion, keepAlive)
        b.appendEndOfHead()
        if !isHead { b.append(body) }
        return Outcome(status: 301, bodyBytes: isHead ? 0 : body.utf8CodeUnitCount, close: !keepAlive)
    }

    private func listing(dirFD: Int32, length: Int, isHead: Bool, keepAlive: Bool, _ out: OutputQueue) -> Outcome {
        guard let entries = FolderListing.read(dirFD) else {
            return simple(.forbidden, "403 Forbidden\n", head: isHead, keepAlive: keepAlive, out)
        }
        let title = String(decoding: UnsafeBufferPointer(start: path, count: length), as: UTF8.self)
        let html = FolderListing.html(title: title, entries: entries)
        return html.withUnsafeBytes { raw in
            simpleBody(.ok, raw, extra: nil, head: isHead, keepAlive: keepAlive, out, type: "text/html; charset=utf-8")
        }
    }

    // MARK: small responses

    private func health(isHead: Bool, keepAlive: Bool, _ out: OutputQueue) -> Outcome {
        let uptime = Double(Clock.monotonicNanos() - site.startedAt) / 1e9
        let body = "{\"status\":\"ok\",\"pid\":\(getpid()),\"port\":\(site.port),\"model\":\"\(site.model)\",\"uptime_seconds\":\(Double(Int(uptime * 1000)) / 1000)}\n"
        let bytes = Array(body.utf8)
        return bytes.withUnsafeBytes { raw in
            simpleBody(.ok, raw, extra: "Cache-Control: no-store\r\n", head: isHead, keepAlive: keepAlive, out,
                       type: "application/json")
        }
    }

    private func simple(_ status: HTTPStatus, _ body: StaticString, extra: StaticString? = nil, head: Bool,
                        keepAlive: Bool, _ out: OutputQueue) -> Outcome {
        simpleBody(status, UnsafeRawBufferPointer(start: body.utf8Start, count: body.utf8CodeUnitCount),
                   extra: extra, head: head, keepAlive: keepAlive, out)
    }

    private func simpleBody(_ status: HTTPStatus, _ body: UnsafeRawBufferPointer, extra: StaticString?, head: Bool,
                            keepAlive: Bool, _ out: OutputQueue, type: StaticString = "text/plain; charset=utf-8") -> Outcome {
        let b = out.buffer
        b.appendStatusLine(status)
        commonFields(b)
        b.appendHeader("Content-Type", type)
        b.appendHeader("Content-Length", decimal: body.count)
        if let extra { b.append(extra) }
        connectionField(b, minorVersion, keepAlive)
        b.appendEndOfHead()
        if !head { b.append(body) }
        return Outcome(status: status.code, bodyBytes: head ? 0 : body.count, close: !keepAlive)
    }

    @inline(__always)
    private func commonFields(_ b: ByteBuffer) {
        b.append("Server: backend\r\n")
        b.appendDateHeader(date)
    }

    /// HTTP/1.1 keeps connections open by default; HTTP/1.0 needs "keep-alive" said out loud.
    @inline(__always)
    private func connectionField(_ b: ByteBuffer, _ minor: UInt8, _ keepAlive: Bool) {
        if !keepAlive { b.append("Connection: close\r\n") }
        else if minor == 0 { b.append("Connection: keep-alive\r\n") }
    }
}

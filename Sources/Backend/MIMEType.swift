import HTTPCore

/// Content types by file extension, as nginx's mime.types maps them (text types declare UTF-8).
enum MIMEType {
    static func forPath(_ p: UnsafePointer<UInt8>, _ count: Int) -> StaticString {
        var dot = count - 1
        while dot >= 0 && p[dot] != 0x2E && p[dot] != 0x2F { dot -= 1 }
        guard dot >= 0, p[dot] == 0x2E else { return "application/octet-stream" }
        let ext = p + dot + 1
        let n = count - dot - 1
        switch n {
        case 2:
            if asciiEqualsLowercase(ext, n, "js") { return "text/javascript; charset=utf-8" }
            if asciiEqualsLowercase(ext, n, "gz") { return "application/gzip" }
        case 3:
            if asciiEqualsLowercase(ext, n, "htm") { return "text/html; charset=utf-8" }
            if asciiEqualsLowercase(ext, n, "css") { return "text/css; charset=utf-8" }
            if asciiEqualsLowercase(ext, n, "txt") { return "text/plain; charset=utf-8" }
            if asciiEqualsLowercase(ext, n, "svg") { return "image/svg+xml" }
            if asciiEqualsLowercase(ext, n, "png") { return "image/png" }
            if asciiEqualsLowercase(ext, n, "jpg") { return "image/jpeg" }
            if asciiEqualsLowercase(ext, n, "gif") { return "image/gif" }
            if asciiEqualsLowercase(ext, n, "ico") { return "image/x-icon" }
            if asciiEqualsLowercase(ext, n, "pdf") { return "application/pdf" }
            if asciiEqualsLowercase(ext, n, "xml") { return "text/xml; charset=utf-8" }
            if asciiEqualsLowercase(ext, n, "csv") { return "text/csv; charset=utf-8" }
            if asciiEqualsLowercase(ext, n, "mjs") { return "text/javascript; charset=utf-8" }
            if asciiEqualsLowercase(ext, n, "mp4") { return "video/mp4" }
            if asciiEqualsLowercase(ext, n, "mp3") { return "audio/mpeg" }
            if asciiEqualsLowercase(ext, n, "wav") { return "audio/wav" }
            if asciiEqualsLowercase(ext, n, "zip") { return "application/zip" }
            if asciiEqualsLowercase(ext, n, "tar") { return "application/x-tar" }
            if asciiEqualsLowercase(ext, n, "ttf") { return "font/ttf" }
            if asciiEqualsLowercase(ext, n, "otf") { return "font/otf" }
            if asciiEqualsLowercase(ext, n, "bmp") { return "image/bmp" }
        case 4:
            if asciiEqualsLowercase(ext, n, "html") { return "text/html; charset=utf-8" }
            if asciiEqualsLowercase(ext, n, "json") { return "application/json" }
            if asciiEqualsLowercase(ext, n, "jpeg") { return "image/jpeg" }
            if asciiEqualsLowercase(ext, n, "webp") { return "image/webp" }
            if asciiEqualsLowercase(ext, n, "avif") { return "image/avif" }
            if asciiEqualsLowercase(ext, n, "woff") { return "font/woff" }
            if asciiEqualsLowercase(ext, n, "wasm") { return "application/wasm" }
            if asciiEqualsLowercase(ext, n, "webm") { return "video/webm" }
        case 5:
            if asciiEqualsLowercase(ext, n, "woff2") { return "font/woff2" }
        case 11:
            if asciiEqualsLowercase(ext, n, "webmanifest") { return "application/manifest+json" }
        default:
            break
        }
        return "application/octet-stream"
    }
}

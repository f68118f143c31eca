import Glibc
import HTTPCore

/// An HTML index of a folder without an index.html, like nginx's autoindex: one link per entry,
/// folders first with a trailing "/", then size and modification time. Hidden files are left out.
enum FolderListing {
    struct Entry {
        /// The name as the file system holds it: any bytes, not necessarily UTF-8.
        let rawName: [UInt8]
        /// The name shown (invalid UTF-8 as U+FFFD); the link carries the exact bytes, percent-encoded.
        var name: String { String(decoding: rawName, as: UTF8.self) }
        let isFolder: Bool
        let size: Int
        let modified: Int
    }

    /// Reads the entries of an open folder (the descriptor stays open); nil when it cannot be read.
    static func read(_ dirFD: Int32) -> [Entry]? {
        let copy = dup(dirFD)
        guard copy >= 0, let dir = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            return nil
        }
        defer { closedir(dir) }
        var entries: [Entry] = []
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in Array(raw.prefix(while: { $0 != 0 })) }
            if name.first == UInt8(ascii: ".") { continue }
            var st = stat()
            guard (name + [0]).withUnsafeBufferPointer({ fstatat(dirFD, UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), &st, 0) }) == 0 else { continue }
            let kind = st.st_mode & S_IFMT
            guard kind == S_IFDIR || kind == S_IFREG else { continue }
            entries.append(Entry(rawName: name, isFolder: kind == S_IFDIR, size: Int(st.st_size),
                                 modified: Int(st.st_mtim.tv_sec)))
        }
        entries.sort { a, b in a.isFolder != b.isFolder ? a.isFolder : a.rawName.lexicographicallyPrecedes(b.rawName) }
        return entries
    }

    static func html(title: String, entries: [Entry]) -> [UInt8] {
        let t = escape(title)
        var s = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of \(t)</title>"
        s += "<style>body{font-family:sans-serif;margin:2em}td{padding:0 1.5em 0 0}td.n{text-align:right}</style>"
        s += "</head><body><h1>Index of \(t)</h1><hr><table>\n"
        if title != "/" { s += "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n" }
        for e in entries {
            let shown = escape(e.name) + (e.isFolder ? "/" : "")
            let href = escape(PercentEncoding.encodePath(e.rawName)) + (e.isFolder ? "/" : "")
            let size = e.isFolder ? "-" : String(e.size)
            s += "<tr><td><a href=\"\(href)\">\(shown)</a></td><td>\(HTTPDate.string(e.modified))</td><td class=\"n\">\(size)</td></tr>\n"
        }
        s += "</table><hr></body></html>\n"
        return Array(s.utf8)
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }
}

import HTTPCore

/// The header names a message's Connection fields list: they are hop-by-hop too (RFC 9110 §7.6.1).
struct ConnectionListed {
    private var spans: [ByteSpan] = []

    init() { spans.reserveCapacity(8) }

    mutating func collect(_ headers: [HeaderField], _ base: UnsafePointer<UInt8>) {
        spans.removeAll(keepingCapacity: true)
        for field in headers where field.known == .connection {
            var i = Int(field.value.start)
            let end = field.value.end
            while i < end {
                while i < end && (base[i] == 0x20 || base[i] == 0x09 || base[i] == 0x2C) { i += 1 }
                let start = i
                while i < end && base[i] != 0x2C && base[i] != 0x20 && base[i] != 0x09 { i += 1 }
                if i > start { spans.append(ByteSpan(start: start, count: i - start)) }
            }
        }
    }

    /// Whether the field's name is one the Connection header listed.
    @inline(__always)
    func contains(_ field: HeaderField, _ base: UnsafePointer<UInt8>) -> Bool {
        if spans.isEmpty { return false }
        let n = Int(field.name.count)
        let name = field.name.pointer(in: base)
        for s in spans where Int(s.count) == n {
            let t = s.pointer(in: base)
            var same = true
            for k in 0..<n where lower(name[k]) != lower(t[k]) { same = false; break }
            if same { return true }
        }
        return false
    }

    @inline(__always)
    private func lower(_ c: UInt8) -> UInt8 { (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c }
}

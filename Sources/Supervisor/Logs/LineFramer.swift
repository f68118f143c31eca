import Glibc
import NetCore

/// One line found in a source's buffer: its bytes without the line end. Points into the buffer, so it is
/// valid until the buffer is next written to.
struct FramedLine {
    var start: UnsafePointer<UInt8>
    var count: Int
    /// A piece of a line longer than the limit; the rest follows as the next line(s).
    var continued: Bool
}

/// Cuts a byte stream into lines without tearing or gluing them: a partial line waits for its end, "\r\n"
/// and "\n" both end a line, and a line longer than `maxLine` bytes comes out in `maxLine` pieces so a
/// child that never writes "\n" cannot make the supervisor's memory grow. Bytes are never decoded.
struct LineFramer {
    static let defaultMaxLine = 16 * 1024
    let maxLine: Int
    /// Readable bytes already searched without finding "\n", so a long partial line is not rescanned on
    /// every read.
    private var scanned = 0

    init(maxLine: Int = LineFramer.defaultMaxLine) {
        self.maxLine = max(maxLine, 4)
    }

    /// Takes the next line out of `buffer`, or nil when what is left is an unfinished line. With
    /// `atEOF`, an unfinished line is a line.
    mutating func next(_ buffer: ByteBuffer, atEOF: Bool) -> FramedLine? {
        let available = buffer.readableBytes
        if available == 0 { scanned = 0; return nil }
        let p = UnsafePointer(buffer.readPointer)
        // A line end can sit at most at maxLine + 1 ("\r\n" after a full-length line); searching further
        // is wasted once a piece will be cut anyway.
        let window = min(available, maxLine + 2)
        if scanned < window, let hit = memchr(p + scanned, 0x0A, window - scanned) {
            let end = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - p
            var count = end
            if count > 0 && p[count - 1] == 0x0D { count -= 1 }
            if count <= maxLine {
                scanned = 0
                buffer.consume(end + 1)
                return FramedLine(start: p, count: count, continued: false)
            }
            return cut(buffer, p)
        }
        scanned = window
        if available > maxLine { return cut(buffer, p) }
        guard atEOF else { return nil }
        scanned = 0
        var count = available
        if p[count - 1] == 0x0D { count -= 1 }
        buffer.consume(available)
        return FramedLine(start: p, count: count, continued: false)
    }

    /// A `maxLine` piece of an over-long line, moved back to a UTF-8 boundary (at most three bytes) so each
    /// piece of valid text is itself valid text.
    private mutating func cut(_ buffer: ByteBuffer, _ p: UnsafePointer<UInt8>) -> FramedLine {
        var count = maxLine
        while count > maxLine - 3 && p[count] & 0xC0 == 0x80 { count -= 1 }
        scanned = 0
        buffer.consume(count)
        return FramedLine(start: p, count: count, continued: true)
    }
}

import Glibc
import NetCore

/// HTTP dates (RFC 9110 §5.6.7): IMF-fixdate out; IMF-fixdate, RFC 850 and asctime in.
public enum HTTPDate {
    public static let length = 29
    private static let days: StaticString = "SunMonTueWedThuFriSat"
    private static let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"

    /// Writes `epochSeconds` as "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes) at `out`.
    public static func format(_ epochSeconds: Int, into out: UnsafeMutablePointer<UInt8>) {
        var t = time_t(epochSeconds)
        var tm = Glibc.tm()
        gmtime_r(&t, &tm)
        let d = days.utf8Start + Int(tm.tm_wday) * 3
        let m = months.utf8Start + Int(tm.tm_mon) * 3
        out[0] = d[0]; out[1] = d[1]; out[2] = d[2]; out[3] = 0x2C; out[4] = 0x20
        two(Int(tm.tm_mday), out + 5); out[7] = 0x20
        out[8] = m[0]; out[9] = m[1]; out[10] = m[2]; out[11] = 0x20
        let year = Int(tm.tm_year) + 1900
        two(year / 100, out + 12); two(year % 100, out + 14); out[16] = 0x20
        two(Int(tm.tm_hour), out + 17); out[19] = 0x3A
        two(Int(tm.tm_min), out + 20); out[22] = 0x3A
        two(Int(tm.tm_sec), out + 23); out[25] = 0x20
        out[26] = 0x47; out[27] = 0x4D; out[28] = 0x54
    }

    public static func string(_ epochSeconds: Int) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: length) { buf in
            format(epochSeconds, into: buf.baseAddress!)
            return String(decoding: buf, as: UTF8.self)
        }
    }

    @inline(__always)
    private static func two(_ v: Int, _ out: UnsafeMutablePointer<UInt8>) {
        out[0] = UInt8(v / 10) + 0x30
        out[1] = UInt8(v % 10) + 0x30
    }

    /// Parses any of the three HTTP date formats; nil when it is none of them.
    public static func parse(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        let s = UnsafeBufferPointer(start: p, count: n)
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        if n == 29, s[3] == 0x2C {
            return build(day: num(s, 5, 2), month: month(s, 8), year: num(s, 12, 4),
                         h: num(s, 17, 2), m: num(s, 20, 2), sec: num(s, 23, 2), seps: s[19] == 0x3A && s[22] == 0x3A)
        }
        // asctime: "Sun Nov  6 08:49:37 1994"
        if n == 24, s[3] == 0x20 {
            let dayText = s[8] == 0x20 ? num(s, 9, 1) : num(s, 8, 2)
            return build(day: dayText, month: month(s, 4), year: num(s, 20, 4),
                         h: num(s, 11, 2), m: num(s, 14, 2), sec: num(s, 17, 2), seps: s[13] == 0x3A && s[16] == 0x3A)
        }
        // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
        if let comma = s.firstIndex(of: 0x2C), n - comma == 24 {
            let b = comma + 2
            guard let yy = num(s, b + 7, 2) else { return nil }
            return build(day: num(s, b, 2), month: month(s, b + 3), year: yy < 70 ? 2000 + yy : 1900 + yy,
                         h: num(s, b + 10, 2), m: num(s, b + 13, 2), sec: num(s, b + 16, 2),
                         seps: s[b + 2] == 0x2D && s[b + 6] == 0x2D)
        }
        return nil
    }

    private static func num(_ s: UnsafeBufferPointer<UInt8>, _ at: Int, _ len: Int) -> Int? {
        guard at + len <= s.count else { return nil }
        var v = 0
        for i in at..<at + len {
            let d = s[i] &- 0x30
            if d > 9 { return nil }
            v = v * 10 + Int(d)
        }
        return v
    }

    private static func month(_ s: UnsafeBufferPointer<UInt8>, _ at: Int) -> Int? {
        guard at + 3 <= s.count else { return nil }
        let m = months.utf8Start
        for i in 0..<12 where m[i * 3] == s[at] && m[i * 3 + 1] == s[at + 1] && m[i * 3 + 2] == s[at + 2] {
            return i
        }
        return nil
    }

    private static func build(day: Int?, month: Int?, year: Int?, h: Int?, m: Int?, sec: Int?, seps: Bool) -> Int? {
        guard seps, let day, let month, let year, let h, let m, let sec,
              (1...31).contains(day), h < 24, m < 60, sec < 61 else { return nil }
        var tm = Glibc.tm()
        tm.tm_year = Int32(year - 1900)
        tm.tm_mon = Int32(month)
        tm.tm_mday = Int32(day)
        tm.tm_hour = Int32(h)
        tm.tm_min = Int32(m)
        tm.tm_sec = Int32(sec)
        return Int(timegm(&tm))
    }
}

/// The current Date header value, formatted at most once per second per loop.
public final class DateCache {
    public private(set) var bytes: UnsafeMutablePointer<UInt8>
    private var second = -1

    public init() {
        bytes = .allocate(capacity: HTTPDate.length)
        refresh()
    }

    deinit { bytes.deallocate() }

    @inline(__always)
    public func refresh() {
        let now = Clock.wallSeconds()
        if now != second {
            second = now
            HTTPDate.format(now, into: bytes)
        }
    }

    public var epochSeconds: Int { second }
}

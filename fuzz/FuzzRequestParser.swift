// libFuzzer target for HTTPCore's request-head parser and chunked decoder.
// Built by fuzz/run.sh (swiftc -sanitize=fuzzer,address); not part of the SwiftPM package.
//
// Per input:
//  (a) HTTPRequestParser.parse on the whole input at once (server style: pipelined requests, one parser
//      reused with reset(), bodies skipped by Content-Length or ChunkedDecoder);
//  (b) the same bytes fed in input-derived pieces, re-parsing the growing prefix (copied into an
//      exact-size allocation each time, so ASan sees any read past the bytes received so far);
//      the verdict and the parsed head must match (a);
//  (c) invariants of every complete head, re-parse of exactly head.length bytes, chunked body after it;
//  (d) ChunkedDecoder on the raw input, fed whole, byte by byte and in pieces: same result, same data.
// Everything runs twice: with the default limits and with tiny ones, so the size limits are reachable.
// A failed check is a `precondition`, which traps; libFuzzer reports it as a crash.

import HTTPCore

/// Swift.precondition, except that under -O it still prints its message (the stock one drops it), so a
/// crash report says which check failed and with what values. Still a trap that libFuzzer catches.
private func precondition(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String = "",
                          file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError("check failed: \(message())", file: file, line: line) }
}

private let limitSets: [HTTPLimits] = [
    .default,
    HTTPLimits(maxRequestLine: 40, maxHeadSize: 120, maxHeaderCount: 3),
]

/// Everything observable in a parsed head, for comparing two parses of the same bytes.
private struct HeadSummary: Equatable {
    var method: UInt8
    var methodSpan: ByteSpan
    var target: ByteSpan
    var origin: ByteSpan
    var authority: ByteSpan
    var requestLine: ByteSpan
    var minorVersion: UInt8
    var headers: [HeaderField]
    var contentLength: Int
    var isChunked: Bool
    var keepAlive: Bool
    var expectsContinue: Bool
    var wantsUpgrade: Bool
    var hostIndex: Int
    var length: Int

    init(_ h: HTTPRequestHead) {
        method = h.method.rawValue
        methodSpan = h.methodSpan
        target = h.target
        origin = h.origin
        authority = h.authority
        requestLine = h.requestLine
        minorVersion = h.minorVersion
        headers = h.headers
        contentLength = h.contentLength
        isChunked = h.isChunked
        keepAlive = h.keepAlive
        expectsContinue = h.expectsContinue
        wantsUpgrade = h.wantsUpgrade
        hostIndex = h.hostIndex
        length = h.length
    }
}

private enum Verdict: Equatable {
    case needMore
    case complete(HeadSummary)
    case invalid(HTTPParseError)

    var kind: Int {
        switch self {
        case .needMore: return 0
        case .complete: return 1
        case .invalid: return 2
        }
    }
}

private func verdict(_ r: HTTPRequestParser.Result, _ parser: HTTPRequestParser) -> Verdict {
    switch r {
    case .needMore: return .needMore
    case .complete: return .complete(HeadSummary(parser.head))
    case .invalid(let e): return .invalid(e)
    }
}

/// Input-derived piece sizes: the input's own bytes, cycled, each mapped to 1...(mask+1).
private struct Splitter {
    let p: UnsafePointer<UInt8>
    let n: Int
    let mask: UInt8
    var k = 0

    mutating func next() -> Int {
        guard n > 0 else { return 1 }
        let b = p[k % n]
        k += 1
        return Int(b & mask) + 1
    }
}

// MARK: chunked decoder

private struct ChunkedOutcome: Equatable {
    /// nil while more bytes are needed; otherwise bytes of the input the body used.
    var consumed: Int?
    var error: HTTPParseError?
    var bodyBytes: Int
    var data: [UInt8]
}

/// Feeds `p[0..<n]` to a fresh decoder in pieces of `pieceSize()` bytes; offsets are relative to `p`.
private func decodeChunked(_ p: UnsafePointer<UInt8>, _ n: Int, pieceSize: () -> Int) -> ChunkedOutcome {
    var decoder = ChunkedDecoder()
    var data: [UInt8] = []
    var offset = 0
    var consumed: Int? = nil
    var error: HTTPParseError? = nil
    while offset < n {
        let len = min(pieceSize(), n - offset)
        let piece = p + offset
        let r = decoder.feed(piece, len) { q, m in
            precondition(m > 0, "ChunkedDecoder: empty data run")
            precondition(q >= piece && q + m <= piece + len, "ChunkedDecoder: data run outside the bytes fed")
            data.append(contentsOf: UnsafeBufferPointer(start: q, count: m))
        }
        switch r {
        case .needMore:
            precondition(!decoder.isFinished, "ChunkedDecoder: needMore after finishing")
            offset += len
            continue
        case .done(let c):
            precondition(c > 0 && c <= len, "ChunkedDecoder: done(consumed:) outside the bytes fed")
            precondition(decoder.isFinished, "ChunkedDecoder: done but not finished")
            consumed = offset + c
        case .invalid(let e):
            error = e
        }
        break
    }
    precondition(decoder.bodyBytes == data.count, "ChunkedDecoder: bodyBytes differs from the data runs")
    if let c = consumed {
        // Feeding more after the end must not consume anything.
        if c < n {
            let again = decoder.feed(p + c, n - c) { _, _ in preconditionFailure("ChunkedDecoder: data after the end") }
            precondition(again == .done(consumed: 0), "ChunkedDecoder: finished decoder consumed more bytes")
        }
    }
    return ChunkedOutcome(consumed: consumed, error: error, bodyBytes: decoder.bodyBytes, data: data)
}

/// Decodes whole, byte by byte and in input-derived pieces; all three must agree.
@discardableResult
private func checkChunked(_ p: UnsafePointer<UInt8>, _ n: Int, seed: Splitter) -> ChunkedOutcome {
    let whole = decodeChunked(p, n) { n }
    let bytewise = decodeChunked(p, n) { 1 }
    precondition(whole == bytewise, "ChunkedDecoder: whole and byte-by-byte feeds disagree")
    var s = seed
    let pieces = decodeChunked(p, n) { s.next() }
    precondition(whole == pieces, "ChunkedDecoder: whole and piecewise feeds disagree")
    if let c = whole.consumed { precondition(c <= n, "ChunkedDecoder: consumed more than given") }
    precondition(whole.data.count <= n, "ChunkedDecoder: more data than input")
    return whole
}

// MARK: request parser

/// Invariants of a complete head parsed from `p[0..<n]`.
private func checkHead(_ h: HTTPRequestHead, _ p: UnsafePointer<UInt8>, _ n: Int, _ limits: HTTPLimits) {
    let len = h.length
    precondition(len > 0 && len <= n, "head.length outside the input")
    precondition(p[len - 1] == 0x0A, "head does not end in LF")

    let line = h.requestLine
    precondition(line.start >= 0 && line.count > 0 && line.end < len, "requestLine outside the head")
    // Only empty lines (CRLF / LF) may precede the request line.
    var i = 0
    while i < Int(line.start) {
        let c = p[i]
        precondition(c == 0x0A || (c == 0x0D && p[i + 1] == 0x0A), "non-empty bytes before the request line")
        i += 1
    }
    precondition(p[line.end] == 0x0A || (p[line.end] == 0x0D && p[line.end + 1] == 0x0A),
                 "request line does not end at a line end")
    precondition(line.count <= limits.maxRequestLine, "request line longer than the limit")
    precondition(len - Int(line.start) <= limits.maxHeadSize, "head larger than the limit")

    let m = h.methodSpan
    let t = h.target
    precondition(m.start == line.start && m.count > 0 && m.end < line.end, "method span outside the request line")
    precondition(t.start > m.end && t.count > 0 && t.end < line.end, "target span outside the request line")
    precondition(p[m.end] == 0x20 && t.start == m.end + 1 && p[t.end] == 0x20, "method/target not SP separated")
    for j in Int(t.start)..<t.end {
        precondition(p[j] > 0x20 && p[j] < 0x7F && p[j] != 0x23, "control, space, 8-bit or '#' byte in target")
    }
    // Origin and authority are pieces of the target: origin-form and '*' are their own origin; an
    // absolute-form target splits into an authority (a valid host) and what follows it.
    let o = h.origin, a = h.authority
    precondition(o.count == 0 || (o.start >= t.start && o.end <= t.end), "origin outside the target")
    precondition(a.count == 0 || (a.start >= t.start && a.end <= t.end), "authority outside the target")
    if p[Int(t.start)] == 0x2F || p[Int(t.start)] == 0x2A {
        precondition(o == t && a.count == 0, "origin-form target not its own origin")
    } else if h.method != .connect {
        precondition(a.count > 0 && o.end == t.end && o.start == a.end, "absolute-form target not split at its authority")
        precondition(o.count == 0 || p[Int(o.start)] == 0x2F || p[Int(o.start)] == 0x3F, "absolute-form origin not a path or query")
    }
    precondition(h.minorVersion <= 1, "minorVersion is not 0 or 1")

    precondition(h.headers.count <= limits.maxHeaderCount, "more headers than the limit")
    var previousEnd = line.end
    for f in h.headers {
        precondition(f.name.count > 0, "empty header name")
        precondition(Int(f.name.start) > previousEnd && f.name.end < len, "header name outside the head")
        precondition(p[f.name.end] == 0x3A, "header name not followed by a colon")
        precondition(f.value.count >= 0 && Int(f.value.start) > f.name.end && f.value.end < len,
                     "header value outside the head")
        for j in Int(f.value.start)..<f.value.end {
            precondition(p[j] != 0x0D && p[j] != 0x0A && p[j] != 0, "CR, LF or NUL in a header value")
        }
        previousEnd = f.value.end
    }

    precondition(h.contentLength >= -1, "contentLength below -1")
    precondition(!(h.isChunked && h.contentLength >= 0), "both chunked and Content-Length")
    precondition(h.hostIndex >= -1 && h.hostIndex < h.headers.count, "hostIndex out of range")
    if h.hostIndex >= 0 { precondition(h.headers[h.hostIndex].known == .host, "hostIndex is not a Host field") }
    if h.minorVersion == 1 { precondition(h.hostIndex >= 0, "HTTP/1.1 request without Host accepted") }
    if h.isChunked { precondition(h.minorVersion == 1, "chunked HTTP/1.0 request accepted") }
    precondition(h.hasBody == (h.isChunked || h.contentLength > 0), "hasBody inconsistent")
}

/// Parses `p[0..<n]` (which ends where the input ends) in growing prefixes, each copied into an exact-size
/// allocation, the way a server re-parses its read buffer after each read. Stops at the first verdict that
/// is not needMore, or when every byte has been fed.
private func parseIncrementally(_ p: UnsafePointer<UInt8>, _ n: Int, _ limits: HTTPLimits,
                                pieceSize: () -> Int) -> (Verdict, fedBytes: Int) {
    var parser = HTTPRequestParser(limits: limits)
    var fed = 0
    var last = Verdict.needMore
    while fed < n {
        fed = min(n, fed + pieceSize())
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: fed, alignment: 1)
        defer { copy.deallocate() }
        copy.copyMemory(from: UnsafeRawBufferPointer(start: p, count: fed))
        let r = parser.parse(UnsafeRawBufferPointer(copy))
        last = verdict(r, parser)
        if case .complete(let s) = last {
            checkHead(parser.head, copy.baseAddress!.assumingMemoryBound(to: UInt8.self), fed, limits)
            precondition(s.length <= fed, "incremental head longer than the bytes fed")
        }
        if last != .needMore { break }
    }
    return (last, fed)
}

private func compare(_ oneShot: Verdict, _ incremental: Verdict, _ what: String) {
    // Same verdict kind; for a complete head the same head, for an invalid one the same error.
    precondition(oneShot.kind == incremental.kind, "\(what): one-shot \(oneShot), incremental \(incremental)")
    if oneShot.kind != 0 {
        precondition(oneShot == incremental, "\(what): one-shot \(oneShot), incremental \(incremental)")
    }
}

/// One pass over the input as a server connection would see it: pipelined requests until one is not
/// complete, bodies skipped. Each request is also parsed incrementally and the verdicts compared.
private func fuzzConnection(_ data: UnsafePointer<UInt8>, _ size: Int, _ limits: HTTPLimits) {
    var parser = HTTPRequestParser(limits: limits)   // reused with reset(), as BackendConnection does
    var offset = 0
    var requests = 0
    while offset < size && requests < 16 {
        requests += 1
        let p = data + offset
        let n = size - offset
        let r = parser.parse(UnsafeRawBufferPointer(start: p, count: n))
        let one = verdict(r, parser)

        // (b) incremental, with two input-derived split patterns and, for short inputs, byte by byte.
        var s1 = Splitter(p: data, n: size, mask: 0x0F)
        let (inc1, _) = parseIncrementally(p, n, limits) { s1.next() }
        compare(one, inc1, "incremental (pieces of 1...16) and one-shot parse disagree")
        var s2 = Splitter(p: data, n: size, mask: 0xFF)
        let (inc2, _) = parseIncrementally(p, n, limits) { s2.next() }
        compare(one, inc2, "incremental (pieces of 1...256) and one-shot parse disagree")
        if n <= 600 {
            let (inc3, _) = parseIncrementally(p, n, limits) { 1 }
            compare(one, inc3, "byte-by-byte and one-shot parse disagree")
        }

        guard case .complete(let summary) = one else { return }

        // (c) invariants, and a re-parse of exactly the head's bytes gives the same head.
        let head = parser.head
        checkHead(head, p, n, limits)
        var again = HTTPRequestParser(limits: limits)
        let exact = again.parse(UnsafeRawBufferPointer(start: p, count: head.length))
        precondition(verdict(exact, again) == one, "re-parsing exactly head.length bytes gives another head")
        _ = summary

        var next = head.length
        let rest = n - head.length
        if head.isChunked {
            let body = checkChunked(p + head.length, rest, seed: Splitter(p: data, n: size, mask: 0x07))
            guard let used = body.consumed else { return }
            precondition(used <= rest, "chunked body consumed more than the bytes after the head")
            next += used
        } else if head.contentLength > 0 {
            if head.contentLength > rest { return }
            next += head.contentLength
        }
        parser.reset()
        offset += next
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    for limits in limitSets {
        fuzzConnection(data, size, limits)
    }
    // (d) the chunked decoder on the raw input.
    checkChunked(data, size, seed: Splitter(p: data, n: size, mask: 0x1F))
    return 0
}

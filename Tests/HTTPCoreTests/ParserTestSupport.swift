@testable import HTTPCore

/// Parses `text` in one go and returns the verdict plus the head (valid only for `.complete`).
func parse(_ text: String, limits: HTTPLimits = .default) -> (HTTPRequestParser.Result, HTTPRequestHead, [UInt8]) {
    let bytes = Array(text.utf8)
    var parser = HTTPRequestParser(limits: limits)
    let result = bytes.withUnsafeBytes { parser.parse($0) }
    return (result, parser.head, bytes)
}

/// The status a rejected request gets, or nil when it was accepted or incomplete.
func rejection(_ text: String, limits: HTTPLimits = .default) -> Int? {
    if case .invalid(let e) = parse(text, limits: limits).0 { return e.status.code }
    return nil
}

func isComplete(_ text: String) -> Bool {
    parse(text).0 == .complete
}

extension HTTPRequestHead {
    func text(_ span: ByteSpan, _ bytes: [UInt8]) -> String {
        String(decoding: bytes[Int(span.start)..<span.end], as: UTF8.self)
    }

    func headerPairs(_ bytes: [UInt8]) -> [(String, String)] {
        headers.map { (text($0.name, bytes), text($0.value, bytes)) }
    }
}

/// A strict RFC 8259 parser producing `JSONValue` with object members in file order. Errors carry the
/// line and column of the offending byte, so "invalid JSON" can point at the spot to fix.
public struct OrderedJSONParser {
    public struct SyntaxError: Error, Equatable {
        public var line: Int
        public var column: Int
        public var message: String

        public var description: String { "invalid JSON at line \(line), column \(column): \(message)" }
    }

    /// Parses a whole document: one value, surrounded only by whitespace. `whenEmpty` is the message
    /// for a document with no value at all, where the caller can say what it expected.
    public static func parse(_ bytes: [UInt8], whenEmpty: String = "the document is empty") throws(SyntaxError) -> JSONValue {
        var parser = OrderedJSONParser(bytes: bytes)
        // A UTF-8 byte-order mark is legal to ignore (RFC 8259 §8.1); some editors write one.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.offset = 3 }
        parser.skipWhitespace()
        if parser.atEnd { throw parser.error(whenEmpty) }
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if !parser.atEnd { throw parser.error("unexpected \(parser.describeCurrent()) after the end of the document") }
        return value
    }

    /// Nesting deeper than this is refused instead of risking the stack; topologies nest 4 levels.
    public static let maxDepth = 64

    private let bytes: [UInt8]
    private var offset = 0

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private var atEnd: Bool { offset >= bytes.count }
    private var current: UInt8? { atEnd ? nil : bytes[offset] }

    private mutating func parseValue(depth: Int) throws(SyntaxError) -> JSONValue {
        if depth > Self.maxDepth { throw error("nested more than \(Self.maxDepth) levels deep") }
        guard let c = current else { throw error("expected a value, found the end of the file") }
        switch c {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("expected a value, found \(describeCurrent())\(quoteHint)")
        }
    }

    private mutating func parseObject(depth: Int) throws(SyntaxError) -> JSONValue {
        offset += 1  // {
        var members: [JSONMember] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") { offset += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else {
                throw error("expected a key in double quotes, found \(describeCurrent())\(quoteHint)")
            }
            let key = try parseString()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error("expected ':' after the key \"\(key)\", found \(describeCurrent())") }
            offset += 1
            skipWhitespace()
            members.append(JSONMember(key: key, value: try parseValue(depth: depth + 1)))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "}"): offset += 1; return .object(members)
            default: throw error("expected ',' or '}' after the value of \"\(key)\", found \(describeCurrent())")
            }
            skipWhitespace()
            if current == UInt8(ascii: "}") { throw error("trailing comma before '}' (JSON allows none)") }
        }
    }

    private mutating func parseArray(depth: Int) throws(SyntaxError) -> JSONValue {
        offset += 1  // [
        var items: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { offset += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "]"): offset += 1; return .array(items)
            default: throw error("expected ',' or ']' in an array, found \(describeCurrent())")
            }
            skipWhitespace()
            if current == UInt8(ascii: "]") { throw error("trailing comma before ']' (JSON allows none)") }
        }
    }

    private mutating func parseString() throws(SyntaxError) -> String {
        let start = offset
        offset += 1  // opening quote
        var scalars = String.UnicodeScalarView()
        var run = offset  // start of the bytes copied as they are
        func flush(_ end: Int) { scalars.append(contentsOf: String(decoding: bytes[run..<end], as: UTF8.self).unicodeScalars) }
        while let byte = current {
            switch byte {
            case UInt8(ascii: "\""):
                flush(offset)
                offset += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                flush(offset)
                offset += 1
                scalars.append(try parseEscape())
                run = offset
            case 0..<0x20:
                throw error(byte == 0x0A ? "line break inside a string (write \\n, or close the quote)" : "control character inside a string (escape it as \\u00XX)")
            default:
                offset += 1
            }
        }
        offset = start
        throw error("string is never closed (missing \")")
    }

    private mutating func parseEscape() throws(SyntaxError) -> Unicode.Scalar {
        guard let c = current else { throw error("unfinished escape at the end of the file") }
        offset += 1
        switch c {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let first = try parseHex4()
            guard (0xD800...0xDBFF).contains(first) else {
                guard !(0xDC00...0xDFFF).contains(first), let scalar = Unicode.Scalar(first) else {
                    throw error("\\u escape names a lone low surrogate")
                }
                return scalar
            }
            // A high surrogate must be followed by an escaped low surrogate: "\uD83D\uDE00".
            guard current == UInt8(ascii: "\\"), offset + 1 < bytes.count, bytes[offset + 1] == UInt8(ascii: "u") else {
                throw error("\\u escape names a high surrogate without its low half")
            }
            offset += 2
            let second = try parseHex4()
            guard (0xDC00...0xDFFF).contains(second),
                  let scalar = Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)) else {
                throw error("\\u escape pairs a high surrogate with something other than a low one")
            }
            return scalar
        default:
            offset -= 1
            throw error("unknown escape '\\\(Character(Unicode.Scalar(c)))' (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)")
        }
    }

    private mutating func parseHex4() throws(SyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let c = current, let digit = Self.hexDigit(c) else { throw error("\\u needs four hex digits") }
            value = value << 4 | digit
            offset += 1
        }
        return value
    }

    private static func hexDigit(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(c - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    /// number = [ "-" ] int [ frac ] [ exp ]; int has no leading zeros.
    private mutating func parseNumber() throws(SyntaxError) -> JSONValue {
        let start = offset
        if current == UInt8(ascii: "-") { offset += 1 }
        if current == UInt8(ascii: "0") {
            offset += 1
            if let c = current, Self.isDigit(c) { throw error("numbers cannot have leading zeros") }
        } else {
            guard try skipDigits() > 0 else { throw error("expected a digit, found \(describeCurrent())") }
        }
        if current == UInt8(ascii: ".") {
            offset += 1
            guard try skipDigits() > 0 else { throw error("expected a digit after '.', found \(describeCurrent())") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            offset += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { offset += 1 }
            guard try skipDigits() > 0 else { throw error("expected a digit in the exponent, found \(describeCurrent())") }
        }
        let literal = String(decoding: bytes[start..<offset], as: UTF8.self)
        guard let value = Double(literal) else {
            offset = start
            throw error("number \(literal) is out of range")
        }
        return .number(value, literal: literal)
    }

    private mutating func skipDigits() throws(SyntaxError) -> Int {
        let start = offset
        while let c = current, Self.isDigit(c) { offset += 1 }
        return offset - start
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private mutating func expectWord(_ word: StaticString) throws(SyntaxError) {
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes.count - offset >= expected.count, bytes[offset..<offset + expected.count].elementsEqual(expected) else {
            throw error("expected a value, found \(describeCurrent())\(quoteHint)")
        }
        offset += expected.count
    }

    private mutating func skipWhitespace() {
        while let c = current, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { offset += 1 }
    }

    /// Words and single quotes where a value belongs are almost always strings missing their quotes.
    private var quoteHint: String {
        guard let c = current else { return "" }
        let isLetter = (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z")
        return isLetter || c == UInt8(ascii: "'") ? " (JSON strings need double quotes)" : ""
    }

    /// The token at the current offset as a user would name it.
    private func describeCurrent() -> String {
        guard !atEnd else { return "the end of the file" }
        let rest = bytes[offset...].prefix(while: { $0 > 0x20 && $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: "}") && $0 != UInt8(ascii: "]") })
        let token = String(decoding: rest.isEmpty ? bytes[offset...offset] : rest.prefix(20), as: UTF8.self)
        return "'\(token)'"
    }

    /// An error at the current offset, with 1-based line and column (columns count characters).
    private func error(_ message: String) -> SyntaxError {
        let upTo = bytes[..<min(offset, bytes.count)]
        let lineStart = upTo.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let line = upTo.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
        let column = String(decoding: bytes[lineStart..<upTo.endIndex], as: UTF8.self).count + 1
        return SyntaxError(line: line, column: column, message: message)
    }
}

import JSON
import Testing

/// Writing JSON for the admin API and the control socket: what other tools (curl | jq, the supervisor,
/// Python's json) read back.
@Suite struct JSONTextTests {
    @Test func compact_inTheOrderGiven() {
        let value = JSONValue.object([
            JSONMember(key: "z", value: .integer(3)),
            JSONMember(key: "a", value: .array([.bool(true), .bool(false), .null, .string("x")])),
            JSONMember(key: "empty", value: .object([])),
        ])
        #expect(value.text == #"{"z":3,"a":[true,false,null,"x"],"empty":{}}"#)
    }

    @Test func sortedObject_sortsByKey() {
        let value = JSONValue.sortedObject(["weight": .integer(1), "address": .string("127.0.0.1:9001"), "active": .integer(0)])
        #expect(value.text == #"{"active":0,"address":"127.0.0.1:9001","weight":1}"#)
    }

    @Test func integers_exactBeyondDoublePrecision() {
        #expect(JSONValue.integer(UInt64.max).text == "18446744073709551615")
        #expect(JSONValue.integer(-42).text == "-42")
    }

    @Test func strings_escapeWhatRFC8259Requires_andKeepSlashes() {
        let value = JSONValue.string("a\"b\\c/d\n\r\t\u{08}\u{0C}\u{01}\u{1F} é 😀")
        #expect(value.text == #""a\"b\\c/d\n\r\t\b\f\u0001\u001f é 😀""#)
    }

    /// Whatever we write, our own parser (the one topology files go through) reads back unchanged.
    @Test func roundTrip_throughTheParser() throws {
        let value = JSONValue.object([
            JSONMember(key: "name \"quoted\"", value: .string("line\nbreak\u{7F}\u{00}")),
            JSONMember(key: "list", value: .array([.integer(0), .number(-2.5, literal: "-2.5"), .array([]), .null])),
            JSONMember(key: "nested", value: .sortedObject(["b": .bool(false), "a": .string("😀")])),
        ])
        let parsed = try OrderedJSONParser.parse(Array(value.text.utf8))
        #expect(parsed == value)
    }

    @Test func subscript_findsAMemberOfAnObjectOnly() throws {
        let value = try OrderedJSONParser.parse(Array(#"{"address": "127.0.0.1:9004", "weight": 2}"#.utf8))
        #expect(value["address"] == .string("127.0.0.1:9004"))
        #expect(value["weight"] == .number(2, literal: "2"))
        #expect(value["missing"] == nil)
        #expect(JSONValue.array([.integer(1)])["address"] == nil)
    }

    @Test func emptyDocument_saysWhatTheCallerExpected() {
        do {
            _ = try OrderedJSONParser.parse([], whenEmpty: "the body is empty; expected an object")
            Issue.record("an empty document parsed")
        } catch {
            #expect(error.description == "invalid JSON at line 1, column 1: the body is empty; expected an object")
        }
    }
}

import JSON
import Testing
@testable import Supervisor

/// The ordered JSON parser and the did-you-mean distance underneath the loader.
@Suite struct TopologyJSONTests {
    func parse(_ text: String) throws(OrderedJSONParser.SyntaxError) -> JSONValue {
        try OrderedJSONParser.parse(Array(text.utf8))
    }

    @Test func objects_keepFileOrder() throws {
        let value = try parse(#"{"z": 1, "a": [true, null, -2.5e1], "m": "x\u00e9\n\ud83d\ude00"}"#)
        guard case .object(let members) = value else { Issue.record("not an object"); return }
        #expect(members.map(\.key) == ["z", "a", "m"])
        #expect(members[1].value == .array([.bool(true), .null, .number(-25, literal: "-2.5e1")]))
        #expect(members[2].value == .string("xé\n😀"))
    }

    @Test func syntaxErrors_carryLineAndColumn() {
        let cases: [(String, Int, Int)] = [
            ("{\n  \"a\": tru\n}", 2, 8), ("[1, 2", 1, 6), ("{\"a\": 01}", 1, 8), ("\"abc", 1, 1), ("{} x", 1, 4), ("", 1, 1),
        ]
        for (text, line, column) in cases {
            do {
                _ = try parse(text)
                Issue.record("\(text) parsed")
            } catch {
                #expect((error.line, error.column) == (line, column), "\(text): \(error.description)")
            }
        }
    }

    @Test func editDistance_countsSwapsAsOneEdit() {
        #expect(Suggestion.editDistance("prot", "port") == 1)
        #expect(Suggestion.editDistance("bakend", "backend") == 1)
        #expect(Suggestion.closest(to: "prot", in: ["program", "port", "root"]) == "port")
        #expect(Suggestion.closest(to: "zzz", in: ["port"]) == nil)
    }

    @Test func durations_acceptUnitsAndSeconds() throws {
        #expect(try DurationText.milliseconds(.string("500ms"), at: "d", allowZero: false) == 500)
        #expect(try DurationText.milliseconds(.string("1.5s"), at: "d", allowZero: false) == 1500)
        #expect(try DurationText.milliseconds(.string("1m"), at: "d", allowZero: false) == 60_000)
        #expect(try DurationText.milliseconds(.number(2, literal: "2"), at: "d", allowZero: false) == 2000)
        #expect(throws: TopologyProblem.self) { try DurationText.milliseconds(.string("0s"), at: "d", allowZero: false) }
        #expect(throws: TopologyProblem.self) { try DurationText.milliseconds(.string("5 s"), at: "d", allowZero: false) }
    }
}

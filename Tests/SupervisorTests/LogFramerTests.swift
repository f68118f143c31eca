import NetCore
import Testing
@testable import Supervisor

/// Line framing and name prefixes, without pipes: bytes in, lines out.
@Suite struct LogFramerTests {
    /// Feeds `chunks` one at a time and collects the lines (with "+" appended to continued pieces).
    func frame(_ chunks: [[UInt8]], maxLine: Int = 16, eof: Bool = true) -> [String] {
        let buffer = ByteBuffer(capacity: 64)
        var framer = LineFramer(maxLine: maxLine)
        var lines: [String] = []
        func drain(_ atEOF: Bool) {
            while let line = framer.next(buffer, atEOF: atEOF) {
                let text = String(decoding: UnsafeBufferPointer(start: line.start, count: line.count), as: UTF8.self)
                lines.append(text + (line.continued ? "+" : ""))
            }
        }
        for chunk in chunks {
            buffer.append(chunk)
            drain(false)
        }
        if eof { drain(true) }
        return lines
    }

    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func partialLines_waitForTheirEnd() {
        #expect(frame([bytes("hel"), bytes("lo\nwor"), bytes("ld\n")]) == ["hello", "world"])
        #expect(frame([bytes("a\nb\nc\n")]) == ["a", "b", "c"])
        #expect(frame([bytes("x\n"), bytes("unfinished")], eof: false) == ["x"])
    }

    @Test func finalLineWithoutNewline_isEmittedAtEOF() {
        #expect(frame([bytes("a\nlast")]) == ["a", "last"])
    }

    @Test func crlf_isOneLineEnd_andEmptyLinesSurvive() {
        #expect(frame([bytes("a\r\nb\r"), bytes("\nc\n\n")]) == ["a", "b", "c", ""])
    }

    @Test func longLine_comesOutInMaxLinePieces() {
        let line = String(repeating: "x", count: 40)
        #expect(frame([bytes(line + "\n")]) == [String(repeating: "x", count: 16) + "+",
                                               String(repeating: "x", count: 16) + "+",
                                               String(repeating: "x", count: 8)])
        // Arriving a byte at a time changes nothing.
        #expect(frame(bytes(line + "\n").map { [$0] }) == frame([bytes(line + "\n")]))
        // Exactly maxLine bytes, then "\r\n": one line, not a piece and an empty line.
        #expect(frame([bytes(String(repeating: "y", count: 16) + "\r\n")]) == [String(repeating: "y", count: 16)])
    }

    @Test func pieces_endOnUTF8Boundaries() {
        // 15 ASCII bytes then "é" (2 bytes): a cut at 16 would split "é"; it moves back to 15.
        let lines = frame([bytes(String(repeating: "a", count: 15) + "éz\n")])
        #expect(lines == [String(repeating: "a", count: 15) + "+", "éz"])
    }

    @Test func invalidUTF8_isNotTouched() {
        let buffer = ByteBuffer(capacity: 64)
        buffer.append([0xFF, 0xFE, 0x41, 0x0A])
        var framer = LineFramer()
        let line = framer.next(buffer, atEOF: false)
        #expect(line.map { Array(UnsafeBufferPointer(start: $0.start, count: $0.count)) } == [0xFF, 0xFE, 0x41])
    }

    @Test func names_arePaddedOrTruncatedKeepingTheInstance() {
        #expect(LinePrefix.fit("balancer", width: 12) == "balancer    ")
        #expect(LinePrefix.fit("backend.3", width: 12) == "backend.3   ")
        #expect(LinePrefix.fit("very-long-service.3", width: 12) == "very-long….3")
        #expect(LinePrefix.fit("very-long-service", width: 12) == "very-long-s…")
        #expect(LinePrefix.fit("x.12345678901", width: 6) == "x.123…")
    }

    @Test func prefix_marksStderrAndColoursOnlyTheName() {
        let out = LinePrefix(name: "backend.1", width: 10, colorIndex: 0, isStderr: false)
        #expect(String(decoding: out.plain, as: UTF8.self) == "backend.1  | ")
        #expect(String(decoding: out.colored, as: UTF8.self) == "\u{1B}[36mbackend.1 \u{1B}[0m | ")
        let err = LinePrefix(name: "backend.1", width: 10, colorIndex: nil, isStderr: true)
        #expect(String(decoding: err.plain, as: UTF8.self) == "backend.1  ! ")
        #expect(err.colored == err.plain)
    }
}

import Foundation
import Glibc

/// Progress for a long run: a bar redrawn in place on a terminal, plain lines otherwise. Rows are
/// printed as they finish, so an interrupted run still showed everything it measured.
final class BenchProgress {
    private let total: Int
    private var done = 0
    private let terminal = isatty(2) != 0
    private let started = Date()

    init(total: Int) { self.total = total }

    func header(_ columns: [String]) {
        print(BenchReport.textRow(columns))
        fflush(nil)
    }

    func starting(_ what: String) {
        if terminal {
            let width = 30
            let filled = total == 0 ? 0 : width * done / total
            let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "") + String(repeating: " ", count: max(0, width - filled - 1))
            let line = "\r[\(bar)] \(done + 1)/\(total) \(what) (\(Int(Date().timeIntervalSince(started)))s)\u{1B}[K"
            FileHandle.standardError.write(Data(line.utf8))
        } else {
            FileHandle.standardError.write(Data("run \(done + 1)/\(total): \(what)\n".utf8))
        }
    }

    func finished(_ cells: [String]) {
        done += 1
        if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        print(BenchReport.textRow(cells))
        fflush(nil)
    }
}

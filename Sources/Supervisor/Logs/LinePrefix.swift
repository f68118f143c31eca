/// What goes between the stamp and a line's text for one source, built once when the source is attached:
/// `backend.3    | ` (plain, for the file and subscribers) and the same with the name coloured (terminal).
/// stderr lines use `!` instead of `|`, so they stand out even without colour and survive grep.
struct LinePrefix {
    let plain: [UInt8]
    let colored: [UInt8]

    init(name: String, width: Int, colorIndex: Int?, isStderr: Bool) {
        let shown = Self.fit(name, width: width)
        let separator = isStderr ? " ! " : " | "
        plain = Array((shown + separator).utf8)
        if let colorIndex {
            colored = Array((Self.color(colorIndex) + shown + "\u{1B}[0m" + separator).utf8)
        } else {
            colored = plain
        }
    }

    /// Basic ANSI colours, red last because red reads as an error; they cycle by colour index. The basic
    /// six (not the 256-colour set) look right on every terminal and every theme.
    static let palette = ["\u{1B}[36m", "\u{1B}[33m", "\u{1B}[32m", "\u{1B}[35m", "\u{1B}[34m", "\u{1B}[31m"]
    /// The supervisor's own lines: bold in the terminal's default colour, unlike any child.
    static let supervisorColor = "\u{1B}[1m"

    static func color(_ index: Int) -> String {
        index < 0 ? supervisorColor : palette[index % palette.count]
    }

    /// Pads or truncates a name to `width` characters. Truncation keeps an instance suffix (`.3`) and marks
    /// the cut with "…", so `very-long-service.3` stays distinguishable from `.4`.
    static func fit(_ name: String, width: Int) -> String {
        let width = max(width, 1)
        let length = name.count
        if length <= width { return name + String(repeating: " ", count: width - length) }
        var suffix = ""
        if let dot = name.lastIndex(of: "."), name.index(after: dot) < name.endIndex,
           name[name.index(after: dot)...].allSatisfy(\.isNumber) {
            suffix = String(name[dot...])
        }
        if suffix.count + 2 > width { suffix = "" }
        return String(name.prefix(width - suffix.count - 1)) + "…" + suffix
    }
}

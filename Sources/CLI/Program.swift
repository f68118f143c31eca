#if canImport(Glibc)
import Glibc
#endif

/// The conventions every program follows: `--help` prints usage and exits 0; a usage error prints the
/// reason and a hint and exits 2 (a wrong input file: the reason, exit 2); a runtime error prints its message and exits 1; never a stack trace.
public enum Program {
    public static func run(name: String, usage: String, arguments: [String] = Array(CommandLine.arguments.dropFirst()),
                           _ body: (inout Arguments) throws -> Int32) -> Never {
        var args = Arguments(arguments, program: name)
        if args.wantsHelp {
            print(usage, terminator: usage.hasSuffix("\n") ? "" : "\n")
            exit(0)
        }
        do {
            let code = try body(&args)
            exit(code)
        } catch let error as UsageError {
            printError("\(name): \(error.message)\nTry '\(name) --help' for more information.")
            exit(2)
        } catch let error as InvalidInputError {
            printError("\(name): \(error.message)")
            exit(2)
        } catch let error as RuntimeError {
            printError("\(name): \(error.message)")
            exit(1)
        } catch {
            printError("\(name): \(error)")
            exit(1)
        }
    }

    public static func printError(_ text: String) {
        let line = text.hasSuffix("\n") ? text : text + "\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}

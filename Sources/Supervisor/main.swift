import CLI
import Glibc

let usage = """
Usage: supervisor <command> [arguments]

Runs a whole web topology from one file: starts every service in dependency order, holds their
listening sockets (a restart never loses its port), checks their health, restarts them when they crash
or fail their checks, merges their logs into one stream, and scales services live.

Commands:
  up FILE [--detach] [--no-color]   start the topology; print the merged log until Ctrl-C (or SIGTERM),
                                    then stop everything in reverse order. --detach: run in the
                                    background and return once everything is healthy
  status [FILE] [--json]            every instance: name, pid, port, state, restarts, uptime, memory
  logs [FILE] [-f] [-n N] [NAME…]   the merged log (last N lines; -f follows); NAME is a service
                                    (backend) or an instance (backend.3)
  scale [FILE] SERVICE=N            run N instances of SERVICE, within its "scale" range: new ones join
                                    the balancer once healthy, removed ones are drained first
  restart [FILE] NAME               stop and start a service or one instance (its port stays open)
  stop [FILE] NAME                  drain it out of balancers and stop it
  start [FILE] NAME                 start it again
  down [FILE]                       stop everything and the supervisor
  bench FILE [options]              rerun the seeds' experiments: for each backend count (scaled live)
                                    × model × keep-alive × concurrency, a verified load and a table row;
                                    results as Markdown, CSV, JSON and SVG charts (see `bench --help`)
  load URL [-c N] [-n N | -d DUR] [-s DUR] [-k]
                                    the built-in load generator on one URL (ab-style report; see
                                    `load --help`)

Bench options (defaults in brackets):
\(CommandHelp.benchOptions)

FILE is needed only when several topologies run in this folder. The run folder is ./.run/<topology>/:
control socket, merged log (supervisor.log, rotated at 10 MB), admin sockets.
`supervisor <command> --help` shows one command's usage.
Examples:
  supervisor up topologies/lb5.json
  supervisor scale backend=3
  supervisor logs -f -n 50 balancer
"""

// `supervisor <command> --help`: that command's usage (the command comes first, as in git).
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments == [GroupGuard.command] { exit(GroupGuard.run()) }   // started by `up` itself, not by users
if let command = arguments.first, let help = CommandHelp.usage(of: command), arguments.contains("--help") || arguments.contains("-h") {
    print(help)
    exit(0)
}

Program.run(name: "supervisor", usage: usage, arguments: arguments) { args in
    guard let command = args.positional() else {
        if let first = args.remaining.first { throw UsageError("unknown option '\(first)'; a command comes first: \(CommandHelp.list)") }
        throw UsageError("a command is needed: \(CommandHelp.list)")
    }
    switch command {
    case "up": return try UpCommand.run(&args)
    case "status", "ps": return try StatusCommand.run(&args)
    case "logs": return try LogsCommand.run(&args)
    case "scale": return try ControlCommands.scale(&args)
    case "restart", "stop", "start": return try ControlCommands.instanceCommand(command, &args)
    case "down": return try ControlCommands.down(&args)
    case "load": return try LoadCommand.run(&args)
    case "bench": return try BenchCommand.run(&args)
    default: throw UsageError("unknown command '\(command)'\(Suggestion.hint(for: command, in: CommandHelp.commands)): use \(CommandHelp.list)")
    }
}

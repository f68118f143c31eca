/// `supervisor <command> --help`: that command's usage, not the whole program's.
enum CommandHelp {
    static let commands = ["up", "status", "logs", "scale", "restart", "stop", "start", "down", "bench", "load"]
    /// For messages: "up, status, …, bench or load".
    static var list: String { commands.dropLast().joined(separator: ", ") + " or " + commands.last! }

    /// Bench's options, in `bench --help` and in the program's own help.
    static let benchOptions = """
          --backends 1-5 | 1,3,5            backend counts [the service's scale range]
          --concurrency 1,2,5,10,50,100     concurrent connections [1,2,5,10,50,100]
          --requests N | --duration DUR     per row, after a warm-up of --warmup N requests [10000; warm-up 500]
          --keepalive on|off|both           [both]
          --model event,thread,prefork      backend models to compare (rolling restart between) [event]
          --target balancer|proxy|backend   what the load goes to [balancer]
          --path PATH                       what is requested [/page.html]
          --out DIR                         where results go [.run/<topology>/bench-<time>]
          --compare FILE.json               print the change against an earlier run's results.json
          --chaos kill-backend              SIGKILL one backend halfway through each row
        The topology is started for the run (and stopped after) unless it is already running, in which
        case its backend count and arguments are put back afterwards.
        """

    static func usage(of command: String) -> String? {
        switch command {
        case "up": return """
            Usage: supervisor up FILE [--detach] [--no-color]

            Checks the topology file, holds every service's port, starts the services in dependency order
            and prints the merged log until Ctrl-C (or SIGTERM), then stops everything in reverse order.
              --detach     run in the background; return once everything is healthy
              --no-color   no colours in the merged log (also NO_COLOR, or when not on a terminal)
            When the topology already runs here, an unchanged file leaves it be; an edited one is applied
            to it: changed services are recreated one instance at a time, new ones started, removed ones
            drained and stopped, and the rest left alone; instances that had failed are started again.
            """
        case "status", "ps": return """
            Usage: supervisor status [FILE] [--json]

            Every instance of the running topology: name, pid, port, state, restarts, uptime, memory.
              --json       the same as a JSON array
            FILE is needed only when several topologies run in this folder.
            """
        case "logs": return """
            Usage: supervisor logs [FILE] [-f] [-n N] [NAME…]

            The merged log (.run/<topology>/supervisor.log and its rotated files), also after the
            topology has stopped. NAME is a service (backend) or an instance (backend.3) of the topology.
              -n, --tail N    only the last N lines
              -f, --follow    then print new lines as they come, until the supervisor stops or Ctrl-C
            """
        case "scale": return """
            Usage: supervisor scale [FILE] SERVICE=N…

            Runs N instances of SERVICE, within its "scale" range: new ones join the balancer once
            healthy, removed ones are drained out of it first, then stopped.
            """
        case "restart", "stop", "start": return """
            Usage: supervisor restart|stop|start [FILE] NAME

            NAME is a service (backend) or one instance (backend.3).
              restart   stop it gracefully and start it again (its port stays open meanwhile)
              stop      drain it out of balancers and stop it
              start     start it again
            """
        case "down": return """
            Usage: supervisor down [FILE]

            Stops every service in reverse dependency order, then the supervisor.
            """
        case "bench": return """
            Usage: supervisor bench FILE [options]

            Reruns the seeds' experiments: for each backend count (scaled live) × model × keep-alive ×
            concurrency, a warm-up and a verified load, one table row each; results as Markdown, CSV, JSON
            and SVG charts. Options (defaults in brackets):
            \(benchOptions)
            """
        case "load": return """
            Usage: supervisor load URL [-c N] [-n N | -d DUR] [-s DUR] [-k] [--threads N]

            The built-in load generator on one http:// URL, with an ab-style report. Every response is
            checked: a short or wrong-length body, a broken connection or a timeout is a failure.
              -c N               concurrent connections [1]
              -n N               requests to complete [10000]
              -d DUR             run for this long instead (500ms, 10s, 2m): a deadline; requests still in
                                 flight then are cut and reported, not counted
              -s, --timeout DUR  how long one request may take before it is a failure [30s]
              -k                 keep-alive
              --threads N        event loops [2, or fewer cores]
            Ctrl-C (or SIGTERM) stops the run and prints the report so far. Exit 1 when a request failed
            or the run was stopped early.
            """
        default: return nil
        }
    }
}

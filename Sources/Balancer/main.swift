import CLI

// Placeholder until its issue lands: answers --help and refuses to run.
let usage = """
Usage: balancer [options]

Not built yet: 'balancer' arrives with its own issue. Only --help works in this build.
"""
Program.run(name: "balancer", usage: usage) { args in
    throw RuntimeError("not implemented yet; see --help")
}

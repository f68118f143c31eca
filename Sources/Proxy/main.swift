import CLI

// Placeholder until its issue lands: answers --help and refuses to run.
let usage = """
Usage: proxy [options]

Not built yet: 'proxy' arrives with its own issue. Only --help works in this build.
"""
Program.run(name: "proxy", usage: usage) { args in
    throw RuntimeError("not implemented yet; see --help")
}

import CLI

// Placeholder until its issue lands: answers --help and refuses to run.
let usage = """
Usage: supervisor [options]

Not built yet: 'supervisor' arrives with its own issue. Only --help works in this build.
"""
Program.run(name: "supervisor", usage: usage) { args in
    throw RuntimeError("not implemented yet; see --help")
}

import Testing
@testable import Supervisor

/// Each way a topology file can be wrong is refused with the key path that is wrong and a reason that
/// says what to change.
@Suite struct TopologyErrorTests {
    /// A valid service to surround the one under test with.
    static let site = #""site": {"program": "backend", "root": "../www", "port": 8888}"#

    func expectError(_ json: String, at keyPath: String, saying parts: [String],
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        try TopologyTestFolder.with { folder in
            guard let error = try folder.loadError(json, sourceLocation: sourceLocation) else { return }
            #expect(error.keyPath == keyPath, sourceLocation: sourceLocation)
            for part in parts {
                #expect(error.reason.contains(part), "\(error.reason)", sourceLocation: sourceLocation)
            }
            #expect(error.description.hasPrefix(error.file + ": " + (keyPath.isEmpty ? "" : keyPath + ": ")),
                    sourceLocation: sourceLocation)
        }
    }

    @Test func unknownKey_suggestsTheNearestKnownKey() throws {
        try expectError(#"{"services": {"backend": {"program": "backend", "root": "../www", "prot": 9001}}}"#,
                        at: "services.backend.prot", saying: ["unknown key 'prot' (did you mean 'port'?)"])
        try expectError(#"{"name": "x", "servces": {}}"#, at: "servces", saying: ["did you mean 'services'?"])
        try expectError(#"{"services": {"b": {"program": "backend", "root": "../www", "port": 1, "health": {"intervall": 1}}}}"#,
                        at: "services.b.health.intervall", saying: ["did you mean 'interval'?"])
    }

    @Test func tcpModeBalancer_withAnHTTPCheck_isRefused() throws {
        // The check would be relayed to an upstream and say nothing about the balancer.
        try expectError(#"{"services": {\#(Self.site), "lb": {"program": "balancer", "port": 44444, "upstreams": "site", "mode": "tcp", "health": {"http": "/healthz"}}}}"#,
                        at: "services.lb.health.http", saying: ["tcp mode", #""tcp": true"#])
    }

    @Test func holdPort_withoutAPort_isRefused() throws {
        try expectError(#"{"services": {"w": {"program": "/bin/sleep", "args": ["9"], "hold_port": false}}}"#,
                        at: "services.w.hold_port", saying: ["has none"])
    }

    @Test func unknownPlaceholderInArgs_isRefused_withTheNearestKnownOne() throws {
        try expectError(#"{"services": {"w": {"program": "/bin/sh", "args": ["-c", "exec nc -l {prot}"]}}}"#,
                        at: "services.w.args[1]", saying: ["unknown placeholder {prot} (did you mean {port}?)", "{port}, {instance}, {name}"])
        try expectError(#"{"services": {"w": {"program": "/bin/echo", "args": ["{port}", "--id={instanse}"]}}}"#,
                        at: "services.w.args[1]", saying: ["{instanse} (did you mean {instance}?)"])
        try expectError(#"{"services": {"w": {"program": "/bin/echo", "args": ["{hostname}"]}}}"#,
                        at: "services.w.args[0]", saying: ["unknown placeholder {hostname}; args may use"])
        // Braces that are not placeholders: a shell's ${var}, find's {}, brace lists, awk and JSON.
        try TopologyTestFolder.with { folder in
            let t = try folder.load(#"""
            {"services": {"w": {"program": "/bin/sh", "args": ["-c", "echo ${port} {} {a,b} {1..3}; awk '{print $1}'",
                                                               "{\"k\": 1}", "{port}-{instance}-{name}"]}}}
            """#)
            #expect(t.services[0].args.count == 4)
        }
    }

    /// `{{word}}` is how a literal `{word}` reaches a program; a shell's `${port}` is left to the shell.
    @Test func doubledBraces_passALiteralWord_andOnlyRealPlaceholdersAreFilled() throws {
        try TopologyTestFolder.with { folder in
            let t = try folder.load(#"""
            {"services": {"w": {"program": "/bin/sh", "args": ["-c", "echo {{hostname}} {{port}}"]}}}
            """#)
            #expect(t.services[0].args.count == 2)
        }
        let values = ["port": "9001", "instance": "2", "name": "w.2"]
        #expect(ArgumentPlaceholders.fill("--port={port} {{port}} {{hostname}} ${port} {} {{}} {a,b}", values)
                == "--port=9001 {port} {hostname} ${port} {} {{}} {a,b}")
        #expect(ArgumentPlaceholders.fill("{name}{instance}{{x}}{port}", values) == "w.22{x}9001")
        #expect(ArgumentPlaceholders.fill(#"print("{{0}}".format(1)) {"k": {"v": 1}}"#, values) == #"print("{{0}}".format(1)) {"k": {"v": 1}}"#)
    }

    @Test func wrongType_namesExpectedAndActual() throws {
        try expectError(#"{"services": {"b": {"program": "backend", "root": "../www", "port": 9001, "instances": "1"}}}"#,
                        at: "services.b.instances", saying: [#"expected a whole number, got the string "1""#])
        try expectError(#"{"services": {"b": {"program": "backend", "root": "../www", "port": 9001, "workers": 1.5}}}"#,
                        at: "services.b.workers", saying: ["expected a whole number, got 1.5"])
        try expectError(#"{"services": {"b": {"program": "backend", "root": "../www", "port": 9001, "args": ["-v", 2]}}}"#,
                        at: "services.b.args[1]", saying: ["expected a string, got the number 2"])
        try expectError(#"{"services": []}"#, at: "services", saying: ["expected an object, got an array"])
        try expectError(#"{"services": {"b": {"program": "backend", "root": "../www", "port": "9001"}}}"#,
                        at: "services.b.port", saying: [#"got the string "9001""#, "without quotes"])
    }

    @Test func portUsedTwice_namesBothServicesAndTheInstance() throws {
        try expectError(#"""
            {"services": {
              "backend": {"program": "backend", "root": "../www", "scale": [1, 5], "port": "9001-9005"},
              "images": {"program": "backend", "root": "../www", "port": 9003}}}
            """#, at: "services.images.port", saying: ["port 9003 is used by both services.backend (instance 3) and services.images"])
    }

    @Test func programNotFound_listsWhereItLooked() throws {
        try expectError(#"{"services": {"web": {"program": "bakend", "root": "../www", "port": 9001}}}"#,
                        at: "services.web.program",
                        saying: ["program 'bakend' not found: not one of backend, balancer, proxy, and no such file on PATH or next to the topology",
                                 "did you mean 'backend'?"])
        try expectError(#"{"services": {"web": {"program": "./missing.sh"}}}"#,
                        at: "services.web.program", saying: ["'./missing.sh'", "not found", "/topologies/missing.sh"])
    }

    @Test func missingFolder_showsWhatItResolvedTo() throws {
        try TopologyTestFolder.with { folder in
            let error = try folder.loadError(#"{"services": {"images": {"program": "backend", "root": "../wwww", "port": 8889}}}"#)
            #expect(error?.keyPath == "services.images.root")
            #expect(error?.reason == "folder ../wwww does not exist (services.images.root resolves to \(folder.root)/wwww)")
        }
    }

    @Test func unknownDependency_isNamed() throws {
        try expectError(#"{"services": {\#(Self.site), "web": {"program": "/bin/sh", "depends_on": ["site", "db"]}}}"#,
                        at: "services.web.depends_on", saying: ["depends_on names unknown service 'db'"])
    }

    @Test func dependencyCycle_isSpelledOut() throws {
        try expectError(#"""
            {"services": {
              "a": {"program": "/bin/sh", "depends_on": ["b"]},
              "b": {"program": "/bin/sh", "depends_on": ["a"]}}}
            """#, at: "services.a.depends_on", saying: ["dependency cycle: a -> b -> a"])
        // A balancer depends on its upstreams implicitly, so that edge can close a cycle too.
        try expectError(#"""
            {"services": {
              "web": {"program": "backend", "root": "../www", "port": 9001, "depends_on": ["lb"]},
              "lb": {"program": "balancer", "port": 9002, "upstreams": "web"}}}
            """#, at: "services.web.depends_on", saying: ["dependency cycle: web -> lb -> web"])
        try expectError(#"{"services": {"a": {"program": "/bin/sh", "depends_on": ["a"]}}}"#,
                        at: "services.a.depends_on", saying: ["cannot depend on itself"])
    }

    @Test func instancesOutsideScale_isRefused() throws {
        try expectError(#"{"services": {"b": {"program": "backend", "root": "../www", "port": "9001-9010", "scale": [1, 5], "instances": 6}}}"#,
                        at: "services.b.instances", saying: ["instances 6 is outside scale [1, 5]"])
        try expectError(#"{"services": {"b": {"program": "backend", "root": "../www", "port": "9001-9010", "scale": [3, 2]}}}"#,
                        at: "services.b.scale", saying: ["scale [3, 2] must satisfy 1 <= min <= max <= 64"])
    }

    @Test func portRangeSmallerThanScale_isRefused() throws {
        try expectError(#"{"services": {"b": {"program": "backend", "root": "../www", "port": "9001-9005", "scale": [1, 6]}}}"#,
                        at: "services.b.port", saying: ["port range 9001-9005 has 5 ports but scale allows up to 6 instances"])
        try expectError(#"{"services": {"b": {"program": "backend", "root": "../www", "port": 9001, "scale": [1, 2]}}}"#,
                        at: "services.b.port", saying: ["single port", "\"9001-9002\""])
    }

    @Test func invalidJSON_pointsAtLineAndColumn() throws {
        try expectError("{\n  \"services\": {\n    \"a\": {\"program\": \"backend\"}\n    \"b\": {}\n  }\n}",
                        at: "", saying: ["invalid JSON at line 4, column 5", "expected ',' or '}'"])
        try expectError("{\"services\": {\"a\": {\"port\": 9001,}}}", at: "", saying: ["line 1, column 34", "trailing comma"])
    }

    @Test func keyForAnotherProgram_saysWhichProgramTakesIt() throws {
        try expectError(#"{"services": {\#(Self.site), "lb": {"program": "balancer", "port": 9002, "upstreams": "site", "root": "../www"}}}"#,
                        at: "services.lb.root", saying: ["'root' only applies to program backend"])
    }

    @Test func missingRequiredKey_isNamed() throws {
        try expectError(#"{"services": {"b": {"program": "backend", "port": 9001}}}"#,
                        at: "services.b.root", saying: ["missing required key 'root'"])
        try expectError(#"{"name": "x"}"#, at: "services", saying: ["missing required key 'services'"])
        try expectError(#"{"services": {\#(Self.site), "lb": {"program": "balancer", "port": 9002}}}"#,
                        at: "services.lb.upstreams", saying: ["missing required key 'upstreams'"])
    }

    @Test func referenceToServiceWithoutPort_isRefused() throws {
        try expectError(#"""
            {"services": {"job": {"program": "/bin/sh"},
                          "proxy": {"program": "proxy", "port": 18000, "routes": {"/": "job"}}}}
            """#, at: #"services.proxy.routes["/"]"#, saying: ["names service 'job', which has no port"])
        try expectError(#"{"services": {\#(Self.site), "lb": {"program": "balancer", "port": 9002, "upstreams": "sit"}}}"#,
                        at: "services.lb.upstreams", saying: ["upstreams names unknown service 'sit' (did you mean 'site'?)"])
    }

    @Test func badValues_areExplained() throws {
        try expectError(#"{"services": {\#(Self.site), "lb": {"program": "balancer", "port": 9002, "upstreams": "site", "strategy": "round_robin"}}}"#,
                        at: "services.lb.strategy", saying: ["did you mean 'round-robin'?"])
        try expectError(#"{"services": {"b": {"program": "backend", "root": "../www", "port": 9001, "health": {"interval": "fast"}}}}"#,
                        at: "services.b.health.interval", saying: [#"expected a duration such as "500ms""#])
        try expectError(#"{"services": {"b": {"program": "backend", "root": "../www", "port": 9001, "restart": {"backoff": "20s"}}}}"#,
                        at: "services.b.restart.backoff", saying: ["backoff 20s is longer than max_backoff 10s"])
        try expectError(#"{"services": {"b": {"program": "backend", "root": "../www", "port": 9001, "health": {"http": "/h", "tcp": true}}}}"#,
                        at: "services.b.health", saying: ["exactly one of"])
        try expectError(#"{"services": {"Web": {"program": "/bin/sh"}}}"#, at: "services.Web", saying: ["may only use a-z"])
        try expectError(#"{"services": {"b": {"program": "/bin/sh", "port": 9001, "port": 9002}}}"#,
                        at: "services.b.port", saying: ["appears twice"])
        try expectError(#"{"host": "localhst", "services": {\#(Self.site)}}"#, at: "host", saying: ["expected an IP address"])
    }
}

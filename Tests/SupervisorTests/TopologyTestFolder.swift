import Foundation
import Testing
@testable import Supervisor

/// A throwaway folder laid out like the repository: `topologies/` for the file under test and `www/`
/// for backends to serve, removed when the test's closure returns.
struct TopologyTestFolder {
    let root: String
    var topologies: String { root + "/topologies" }
    var www: String { root + "/www" }

    static func with<R>(_ body: (TopologyTestFolder) throws -> R) throws -> R {
        let folder = TopologyTestFolder(root: FilePaths.normalize(NSTemporaryDirectory() + "/topology-test-" + UUID().uuidString))
        defer { try? FileManager.default.removeItem(atPath: folder.root) }
        for path in [folder.topologies, folder.www] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        return try body(folder)
    }

    /// Writes `json` as topologies/<name> and returns its path.
    @discardableResult
    func write(_ json: String, as name: String = "test.json") throws -> String {
        let path = topologies + "/" + name
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Writes an executable shell script next to the topology.
    func writeScript(_ name: String) throws {
        let path = topologies + "/" + name
        try Data("#!/bin/sh\nexit 0\n".utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }

    func load(_ json: String) throws -> Topology {
        try TopologyLoader.load(path: write(json))
    }

    /// The error loading `json` gives, recording a test issue if it loads.
    func loadError(_ json: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> TopologyError? {
        let path = try write(json)
        do throws(TopologyError) {
            let topology = try TopologyLoader.load(path: path)
            Issue.record("expected an error, loaded \(topology.services.map(\.name))", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.file == path, sourceLocation: sourceLocation)
            return error
        }
    }
}

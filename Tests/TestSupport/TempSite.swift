import Foundation

/// A throwaway site folder for tests that need files of their own.
public final class TempSite {
    public let path: String

    public init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("site-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func write(_ relative: String, _ text: String) throws {
        try write(relative, Array(text.utf8))
    }

    public func write(_ relative: String, _ bytes: [UInt8]) throws {
        let url = URL(fileURLWithPath: path).appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    public func url(_ relative: String) -> URL { URL(fileURLWithPath: path).appendingPathComponent(relative) }
}

/// A file of the project's own `www/` folder, byte for byte.
public func wwwFile(_ relative: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: Binaries.www).appendingPathComponent(relative)))
}

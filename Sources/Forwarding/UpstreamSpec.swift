import CLI
import NetCore

/// An upstream as written on the command line: `HOST:PORT` or `HOST:PORT,weight=N`.
public struct UpstreamSpec: Sendable, Equatable {
    public let key: String
    public let address: SocketAddress
    public let weight: Int

    /// Parses a comma list of upstreams, each optionally followed by `weight=N`; `flags` collects any
    /// other words (a route's `strip-prefix`).
    public static func parseList(_ text: String, option: String, flags: inout [String]) throws(UsageError) -> [UpstreamSpec] {
        var result: [UpstreamSpec] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            if part.hasPrefix("weight=") {
                guard let last = result.last else { throw UsageError("\(option) '\(text)': weight= must follow an address") }
                guard let w = Int(part.dropFirst(7)), (1...1000).contains(w) else {
                    throw UsageError("\(option) '\(text)': weight must be a whole number from 1 to 1000")
                }
                result[result.count - 1] = UpstreamSpec(key: last.key, address: last.address, weight: w)
            } else if part.contains(":") {
                do {
                    let address = try SocketAddress.parse(part, defaultHost: "127.0.0.1")
                    result.append(UpstreamSpec(key: part, address: address, weight: 1))
                } catch {
                    throw UsageError("\(option) \(error)")
                }
            } else if !part.isEmpty {
                flags.append(part)
            } else {
                throw UsageError("\(option) '\(text)': empty entry")
            }
        }
        if result.isEmpty { throw UsageError("\(option) '\(text)' names no HOST:PORT") }
        var seen = Set<String>()
        for u in result where !seen.insert(u.key).inserted {
            throw UsageError("\(option) '\(text)': \(u.key) is listed twice")
        }
        return result
    }
}

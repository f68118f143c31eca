import Foundation
import Glibc

/// What idle keep-alive clients cost a server in resident memory. `count` clients connect one after
/// another; each is answered once on `path` and then stays open, idle. Returns the server's growth in
/// KB per client, taken once all of them wait (nginx holds ~0.5 KB for each, HAProxy ~1 KB).
public func residentKBPerIdleClient(pid: pid_t, count: Int, path: String = "/page.html",
                                    connect: () throws -> HTTPTestClient) throws -> Double {
    _ = try connect().request("GET", path)   // pools, caches and first-use allocations before the baseline
    let before = try ProcessStat.residentKB(pid)
    var clients: [HTTPTestClient] = []
    for _ in 0..<count {
        let client = try connect()
        let response = try client.request("GET", path)
        guard response.status == 200 else {
            throw RunningProgram.StartError(description: "GET \(path) answered \(response.status)")
        }
        clients.append(client)
    }
    let grown = try ProcessStat.residentKB(pid) - before
    withExtendedLifetime(clients) {}
    return Double(grown) / Double(count)
}

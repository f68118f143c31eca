import Foundation
import Glibc
import NetCore
import Synchronization

/// Busy keep-alive clients across a SIGTERM: eight clients send GET `target` back to back on their own
/// connections; once `before` requests are answered the program gets SIGTERM. Each client stops when an
/// answer says Connection: close. Returns how many requests got no answer at all, and the exit status.
public func requestsLostAcrossSIGTERM(_ program: RunningProgram, port: UInt16, target: String = "/robots.txt",
                                      before: Int = 400) -> (lost: Int, exit: Spawn.Exit?) {
    let answered = Atomic<Int>(0), lost = Atomic<Int>(0)
    let clients = (0..<8).map { _ in
        OSThread.start(name: "client") {
            guard let c = try? HTTPTestClient(port: port, timeout: 10) else { lost.add(1, ordering: .relaxed); return }
            while true {
                guard let r = try? c.request("GET", target) else { lost.add(1, ordering: .relaxed); return }
                answered.add(1, ordering: .relaxed)
                if r.header("Connection") == "close" { return }
            }
        }
    }
    let deadline = Date().addingTimeInterval(10)
    while answered.load(ordering: .relaxed) < before && Date() < deadline { usleep(1_000) }
    program.signal(SIGTERM)
    for c in clients { c.join() }
    return (lost.load(ordering: .relaxed), program.waitForExit(timeout: 10))
}

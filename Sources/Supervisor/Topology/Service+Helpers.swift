// Computed conveniences on the model in Topology.swift, kept apart so the model stays just data.

extension Service.Program {
    /// One of the toolkit's own programs (they take --port, --workers and answer /healthz).
    var isBuiltIn: Bool {
        if case .command = self { return false }
        return true
    }

    /// A balancer or proxy: the supervisor gives each instance an admin socket (`Launcher.adminSocket`).
    var servesAdminAPI: Bool { self == .balancer || self == .proxy }

    /// "backend", "balancer", "proxy", or the command's absolute path.
    var displayName: String {
        switch self {
        case .backend: return "backend"
        case .balancer: return "balancer"
        case .proxy: return "proxy"
        case .command(let path): return path
        }
    }
}

extension Service {
    /// Every port the service may listen on, one per instance slot up to `maxInstances`.
    var slotPorts: [Int] {
        guard let firstPort else { return [] }
        return Array(firstPort..<firstPort + maxInstances)
    }

    /// Why `count` instances are refused (outside the "scale" range of `file`), or nil if they are not.
    func scaleRefusal(_ count: Int, file: String) -> String? {
        (minInstances...maxInstances).contains(count) ? nil
            : "\(name) can run \(minInstances) to \(maxInstances) instances, not \(count) (see its \"scale\" in \(file))"
    }
}

import Glibc
import NetCore

/// What every worker needs to know about the site it serves; immutable and shared.
struct SiteConfig: Sendable {
    /// An O_PATH-style descriptor of the root folder; every file is opened beneath it.
    let rootFD: Int32
    let rootPath: String
    let port: UInt16
    let model: String
    let startedAt: UInt64
    /// Files up to this size are kept in memory (0 disables the cache).
    let cacheMaxFileSize: Int
    let cacheMaxBytes: Int
}

/// Size limits for request heads, nginx-like: a request line longer than 8 KB is 414; a header block over
/// 32 KB (nginx: 4 × 8 KB buffers) or more than 100 header fields is 431.
public struct HTTPLimits: Sendable {
    public var maxRequestLine: Int
    public var maxHeadSize: Int
    public var maxHeaderCount: Int

    public init(maxRequestLine: Int = 8192, maxHeadSize: Int = 32768, maxHeaderCount: Int = 100) {
        self.maxRequestLine = maxRequestLine
        self.maxHeadSize = maxHeadSize
        self.maxHeaderCount = maxHeaderCount
    }

    public static let `default` = HTTPLimits()
}

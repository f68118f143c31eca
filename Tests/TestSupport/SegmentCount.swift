import CLinux

/// Segments this end of a connection has received that carried no data: the SYN-ACK, bare ACKs and
/// bare FINs. A client counts them to see whether its peer saved a packet; nil when TCP_INFO fails.
public func bareSegmentsReceived(_ fd: Int32) -> Int? {
    var all: UInt32 = 0
    var withData: UInt32 = 0
    guard cl_tcp_segments_in(fd, &all, &withData) == 0 else { return nil }
    return Int(all) - Int(withData)
}

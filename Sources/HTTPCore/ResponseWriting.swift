import NetCore

/// Writing a response head into an output buffer, one field at a time, without allocating.
extension ByteBuffer {
    @inline(__always)
    public func appendStatusLine(_ status: HTTPStatus) {
        append("HTTP/1.1 ")
        append(decimal: status.code)
        append(byte: 0x20)
        append(status.reason)
        append("\r\n")
    }

    @inline(__always)
    public func appendHeader(_ name: StaticString, _ value: StaticString) {
        append(name)
        append(": ")
        append(value)
        append("\r\n")
    }

    @inline(__always)
    public func appendHeader(_ name: StaticString, _ value: UnsafeRawBufferPointer) {
        append(name)
        append(": ")
        append(value)
        append("\r\n")
    }

    public func appendHeader(_ name: StaticString, _ value: String) {
        append(name)
        append(": ")
        append(value)
        append("\r\n")
    }

    @inline(__always)
    public func appendHeader(_ name: StaticString, decimal value: Int) {
        append(name)
        append(": ")
        append(decimal: value)
        append("\r\n")
    }

    @inline(__always)
    public func appendDateHeader(_ cache: DateCache) {
        append("Date: ")
        append(cache.bytes, HTTPDate.length)
        append("\r\n")
    }

    /// Copies a header exactly as received (name and value spans of a parsed message at `base`).
    @inline(__always)
    public func appendHeader(_ field: HeaderField, from base: UnsafePointer<UInt8>) {
        append(field.name.pointer(in: base), Int(field.name.count))
        append(": ")
        append(field.value.pointer(in: base), Int(field.value.count))
        append("\r\n")
    }

    @inline(__always)
    public func appendEndOfHead() {
        append("\r\n")
    }
}

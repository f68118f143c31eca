import Glibc

/// A non-blocking way to write to the terminal descriptor without changing what other processes see.
///
/// O_NONBLOCK belongs to the open file description, which a terminal shares with the shell and, through
/// fd 0, with anything reading the terminal: setting it on fd 1 would make their reads fail with EAGAIN
/// (and would outlive a killed supervisor). So for a pipe or a terminal we open the same object again
/// through /proc/self/fd, which gives a private description we can make non-blocking. A regular file is
/// kept as is (its writes never wait, and reopening would lose its offset or O_APPEND). Only when reopening
/// is impossible (a socket) is the flag set on the shared description, and put back by `release()`.
struct TerminalDescriptor {
    let fd: Int32
    /// We opened `fd` and close it in `release()`.
    private let owned: Bool
    /// The status flags to restore on a shared description we made non-blocking.
    private let restoreFlags: Int32?

    init(_ original: Int32) {
        var st = stat()
        let isFile = fstat(original, &st) == 0 && st.st_mode & S_IFMT == S_IFREG
        if isFile {
            fd = original; owned = false; restoreFlags = nil
            return
        }
        let reopened = open("/proc/self/fd/\(original)", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        if reopened >= 0 {
            fd = reopened; owned = true; restoreFlags = nil
            return
        }
        fd = original
        owned = false
        let flags = fcntl(original, F_GETFL)
        if flags >= 0 && flags & O_NONBLOCK == 0 && fcntl(original, F_SETFL, flags | O_NONBLOCK) == 0 {
            restoreFlags = flags
        } else {
            restoreFlags = nil
        }
    }

    /// Closes the private description, or gives a shared one its flags back.
    func release() {
        if owned { _ = close(fd) }
        if let restoreFlags { _ = fcntl(fd, F_SETFL, restoreFlags) }
    }
}

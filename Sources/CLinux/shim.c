#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const uint32_t CL_EPOLLIN = EPOLLIN;
const uint32_t CL_EPOLLOUT = EPOLLOUT;
const uint32_t CL_EPOLLERR = EPOLLERR;
const uint32_t CL_EPOLLHUP = EPOLLHUP;
const uint32_t CL_EPOLLRDHUP = EPOLLRDHUP;
const uint32_t CL_EPOLLET = EPOLLET;
const uint32_t CL_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;
const int CL_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
const int CL_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
const int CL_EPOLL_CTL_DEL = EPOLL_CTL_DEL;

const int CL_SO_REUSEPORT = SO_REUSEPORT;
const int CL_TCP_NODELAY = TCP_NODELAY;
const int CL_TCP_CORK = TCP_CORK;
const int CL_TCP_QUICKACK = TCP_QUICKACK;
const int CL_TCP_DEFER_ACCEPT = TCP_DEFER_ACCEPT;
const int CL_MSG_NOSIGNAL = MSG_NOSIGNAL;
const int CL_MSG_MORE = MSG_MORE;
const int CL_SOCK_NONBLOCK = SOCK_NONBLOCK;
const int CL_SOCK_CLOEXEC = SOCK_CLOEXEC;
const int CL_SOCK_STREAM = SOCK_STREAM;
const int CL_SO_ERROR = SO_ERROR;
const int CL_IPPROTO_TCP = IPPROTO_TCP;

int cl_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int cl_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int cl_epoll_wait(int epfd, cl_epoll_event *events, int maxevents, int timeout_ms) {
    struct epoll_event raw[256];
    if (maxevents > 256) maxevents = 256;
    int n = epoll_wait(epfd, raw, maxevents, timeout_ms);
    for (int i = 0; i < n; i++) {
        events[i].events = raw[i].events;
        events[i].data = raw[i].data.u64;
    }
    return n;
}

int cl_eventfd(unsigned int initval) { return eventfd(initval, EFD_CLOEXEC | EFD_NONBLOCK); }

int cl_accept4(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

int cl_pipe2(int fds[2], int nonblocking) {
    return pipe2(fds, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0));
}

ssize_t cl_splice(int fd_in, int fd_out, size_t len, int more) {
    unsigned int flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (more ? SPLICE_F_MORE : 0);
    return splice(fd_in, NULL, fd_out, NULL, len, flags);
}

ssize_t cl_sendfile(int out_fd, int in_fd, off_t *offset, size_t count) {
    return sendfile(out_fd, in_fd, offset, count);
}

int cl_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }

static int fill_set(sigset_t *set, const int *signals, int count) {
    sigemptyset(set);
    for (int i = 0; i < count; i++) sigaddset(set, signals[i]);
    return 0;
}

int cl_block_signals(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int cl_unblock_all_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    return pthread_sigmask(SIG_SETMASK, &set, NULL);
}

int cl_signalfd(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int cl_signalfd_read(int fd, int32_t *pid_out) {
    struct signalfd_siginfo info;
    ssize_t n;
    do { n = read(fd, &info, sizeof info); } while (n < 0 && errno == EINTR);
    if (n < 0) return (errno == EAGAIN) ? 0 : -1;
    if (n != sizeof info) return -1;
    if (pid_out) *pid_out = (int32_t)info.ssi_pid;
    return (int)info.ssi_signo;
}

int cl_set_pdeathsig(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }

int cl_malloc_trim(void) { return malloc_trim(0); }

int cl_set_thread_name(const char *name) { return prctl(PR_SET_NAME, name, 0, 0, 0); }

int cl_close_range_from(unsigned int first) { return (int)syscall(SYS_close_range, first, ~0U, 0); }

int cl_open_beneath(int dirfd, const char *path, int flags) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long r;
    do { r = syscall(SYS_openat2, dirfd, path, &how, sizeof how); } while (r < 0 && errno == EINTR);
    return (int)r;
}

int cl_listen_queue_length(int fd) {
    struct tcp_info info;
    socklen_t len = sizeof info;
    memset(&info, 0, sizeof info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return -1;
    if (info.tcpi_state != TCP_LISTEN) return -1;
    return (int)info.tcpi_unacked;
}

int cl_socket(int domain, int type) { return socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); }

int cl_setsockopt_int(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof value);
}

int cl_getsockopt_int(int fd, int level, int name, int *value) {
    socklen_t len = sizeof *value;
    return getsockopt(fd, level, name, value, &len);
}

int cl_set_nonblocking(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, flags);
}

int cl_set_cloexec(int fd, int on) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return -1;
    flags = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
    return fcntl(fd, F_SETFD, flags);
}

int cl_set_linger_zero(int fd) {
    struct linger l = { .l_onoff = 1, .l_linger = 0 };
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

int cl_set_timeout(int fd, int which, int ms) {
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    return setsockopt(fd, SOL_SOCKET, which == 0 ? SO_RCVTIMEO : SO_SNDTIMEO, &tv, sizeof tv);
}

// --- spawning -------------------------------------------------------------------------------------

static void child_fail(int errfd, int err) {
    ssize_t ignored = write(errfd, &err, sizeof err);
    (void)ignored;
    _exit(127);
}

pid_t cl_spawn(const cl_spawn_request *req, int *exec_errno) {
    int errpipe[2];
    *exec_errno = 0;
    if (pipe2(errpipe, O_CLOEXEC) != 0) return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(errpipe[0]);
        close(errpipe[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        // Child: only async-signal-safe calls from here to execve.
        int highest = errpipe[1];
        for (int i = 0; i < req->fd_map_count * 2; i++)
            if (req->fd_map[i] > highest) highest = req->fd_map[i];
        int base = highest + 1;
        int errfd = fcntl(errpipe[1], F_DUPFD_CLOEXEC, base + req->fd_map_count);
        if (errfd < 0) _exit(127);

        if (req->death_signal) {
            prctl(PR_SET_PDEATHSIG, req->death_signal, 0, 0, 0);
            if (getppid() != parent) _exit(0);  // the supervisor already died
        }
        if (req->new_process_group == 2) setsid();          // a daemon: no controlling terminal at all
        else if (req->new_process_group) setpgid(0, 0);

        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int s = 1; s < NSIG; s++) {
            if (s == SIGKILL || s == SIGSTOP) continue;
            sigaction(s, &dfl, NULL);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);

        // Two steps so a source that is also another mapping's target is never clobbered.
        int moved[64];
        int n = req->fd_map_count > 64 ? 64 : req->fd_map_count;
        for (int i = 0; i < n; i++) {
            moved[i] = fcntl(req->fd_map[2 * i], F_DUPFD_CLOEXEC, base);
            if (moved[i] < 0) child_fail(errfd, errno);
        }
        int maxTarget = -1;
        for (int i = 0; i < n; i++) {
            int target = req->fd_map[2 * i + 1];
            if (dup2(moved[i], target) < 0) child_fail(errfd, errno);
            if (target > maxTarget) maxTarget = target;
        }
        // Close everything that is not a target: the gaps below the highest target, then all above it
        // except the error pipe (CLOEXEC closes that one at execve).
        for (int fd = 0; fd < maxTarget; fd++) {
            int isTarget = 0;
            for (int i = 0; i < n; i++) if (req->fd_map[2 * i + 1] == fd) isTarget = 1;
            if (!isTarget) close(fd);
        }
        if (errfd > maxTarget + 1) syscall(SYS_close_range, (unsigned)(maxTarget + 1), (unsigned)(errfd - 1), 0);
        syscall(SYS_close_range, (unsigned)(errfd + 1), ~0U, 0);

        if (req->cwd && chdir(req->cwd) != 0) child_fail(errfd, errno);

        // LISTEN_PID must name the child itself (systemd convention); patch it in place.
        for (char *const *e = req->envp; e && *e; e++) {
            if (strncmp(*e, "LISTEN_PID=", 11) == 0) {
                char digits[24];
                int len = 0;
                pid_t me = getpid();
                do { digits[len++] = (char)('0' + me % 10); me /= 10; } while (me > 0);
                char *dst = *e + 11;
                for (int i = 0; i < len; i++) dst[i] = digits[len - 1 - i];
                dst[len] = 0;
            }
        }
        execve(req->path, req->argv, req->envp);
        child_fail(errfd, errno);
    }
    close(errpipe[1]);
    int err = 0;
    ssize_t got;
    do { got = read(errpipe[0], &err, sizeof err); } while (got < 0 && errno == EINTR);
    close(errpipe[0]);
    if (got == sizeof err) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *exec_errno = err;
        errno = err;
        return -1;
    }
    return pid;
}

int cl_wifexited(int status) { return WIFEXITED(status); }
int cl_wexitstatus(int status) { return WEXITSTATUS(status); }
int cl_wifsignaled(int status) { return WIFSIGNALED(status); }
int cl_wtermsig(int status) { return WTERMSIG(status); }

uint64_t cl_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t cl_monotonic_coarse_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t cl_realtime_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec;
}

int cl_cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

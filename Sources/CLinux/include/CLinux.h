// Thin wrappers for the Linux calls and constants that Swift's Glibc module does not export.
// No logic lives here beyond converting between kernel and Swift-friendly layouts.
#ifndef CLINUX_H
#define CLINUX_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <signal.h>

// epoll_event is packed on x86_64; Swift sees this unpacked twin instead and the shim converts.
typedef struct {
    uint32_t events;
    uint64_t data;
} cl_epoll_event;

extern const uint32_t CL_EPOLLIN;
extern const uint32_t CL_EPOLLOUT;
extern const uint32_t CL_EPOLLERR;
extern const uint32_t CL_EPOLLHUP;
extern const uint32_t CL_EPOLLRDHUP;
extern const uint32_t CL_EPOLLET;
extern const uint32_t CL_EPOLLEXCLUSIVE;
extern const int CL_EPOLL_CTL_ADD;
extern const int CL_EPOLL_CTL_MOD;
extern const int CL_EPOLL_CTL_DEL;

int cl_epoll_create(void);
int cl_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
int cl_epoll_wait(int epfd, cl_epoll_event *events, int maxevents, int timeout_ms);

int cl_eventfd(unsigned int initval);
int cl_accept4(int fd, struct sockaddr *addr, socklen_t *len);
int cl_pipe2(int fds[2], int nonblocking);
ssize_t cl_splice(int fd_in, int fd_out, size_t len, int more);
ssize_t cl_sendfile(int out_fd, int in_fd, off_t *offset, size_t count);
int cl_set_pipe_size(int fd, int size);

// signalfd for the given signals (blocked in the calling thread first); returns fd or -1.
int cl_signalfd(const int *signals, int count);
// Reads one signalfd record; returns signal number, 0 when nothing is pending, -1 on error.
int cl_signalfd_read(int fd, int32_t *pid_out);
int cl_block_signals(const int *signals, int count);
int cl_unblock_all_signals(void);

int cl_set_pdeathsig(int sig);
/// Gives the allocator's free pages back to the system (glibc malloc_trim(0)); 1 if any were.
int cl_malloc_trim(void);
int cl_set_thread_name(const char *name);
int cl_close_range_from(unsigned int first);

// openat2 with RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS: opens `path` under `dirfd` or fails (EXDEV on escape).
int cl_open_beneath(int dirfd, const char *path, int flags);

extern const int CL_SO_REUSEPORT;
extern const int CL_TCP_NODELAY;
extern const int CL_TCP_CORK;
extern const int CL_TCP_DEFER_ACCEPT;
extern const int CL_TCP_QUICKACK;
extern const int CL_MSG_NOSIGNAL;
extern const int CL_MSG_MORE;
extern const int CL_SOCK_NONBLOCK;
extern const int CL_SOCK_CLOEXEC;
extern const int CL_SOCK_STREAM;
extern const int CL_SO_ERROR;
extern const int CL_IPPROTO_TCP;

// Connections waiting in a listening socket's accept queue (TCP_INFO's tcpi_unacked on a LISTEN socket),
// or -1. Lets a holder of the socket see whether anyone is accepting.
int cl_listen_queue_length(int fd);

// Segments a connection has received in all, and those that carried data (TCP_INFO); -1 on error.
// A segment without data is a bare ACK, SYN or FIN: what a test counts to see packets saved.
int cl_tcp_segments_in(int fd, unsigned *all, unsigned *with_data);

int cl_socket(int domain, int type);
int cl_setsockopt_int(int fd, int level, int name, int value);
int cl_getsockopt_int(int fd, int level, int name, int *value);
int cl_set_nonblocking(int fd, int on);
int cl_set_cloexec(int fd, int on);
int cl_set_linger_zero(int fd);
int cl_set_timeout(int fd, int which /* 0 = recv, 1 = send */, int ms);

// Spawning: fork + exec with everything a supervisor needs set up in the child.
// fd_map holds pairs (source fd, target fd); the child dup2s each source onto its target, then every fd
// >= fd_floor that is not a target is closed. Returns the pid, or -1 with errno from fork or from execve
// (reported back through a CLOEXEC pipe, so a missing program is an error here, not a silent exit 127).
typedef struct {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    const int *fd_map;
    int fd_map_count;
    int new_process_group;
    int death_signal;  // 0 = none
} cl_spawn_request;

pid_t cl_spawn(const cl_spawn_request *req, int *exec_errno);

int cl_wifexited(int status);
int cl_wexitstatus(int status);
int cl_wifsignaled(int status);
int cl_wtermsig(int status);

uint64_t cl_monotonic_ns(void);
uint64_t cl_monotonic_coarse_ns(void);
int64_t cl_realtime_seconds(void);
int cl_cpu_count(void);

#endif

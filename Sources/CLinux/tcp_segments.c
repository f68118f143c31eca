// Kept apart from shim.c: glibc's <netinet/tcp.h> has an older struct tcp_info without the segment
// counters, and it cannot be included together with <linux/tcp.h>.
#include <linux/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

int cl_tcp_segments_in(int fd, unsigned *all, unsigned *with_data) {
    struct tcp_info info;
    socklen_t len = sizeof info;
    memset(&info, 0, sizeof info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return -1;
    *all = info.tcpi_segs_in;
    *with_data = info.tcpi_data_segs_in;
    return 0;
}

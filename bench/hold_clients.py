#!/usr/bin/env python3
"""Opens many client connections to a server and holds them, then prints how much resident memory the
server grew by for each: the helper of bench/memory.sh.

  hold_clients.py idle PORT COUNT PATH PID...   each client is answered once on PATH (keep-alive), then
                                                 stays open and idle
  hold_clients.py slow PORT COUNT PATH PID...   each client asks for PATH (a large file) and reads 1000
                                                 bytes of it, then stops reading (a 4 KB receive buffer)

Clients connect one after another (an idle one has had its answer before the next connects). The
resident memory (VmRSS) of all PIDs is summed (nginx: its master and workers) before the first client and
once every client is waiting; printed: "KB_PER_CLIENT GROWN_KB".
"""
import socket
import sys
import time


def resident_kb(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def settle(pids, limit=10.0):
    """Resident memory once it stops changing (slow relays fill their buffers over a moment)."""
    last = resident_kb(pids)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = resident_kb(pids)
        if now == last:
            return now
        last = now
    return last


def read_response(sock, request):
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("server closed before answering")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"not a 200: {head.splitlines()[0]!r}")
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("server closed mid-body")
        body += chunk


def main():
    mode, port, count, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    pids = sys.argv[5:]
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    if mode == "idle":   # first-use allocations (caches, pools) before the baseline
        warm = socket.create_connection(("127.0.0.1", port))
        read_response(warm, request)
        warm.close()
        time.sleep(0.3)
    before = resident_kb(pids)
    clients = []
    for _ in range(count):
        s = socket.socket()
        if mode == "slow":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", port))
        if mode == "idle":
            read_response(s, request)
        else:
            s.sendall(request)
        clients.append(s)
    if mode == "slow":
        time.sleep(1)
        for s in clients:
            s.recv(1000)
    grown = settle(pids) - before
    print(f"{grown / count:.1f} {grown}")
    for s in clients:
        s.close()


if __name__ == "__main__":
    main()

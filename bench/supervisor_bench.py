#!/usr/bin/env python3
"""Measuring helpers for bench/supervisor.sh (a benchmark, not a test). Standard library only.

    restarts  kill -9 one instance again and again, time until its port answers /healthz from a new
              pid, while client processes hammer that port and the balancer, counting what they get
    follow    follow a log file across rotations (log -> log.1 -> ...) into one archive, until it
              holds N payload lines; time it, and the CPU/memory of a given pid over that time
    verify    check every payload line of a merged log: exactly one payload per line, the prefix names
              the service the payload came from, and each service's sequence numbers 1..N appear once,
              in order
    sample    CPU % and memory of a pid over some seconds (for the idle figure)

Every subcommand prints one JSON object on stdout; progress and problems go to stderr.
"""

import argparse
import errno
import json
import multiprocessing as mp
import os
import re
import signal
import socket
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def note(text):
    print(text, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ /proc --
def cpu_seconds(pid):
    """utime + stime of pid (the process itself, not its children), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()   # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_kb(pid):
    """{"rss_kb": VmRSS, "hwm_kb": VmHWM (peak RSS)} of pid, empty once it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["rss_kb"] = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    out["hwm_kb"] = int(line.split()[1])
    except OSError:
        pass
    return out


def cmd_sample(a):
    c0, t0 = cpu_seconds(a.pid), time.monotonic()
    if c0 is None:
        sys.exit(f"sample: pid {a.pid} is not running")
    peak = 0
    while time.monotonic() - t0 < a.seconds:
        time.sleep(0.25)
        peak = max(peak, memory_kb(a.pid).get("rss_kb", 0))
    c1, t1 = cpu_seconds(a.pid), time.monotonic()
    if c1 is None:
        sys.exit(f"sample: pid {a.pid} exited while sampled")
    mem = memory_kb(a.pid)
    print(json.dumps({"seconds": round(t1 - t0, 3), "cpu_seconds": round(c1 - c0, 3),
                      "cpu_percent": round(100 * (c1 - c0) / (t1 - t0), 2),
                      "rss_kb": mem.get("rss_kb"), "rss_peak_sampled_kb": peak, "hwm_kb": mem.get("hwm_kb")}))


# ------------------------------------------------------------- HTTP client --
def http_get(port, path, timeout):
    """One GET on a new connection (Connection: close). Returns (status, body); raises OSError."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.settimeout(timeout)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while True:
            c = s.recv(65536)
            if not c:
                break
            chunks.append(c)
    finally:
        s.close()
    data = b"".join(chunks)
    if not data:
        raise EOFError("connection closed without a response")
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


def classify(exc):
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, EOFError)):
        return "reset"   # includes "closed without a response"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    return "other"


def hammer(label, port, path, threads, timeout, stop, results):
    """Runs in its own process: `threads` threads each send GETs back to back until `stop` is set."""
    import threading
    counts = {"ok": 0, "refused": 0, "reset": 0, "timeout": 0, "non200": 0, "other": 0}
    samples = []   # (time, kind, detail) of the first few failures
    lock = threading.Lock()

    def loop():
        local = dict.fromkeys(counts, 0)
        mine = []
        while not stop.is_set():
            try:
                status, _ = http_get(port, path, timeout)
                kind = "ok" if status == 200 else "non200"
                detail = f"HTTP {status}"
            except Exception as e:   # every failure is counted, none ends the loop
                kind, detail = classify(e), repr(e)
            local[kind] += 1
            if kind != "ok" and len(mine) < 20:
                mine.append((time.time(), kind, detail))
        with lock:
            for k, v in local.items():
                counts[k] += v
            samples.extend(mine)

    ts = [threading.Thread(target=loop) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    samples.sort()
    results.put((label, counts, samples[:20]))


# ---------------------------------------------------------------- restarts --
def status(sup, folder):
    out = subprocess.run([sup, "status", "--json"], cwd=folder, capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise RuntimeError(f"supervisor status failed: {out.stderr.strip()}")
    return {i["name"]: i for i in json.loads(out.stdout)}


def wait_stable(sup, folder, name, old_pid, min_uptime, deadline):
    """The instance's status once it is healthy with a pid other than old_pid and has run min_uptime."""
    inst = None
    while time.monotonic() < deadline:
        inst = status(sup, folder).get(name)
        if inst is None:
            raise RuntimeError(f"no instance {name} in `supervisor status`")
        if inst["state"] == "healthy" and inst["pid"] > 0 and inst["pid"] != old_pid:
            up = inst.get("uptime_seconds", 0)
            if up >= min_uptime:
                return inst
            time.sleep(min_uptime - up + 0.01)
            continue
        if inst["state"] == "failed":
            raise RuntimeError(f"{name} failed: {inst.get('reason')}")
        time.sleep(0.05)
    raise RuntimeError(f"{name} not healthy in time (last status: {inst})")


def time_restart(port, old_pid, poll_timeout, deadline):
    """kill -9 old_pid, then poll GET /healthz until a different pid answers; ms, or None at deadline."""
    t0 = time.perf_counter()
    os.kill(old_pid, signal.SIGKILL)
    polls = 0
    while time.perf_counter() < deadline:
        polls += 1
        try:
            status_code, body = http_get(port, "/healthz", poll_timeout)
            if status_code == 200:
                pid = json.loads(body).get("pid")
                if pid is not None and pid != old_pid:
                    return (time.perf_counter() - t0) * 1000, polls, pid
        except Exception:
            time.sleep(0.0005)   # refused/reset: try again at once (the tight loop the figure needs)
    return None, polls, None


def summarize(values):
    """n, median, p90 (nearest rank) and max of a list of numbers."""
    v = sorted(values)
    n = len(v)
    if n == 0:
        return {"n": 0, "median": None, "p90": None, "max": None, "min": None}
    median = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    p90 = v[max(0, -(-9 * n // 10) - 1)]   # ceil(0.9 n)-th smallest
    return {"n": n, "median": round(median, 2), "p90": round(p90, 2), "max": round(v[-1], 2), "min": round(v[0], 2)}


def cmd_restarts(a):
    stop = mp.Event()
    results = mp.Queue()
    direct = status(a.sup, a.dir)[a.target]["port"]
    procs = [mp.Process(target=hammer, args=(f"{a.target} direct :{direct}", direct, a.path, a.threads, a.timeout, stop, results)),
             mp.Process(target=hammer, args=(f"balancer :{a.balancer_port}", a.balancer_port, a.path, a.threads, a.timeout, stop, results))]
    for p in procs:
        p.start()
    latencies, kills, problems = [], [], []
    try:
        time.sleep(a.warmup)
        old = 0
        for k in range(a.kills):
            inst = wait_stable(a.sup, a.dir, a.target, old, a.gap, time.monotonic() + a.restart_timeout + a.gap + 10)
            ms, polls, new = time_restart(inst["port"], inst["pid"], a.poll_timeout,
                                          time.perf_counter() + a.restart_timeout)
            kills.append({"at": time.time(), "old_pid": inst["pid"], "new_pid": new, "ms": ms, "polls": polls})
            if ms is None:
                problems.append(f"kill {k + 1}: no new pid on :{inst['port']} within {a.restart_timeout}s")
                note(f"  kill {k + 1}/{a.kills}: pid {inst['pid']} -> NO RESTART within {a.restart_timeout}s")
                break
            latencies.append(ms)
            note(f"  kill {k + 1:2d}/{a.kills}: pid {inst['pid']} -> {new} answering after {ms:7.2f} ms ({polls} polls)")
            old = inst["pid"]
        final = wait_stable(a.sup, a.dir, a.target, old, 0, time.monotonic() + 15)
        time.sleep(a.warmup)
    except Exception as e:
        problems.append(str(e))
        final = None
    finally:
        stop.set()
        hammers = {}
        for _ in procs:
            try:
                label, counts, samples = results.get(timeout=a.timeout + 15)
                hammers[label] = {"counts": counts, "samples": samples}
            except Exception:
                problems.append("a client process did not report")
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
    print(json.dumps({"summary": summarize(latencies), "latencies_ms": latencies, "kills": kills, "hammers": hammers, "problems": problems,
                      "final": final}))


# ------------------------------------------------------------------ follow --
class Follower:
    """Reads a log file that a writer rotates by renaming (log -> log.1 -> log.2 ... up to log.KEEP) into
    one archive, in order, like `tail -F` but without its gaps: on a rotation it drains the old file, then
    finds that file among the rotated names and reads every newer one, so a rotation (or several) between
    two looks loses nothing as long as the old file has not been rotated past log.KEEP."""

    def __init__(self, path, keep, archive):
        self.path, self.keep, self.archive = path, keep, archive
        self.fd, self.ino = None, None
        self.queue = []        # (fd, ino) of rotated files still to read before the live one
        self.rotations = 0
        self.lost = False        # fell behind by more than KEEP rotations: following stops
        self.maybe_lost = False  # log.KEEP existed when following began: older lines may be gone

    def _ino(self, p):
        try:
            return os.stat(p).st_ino
        except FileNotFoundError:
            return None

    def open_first(self):
        """Opens the log once it exists, starting from its oldest rotated file: the writer may have
        rotated before we looked (the folder is fresh, so every file there belongs to this run)."""
        names = [f"{self.path}.{i}" for i in range(self.keep, 0, -1)] + [self.path]   # oldest first
        for _ in range(100):
            if self._ino(self.path) is None:
                return False
            before = [self._ino(n) for n in names]
            opened = []
            try:
                for n, ino in zip(names, before):
                    if ino is not None:
                        fd = os.open(n, os.O_RDONLY)
                        opened.append((fd, os.fstat(fd).st_ino))
            except FileNotFoundError:
                pass
            if [self._ino(n) for n in names] != before or [i for _, i in opened] != [i for i in before if i]:
                for fd, _ in opened:   # rotated while we opened: try again
                    os.close(fd)
                time.sleep(0.001)
                continue
            if self.keep and before[0] is not None:
                self.maybe_lost = True   # every rotated slot is full: older files may have been dropped already
                note(f"follow: {self.path}.{self.keep} already existed when following began; lines may be missing")
            self.rotations = len(opened) - 1
            (self.fd, self.ino), self.queue = opened[0], opened[1:]
            return True
        return False

    def read(self):
        """Bytes appended since the last call (b"" when nothing new)."""
        while True:
            data = os.read(self.fd, 1 << 20)
            if data:
                return data
            if self.queue:   # an older (rotated, finished) file is at its end: go on with the next
                os.close(self.fd)
                self.fd, self.ino = self.queue.pop(0)
                continue
            live = self._ino(self.path)
            if live is None or live == self.ino:
                return b""   # nothing new, or mid-rotation (renamed, not yet recreated)
            data = os.read(self.fd, 1 << 20)   # written before the rename
            if data:
                return data
            if not self._switch():
                return b""

    def _switch(self):
        """Our file was renamed away: open every newer file, oldest first."""
        names = [f"{self.path}.{i}" for i in range(1, self.keep + 1)]
        for _ in range(100):
            at = next((i for i, n in enumerate(names) if self._ino(n) == self.ino), None)
            if at is None:
                self.lost = True   # rotated past log.KEEP (or deleted) before we finished it
                note(f"follow: lost track of {self.path} (fell more than {self.keep} rotations behind)")
                return False
            newer = list(reversed(names[:at])) + [self.path]   # log.(at) ... log.1, log
            opened = []
            try:
                for n in newer:
                    fd = os.open(n, os.O_RDONLY)
                    opened.append((fd, os.fstat(fd).st_ino))
            except FileNotFoundError:
                for fd, _ in opened:
                    os.close(fd)
                time.sleep(0.001)
                continue
            if self._ino(names[at]) != self.ino:   # rotated again while we opened: names shifted
                for fd, _ in opened:
                    os.close(fd)
                continue
            self.rotations += len(opened)   # log.(at+1) .. log.1 and the live one: that many renames
            os.close(self.fd)
            self.fd, self.ino = opened[0]
            self.queue = opened[1:]
            return True
        return False


def cmd_follow(a):
    marker = a.marker.encode()
    deadline = time.monotonic() + a.timeout
    if a.ready_file:
        # Started before the writer: say we are ready, then learn its pid and start time ("PID T0").
        open(a.ready_file, "w").close()
        while not os.path.exists(a.run_file):
            if time.monotonic() > deadline:
                sys.exit(f"follow: {a.run_file} never appeared")
            time.sleep(0.001)
        with open(a.run_file) as rf:
            pid, t0 = rf.read().split()
        a.pid, a.t0 = int(pid), float(t0)
    t0 = a.t0
    f = Follower(a.path, a.keep, a.archive)
    while not f.open_first():
        if time.monotonic() > deadline:
            sys.exit(f"follow: {a.path} never appeared")
        if a.pid and cpu_seconds(a.pid) is None:
            sys.exit(f"follow: pid {a.pid} exited before {a.path} appeared")
        time.sleep(0.001)
    count, tail, peak_rss = 0, b"", 0
    last_rss, last_data, quiet = 0.0, None, False
    with open(a.archive, "wb") as out:
        while count < a.expected and time.monotonic() < deadline and not f.lost:
            data = f.read()
            if not data:
                if a.pid and cpu_seconds(a.pid) is None:
                    note(f"follow: pid {a.pid} is gone")
                    break
                if a.quiet_after and last_data and time.time() - last_data >= a.quiet_after:
                    quiet = True   # for a merger that tears markers apart: the count never gets there
                    break
                time.sleep(0.002)
            else:
                last_data = time.time()
                out.write(data)
                # Count markers in whole lines only: a chunk may end inside a line.
                buf = tail + data
                cut = buf.rfind(b"\n") + 1
                count += buf.count(marker, 0, cut)
                tail = buf[cut:]
            now = time.monotonic()
            if a.pid and now - last_rss > 0.05:
                last_rss = now
                peak_rss = max(peak_rss, memory_kb(a.pid).get("rss_kb", 0))
        done = last_data if quiet else time.time()
        cpu = cpu_seconds(a.pid) if a.pid else None
        mem = memory_kb(a.pid) if a.pid else {}
        # Whatever is already written after the last payload (the supervisor's own lines) goes in too.
        while True:
            data = f.read()
            if not data:
                break
            out.write(data)
    wall = done - t0
    result = json.dumps({"complete": count >= a.expected, "stopped_when_quiet": quiet, "lines": count, "wall_s": round(wall, 3),
                      "lines_per_s": round(count / wall) if wall > 0 else None, "rotations": f.rotations,
                      "lost": f.lost, "maybe_lost": f.maybe_lost, "cpu_seconds": cpu, "cpu_percent": round(100 * cpu / wall, 1) if cpu else None,
                      "rss_kb": mem.get("rss_kb"), "rss_peak_sampled_kb": peak_rss, "hwm_kb": mem.get("hwm_kb")})
    if a.json:
        with open(a.json, "w") as j:
            j.write(result + "\n")
    else:
        print(result)


# ------------------------------------------------------------------ verify --
def cmd_verify(a):
    """Payload lines look like  PREFIX svcK MARKER 000123 FILLER  (PREFIX: the merger's stamp and name)."""
    payload = re.compile(rb"(svc(\d+)) " + re.escape(a.marker.encode()) + rb" (\d{6}) " + re.escape(a.filler.encode()) + rb"\n\Z")
    nxt = {}            # service -> next expected sequence number
    counts = {}
    torn, disorder, other, name_mismatch = 0, 0, 0, 0
    examples = []
    marker = a.marker.encode()
    with open(a.file, "rb") as f:
        for line in f:
            n = line.count(marker)
            if n == 0:
                other += 1
                continue
            m = payload.search(line)
            if n != 1 or m is None:
                torn += 1
                if len(examples) < 5:
                    examples.append(("torn", line[:200].decode(errors="replace")))
                continue
            svc, seq = m.group(1).decode(), int(m.group(3))
            prefix = line[:m.start()]
            # The prefix must name the same service (supervisor: "svc3  | ", honcho: "svc3.1 | "), or be
            # empty for a merger that adds none (supervisord writing to its stdout).
            if (prefix != b"") if a.no_prefix else not re.search(rb"(^|\s)" + m.group(1) + rb"(\.\d+)?\s+\| $", prefix):
                name_mismatch += 1
                if len(examples) < 5:
                    examples.append(("prefix", line[:200].decode(errors="replace")))
            counts[svc] = counts.get(svc, 0) + 1
            want = nxt.get(svc, 1)
            if seq != want:
                disorder += 1
                if len(examples) < 5:
                    examples.append(("sequence", f"{svc}: got {seq}, expected {want}"))
            nxt[svc] = seq + 1
    ok = (torn == 0 and disorder == 0 and name_mismatch == 0 and len(counts) == a.services
          and all(c == a.lines for c in counts.values()))
    print(json.dumps({"ok": ok, "per_service": dict(sorted(counts.items())), "torn": torn, "out_of_sequence": disorder,
                      "prefix_mismatch": name_mismatch, "other_lines": other, "examples": examples}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("restarts")
    r.add_argument("--sup", required=True)
    r.add_argument("--dir", required=True, help="folder the topology runs in (for `supervisor status`)")
    r.add_argument("--target", default="backend.2")
    r.add_argument("--kills", type=int, default=20)
    r.add_argument("--gap", type=float, default=1.5, help="seconds an instance runs before it is killed")
    r.add_argument("--balancer-port", type=int, required=True)
    r.add_argument("--path", default="/page.html")
    r.add_argument("--threads", type=int, default=4, help="client threads per target")
    r.add_argument("--timeout", type=float, default=1.0, help="client connect/read timeout, seconds")
    r.add_argument("--poll-timeout", type=float, default=0.5)
    r.add_argument("--restart-timeout", type=float, default=10.0)
    r.add_argument("--warmup", type=float, default=0.5)
    r.set_defaults(fn=cmd_restarts)

    f = sub.add_parser("follow")
    f.add_argument("--path", required=True)
    f.add_argument("--keep", type=int, default=3, help="rotated files the writer keeps (log.1 .. log.KEEP)")
    f.add_argument("--archive", required=True)
    f.add_argument("--marker", required=True)
    f.add_argument("--expected", type=int, required=True)
    f.add_argument("--timeout", type=float, default=120)
    f.add_argument("--pid", type=int, default=0, help="process whose CPU/memory to report at the end")
    f.add_argument("--t0", type=float, default=0.0, help="epoch seconds the run started")
    f.add_argument("--ready-file", help="create this file once running, then read 'PID T0' from --run-file")
    f.add_argument("--run-file")
    f.add_argument("--json", help="write the result here instead of stdout")
    f.add_argument("--quiet-after", type=float, default=0,
                   help="also stop once nothing new arrived for this many seconds (0: never); the time is then that of the last data")
    f.set_defaults(fn=cmd_follow)

    v = sub.add_parser("verify")
    v.add_argument("--file", required=True)
    v.add_argument("--marker", required=True)
    v.add_argument("--filler", required=True)
    v.add_argument("--services", type=int, required=True)
    v.add_argument("--lines", type=int, required=True)
    v.add_argument("--no-prefix", action="store_true", help="lines carry the payload alone, no stamp or name")
    v.set_defaults(fn=cmd_verify)

    s = sub.add_parser("sample")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--seconds", type=float, default=10)
    s.set_defaults(fn=cmd_sample)

    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()

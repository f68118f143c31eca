# shellcheck shell=bash
# Helpers shared by the benchmarks in bench/ (backend.sh, balancer.sh). Sourced, never run.
#
# A script sourcing this sets, before calling anything here:
#   REPO_ROOT, SCRATCH      repo root and the private build folder (.build-bench)
#   READY_TIMEOUT           seconds a server gets to answer after start
#   WRK_THREADS, WRK_CONNS, DURATION, AB_CONC, AB_REQUESTS   load settings
# and gets: process tracking with an EXIT trap that stops only what it started, free ports,
# readiness polling, wrk/ab runners that parse their output, and median/format helpers.

# ------------------------------------------------------------------ output --
log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ------------------------------------------------------------ dependencies --
# Install only what is missing, and refresh the apt lists only then: an
# `apt-get update` on every run is slow and needs the network.
#   ensure_tools [COMMAND:PACKAGE ...]   extra tools beyond wrk, ab, curl, nginx
# Daemons (nginx, haproxy) live in /usr/sbin, which a non-root PATH may lack:
# sbin_path finds them either way.
sbin_path() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; }
NGINX_BIN=""
ensure_tools() {
    local missing=() spec
    command -v wrk >/dev/null || missing+=(wrk)
    command -v ab  >/dev/null || missing+=(apache2-utils)
    command -v curl >/dev/null || missing+=(curl)
    for spec in nginx:nginx "$@"; do
        [[ -x "$(sbin_path "${spec%%:*}")" ]] || missing+=("${spec#*:}")
    done
    if ((${#missing[@]})); then
        local sudo=""
        ((EUID == 0)) || sudo="sudo"
        log "installing: ${missing[*]}"
        $sudo apt-get update
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${missing[@]}"
    fi
    NGINX_BIN="$(sbin_path nginx)"
}

# Release build into the private scratch folder; every path given must exist afterwards.
build_release() {
    log "building: swift build -c release --scratch-path .build-bench"
    local blog="$BENCH_TMP/build.log" bin
    if ! (cd "$REPO_ROOT" && swift build -c release --scratch-path .build-bench) >"$blog" 2>&1; then
        tail -n 40 "$blog" >&2
        die "release build failed (full log: $blog)"
    fi
    for bin in "$@"; do
        [[ -x "$bin" ]] || die "build succeeded but $bin is missing"
    done
}

# ------------------------------------------------------- process handling --
# Every PID we start goes into STARTED; the EXIT trap stops exactly those
# (never anything by name: another nginx/haproxy/backend may be running on this box).
STARTED=()
BENCH_TMP=""

# Our scratch folder, from mktemp; cleanup deletes it only if it still has exactly this shape.
make_bench_tmp() {   # NAME -> BENCH_TMP=/tmp/bench-NAME.XXXXXX
    BENCH_TMP="$(mktemp -d "/tmp/bench-$1.XXXXXX")"
}

# Alive and not a zombie waiting to be reaped (kill -0 succeeds on a zombie).
is_running() {
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
    [[ "$state" != Z ]]
}

# Start "$@" in the background with stdout+stderr to LOGFILE; sets SPAWNED_PID and tracks it.
spawn() {
    local logf="$1"; shift
    "$@" >"$logf" 2>&1 &
    SPAWNED_PID=$!
    STARTED+=("$SPAWNED_PID")
}

stop_pid() {
    local pid="$1" i
    [[ -n "$pid" ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    # Remember the children first: if the parent has to be SIGKILLed, nginx
    # workers would otherwise be orphaned.
    local kids
    kids="$(pgrep -P "$pid" || true)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do          # up to 5 s for a graceful exit
        is_running "$pid" || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
    wait "$pid" 2>/dev/null || true
}

# Stop these PIDs and drop them from STARTED.
stop_pids() {
    local pid keep=() p
    for pid in "$@"; do stop_pid "$pid"; done
    for p in "${STARTED[@]+"${STARTED[@]}"}"; do
        for pid in "$@"; do [[ "$p" == "$pid" ]] && continue 2; done
        keep+=("$p")
    done
    STARTED=("${keep[@]+"${keep[@]}"}")
}

cleanup() {
    local pid
    for pid in "${STARTED[@]+"${STARTED[@]}"}"; do stop_pid "$pid"; done
    STARTED=()
    # Remove only a directory mktemp made for us (never whatever else BENCH_TMP might hold).
    if [[ "$BENCH_TMP" =~ ^/tmp/bench-[a-z]+\.[A-Za-z0-9]{6}$ && -d "$BENCH_TMP" && ! -L "$BENCH_TMP" ]]; then
        rm -rf -- "$BENCH_TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # runs the EXIT trap too

# A port nobody listens on. Chosen below the ephemeral range (32768+) so the
# many client sockets of ab cannot collide with it. Ports already handed out by
# take_port (not yet bound by their server) are skipped too.
TAKEN_PORTS=" "
free_port() {
    local p i
    for ((i = 0; i < 200; i++)); do
        p="$(shuf -i 20000-32000 -n 1)"
        [[ "$TAKEN_PORTS" == *" $p "* ]] && continue
        if [[ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ]] &&
            ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"; return 0
        fi
    done
    die "no free port found"
}
take_port() {   # VAR: a free port, remembered so later calls never return it again
    local _take_port_p   # a name no caller uses for VAR (printf -v would set this local instead)
    _take_port_p="$(free_port)" || exit 1
    TAKEN_PORTS+="$_take_port_p "
    printf -v "$1" '%s' "$_take_port_p"
}

# Poll URL until it answers 200, with a deadline; fail early if the process died.
wait_ready() {
    local name="$1" pid="$2" url="$3" logf="$4"
    local deadline=$((SECONDS + READY_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! is_running "$pid"; then
            log "$name exited during startup; its log:"; cat "$logf" >&2 || true
            return 1
        fi
        if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)" == 200 ]]; then
            return 0
        fi
        sleep 0.05
    done
    log "$name not ready after ${READY_TIMEOUT}s; its log:"; cat "$logf" >&2 || true
    return 1
}

# "STATUS BYTES" of a GET, for checking that two servers answer alike.
status_and_size() {
    curl -s -o /dev/null --max-time 10 -w '%{http_code} %{size_download}' "$1" || true
}

# The mime-types line for a generated nginx.conf.
nginx_mime_line() {
    if [[ -r /etc/nginx/mime.types ]]; then echo "include /etc/nginx/mime.types;"
    else echo "types { text/html html; text/css css; image/jpeg jpg; application/pdf pdf; }"; fi
}

# ------------------------------------------------------------- nginx files --
# Every nginx the benchmarks start runs in the foreground (daemon off) as a child of this script, with everything
# (pid, error log, temp dirs) inside its own prefix so it touches nothing global.
nginx_conf_head() {   # PREFIX WORKERS: the part every generated nginx.conf shares
    local prefix="$1" workers="$2"
    cat <<EOF
# generated by bench/$(basename "$0")
daemon off;
master_process on;
worker_processes $workers;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 10000; }
http {
    $(nginx_mime_line)
    access_log off;                  # ours run --quiet: no per-request logging anywhere
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;    # never close a keep-alive connection mid-run
    keepalive_timeout 75s;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path       $prefix/tmp/proxy;
    fastcgi_temp_path     $prefix/tmp/fastcgi;
    uwsgi_temp_path       $prefix/tmp/uwsgi;
    scgi_temp_path        $prefix/tmp/scgi;
EOF
}

launch_nginx() {   # NAME PREFIX READY_URL -> SPAWNED_PID
    local name="$1" prefix="$2" url="$3"
    # -e: error log from the very start (before the config is read), else nginx
    # tries /var/log/nginx/error.log.
    spawn "$prefix/logs/stdout.log" "$NGINX_BIN" -p "$prefix" -e "$prefix/logs/error.log" -c "$prefix/nginx.conf"
    wait_ready "$name" "$SPAWNED_PID" "$url" "$prefix/logs/error.log" ||
        { tail -n 20 "$prefix/logs/stdout.log" >&2 || true; die "$name did not start"; }
}

# ---------------------------------------------------------- load and parse --
# Each run sets R_RPS, R_P99 (ms), R_FAIL (count) and R_NOTE (failure detail).
# Raw tool output is appended to $BENCH_TMP/raw.log.

# wrk prints latencies as 812.00us / 1.23ms / 1.02s / 1.50m.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        else if (u != "ms") { print "nan"; exit }
        printf "%.3f", n }'
}

run_wrk() {   # URL
    local url="$1" out
    out="$(wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${DURATION}s" --latency "$url" 2>&1)" ||
        { log "$out"; die "wrk failed"; }
    printf '%s\n' "$out" >>"$BENCH_TMP/raw.log"
    R_RPS="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    R_REQS="$(awk '/ requests in / {print $1; exit}' <<<"$out")"
    R_P99="$(to_ms "$(awk '$1 == "99%" {print $2; exit}' <<<"$out")")"
    local non2xx sock
    non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")"
    # "Socket errors: connect 0, read 0, write 0, timeout 0" -> sum of the four
    sock="$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' <<<"$out")"
    R_FAIL=$(( ${non2xx:-0} + ${sock:-0} ))
    R_NOTE="non2xx=${non2xx:-0} socket_errors=${sock:-0}"
    [[ -z "$sock" ]] || R_NOTE+=" ($(grep -o 'connect.*' <<<"$out"))"
    [[ -n "$R_RPS" ]] || { log "$out"; die "could not parse wrk output"; }
}

run_ab() {   # URL
    local url="$1" out rc=0
    # ab aborts (non-zero, no summary) on e.g. a connection reset: count that
    # as a failed run instead of stopping the whole benchmark.
    # -e: ab's percentile table to a file, in fractional ms; the one it prints is rounded to whole
    # ms, where two servers 0.4 ms apart often print the same p99 (or 1 ms apart when they are not).
    local csv="$BENCH_TMP/ab-percentiles.csv"
    rm -f "$csv"
    out="$(ab -q -c "$AB_CONC" -n "$AB_REQUESTS" -e "$csv" "$url" 2>&1)" || rc=$?
    printf '%s\n' "$out" >>"$BENCH_TMP/raw.log"
    if ((rc != 0)) || ! grep -q '^Requests per second:' <<<"$out"; then
        R_RPS=nan R_P99=nan R_FAIL=$AB_REQUESTS R_REQS=0
        R_NOTE="ab ABORTED (rc=$rc): $(tail -n 1 <<<"$out")"
        return 0
    fi
    R_RPS="$(awk '/^Requests per second:/ {print $4}' <<<"$out")"
    R_REQS="$(awk '/^Complete requests:/ {print $3}' <<<"$out")"
    # the 99% line of "Percentage of the requests served within a certain time (ms)"
    R_P99="$(awk -F, '$1 == "99" {print $2; exit}' "$csv" 2>/dev/null || true)"
    [[ -n "$R_P99" ]] ||
        R_P99="$(awk '/^Percentage of the requests/ {p = 1} p && $1 == "99%" {print $2; exit}' <<<"$out")"
    local failed non2xx
    failed="$(awk '/^Failed requests:/ {print $3}' <<<"$out")"
    non2xx="$(awk '/^Non-2xx responses:/ {print $3}' <<<"$out")"   # only printed when > 0
    R_FAIL=$(( ${failed:-0} + ${non2xx:-0} ))
    R_NOTE="failed=${failed:-0} non2xx=${non2xx:-0}"
}

# The PIDs and their child processes (an nginx master and its workers), one per line.
with_children() {   # PID...
    local p
    for p in "$@"; do
        echo "$p"
        pgrep -P "$p" || true
    done
}

# CPU time the kernel has charged to PIDs and their child processes (all threads), in ns: the
# scheduler's own account (/proc/*/task/*/schedstat), finer than the 10 ms ticks of /proc/*/stat.
cpu_ns() {   # PID...
    local p
    for p in $(with_children "$@"); do cat /proc/"$p"/task/*/schedstat 2>/dev/null || true; done |
        awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# Peak resident memory of PIDs and their child processes so far (VmHWM), in MB, summed over the
# processes: pages an nginx master shares with its workers count once per process, so for a
# multi-process server this is an upper bound.
peak_rss_mb() {   # PID...
    local p
    for p in $(with_children "$@"); do awk '/^VmHWM:/ { print $2 }' /proc/"$p"/status 2>/dev/null || true; done |
        awk '{ s += $1 } END { printf "%.1f\n", s / 1024 }'
}

# Runs "$@" (a run_wrk or run_ab) and sets R_CPU_US: the server PID's CPU per request, in µs.
# When the load generator, the backends and the server share the CPUs, requests/s can be bound by
# the others; this is what the server itself spends.
with_server_cpu() {   # PID COMMAND...
    local pid="$1" c0 c1; shift
    c0="$(cpu_ns "$pid")"
    "$@"
    c1="$(cpu_ns "$pid")"
    R_CPU_US="$(awk -v a="$c0" -v b="$c1" -v n="${R_REQS:-0}" 'BEGIN { if (n > 0) printf "%.2f", (b - a) / n / 1000; else print "nan" }')"
}

# ------------------------------------------------------------- statistics --
median() {   # numbers as arguments; "nan" entries are skipped (all nan -> nan)
    printf '%s\n' "$@" | { grep -E '^[0-9.]+$' || true; } | sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "nan"; exit }
            if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
fmt_int() { awk -v v="$1" 'BEGIN { if (v == "nan") print "x"; else printf "%.0f\n", v }'; }
fmt_k()  { awk -v v="$1" 'BEGIN { if (v == "nan") print "x"; else printf "%.1fk\n", v / 1000 }'; }
fmt_ms() { awk -v v="$1" 'BEGIN { if (v == "nan") print "x"; else printf "%.2f\n", v }'; }
ratio()  { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
# Each round's ours/theirs, sorted, one per line; a round where either run failed (nan) is left out.
round_ratios() {   # "THEIRS RUNS..." "OURS RUNS..."
    local -a t o
    read -r -a t <<<"$1"
    read -r -a o <<<"$2"
    local i
    for ((i = 0; i < ${#t[@]} && i < ${#o[@]}; i++)); do echo "${t[i]} ${o[i]}"; done |
        awk '$1 != "nan" && $2 != "nan" && $1 + 0 > 0 { printf "%.4f\n", $2 / $1 }' | sort -g
}
# Median over rounds of ours/theirs, each round's pair having run back to back: drift of a noisy VM
# between rounds (often larger than the difference measured) cancels out of every round's ratio.
paired_ratio() {   # "THEIRS RUNS..." "OURS RUNS..."
    local m
    # shellcheck disable=SC2046  # one ratio per word
    m="$(median $(round_ratios "$1" "$2"))"
    [[ $m == nan ]] && echo "n/a" || printf '%.2f' "$m"
}
# How far the paired ratio can be trusted: a distribution-free interval for the median of the
# rounds' ratios, from their order statistics (the k-th smallest and k-th largest, with k the largest
# for which the interval holds the true median with at least 90% confidence; a binomial(n, 1/2) tail).
# Needs 5 rounds or more; with 5–7 it is the whole range of the rounds.
# Prints "LO HI VERDICT": ahead (LO > 1), behind (HI < 1), else parity (the rounds cannot tell).
paired_interval() {   # "THEIRS RUNS..." "OURS RUNS..."
    round_ratios "$1" "$2" | awk '
        { r[++n] = $1 }
        END {
            if (n < 5) { print "n/a n/a n/a"; exit }
            # [r_k, r_(n+1-k)] misses the median with probability 2 * P(Binomial(n, 1/2) <= k - 1)
            k = 1; c = 1; tail = 0
            for (m = 0; m < n; m++) {
                tail += c / 2 ^ n; c = c * (n - m) / (m + 1)   # tail = P(X <= m)
                if (2 * tail > 0.10) break
                k = m + 1
            }
            lo = r[k]; hi = r[n + 1 - k]
            verdict = lo > 1 ? "ahead" : hi < 1 ? "behind" : "parity"
            printf "%.2f %.2f %s\n", lo, hi, verdict
        }'
}
runs_k()  { local v; for v in "$@"; do fmt_k "$v"; done | paste -sd' '; }    # per-run req/s, compact
runs_ms() { local v; for v in "$@"; do fmt_ms "$v"; done | paste -sd' '; }   # per-run p99

# Results keyed by the caller (e.g. "workers|tool|server"); values are space-separated per-round lists.
declare -A RPS P99 FAILS CPU_US
ANY_FAIL=0

# shellcheck disable=SC2034  # ANY_FAIL is read by the sourcing script's report
record() {   # KEY LABEL: stores the run and prints it (after LABEL) so failures are visible as they happen
    RPS[$1]+="$R_RPS " P99[$1]+="$R_P99 " CPU_US[$1]+="${R_CPU_US:-nan} "
    FAILS[$1]=$(( ${FAILS[$1]:-0} + R_FAIL ))
    local flag="" cpu=""
    ((R_FAIL == 0)) || { flag="  <-- FAILURES"; ANY_FAIL=1; }
    [[ -z "${R_CPU_US:-}" ]] || cpu="   cpu $(fmt_ms "$R_CPU_US") us/req"
    printf '  %s %9s req/s   p99 %8s ms%s   %s%s\n' \
        "$2" "$(fmt_int "$R_RPS")" "$(fmt_ms "$R_P99")" "$cpu" "$R_NOTE" "$flag"
}

# ----------------------------------------------------------------- report --
dedup_words() { tr ' ' '\n' <<<"$1" | awk 'NF && !seen[$0]++' | paste -sd' '; }

# The first report lines: when, on what machine.
report_machine_lines() {
    local cpu
    cpu="$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "machine: nproc=$(nproc), kernel $(uname -r), CPU: ${cpu:-unknown}, load avg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Versions of the load tools and of our code, for the versions line.
tool_versions() {   # -> "nginx/x, wrk x, ab x"
    local v_nginx v_wrk v_ab
    v_nginx="$("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //')"
    v_wrk="$(wrk -v 2>&1 | head -n 1 | awk '{print $1, $2}' || true)"
    v_ab="ab $(ab -V 2>&1 | awk '/Version/ {print $5; exit}' | tr -d , || true)"
    echo "$v_nginx, $v_wrk, $v_ab"
}
our_commit() {
    local commit
    commit="$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    if [[ -n "$(git -C "$REPO_ROOT" status --porcelain -- Sources Package.swift 2>/dev/null)" ]]; then
        commit+=" (+ uncommitted changes)"
    fi
    echo "$commit"
}

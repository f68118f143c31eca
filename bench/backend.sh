#!/usr/bin/env bash
# Benchmark: our `backend` static-file server against nginx, same machine, same run.
#
# This is a benchmark, not a test: it never fails on "slow", it prints numbers.
# It does fail (non-zero exit) if it cannot build, install or start something.
#
#   bash bench/backend.sh                                    # defaults
#   ROUNDS=2 DURATION=3 AB_REQUESTS=5000 bash bench/backend.sh   # quick check
#
# Environment (all optional):
#   ROUNDS=5          measured rounds per (workers, tool, server)
#   DURATION=5        seconds per wrk run
#   AB_REQUESTS=20000 requests per ab run
#   WARMUP=1          seconds of wrk warm-up per server after start (0 = none)
#   WORKERS_LIST="1 $(nproc)"   worker configurations to measure
#   URL_PATH=/page.html         file to fetch (from www/)
#   WRK_THREADS=1               wrk threads (see the note at its default below)
#
# What it measures, per worker configuration:
#   wrk  keep-alive:   wrk -t2 -c64 -d${DURATION}s --latency
#   ab   no keep-alive: ab -q -c 50 -n ${AB_REQUESTS}
# Servers alternate inside every round, and which one goes first flips each
# round, so slow drift of a noisy VM (other tenants, thermal, page cache)
# lands on both servers equally instead of biasing whichever runs second.
# We report medians because single runs on a shared VM have outliers.
#
# Output: a table on stdout and the same as Markdown in bench/results/backend-latest.md.

set -euo pipefail

# ---------------------------------------------------------------- settings --
ROUNDS="${ROUNDS:-5}"
DURATION="${DURATION:-5}"
AB_REQUESTS="${AB_REQUESTS:-20000}"
WARMUP="${WARMUP:-1}"
NPROC="$(nproc)"
WORKERS_LIST="${WORKERS_LIST:-1 $NPROC}"
URL_PATH="${URL_PATH:-/page.html}"
# One wrk thread by default: on a 2-core machine a second wrk thread competes with the servers for
# CPU, and p99 then measures the kernel scheduler's time slices more than either server (both servers'
# p99 rise; the faster one's rises more because it keeps its threads busier). WRK_THREADS=2 to compare.
WRK_THREADS="${WRK_THREADS:-1}"
WRK_CONNS=64
AB_CONC=50
READY_TIMEOUT=15   # seconds a server gets to answer after start

# The repo root is the parent of this script's folder, wherever we are called from.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WWW="$REPO_ROOT/www"
SCRATCH="$REPO_ROOT/.build-bench"   # separate from .build so we never fight another build
BACKEND_BIN="$SCRATCH/release/backend"
RESULTS_DIR="$REPO_ROOT/bench/results"
RESULTS_MD="$RESULTS_DIR/backend-latest.md"

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ------------------------------------------------------------ dependencies --
# Install only what is missing, and refresh the apt lists only then: an
# `apt-get update` on every run is slow and needs the network.
NGINX_BIN=""
ensure_tools() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v ab  >/dev/null || missing+=(apache2-utils)
    command -v curl >/dev/null || missing+=(curl)
    # nginx lives in /usr/sbin, which a non-root PATH may lack.
    if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then missing+=(nginx); fi
    if ((${#missing[@]})); then
        local sudo=""
        ((EUID == 0)) || sudo="sudo"
        log "installing: ${missing[*]}"
        $sudo apt-get update
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${missing[@]}"
    fi
    NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
}

build_backend() {
    log "building: swift build -c release --scratch-path .build-bench"
    local blog="$BENCH_TMP/build.log"
    if ! (cd "$REPO_ROOT" && swift build -c release --scratch-path .build-bench) >"$blog" 2>&1; then
        tail -n 40 "$blog" >&2
        die "release build failed (full log: $blog)"
    fi
    [[ -x "$BACKEND_BIN" ]] || die "build succeeded but $BACKEND_BIN is missing"
}

# ------------------------------------------------------- process handling --
# Every PID we start goes into STARTED; the EXIT trap stops exactly those
# (never anything by name: another nginx/backend may be running on this box).
STARTED=()
BENCH_TMP=""

stop_pid() {
    local pid="$1" i
    kill -0 "$pid" 2>/dev/null || return 0
    # Remember the children first: if the parent has to be SIGKILLed, nginx
    # workers would otherwise be orphaned.
    local kids
    kids="$(pgrep -P "$pid" || true)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do          # up to 5 s for a graceful exit
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local pid
    for pid in "${STARTED[@]}"; do stop_pid "$pid"; done
    STARTED=()
    # Remove only the directory mktemp made for us (never whatever else BENCH_TMP might hold).
    case "$BENCH_TMP" in
        /tmp/bench-backend.??????) rm -rf -- "$BENCH_TMP" ;;
    esac
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # runs the EXIT trap too

# A port nobody listens on. Chosen below the ephemeral range (32768+) so the
# many client sockets of ab cannot collide with it.
free_port() {
    local p i
    for ((i = 0; i < 200; i++)); do
        p="$(shuf -i 20000-32000 -n 1)"
        if [[ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ]] &&
            ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"; return 0
        fi
    done
    die "no free port found"
}

# Poll URL until it answers 200, with a deadline; fail early if the process died.
wait_ready() {
    local name="$1" pid="$2" url="$3" logf="$4"
    local deadline=$((SECONDS + READY_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
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

# nginx as a foreground (daemon off) child of this script, with everything
# (pid, error log, temp dirs) inside its own prefix so it touches nothing global.
NGINX_PID="" NGINX_PORT=""
start_nginx() {
    local workers="$1" prefix="$BENCH_TMP/nginx-w$1"
    mkdir -p "$prefix/logs" "$prefix/tmp"
    NGINX_PORT="$(free_port)"
    local mime="include /etc/nginx/mime.types;"
    [[ -r /etc/nginx/mime.types ]] || mime="types { text/html html; text/css css; }"
    cat >"$prefix/nginx.conf" <<EOF
# generated by bench/backend.sh
daemon off;
master_process on;
worker_processes $workers;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 10000; }
http {
    $mime
    access_log off;            # ours runs --quiet: no per-request logging on either side
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;  # never close a wrk keep-alive connection mid-run
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path       $prefix/tmp/proxy;
    fastcgi_temp_path     $prefix/tmp/fastcgi;
    uwsgi_temp_path       $prefix/tmp/uwsgi;
    scgi_temp_path        $prefix/tmp/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WWW;
    }
}
EOF
    # -e: error log from the very start (before the config is read), else nginx
    # tries /var/log/nginx/error.log.
    "$NGINX_BIN" -p "$prefix" -e "$prefix/logs/error.log" -c "$prefix/nginx.conf" \
        >"$prefix/logs/stdout.log" 2>&1 &
    NGINX_PID=$!
    STARTED+=("$NGINX_PID")
    wait_ready nginx "$NGINX_PID" "http://127.0.0.1:$NGINX_PORT$URL_PATH" "$prefix/logs/error.log" ||
        die "nginx did not start"
}

OURS_PID="" OURS_PORT=""
start_ours() {
    local workers="$1" logf="$BENCH_TMP/backend-w$1.log"
    OURS_PORT="$(free_port)"
    # Bound to 127.0.0.1 like nginx, so both go through the same loopback path.
    "$BACKEND_BIN" --port "$OURS_PORT" --host 127.0.0.1 --root "$WWW" \
        --workers "$workers" --quiet >"$logf" 2>&1 &
    OURS_PID=$!
    STARTED+=("$OURS_PID")
    wait_ready backend "$OURS_PID" "http://127.0.0.1:$OURS_PORT/healthz" "$logf" ||
        die "backend did not start"
    log "  $(head -n 1 "$logf")"
}

stop_servers() {
    stop_pid "$NGINX_PID"; stop_pid "$OURS_PID"
    local keep=() pid
    for pid in "${STARTED[@]}"; do
        [[ "$pid" == "$NGINX_PID" || "$pid" == "$OURS_PID" ]] || keep+=("$pid")
    done
    STARTED=("${keep[@]+"${keep[@]}"}")
}

# Both servers must return the same bytes for the comparison to mean anything.
check_same_file() {
    local a b
    a="$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$NGINX_PORT$URL_PATH")"
    b="$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$OURS_PORT$URL_PATH")"
    log "  GET $URL_PATH -> nginx: $a, ours: $b (status bytes)"
    [[ "$a" == "$b" ]] || die "servers disagree on $URL_PATH"
}

# ---------------------------------------------------------- load and parse --
# Each run sets R_RPS, R_P99 (ms), R_FAIL (count) and R_NOTE (failure detail).

# wrk prints latencies as 812.00us / 1.23ms / 1.02s / 1.50m.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        else if (u != "ms") { print "nan"; exit }
        printf "%.3f", n }'
}

run_wrk() {
    local port="$1" out
    out="$(wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${DURATION}s" --latency \
        "http://127.0.0.1:$port$URL_PATH" 2>&1)" || { log "$out"; die "wrk failed"; }
    printf '%s\n' "$out" >>"$BENCH_TMP/raw.log"
    R_RPS="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
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

run_ab() {
    local port="$1" out rc=0
    # ab aborts (non-zero, no summary) on e.g. a connection reset: count that
    # as a failed run instead of stopping the whole benchmark.
    out="$(ab -q -c "$AB_CONC" -n "$AB_REQUESTS" "http://127.0.0.1:$port$URL_PATH" 2>&1)" || rc=$?
    printf '%s\n' "$out" >>"$BENCH_TMP/raw.log"
    if ((rc != 0)) || ! grep -q '^Requests per second:' <<<"$out"; then
        R_RPS=nan R_P99=nan R_FAIL=$AB_REQUESTS
        R_NOTE="ab ABORTED (rc=$rc): $(tail -n 1 <<<"$out")"
        return 0
    fi
    R_RPS="$(awk '/^Requests per second:/ {print $4}' <<<"$out")"
    # the 99% line of "Percentage of the requests served within a certain time (ms)"
    R_P99="$(awk '/^Percentage of the requests/ {p = 1} p && $1 == "99%" {print $2; exit}' <<<"$out")"
    local failed non2xx
    failed="$(awk '/^Failed requests:/ {print $3}' <<<"$out")"
    non2xx="$(awk '/^Non-2xx responses:/ {print $3}' <<<"$out")"   # only printed when > 0
    R_FAIL=$(( ${failed:-0} + ${non2xx:-0} ))
    R_NOTE="failed=${failed:-0} non2xx=${non2xx:-0}"
}

# ------------------------------------------------------------- statistics --
median() {   # numbers as arguments; "nan" entries are skipped
    printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "nan"; exit }
            if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
fmt_int() { awk -v v="$1" 'BEGIN { if (v == "nan") print "x"; else printf "%.0f\n", v }'; }
fmt_k()  { awk -v v="$1" 'BEGIN { if (v == "nan") print "x"; else printf "%.1fk\n", v / 1000 }'; }
fmt_ms() { awk -v v="$1" 'BEGIN { if (v == "nan") print "x"; else printf "%.2f\n", v }'; }
ratio()  { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }

# Results keyed "workers|tool|server"; values are space-separated per-round lists.
declare -A RPS P99 FAILS
ANY_FAIL=0

record() {   # key "workers|tool|server"; prints the run so failures are visible as they happen
    RPS[$1]+="$R_RPS " P99[$1]+="$R_P99 "
    FAILS[$1]=$(( ${FAILS[$1]:-0} + R_FAIL ))
    local flag="" tool srv
    IFS='|' read -r _ tool srv <<<"$1"
    ((R_FAIL == 0)) || { flag="  <-- FAILURES"; ANY_FAIL=1; }
    printf '  %-3s %-5s %9s req/s   p99 %8s ms   %s%s\n' \
        "$tool" "$srv" "$(fmt_int "$R_RPS")" "$(fmt_ms "$R_P99")" "$R_NOTE" "$flag"
}

# ------------------------------------------------------------------- main --
measure_config() {
    local w="$1" r tool srv order
    log ""
    log "== workers=$w: starting nginx and backend"
    start_nginx "$w"
    start_ours "$w"
    check_same_file
    if ((WARMUP > 0)); then   # fill caches / fault in pages before measuring
        wrk -t1 -c8 -d"${WARMUP}s" "http://127.0.0.1:$NGINX_PORT$URL_PATH" >/dev/null 2>&1 || true
        wrk -t1 -c8 -d"${WARMUP}s" "http://127.0.0.1:$OURS_PORT$URL_PATH" >/dev/null 2>&1 || true
    fi
    for ((r = 1; r <= ROUNDS; r++)); do
        # Flip who goes first every round (ABBA ordering against drift).
        if ((r % 2)); then order="nginx ours"; else order="ours nginx"; fi
        echo "-- workers=$w round $r/$ROUNDS"
        for tool in wrk ab; do
            for srv in $order; do
                local port=$NGINX_PORT
                [[ $srv == ours ]] && port=$OURS_PORT
                "run_$tool" "$port"
                record "$w|$tool|$srv"
            done
        done
    done
    stop_servers
}

print_report() {
    local date_s kernel cpu v_nginx v_wrk v_ab
    date_s="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    kernel="$(uname -r)"
    cpu="$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    v_nginx="$("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //')"
    v_wrk="$(wrk -v 2>&1 | head -n 1 | awk '{print $1, $2}' || true)"
    v_ab="ab $(ab -V 2>&1 | awk '/Version/ {print $5; exit}' | tr -d , || true)"
    local commit
    commit="$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    if [[ -n "$(git -C "$REPO_ROOT" status --porcelain -- Sources Package.swift 2>/dev/null)" ]]; then
        commit+=" (+ uncommitted changes)"
    fi

    local header
    header="date: $date_s
machine: nproc=$NPROC, kernel $kernel, CPU: ${cpu:-unknown}, load avg at end: $(cut -d' ' -f1-3 /proc/loadavg)
versions: $v_nginx, $v_wrk, $v_ab, backend @ $commit
settings: ROUNDS=$ROUNDS DURATION=${DURATION}s AB_REQUESTS=$AB_REQUESTS WARMUP=${WARMUP}s, GET $URL_PATH ($(stat -c %s "$WWW$URL_PATH") bytes)
wrk = keep-alive, wrk -t$WRK_THREADS -c$WRK_CONNS -d${DURATION}s --latency; ab = no keep-alive, ab -q -c $AB_CONC -n $AB_REQUESTS
medians over rounds; ratio = ours/nginx req/s (>1 = ours faster); p99 in ms (lower is better); fail = failed+non-2xx+socket errors summed over rounds (nginx/ours)"

    local md="$RESULTS_MD.tmp"
    mkdir -p "$RESULTS_DIR"
    {
        echo "# backend vs nginx — static file benchmark"
        echo
        echo "Generated by \`bench/backend.sh\`."
        echo
        sed 's/^/- /' <<<"$header"
        echo
        echo "| workers | tool | nginx req/s | ours req/s | ratio | nginx p99 ms | ours p99 ms | fail n/o | runs req/s nginx / ours | runs p99 ms nginx / ours |"
        echo "|---|---|---:|---:|---:|---:|---:|---|---|---|"
    } >"$md"

    echo
    echo "================ backend vs nginx ================"
    echo "$header"
    echo
    local fmt='%-7s %-4s %11s %11s %6s %9s %9s %-9s %s\n'
    # shellcheck disable=SC2059
    printf "$fmt" workers tool "nginx r/s" "ours r/s" ratio "nginx p99" "ours p99" "fail n/o" "runs: req/s nginx | ours ; p99 ms nginx | ours"

    local w tool kn ko mn mo pn po runs_r runs_p fail
    for w in $WORKERS_LIST; do
        for tool in wrk ab; do
            kn="$w|$tool|nginx" ko="$w|$tool|ours"
            # shellcheck disable=SC2086
            mn="$(median ${RPS[$kn]})" mo="$(median ${RPS[$ko]})"
            # shellcheck disable=SC2086
            pn="$(median ${P99[$kn]})" po="$(median ${P99[$ko]})"
            runs_r="$(for v in ${RPS[$kn]}; do fmt_k "$v"; done | paste -sd' ') | $(for v in ${RPS[$ko]}; do fmt_k "$v"; done | paste -sd' ')"
            runs_p="$(for v in ${P99[$kn]}; do fmt_ms "$v"; done | paste -sd' ') | $(for v in ${P99[$ko]}; do fmt_ms "$v"; done | paste -sd' ')"
            fail="${FAILS[$kn]}/${FAILS[$ko]}"
            # shellcheck disable=SC2059
            printf "$fmt" "$w" "$tool" "$(fmt_int "$mn")" "$(fmt_int "$mo")" "$(ratio "$mo" "$mn")" \
                "$(fmt_ms "$pn")" "$(fmt_ms "$po")" "$fail" "$runs_r ; $runs_p"
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$w" "$tool" "$(fmt_int "$mn")" "$(fmt_int "$mo")" \
                "$(ratio "$mo" "$mn")" "$(fmt_ms "$pn")" "$(fmt_ms "$po")" "$fail" \
                "${runs_r/|/\/}" "${runs_p/|/\/}" >>"$md"
        done
    done
    if ((ANY_FAIL)); then
        echo
        echo "WARNING: some runs had failed/non-2xx/socket-error responses (see 'fail n/o' and the per-run lines above)."
        printf '\n**WARNING:** some runs had failed/non-2xx/socket-error responses (column "fail n/o").\n' >>"$md"
    fi
    mv "$md" "$RESULTS_MD"
    echo
    echo "written: ${RESULTS_MD#"$REPO_ROOT"/}"
}

main() {
    BENCH_TMP="$(mktemp -d /tmp/bench-backend.XXXXXX)"
    ensure_tools
    build_backend
    # De-duplicate the worker list (on a 1-core machine "1 $(nproc)" is "1 1").
    WORKERS_LIST="$(tr ' ' '\n' <<<"$WORKERS_LIST" | awk 'NF && !seen[$0]++' | paste -sd' ')"
    log "benchmark: workers [$WORKERS_LIST], $ROUNDS rounds, wrk ${DURATION}s, ab $AB_REQUESTS requests"
    local w
    for w in $WORKERS_LIST; do measure_config "$w"; done
    print_report
}

main "$@"

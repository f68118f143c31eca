#!/usr/bin/env bash
# Benchmark: our `balancer` (HTTP and TCP mode) against HAProxy, and our `proxy` against an nginx
# reverse proxy, all in front of the same five nginx backends, same machine, same run.
#
# This is a benchmark, not a test: it never fails on "slow", it prints numbers.
# It does fail (non-zero exit) if it cannot build, install or start something, if a pair of
# servers disagrees on a response before measuring, or if a server dies while being measured.
#
#   bash bench/balancer.sh                                         # defaults
#   ROUNDS=2 DURATION=3 AB_REQUESTS=5000 bash bench/balancer.sh    # quick check
#
# Environment (all optional):
#   ROUNDS=9          measured rounds per (mode, workers, tool, server); the report's confidence
#                     range of the paired ratio needs 5 or more (9: the 2nd to 8th of the sorted ratios)
#   DURATION=4        seconds per wrk run
#   AB_REQUESTS=20000 requests per ab run
#   WARMUP=1          seconds of wrk warm-up per server after start (0 = none)
#   WORKERS_LIST="1 $(nproc)"   worker configurations (our --workers, HAProxy nbthread,
#                               nginx-proxy worker_processes)
#   MODES="http tcp proxy"      which comparisons to run
#   URL_PATH=/page.html         file every row fetches (from www/)
#   IMAGE_PATH=/images/pokijan.jpg   extra wrk row for the proxy, through its /images/ route
#   WRK_THREADS=1               wrk threads (see the note at its default below)
#
# The comparisons (everything on 127.0.0.1):
#   http   balancer --mode http   vs HAProxy mode http, balance roundrobin, http-reuse always
#   tcp    balancer --mode tcp    vs HAProxy mode tcp,  balance roundrobin
#   proxy  proxy --route /images/=B1 --route /pdf/=B2 --default B3
#          vs nginx proxy_pass to upstream blocks with keepalive 64
# Backends: ONE nginx process (worker_processes 1) listening on five ports, started once and shared
# by every comparison, so both sides of a pair see exactly the same backends.
#
# What it measures, per (mode, workers):
#   wrk  keep-alive:    wrk -t1 -c64 -d${DURATION}s --latency  GET $URL_PATH
#   ab   no keep-alive: ab -q -c 50 -n ${AB_REQUESTS}          GET $URL_PATH
#   proxy only: wrk keep-alive on $IMAGE_PATH (a 42 KB file, through the /images/ route)
# Servers alternate inside every round, and which one goes first flips each round, so slow drift
# of a noisy VM (other tenants, thermal, page cache) lands on both servers equally instead of
# biasing whichever runs second. We report medians because single runs on a shared VM have outliers.
# Beside requests/s and p99: each server's own CPU per request (schedstat of all its threads and
# processes around every run), its peak resident memory per (mode, workers), and for each row a
# distribution-free ≥90% range of the paired ratio with a verdict: ahead, behind, or parity where the
# rounds cannot tell the two apart.
#
# Output: a table on stdout and the same as Markdown in bench/results/balancer-latest.md.

set -euo pipefail

# ---------------------------------------------------------------- settings --
# More, shorter rounds rather than fewer long ones: on a noisy 2-core VM a round's ratio swings by
# ±5–15%, and what narrows the range of the median is the number of pairs, not their length.
ROUNDS="${ROUNDS:-9}"
DURATION="${DURATION:-4}"
AB_REQUESTS="${AB_REQUESTS:-20000}"
WARMUP="${WARMUP:-1}"
NPROC="$(nproc)"
WORKERS_LIST="${WORKERS_LIST:-1 $NPROC}"
MODES="${MODES:-http tcp proxy}"
URL_PATH="${URL_PATH:-/page.html}"
IMAGE_PATH="${IMAGE_PATH:-/images/pokijan.jpg}"
# One wrk thread by default: on a 2-core machine a second wrk thread competes with the servers for
# CPU, and p99 then measures the kernel scheduler's time slices more than either server (both servers'
# p99 rise; the faster one's rises more because it keeps its threads busier). WRK_THREADS=2 to compare.
# Here it matters even more than in backend.sh: the backends' nginx also needs CPU.
WRK_THREADS="${WRK_THREADS:-1}"
WRK_CONNS=64
AB_CONC=50
READY_TIMEOUT=15   # seconds a server gets to answer after start
BACKEND_COUNT=5
# HAProxy sizes its fd table from maxconn and refuses to start if that exceeds the fd limit
# (20000 on the VMs we use): ~2 fds per connection, so stay below ~9000.
HAPROXY_MAXCONN=8000

# The repo root is the parent of this script's folder, wherever we are called from.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WWW="$REPO_ROOT/www"
SCRATCH="$REPO_ROOT/.build-bench"   # separate from .build so we never fight another build
BALANCER_BIN="$SCRATCH/release/balancer"
PROXY_BIN="$SCRATCH/release/proxy"
RESULTS_DIR="$REPO_ROOT/bench/results"
RESULTS_MD="$RESULTS_DIR/balancer-latest.md"

# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"   # log/die, tools, build, process tracking + EXIT trap, ports, wrk/ab, medians

HAPROXY_BIN=""

# ---------------------------------------------------------------- backends --
# Five "upstreams" served by one nginx with worker_processes 1: five server blocks, one per port.
# Each answers /healthz like our own backend does, because our balancer health-checks
# GET /healthz by default (and marks a 404 answer down); HAProxy gets the same checks below.
BACKEND_PORTS=() BACKENDS_PID=""
start_backends() {
    local prefix="$BENCH_TMP/nginx-backends" i p
    mkdir -p "$prefix/logs" "$prefix/tmp"
    for ((i = 0; i < BACKEND_COUNT; i++)); do take_port p; BACKEND_PORTS+=("$p"); done
    {
        nginx_conf_head "$prefix" 1
        for p in "${BACKEND_PORTS[@]}"; do
            cat <<EOF
    server {
        listen 127.0.0.1:$p;
        root $WWW;
        location = /healthz { default_type application/json; return 200 '{"status":"ok","port":$p}'; }
    }
EOF
        done
        echo "}"
    } >"$prefix/nginx.conf"
    launch_nginx "nginx backends" "$prefix" "http://127.0.0.1:${BACKEND_PORTS[0]}$URL_PATH"
    BACKENDS_PID=$SPAWNED_PID
    for p in "${BACKEND_PORTS[@]:1}"; do
        wait_ready "nginx backend :$p" "$BACKENDS_PID" "http://127.0.0.1:$p$URL_PATH" "$prefix/logs/error.log" ||
            die "nginx backends did not start"
    done
    log "backends: nginx pid $BACKENDS_PID on ports ${BACKEND_PORTS[*]}"
}

# -------------------------------------------------------- servers compared --
# Each start_* sets THEIRS_*/OURS_* (pid, port, log) for the pair being measured.
THEIRS_NAME="" THEIRS_PID="" THEIRS_PORT="" THEIRS_LOG=""
OURS_PID="" OURS_PORT="" OURS_LOG=""

# HAProxy, foreground (-db), no `log` lines at all (ours runs --quiet).
# Health checks like ours (every 1 s, down after 2 failures, up after 2 passes; HTTP GET /healthz in
# http mode, a plain connect in tcp mode), and `option forwardfor` because ours adds
# X-Forwarded-For (and Via) to every request: both sides do the same header work.
start_haproxy() {   # MODE WORKERS
    local mode="$1" workers="$2" dir="$BENCH_TMP/haproxy-$1-w$2" i
    mkdir -p "$dir"
    take_port THEIRS_PORT
    {
        cat <<EOF
# generated by bench/balancer.sh
global
    maxconn $HAPROXY_MAXCONN
    nbthread $workers

defaults
    mode $mode
    timeout connect 3s
    timeout client 60s
    timeout server 60s
EOF
        if [[ $mode == http ]]; then
            cat <<EOF
    option http-keep-alive
    option forwardfor
    http-reuse always
EOF
        fi
        cat <<EOF

frontend fe
    bind 127.0.0.1:$THEIRS_PORT
    default_backend be

backend be
    balance roundrobin
EOF
        [[ $mode == http ]] && echo "    option httpchk GET /healthz"
        for ((i = 0; i < BACKEND_COUNT; i++)); do
            echo "    server b$((i + 1)) 127.0.0.1:${BACKEND_PORTS[i]} check inter 1s fall 2 rise 2"
        done
    } >"$dir/haproxy.cfg"
    # Fail early with HAProxy's own words on a config it does not like.
    "$HAPROXY_BIN" -c -q -f "$dir/haproxy.cfg" >"$dir/check.log" 2>&1 ||
        { cat "$dir/check.log" >&2; die "haproxy rejected $dir/haproxy.cfg"; }
    THEIRS_NAME=haproxy THEIRS_LOG="$dir/haproxy.log"
    spawn "$THEIRS_LOG" "$HAPROXY_BIN" -db -f "$dir/haproxy.cfg"
    THEIRS_PID=$SPAWNED_PID
    wait_ready haproxy "$THEIRS_PID" "http://127.0.0.1:$THEIRS_PORT$URL_PATH" "$THEIRS_LOG" ||
        die "haproxy ($mode, nbthread $workers) did not start"
}

# nginx as a path-routing reverse proxy: the same three routes as our proxy, pooled upstream
# connections (keepalive 64, HTTP/1.1, Connection cleared) like our pools.
start_nginx_proxy() {   # WORKERS
    local workers="$1" prefix="$BENCH_TMP/nginx-proxy-w$1"
    mkdir -p "$prefix/logs" "$prefix/tmp"
    take_port THEIRS_PORT
    {
        nginx_conf_head "$prefix" "$workers"
        cat <<EOF
    # keepalive_requests/timeout in an upstream block bound reuse of upstream connections
    # (defaults 1000 / 60s); ours keeps pooled connections for 15 s idle and never counts requests.
    upstream up_images  { server 127.0.0.1:${BACKEND_PORTS[0]}; keepalive 64; keepalive_requests 100000000; }
    upstream up_pdf     { server 127.0.0.1:${BACKEND_PORTS[1]}; keepalive 64; keepalive_requests 100000000; }
    upstream up_default { server 127.0.0.1:${BACKEND_PORTS[2]}; keepalive 64; keepalive_requests 100000000; }
    server {
        listen 127.0.0.1:$THEIRS_PORT;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        # ours appends X-Forwarded-For (and Via): same header work on both sides
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        location /images/ { proxy_pass http://up_images; }
        location /pdf/    { proxy_pass http://up_pdf; }
        location /        { proxy_pass http://up_default; }
    }
}
EOF
    } >"$prefix/nginx.conf"
    THEIRS_NAME=nginx THEIRS_LOG="$prefix/logs/error.log"
    launch_nginx "nginx proxy" "$prefix" "http://127.0.0.1:$THEIRS_PORT$URL_PATH"
    THEIRS_PID=$SPAWNED_PID
}

# Our balancer or proxy, bound to 127.0.0.1 like the others so all go through the same loopback path.
start_ours() {   # MODE WORKERS
    local mode="$1" workers="$2" prog args=()
    take_port OURS_PORT
    case "$mode" in
        http | tcp)
            prog=balancer
            [[ $mode == tcp ]] && args+=(--mode tcp)
            local p
            for p in "${BACKEND_PORTS[@]}"; do args+=(--upstream "127.0.0.1:$p"); done
            ;;
        proxy)
            prog=proxy
            args+=(--route "/images/=127.0.0.1:${BACKEND_PORTS[0]}"
                   --route "/pdf/=127.0.0.1:${BACKEND_PORTS[1]}"
                   --default "127.0.0.1:${BACKEND_PORTS[2]}")
            ;;
    esac
    local bin="$SCRATCH/release/$prog"
    OURS_LOG="$BENCH_TMP/$prog-$mode-w$workers.log"
    OURS_CMD="$bin --port $OURS_PORT --host 127.0.0.1 --workers $workers --quiet ${args[*]}"
    spawn "$OURS_LOG" "$bin" --port "$OURS_PORT" --host 127.0.0.1 --workers "$workers" --quiet "${args[@]}"
    OURS_PID=$SPAWNED_PID
    wait_ready "$prog" "$OURS_PID" "http://127.0.0.1:$OURS_PORT$URL_PATH" "$OURS_LOG" ||
        die "$prog did not start: $OURS_CMD"
    log "  $(head -n 1 "$OURS_LOG")"
}

start_pair() {   # MODE WORKERS
    case "$1" in
        http | tcp) start_haproxy "$1" "$2" ;;
        proxy) start_nginx_proxy "$2" ;;
    esac
    start_ours "$1" "$2"
}

# Stop the pair, then point out anything either wrote to its log while measured (upstreams marked
# down, nginx buffering to temp files, resets): it often explains an odd number in the table.
stop_pair() {
    stop_pids "$THEIRS_PID" "$OURS_PID"
    local n
    n="$(grep -cE '\[(warn|error|crit|alert|emerg)\]|\[(WARNING|ALERT)\]' "$THEIRS_LOG" || true)"
    ((n == 0)) || log "  note: $THEIRS_NAME logged $n warning/error lines, e.g.: $(grep -m1 -E '\[(warn|error|crit|alert|emerg)\]|\[(WARNING|ALERT)\]' "$THEIRS_LOG")"
    # Ours prints two start-up lines; with --quiet anything after them is a warning or an error.
    n="$(tail -n +3 "$OURS_LOG" | wc -l)"
    ((n == 0)) || log "  note: ours logged $n lines after start-up, e.g.: $(tail -n +3 "$OURS_LOG" | head -n 3 | paste -sd'|')"
}

# Both servers of a pair must answer the same status and the same number of bytes (200 only: two
# identical 503s would measure error pages), or the comparison means nothing.
check_same() {   # PATH...
    local path a b
    for path in "$@"; do
        a="$(status_and_size "http://127.0.0.1:$THEIRS_PORT$path")"
        b="$(status_and_size "http://127.0.0.1:$OURS_PORT$path")"
        log "  GET $path -> $THEIRS_NAME: $a, ours: $b (status bytes)"
        [[ "$a" == "$b" && "$a" == "200 "* ]] || die "servers disagree on $path (or do not answer 200)"
    done
}

# After each run: a server that died (crash, abort) ends the benchmark with its log tail, so a
# crash is never mistaken for a slow run. The command line is printed to reproduce it.
check_alive() {
    if ! is_running "$THEIRS_PID"; then
        log "$THEIRS_NAME (pid $THEIRS_PID) died during the run; its log:"; tail -n 30 "$THEIRS_LOG" >&2 || true
        die "$THEIRS_NAME died"
    fi
    if ! is_running "$OURS_PID"; then
        local rc=0
        wait "$OURS_PID" 2>/dev/null || rc=$?
        log "ours (pid $OURS_PID) died during the run (exit status $rc); its log:"; tail -n 30 "$OURS_LOG" >&2 || true
        log "reproduce: $OURS_CMD"
        die "ours died"
    fi
    if ! is_running "$BACKENDS_PID"; then
        tail -n 30 "$BENCH_TMP/nginx-backends/logs/error.log" >&2 || true
        die "the backends' nginx died"
    fi
}

# ------------------------------------------------------------------- main --
# The measured rows of a mode, as "tool path".
rows_of() {
    echo "wrk $URL_PATH"
    echo "ab $URL_PATH"
    [[ $1 == proxy ]] && echo "wrk $IMAGE_PATH"
    return 0
}

declare -A THEIRS_OF=([http]=haproxy [tcp]=haproxy [proxy]=nginx)
declare -A RSS_MB   # "mode|workers|theirs-or-ours" -> peak resident MB over that config's runs

measure_config() {   # MODE WORKERS
    local mode="$1" w="$2" r tool path srv order port pid
    local -a rows
    mapfile -t rows < <(rows_of "$mode")
    log ""
    log "== $mode workers=$w: starting ${THEIRS_OF[$mode]} and ours"
    start_pair "$mode" "$w"
    # shellcheck disable=SC2046
    check_same $(printf '%s\n' "${rows[@]}" | awk '!seen[$2]++ {print $2}')
    if ((WARMUP > 0)); then   # fill caches, fill the upstream pools, fault in pages before measuring
        for port in "$THEIRS_PORT" "$OURS_PORT"; do
            wrk -t1 -c8 -d"${WARMUP}s" "http://127.0.0.1:$port$URL_PATH" >/dev/null 2>&1 || true
        done
    fi
    for ((r = 1; r <= ROUNDS; r++)); do
        # Flip who goes first every round (ABBA ordering against drift).
        if ((r % 2)); then order="theirs ours"; else order="ours theirs"; fi
        echo "-- $mode workers=$w round $r/$ROUNDS"
        local row
        for row in "${rows[@]}"; do
            read -r tool path <<<"$row"
            for srv in $order; do
                port=$THEIRS_PORT pid=$THEIRS_PID
                [[ $srv == ours ]] && port=$OURS_PORT pid=$OURS_PID
                with_server_cpu "$pid" "run_$tool" "http://127.0.0.1:$port$path"
                # Results keyed "mode|workers|tool|path|theirs-or-ours".
                record "$mode|$w|$tool|$path|$srv" \
                    "$(printf '%-3s %-20s %-7s' "$tool" "$path" "$([[ $srv == ours ]] && echo ours || echo "$THEIRS_NAME")")"
                check_alive
            done
        done
    done
    # Peak memory over the whole config (start, warm-up, every round): pools, buffers, caches.
    RSS_MB["$mode|$w|theirs"]="$(peak_rss_mb "$THEIRS_PID")"
    RSS_MB["$mode|$w|ours"]="$(peak_rss_mb "$OURS_PID")"
    stop_pair
}

print_report() {
    local v_haproxy
    v_haproxy="HAProxy $("$HAPROXY_BIN" -v 2>&1 | awk 'NR == 1 {print $3}')"
    local header
    header="$(report_machine_lines)
versions: $(tool_versions), $v_haproxy, balancer/proxy @ $(our_commit)
settings: ROUNDS=$ROUNDS DURATION=${DURATION}s AB_REQUESTS=$AB_REQUESTS WARMUP=${WARMUP}s, GET $URL_PATH ($(stat -c %s "$WWW$URL_PATH") bytes), $IMAGE_PATH ($(stat -c %s "$WWW$IMAGE_PATH") bytes)
backends: one nginx (worker_processes 1) on $BACKEND_COUNT ports serving www/; workers = our --workers = HAProxy nbthread = nginx-proxy worker_processes
http: balancer vs HAProxy mode http (roundrobin, http-reuse always); tcp: balancer --mode tcp vs HAProxy mode tcp; proxy: proxy vs nginx proxy_pass (upstream keepalive 64)
wrk = keep-alive, wrk -t$WRK_THREADS -c$WRK_CONNS -d${DURATION}s --latency; ab = no keep-alive, ab -q -c $AB_CONC -n $AB_REQUESTS
medians over rounds; ratio = ours/theirs req/s (>1 = ours faster); paired = median over rounds of each round's ours/theirs (the two ran back to back); range = where that median lies with ≥90% confidence (order statistics of the rounds' ratios; needs ROUNDS ≥ 5); verdict = ahead or behind when the whole range is above or below 1, parity when the rounds cannot tell the two apart; p99 in ms (lower is better; ab's from its -e table, not its rounded whole ms); cpu = the server's own CPU per request in µs (all its threads and processes, from schedstat; lower is better; what tells the two apart when requests/s is bound by the backends and the load generator sharing the CPUs); peak MB = the server's peak resident memory (VmHWM, summed over its processes: nginx's master and workers) over all the runs of its mode and workers, so the same on each of those rows; fail = failed+non-2xx+socket errors summed over rounds (theirs/ours)"

    local md="$RESULTS_MD.tmp"
    mkdir -p "$RESULTS_DIR"
    {
        echo "# balancer and proxy vs HAProxy and nginx — forwarding benchmark"
        echo
        echo "Generated by \`bench/balancer.sh\`."
        echo
        sed 's/^/- /' <<<"$header"
        echo
        echo "| mode | workers | tool | path | theirs | theirs req/s | ours req/s | ratio | paired | range | verdict | theirs p99 ms | ours p99 ms | theirs cpu µs/req | ours cpu µs/req | theirs peak MB | ours peak MB | fail t/o | runs req/s theirs / ours | runs p99 ms theirs / ours |"
        echo "|---|---|---|---|---|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---|---|---|"
    } >"$md"

    echo
    echo "================ balancer/proxy vs HAProxy/nginx ================"
    echo "$header"
    echo
    local fmt='%-5s %-7s %-4s %-20s %-7s %11s %11s %6s %6s %-9s %-7s %10s %9s %10s %9s %9s %8s %-9s %s\n'
    # shellcheck disable=SC2059
    printf "$fmt" mode workers tool path theirs "theirs r/s" "ours r/s" ratio paired range verdict "theirs p99" "ours p99" \
        "theirs cpu" "ours cpu" "theirs MB" "ours MB" "fail t/o" \
        "runs: req/s theirs | ours ; p99 ms theirs | ours"

    local mode w row tool path kt ko mt mo pt po ct co mbt mbo runs_r runs_p fail paired lo hi verdict range
    local -a rows
    for mode in $MODES; do
        mapfile -t rows < <(rows_of "$mode")
        for w in $WORKERS_LIST; do
            for row in "${rows[@]}"; do
                read -r tool path <<<"$row"
                kt="$mode|$w|$tool|$path|theirs" ko="$mode|$w|$tool|$path|ours"
                # shellcheck disable=SC2086
                mt="$(median ${RPS[$kt]})" mo="$(median ${RPS[$ko]})"
                # shellcheck disable=SC2086
                pt="$(median ${P99[$kt]})" po="$(median ${P99[$ko]})"
                # shellcheck disable=SC2086
                ct="$(median ${CPU_US[$kt]})" co="$(median ${CPU_US[$ko]})"
                # shellcheck disable=SC2086
                runs_r="$(runs_k ${RPS[$kt]}) | $(runs_k ${RPS[$ko]})"
                # shellcheck disable=SC2086
                runs_p="$(runs_ms ${P99[$kt]}) | $(runs_ms ${P99[$ko]})"
                fail="${FAILS[$kt]}/${FAILS[$ko]}"
                mbt="${RSS_MB[$mode|$w|theirs]:-x}" mbo="${RSS_MB[$mode|$w|ours]:-x}"
                paired="$(paired_ratio "${RPS[$kt]}" "${RPS[$ko]}")"
                read -r lo hi verdict < <(paired_interval "${RPS[$kt]}" "${RPS[$ko]}")
                range="$lo–$hi"
                [[ $lo == n/a ]] && range="n/a"
                # shellcheck disable=SC2059
                printf "$fmt" "$mode" "$w" "$tool" "$path" "${THEIRS_OF[$mode]}" "$(fmt_int "$mt")" "$(fmt_int "$mo")" \
                    "$(ratio "$mo" "$mt")" "$paired" "$range" "$verdict" "$(fmt_ms "$pt")" "$(fmt_ms "$po")" "$(fmt_ms "$ct")" "$(fmt_ms "$co")" \
                    "$mbt" "$mbo" "$fail" "$runs_r ; $runs_p"
                printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
                    "$mode" "$w" "$tool" "$path" "${THEIRS_OF[$mode]}" "$(fmt_int "$mt")" "$(fmt_int "$mo")" \
                    "$(ratio "$mo" "$mt")" "$paired" "$range" "$verdict" "$(fmt_ms "$pt")" "$(fmt_ms "$po")" "$(fmt_ms "$ct")" "$(fmt_ms "$co")" \
                    "$mbt" "$mbo" "$fail" \
                    "${runs_r/|/\/}" "${runs_p/|/\/}" >>"$md"
            done
        done
    done
    if ((ANY_FAIL)); then
        echo
        echo "WARNING: some runs had failed/non-2xx/socket-error responses (see 'fail t/o' and the per-run lines above)."
        printf '\n**WARNING:** some runs had failed/non-2xx/socket-error responses (column "fail t/o").\n' >>"$md"
    fi
    mv "$md" "$RESULTS_MD"
    echo
    echo "written: ${RESULTS_MD#"$REPO_ROOT"/}"
}

main() {
    local mode w
    for mode in $MODES; do
        [[ -v "THEIRS_OF[$mode]" ]] || die "MODES: unknown mode '$mode' (http, tcp, proxy)"
    done
    make_bench_tmp balancer
    ensure_tools haproxy:haproxy
    HAPROXY_BIN="$(sbin_path haproxy)"
    build_release "$BALANCER_BIN" "$PROXY_BIN"
    # De-duplicate the lists (on a 1-core machine "1 $(nproc)" is "1 1").
    WORKERS_LIST="$(dedup_words "$WORKERS_LIST")"
    MODES="$(dedup_words "$MODES")"
    [[ -r "$WWW$URL_PATH" && -r "$WWW$IMAGE_PATH" ]] || die "missing $WWW$URL_PATH or $WWW$IMAGE_PATH"
    log "benchmark: modes [$MODES], workers [$WORKERS_LIST], $ROUNDS rounds, wrk ${DURATION}s, ab $AB_REQUESTS requests"
    start_backends
    for mode in $MODES; do
        for w in $WORKERS_LIST; do measure_config "$mode" "$w"; done
    done
    stop_pids "$BACKENDS_PID"
    print_report
}

main "$@"

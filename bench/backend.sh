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
#   wrk  keep-alive:   wrk -t${WRK_THREADS} -c64 -d${DURATION}s --latency
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

# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"   # log/die, tools, build, process tracking + EXIT trap, ports, wrk/ab, medians

# ---------------------------------------------------------------- servers --
# nginx with the settings every benchmark's nginx shares (lib.sh: nginx_conf_head), serving www/.
NGINX_PID="" NGINX_PORT=""
start_nginx() {
    local workers="$1" prefix="$BENCH_TMP/nginx-w$1"
    mkdir -p "$prefix/logs" "$prefix/tmp"
    take_port NGINX_PORT
    {
        nginx_conf_head "$prefix" "$workers"
        cat <<EOF
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WWW;
    }
}
EOF
    } >"$prefix/nginx.conf"
    launch_nginx nginx "$prefix" "http://127.0.0.1:$NGINX_PORT$URL_PATH"
    NGINX_PID=$SPAWNED_PID
}

OURS_PID="" OURS_PORT=""
start_ours() {
    local workers="$1" logf="$BENCH_TMP/backend-w$1.log"
    take_port OURS_PORT
    # Bound to 127.0.0.1 like nginx, so both go through the same loopback path.
    spawn "$logf" "$BACKEND_BIN" --port "$OURS_PORT" --host 127.0.0.1 --root "$WWW" \
        --workers "$workers" --quiet
    OURS_PID=$SPAWNED_PID
    wait_ready backend "$OURS_PID" "http://127.0.0.1:$OURS_PORT/healthz" "$logf" ||
        die "backend did not start"
    log "  $(head -n 1 "$logf")"
}

stop_servers() { stop_pids "$NGINX_PID" "$OURS_PID"; }

# Both servers must return the same bytes for the comparison to mean anything.
check_same_file() {
    local a b
    a="$(status_and_size "http://127.0.0.1:$NGINX_PORT$URL_PATH")"
    b="$(status_and_size "http://127.0.0.1:$OURS_PORT$URL_PATH")"
    log "  GET $URL_PATH -> nginx: $a, ours: $b (status bytes)"
    [[ "$a" == "$b" ]] || die "servers disagree on $URL_PATH"
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
                "run_$tool" "http://127.0.0.1:$port$URL_PATH"
                # Results keyed "workers|tool|server".
                record "$w|$tool|$srv" "$(printf '%-3s %-5s' "$tool" "$srv")"
            done
        done
    done
    stop_servers
}

print_report() {
    local header
    header="$(report_machine_lines)
versions: $(tool_versions), backend @ $(our_commit)
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
            # shellcheck disable=SC2086
            runs_r="$(runs_k ${RPS[$kn]}) | $(runs_k ${RPS[$ko]})"
            # shellcheck disable=SC2086
            runs_p="$(runs_ms ${P99[$kn]}) | $(runs_ms ${P99[$ko]})"
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
    make_bench_tmp backend
    # shellcheck disable=SC2119  # no extra tools: wrk, ab, curl, nginx only
    ensure_tools
    build_release "$BACKEND_BIN"
    # De-duplicate the worker list (on a 1-core machine "1 $(nproc)" is "1 1").
    WORKERS_LIST="$(dedup_words "$WORKERS_LIST")"
    log "benchmark: workers [$WORKERS_LIST], $ROUNDS rounds, wrk ${DURATION}s, ab $AB_REQUESTS requests"
    local w
    for w in $WORKERS_LIST; do measure_config "$w"; done
    print_report
}

main "$@"

#!/usr/bin/env bash
# Benchmark: the ceiling of `supervisor load` (the built-in load generator) against wrk and ab, all three
# hitting the same trivial target (a 24-byte file from a one-worker backend) in one run, so the
# generator's limit — not the server's — is what differs. A benchmark, not a test.
#
#   bash bench/loadgen.sh                    # ROUNDS=5 DURATION=5 AB_REQUESTS=30000
# Environment: ROUNDS, DURATION (s, keep-alive runs), AB_REQUESTS (requests, no-keep-alive runs).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"

ROUNDS="${ROUNDS:-5}"
DURATION="${DURATION:-5}"
AB_REQUESTS="${AB_REQUESTS:-30000}"
BIN="$REPO_ROOT/.build-bench/release"
RESULTS="$REPO_ROOT/bench/results/loadgen-latest.md"

ensure_tools
make_bench_tmp loadgen
build_release "$BIN/backend" "$BIN/supervisor"

take_port PORT
spawn "$BENCH_TMP/backend.log" "$BIN/backend" --port "$PORT" --host 127.0.0.1 --root "$REPO_ROOT/www" --workers 1 --quiet
READY_TIMEOUT=15
wait_ready backend "$SPAWNED_PID" "http://127.0.0.1:$PORT/healthz" "$BENCH_TMP/backend.log" || die "backend did not start"
URL="http://127.0.0.1:$PORT/robots.txt"

# Our generator prints ab's summary lines, so the same fields are read the same way.
run_ours() {   # ARGS...
    local out rc=0
    out="$("$BIN/supervisor" load "$URL" --threads 1 "$@" 2>&1)" || rc=$?
    printf '%s\n' "$out" >>"$BENCH_TMP/raw.log"
    R_RPS="$(awk '/^Requests per second:/ {print $4}' <<<"$out")"
    R_P99="$(awk '/^Latency:/ {print $7}' <<<"$out")"
    R_FAIL="$(awk '/^Failed requests:/ {print $3}' <<<"$out")"
    R_NOTE="failed=${R_FAIL:-?} (rc=$rc)"
    [[ -n "$R_RPS" ]] || { R_RPS=nan R_P99=nan R_FAIL=1; }
}

WRK_THREADS=1 WRK_CONNS=64 AB_CONC=64
for ((round = 1; round <= ROUNDS; round++)); do
    log "-- round $round/$ROUNDS"
    run_wrk "$URL";                                  record "ka|wrk"  "keep-alive  wrk  -t1 -c64     "
    run_ours -c 64 -k -d "${DURATION}s";             record "ka|ours" "keep-alive  load -c64 -k      "
    AB_CONC=64; out="$(ab -q -k -c 64 -n "$AB_REQUESTS" "$URL" 2>&1)"
    R_RPS="$(awk '/^Requests per second:/ {print $4}' <<<"$out")"; R_P99=nan
    R_FAIL="$(awk '/^Failed requests:/ {print $3}' <<<"$out")"; R_NOTE="failed=$R_FAIL"
    record "ka|ab" "keep-alive  ab   -k -c64     "
    AB_CONC=50; run_ab "$URL";                       record "close|ab"   "no keep-alive ab -c50      "
    run_ours -c 50 -n "$AB_REQUESTS";                record "close|ours" "no keep-alive load -c50    "
done

row() {   # KEY LABEL
    local m; m="$(median ${RPS[$1]})"
    printf '| %s | %s | %s | %s |\n' "$2" "$(fmt_int "$m")" "$(runs_k ${RPS[$1]})" "${FAILS[$1]:-0}"
}
{
    echo "# Load generator ceiling: supervisor load vs wrk and ab"
    echo
    report_machine_lines | sed 's/^/- /'
    echo "- target: GET /robots.txt (24 bytes) from \`backend --workers 1\`; $ROUNDS rounds, medians"
    echo "- commit: $(our_commit)"
    echo
    echo "| tool and mode | median req/s | runs | failures |"
    echo "|---|---:|---|---:|"
    row "ka|wrk" "wrk -t1 -c64 (keep-alive, ${DURATION}s)"
    row "ka|ours" "supervisor load -c 64 -k --threads 1 (${DURATION}s)"
    row "ka|ab" "ab -k -c 64 -n $AB_REQUESTS"
    row "close|ab" "ab -c 50 -n $AB_REQUESTS (new connection per request)"
    row "close|ours" "supervisor load -c 50 -n $AB_REQUESTS --threads 1"
} | tee "$RESULTS"

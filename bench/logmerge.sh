#!/usr/bin/env bash
# Benchmark: the supervisor's merged-log pipeline (Sources/Supervisor/Logs), optionally beside honcho.
#
# This is a benchmark, not a test: it never fails on "slow", it prints numbers. It does fail (non-zero
# exit) when the merged file is wrong: a line missing, duplicated or torn.
#
#   bash bench/logmerge.sh                 # 3 rounds of 5 children x 200,000 lines
#   COMPARE=1 bash bench/logmerge.sh       # also honcho (pip, in a private venv), same children
#
# Environment (all optional):
#   ROUNDS=3        measured rounds
#   LINES=200000    lines per child (5 children, 80-byte payloads)
#   COMPARE=0       1 = also time `honcho start` on the same five children, output to a file
#
# What it measures: LogThroughputTests in a release build (whole-module, -enable-testing so the test can
# reach the merger). Five `/bin/sh -c 'yes … | head -n LINES'` children spawned with NetCore's Spawn, each
# stdout a pipe into one LogMerger that writes the log file and /dev/null as its terminal. Wall time runs
# from the first spawn until every pipe is at EOF and the file is written; the merger thread's own CPU time
# is printed too (the children share the same cores). Then every line of the file is checked: stamp, name,
# payload, and the count per child.

set -euo pipefail

ROUNDS="${ROUNDS:-3}"
LINES="${LINES:-200000}"
COMPARE="${COMPARE:-0}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRATCH="$REPO_ROOT/.build-logs-release"
SWIFT_FLAGS=(-c release -Xswiftc -enable-testing --scratch-path "$SCRATCH")

log() { printf '%s\n' "$*" >&2; }

log "building (release, -enable-testing) in $SCRATCH"
swift build "${SWIFT_FLAGS[@]}" --build-tests 2>&1 | grep -E "error|Compiling Supervisor|Build complete" >&2 || true
[[ -d "$SCRATCH/release" ]] || { log "error: release build failed"; exit 1; }

rates=()
for ((round = 1; round <= ROUNDS; round++)); do
    out="$(LOGMERGE_LINES="$LINES" swift test "${SWIFT_FLAGS[@]}" --skip-build \
           --filter SupervisorTests.LogThroughputTests 2>&1)" || { printf '%s\n' "$out" >&2; log "error: round $round failed"; exit 1; }
    printf '%s\n' "$out" | grep '^logmerge:'
    rates+=("$(printf '%s\n' "$out" | sed -n 's/.* = \([0-9]*\) lines\/s.*/\1/p')")
done
median="$(printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
printf 'merger: median %s lines/s over %s rounds of 5 x %s lines\n' "$median" "$ROUNDS" "$LINES"

if [[ "$COMPARE" == 1 ]]; then
    venv="$SCRATCH/honcho-venv"
    [[ -x "$venv/bin/honcho" ]] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q honcho; }
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    for i in 1 2 3 4 5; do
        payload="$(printf 'backend.%s line with some text of typical length, as a busy access log would write' "$i" | cut -c1-80)"
        printf "backend%s: yes '%s' | head -n %s\n" "$i" "$payload" "$LINES" >>"$work/Procfile"
    done
    start="$(date +%s.%N)"
    (cd "$work" && "$venv/bin/honcho" start >"$work/out.txt" 2>&1)
    end="$(date +%s.%N)"
    got="$(grep -c ' line with some text' "$work/out.txt" || true)"
    awk -v s="$start" -v e="$end" -v n="$((5 * LINES))" -v got="$got" \
        'BEGIN { printf "honcho: %d lines (%d in its output) in %.3f s = %.0f lines/s\n", n, got, e - s, n / (e - s) }'
fi

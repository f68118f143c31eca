#!/usr/bin/env bash
# Builds the libFuzzer target for HTTPCore's request parser and chunked decoder, then fuzzes it.
#   fuzz/run.sh [SECONDS]     (default 60)
# Environment: SWIFT_BIN (default /opt/swift/usr/bin), FUZZ_REBUILD=1 to force a rebuild,
# FUZZ_ARGS for extra libFuzzer flags (e.g. FUZZ_ARGS="-jobs=2 -workers=2").
# Exit status: 0 when no crash was found, 1 when the fuzzer crashed (artifacts in fuzz/out/crashes/),
# 2 when the build failed.
set -euo pipefail

SECONDS_TO_RUN="${1:-60}"
case "$SECONDS_TO_RUN" in ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/fuzz"
BUILD="$FUZZ/.build-fuzz"
OUT="$FUZZ/out"
WORK_CORPUS="$OUT/corpus"
ARTIFACTS="$OUT/crashes"
BIN="$BUILD/fuzz-request-parser"
SWIFT_BIN="${SWIFT_BIN:-/opt/swift/usr/bin}"
SWIFTC="$SWIFT_BIN/swiftc"
CLANG="$SWIFT_BIN/clang"

mkdir -p "$BUILD" "$WORK_CORPUS" "$ARTIFACTS"

# --- build -------------------------------------------------------------------------------------------
# Three steps, nothing copied or edited from Sources/:
#   CLinux   shim.c -> object (ASan), with a module map in the build dir so `import CLinux` resolves;
#   NetCore  -> NetCore.swiftmodule + object (ASan);
#   HTTPCore -> HTTPCore.swiftmodule + object (ASan + libFuzzer coverage instrumentation);
#   the fuzz entry, linked with all three and the libFuzzer runtime (-sanitize=fuzzer provides main).
needs_build() {
    [ "${FUZZ_REBUILD:-0}" = 1 ] && return 0
    [ -x "$BIN" ] || return 0
    [ -n "$(find "$ROOT/Sources/CLinux" "$ROOT/Sources/NetCore" "$ROOT/Sources/HTTPCore" \
                 "$FUZZ/FuzzRequestParser.swift" "$FUZZ/run.sh" -newer "$BIN" -print -quit)" ]
}

build() {
    local modmap="$BUILD/CLinux/module.modulemap"
    mkdir -p "$BUILD/CLinux"
    cat > "$modmap" <<EOF
module CLinux {
    header "$ROOT/Sources/CLinux/include/CLinux.h"
    export *
}
EOF
    local common=(-O -g -parse-as-library -wmo -I "$BUILD" -Xcc "-fmodule-map-file=$modmap"
                  -Xcc "-I$ROOT/Sources/CLinux/include" -module-cache-path "$BUILD/module-cache")

    echo "== building CLinux shim"
    "$CLANG" -O1 -g -fsanitize=address -fPIC -I "$ROOT/Sources/CLinux/include" \
        -c "$ROOT/Sources/CLinux/shim.c" -o "$BUILD/CLinux.o"

    echo "== building NetCore"
    "$SWIFTC" "${common[@]}" -sanitize=address -module-name NetCore \
        -emit-module -emit-module-path "$BUILD/NetCore.swiftmodule" \
        -c "$ROOT"/Sources/NetCore/*.swift -o "$BUILD/NetCore.o"

    echo "== building HTTPCore (fuzzer-instrumented)"
    "$SWIFTC" "${common[@]}" -sanitize=fuzzer,address -module-name HTTPCore \
        -emit-module -emit-module-path "$BUILD/HTTPCore.swiftmodule" \
        -c "$ROOT"/Sources/HTTPCore/*.swift -o "$BUILD/HTTPCore.o"

    echo "== linking fuzzer"
    "$SWIFTC" "${common[@]}" -sanitize=fuzzer,address -module-name FuzzRequestParser \
        "$FUZZ/FuzzRequestParser.swift" "$BUILD/HTTPCore.o" "$BUILD/NetCore.o" "$BUILD/CLinux.o" \
        -use-ld=lld -o "$BIN"
}

if needs_build; then
    if ! build; then echo "BUILD FAILED" >&2; exit 2; fi
else
    echo "== fuzzer up to date: $BIN"
fi

# --- run ---------------------------------------------------------------------------------------------
# Work on a copy of the seed corpus so fuzz/corpus/ stays as committed; fuzz/out/corpus accumulates.
cp -f "$FUZZ"/corpus/* "$WORK_CORPUS"/
before=$(find "$WORK_CORPUS" -type f | wc -l)
crashes_before=$(find "$ARTIFACTS" -type f | wc -l)
LOG="$OUT/fuzz-$(date +%Y%m%d-%H%M%S).log"

dict=()
[ -f "$FUZZ/http.dict" ] && dict=(-dict="$FUZZ/http.dict")

export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$SWIFT_BIN/llvm-symbolizer}"
# Swift's own crash backtracer would race ASan/libFuzzer's handler on a trap; let libFuzzer report it.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"
echo "== fuzzing for ${SECONDS_TO_RUN}s (log: $LOG)"
set +e
# shellcheck disable=SC2086
"$BIN" "$WORK_CORPUS" "${dict[@]}" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -timeout=10 \
    -artifact_prefix="$ARTIFACTS/" -print_final_stats=1 ${FUZZ_ARGS:-} 2>&1 | tee "$LOG" | \
    grep -E --line-buffered '^(INFO: (seed|Loaded|-max_len)|#[0-9]+[[:space:]]+(INITED|DONE|pulse)|==[0-9]+==|SUMMARY|.*Fatal error|.*Precondition failed|artifact_prefix|Test unit written|stat::)' 
status=${PIPESTATUS[0]}
set -e

after=$(find "$WORK_CORPUS" -type f | wc -l)
crashes_after=$(find "$ARTIFACTS" -type f | wc -l)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG" | tail -1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$LOG" | tail -1)
cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$LOG" | tail -1)
corp_start=$(grep -E '^#[0-9]+[[:space:]]+INITED' "$LOG" | grep -Eo 'corp: [^ ]+' | head -1)
corp_end=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "$LOG" | grep -Eo 'corp: [^ ]+' | tail -1)

echo
echo "== summary"
echo "   executions:   ${execs:-?} (${rate:-?} exec/s)"
echo "   coverage:     ${cov:-?}"
echo "   corpus:       $before -> $after files in $WORK_CORPUS (libFuzzer ${corp_start:-?} -> ${corp_end:-?})"
echo "   new crashes:  $((crashes_after - crashes_before)) (artifacts in $ARTIFACTS)"
echo "   exit status:  $status"
if [ "$status" -ne 0 ] || [ "$crashes_after" -gt "$crashes_before" ]; then
    echo "CRASH FOUND: see $LOG and $ARTIFACTS" >&2
    echo "reproduce with: SWIFT_BACKTRACE=enable=no $BIN <artifact>" >&2
    exit 1
fi
echo "no crash found"

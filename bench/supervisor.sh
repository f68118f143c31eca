#!/usr/bin/env bash
# Benchmark: the supervisor as it runs a topology — how fast it brings back a killed instance, whether
# clients see refused connections meanwhile, how fast its merged log goes (beside honcho), and what the
# supervisor itself costs in CPU and memory.
#
# This is a benchmark, not a test: it never fails on "slow", it prints numbers. It does fail (non-zero
# exit) if it cannot build or start something, if an instance is not brought back, if the merged log
# loses, repeats or tears a line, or if a process of ours is left running.
#
#   bash bench/supervisor.sh                              # defaults
#   KILLS=5 LOG_LINES=20000 IDLE_SECONDS=3 bash bench/supervisor.sh   # quick check
#
# Environment (all optional):
#   KILLS=20            kill -9s of TARGET
#   TARGET=backend.2    the instance killed (its port is hammered directly)
#   KILL_GAP=1.5        seconds the instance runs between kills (must exceed STABLE_AFTER, see below)
#   STABLE_AFTER=1s     the backends' restart.stable_after (lb5 leaves it at the default 30s)
#   CLIENT_THREADS=4    client threads per target (one process hammers TARGET's port, one the balancer)
#   CLIENT_TIMEOUT=1    seconds a client request may take (connect + answer) before it counts as a timeout
#   IDLE_SECONDS=10     how long the idle supervisor's CPU is sampled
#   LOG_LINES=200000    lines per log-writing service (5 services, 80-byte payloads)
#   LOG_TIMEOUT=240     seconds a log run may take before it is called incomplete
#   COMPARE=1           also honcho (pip, in a private venv in the temp folder) on the same five commands
#   SUPERVISORD=0       1 = also supervisord (pip package "supervisor", same venv), programs' stdout to its
#                       stdout: no names on the lines, and it tears lines (see run_log_supervisord)
#
# What it does (everything on 127.0.0.1, in one folder from mktemp -d /tmp/bench-supervisor.XXXXXX):
#   1. lb5/: topologies/lb5.json on free ports (backend x5 on a contiguous range, images, pdf, balancer,
#      proxy; root = this repo's www/), started with `supervisor up FILE --detach`.
#   2. idle: the supervisor's CPU time (utime+stime, /proc/PID/stat) and RSS over IDLE_SECONDS, no traffic
#      (its health checks still run: 9 instances, one check per second each).
#   3. restarts: KILLS times, kill -9 TARGET's pid (from `supervisor status --json`) and time until its
#      port answers GET /healthz with another pid (a tight poll loop, new connection per try). Meanwhile
#      two client processes hammer TARGET's port and the balancer with GET /page.html (new connection per
#      request, Connection: close) and count 200s, refused, resets, timeouts and other statuses.
#      Why STABLE_AFTER: the supervisor restarts a first crash at once but backs off on crashes in a row
#      (100 ms, 200, 400, 800, then gives up after max_retries 5) unless the instance ran stable_after
#      first. With lb5's 30 s, 20 kills in a row would measure the backoff and then a given-up instance;
#      with 1 s and KILL_GAP 1.5 s every kill is a "first crash", which is the latency this measures.
#   4. logs/: a second topology of five services, program /bin/sh, each printing LOG_LINES numbered
#      80-byte lines flat out (seq -f) and then sleeping; restart policy never. `supervisor up FILE` in
#      the foreground, stdout to /dev/null. Timed from the start until the merged log holds every payload
#      line. The log file is rotated at 10 MB keeping 3 old files (Sources/Supervisor/Logs), so 1M lines
#      (~110 MB) never sit in supervisor.log at once: a follower (supervisor_bench.py follow), started
#      before the supervisor, reads it across rotations into one archive, like `tail -F` but without
#      gaps (it says so if it ever falls 3 rotations behind), and the count is taken there.
#      Every line is then checked: one payload per line, prefix naming its service, each service's
#      sequence 1..LOG_LINES once and in order. The supervisor's CPU and peak RSS over the run are read
#      at the end. honcho (COMPARE=1) runs the same five commands from a Procfile, its stdout to a file,
#      timed and checked the same way.
#   5. Everything stopped (`supervisor down` / SIGTERM); no process of ours may be left.
#
# Output: a table on stdout and the same as Markdown in bench/results/supervisor-latest.md.

set -euo pipefail

# ---------------------------------------------------------------- settings --
KILLS="${KILLS:-20}"
TARGET="${TARGET:-backend.2}"
KILL_GAP="${KILL_GAP:-1.5}"
STABLE_AFTER="${STABLE_AFTER:-1s}"
CLIENT_THREADS="${CLIENT_THREADS:-4}"
CLIENT_TIMEOUT="${CLIENT_TIMEOUT:-1}"
IDLE_SECONDS="${IDLE_SECONDS:-10}"
LOG_LINES="${LOG_LINES:-200000}"
LOG_TIMEOUT="${LOG_TIMEOUT:-240}"
COMPARE="${COMPARE:-1}"
SUPERVISORD="${SUPERVISORD:-0}"
LOG_SERVICES=5
READY_TIMEOUT=30   # seconds for `supervisor up --detach` beyond its own 120 s wait (see sup_up)
URL_PATH=/page.html

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WWW="$REPO_ROOT/www"
SCRATCH="$REPO_ROOT/.build-bench"   # separate from .build so we never fight another build
SUP="$SCRATCH/release/supervisor"
HELPER="$REPO_ROOT/bench/supervisor_bench.py"
RESULTS_DIR="$REPO_ROOT/bench/results"
RESULTS_MD="$RESULTS_DIR/supervisor-latest.md"

# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"   # log/die, build, process tracking + EXIT trap, ports, median helpers

# The log payload: "svcK MARKER 000123 FILLER" = 80 bytes; the marker is what the line counts look for.
MARKER=LOGBENCH
FILLER="the quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnopqrstuvwxyz"
FILLER="${FILLER:0:$((80 - ${#MARKER} - 13))}"   # "svcK " (5) + marker + " 000123 " (8) + filler = 80
# Each service: the numbered lines as fast as seq writes them, then a pause long enough for any
# measurement (so no service exits early: honcho stops every process as soon as one exits). The leading
# `: DIR/svcK` is a no-op that puts our temp folder in the shell's command line, for the leftover check.
log_command() {   # K DIR
    printf ": %s/svc%s; seq -f 'svc%s %s %%06.0f %s' 1 %s; sleep %s" \
        "$2" "$1" "$1" "$MARKER" "$FILLER" "$LOG_LINES" "$((LOG_TIMEOUT + 60))"
}

# ---------------------------------------------------------------- helpers --
py_json() {   # FILE EXPR [ARG]: a Python expression over a JSON file (d: the document, a: ARG), printed
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); a = (sys.argv[3:] or [None])[0]
v = eval(sys.argv[2]); print("x" if v is None else v)' "$@"
}

# A contiguous run of free ports (the backend service takes one port per instance, in order).
port_free() {
    [[ "$TAKEN_PORTS" != *" $1 "* && -z "$(ss -Htln "sport = :$1" 2>/dev/null)" ]] &&
        ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
take_port_range() {   # VAR COUNT: the first port of COUNT free consecutive ports
    local _base _i _tries
    for ((_tries = 0; _tries < 200; _tries++)); do
        _base="$(shuf -i 20000-31990 -n 1)"
        for ((_i = 0; _i < $2; _i++)); do port_free $((_base + _i)) || continue 2; done
        for ((_i = 0; _i < $2; _i++)); do TAKEN_PORTS+="$((_base + _i)) "; done
        printf -v "$1" '%s' "$_base"
        return 0
    done
    die "no $2 consecutive free ports found"
}

# A process and all its descendants (pids), for the leftover check after a stop.
tree_pids() {
    local pid="$1" kid
    echo "$pid"
    for kid in $(pgrep -P "$pid" || true); do tree_pids "$kid"; done
}

proc_cpu() {   # PID: utime+stime in seconds (fields 14 and 15 of /proc/PID/stat, after the command name)
    awk -v tck="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / tck }' "/proc/$1/stat"
}

# ---------------------------------------------------- supervisors we start --
# Folders in which we ran `supervisor up`: the EXIT trap brings each down before lib.sh's cleanup.
SUP_DIRS=()

# Brings down the supervisor of DIR (its topology file is DIR/topology.json): `supervisor down`, then
# SIGTERM/SIGKILL to the pid in its supervisor.pid, but only if that process runs our topology file.
sup_down() {   # DIR
    local dir="$1" pidf pid i
    pidf="$(compgen -G "$dir/.run/*/supervisor.pid" | head -n 1 || true)"
    if compgen -G "$dir/.run/*/control.sock" >/dev/null; then
        (cd "$dir" && timeout 60 "$SUP" down) >>"$dir/down.out" 2>&1 || log "supervisor down in $dir failed: $(tail -n 3 "$dir/down.out")"
    fi
    [[ -n "$pidf" && -r "$pidf" ]] || return 0
    pid="$(cat "$pidf" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] && grep -qF "$dir/topology.json" "/proc/$pid/cmdline" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do is_running "$pid" || return 0; sleep 0.1; done
    log "supervisor $pid did not stop on SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

# Anything still running from our temp folder (by command line) or from a list of pids we recorded.
leftovers() {   # PID...
    local pid out=""
    for pid in "$@"; do
        is_running "$pid" && out+="$pid:$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80); "
    done
    for pid in $(pgrep -f "$BENCH_TMP" || true); do
        [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
        out+="$pid:$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80); "
    done
    printf '%s' "$out"
}

bench_cleanup() {
    local dir
    for dir in "${SUP_DIRS[@]+"${SUP_DIRS[@]}"}"; do sup_down "$dir"; done
    SUP_DIRS=()
    cleanup   # lib.sh: stops the pids we spawned, removes BENCH_TMP
}
trap bench_cleanup EXIT

# `supervisor up DIR/topology.json --detach`, run in DIR; returns once everything is healthy.
sup_up() {   # DIR NAME
    local dir="$1" name="$2" rc=0
    SUP_DIRS+=("$dir")
    (cd "$dir" && timeout $((120 + READY_TIMEOUT)) "$SUP" up "$dir/topology.json" --detach) >"$dir/up.out" 2>&1 || rc=$?
    if ((rc != 0)); then
        log "supervisor up failed (exit $rc):"; cat "$dir/up.out" >&2
        log "--- daemon.out:"; tail -n 20 "$dir/.run/$name/daemon.out" >&2 2>/dev/null || true
        log "--- supervisor.log (tail):"; tail -n 40 "$dir/.run/$name/supervisor.log" >&2 2>/dev/null || true
        die "the $name topology did not start"
    fi
    sed 's/^/  /' "$dir/up.out" >&2
}

# ------------------------------------------------------ 1-3: lb5 topology --
LB_DIR="" LB_NAME=lb5bench SUP_PID="" BALANCER_PORT="" BACKEND_BASE=""

write_lb5_topology() {
    local images pdf proxy
    take_port_range BACKEND_BASE 5
    take_port images; take_port pdf; take_port BALANCER_PORT; take_port proxy
    # As topologies/lb5.json, but free ports, an absolute root, and the backends' stable_after (see top).
    cat >"$LB_DIR/topology.json" <<EOF
{
  "name": "$LB_NAME",
  "host": "127.0.0.1",
  "services": {
    "backend": {
      "program": "backend",
      "root": "$WWW",
      "workers": 1,
      "scale": [1, 5],
      "instances": 5,
      "port": "$BACKEND_BASE-$((BACKEND_BASE + 4))",
      "health": {"http": "/healthz", "interval": "1s"},
      "restart": {"policy": "always", "stable_after": "$STABLE_AFTER"}
    },
    "images": {
      "program": "backend", "root": "$WWW", "port": $images,
      "health": {"http": "/healthz", "interval": "1s"}, "restart": {"policy": "always"}
    },
    "pdf": {
      "program": "backend", "root": "$WWW", "port": $pdf,
      "health": {"http": "/healthz", "interval": "1s"}, "restart": {"policy": "always"}
    },
    "balancer": {
      "program": "balancer", "port": $BALANCER_PORT, "upstreams": "backend", "strategy": "round-robin",
      "health": {"http": "/healthz", "interval": "1s"}, "restart": {"policy": "always"}
    },
    "proxy": {
      "program": "proxy", "port": $proxy,
      "routes": {"/images/": "images", "/pdf/": "pdf", "/": "balancer"},
      "health": {"http": "/healthz", "interval": "1s"}, "restart": {"policy": "always"}
    }
  }
}
EOF
}

IDLE_JSON="" RESTART_JSON="" KILL_CPU="" KILL_WALL="" TARGET_RESTARTS="" LB_EVENTS=""
run_lb5() {
    LB_DIR="$BENCH_TMP/lb5"
    mkdir -p "$LB_DIR"
    write_lb5_topology
    log ""
    log "== lb5: supervisor up --detach (backends :$BACKEND_BASE-$((BACKEND_BASE + 4)), balancer :$BALANCER_PORT)"
    sup_up "$LB_DIR" "$LB_NAME"
    SUP_PID="$(cat "$LB_DIR/.run/$LB_NAME/supervisor.pid")"
    is_running "$SUP_PID" || die "supervisor pid $SUP_PID from supervisor.pid is not running"
    [[ "$(status_and_size "http://127.0.0.1:$BALANCER_PORT$URL_PATH")" == "200 "* ]] ||
        die "the balancer does not answer 200 for $URL_PATH"

    # Idle: let the start-up settle first, so the figure is the steady state (health checks only).
    sleep 2
    log "== idle: sampling supervisor pid $SUP_PID for ${IDLE_SECONDS}s"
    IDLE_JSON="$BENCH_TMP/idle.json"
    python3 "$HELPER" sample --pid "$SUP_PID" --seconds "$IDLE_SECONDS" >"$IDLE_JSON"
    log "  $(cat "$IDLE_JSON")"

    log "== restarts: $KILLS x kill -9 $TARGET, clients on its port and on the balancer ($CLIENT_THREADS threads each)"
    RESTART_JSON="$BENCH_TMP/restarts.json"
    local c0 c1 t0 t1
    c0="$(proc_cpu "$SUP_PID")" t0="$(date +%s.%N)"
    python3 "$HELPER" restarts --sup "$SUP" --dir "$LB_DIR" --target "$TARGET" --kills "$KILLS" \
        --gap "$KILL_GAP" --balancer-port "$BALANCER_PORT" --path "$URL_PATH" --threads "$CLIENT_THREADS" \
        --timeout "$CLIENT_TIMEOUT" >"$RESTART_JSON" || die "the restart measurement failed"
    c1="$(proc_cpu "$SUP_PID")" t1="$(date +%s.%N)"
    KILL_CPU="$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.1f", 100 * (b - a) / (e - s) }')"
    KILL_WALL="$(awk -v s="$t0" -v e="$t1" 'BEGIN { printf "%.1f", e - s }')"
    local problems
    problems="$(py_json "$RESTART_JSON" '"; ".join(d["problems"])')"
    [[ -z "$problems" ]] || { log "--- supervisor.log (tail):"; tail -n 30 "$LB_DIR/.run/$LB_NAME/supervisor.log" >&2; die "restarts: $problems"; }
    TARGET_RESTARTS="$(py_json "$RESTART_JSON" 'd["final"]["restarts"]')"
    # What the supervisor said about instances other than plain starts/kills (unhealthy, backoff, gave up).
    LB_EVENTS="$(grep -cE 'supervisor +\| .*(unhealthy|failed|restarting .* in [0-9]+ ms|gave up)' \
        "$LB_DIR/.run/$LB_NAME/supervisor.log" || true)"

    log "== stopping lb5 (supervisor down)"
    local pids
    pids="$(tree_pids "$SUP_PID" | paste -sd' ')"
    sup_down "$LB_DIR"
    SUP_DIRS=()   # nothing left for the EXIT trap to bring down
    sleep 0.3
    local left
    # shellcheck disable=SC2086
    left="$(leftovers $pids)"
    [[ -z "$left" ]] || die "processes left after supervisor down: $left"
    log "  stopped; none of its $(wc -w <<<"$pids") processes remain"
}

# --------------------------------------------------- 4: merged-log throughput --
# Per merger (supervisor, honcho, supervisord): the follower's JSON (time, count, CPU, memory) and the
# verifier's (every line checked).
declare -A LOG_JSON LOG_VERIFY
HONCHO_VERSION="" SUPERVISORD_VERSION=""

# Runs one merger on the five log commands and times it:
#   1. the follower starts first and says when it is ready (Python takes ~100 ms to start, and the
#      supervisor writes the first 30 MB — three rotations — in about as long: started second, the
#      follower would find the oldest file already rotated away);
#   2. t0, then the merger starts in DIR with its stdout to STDOUT; its pid and t0 go to the follower;
#   3. the follower copies FOLLOW (rotated up to KEEP times) into BENCH_TMP/merged-WHO.log until it holds
#      every payload line, or the output has been quiet for QUIET s, and reports;
#   4. the merger is stopped with SIGTERM (it stops its children), no process of its tree may remain,
#      and the copy is verified line by line.
timed_merge() {   # WHO DIR STDOUT FOLLOW KEEP QUIET VERIFY_FLAGS -- COMMAND...
    local who="$1" dir="$2" stdout="$3" follow="$4" rotated="$5" quiet="$6" vflags="$7"
    shift 8
    local json="$BENCH_TMP/log-$who.json" archive="$BENCH_TMP/merged-$who.log" fpid pid t0 pids left i
    spawn "$BENCH_TMP/follow-$who.err" python3 "$HELPER" follow --path "$follow" --keep "$rotated" --archive "$archive" \
        --marker "$MARKER" --expected $((LOG_SERVICES * LOG_LINES)) --timeout "$LOG_TIMEOUT" --quiet-after "$quiet" \
        --ready-file "$dir/follower.ready" --run-file "$dir/run.txt" --json "$json"
    fpid=$SPAWNED_PID
    for ((i = 0; i < 200; i++)); do [[ -e "$dir/follower.ready" ]] && break; sleep 0.05; done
    [[ -e "$dir/follower.ready" ]] || { cat "$BENCH_TMP/follow-$who.err" >&2; die "the log follower did not start"; }

    t0="$(date +%s.%N)"
    (cd "$dir" && exec "$@") >"$stdout" 2>"$dir/stderr.txt" &
    pid=$!
    STARTED+=("$pid")
    echo "$pid $t0" >"$dir/run.txt.tmp" && mv "$dir/run.txt.tmp" "$dir/run.txt"

    wait "$fpid" || { cat "$BENCH_TMP/follow-$who.err" >&2; die "following the $who log failed"; }
    stop_pids "$fpid"   # (already exited: only drops it from STARTED)
    cat "$BENCH_TMP/follow-$who.err" >&2
    LOG_JSON[$who]="$json"
    log "  $(cat "$json")"
    pids="$(tree_pids "$pid" | paste -sd' ')"
    stop_pids "$pid"   # SIGTERM: the merger stops its processes and exits
    sleep 0.3
    # shellcheck disable=SC2086
    left="$(leftovers $pids)"
    [[ -z "$left" ]] || die "processes left after stopping $who: $left"
    if [[ "$(py_json "$json" 'd["complete"]')" != True ]]; then
        log "--- $who stderr (tail):"; tail -n 10 "$dir/stderr.txt" >&2
    fi
    LOG_VERIFY[$who]="$BENCH_TMP/verify-$who.json"
    # shellcheck disable=SC2086
    python3 "$HELPER" verify --file "$archive" --marker "$MARKER" --filler "$FILLER" \
        --services "$LOG_SERVICES" --lines "$LOG_LINES" $vflags >"${LOG_VERIFY[$who]}"
    log "  check: $(cat "${LOG_VERIFY[$who]}")"
}

run_log_supervisor() {
    local dir="$BENCH_TMP/logs" name=logbench k sep="" services=""
    mkdir -p "$dir"
    for ((k = 1; k <= LOG_SERVICES; k++)); do
        services+="$sep    \"svc$k\": {\"program\": \"/bin/sh\", \"args\": [\"-c\", \"$(log_command "$k" "$dir")\"], \"restart\": {\"policy\": \"never\"}}"
        sep=$',\n'
    done
    printf '{\n  "name": "%s",\n  "services": {\n%s\n  }\n}\n' "$name" "$services" >"$dir/topology.json"
    log ""
    log "== merged log: supervisor up (foreground, stdout to /dev/null), $LOG_SERVICES x $LOG_LINES lines"
    # The supervisor never tears a line, so the count reaches the total unless lines are lost: then the
    # follower gives up after 5 quiet seconds instead of waiting LOG_TIMEOUT.
    timed_merge supervisor "$dir" /dev/null "$dir/.run/$name/supervisor.log" 3 5 "" -- "$SUP" up "$dir/topology.json"
}

# pip install PACKAGE into a private venv in the temp folder (gone with it); 1 if that fails.
VENV=""
venv_install() {   # PACKAGE
    VENV="$BENCH_TMP/venv"
    if ! { [[ -x "$VENV/bin/pip" ]] || python3 -m venv "$VENV"; } >>"$BENCH_TMP/pip.log" 2>&1 ||
       ! "$VENV/bin/pip" install -q "$1" >>"$BENCH_TMP/pip.log" 2>&1; then
        tail -n 5 "$BENCH_TMP/pip.log" >&2
        log "  $1 could not be installed (pip, in $VENV): comparison skipped"
        return 1
    fi
}
pip_version() { "$VENV/bin/pip" show "$1" 2>/dev/null | awk '/^Version:/ {print $2}'; }

run_log_honcho() {
    local dir="$BENCH_TMP/honcho" k
    mkdir -p "$dir"
    log ""
    log "== merged log: honcho start (stdout to a file), same five commands"
    venv_install honcho || return 0
    HONCHO_VERSION="$(pip_version honcho)"
    for ((k = 1; k <= LOG_SERVICES; k++)); do
        printf 'svc%s: %s\n' "$k" "$(log_command "$k" "$dir")" >>"$dir/Procfile"
    done
    timed_merge honcho "$dir" "$dir/out.txt" "$dir/out.txt" 0 5 "" -- "$VENV/bin/honcho" start
}

# supervisord has no merged, prefixed stream: the usual way to see every program's output in one place
# is stdout_logfile=/dev/stdout (maxbytes 0), which copies each program's output chunks to supervisord's
# stdout as read, without names. Chunk boundaries are not line boundaries, so lines can be torn and a
# marker split in two: the count may never reach the total, and the follower stops once the output has
# been quiet for 3 s (the time is then that of the last byte).
run_log_supervisord() {
    local dir="$BENCH_TMP/supervisord" k
    mkdir -p "$dir"
    log ""
    log "== merged log: supervisord -n, every program's stdout_logfile=/dev/stdout (to a file), same five commands"
    venv_install supervisor || return 0
    SUPERVISORD_VERSION="$(pip_version supervisor)"
    {
        printf '[supervisord]\nnodaemon=true\nlogfile=%s/supervisord.log\npidfile=%s/supervisord.pid\n' "$dir" "$dir"
        printf '[unix_http_server]\nfile=%s/supervisor.sock\n' "$dir"
        for ((k = 1; k <= LOG_SERVICES; k++)); do
            # '%' is supervisord's interpolation character: doubled. Stop the whole group (sh and its sleep).
            printf '[program:svc%s]\ncommand=/bin/sh -c "%s"\nstdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\n' \
                "$k" "$(log_command "$k" "$dir" | sed 's/%/%%/g')"
            printf 'startsecs=0\nautorestart=false\nstopasgroup=true\nkillasgroup=true\n'
        done
    } >"$dir/supervisord.conf"
    timed_merge supervisord "$dir" "$dir/out.txt" "$dir/out.txt" 0 3 --no-prefix -- \
        "$VENV/bin/supervisord" -c "$dir/supervisord.conf"
}

# ----------------------------------------------------------------- report --
ANY_PROBLEM=0
print_report() {
    local rows=() r key label
    local lat_med lat_p90 lat_max lat_min lat_n
    read -r lat_n lat_med lat_p90 lat_max lat_min < <(py_json "$RESTART_JSON" \
        '" ".join(str(d["summary"][k]) for k in ("n", "median", "p90", "max", "min"))')
    rows+=("restart latency, kill -9 $TARGET -> /healthz from a new pid|median $lat_med ms, p90 $lat_p90 ms, max $lat_max ms (min $lat_min)|$lat_n kills; $TARGET restarts counted by the supervisor: $TARGET_RESTARTS; unhealthy/backoff/failed events in its log: $LB_EVENTS")
    for key in $(py_json "$RESTART_JSON" '" ".join(sorted(k.replace(" ", "~") for k in d["hammers"]))'); do
        label="${key//\~/ }"   # labels hold spaces: "backend.2 direct :PORT", "balancer :PORT"
        local ok refused reset timeout non200 other
        read -r ok refused reset timeout non200 other < <(py_json "$RESTART_JSON" \
            '" ".join(str(d["hammers"][a]["counts"][k]) for k in ("ok", "refused", "reset", "timeout", "non200", "other"))' "$label")
        local flag=""
        ((refused == 0)) || { flag=" **REFUSED > 0**"; ANY_PROBLEM=1; }
        rows+=("clients on $label during the kills|200: $ok, refused: $refused, reset: $reset, timeout: $timeout, non-200: $non200, other: $other$flag|GET $URL_PATH, new connection each, $CLIENT_THREADS threads, timeout ${CLIENT_TIMEOUT}s")
    done
    rows+=("supervisor CPU during the kills|$KILL_CPU %|over ${KILL_WALL}s, with the clients' access-log lines flowing through it")
    rows+=("supervisor idle CPU|$(py_json "$IDLE_JSON" 'd["cpu_percent"]') %|$(py_json "$IDLE_JSON" 'd["cpu_seconds"]') s CPU over $(py_json "$IDLE_JSON" 'd["seconds"]') s, 9 instances health-checked every 1 s")
    rows+=("supervisor idle RSS|$(py_json "$IDLE_JSON" 'round(d["rss_kb"] / 1024, 1)') MB|peak so far (VmHWM) $(py_json "$IDLE_JSON" 'round(d["hwm_kb"] / 1024, 1)') MB")

    local who j v
    for who in supervisor honcho supervisord; do
        [[ -v "LOG_JSON[$who]" ]] || continue
        j="${LOG_JSON[$who]}" v="${LOG_VERIFY[$who]}"
        local complete intact extra=""
        complete="$(py_json "$j" 'd["complete"] and not d["lost"] and not d["maybe_lost"]')"
        intact="$(py_json "$v" '"intact" if d["ok"] else "NOT INTACT: torn %d, out of sequence %d, prefix mismatch %d" % (d["torn"], d["out_of_sequence"], d["prefix_mismatch"])')"
        # Only our own supervisor's log decides the exit status; the others' faults are reported.
        if [[ "$complete" != True ]]; then extra+=" **INCOMPLETE**"; [[ $who != supervisor ]] || ANY_PROBLEM=1; fi
        [[ "$intact" == intact || $who != supervisor ]] || ANY_PROBLEM=1
        extra+="; $intact; per service $(py_json "$v" '"/".join(str(x) for x in d["per_service"].values())')"
        if [[ $who == supervisor ]]; then extra+="; log file rotated $(py_json "$j" 'd["rotations"]') times"; fi
        rows+=("merged log, $who|$(py_json "$j" 'd["lines_per_s"]') lines/s|$(py_json "$j" 'd["lines"]') payload lines in $(py_json "$j" 'd["wall_s"]') s$extra")
        rows+=("$who CPU / memory under that load|$(py_json "$j" 'd["cpu_percent"]') % CPU, peak RSS $(py_json "$j" 'round(d["hwm_kb"] / 1024, 1)') MB|$(py_json "$j" 'd["cpu_seconds"]') s CPU (utime+stime of the $who process alone) over the run")
    done

    local header honcho_v=""
    [[ -z "$HONCHO_VERSION" ]] || honcho_v=", honcho $HONCHO_VERSION"
    local sd_note=""
    if [[ -n "$SUPERVISORD_VERSION" ]]; then
        honcho_v+=", supervisord $SUPERVISORD_VERSION"
        sd_note="; supervisord: same commands as [program:svcK] with stdout_logfile=/dev/stdout, supervisord -n > file, no name prefix; its output counted until 3 s quiet (it can tear markers, so the count may stay short of the total)"
    fi
    header="$(report_machine_lines)
versions: supervisor @ $(our_commit), $(python3 --version 2>&1)$honcho_v
restarts: topologies/lb5.json on free ports (backend x5 workers 1, images, pdf, balancer, proxy), backends' restart.stable_after=$STABLE_AFTER; KILLS=$KILLS of $TARGET, one every >= ${KILL_GAP}s of its uptime; latency = kill -9 to the first GET /healthz on its port answered by a new pid (poll: new connection per try)
clients: 2 processes x $CLIENT_THREADS threads (one on $TARGET's port, one on the balancer), GET $URL_PATH, Connection: close, timeout ${CLIENT_TIMEOUT}s; 'reset' includes connections closed without an answer (a request the killed process had accepted can only end so)
merged log: $LOG_SERVICES services, program /bin/sh -c \"seq -f 'svcK $MARKER %06.0f …' 1 $LOG_LINES; sleep …\" (80-byte payloads), restart policy never; supervisor up in the foreground, stdout to /dev/null; timed from start until the merged log holds every payload line (followed across its 10 MB rotations); honcho: same commands in a Procfile, honcho start > file$sd_note
idle: IDLE_SECONDS=$IDLE_SECONDS, CPU = utime+stime of the supervisor pid (/proc/PID/stat), RSS = VmRSS"

    mkdir -p "$RESULTS_DIR"
    local md="$RESULTS_MD.tmp"
    {
        echo "# supervisor — restart latency, refused requests, merged-log throughput, own cost"
        echo
        echo "Generated by \`bench/supervisor.sh\`."
        echo
        sed 's/^/- /' <<<"$header"   # one bullet per header line
        echo
        echo "| figure | value | notes |"
        echo "|---|---|---|"
        for r in "${rows[@]}"; do printf '| %s |\n' "${r//|/ | }"; done
        echo
        echo "Per-kill latencies (ms): $(py_json "$RESTART_JSON" '" ".join("%.1f" % x for x in d["latencies_ms"])')"
    } >"$md"

    echo
    echo "================ supervisor ================"
    echo "$header"
    echo
    for r in "${rows[@]}"; do
        IFS='|' read -r a b c <<<"$r"
        printf '%-52s %-58s %s\n' "$a" "$b" "$c"
    done
    echo
    echo "per-kill latencies (ms): $(py_json "$RESTART_JSON" '" ".join("%.1f" % x for x in d["latencies_ms"])')"
    if ((ANY_PROBLEM)); then
        echo
        echo "WARNING: refused requests, or an incomplete / damaged merged log (see the table)."
        printf '\n**WARNING:** refused requests, or an incomplete / damaged merged log (see the table).\n' >>"$md"
    fi
    mv "$md" "$RESULTS_MD"
    echo
    echo "written: ${RESULTS_MD#"$REPO_ROOT"/}"
}

# ------------------------------------------------------------------- main --
main() {
    ((LOG_LINES >= 1 && LOG_LINES <= 999999)) || die "LOG_LINES must be 1..999999 (6-digit sequence numbers)"
    command -v python3 >/dev/null || die "python3 is needed"
    command -v curl >/dev/null || die "curl is needed"
    make_bench_tmp supervisor
    build_release "$SUP" "$SCRATCH/release/backend" "$SCRATCH/release/balancer" "$SCRATCH/release/proxy"
    [[ -r "$WWW$URL_PATH" ]] || die "missing $WWW$URL_PATH"
    log "benchmark: KILLS=$KILLS TARGET=$TARGET, log $LOG_SERVICES x $LOG_LINES lines, idle ${IDLE_SECONDS}s, temp $BENCH_TMP"
    run_lb5
    run_log_supervisor
    [[ "$COMPARE" != 1 ]] || run_log_honcho
    [[ "$SUPERVISORD" != 1 ]] || run_log_supervisord
    print_report
    local left
    left="$(leftovers)"
    [[ -z "$left" ]] || die "processes left at the end: $left"
    ((ANY_PROBLEM == 0)) || exit 1
}

main "$@"

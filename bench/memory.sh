#!/usr/bin/env bash
# Benchmark: what idle and slow clients cost in memory. Our `backend`, `balancer` and `proxy` against
# nginx, HAProxy and an nginx reverse proxy, same machine, same run.
#
# This is a benchmark, not a test: it prints numbers and fails only when something cannot be built,
# installed or started.
#
#   bash bench/memory.sh                     # defaults
#   ROUNDS=1 IDLE=500 SLOW=100 bash bench/memory.sh    # quick check
#
# Environment (all optional):
#   ROUNDS=3     fresh starts per (server, test); the report gives the median
#   IDLE=2000    idle keep-alive clients: each answered once on /page.html, then left open
#   SLOW=300     slow readers: each asks for a 32 MB file, reads 1000 bytes and stops (4 KB receive
#                buffer), so the server holds whatever it buffers for a reader that does not read
#
# TCP mode (balancer --mode tcp against HAProxy mode tcp) is measured with idle clients too.
# Every server gets one worker (our --workers 1, HAProxy nbthread 1, nginx worker_processes 1) and a
# fresh start for every measurement; the figure is its resident memory (VmRSS; nginx: master and
# worker summed) once all the clients wait, less what it had before the first one, per client
# (bench/hold_clients.py). The upstream of every balancer and proxy is one nginx serving the same files.
#
# Output: a table on stdout and the same as Markdown in bench/results/memory-latest.md.

set -euo pipefail

ROUNDS="${ROUNDS:-3}"
IDLE="${IDLE:-2000}"
SLOW="${SLOW:-300}"
READY_TIMEOUT=15
HAPROXY_MAXCONN=8000

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRATCH="$REPO_ROOT/.build-bench"
RESULTS_DIR="$REPO_ROOT/bench/results"
HOLD="$REPO_ROOT/bench/hold_clients.py"
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"

SITE="" UPSTREAM_PORT="" UPSTREAM_PID=""
declare -A RESULT=()   # "test|side" -> KB per client (median)
ROWS=()                # "test|what|theirs name" in report order

# The upstream of the balancers and proxies: nginx on the site, answering /healthz as our backend does.
start_upstream() {
    local prefix="$BENCH_TMP/nginx-upstream"
    mkdir -p "$prefix/logs" "$prefix/tmp"
    take_port UPSTREAM_PORT
    {
        nginx_conf_head "$prefix" 1
        cat <<EOF
    server {
        listen 127.0.0.1:$UPSTREAM_PORT;
        root $SITE;
        location = /healthz { default_type application/json; return 200 '{"status":"ok"}'; }
    }
}
EOF
    } >"$prefix/nginx.conf"
    launch_nginx "nginx upstream" "$prefix" "http://127.0.0.1:$UPSTREAM_PORT/page.html"
    UPSTREAM_PID=$SPAWNED_PID
}

# Starts one server to be measured on PORT; sets SERVER_PIDS (every process whose memory counts).
SERVER_PIDS=""
start_server() {   # KIND PORT
    local kind="$1" port="$2" dir="$BENCH_TMP/$1" url="http://127.0.0.1:$2/page.html"
    mkdir -p "$dir/logs" "$dir/tmp"
    case "$kind" in
        backend)
            spawn "$dir/log" "$SCRATCH/release/backend" --port "$port" --host 127.0.0.1 --root "$SITE" --workers 1 --quiet
            ;;
        balancer | balancer-tcp)
            local mode=http
            [[ $kind == balancer-tcp ]] && mode=tcp
            spawn "$dir/log" "$SCRATCH/release/balancer" --port "$port" --mode "$mode" --workers 1 --quiet --upstream "127.0.0.1:$UPSTREAM_PORT"
            ;;
        proxy)
            spawn "$dir/log" "$SCRATCH/release/proxy" --port "$port" --workers 1 --quiet --default "127.0.0.1:$UPSTREAM_PORT"
            ;;
        haproxy | haproxy-tcp)
            local mode=http http_lines="    option http-keep-alive
    option forwardfor
    http-reuse always" check_line="    option httpchk GET /healthz"
            [[ $kind == haproxy-tcp ]] && mode=tcp http_lines="" check_line=""
            cat >"$dir/haproxy.cfg" <<EOF
global
    maxconn $HAPROXY_MAXCONN
    nbthread 1
defaults
    mode $mode
$http_lines
    timeout connect 3s
    timeout client 60s
    timeout server 60s
frontend fe
    bind 127.0.0.1:$port
    default_backend be
backend be
$check_line
    server u 127.0.0.1:$UPSTREAM_PORT check inter 1s fall 2 rise 2
EOF
            spawn "$dir/log" "$HAPROXY_BIN" -db -f "$dir/haproxy.cfg"
            ;;
        nginx | nginx-proxy)
            {
                nginx_conf_head "$dir" 1
                if [[ $kind == nginx ]]; then
                    echo "    server { listen 127.0.0.1:$port; root $SITE; }"
                else
                    cat <<EOF
    upstream up { server 127.0.0.1:$UPSTREAM_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:$port;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location / { proxy_pass http://up; }
    }
EOF
                fi
                echo "}"
            } >"$dir/nginx.conf"
            launch_nginx "$kind" "$dir" "$url"   # waits until it answers
            ;;
    esac
    [[ $kind == nginx* ]] || wait_ready "$kind" "$SPAWNED_PID" "$url" "$dir/log" || die "$kind did not start"
    SERVER_PIDS="$SPAWNED_PID $(pgrep -P "$SPAWNED_PID" | paste -sd' ' || true)"
}

# One figure: fresh server, clients held, KB per client; the median of ROUNDS goes to RESULT.
measure() {   # TEST(idle|slow) SIDE KIND
    local test="$1" side="$2" kind="$3" r port out runs=()
    for ((r = 0; r < ROUNDS; r++)); do
        take_port port
        start_server "$kind" "$port"
        local count="$IDLE" path=/page.html
        [[ $test == slow ]] && count="$SLOW" path=/big.bin
        # shellcheck disable=SC2086  # SERVER_PIDS is a list
        out="$(python3 "$HOLD" "$test" "$port" "$count" "$path" $SERVER_PIDS)" || die "$test clients against $kind failed"
        runs+=("${out%% *}")
        # shellcheck disable=SC2086
        stop_pids ${SERVER_PIDS%% *}
    done
    RESULT["$test|$side"]="$(median "${runs[@]}")"
    log "  $test $kind: ${runs[*]} KB per client"
}

compare() {   # TEST WHAT THEIRS_KIND OURS_KIND
    log "== $1: $4 vs $3"
    measure "$1" "$2|theirs" "$3"
    measure "$1" "$2|ours" "$4"
    ROWS+=("$1|$2|$3")
}

print_report() {
    local row test what theirs t o ratio md="$RESULTS_DIR/memory-latest.md"
    mkdir -p "$RESULTS_DIR"
    {
        echo "# memory per idle and slow client — backend, balancer, proxy vs nginx and HAProxy"
        echo
        echo "Generated by \`bench/memory.sh\`."
        echo
        report_machine_lines | sed 's/^/- /'
        echo "- versions: $(tool_versions), HAProxy $("$HAPROXY_BIN" -v 2>&1 | awk 'NR == 1 {print $3}'), ours @ $(our_commit)"
        echo "- settings: ROUNDS=$ROUNDS IDLE=$IDLE SLOW=$SLOW; one worker each; a fresh start per measurement"
        echo "- idle = keep-alive clients answered once on /page.html, then left open; slow = clients of a 32 MB file that read 1000 bytes and stop (4 KB receive buffer)"
        echo "- KB per client = growth of the server's resident memory (VmRSS, all its processes) once every client waits, divided by their number; median of the rounds; lower is better; ratio = ours/theirs"
        echo
        echo "| test | ours | theirs | theirs KB/client | ours KB/client | ratio |"
        echo "|---|---|---|---:|---:|---:|"
        for row in "${ROWS[@]}"; do
            IFS='|' read -r test what theirs <<<"$row"
            t="${RESULT["$test|$what|theirs"]}" o="${RESULT["$test|$what|ours"]}"
            ratio="$(ratio "$o" "$t")"
            echo "| $test | $what | $theirs | $t | $o | $ratio |"
        done
    } >"$md"
    echo
    cat "$md"
    log "report: $md"
}

main() {
    make_bench_tmp memory
    ensure_tools haproxy:haproxy python3:python3
    HAPROXY_BIN="$(sbin_path haproxy)"
    build_release "$SCRATCH/release/backend" "$SCRATCH/release/balancer" "$SCRATCH/release/proxy"
    SITE="$BENCH_TMP/site"
    mkdir -p "$SITE"
    chmod 755 "$BENCH_TMP" "$SITE"   # nginx's workers run as another user and must read the site
    cp "$REPO_ROOT/www/page.html" "$SITE/"
    head -c $((32 << 20)) /dev/urandom >"$SITE/big.bin"
    # Each client is a socket here and one or two in the server.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    start_upstream
    compare idle backend nginx backend
    compare idle balancer haproxy balancer
    compare idle proxy nginx-proxy proxy
    compare idle "balancer --mode tcp" haproxy-tcp balancer-tcp
    compare slow balancer haproxy balancer
    compare slow proxy nginx-proxy proxy
    stop_pids "$UPSTREAM_PID"
    print_report
}

main "$@"

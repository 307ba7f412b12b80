#!/usr/bin/env bash
# bench/attack.sh BUILD_DIR : a legitimate sync's latency (from 127.0.0.1, through the test
# proxy) and HQ's peak RSS (VmHWM) under each flood from 127.0.0.2 (tests/integration/
# flood.py), beside no attack; HQ runs with its default bounds and is restarted for each row.
# "log kB/min": what HQ's log grew by in the row's 20 s, times 3. Not part of run.sh: it takes
# about two minutes and wants 4,096 file descriptors.
set -u
B=$(cd "${1:-build}" && pwd)
export MRF_BIN=$B/mrf MRF_HQ_BIN=$B/mrf-hq MRF_SRC
MRF_SRC=$(cd "$(dirname "$0")/.." && pwd)
ulimit -n 4096 2>/dev/null
. "$MRF_SRC/tests/integration/lib.sh"

start_sync_hq >/dev/null || { echo "HQ did not start" >&2; exit 1; }
hq post add NAI --kind bilateral >/dev/null
dev init --token "$(hq enroll NAI 2>/dev/null)" >/dev/null 2>&1
dev theme set 2026 FOE WGR >/dev/null
P=$(dev partner add --name "Bench Org")
dev sync --timeout 20 >/dev/null 2>&1

printf '%-34s %10s %10s %10s %12s %8s\n' attack "sync ms" "max ms" "HQ VmHWM" "log kB/min" health
row() { # row NAME MODE:COUNT... : restarts HQ, runs the floods for 20 s, syncs 3 times
    local name=$1 spec pids="" i t0 t1 ms max=0 sum=0 ok=0 health log0 log1
    shift
    hq_stop >/dev/null 2>&1
    hq_start >/dev/null || { echo "HQ did not restart" >&2; exit 1; }
    log0=$(stat -c %s "$T/serve.log")
    for spec in "$@"; do
        python3 "$MRF_SRC/tests/integration/flood.py" "${spec%%:*}" "$HQ_PORT" "${spec##*:}" 20 \
            "$T/bench.json" 2>/dev/null &
        pids="$pids $!"
    done
    [ -n "$pids" ] && sleep 5
    health=$(curl -sk --max-time 10 "https://127.0.0.1:$HQ_PORT/v1/health" || echo fail)
    for i in 1 2 3; do
        dev grant add --partner "$P" --theme FOE --year 2026 --amount $((RANDOM + 1)) >/dev/null
        t0=$(date +%s%N)
        dev sync --timeout 30 >/dev/null 2>&1 && ok=$((ok + 1))
        t1=$(date +%s%N)
        ms=$(((t1 - t0) / 1000000))
        sum=$((sum + ms))
        [ "$ms" -gt "$max" ] && max=$ms
    done
    [ -n "$pids" ] && wait $pids
    log1=$(stat -c %s "$T/serve.log")
    printf '%-34s %10s %10s %7s kB %12s %8s\n' "$name" "$((sum / 3))" "$max" \
        "$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$HQ_PID/status")" \
        "$(((log1 - log0) * 3 / 1024))" "$health$([ "$ok" = 3 ] || echo " syncs:$ok/3")"
}
row "none"
row "slowloris x1000" slowloris:1000
row "idle TLS x300 + raw TCP x300" idle:300 tcp:300
row "2 MiB bodies held x250" body:250
row "non-readers x16" reader:16
row "requests x16 (bad envelopes)" requests:16
hq_stop >/dev/null 2>&1

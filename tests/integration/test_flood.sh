#!/usr/bin/env bash
# Floods against a real `mrf-hq serve` from 127.0.0.2 (tests/integration/flood.py) while the
# enrolled device syncs from 127.0.0.1 through the recording proxy:
#   - slowloris (400 TLS connections, one header byte every 2 s), idle TLS and raw TCP
#     connections, 2 MiB bodies held one byte short: each time GET /v1/health answers ok and
#     the device's sync completes (exit 0, within 20 s);
#   - slowloris connections are cut at the header deadline (5 s here; the check allows 12 s,
#     since the flooding client itself notices late on a loaded machine, and without the guard
#     they would last the flood's whole 14 s), not kept alive by
#     their bytes; bodies past the per-address budget are refused with 503 busy, and HQ's
#     peak RSS stays under 64 MiB;
#   - a client that asks and never reads is cut at the minimum rate;
#   - a request flood's refusals are summarised per address and reason, the log stays small;
#   - libmicrohttpd's own lines stay few.
# Generous bounds only; bench/attack.sh measures.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || {
    echo "curl is needed for GET /v1/health" >&2
    exit 1
}
[ "$(ulimit -n)" -ge 2048 ] || ulimit -n 4096 2>/dev/null || {
    echo "test_flood needs 2048 file descriptors (ulimit -n)" >&2
    exit 1
}

HQ_SERVE_ARGS=${FLOOD_SERVE_ARGS-"--header-deadline 5 --request-deadline 30 --summary-every 5"}
start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
pass "HQ starts"
run hq post add NAI --kind bilateral
expect_exit "device set up" 0 dev init --token "$(hq enroll NAI 2>/dev/null)"
dev theme set 2026 FOE WGR >/dev/null
P=$(dev partner add --name "Flood Test Org")
expect_exit "the device syncs" 0 dev sync --timeout 20

# flood NAME MODE COUNT SECONDS : runs flood.py in the background for SECONDS; its stats go to
# $T/NAME.json once it ends (wait on FLOOD_PID).
flood() {
    python3 "$MRF_SRC/tests/integration/flood.py" "$2" "$HQ_PORT" "$3" "$4" "$T/$1.json" \
        2>>"$T/flood.log" &
    FLOOD_PID=$!
}
stat_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/$1.json" "$2"; }
hwm_kb() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$HQ_PID/status"; }

# under NAME : while a flood runs, health answers and a real sync completes.
n=0
under() {
    local t0 t1
    n=$((n + 1))
    sleep 4 # let the flood take every slot it can
    run curl -sk --max-time 10 "https://127.0.0.1:$HQ_PORT/v1/health"
    check "$1: GET /v1/health answers ok" grep -qx ok "$OUT"
    dev grant add --partner "$P" --theme FOE --year 2026 --amount "$((1000 + n))" >/dev/null
    t0=$(date +%s%N)
    expect_exit "$1: the device syncs (exit 0)" 0 dev sync --timeout 20
    t1=$(date +%s%N)
    check "$1: within 20 s ($(((t1 - t0) / 1000000)) ms)" test $(((t1 - t0) / 1000000)) -lt 20000
    check "$1: its outbox is empty" test "$(pending)" = 0
}

flood slowloris slowloris 400 14
under "slowloris x400"
wait "$FLOOD_PID"
check "slowloris: connections are cut at the header deadline, not kept by their bytes (longest $(stat_of slowloris longest_s) s)" \
    test "$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["longest_s"] < 12))' "$T/slowloris.json")" = 1

flood idle idle 300 14
flood2_pid=$FLOOD_PID
flood tcp tcp 300 14
under "idle TLS x300 + raw TCP x300"
wait "$FLOOD_PID" "$flood2_pid"
check "idle: connections are cut at the header deadline" \
    test "$(python3 -c 'import json,sys; print(int(max(json.load(open(f))["longest_s"] for f in sys.argv[1:]) < 12))' "$T/idle.json" "$T/tcp.json")" = 1

flood body body 200 12
under "2 MiB bodies x200"
wait "$FLOOD_PID"
check "bodies past the budget are refused: 503 busy" \
    python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["statuses"].get("503", 0) > 0 else 1)' "$T/body.json"
hwm=$(hwm_kb)
# (ldd's output captured first: `ldd | grep -q` under pipefail fails when grep stops reading
# early and ldd gets SIGPIPE, which sent a sanitizer build to the RSS check in a CI run)
if [[ "$(ldd "$MRF_HQ" 2>/dev/null)" == *libasan* ]]; then
    # AddressSanitizer's shadow memory and quarantine make RSS say nothing about HQ's own
    skip "HQ's peak RSS stays under 64 MiB" "a sanitizer build (${hwm} kB); the plain build checks it"
else
    check "HQ's peak RSS stays under 64 MiB (${hwm} kB)" test "$hwm" -lt $((64 * 1024))
fi

flood reader reader 4 16
wait "$FLOOD_PID"
check "a client that never reads is cut (longest $(stat_of reader longest_s) s)" \
    test "$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["longest_s"] < 15.5))' "$T/reader.json")" = 1

# A request flood: refusals are rate-limited and summarised per address and reason, the
# device's accepted syncs are logged whatever the rate, and the log grows by far less than
# 1 MB a minute (windows of 5 s here: the most summary lines a minute).
log0=$(stat -c %s "$T/serve.log")
accepted0=$(grep -c 'verdict=accepted' "$T/serve.log")
flood requests requests 16 12
under "requests x16 (bad envelopes, keep-alive)"
wait "$FLOOD_PID"
sleep 6 # the window's summary
log1=$(stat -c %s "$T/serve.log")
refused=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["statuses"].get("400", 0))' "$T/requests.json")
check "the request flood was refused ($refused x 400)" test "$refused" -gt 1000
check "its refusals are summarised per address and reason" \
    grep -Eq 'mrf-hq: serve: [0-9]+ requests refused from 127\.0\.0\.2 in the last 5 s: bad_envelope' "$T/serve.log"
check "few of them are logged one by one ($(tail -c +$((log0 + 1)) "$T/serve.log" | grep -c 'POST /v1/sync 400'))" \
    test "$(tail -c +$((log0 + 1)) "$T/serve.log" | grep -c 'POST /v1/sync 400')" -le 60
check "the device's accepted sync is logged" test "$(grep -c 'verdict=accepted' "$T/serve.log")" -gt "$accepted0"
check "the log grew by $((log1 - log0)) bytes in ~20 s (under 1 MB a minute: < 340 kB)" \
    test $((log1 - log0)) -lt 340000

mhd_lines=$(grep 'mrf-hq: serve: ' "$T/serve.log" | grep -Evc ' (refused|health checks) from ')
check "libmicrohttpd's own lines stay few ($mhd_lines)" test "$mhd_lines" -le 200
check "HQ is still running" kill -0 "$HQ_PID"
expect_exit "HQ stops cleanly" 0 hq_stop
finish

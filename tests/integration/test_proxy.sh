#!/usr/bin/env bash
# HQ behind nginx, with the configuration README documents (docs/nginx-hq.conf, its @...@
# names filled in; header timeout 5 s here instead of 15): a real nginx from Debian's
# nginx-light, a real `mrf-hq serve --per-address 256` on another loopback port, one device
# whose token names nginx's port.
#   - the device enrolls and syncs through nginx (HQ's certificate, pinned, is nginx's);
#   - slowloris from 127.0.0.2 (400 TLS connections, one header byte every 2 s) against
#     nginx: health answers ok through nginx, the device's sync completes, and nginx cuts the
#     slowloris connections at its header timeout;
#   - HQ itself never sees them: its log has no request from the flood.
. "$(dirname "$0")/lib.sh"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || {
    echo "nginx is needed (Debian's nginx-light, from scripts/install-deps.sh)" >&2
    exit 1
}
command -v curl >/dev/null || {
    echo "curl is needed for GET /v1/health" >&2
    exit 1
}
[ "$(ulimit -n)" -ge 2048 ] || ulimit -n 4096 2>/dev/null || {
    echo "test_proxy needs 2048 file descriptors (ulimit -n)" >&2
    exit 1
}

NGINX_PORT=$(free_port)
HQ_PORT=$(free_port)
run hq init --url "https://127.0.0.1:$NGINX_PORT"
check "HQ is set up with nginx's address as its URL" test "$LAST_RC" = 0
HQ_SERVE_ARGS="--per-address 256"
hq_start || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" 2>/dev/null | tr '\n' ' ')"
    finish
}

NG=$T/nginx
mkdir -p "$NG"
sed -e "s|@PREFIX@|$NG|g" -e "s|@LISTEN@|127.0.0.1:$NGINX_PORT|g" -e "s|@HQ_HOME@|$HQ_HOME|g" \
    -e "s|@HQ_PORT@|$HQ_PORT|g" -e "s|@HQ_NAME@|127.0.0.1|g" -e "s|@HEADER_S@|5|g" \
    "$MRF_SRC/docs/nginx-hq.conf" >"$NG/nginx.conf"
# Run as root (a test), nginx's workers would switch to www-data, which may not read HQ's
# key: keep them as the test's user.
[ "$(id -u)" = 0 ] && sed -i '1i user root;' "$NG/nginx.conf"
check "nginx accepts the documented configuration" "$NGINX" -t -p "$NG" -c "$NG/nginx.conf" -e "$NG/error.log"
"$NGINX" -p "$NG" -c "$NG/nginx.conf" -e "$NG/error.log" -g 'daemon off;' 2>>"$NG/stderr.log" &
NGINX_PID=$!
LIB_PIDS="$LIB_PIDS $NGINX_PID"
health() { curl -sk --max-time 10 "https://127.0.0.1:$NGINX_PORT/v1/health"; }
wait_for 10 health >/dev/null
check "health answers ok through nginx" test "$(health)" = ok

run hq post add NAI --kind bilateral
expect_exit "device set up" 0 dev init --token "$(hq enroll NAI 2>/dev/null)"
dev theme set 2026 FOE WGR >/dev/null
P=$(dev partner add --name "Proxy Test Org")
expect_exit "the device enrolls and syncs through nginx" 0 dev sync --timeout 20
check "HQ took its change set" grep -q 'POST /v1/sync 200 .*verdict=accepted' "$T/serve.log"

python3 "$MRF_SRC/tests/integration/flood.py" slowloris "$NGINX_PORT" 400 14 "$T/slowloris.json" \
    2>>"$T/flood.log" &
FLOOD_PID=$!
sleep 4
check "under slowloris x400: health answers ok through nginx" test "$(health)" = ok
dev grant add --partner "$P" --theme FOE --year 2026 --amount 1234 >/dev/null
t0=$(date +%s%N)
expect_exit "under slowloris x400: the device syncs through nginx" 0 dev sync --timeout 20
t1=$(date +%s%N)
check "within 20 s ($(((t1 - t0) / 1000000)) ms)" test $(((t1 - t0) / 1000000)) -lt 20000
check "its outbox is empty" test "$(pending)" = 0
wait "$FLOOD_PID"
longest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["longest_s"])' "$T/slowloris.json")
check "nginx cuts the slowloris connections at its header timeout (longest $longest s)" \
    python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 12 else 1)' "$longest"
check "HQ never saw them (no request but the device's and health in its log)" \
    test "$(grep -c 'POST /v1/sync' "$T/serve.log")" -le 3
check "nginx is still running" kill -0 "$NGINX_PID"
check "HQ is still running" kill -0 "$HQ_PID"
expect_exit "HQ stops cleanly" 0 hq_stop
finish

#!/usr/bin/env bash
# Hostile HTTP against a real `mrf-hq serve` (a raw TLS client in python3, no certificate check,
# hand-written requests):
#   - a POST /v1/sync of a valid, never-seen change set with two Content-Length headers,
#     different or equal, gets 400 duplicate_length and never reaches ingest (nothing
#     received, the log line says so); the same bytes with one header are accepted;
#   - afterwards GET /v1/health still answers ok and the enrolled device still syncs.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || {
    echo "sqlite3 is needed to read HQ's store" >&2
    exit 1
}
command -v curl >/dev/null || {
    echo "curl is needed for GET /v1/health" >&2
    exit 1
}

# raw FILE : sends FILE's bytes (a whole request) over TLS to HQ and reads the answer until HQ
# closes; prints its status code and the first line of its body, "(binary)" if that is not
# text ("none" if HQ closed without answering).
raw() {
    python3 - "$HQ_PORT" "$1" <<'PY' 2>/dev/null
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
req = open(sys.argv[2], "rb").read()
got = b""
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as s:
    with ctx.wrap_socket(s) as t:
        t.sendall(req)
        try:
            while True:
                chunk = t.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (ssl.SSLError, OSError):
            pass
head, _, body = got.partition(b"\r\n\r\n")
line = head.split(b"\r\n", 1)[0].split()
if len(line) < 2:
    print("none")
else:
    first = body.split(b"\n", 1)[0]
    text = all(32 <= c < 127 for c in first)
    print(line[1].decode(), first.decode() if text else "(binary)")
PY
}
# request OUT BODY CL... : a POST /v1/sync of BODY's bytes with one Content-Length header per CL.
request() {
    local f=$1 body=$2 cl
    shift 2
    {
        printf 'POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\n'
        printf 'Content-Type: application/octet-stream\r\nConnection: close\r\n'
        for cl in "$@"; do printf 'Content-Length: %s\r\n' "$cl"; done
        printf '\r\n'
        cat "$body"
    } >"$f"
}
received() { hq_sql "SELECT count(*) FROM received"; }

start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
pass "HQ starts"
run hq post add NAI --kind bilateral
expect_exit "device set up" 0 dev init --token "$(hq enroll NAI 2>/dev/null)"
dev theme set 2026 FOE WGR >/dev/null
P=$(dev partner add --name "Hostile Test Org")
dev grant add --partner "$P" --theme FOE --year 2026 --amount 1000 >/dev/null
expect_exit "the device syncs" 0 dev sync --timeout 20

# A change set HQ has never seen, kept by the proxy: a valid body HQ would accept.
proxy_mode hold
dev grant add --partner "$P" --theme WGR --year 2026 --amount 2000 >/dev/null
expect_exit "the next sync is held by the proxy (exit 4)" 4 dev sync --timeout 3
proxy_mode pass
BODY=$(ls -t "$PROXY_DIR"/body-*.bin | head -n 1)
LEN=$(wc -c <"$BODY")
check "the proxy captured a change set" test "$LEN" -gt 0
before=$(received)

# Two Content-Length headers: whichever one a server believed, a proxy in front of it might
# believe the other and frame the connection differently (request smuggling). Equal values
# are refused too: no client of ours sends two.
request "$T/two.req" "$BODY" "$LEN" "$((LEN + 7))"
check "two different Content-Length: 400 duplicate_length" \
    grep -q '^400 duplicate_length' <<<"$(raw "$T/two.req")"
request "$T/same.req" "$BODY" "$LEN" "$LEN"
check "two equal Content-Length: 400 duplicate_length" \
    grep -q '^400 duplicate_length' <<<"$(raw "$T/same.req")"
# Without "Connection: close" and a second request right behind: HQ answers the first and
# closes, so nothing is read where one of the two lengths says the next request starts.
{
    sed 's/^Connection: close\r$/Connection: keep-alive\r/' "$T/two.req"
    printf 'GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
} >"$T/pipelined.req"
check "keep-alive asked: 400, then the connection closes" \
    grep -q '^400 duplicate_length' <<<"$(raw "$T/pipelined.req")"
check "the request behind it was never read" \
    test "$(grep -c 'GET /v1/health' "$T/serve.log")" = 0
check "neither reached ingest: nothing received" test "$(received)" = "$before"
check "the log names the reason" grep -q 'POST /v1/sync 400 .*verdict=duplicate_length' \
    "$T/serve.log"

run curl -sk "https://127.0.0.1:$HQ_PORT/v1/health"
check "GET /v1/health still answers ok" grep -qx ok "$OUT"
request "$T/one.req" "$BODY" "$LEN"
check "the same change set with one Content-Length is accepted" \
    test "$(raw "$T/one.req" | cut -d' ' -f1)" = 200
check "and received once" test "$(received)" = "$((before + 1))"
dev partner add --name "After Hostile Org" >/dev/null
expect_exit "the device still syncs" 0 dev sync --timeout 20
check "its outbox is empty" test "$(pending)" = 0
check "HQ is still running" kill -0 "$HQ_PID"
expect_exit "HQ stops cleanly" 0 hq_stop
finish

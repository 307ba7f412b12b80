#!/usr/bin/env bash
# Two `mrf sync` at once on a new device's first sync (issue 10, "enrollment race"): both
# requests reach HQ before either is written, so both see an unknown device and try to enroll
# it. HQ must take the second as the already enrolled device's (its change set taken, or
# replayed by id), never answer 500. A real `mrf-hq serve` behind the recording proxy
# (tests/integration/hqproxy.py), which holds the two requests and sends them to HQ at the
# same moment (mode "pair"); ten fresh devices, each with offline writes, each synced twice at
# once:
#   - no HTTP 500 in the proxy's status files, no 500 or store_error in the server's log;
#   - both syncs exit 0 (one may be refused by its own store's lock and exit 0 on a retry);
#   - every op the device recorded is in HQ's oplog exactly once, and after a last sync the
#     device's outbox is empty.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || {
    echo "sqlite3 is needed to read the stores" >&2
    exit 1
}

ROUNDS=${ROUNDS:-10}

start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
pass "HQ starts behind the proxy"
run hq post add NAI --kind bilateral

# both_sync E : starts two syncs of device E at once (each as mrf itself, so its pid is the
# one waited for). One that failed on the device's side (its store busy: not exit 4, HQ's
# trouble, nor 5, HQ's refusal) while the other succeeded is run once more. Prints the exit
# codes as "a b".
both_sync() {
    local e=$1 pa pb ra rb
    D "$e" sync --timeout 60 >"$T/$e.a.out" 2>"$T/$e.a.err" &
    pa=$!
    D "$e" sync --timeout 60 >"$T/$e.b.out" 2>"$T/$e.b.err" &
    pb=$!
    wait "$pa"
    ra=$?
    wait "$pb"
    rb=$?
    # the device's own store may refuse the later one while the other holds its lock
    if [ "$ra" -ne 0 ] && [ "$ra" -ne 4 ] && [ "$ra" -ne 5 ] && [ "$rb" -eq 0 ]; then
        D "$e" sync --timeout 60 >>"$T/$e.a.out" 2>>"$T/$e.a.err"
        ra=$?
    elif [ "$rb" -ne 0 ] && [ "$rb" -ne 4 ] && [ "$rb" -ne 5 ] && [ "$ra" -eq 0 ]; then
        D "$e" sync --timeout 60 >>"$T/$e.b.out" 2>>"$T/$e.b.err"
        rb=$?
    fi
    echo "$ra $rb"
}

# The ops a device recorded (its outbox before any sync), and HQ's oplog rows of that device
# with how often each is there.
OUTBOX_SQL="SELECT tbl, hex(id), col, clock FROM outbox ORDER BY tbl, hex(id), col, clock"
for i in $(seq 1 "$ROUNDS"); do
    e=e$i
    expect_exit "$e set up" 0 D "$e" init --token "$(hq enroll NAI 2>/dev/null)"
    D "$e" theme set 2026 FOE >/dev/null
    p=$(D "$e" partner add --name "Race partner $i")
    D "$e" grant add --partner "$p" --theme FOE --year 2026 --amount "$i$i$i" >/dev/null
    dsql "$e" "$OUTBOX_SQL" >"$T/$e.ops"
    check "$e recorded ops offline" test -s "$T/$e.ops"
    proxy_mode pair # the two requests reach HQ together
    codes=$(both_sync "$e")
    proxy_mode pass
    check_msg "$e: two first syncs at once both exit 0" "exit codes $codes: $(head -c 300 "$T/$e.a.err" "$T/$e.b.err" | tr '\n' ' ')" \
        test "$codes" = "0 0"
    id=$(dsql "$e" "SELECT hex(device_id) FROM meta")
    hq_sql "SELECT tbl, hex(id), col, clock FROM oplog WHERE device = x'$id'
            ORDER BY tbl, hex(id), col, clock" >"$T/$e.hq"
    check_msg "$e: every op in HQ's oplog exactly once" \
        "$(diff "$T/$e.ops" "$T/$e.hq" | head -n 4 | tr '\n' ' ')" same_file "$T/$e.ops" "$T/$e.hq"
    expect_exit "$e: a last sync" 0 D "$e" sync --timeout 60
    check "$e: outbox empty after it" test "$(dsql "$e" "SELECT count(*) FROM outbox")" = 0
    check "$e: HQ has the device once, active" \
        test "$(hq_sql "SELECT count(*) FROM devices WHERE id = x'$id' AND status = 'active'")" = 1
done

statuses=$(cat "$PROXY_DIR"/status-* 2>/dev/null | sort | uniq -c | tr -s ' \n' ' ')
check "the proxy saw requests" test -n "$statuses"
no_500() { ! grep -q '^5' "$PROXY_DIR"/status-*; }
check_msg "no HTTP 5xx in the proxy's status files" "statuses: $statuses" no_500
check_msg "no 500 in the server's log" "$(grep -a 'POST /v1/sync 5' "$T/serve.log" | head -n 3)" \
    lacks "POST /v1/sync 5" "$T/serve.log"
check "the server logged no store error" lacks "store_error" "$T/serve.log"
check "the server logged no device_exists" lacks "device_exists" "$T/serve.log"
echo "# proxy statuses:$statuses"
echo "# verdicts: $(grep -ao 'verdict=[a-z_]*' "$T/serve.log" | sort | uniq -c | tr -s ' \n' ' ')"
finish

#!/usr/bin/env bash
# Sync under kill -9, on both sides: a real `mrf-hq serve` behind the recording proxy and a real
# device with an outbox of several change sets.
#   - `mrf sync` killed at random moments: every op reaches HQ exactly once after the next sync,
#     nothing is lost, the outbox ends empty;
#   - two `mrf sync` of one device started at once: the same;
#   - the link lost after HQ's first answer: the rest of the outbox frozen, then sent: the same;
#   - `mrf-hq serve` killed at random moments of a device's sync, then restarted: the same.
# "Exactly once" is counted in HQ's oplog: every op here writes a new row, so each one that
# HQ applies adds one oplog entry, and one applied twice would add two.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || {
    echo "sqlite3 is needed to count HQ's oplog" >&2
    exit 1
}

D() { "$MRF" --home "$T/dev" "$@"; }
oplog() { hq_sql "SELECT count(*) FROM oplog"; }
dpending() { sqlite3 "$T/dev/post.db" "SELECT count(*) FROM outbox"; }
NOTE=$(python3 -c 'print("n" * 4000)')
# fill N : N partners with 4000-byte notes (about 5.5 KiB of sealed JSON each)
fill() {
    local i
    for i in $(seq 1 "$1"); do D partner add --name "Crash Org $i $RANDOM" --note "$NOTE" >/dev/null; done
}
# pause : a random pause of 0 to 0.6 s
pause() { sleep "0.$((RANDOM % 6))$((RANDOM % 10))"; }

start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
run hq post add NAI --kind bilateral
TOKEN=$("$MRF_HQ" --home "$HQ_HOME" enroll NAI 2>/dev/null)
expect_exit "device set up" 0 D init --token "$TOKEN"
expect_exit "first sync enrolls it" 0 D sync --timeout 20

# ---- the device killed mid-sync -----------------------------------------------------------
for round in 1 2 3 4 5; do
    fill 50
    want=$(($(oplog) + $(dpending)))
    "$MRF" --home "$T/dev" sync --timeout 20 >/dev/null 2>&1 & # $! is mrf itself
    pid=$!
    pause
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    run D sync --timeout 30
    check "device killed, round $round: the next sync completes" test "$LAST_RC" = 0
    check "device killed, round $round: the outbox is empty" test "$(dpending)" = 0
    got=$(oplog)
    check "device killed, round $round: every op applied exactly once ($got of $want)" \
        test "$got" = "$want"
done

# ---- two syncs of one device at once (an impatient double start) --------------------------
for round in 1 2 3; do
    fill 50
    want=$(($(oplog) + $(dpending)))
    "$MRF" --home "$T/dev" sync --timeout 20 >/dev/null 2>&1 &
    p1=$!
    pause
    "$MRF" --home "$T/dev" sync --timeout 20 >/dev/null 2>&1 &
    p2=$!
    wait "$p1"
    r1=$?
    wait "$p2"
    r2=$?
    check "two syncs at once, round $round: both exit 0 (got $r1, $r2)" test "$r1$r2" = 00
    check "two syncs at once, round $round: the outbox is empty" test "$(dpending)" = 0
    got=$(oplog)
    check "two syncs at once, round $round: every op applied exactly once ($got of $want)" \
        test "$got" = "$want"
done

# ---- the link lost after HQ's first answer ------------------------------------------------
# Once HQ has answered, a sync freezes the rest of the outbox in one go (some 32,000 ops,
# client/sync.c freeze()), then sends it change set by change set: the link lost after the
# first answer leaves several frozen change sets and nothing pending, and the next sync sends
# them, each op applied once.
fill 150
want=$(($(oplog) + $(dpending)))
proxy_mode "pass-then-down:1"
run D sync --timeout 5
check "link lost after the first answer: the sync exits 4 (got $LAST_RC)" test "$LAST_RC" = 4
frozen=$(sqlite3 "$T/dev/post.db" "SELECT count(DISTINCT changeset) FROM outbox WHERE changeset IS NOT NULL")
check "link lost after the first answer: the rest is frozen, in $frozen change sets (more than one)" \
    test "$frozen" -gt 1
check "link lost after the first answer: nothing is left pending" \
    test "$(sqlite3 "$T/dev/post.db" "SELECT count(*) FROM outbox WHERE changeset IS NULL")" = 0
proxy_mode pass
run D sync --timeout 30
check "link back: the next sync completes" test "$LAST_RC" = 0
check "link back: the outbox is empty" test "$(dpending)" = 0
got=$(oplog)
check "link back: every op applied exactly once ($got of $want)" test "$got" = "$want"

# ---- HQ killed mid-sync ------------------------------------------------------------------
for round in 1 2 3; do
    fill 50
    want=$(($(oplog) + $(dpending)))
    "$MRF" --home "$T/dev" sync --timeout 6 >"$T/bg.out" 2>&1 &
    pid=$!
    pause
    kill -9 "$HQ_PID" 2>/dev/null
    wait "$HQ_PID" 2>/dev/null
    LIB_PIDS=${LIB_PIDS/ $HQ_PID/}
    wait "$pid"
    rc=$?
    check "HQ killed, round $round: the device's sync exits 0 or 4 (got $rc)" test "$rc" = 0 -o "$rc" = 4
    check "HQ killed, round $round: HQ restarts" hq_start
    check "HQ killed, round $round: its store is sound" \
        test "$(hq_sql 'PRAGMA integrity_check')" = ok
    run D sync --timeout 30
    check "HQ killed, round $round: the next sync completes" test "$LAST_RC" = 0
    check "HQ killed, round $round: the outbox is empty" test "$(dpending)" = 0
    got=$(oplog)
    check "HQ killed, round $round: every op applied exactly once ($got of $want)" \
        test "$got" = "$want"
done
check "mrf-hq serve stops cleanly at the end" hq_stop
finish

#!/usr/bin/env bash
# Volume bounds per device (issue 10): a real `mrf-hq serve` behind the recording proxy and two
# devices of post NAI, with small bounds set by HQ's operator (never big volumes, never timing).
#   - `mrf-hq limits` shows the defaults; `limits set` refuses a per-change-set bound below what
#     a device's client cuts (exit 3) and takes an hourly one;
#   - a device over its hourly bound: the sync exits 4 with the bound, when HQ takes the change
#     set again and the operator's command; its outbox is as it was, nothing quarantined, HQ
#     applied nothing and logged the refusal;
#   - the post's other device syncs meanwhile;
#   - the operator raises the bound (serve keeps running) and the device's next sync goes
#     through;
#   - a junk change set of orphan columns (a row nobody created) is quarantined with a reason
#     naming the table, the row's code and the missing column; the rest of the outbox syncs.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || {
    echo "sqlite3 is needed to read and change the stores" >&2
    exit 1
}

dpending() { dsql "$1" "SELECT count(*) FROM outbox"; }

start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
pass "HQ starts behind the proxy"
run hq post add NAI --kind bilateral
expect_exit "device 1 set up" 0 D d1 init --token "$(token NAI)"
expect_exit "device 2 set up" 0 D d2 init --token "$(token NAI)"

# =========================================================================================
# the operator's setting
# =========================================================================================
expect_exit "mrf-hq limits shows the bounds" 0 hq limits
check "... the defaults, said so" grep -q '^ops per change set *8000 (default)$' "$OUT"
check "... per device-hour too" grep -q '^ops per device-hour *20000 (default)$' "$OUT"
expect_exit "a per-change-set bound below what a client cuts is refused: exit 3" 3 \
    hq limits set --per-changeset 10
check "... saying why" grep -q 'from 8000 to .*cuts change sets of up to that many' "$ERR"
expect_exit "limits set without a bound is a usage error: exit 2" 2 hq limits set
expect_exit "the operator sets 10 ops per device-hour" 0 hq limits set --per-hour 10
expect_exit "mrf-hq limits --json" 0 hq limits --json
check "... shows it" json_ok "$OUT" \
    'd["per_hour"] == 10 and not d["per_hour_default"] and d["per_changeset_default"]'

# =========================================================================================
# a device over its hourly bound
# =========================================================================================
D d1 theme set 2026 FOE >/dev/null
P1=$(D d1 partner add --name "Alpha Volume Org")
check "device 1 recorded 6 changes" test "$(dpending d1)" = 6
expect_exit "device 1 syncs them into an empty hour" 0 D d1 sync --timeout 20
G1=$(D d1 grant add --partner "$P1" --theme FOE --year 2026 --amount 1000)
before=$(dpending d1)
check "device 1 recorded a grant (7 changes)" test "$before" = 7
expect_exit "over the hourly bound, the sync exits 4 (try later)" 4 D d1 sync --timeout 20
check "it names the bound and what the hour holds" \
    grep -q 'HQ takes at most 10 changes an hour from one device and this device has sent 6 this hour' "$ERR"
check "it says when HQ takes them again" grep -Eq 'after [0-9]{2}:[0-9]{2} UTC \(in about [0-9]+ min\)' "$ERR"
check "it says nothing was lost" grep -q 'nothing was lost, your changes stay in the outbox' "$ERR"
check "it names the operator's command" grep -q "mrf-hq limits set --per-hour N" "$ERR"
check "the outbox is as it was" test "$(dpending d1)" = "$before"
run D d1 status --json
check "nothing is quarantined" json_ok "$OUT" 'd.get("quarantined", 0) == 0'
check "HQ has not got the grant" test "$(hq_sql "SELECT count(*) FROM grants WHERE code = '$G1'")" = 0
check "HQ recorded no change set for it" \
    test "$(hq_sql "SELECT count(*) FROM received WHERE verdict = 'quarantined'")" = 0
check "HQ's log names the refusal" grep -q 'POST /v1/sync 429 .*verdict=over_hourly_bound' "$T/serve.log"
check "the proxy saw the 429" grep -qx 429 "$PROXY_DIR/status-$(find "$PROXY_DIR" -name 'status-*' | wc -l)"
expect_exit "a second try within the hour: exit 4 again" 4 D d1 sync --timeout 20
check "... the outbox still as it was" test "$(dpending d1)" = "$before"

# =========================================================================================
# the post's other device is not held back
# =========================================================================================
P2=$(D d2 partner add --name "Beta Volume Org")
expect_exit "device 2 syncs meanwhile" 0 D d2 sync --timeout 20
check "... all of it" test "$(dpending d2)" = 0
check "HQ has device 2's partner" test "$(hq_sql "SELECT count(*) FROM partners WHERE code = '$P2'")" = 1

# =========================================================================================
# the operator raises the bound; serve keeps running
# =========================================================================================
expect_exit "the operator raises the bound to 100" 0 hq limits set --per-hour 100
check "... in force at once" grep -q 'in force from each device' "$OUT"
expect_exit "device 1's next sync goes through" 0 D d1 sync --timeout 20
check "... its outbox is empty" test "$(dpending d1)" = 0
check "HQ has the grant" test "$(hq_sql "SELECT status FROM grants WHERE code = '$G1'")" = draft

# =========================================================================================
# a junk change set of orphan columns
# =========================================================================================
# An amount and a status for a grant id nobody created, as a modified program would send
# them (grants = table 2, amount_cents = column 3, status = column 5), in a change set of
# their own; a real grant is recorded after it.
junk=0123456789abcdef0123456789abcdef
dsql d1 "INSERT INTO outbox(tbl, id, col, value, clock, changeset) VALUES
    (2, X'$junk', 3, 500, (SELECT clock + 1 FROM meta), X'$junk'),
    (2, X'$junk', 5, 'draft', (SELECT clock + 2 FROM meta), X'$junk');
    UPDATE meta SET clock = clock + 2;"
G2=$(D d1 grant add --partner "$P1" --theme FOE --year 2026 --amount 2000)
run D d1 sync --timeout 20
check "a sync with a junk change set completes (exit 0)" test "$LAST_RC" = 0
check "it warns about the quarantine" grep -q 'quarantine' "$ERR"
run D d1 status --json
check "its status shows the two quarantined changes" json_ok "$OUT" 'd["quarantined"] == 2'
check "HQ's reason names the table, the row's code and the missing column" json_ok "$OUT" \
    're.fullmatch(r"a new row must carry its required columns: grants G-[0-9A-Z]{6} has no partner", d["quarantine_reason"])'
check "the rest of the outbox synced" test "$(dpending d1)" = 0
check "HQ has the later grant" test "$(hq_sql "SELECT count(*) FROM grants WHERE code = '$G2'")" = 1
check "HQ holds nothing of the junk row" \
    test "$(hq_sql "SELECT count(*) FROM grants WHERE id = X'$junk'")$(hq_sql "SELECT count(*) FROM oplog WHERE id = X'$junk'")" = 00
check "HQ recorded the junk change set as quarantined" \
    test "$(hq_sql "SELECT count(*) FROM received WHERE verdict = 'quarantined'")" = 1

finish

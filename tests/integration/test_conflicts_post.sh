#!/usr/bin/env bash
# Conflict records and HQ's audit head, as the post sees them, end to end: a real `mrf-hq
# serve` behind the recording proxy and two real `mrf` devices of post NAI.
#   - both devices change the same grant's amount offline and sync: HQ opens a record, and the
#     second device's sync brings it: `mrf conflicts` shows it (text and --json), `mrf grant
#     list` marks the grant, `mrf status` counts one open conflict and shows HQ's audit head,
#     which is HQ's chain head as HQ holds it;
#   - the first device gets the same record on its next sync;
#   - HQ resolves it: the next sync closes it on the device, `mrf conflicts --all` shows HQ's
#     decision and reason, the mark goes, the amount is HQ's decision, and the audit head moves on.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || {
    echo "sqlite3 is needed to read HQ's audit chain" >&2
    exit 1
}


HQ_HOME=$T/hq
export MRF_ESCROW_PASSPHRASE="escrow passphrase 1"
start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
pass "HQ starts behind the proxy"
run hq post add NAI --kind bilateral
expect_exit "device 1 set up" 0 D d1 init --token "$(token NAI)"
expect_exit "device 2 set up" 0 D d2 init --token "$(token NAI)"

run D d1 status --json
check "status --json: no audit head before the first sync" json_ok "$OUT" \
    'd["audit_head"] is None and d["open_conflicts"] == 0'
run D d1 status
check "status: says no audit head came yet" grep -q "^audit head  *none yet" "$OUT"

# ---- one grant, known to both devices ------------------------------------------------------
D d1 theme set 2026 HRD >/dev/null
P=$(D d1 partner add --name "Conflict Test Org")
G=$(D d1 grant add --partner "$P" --theme HRD --year 2026 --amount 1000)
check "the grant was recorded" test -n "$G"
expect_exit "device 1 syncs the grant" 0 D d1 sync --timeout 20
expect_exit "device 2 pulls it" 0 D d2 sync --timeout 20
run D d2 grant list --json
check "device 2 holds the grant, unmarked" json_ok "$OUT" \
    "len(d) == 1 and d[0]['code'] == '$G' and d[0]['conflict'] is None"

# ---- both change its amount offline; both sync -----------------------------------------------
expect_exit "device 1 changes the amount offline" 0 D d1 grant set "$G" --amount 2000
expect_exit "device 2 changes it too" 0 D d2 grant set "$G" --amount 3000
expect_exit "device 1 syncs" 0 D d1 sync --timeout 20
expect_exit "device 2 syncs" 0 D d2 sync --timeout 20
check "device 2's sync says HQ sent an open record" grep -q "HQ sent 1 open conflict record(s); 'mrf conflicts' shows them" "$ERR"
run hq conflicts --json
check "HQ opened one record" json_ok "$OUT" 'len(d) == 1'
C=$(json "$OUT" 'd[0]["id"]')

run D d2 conflicts --json
check "conflicts --json: the record HQ opened, open, naming the grant" json_ok "$OUT" \
    "len(d) == 1 and d[0]['id'] == '$C' and d[0]['state'] == 'open' and '$G' in d[0]['rows'] \
     and d[0]['decision'] is None and d[0]['kind'] == 'value'"
check "conflicts --json: both sides as amounts" json_ok "$OUT" \
    "sorted([d[0]['a'], d[0]['b']]) == ['2000.00', '3000.00'] and d[0]['base'] == '1000.00'"
run D d2 conflicts
check "conflicts: a table with the record's id and rule" grep -q "^$C .*concurrent_edit" "$OUT"
check "conflicts: what happened, indented under the record" grep -q "^  *$G amount_cents: " "$OUT"
check "conflicts: open since when" grep -q "^  *open since 20" "$OUT"
run D d2 grant list --json
check "grant list --json marks the grant with the record" json_ok "$OUT" \
    "d[0]['conflict'] == '$C'"
run D d2 grant list
check "grant list marks it in text" grep -q "^$G .* $C *$" "$OUT"
run D d2 status --json
check "status --json counts one open conflict" json_ok "$OUT" 'd["open_conflicts"] == 1'
HQ_SEQ=$(hq_sql "SELECT max(seq) FROM audit")
HQ_HASH=$(hq_sql "SELECT lower(hex(chain_hash)) FROM audit WHERE seq = (SELECT max(seq) FROM audit)")
check_msg "status --json: the audit head is HQ's chain head (#$HQ_SEQ)" "$(cat "$OUT")" \
    json_ok "$OUT" "d['audit_head']['seq'] == $HQ_SEQ and d['audit_head']['hash'] == '$HQ_HASH'"
run D d2 status
check "status: open conflicts 1" grep -q "^open conflicts  *1$" "$OUT"
check "status: audit head #SEQ, 16 hex digits and when it came" \
    grep -q "^audit head  *#$HQ_SEQ ${HQ_HASH:0:16} (received 20[0-9-]*T" "$OUT"

# ---- the first device learns it on its next sync -----------------------------------------------
expect_exit "device 1 syncs again" 0 D d1 sync --timeout 20
run D d1 conflicts --json
check "device 1 has the same record" json_ok "$OUT" "len(d) == 1 and d[0]['id'] == '$C'"
run D d1 grant list --json
check "device 1 marks the grant too" json_ok "$OUT" "d[0]['conflict'] == '$C'"

# ---- HQ decides ------------------------------------------------------------------------------
expect_exit "HQ resolves the record (take B)" 0 hq resolve "$C" --take B \
    --reason "the later figure is the signed one"
B=$(D d2 conflicts --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["b"])')
expect_exit "device 2 syncs after the decision" 0 D d2 sync --timeout 20
check "device 2's sync says HQ closed a record and where its decision is" \
    grep -q "HQ closed 1 conflict record(s); 'mrf conflicts --all' shows its decisions" "$ERR"
check "... and does not call it open" lacks "open conflict record" "$ERR"
run D d2 conflicts --json
check "conflicts: no open record after the decision" json_ok "$OUT" 'd == []'
run D d2 conflicts
check "conflicts: says none is open and how to see closed ones" grep -q "no open conflicts" "$OUT"
run D d2 conflicts --all --json
check "conflicts --all --json: closed, with HQ's decision and reason" json_ok "$OUT" \
    "len(d) == 1 and d[0]['state'] == 'closed' and d[0]['decision'] == 'take_b' \
     and d[0]['reason'] == 'the later figure is the signed one' and d[0]['closed'] is not None"
run D d2 conflicts --all
check "conflicts --all: the record shows HQ's decision and reason" \
    grep -q "^  *closed .* by HQ: take_b: the later figure is the signed one$" "$OUT"
run D d2 grant list --json
check "grant list: the mark is gone and the amount is HQ's decision" json_ok "$OUT" \
    "d[0]['conflict'] is None and d[0]['amount'] == '$B'"
run D d2 status --json
check "status: no open conflicts; the audit head moved past the decision" json_ok "$OUT" \
    "d['open_conflicts'] == 0 and d['audit_head']['seq'] > $HQ_SEQ"

# ---- nothing secret in what the post printed -------------------------------------------------
check "no partner name in anything the devices printed" lacks "Conflict Test Org" "$LOG"
finish

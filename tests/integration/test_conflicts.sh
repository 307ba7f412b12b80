#!/usr/bin/env bash
# HQ decides, end to end with the real programs: a real `mrf-hq serve` behind the recording
# proxy and real `mrf` devices of post NAI (n and m) and GVA (g) in temporary homes, editing
# offline and syncing. Each kind of conflict record is produced the way people produce it:
#   value     n and m change one grant's amount while both are offline; n and m choose
#             different themes for one year;
#   parallel  n and m write the same value; n and m change different columns of one grant;
#   rule      more than two themes; committed above the allocation (closes by itself when HQ
#             raises it); a status moved backwards; a live grant on a removed partner; a
#             laptop years ahead;
# and each resolve form (--accept, --take A, --take B, --set) decides one, with the refusals
# (a third theme, a closed record, no reason, a rule record has no sides). After the next sync
# both devices hold the decided values and `mrf conflicts --all` shows the decision and reason;
# `mrf grant list` marks a grant with an open record; `mrf-hq history` lists the writes; `mrf-hq
# audit verify` holds at the end; GVA sees none of NAI's records.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || {
    echo "sqlite3 (the CLI) is needed; scripts/install-deps.sh installs it" >&2
    exit 1
}
command -v faketime >/dev/null || {
    echo "faketime is needed to run a device with a wrong wall clock" >&2
    exit 1
}

sync_all() { # sync_all HOME... : each device syncs (twice: push, then pull what others pushed)
    local h ok=0
    for h in "$@"; do D "$h" sync --timeout 20 >/dev/null 2>>"$T/sync.err" || ok=1; done
    for h in "$@"; do D "$h" sync --timeout 20 >/dev/null 2>>"$T/sync.err" || ok=1; done
    return $ok
}
# records JQ-ish: python over `mrf-hq conflicts --all --json`
hq_records() { hq conflicts --all --json >"$T/rec.json" 2>/dev/null && json "$T/rec.json" "$1"; }
# open_id RULE [ROWS-SUBSTRING] : the id of the open record of that rule
open_id() {
    hq conflicts --json >"$T/open.json" 2>/dev/null &&
        json "$T/open.json" "next((c['id'] for c in d if c['rule'] == '$1' and '${2:-}' in c['rows']), '')"
}
# count RULE STATE : records of that rule in that state ("open" or "closed")
count() { hq_records "len([c for c in d if c['rule'] == '$1' and c['state'] == '$2'])"; }
amount_on() {
    D "$1" grant list --json >"$T/gl.json" 2>/dev/null &&
        json "$T/gl.json" "[g['amount'] for g in d if g['code'] == '$2'][0]"
}
hq_amount() { hq_sql "SELECT amount_cents FROM grants WHERE post = 'NAI' AND code = '$1'"; }

start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
pass "HQ starts behind the proxy"
expect_exit "post NAI added" 0 hq post add NAI --kind bilateral
expect_exit "post GVA added" 0 hq post add GVA --kind multilateral
expect_exit "NAI device n set up" 0 D n init --token "$(token NAI)"
expect_exit "NAI device m set up" 0 D m init --token "$(token NAI)"
expect_exit "GVA device g set up" 0 D g init --token "$(token GVA)"

D n theme set 2026 FOE WGR >/dev/null
P=$(D n partner add --name "Nairobi Legal Aid Trust")
G1=$(D n grant add --partner "$P" --theme FOE --year 2026 --amount 10000.00)
G2=$(D n grant add --partner "$P" --theme WGR --year 2026 --amount 5000.00)
D n grant set "$G2" --status committed >/dev/null
PG=$(D g partner add --name "Geneva Forum")
D g theme set 2026 HRD >/dev/null
D g grant add --partner "$PG" --theme HRD --year 2026 --amount 100 >/dev/null
check "n recorded a partner and two grants" test -n "$P" -a -n "$G1" -a -n "$G2"
check "all devices sync their set-up" sync_all n m g
check "no conflict after a plain set-up" test "$(hq_records 'len(d)')" = 0

# ---- value: one grant's amount, concurrently --------------------------------------------
D n grant set "$G1" --amount 12000.00 >/dev/null
D m grant set "$G1" --amount 13000.00 >/dev/null
check "n and m sync their concurrent amounts" sync_all n m
C1=$(open_id concurrent_edit "$G1")
check "a value record is open for $G1's amount" test -n "$C1"
check "it keeps the base and both values" test "$(hq_records "[(c['base'], sorted([c['a']['value'], c['b']['value']])) for c in d if c['id'] == '$C1'][0]")" = '["10000.00", ["12000.00", "13000.00"]]'
check "it is one record, not two" test "$(count concurrent_edit open)" = 1
expect_exit "conflict show names it" 0 hq conflict show "$C1"
check "show prints base, both sides and the column's history" \
    grep -q 'base      10000.00' "$OUT"
check "show prints the history" grep -q 'amount_cents' "$OUT"
expect_exit "conflict show --json" 0 hq conflict show "$C1" --json
check "show --json has the history of the column" test "$(json "$OUT" 'len(d["history"])')" -ge 3
expect_exit "grant list marks the grant on n (open record)" 0 D n grant list --json
check "n's grant list marks $G1" test "$(json "$OUT" "[g.get('conflict') for g in d if g['code'] == '$G1'][0]")" = "$C1"
expect_exit "status on n counts the open record" 0 D n status --json
check "n's status counts 1 open conflict" test "$(json "$OUT" 'd["open_conflicts"]')" = 1

expect_exit "resolve without a reason is refused (usage)" 2 hq resolve "$C1" --take A
expect_exit "resolve with two forms is refused" 2 hq resolve "$C1" --take A --accept --reason x
expect_exit "resolve --take C is refused" 3 hq resolve "$C1" --take C --reason "x"
expect_exit "resolve of an unknown id is refused" 3 hq resolve C-ZZZZZZ --accept --reason "x"
expect_exit "resolve of a malformed id is refused" 3 hq resolve "C-1;DROP" --accept --reason "x"
expect_exit "conflict show of a malformed id is refused" 3 hq conflict show "$(printf 'C-\033[2J')"
check "... and the message does not echo it back" lacks "$(printf '\033')" "$ERR"
A_VAL=$(hq_records "[c['a']['value'] for c in d if c['id'] == '$C1'][0]")
expect_exit "HQ resolves it: take A" 0 hq resolve "$C1" --take A --reason "the budget line agreed in October" --note "checked with the desk"
check "HQ's grant holds side A" test "$(hq_amount "$G1")" = "$(echo "$A_VAL" | tr -d '.')"
expect_exit "a closed record cannot be resolved again" 3 hq resolve "$C1" --accept --reason "again"
check "n and m sync after the decision" sync_all n m
check "n holds side A" test "$(amount_on n "$G1")" = "$A_VAL"
check "m holds side A" test "$(amount_on m "$G1")" = "$A_VAL"
for h in n m; do
    expect_exit "$h lists the decision" 0 D "$h" conflicts --all --json
    check "$h shows $C1 decided take_a with the reason" test "$(json "$OUT" "[(c['decision'], c['reason']) for c in d if c['id'] == '$C1'][0]")" = '["take_a", "the budget line agreed in October"]'
    check "$h never sees the officer's note" lacks "checked with the desk" "$OUT"
done
expect_exit "status on n counts no open record" 0 D n status --json
check "n's status counts 0 open conflicts" test "$(json "$OUT" 'd["open_conflicts"]')" = 0

# ---- take B and --set --------------------------------------------------------------------
D n grant set "$G1" --amount 1.00 >/dev/null
D m grant set "$G1" --amount 2.00 >/dev/null
sync_all n m
C2=$(open_id concurrent_edit "$G1")
check "a second value record opens for a new concurrent edit" test -n "$C2" -a "$C2" != "$C1"
B_VAL=$(hq_records "[c['b']['value'] for c in d if c['id'] == '$C2'][0]")
expect_exit "HQ resolves it: take B" 0 hq resolve "$C2" --take B --reason "the later figure"
sync_all n m
check "n holds side B" test "$(amount_on n "$G1")" = "$B_VAL"
check "m holds side B" test "$(amount_on m "$G1")" = "$B_VAL"
D n grant set "$G1" --amount 3.00 >/dev/null
D m grant set "$G1" --amount 4.00 >/dev/null
sync_all n m
C3=$(open_id concurrent_edit "$G1")
expect_exit "--set to a bad amount is refused" 3 hq resolve "$C3" --set amount=12,5 --reason "x"
expect_exit "--set of an unknown column is refused" 3 hq resolve "$C3" --set colour=red --reason "x"
expect_exit "HQ resolves it: set its own amount" 0 hq resolve "$C3" --set amount=7777.00 --reason "HQ's figure"
sync_all n m
check "n holds HQ's amount" test "$(amount_on n "$G1")" = "7777.00"
check "m holds HQ's amount" test "$(amount_on m "$G1")" = "7777.00"

# ---- a decision whose answer does not carry HQ's signature is never applied ----------------
D n grant set "$G1" --amount 5.00 >/dev/null
D m grant set "$G1" --amount 6.00 >/dev/null
sync_all n m
CF=$(open_id concurrent_edit "$G1")
expect_exit "HQ resolves it: set 6543.21" 0 hq resolve "$CF" --set amount=6543.21 --reason "signed figure"
BEFORE=$(amount_on n "$G1")
proxy_mode flip-once
expect_exit "n's sync with one byte of HQ's answer changed on the way is refused (5)" 5 D n sync --timeout 20
check "n did not apply the decision" test "$(amount_on n "$G1")" = "$BEFORE"
expect_exit "n lists its records" 0 D n conflicts --all --json
check "n did not take the forged answer's record either" test "$(json "$OUT" "[c.get('decision') for c in d if c['id'] == '$CF']")" != '["set"]'
expect_exit "n's next sync, untouched, takes it" 0 D n sync --timeout 20
check "n now holds HQ's decision" test "$(amount_on n "$G1")" = "6543.21"

# ---- parallel: the same value; different columns -----------------------------------------
D n grant set "$G1" --amount 8000.00 >/dev/null
D m grant set "$G1" --amount 8000.00 >/dev/null
sync_all n m
check "the same value twice is a parallel record, closed at once" test "$(count same_value closed)" -ge 1
check "no value record for the same value" test "$(count concurrent_edit open)" = 0
D n grant set "$G1" --end 2026-12-31 >/dev/null
D m grant set "$G1" --amount 8100.00 >/dev/null
sync_all n m
check "different columns of one grant: a parallel record, closed" test "$(count other_columns closed)" -ge 1
check "parallel records are never open" test "$(count other_columns open)$(count same_value open)" = 00

# ---- theme sets: concurrent choices, more than two themes --------------------------------
D n theme set 2027 FOE WGR >/dev/null
D m theme set 2027 HRD ACC >/dev/null
sync_all n m
CT=$(open_id theme_set "2027")
C4=$(open_id themes_over_two "2027")
check "a value record for the concurrent theme sets" test -n "$CT"
check "a rule record for four themes in 2027" test -n "$C4"
expect_exit "--set of a third theme is refused (3)" 3 hq resolve "$C4" --set themes=FOE,WGR,HRD --reason "x"
expect_exit "a rule record has no sides to take" 3 hq resolve "$C4" --take A --reason "x"
expect_exit "HQ resolves the theme set: set FOE,HRD" 0 hq resolve "$CT" --set themes=FOE,HRD --reason "the post's plan for 2027"
check "the over-two rule closed by itself" test "$(hq_records "[c['decision'] for c in d if c['id'] == '$C4'][0]")" = auto
sync_all n m
for h in n m; do
    expect_exit "$h lists the 2027 themes" 0 D "$h" theme list 2027
    check "$h has FOE and HRD for 2027, nothing else" test "$(grep -c -E 'FOE|HRD|WGR|ACC' "$OUT")" = 2
done

# ---- over allocation: closes by itself when HQ raises it ---------------------------------
expect_exit "HQ allocates 1000.00 to NAI 2026" 0 hq allocate NAI 2026 1000.00
CA=$(open_id over_allocation "allocation 2026")
check "committed 5000.00 above 1000.00: a rule record" test -n "$CA"
expect_exit "HQ raises the allocation" 0 hq allocate NAI 2026 90000.00
check "the over-allocation record closed by itself" test "$(hq_records "[c['decision'] for c in d if c['id'] == '$CA'][0]")" = auto
check "with the reason why" test -n "$(hq_records "[c['reason'] for c in d if c['id'] == '$CA'][0]")"

# ---- status moved backwards; accept ------------------------------------------------------
D m grant set "$G2" --status cancelled >/dev/null
sleep 0.01
D n grant set "$G2" --status disbursed >/dev/null
sync_all n m
D m grant set "$G2" --status cancelled >/dev/null 2>&1 # m now sees disbursed: refused locally
check "n and m converge on G2's status" test "$(D n grant list --json | json /dev/stdin "[g['status'] for g in d if g['code'] == '$G2'][0]")" = "$(D m grant list --json | json /dev/stdin "[g['status'] for g in d if g['code'] == '$G2'][0]")"
CS=$(open_id concurrent_edit "$G2")
check "the concurrent status change is a value record" test -n "$CS"
expect_exit "HQ accepts the merged state" 0 hq resolve "$CS" --accept --reason "as merged"

# ---- a live grant on a removed partner ---------------------------------------------------
P2=$(D n partner add --name "Short Lived Org")
sync_all n m
G3=$(D m grant add --partner "$P2" --theme FOE --year 2026 --amount 50)
D n partner remove "$P2" >/dev/null
sync_all n m
CP=$(open_id removed_partner "$G3")
check "a live grant on a removed partner: a rule record" test -n "$CP"
expect_exit "HQ sets the grant removed" 0 hq resolve "$CP" --set removed=yes --reason "partner closed"
check "no removed-partner record open any more" test "$(count removed_partner open)" = 0

# ---- a laptop years ahead ----------------------------------------------------------------
at "+5y" "$MRF" --home "$T/m" grant set "$G1" --amount 9000.00 >/dev/null 2>&1
at "+5y" "$MRF" --home "$T/m" sync --timeout 20 >/dev/null 2>&1
CC=$(open_id clock_ahead)
check "a clock five years ahead: a rule record naming the device" test -n "$CC"
expect_exit "HQ accepts it" 0 hq resolve "$CC" --accept --reason "laptop date fixed"

# ---- an edit made before a pull of the same sync -----------------------------------------
# n leaves a change set frozen (HQ unreachable), then edits offline; m edits the same column
# and syncs; n's next sync sends the frozen change set first, and its answer brings m's write
# before n's own edit goes out. n's edit must still reach HQ (a value record keeps it), and
# n's theme choice, made before it had seen m's, must count as concurrent with m's.
D n grant set "$G2" --status committed >/dev/null 2>&1
sync_all n m
D n partner edit "$P" --risk high >/dev/null
proxy_mode down
D n sync --timeout 2 >/dev/null 2>&1
proxy_mode pass
D n grant set "$G1" --amount 200.00 >/dev/null
D n theme set 2028 FOE >/dev/null
sleep 0.01
D m grant set "$G1" --amount 300.00 >/dev/null
D m theme set 2028 HRD >/dev/null
D m sync --timeout 20 >/dev/null 2>&1
D n sync --timeout 20 >/dev/null 2>&1
CL=$(open_id concurrent_edit "$G1")
check "n's edit, sent after a pull in the same sync, is kept in a value record" test -n "$CL"
check "... with n's amount as one side" test "$(hq_records "[sorted([c['a']['value'], c['b']['value']]) for c in d if c['id'] == '$CL'][0]")" = '["200.00", "300.00"]'
check "n's 2028 themes, chosen before it had seen m's, are a theme_set record" test -n "$(open_id theme_set 2028)"
sync_all n m

# ---- history, isolation, audit -----------------------------------------------------------
expect_exit "history of G1" 0 hq history grant "$G1" --post NAI
check "history lists amount writes by devices and HQ" grep -q 'HQ' "$OUT"
expect_exit "history --json" 0 hq history grant "$G1" --post NAI --json
check "history never shows a partner's name" lacks "Nairobi Legal Aid Trust" "$OUT"
expect_exit "history of an unknown grant" 3 hq history grant G-ZZZZZZ --post NAI
expect_exit "history without --post" 2 hq history grant "$G1"
sync_all g
expect_exit "GVA lists its conflicts" 0 D g conflicts --all --json
check "GVA sees none of NAI's records" test "$(json "$OUT" 'len(d)')" = 0
expect_exit "conflicts --post GVA is empty" 0 hq conflicts --post GVA --all --json
check "HQ lists no GVA record" test "$(json "$OUT" 'len(d)')" = 0
expect_exit "audit verify holds after every decision" 0 hq audit verify
check "no identity in any record" lacks "Nairobi Legal Aid Trust" "$HQ_HOME/hq.db" "$T/serve.log"

hq_stop >/dev/null
finish

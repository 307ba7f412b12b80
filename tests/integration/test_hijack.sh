#!/usr/bin/env bash
# Four ways one device could take over part of the merge, reproduced with the real programs: a
# real `mrf-hq serve` behind the recording proxy (tests/integration/hqproxy.py) and real `mrf`
# devices of posts NAI and GVA in temporary homes. Nothing is forged on the wire: a hostile or
# broken device only edits its own post.db with sqlite3 or runs with a wrong wall clock
# (faketime), then syncs as usual.
#   - the cursor: a NAI device's pull cursor moves by the same amount for the same NAI writes,
#     however much GVA writes in between, and it counts NAI's own oplog entries only;
#   - squatting and probing: a NAI device writing GVA's derived theme row id first does not
#     keep GVA from choosing that theme (it syncs, nothing quarantined, the row is GVA's), and
#     NAI gets the same answer (HTTP status, exit code, quarantine) whether or not GVA has the
#     row it names; GVA's rows are unchanged by it;
#   - a wall clock years ahead (+1 year, +5000 years, clocks >= 2^63): the device's edit is
#     kept but does not own the column: another device's later edit wins everywhere, the other
#     device can still edit, the far-ahead device can still edit, all replicas converge (rows
#     and clocks), HQ logs the edit with a clock at most a day ahead and records the device in
#     clock_skew, and the far-ahead device's sync and status say its clock is wrong;
#   - a forged clock (a device's meta.clock set to 0x7fffffffffffff00, then to 2^63-2 so that
#     its next op carries 2^63-1, and another device's to 0xffffffffffffff00): `mrf-hq
#     allocate` still applies for every post, again and again (and never says "allocated" when
#     it did not), and the posts' devices get it.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || {
    echo "sqlite3 (the CLI) is needed; scripts/install-deps.sh installs it" >&2
    exit 1
}
command -v faketime >/dev/null || {
    echo "faketime is needed to run a device with a wrong wall clock" >&2
    exit 1
}

DF() { # DF OFFSET HOME ARGS... : the same, with the device's wall clock moved by OFFSET
    local off=$1 h=$2
    shift 2
    at "$off" "$MRF" --home "$T/$h" "$@"
}
devid() { dsql "$1" "SELECT hex(device_id) FROM meta"; }
cursor() { dsql "$1" "SELECT hq_cursor FROM meta"; }
# themeid POST YEAR THEME : the derived theme row id (hex), as row_id_derive computes it
themeid() {
    python3 -c 'import hashlib, sys
print(hashlib.blake2b(("mrf-row|themes|%s|%s|%s" % tuple(sys.argv[1:])).encode(), digest_size=16).hexdigest().upper())' "$@"
}
# quarantined HOME : the device's quarantined change count (mrf status --json), or "error"
quarantined() {
    D "$1" status --json >"$T/q.json" 2>/dev/null && json "$T/q.json" 'd.get("quarantined", 0)' ||
        echo error
}
# amount_on HOME CODE : the grant's amount as `mrf grant list --json` shows it
amount_on() {
    D "$1" grant list --json >"$T/gl.json" 2>/dev/null &&
        json "$T/gl.json" "[g['amount'] for g in d if g['code'] == '$2']"
}
hq_amount() { hq_sql "SELECT amount_cents FROM grants WHERE post = 'NAI' AND code = '$1'"; }
# requests : how many requests the proxy has seen (it numbers bodies and statuses from 1)
requests() { find "$PROXY_DIR" -name 'body-*.bin' | wc -l; }
# statuses_after N : the HTTP statuses of requests N+1.. (space separated)
statuses_after() {
    local i=$(($1 + 1)) s=""
    while [ -e "$PROXY_DIR/status-$i" ]; do
        s="$s $(cat "$PROXY_DIR/status-$i")"
        i=$((i + 1))
    done
    echo "${s# }"
}
# inject HOME IDHEX YEAR THEME REMOVED : puts a whole theme row (year, theme, removed) with id
# IDHEX into the device's outbox with the device's next clocks, as a modified program would
inject() {
    dsql "$1" "INSERT INTO outbox(tbl, id, col, value, clock, changeset) VALUES
        (0, X'$2', 0, $3, (SELECT clock + 1 FROM meta), NULL),
        (0, X'$2', 1, '$4', (SELECT clock + 2 FROM meta), NULL),
        (0, X'$2', 2, $5, (SELECT clock + 3 FROM meta), NULL);
        UPDATE meta SET clock = clock + 3;"
}

start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
pass "HQ starts behind the proxy"
expect_exit "post NAI added" 0 hq post add NAI --kind bilateral
expect_exit "post GVA added" 0 hq post add GVA --kind multilateral
expect_exit "NAI device n set up" 0 D n init --token "$(token NAI)"
expect_exit "GVA device g set up" 0 D g init --token "$(token GVA)"

# =========================================================================================
# 4. the cursor counts only the post's own writes
# =========================================================================================
D n theme set 2026 FOE WGR >/dev/null
PN=$(D n partner add --name "Nairobi Cursor Org")
D g theme set 2027 FOE >/dev/null
PG=$(D g partner add --name "Geneva Cursor Org")
check "both devices recorded a partner" test -n "$PN" -a -n "$PG"
expect_exit "g syncs its set-up" 0 D g sync --timeout 20
expect_exit "n syncs its set-up" 0 D n sync --timeout 20
c0=$(cursor n)
for i in $(seq 1 20); do D g grant add --partner "$PG" --theme FOE --year 2027 --amount "$i" >/dev/null; done
expect_exit "GVA records 20 grants and syncs" 0 D g sync --timeout 20
D n grant add --partner "$PN" --theme FOE --year 2026 --amount 11 >/dev/null
expect_exit "NAI records 1 grant and syncs" 0 D n sync --timeout 20
c1=$(cursor n)
for i in $(seq 1 5); do D g grant add --partner "$PG" --theme FOE --year 2027 --amount "$i.5" >/dev/null; done
expect_exit "GVA records 5 grants and syncs" 0 D g sync --timeout 20
D n grant add --partner "$PN" --theme FOE --year 2026 --amount 12 >/dev/null
expect_exit "NAI records 1 grant again and syncs" 0 D n sync --timeout 20
c2=$(cursor n)
nai_ops=$(hq_sql "SELECT count(*) FROM oplog WHERE post = 'NAI'")
check "NAI's cursor moved forward ($c0, $c1, $c2)" delta_is "$c0" "$c1" 1 1000000
check "NAI's cursor moves the same for the same NAI writes, whatever GVA wrote (by $((c1 - c0)), then $((c2 - c1)))" \
    test "$((c1 - c0))" = "$((c2 - c1))"
check "NAI's cursor ($c2) is the number of NAI's oplog entries at HQ ($nai_ops)" test "$c2" = "$nai_ops"

# =========================================================================================
# 3. one post squats or probes another's rows
# =========================================================================================
GVA_HRD=$(themeid GVA 2026 HRD)
GVA_FOE27=$(themeid GVA 2027 FOE)
GVA_ACC31=$(themeid GVA 2031 ACC)
check "the derived theme ids are the programs' own (NAI 2026 FOE on n, GVA 2027 FOE at HQ)" \
    test "$(dsql n "SELECT count(*) FROM themes WHERE id = X'$(themeid NAI 2026 FOE)'")$(hq_sql "SELECT post FROM themes WHERE id = X'$GVA_FOE27'")" = 1GVA
# Identical copies of the NAI device (same id, cursor, clock, nothing pending): one squats,
# the others probe, so that the probes differ only in the row they name.
for c in nsq np1 np2 np3; do cp -a "$T/n" "$T/$c"; done
inject nsq "$GVA_HRD" 2026 HRD 0
run D nsq sync --timeout 20 # whatever HQ answers the squatter, GVA must not suffer from it
expect_exit "GVA chooses its themes after NAI wrote GVA's theme id" 0 D g theme set 2026 HRD FOE
expect_exit "... and syncs" 0 D g sync --timeout 20
run D g status --json
cp "$OUT" "$T/g-status.json"
check_msg "... with nothing quarantined" \
    "$(json "$T/g-status.json" '"quarantined %s: %s" % (d.get("quarantined"), d.get("quarantine_reason"))')" \
    json_ok "$T/g-status.json" 'd.get("quarantined", 0) == 0 and not d.get("quarantine_reason")'
check "... nothing left pending" json_ok "$T/g-status.json" 'd["pending"] == 0'
gva_hrd_at_hq() { hq_sql "SELECT count(*) FROM themes WHERE post = 'GVA' AND theme = 'HRD' AND removed = 0"; }
check_msg "HQ has GVA's HRD theme row, under GVA" \
    "HQ has that id under post '$(hq_sql "SELECT group_concat(post) FROM themes WHERE id = X'$GVA_HRD'")'" \
    test "$(gva_hrd_at_hq)" = 1
gva_themes() { hq_sql "SELECT hex(id), post, year, theme, removed FROM themes WHERE post = 'GVA' ORDER BY id"; }
gva_themes >"$T/gva-themes-before"
# three probes, each removing a theme row of GVA's derivation: 2026 HRD (GVA's now), 2027
# FOE (GVA's from the start), 2031 ACC (never used by anyone)
probe() { # probe HOME IDHEX YEAR THEME : prints "statuses | exit | quarantined"
    local n0 rc
    inject "$1" "$2" "$3" "$4" 1
    n0=$(requests)
    D "$1" sync --timeout 20 >/dev/null 2>&1
    rc=$?
    echo "HTTP $(statuses_after "$n0") | exit $rc | quarantined $(quarantined "$1")"
}
a1=$(probe np1 "$GVA_HRD" 2026 HRD)
a2=$(probe np2 "$GVA_FOE27" 2027 FOE)
a3=$(probe np3 "$GVA_ACC31" 2031 ACC)
answered() { [[ $1 == "HTTP "[0-9]* ]]; }
all_answered() { answered "$a1" && answered "$a2" && answered "$a3"; }
check_msg "each probe reached HQ" "$a1 / $a2 / $a3" all_answered
check_msg "the same HTTP status whether GVA has the row or not" \
    "GVA 2026 HRD: $a1; GVA 2027 FOE: $a2; unused 2031 ACC: $a3" \
    test "$(cut -d'|' -f1 <<<"$a1")" = "$(cut -d'|' -f1 <<<"$a2")" -a \
    "$(cut -d'|' -f1 <<<"$a2")" = "$(cut -d'|' -f1 <<<"$a3")"
check_msg "the same mrf sync exit code whether GVA has the row or not" \
    "GVA 2026 HRD: $a1; GVA 2027 FOE: $a2; unused 2031 ACC: $a3" \
    test "$(cut -d'|' -f2 <<<"$a1")" = "$(cut -d'|' -f2 <<<"$a2")" -a \
    "$(cut -d'|' -f2 <<<"$a2")" = "$(cut -d'|' -f2 <<<"$a3")"
check_msg "the same quarantine on NAI whether GVA has the row or not" \
    "GVA 2026 HRD: $a1; GVA 2027 FOE: $a2; unused 2031 ACC: $a3" \
    test "$(cut -d'|' -f3 <<<"$a1")" = "$(cut -d'|' -f3 <<<"$a2")" -a \
    "$(cut -d'|' -f3 <<<"$a2")" = "$(cut -d'|' -f3 <<<"$a3")"
gva_themes >"$T/gva-themes-after"
check_msg "GVA's theme rows at HQ are unchanged by NAI's probes" \
    "$(diff "$T/gva-themes-before" "$T/gva-themes-after" | tr '\n' ' ')" \
    same_file "$T/gva-themes-before" "$T/gva-themes-after"
check "GVA's HRD theme is still chosen at HQ" test "$(gva_hrd_at_hq)" = 1
expect_exit "GVA's device syncs after the probes" 0 D g sync --timeout 20
run D g theme list 2026 --json
check "... and still has HRD for 2026" grep -q HRD "$OUT"

# =========================================================================================
# 1. a wrong wall clock does not own a column
# =========================================================================================
expect_exit "NAI device a set up" 0 D a init --token "$(token NAI)"
expect_exit "NAI device b set up" 0 D b init --token "$(token NAI)"
expect_exit "a enrolls" 0 D a sync --timeout 20
PA=$(D a partner add --name "Clock Skew Org")
GY=$(D a grant add --partner "$PA" --theme FOE --year 2026 --amount 100)
GF=$(D a grant add --partner "$PA" --theme FOE --year 2026 --amount 200)
check "a recorded two grants" test -n "$GY" -a -n "$GF"
expect_exit "a syncs them" 0 D a sync --timeout 20
expect_exit "b enrolls and pulls them" 0 D b sync --timeout 20
A_ID=$(devid a)
now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }
# logged / logged_sanely CODE CENTS : HQ's oplog holds CENTS for CODE's amount written by
# device a / and with a clock (read as unsigned) at most a day ahead of the real time
a_clocks() { # a_clocks CODE CENTS : the clocks of those oplog entries
    hq_sql "SELECT clock FROM oplog WHERE tbl = 2 AND col = 3 AND value = $2 AND device = X'$A_ID'
        AND id = (SELECT id FROM grants WHERE post = 'NAI' AND code = '$1')"
}
logged() { test -n "$(a_clocks "$1" "$2")"; }
logged_sanely() {
    a_clocks "$1" "$2" | python3 -c 'import sys
limit = int(sys.argv[1]) + 86400000
sys.exit(0 if any(((int(c) & 0xffffffffffffffff) >> 16) <= limit for c in sys.stdin.read().split()) else 1)' \
            "$(now_ms)"
}
skew_logged() { test "$(hq_sql "SELECT count(*) FROM clock_skew WHERE device = X'$A_ID'")" -ge 1; }

# skewed OFFSET CODE A_AMOUNT B_AMOUNT : a, OFFSET ahead, edits CODE's amount and syncs; b
# pulls, edits the same amount later and syncs; a syncs again
skewed() {
    local off=$1 code=$2 va=$3 vb=$4
    expect_exit "[$off] a (wall clock $off) sets $code's amount" 0 DF "$off" a grant set "$code" --amount "$va"
    expect_exit "[$off] ... and syncs" 0 DF "$off" a sync --timeout 20
    expect_exit "[$off] b pulls" 0 D b sync --timeout 20
    expect_exit "[$off] b can still set $code's amount afterwards" 0 D b grant set "$code" --amount "$vb"
    expect_exit "[$off] ... and syncs" 0 D b sync --timeout 20
    expect_exit "[$off] a syncs again (still $off)" 0 DF "$off" a sync --timeout 20
    check "[$off] HQ's amount for $code is b's later one" test "$(hq_amount "$code")" = "${vb}00"
    check "[$off] a shows b's amount" test "$(amount_on a "$code")" = "[\"$vb.00\"]"
    check "[$off] b shows its own amount" test "$(amount_on b "$code")" = "[\"$vb.00\"]"
    check "[$off] a's edit is kept in HQ's oplog, written by a" logged "$code" "${va}00"
    check "[$off] ... with a clock at most a day ahead" \
        logged_sanely "$code" "${va}00"
    check "[$off] HQ recorded a's skewed clock (clock_skew)" skew_logged
}
skewed +365d "$GY" 1111 2222
skewed +1825000d "$GF" 3333 4444
expect_exit "a (still 5000 years ahead) can edit another column of the grant" 0 \
    DF +1825000d a grant set "$GF" --note "edited from the future"
expect_exit "... and syncs" 0 DF +1825000d a sync --timeout 20
expect_exit "b pulls" 0 D b sync --timeout 20
expect_exit "a pulls (still 5000 years ahead)" 0 DF +1825000d a sync --timeout 20
check "HQ has a's note and keeps b's amount" test "$(hq_sql "SELECT note IS NOT NULL FROM grants WHERE post = 'NAI' AND code = '$GF'")$(hq_amount "$GF")" = 1444400
GRANTS_SQL="SELECT hex(id), post, code, hex(partner), theme, year, amount_cents, currency,
    status, start_date, end_date, hex(note), removed FROM grants WHERE post = 'NAI' ORDER BY id"
sqlite3 -readonly "$T/a/post.db" "$GRANTS_SQL" >"$T/grants-a"
sqlite3 -readonly "$T/b/post.db" "$GRANTS_SQL" >"$T/grants-b"
hq_sql "$GRANTS_SQL" >"$T/grants-hq"
check_msg "a, b and HQ hold the same grants for NAI" \
    "$(diff "$T/grants-hq" "$T/grants-a" | head -n 4 | tr '\n' ' ') / $(diff "$T/grants-hq" "$T/grants-b" | head -n 4 | tr '\n' ' ')" \
    sh -c "test -s '$T/grants-hq' && cmp -s '$T/grants-hq' '$T/grants-a' && cmp -s '$T/grants-hq' '$T/grants-b'"
CLOCKS_SQL="SELECT tbl, hex(id), col, clock, hex(device) FROM clocks WHERE post = 'NAI'
    AND tbl = 2 ORDER BY tbl, id, col"
sqlite3 -readonly "$T/a/post.db" "$CLOCKS_SQL" >"$T/clocks-a"
sqlite3 -readonly "$T/b/post.db" "$CLOCKS_SQL" >"$T/clocks-b"
hq_sql "$CLOCKS_SQL" >"$T/clocks-hq"
check_msg "... and the same clocks for every grant column (a took HQ's clocks for its writes)" \
    "$(diff "$T/clocks-hq" "$T/clocks-a" | head -n 4 | tr '\n' ' ')" \
    sh -c "test -s '$T/clocks-hq' && cmp -s '$T/clocks-hq' '$T/clocks-a' && cmp -s '$T/clocks-hq' '$T/clocks-b'"
# the person at a is told, and b is not
run DF +1825000d a sync --timeout 20
check "a's sync says its clock is ahead of HQ's and what to do" \
    grep -q "clock is .* days ahead of HQ's; set its date and time" "$ERR"
run DF +1825000d a status --json
check "a's status shows how far ahead its clock was" json_ok "$OUT" 'd["clock_ahead_s"] > 1000 * 365 * 86400'
run D b status --json
check "b's status shows its clock in step with HQ's" json_ok "$OUT" 'abs(d["clock_ahead_s"]) < 86400'
run D b status
check "... in words" grep -q "in step with HQ's" "$OUT"

# =========================================================================================
# 2. a forged clock does not freeze allocations
# =========================================================================================
expect_exit "NAI device x set up" 0 D x init --token "$(token NAI)"
expect_exit "GVA device y set up" 0 D y init --token "$(token GVA)"
expect_exit "x enrolls" 0 D x sync --timeout 20
expect_exit "y enrolls" 0 D y sync --timeout 20
PX=$(D x partner add --name "Forged Clock Org")
GX=$(D x grant add --partner "$PX" --theme FOE --year 2026 --amount 300)
expect_exit "x syncs a grant with an honest clock" 0 D x sync --timeout 20
# allocates POST AMOUNT CENTS : mrf-hq allocate POST 2026 AMOUNT applies, and never says so
# when it did not
allocates() {
    local rc got
    run hq allocate "$1" 2026 "$2"
    rc=$LAST_RC
    got=$(hq_sql "SELECT amount_cents FROM allocations WHERE post = '$1' AND year = 2026")
    check_msg "mrf-hq allocate $1 2026 $2 applies" "exit $rc, HQ's allocation is ${got:-none} cents, want $3" \
        test "$rc" = 0 -a "$got" = "$3"
    check_msg "... an exit 0 means it applied" "it printed '$(head -c 60 "$OUT")' and exit 0, HQ still has $got cents" \
        test "$rc" != 0 -o "$got" = "$3"
}
allocates GVA 500 50000
allocates NAI 500 50000

dsql x "UPDATE meta SET clock = 9223372036854775552" # 0x7fffffffffffff00
D x grant add --partner "$PX" --theme FOE --year 2026 --amount 301 >/dev/null
run D x sync --timeout 20 # HQ may take or refuse it; allocations must still work
allocates GVA 1000 100000
allocates NAI 1000 100000
expect_exit "a GVA device syncs" 0 D g sync --timeout 20
run D g allocation 2026 --json
check "... and shows HQ's new allocation, 1000.00" json_ok "$OUT" 'd["allocation"] == "1000.00"'

dsql x "UPDATE meta SET clock = 9223372036854775806" # 0x7ffffffffffffffe: next op 2^63-1
D x grant set "$GX" --amount 302 >/dev/null
run D x sync --timeout 20
allocates GVA 1500 150000
allocates NAI 1500 150000
# (the first allocation after it may still win with clock 2^63; the next ones are the test)
allocates GVA 1750 175000
allocates NAI 1750 175000
expect_exit "a GVA device syncs" 0 D g sync --timeout 20
run D g allocation 2026 --json
check "... and shows HQ's new allocation, 1750.00" json_ok "$OUT" 'd["allocation"] == "1750.00"'

dsql y "UPDATE meta SET clock = -256" # 0xffffffffffffff00
D y partner add --name "Forged Clock Org 2" >/dev/null
run D y sync --timeout 20
allocates GVA 2000 200000
allocates NAI 2000 200000
expect_exit "a GVA device syncs" 0 D g sync --timeout 20
run D g allocation 2026 --json
check "... and shows HQ's latest allocation, 2000.00" json_ok "$OUT" 'd["allocation"] == "2000.00"'
expect_exit "a NAI device syncs" 0 D b sync --timeout 20
run D b allocation 2026 --json
check "... and shows HQ's latest allocation, 2000.00" json_ok "$OUT" 'd["allocation"] == "2000.00"'
finish

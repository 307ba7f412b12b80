#!/usr/bin/env bash
# HQ's audit end to end: a real `mrf-hq serve` behind the recording proxy, two real devices of
# post NAI syncing several change sets (themes, partners, grants), `mrf-hq allocate`, then
#   - `audit verify` holds (exit 0) and `audit list` shows every change set and the allocation;
#   - `reveal partner` with the right escrow passphrase prints the partner's name, with a wrong
#     one exits 6 and prints nothing and records nothing; `reveal post` prints the country;
#   - each reveal is in `audit list` with its purpose; the partner's name and the country are
#     never in hq.db, in the server's log, or in `audit list`;
#   - one byte of a stored envelope changed (trigger dropped, blob updated, as an attacker with
#     the file would): verify exits 1 naming that entry; the same for one byte of a chain hash.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || {
    echo "sqlite3 is needed to read HQ's store" >&2
    exit 1
}

NAME="Zeta Hidden Org"
COUNTRY="Narnia Distinctland"
ESCROW=$HQ_HOME/escrow-OFFLINE.key

start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
pass "HQ starts behind the proxy"
expect_exit "post with a sealed country" 0 hq post add NAI --kind bilateral --country "$COUNTRY"
T1=$(token NAI)
T2=$(token NAI)
expect_exit "device 1 set up" 0 D d1 init --token "$T1"
expect_exit "device 2 set up" 0 D d2 init --token "$T2"

# ---- several change sets from two devices, and an allocation -----------------------------
D d1 theme set 2026 FOE WGR >/dev/null
P1=$(D d1 partner add --name "$NAME" --phone "+254 700 999888" --note "met in person")
G1=$(D d1 grant add --partner "$P1" --theme FOE --year 2026 --amount 1000)
expect_exit "device 1 syncs its partner, grant and themes" 0 D d1 sync --timeout 20
P2=$(D d2 partner add --name "Other Partner Org")
expect_exit "device 2 syncs its partner" 0 D d2 sync --timeout 20
G2=$(D d2 grant add --partner "$P2" --theme WGR --year 2026 --amount 3000)
expect_exit "device 2 syncs its grant" 0 D d2 sync --timeout 20
D d1 grant set "$G1" --amount 1500 >/dev/null
expect_exit "device 1 syncs an edit" 0 D d1 sync --timeout 20
expect_exit "HQ allocates" 0 hq allocate NAI 2026 100000
expect_exit "device 2 pulls" 0 D d2 sync --timeout 20
check "codes were made" test -n "$P1" -a -n "$G1" -a -n "$G2"

# ---- verify and list ---------------------------------------------------------------------
expect_exit "audit verify holds" 0 hq audit verify
check "its report says so" has "audit: holds" "$OUT"
expect_exit "audit verify --json holds" 0 hq audit verify --json
check "the JSON report names no fault" json_ok "$OUT" \
    'd["holds"] is True and d["first_bad"] is None and d["changesets"] >= 4 and d["hq_entries"] == 1'
expect_exit "audit list --json" 0 hq audit list --json
check "it lists change sets from both devices and the allocation" json_ok "$OUT" \
    '(len({x["device"] for x in d if x["kind"] == "changeset"}) == 2 and
      [x["amount"] for x in d if x["kind"] == "allocate"] == ["100000.00"])'
CS=$(json "$OUT" '[x["seq"] for x in d if x["kind"] == "changeset"][1]')
HEAD=$(json "$OUT" 'd[-1]["seq"]')
expect_exit "audit list (text)" 0 hq audit list
check "it shows the allocation" grep -q 'allocate .*NAI .*2026: 100000.00 EUR (3 ops)' "$OUT"
expect_exit "audit list --kind allocate --post NAI" 0 hq audit list --kind allocate --post nai --json
check "filters hold" json_ok "$OUT" 'len(d) == 1 and d[0]["kind"] == "allocate"'

# ---- reveal ------------------------------------------------------------------------------
MRF_ESCROW_PASSPHRASE="not the escrow passphrase" expect_exit "a wrong escrow passphrase is exit 6" 6 \
    hq reveal --escrow-key "$ESCROW" --purpose "audit test, wrong passphrase" partner "$P1" --post NAI
check "and prints nothing" test ! -s "$OUT"
run hq audit list --kind reveal --json
check "and records nothing" json_ok "$OUT" 'd == []'
expect_exit "reveal without a purpose is a usage error" 2 \
    hq reveal --escrow-key "$ESCROW" partner "$P1" --post NAI
expect_exit "a purpose with a control character is refused" 3 \
    hq reveal --escrow-key "$ESCROW" --purpose "$(printf 'a\tb')" partner "$P1" --post NAI
expect_exit "reveal partner with the right passphrase" 0 \
    hq reveal --escrow-key "$ESCROW" --purpose "court order 2026/17" partner "$P1" --post NAI
check "prints the partner's name" has "$NAME" "$OUT"
check "and the phone" has "+254 700 999888" "$OUT"
expect_exit "reveal post --json" 0 \
    hq reveal --escrow-key "$ESCROW" --purpose "ministerial briefing" post NAI --json
check "prints the country" json_ok "$OUT" "d['country'] == '$COUNTRY' and d['audit_seq'] == $HEAD + 2"
expect_exit "audit list --kind reveal" 0 hq audit list --kind reveal --json
check "shows both reveals with their purposes, codes only" json_ok "$OUT" \
    "([(x['what'], x.get('code'), x['purpose']) for x in d] ==
      [('partner', '$P1', 'court order 2026/17'), ('post', None, 'ministerial briefing')])"
run hq audit list
cp "$OUT" "$T/list.txt"
check "the text list shows the purpose" has "court order 2026/17" "$T/list.txt"
expect_exit "audit verify still holds after the reveals" 0 hq audit verify
check_msg "the partner's name is not in hq.db (or its WAL)" "found in $HQ_HOME" \
    lacks "$NAME" "$HQ_HOME"
check_msg "the country is not in hq.db (or its WAL)" "found in $HQ_HOME" lacks "$COUNTRY" "$HQ_HOME"
check_msg "neither is in the server's log" "found in serve.log" \
    lacks_all "$T/serve.log" "$NAME" "$COUNTRY"
check_msg "neither is in audit list" "found in audit list" lacks_all "$T/list.txt" "$NAME" "$COUNTRY"

# ---- tampering ---------------------------------------------------------------------------
check "HQ stops" hq_stop
cp "$HQ_HOME/hq.db" "$T/hq.db.good"
# tamper TABLE COLUMN SEQ : flips one bit of one byte of a blob, as an attacker with the file
tamper() {
    python3 - "$HQ_HOME/hq.db" "$1" "$2" "$3" <<'PY'
import sqlite3, sys
db, table, col, seq = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = sqlite3.connect(db)
c.execute("DROP TRIGGER %s_no_update" % table)
b = bytearray(c.execute("SELECT %s FROM %s WHERE seq = ?" % (col, table), (seq,)).fetchone()[0])
b[len(b) // 2] ^= 0x10
c.execute("UPDATE %s SET %s = ? WHERE seq = ?" % (table, col), (bytes(b), seq))
c.commit()
PY
}
restore() {
    rm -f "$HQ_HOME/hq.db-wal" "$HQ_HOME/hq.db-shm"
    cp "$T/hq.db.good" "$HQ_HOME/hq.db"
}
check "one byte of stored envelope $CS changed" tamper audit_entries body "$CS"
expect_exit "audit verify fails (exit 1)" 1 hq audit verify
check "and names that entry" grep -q "audit entry $CS (changeset from post NAI, device [0-9a-f]\{16\}): the stored envelope does not match its hash" "$OUT"
expect_exit "audit verify --json fails too" 1 hq audit verify --json
check "naming the same entry" json_ok "$OUT" "d['holds'] is False and d['first_bad'] == $CS"
restore
expect_exit "the good copy verifies" 0 hq audit verify
check "one byte of chain hash $HEAD changed" tamper audit chain_hash "$HEAD"
expect_exit "audit verify fails (exit 1)" 1 hq audit verify
check "and names that entry" grep -q "audit entry $HEAD (.*): its chain hash" "$OUT"
restore
check "one amount changed in hq.db" sqlite3 "$HQ_HOME/hq.db" \
    "UPDATE grants SET amount_cents = 1 WHERE code = '$G2'"
expect_exit "audit verify fails (exit 1)" 1 hq audit verify
check "and names the table and row" grep -q "grants: post NAI, grants $G2 differs from the replay in column amount_cents" "$OUT"
restore

# ---- a damaged sealed field at HQ: the others are still revealed --------------------------
check "partner $P1's phone cut short in hq.db" sqlite3 "$HQ_HOME/hq.db" \
    "UPDATE partners SET phone = substr(phone, 1, length(phone) - 1) WHERE post = 'NAI' AND code = '$P1'"
expect_exit "reveal partner with one damaged field exits 0" 0 \
    hq reveal --escrow-key "$ESCROW" --purpose "damaged field test" partner "$P1" --post NAI
check "the name is revealed" has "$NAME" "$OUT"
check "the phone shows as damaged" grep -q '^  phone *damaged$' "$OUT"
check "one warning names the partner and the field" \
    test "$(grep -c "warning: partner $P1: its phone does not open" "$ERR")" = 1
expect_exit "reveal --json too" 0 \
    hq reveal --escrow-key "$ESCROW" --purpose "damaged field test" partner "$P1" --post NAI --json
check "shows phone: damaged and the name" json_ok "$OUT" \
    "d['fields']['phone'] == 'damaged' and d['fields']['name'] == '$NAME'"
run hq audit list --kind reveal --json
check "the audit entry lists the damaged field" json_ok "$OUT" "d[-1].get('damaged') == ['phone']"
check "every field damaged: the name cut short as well" sqlite3 "$HQ_HOME/hq.db" \
    "UPDATE partners SET name = substr(name, 1, 20), note = substr(note, 1, 20) WHERE post = 'NAI' AND code = '$P1'"
expect_exit "nothing opens: the reveal is refused (exit 3)" 3 \
    hq reveal --escrow-key "$ESCROW" --purpose "damaged field test" partner "$P1" --post NAI
check "saying so" grep -q "does not open with this escrow key (damaged, or sealed before this key); nothing was revealed" "$ERR"
check "and nothing is printed" test ! -s "$OUT"
finish

#!/usr/bin/env bash
# Sync by pouch end to end, with the real programs: `mrf pouch out`, `mrf-hq pouch in`,
# `mrf pouch in`, beside a real `mrf-hq serve` behind the recording proxy for the network road.
# Two devices of post NAI (A travels by pouch, B syncs over the network), one of GVA.
#   - round trip: A's first contact with HQ is a pouch (it enrolls A); its changes are at HQ,
#     the reply acknowledges them and brings B's changes; A converges with HQ;
#   - exactly once: a pouch imported twice; a pouch and a network sync of the same change sets
#     in either order; a reply applied twice, late (after a network pull) and out of order:
#     nothing applied twice at HQ (oplog, received), no cursor moves back on the device;
#   - refused whole with nothing applied on either side: a pouch and a reply cut short, added
#     to, with one byte changed; a reply for another device; a file of the wrong kind; a pouch
#     of a revoked device; files never written over;
#   - nothing of a partner's identity (or the post code, or the envelopes' magic) readable in
#     a pouch or a reply; both are exactly one of the bucket sizes;
#   - `mrf pouch out` with nothing pending is a pull, answered with what the device lacks;
#   - `mrf-hq audit verify` holds at the end.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || {
    echo "sqlite3 is needed to compare stores" >&2
    exit 1
}

dsql() { sqlite3 -readonly "$T/$1/post.db" "$2"; }
dpending() { dsql "$1" "SELECT count(*) FROM outbox"; }
dcursor() { dsql "$1" "SELECT hq_cursor FROM meta"; }
# HQ's counts that an ingest moves: change sets recorded, ops, audit links.
hq_counts() { hq_sql "SELECT (SELECT count(*) FROM received), (SELECT count(*) FROM oplog), (SELECT count(*) FROM audit_entries)"; }
# Everything a device holds that a sync changes.
dev_state() {
    sqlite3 -readonly "$T/$1/post.db" "SELECT hex(id), code, hex(name), removed FROM partners ORDER BY id;
        SELECT hex(id), code, amount_cents, status, removed FROM grants ORDER BY id;
        SELECT tbl, hex(id), col, clock, hex(device) FROM clocks ORDER BY tbl, id, col;
        SELECT hq_cursor, conflict_cursor, clock, audit_seq FROM meta;
        SELECT seq, hex(changeset) FROM outbox ORDER BY seq;"
}
# made NAME cmd... : runs cmd (which prints a new code) and checks it did; the code in $CODE.
made() {
    local name=$1
    shift
    run "$@"
    CODE=$(cat "$OUT")
    if [ "$LAST_RC" -eq 0 ] && [[ $CODE =~ ^(PX|G)-[0-9A-Z]{6}$ ]]; then pass "$name"; else
        fail "$name" "exit $LAST_RC"
        CODE=NONE-$RANDOM
    fi
}
bucket_size() { # the file's size is one of 64 KiB * 4^k, k = 0..5
    local s
    s=$(stat -c %s "$1")
    case $s in 65536 | 262144 | 1048576 | 4194304 | 16777216 | 67108864) return 0 ;; esac
    return 1
}
# flip FILE OFFSET OUT : OUT is FILE with one byte changed at OFFSET.
flip() {
    python3 - "$1" "$2" "$3" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[2])] ^= 0x01
open(sys.argv[3], "wb").write(bytes(b))
PY
}
STATE_SQL="
SELECT 'P', hex(id), code, hex(name), removed FROM partners WHERE post = '%P' ORDER BY id;
SELECT 'G', hex(id), code, amount_cents, status, removed FROM grants WHERE post = '%P' ORDER BY id;
SELECT 'C', c.tbl, hex(c.id), c.col, c.clock, hex(c.device) FROM clocks c WHERE c.id IN (
    SELECT id FROM themes WHERE post = '%P' UNION SELECT id FROM partners WHERE post = '%P'
    UNION SELECT id FROM grants WHERE post = '%P' UNION SELECT id FROM allocations WHERE post = '%P')
    ORDER BY c.tbl, c.id, c.col;"
converged() { # converged NAME HOME POST
    sqlite3 -readonly "$T/$2/post.db" "${STATE_SQL//%P/$3}" >"$T/state-dev"
    sqlite3 -readonly "$HQ_HOME/hq.db" "${STATE_SQL//%P/$3}" >"$T/state-hq"
    if [ -s "$T/state-hq" ] && same_file "$T/state-dev" "$T/state-hq"; then
        pass "$1"
    else
        fail "$1" "$(diff "$T/state-hq" "$T/state-dev" | head -n 6 | tr '\n' ' ')"
    fi
}
# hq_unchanged NAME : HQ's counts are as hq_mark recorded them.
hq_mark() { HQ_MARK=$(hq_counts); }
hq_unchanged() {
    local now
    now=$(hq_counts)
    if [ "$now" = "$HQ_MARK" ]; then pass "$1"; else fail "$1" "HQ moved from $HQ_MARK to $now"; fi
}
dev_mark() { dev_state "$1" >"$T/mark-$1"; }
dev_unchanged() { # dev_unchanged NAME HOME
    dev_state "$2" >"$T/now-$2"
    if same_file "$T/mark-$2" "$T/now-$2"; then pass "$1"; else
        fail "$1" "$(diff "$T/mark-$2" "$T/now-$2" | head -n 6 | tr '\n' ' ')"
    fi
}

# =========================================================================================
# HQ up, posts NAI and GVA; A and B of NAI, C of GVA
# =========================================================================================
start_sync_hq || {
    fail "HQ starts behind the proxy" "see $T/serve.log"
    finish
}
run hq post add NAI --kind bilateral
run hq post add GVA --kind multilateral
run D a init --token "$(token NAI)"
run D b init --token "$(token NAI)"
run D c init --token "$(token GVA)"
[ "$LAST_RC" -eq 0 ] || fail "devices set up" "mrf init failed"

run D b theme set 2026 HRD FOE
made "B records a partner" D b partner add --name "Bertha Netname" --phone "+254 700 111222"
PB=$CODE
made "B records a grant" D b grant add --partner "$PB" --theme HRD --year 2026 --amount 5000
GB=$CODE
expect_exit "B syncs over the network" 0 D b sync

run D a theme set 2026 HRD FOE
made "A records a partner" D a partner add --name "Amina Pouchname" --note "meets at the market on Tuesdays"
PA=$CODE
made "A records a grant" D a grant add --partner "$PA" --theme HRD --year 2026 --amount 12500
GA=$CODE
A_PENDING=$(dpending a)

# =========================================================================================
# Round trip: A's first contact with HQ is a pouch
# =========================================================================================
hq_mark
expect_exit "pouch out writes A's pouch" 0 D a pouch out "$T/p1.mrfp"
check "the pouch is one of the bucket sizes" bucket_size "$T/p1.mrfp"
check_msg "its change sets stay frozen on A until acknowledged" "pending $(dpending a)" \
    test "$(dpending a)" = "$A_PENDING"
check "A's outbox entries are frozen (cut into change sets)" \
    test "$(dsql a 'SELECT count(*) FROM outbox WHERE changeset IS NULL')" = 0
hq_unchanged "writing a pouch sends nothing to HQ"
expect_exit "pouch out refuses to write over a file" 3 D a pouch out "$T/p1.mrfp"
check "... and says so" has "never written over" "$ERR"

expect_exit "mrf-hq pouch in takes A's pouch" 0 hq pouch in "$T/p1.mrfp" --reply "$T/r1.mrfp"
check "the reply is one of the bucket sizes" bucket_size "$T/r1.mrfp"
check "HQ enrolled A through the pouch" test "$(hq_sql "SELECT count(*) FROM devices WHERE post = 'NAI'")" = 2
check "A's grant is at HQ" has "$GA" <(hq grant list --post NAI)
A_ID=$(dsql a "SELECT hex(device_id) FROM meta")
check "A's change set is recorded, accepted, and only it (no pull needed)" \
    test "$(hq_sql "SELECT count(*) FROM received WHERE hex(device) = '$A_ID' AND verdict = 'accepted'")" = 1
OPLOG1=$(hq_sql "SELECT count(*) FROM oplog")

hq_mark
expect_exit "the same pouch imported twice is answered again" 0 hq pouch in "$T/p1.mrfp" \
    --reply "$T/r1b.mrfp" --json
check "... as a replay" json_ok "$OUT" "d['replayed'] >= 1 and d['accepted'] == 0"
check "... applying nothing twice (oplog unchanged)" test "$(hq_sql "SELECT count(*) FROM oplog")" = "$OPLOG1"
expect_exit "mrf-hq pouch in refuses to write over a reply" 3 hq pouch in "$T/p1.mrfp" --reply "$T/r1.mrfp"
expect_exit "mrf-hq pouch in needs --reply" 2 hq pouch in "$T/p1.mrfp"

expect_exit "mrf pouch in applies HQ's reply" 0 D a pouch in "$T/r1.mrfp" --json
check "... acknowledging A's changes and bringing B's" json_ok "$OUT" \
    "d['acknowledged'] >= 3 and d['changesets'] == 1 and d['new'] >= 3 and d['more'] is False"
check "A's outbox is empty: every change set acknowledged" test "$(dpending a)" = 0
check "A pulled B's partner" has "$PB" <(D a partner list)
check "A pulled B's grant" has "$GB" <(D a grant list)
converged "A holds exactly HQ's state of NAI" a NAI
CUR1=$(dcursor a)
check "A's cursor moved" test "$CUR1" -gt 0
D a status --json >"$T/status.json"
check "A's status shows it enrolled" json_ok "$T/status.json" "d['enrolled'] is True and d['pending'] == 0"

dev_mark a
expect_exit "the same reply applied twice" 0 D a pouch in "$T/r1.mrfp" --json
check "... acknowledges nothing and brings nothing new" json_ok "$OUT" \
    "d['acknowledged'] == 0 and d['changesets'] == 0 and d['new'] == 0"
dev_unchanged "... changes nothing on A" a
expect_exit "the replay's reply applied" 0 D a pouch in "$T/r1b.mrfp"
dev_unchanged "... changes nothing on A either" a

# =========================================================================================
# A pouch and a network sync of the same change sets, in either order
# =========================================================================================
# pouch first at the device, network first at HQ
made "A records grant 2" D a grant add --partner "$PA" --theme FOE --year 2026 --amount 100
G2=$CODE
expect_exit "pouch 2 written" 0 D a pouch out "$T/p2.mrfp"
expect_exit "A syncs the same change set over the network" 0 D a sync
check "the network acknowledged it" test "$(dpending a)" = 0
OPLOG2=$(hq_sql "SELECT count(*) FROM oplog")
expect_exit "HQ then takes pouch 2" 0 hq pouch in "$T/p2.mrfp" --reply "$T/r2.mrfp" --json
check "... as a replay of what the network brought" json_ok "$OUT" "d['replayed'] == 1 and d['accepted'] == 0"
check "... applying nothing twice" test "$(hq_sql "SELECT count(*) FROM oplog")" = "$OPLOG2"
dev_mark a
expect_exit "A applies reply 2 after the network sync" 0 D a pouch in "$T/r2.mrfp"
dev_unchanged "... nothing moves on A" a

# HQ takes the pouch first, the device syncs over the network before the reply comes back
expect_exit "A edits grant 2" 0 D a grant set "$G2" --amount 200
expect_exit "pouch 3 written" 0 D a pouch out "$T/p3.mrfp"
expect_exit "HQ takes pouch 3" 0 hq pouch in "$T/p3.mrfp" --reply "$T/r3.mrfp" --json
check "... accepted" json_ok "$OUT" "d['accepted'] == 1"
OPLOG3=$(hq_sql "SELECT count(*) FROM oplog")
RECV3=$(hq_sql "SELECT count(*) FROM received WHERE verdict = 'accepted'")
expect_exit "A syncs the same frozen change set over the network" 0 D a sync
check "the network's answer acknowledged it" test "$(dpending a)" = 0
check "HQ applied nothing twice" test "$(hq_sql "SELECT count(*) FROM oplog")" = "$OPLOG3"
dev_mark a
expect_exit "A applies reply 3 after the network sync" 0 D a pouch in "$T/r3.mrfp"
dev_unchanged "... nothing moves on A" a
check "the amount HQ holds is A's last" has "200.00" <(hq grant list --post NAI)

# =========================================================================================
# Replies late and out of order, after a network pull
# =========================================================================================
made "B records grant 2" D b grant add --partner "$PB" --theme FOE --year 2026 --amount 777
GB2=$CODE
run D b sync
expect_exit "A pulls B's new grant over the network" 0 D a sync
check "A holds it" has "$GB2" <(D a grant list)
CUR_NET=$(dcursor a)
dev_mark a
expect_exit "the oldest reply applied after the network pull" 0 D a pouch in "$T/r1.mrfp"
dev_unchanged "... moves no cursor back and applies nothing" a
expect_exit "reply 2 applied after reply 3 (out of order)" 0 D a pouch in "$T/r2.mrfp"
dev_unchanged "... changes nothing" a
check "A's cursor is still the network's" test "$(dcursor a)" = "$CUR_NET"
converged "A still holds exactly HQ's state" a NAI

# =========================================================================================
# Cut short, added to, one byte changed: refused whole, nothing applied anywhere
# =========================================================================================
made "A records grant 4" D a grant add --partner "$PA" --theme HRD --year 2026 --amount 4242
G4=$CODE
expect_exit "pouch 4 written" 0 D a pouch out "$T/p4.mrfp"
head -c 40000 "$T/p4.mrfp" >"$T/p4-cut.mrfp"
cp "$T/p4.mrfp" "$T/p4-long.mrfp" && printf 'x' >>"$T/p4-long.mrfp"
flip "$T/p4.mrfp" 30000 "$T/p4-flip.mrfp"
flip "$T/p4.mrfp" 5 "$T/p4-kind.mrfp"
hq_mark
expect_exit "a pouch cut short is refused (exit 3)" 3 hq pouch in "$T/p4-cut.mrfp" --reply "$T/x1"
check "... naming the rule and what to do" has "cut short" "$ERR"
expect_exit "a pouch added to is refused (exit 3)" 3 hq pouch in "$T/p4-long.mrfp" --reply "$T/x2"
expect_exit "a pouch with one byte changed is refused (exit 5)" 5 hq pouch in "$T/p4-flip.mrfp" --reply "$T/x3"
check "... saying it was changed on the way" has "changed on the way" "$ERR"
expect_exit "a pouch with its kind changed is refused (exit 3)" 3 hq pouch in "$T/p4-kind.mrfp" --reply "$T/x4"
expect_exit "a reply given to mrf-hq is refused (exit 3)" 3 hq pouch in "$T/r3.mrfp" --reply "$T/x5"
check "... saying what it is" has "reply pouch" "$ERR"
hq_unchanged "HQ ingested nothing from the refused pouches"
check "no reply was written for them" test ! -e "$T/x1" -a ! -e "$T/x2" -a ! -e "$T/x3" -a ! -e "$T/x4" -a ! -e "$T/x5"
check "HQ does not hold the grant of pouch 4 yet" lacks "$G4" <(hq grant list --post NAI)

expect_exit "HQ takes pouch 4" 0 hq pouch in "$T/p4.mrfp" --reply "$T/r4.mrfp"
head -c 40000 "$T/r4.mrfp" >"$T/r4-cut.mrfp"
flip "$T/r4.mrfp" 20000 "$T/r4-flip.mrfp"
flip "$T/r4.mrfp" $(($(stat -c %s "$T/r4.mrfp") - 1)) "$T/r4-flip-end.mrfp"
dev_mark a
expect_exit "a reply cut short is refused (exit 3)" 3 D a pouch in "$T/r4-cut.mrfp"
check "... naming the rule and what to do" has "copy it again" "$ERR"
expect_exit "a reply with one byte changed is refused (exit 5)" 5 D a pouch in "$T/r4-flip.mrfp"
expect_exit "a reply with its last byte changed is refused (exit 5)" 5 D a pouch in "$T/r4-flip-end.mrfp"
expect_exit "a device's pouch given to mrf pouch in is refused (exit 3)" 3 D a pouch in "$T/p4.mrfp"
dev_unchanged "A applied nothing from the refused replies" a
check "pouch 4's change set is still frozen on A" test "$(dpending a)" -ge 1

dev_mark b
expect_exit "A's reply given to B is refused (exit 5)" 5 D b pouch in "$T/r4.mrfp"
check "... saying it is for another device" has "another device" "$ERR"
dev_unchanged "B applied nothing" b
dev_mark c
expect_exit "A's reply given to a device of another post is refused (exit 5)" 5 D c pouch in "$T/r4.mrfp"
dev_unchanged "C applied nothing" c

expect_exit "the whole reply 4 applies" 0 D a pouch in "$T/r4.mrfp"
check "pouch 4's change set is acknowledged" test "$(dpending a)" = 0
converged "A holds exactly HQ's state after reply 4" a NAI

# =========================================================================================
# Nothing pending: a pouch of pulls; what it brings back
# =========================================================================================
expect_exit "B edits its partner" 0 D b partner edit "$PB" --phone "+254 700 333444"
# more than one network page of changes (256 KiB of zstd): 120 partners with long sealed notes,
# whose ciphertext does not compress
NOTE=$(head -c 2900 /dev/zero | tr '\0' 'n')
bad=0
for i in $(seq 1 120); do D b partner add --name "Bulk $i" --note "$NOTE" >/dev/null 2>&1 || bad=$((bad + 1)); done
check_msg "B records 120 partners with long notes" "$bad failed" test "$bad" = 0
run D b sync
expect_exit "pouch out with nothing pending" 0 D a pouch out "$T/p5.mrfp" --json
check "... holds pulls only" json_ok "$OUT" "d['changesets'] == 0 and d['pulls'] >= 1 and d['changes'] == 0"
expect_exit "HQ answers it" 0 hq pouch in "$T/p5.mrfp" --reply "$T/r5.mrfp" --json
check "... with pages that chain over several pulls, taking nothing" json_ok "$OUT" \
    "d['pulls'] >= 2 and d['accepted'] == 0 and d['ops_out'] > 120 and d['more'] is False"
expect_exit "A applies the answer to its pulls" 0 D a pouch in "$T/r5.mrfp"
converged "A holds B's latest edit, pulled by pouch" a NAI

# =========================================================================================
# Identities: nothing readable in any pouch or reply
# =========================================================================================
leaks=0
for f in "$T"/p[0-9].mrfp "$T"/r[0-9]*.mrfp; do
    for v in Amina Pouchname Bertha Netname market "700 111222" "$PA" "$PB" "$GA"; do
        has "$v" "$f" && leaks=$((leaks + 1)) && echo "# $v readable in $(basename "$f")"
    done
    # The post code and the envelopes' magic as an envelope's clear header holds them (the
    # post NUL-padded to 16 bytes, "MRFE" and its version): three or four bytes alone turn up
    # by chance in megabytes of ciphertext.
    if python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(0 if (b"NAI" + bytes(13)) in d or b"MRFE\x01" in d else 1)' "$f"; then
        leaks=$((leaks + 1))
        echo "# an envelope header (MRFE, post NAI) readable in $(basename "$f")"
    fi
done
check_msg "no pouch or reply holds a readable name, note, code or the post" "$leaks leaks" test "$leaks" = 0
check "the outputs never named a partner" lacks_all "$LOG" "Amina" "Pouchname" "Bertha" "market"

# =========================================================================================
# A revoked device's pouch: refused whole at HQ
# =========================================================================================
run D c partner add --name "Carla Revoked"
expect_exit "C writes a pouch" 0 D c pouch out "$T/pc.mrfp"
expect_exit "C's first pouch enrolls it" 0 hq pouch in "$T/pc.mrfp" --reply "$T/rc.mrfp"
C_ID=$(hq_sql "SELECT substr(lower(hex(id)), 1, 16) FROM devices WHERE post = 'GVA'")
run hq device revoke "$C_ID"
run D c theme set 2026 HRD
expect_exit "C writes another pouch" 0 D c pouch out "$T/pc2.mrfp"
hq_mark
expect_exit "HQ refuses a revoked device's pouch (exit 5)" 5 hq pouch in "$T/pc2.mrfp" --reply "$T/rc2.mrfp"
check "... naming the reason" has "device_revoked" "$ERR"
hq_unchanged "... ingesting nothing"
check "... and writing no reply" test ! -e "$T/rc2.mrfp"

for c in "pouch out" "pouch in"; do
    # shellcheck disable=SC2086
    expect_exit "mrf $c --help exits 0" 0 D a $c --help
    check "mrf $c --help prints usage" grep -q "usage: mrf $c" "$OUT"
done
expect_exit "mrf-hq pouch in --help exits 0" 0 hq pouch in --help
expect_exit "mrf pouch without a subcommand exits 2" 2 D a pouch
expect_exit "mrf pouch out without a file exits 2" 2 D a pouch out

expect_exit "HQ's audit chain holds after all of it" 0 hq audit verify
finish

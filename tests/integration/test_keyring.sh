#!/usr/bin/env bash
# A post's key ring (issue 12, part 1) with the real programs: `mrf-hq serve` behind the
# recording proxy, laptops A, B, C, D of post NAI, X of post GVA and Y of post LOM.
#   - A records a partner; B of the same post shows it "sealed (another device)";
#   - the fingerprint B's `mrf status` shows is the one A's `mrf device list` shows for B; an
#     approval for an unknown fingerprint or for a device of another post is refused (exit 3);
#   - a forged grant (written into HQ's store, not signed by a holder) reaches B and is ignored;
#   - A approves B; after both sync, B reveals A's partner; HQ never can (no name in its store,
#     its logs or anything it printed) while `mrf-hq reveal` with the escrow key still works;
#   - a field B sealed while it waited for approval is sealed again to the post key on B's next
#     sync, and A then reveals it; a device of another post never gets NAI's key;
#   - a store from before the key ring (fields with two recipients) gets a post key on its first
#     sync and its fields sealed again to it (three recipients at HQ);
#   - HQ revokes B: A rotates on its next sync; a partner recorded afterwards opens on A, on C
#     (approved before) and on D (approved after), never on B, even with the field copied into
#     B's store; B still opens what it held before;
#   - a laptop with no link is approved, and reads its colleague's partner, all by pouch.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || {
    echo "sqlite3 is needed to look into the stores" >&2
    exit 1
}

fp_of() { D "$1" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])'; }
id_of() { dsql "$1" "SELECT lower(hex(device_id)) FROM meta"; }
# name_on HOME CODE : the name `partner show --reveal --json` gives on that laptop
name_on() {
    D "$1" partner show "$2" --reveal --json 2>>"$T/reveal-err" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])'
}
NAME_A="Keyring Alpha Canary Org"
NOTE_A="keyring alpha note canary"
NAME_B="Keyring Bravo Waiting Canary"
NAME_R="Keyring After Rotation Canary"
NAME_X="Keyring Xray Legacy Canary"

start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
pass "HQ starts behind the proxy"
run hq post add NAI --kind bilateral
run hq post add GVA --kind multilateral
run hq post add LOM --kind bilateral
for h in a b c; do expect_exit "laptop $h of NAI set up" 0 D $h init --token "$(token NAI)"; done
expect_exit "laptop x of GVA set up" 0 D x init --token "$(token GVA)"
expect_exit "laptop y of LOM set up" 0 D y init --token "$(token LOM)"

# ---- A records; B sees it sealed -------------------------------------------------------------
PA=$(D a partner add --name "$NAME_A" --phone "+254 700 123123" --note "$NOTE_A")
check "A records a partner" test -n "$PA"
expect_exit "A syncs" 0 D a sync --timeout 20
check "HQ keeps A's post key (epoch 1)" \
    test "$(hq_sql "SELECT count(*) FROM postkeys WHERE post = 'NAI' AND epoch = 1 AND
                    creator = X'$(id_of a)'")" = 1
check "A's partner is sealed to three recipients at HQ (device, escrow, post key)" \
    test "$(hq_sql "SELECT hex(substr(name, 2, 1)) FROM partners WHERE code = '$PA'")" = 03
expect_exit "B syncs" 0 D b sync --timeout 20
check "B's own first key lost the race and is dropped" \
    test "$(dsql b "SELECT count(*) FROM postkeys")" = 0
check "HQ kept A's key, not B's" test "$(hq_sql "SELECT count(*) FROM postkeys WHERE post = 'NAI'")" = 1
run D b status --json
check "B's status: waiting for approval" json_ok "$OUT" 'd["post_key"] == "waiting for approval"'
expect_exit "B: partner show --reveal" 0 D b partner show "$PA" --reveal --json
check "B shows A's partner sealed (another device)" json_ok "$OUT" \
    'd["name"] == "sealed (another device)" and d["note"] == "sealed (another device)"'
PB=$(D b partner add --name "$NAME_B")
check "B records a partner while it waits" test -n "$PB"
expect_exit "A syncs again (B now in HQ's list)" 0 D a sync --timeout 20

# ---- fingerprints, refusals, a forged grant -------------------------------------------------
FP_B=$(fp_of b)
check "B's status shows its fingerprint" test -n "$FP_B"
expect_exit "A: device list --json" 0 D a device list --json
check "A's list shows B with B's fingerprint, no post key" json_ok "$OUT" \
    '[x for x in d if x["fingerprint"] == "'"$FP_B"'"][0]["post_key"] is False'
check "A's list shows A holding the post key" json_ok "$OUT" \
    '[x for x in d if x["this_device"]][0]["post_key"] is True'
check "A's list shows the enrolled devices of NAI only (A, B)" json_ok "$OUT" 'len(d) == 2'
expect_exit "A: device list (text) shows B's fingerprint" 0 D a device list
check "the text list names B's fingerprint" has "$FP_B" "$OUT"
expect_exit "an approval for an unknown fingerprint is refused (3)" 3 \
    D a device approve "0123 4567 89ab cdef 0123 4567 89ab cdef"
check "the refusal says how to go on" has "mrf device list" "$ERR"
expect_exit "X (GVA) syncs" 0 D x sync --timeout 20
expect_exit "an approval for a device of another post is refused (3)" 3 \
    D a device approve "$(fp_of x)"
expect_exit "B cannot approve: it holds no post key (3)" 3 D b device approve "$(fp_of a)"
check "no grant was queued for anyone" test "$(dsql a "SELECT count(*) FROM keyring_out")" = 0

# A forged grant for B: C's id as approver, random key material and signature, written
# straight into HQ's store (as a compromised HQ or a stranger with its disk could).
sqlite3 "$HQ_HOME/hq.db" "INSERT INTO postkey_grants VALUES ('NAI', 1, X'$(id_of b)',
    X'$(id_of c)', (SELECT box_pk FROM devices WHERE id = X'$(id_of b)'), randomblob(80),
    randomblob(64), 1)"
expect_exit "B syncs with the forged grant waiting" 0 D b sync --timeout 20
check "B ignored the forged grant" test "$(dsql b "SELECT count(*) FROM postkeys")" = 0
expect_exit "B: partner show --reveal" 0 D b partner show "$PA" --reveal --json
check "B still shows A's partner sealed" json_ok "$OUT" 'd["name"] == "sealed (another device)"'

# ---- A approves B ---------------------------------------------------------------------------
expect_exit "A approves B" 0 D a device approve "$FP_B"
check "the approval names the fingerprint" has "$FP_B" "$OUT"
check "a grant is queued for B" test "$(dsql a "SELECT count(*) FROM keyring_out")" = 1
expect_exit "A syncs the approval" 0 D a sync --timeout 20
check "the queued grant left with the sync" test "$(dsql a "SELECT count(*) FROM keyring_out")" = 0
check "HQ keeps one real grant for B" test "$(hq_sql "SELECT count(*) FROM postkey_grants
    WHERE target = X'$(id_of b)' AND approver = X'$(id_of a)'")" = 1
expect_exit "B syncs" 0 D b sync --timeout 20
check "B reveals A's partner" test "$(name_on b "$PA")" = "$NAME_A"
expect_exit "B: partner list --reveal" 0 D b partner list --reveal --json
check "B's list reveals the note too" json_ok "$OUT" \
    '[p for p in d if p["code"] == "'"$PA"'"][0]["note"] == "'"$NOTE_A"'"'
run D b status --json
check "B's status: holds the post key" json_ok "$OUT" 'd["post_key"] == "held"'
check "B's status names who granted it: A's fingerprint" json_ok "$OUT" \
    'd["post_key_from"] == "'"$(fp_of a)"'"'
check "B's waiting field is sealed again at HQ (three recipients)" \
    test "$(hq_sql "SELECT hex(substr(name, 2, 1)) FROM partners WHERE code = '$PB'")" = 03
expect_exit "A pulls" 0 D a sync --timeout 20
check "A reveals the partner B recorded while it waited" test "$(name_on a "$PB")" = "$NAME_B"
expect_exit "A's list now shows B holding the key" 0 D a device list --json
check "B holds the post key in HQ's list" json_ok "$OUT" \
    '[x for x in d if x["fingerprint"] == "'"$FP_B"'"][0]["post_key"] is True'

# ---- HQ never reads; escrow still does -------------------------------------------------------
check "HQ's store holds no name" lacks_all "$HQ_HOME" "$NAME_A" "$NOTE_A" "$NAME_B"
check "HQ's and the proxy's logs hold no name" \
    lacks_all "$T/serve.log" "$NAME_A" "$NOTE_A" "$NAME_B"
check "no plain output held a name" lacks_all "$LOG" "$NAME_A" "$NOTE_A" "$NAME_B"
check "HQ's store holds no post secret key in the clear" \
    test "$(hq_sql "SELECT count(*) FROM postkey_grants WHERE length(wrapped) <> 80")" = 0
run hq reveal --escrow-key "$HQ_HOME/escrow-OFFLINE.key" \
    --purpose "key ring test" partner "$PA" --post NAI
check "mrf-hq reveal with the escrow key still opens A's partner" has "$NAME_A" "$OUT"

# ---- another post never gets NAI's key -------------------------------------------------------
expect_exit "X syncs" 0 D x sync --timeout 20
check "X holds GVA's key only" test "$(dsql x "SELECT count(*) FROM postkeys")" = 1
check "X's key is not NAI's" test "$(dsql x "SELECT hex(pk) FROM postkeys")" != \
    "$(hq_sql "SELECT hex(pk) FROM postkeys WHERE post = 'NAI'")"
check "HQ holds no grant for a GVA device" test "$(hq_sql "SELECT count(*) FROM postkey_grants
    WHERE target IN (SELECT id FROM devices WHERE post = 'GVA')")" = 0
expect_exit "X's device list shows GVA's devices only" 0 D x device list --json
check "X's list has no NAI device" json_ok "$OUT" \
    '"'"$FP_B"'" not in [x["fingerprint"] for x in d]'

# ---- a store from before the key ring --------------------------------------------------------
# Y, the first laptop of LOM, as an older mrf left it: no post key, its fields sealed to itself
# and the escrow key only. Its first sync makes LOM's key and seals the field again.
dsql y "DELETE FROM postkeys"
PY=$(D y partner add --name "$NAME_X")
check "Y's field is sealed to two recipients" \
    test "$(dsql y "SELECT hex(substr(name, 2, 1)) FROM partners WHERE code = '$PY'")" = 02
expect_exit "Y's first sync" 0 D y sync --timeout 20
check "HQ keeps Y's key for LOM" test "$(hq_sql "SELECT count(*) FROM postkeys WHERE post = 'LOM'
    AND creator = X'$(id_of y)'")" = 1
check "Y's field reached HQ sealed to three recipients" \
    test "$(hq_sql "SELECT hex(substr(name, 2, 1)) FROM partners WHERE code = '$PY'")" = 03

# ---- revocation and rotation -----------------------------------------------------------------
expect_exit "C syncs" 0 D c sync --timeout 20
expect_exit "A syncs (C in the list)" 0 D a sync --timeout 20
expect_exit "A approves C" 0 D a device approve "$(fp_of c)"
expect_exit "A syncs" 0 D a sync --timeout 20
expect_exit "C syncs" 0 D c sync --timeout 20
check "C reveals A's partner" test "$(name_on c "$PA")" = "$NAME_A"
expect_exit "HQ revokes B" 0 hq device revoke "$(id_of b)"
expect_exit "A syncs after the revocation" 0 D a sync --timeout 20
check "A rotated: HQ keeps epoch 2 from A" test "$(hq_sql "SELECT count(*) FROM postkeys
    WHERE post = 'NAI' AND epoch = 2 AND creator = X'$(id_of a)'")" = 1
check "the new key went to C" test "$(hq_sql "SELECT count(*) FROM postkey_grants WHERE
    epoch = 2 AND target = X'$(id_of c)'")" = 1
check "the new key did not go to B" test "$(hq_sql "SELECT count(*) FROM postkey_grants WHERE
    epoch = 2 AND target = X'$(id_of b)'")" = 0
PR=$(D a partner add --name "$NAME_R")
expect_exit "A syncs the new partner" 0 D a sync --timeout 20
expect_exit "C syncs" 0 D c sync --timeout 20
check "C reveals the partner recorded after the rotation" test "$(name_on c "$PR")" = "$NAME_R"
check "A reveals it" test "$(name_on a "$PR")" = "$NAME_R"
expect_exit "B's sync is refused: revoked (5)" 5 D b sync --timeout 20
# B gets the field anyway (a copy of HQ's store or of another laptop's): it does not open.
dsql b "ATTACH '$T/a/post.db' AS a; INSERT INTO partners SELECT * FROM a.partners
        WHERE code = '$PR'"
expect_exit "B: partner show of the copied row --reveal" 0 D b partner show "$PR" --reveal --json
check "B cannot open a field recorded after the rotation" \
    json_ok "$OUT" 'd["name"] == "sealed (another device)"'
check "B still opens what it held before" test "$(name_on b "$PA")" = "$NAME_A"

# ---- a device approved after the rotation ----------------------------------------------------
expect_exit "laptop d of NAI set up" 0 D d init --token "$(token NAI)"
expect_exit "D syncs" 0 D d sync --timeout 20
expect_exit "C syncs (D in the list)" 0 D c sync --timeout 20
expect_exit "C approves D" 0 D c device approve "$(fp_of d)"
expect_exit "C syncs" 0 D c sync --timeout 20
expect_exit "D syncs" 0 D d sync --timeout 20
check "D reveals the partner recorded after the rotation" test "$(name_on d "$PR")" = "$NAME_R"
check "D reveals the partner recorded before it" test "$(name_on d "$PA")" = "$NAME_A"
# ---- the key ring by pouch ---------------------------------------------------------------------
# Z of GVA has no link: X records and approves Z; both carry it all by pouch.
NAME_Z="Keyring Pouch Zulu Canary"
expect_exit "laptop z of GVA set up" 0 D z init --token "$(token GVA)"
expect_exit "Z syncs once (enrolls)" 0 D z sync --timeout 20
expect_exit "X syncs (Z in the list)" 0 D x sync --timeout 20
PZ=$(D x partner add --name "$NAME_Z")
expect_exit "X approves Z" 0 D x device approve "$(fp_of z)"
mkdir -p "$T/bag"
expect_exit "X: pouch out" 0 D x pouch out "$T/bag/x.mrfp"
expect_exit "HQ: pouch in X's pouch" 0 hq pouch in "$T/bag/x.mrfp" --reply "$T/bag/x-reply.mrfp"
expect_exit "X: pouch in the reply" 0 D x pouch in "$T/bag/x-reply.mrfp"
check "HQ keeps X's grant for Z, taken from the pouch" test "$(hq_sql "SELECT count(*) FROM
    postkey_grants WHERE target = X'$(id_of z)' AND approver = X'$(id_of x)'")" = 1
expect_exit "Z: pouch out" 0 D z pouch out "$T/bag/z.mrfp"
expect_exit "HQ: pouch in Z's pouch" 0 hq pouch in "$T/bag/z.mrfp" --reply "$T/bag/z-reply.mrfp"
expect_exit "Z: pouch in the reply" 0 D z pouch in "$T/bag/z-reply.mrfp"
check "Z reveals X's partner, all by pouch" test "$(name_on z "$PZ")" = "$NAME_Z"
check "the pouches hold no name" lacks_all "$T/bag" "$NAME_Z"
check "no reveal warned of damage" lacks damaged "$T/reveal-err"
check "HQ's store still holds no name" lacks_all "$HQ_HOME" "$NAME_A" "$NAME_R" "$NAME_X" "$NAME_Z"
finish

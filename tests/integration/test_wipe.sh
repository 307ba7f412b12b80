# Remote wipe with the real programs: `mrf-hq init` makes an offline officer key; tokens carry
# its public half (version 2); `mrf-hq device revoke ID --wipe --officer-key FILE` stores an
# order signed with it; the device learns it on its next `mrf sync` before the passphrase is
# asked (none is given here, and there is no terminal), destroys its keystore and store and
# exits 5. Afterwards nothing of the device is left to open, a copy of its old store opens
# nothing with what remains, and what it synced is whole at HQ (audit verify). An order that
# is not the officer's for this device (one replayed from another device, one with a changed
# signature, as whoever holds HQ's server could relay) is ignored: exit 5, nothing destroyed,
# nothing sent. `mrf-hq officer init` gives an HQ without an officer key one.
. "$(dirname "$0")/lib.sh"

export MRF_OFFICER_PASSPHRASE="officer passphrase for tests"
NAME="Wanjiru Wipe-Partner"
NAME2="Second Device Partner"

start_sync_hq || {
    fail "set-up" "HQ or the proxy did not come up"
    finish
}
check "init made the officer key" [ -s "$HQ_HOME/officer-OFFLINE.key" ]
check "init printed its fingerprint" grep -q "officer key fingerprint" "$OUT"
check "the officer passphrase is in no HQ file" lacks "$MRF_OFFICER_PASSPHRASE" "$HQ_HOME"
# Offline, as the operator is told to: the key leaves HQ's home.
mkdir -p "$T/safe" && mv "$HQ_HOME/officer-OFFLINE.key" "$T/safe/officer.key"
run hq post add NAI --kind bilateral
TOKEN=$(hq enroll NAI 2>/dev/null)
TOKEN2=$(hq enroll NAI 2>/dev/null)
payload_v() { python3 -c 'import base64,json,sys; p=sys.argv[1].split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4)))["v"])' "$1"; }
check "tokens of an HQ with an officer key are version 2" [ "$(payload_v "$TOKEN")" = 2 ]
D2=$T/dev2
d2() { "$MRF" --home "$D2" "$@"; }
expect_exit "device 1 set up" 0 dev init --token "$TOKEN"
expect_exit "device 2 set up" 0 d2 init --token "$TOKEN2"
dev theme set 2026 HRD >/dev/null
run dev partner add --name "$NAME" --phone "+254 711 000 111"
PX=$(tr -d '\n' <"$OUT")
run dev grant add --partner "$PX" --theme HRD --year 2026 --amount 4000.00
G1=$(tr -d '\n' <"$OUT")
expect_exit "device 1 syncs (asks HQ for an order first: none)" 0 dev sync
expect_exit "device 2 syncs" 0 d2 sync
run d2 partner add --name "$NAME2"
run dev grant add --partner "$PX" --theme HRD --year 2026 --amount 99.00 # never synced
cp -a "$DEV" "$T/dev-before" # what someone who copied the disk before the wipe would hold
DEV1_ID=$(dev status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["device"])' 2>/dev/null)
[ -n "$DEV1_ID" ] || DEV1_ID=$(sqlite3 -readonly "$DEV/post.db" "SELECT hex(device_id) FROM meta" | tr A-F a-f)
DEV2_ID=$(sqlite3 -readonly "$D2/post.db" "SELECT lower(hex(device_id)) FROM meta")

# ---- the order is signed where the officer key is ------------------------------------------
expect_exit "revoke --wipe without --officer-key: usage (2)" 2 hq device revoke "${DEV1_ID:0:8}" --wipe
MRF_OFFICER_PASSPHRASE="not the officer passphrase" expect_exit "revoke --wipe with a wrong officer passphrase: 6" 6 \
    hq device revoke "${DEV1_ID:0:8}" --wipe --officer-key "$T/safe/officer.key"
expect_exit "revoke --wipe with the escrow key instead: refused" 3 \
    hq device revoke "${DEV1_ID:0:8}" --wipe --officer-key "$HQ_HOME/escrow-OFFLINE.key"
check "... nothing stored, the device still active" \
    [ "$(hq_sql "SELECT count(*) FROM wipe_orders")$(hq_sql "SELECT status FROM devices WHERE lower(hex(id)) = '$DEV1_ID'")" = "0active" ]
expect_exit "revoke --wipe with the officer key: exit 0" 0 \
    hq device revoke "${DEV1_ID:0:8}" --wipe --officer-key "$T/safe/officer.key"
check "... says the device destroys its keys on its next sync" grep -q "destroys its keys" "$OUT"
check "... the order is stored, the device revoked" \
    [ "$(hq_sql "SELECT count(*) FROM wipe_orders")$(hq_sql "SELECT status FROM devices WHERE lower(hex(id)) = '$DEV1_ID'")" = "1revoked" ]
check "the officer passphrase is in no HQ file" lacks "$MRF_OFFICER_PASSPHRASE" "$HQ_HOME"

# ---- the device obeys before any passphrase --------------------------------------------------
(
    unset MRF_PASSPHRASE
    run setsid -w "$MRF" --home "$DEV" sync
    echo "$LAST_RC" >"$T/wipe.rc"
)
check "mrf sync with no passphrase at all: exit 5" [ "$(cat "$T/wipe.rc")" = 5 ]
check "... saying the officer ordered it and the keys are destroyed" grep -q "officer ordered this device wiped" "$ERR"
check "... no keystore left" [ ! -e "$DEV/keystore" ]
check "... no store left" [ ! -e "$DEV/post.db" ] && [ ! -e "$DEV/post.db-wal" ]
check "... nothing of the home left" empty_or_absent "$DEV"
check "HQ noted the order relayed" [ "$(hq_sql "SELECT delivered_at IS NOT NULL FROM wipe_orders")" = 1 ]
check "HQ's log names the relayed order" grep -q "/v1/order/ 200 device=${DEV1_ID:0:16}.*verdict=wipe_order" "$T/serve.log"
expect_exit "mrf status afterwards: not set up (3)" 3 dev status
# What a disk copy made before holds, with what the wipe left: the sealed fields do not open.
cp -a "$T/dev-before/post.db" "$T/remains-store.db"
mkdir -p "$T/remains" && chmod 700 "$T/remains" && cp "$T/remains-store.db" "$T/remains/post.db"
expect_exit "the old store with the remains (no keystore): partner list --reveal opens nothing" 3 \
    "$MRF" --home "$T/remains" partner list --reveal
check "... and shows no name" lacks "$NAME" "$OUT"
check "no file left where the device lived holds the name" lacks "$NAME" "$DEV"
expect_exit "the laptop can be set up again with a new token" 0 dev init --token "$(hq enroll NAI 2>/dev/null)"

# ---- what it synced is whole at HQ ------------------------------------------------------------
expect_exit "HQ's grant list after the wipe" 0 hq grant list --post NAI --json
check "... holds the synced grant" has "$G1" "$OUT"
check "... and not the unsynced one" lacks "99.00" "$OUT"
check "HQ still holds the partner's sealed identity" \
    [ "$(hq_sql "SELECT count(*) FROM partners WHERE code = '$PX' AND name IS NOT NULL")" = 1 ]
expect_exit "mrf-hq audit verify holds" 0 hq audit verify
expect_exit "... and the escrow key still reveals the partner" 0 \
    hq reveal --escrow-key "$HQ_HOME/escrow-OFFLINE.key" --purpose "test after a wipe" partner "$PX" --post NAI
check "... by name" has "$NAME" "$OUT"

# ---- orders that are not the officer's for this device are ignored --------------------------
pending2() { sqlite3 -readonly "$D2/post.db" "SELECT count(*) FROM outbox"; }
P0=$(pending2)
# whoever holds HQ's store relays device 1's order to device 2
hq_sql_rw() { sqlite3 "$HQ_HOME/hq.db" "$1"; }
hq_sql_rw "INSERT INTO wipe_orders (device, post, body, issued_at, stored_at)
           SELECT x'$DEV2_ID', post, body, issued_at, stored_at FROM wipe_orders"
expect_exit "an order replayed from another device: exit 5" 5 d2 sync
check "... reported as ignored" grep -q "wipe order for this device that was ignored" "$ERR"
check "... for another device" grep -q "another device" "$ERR"
check "... nothing destroyed" [ -s "$D2/keystore" ]
expect_exit "... the keys open" 0 d2 partner list --reveal
check "... nothing sent" [ "$(pending2)" = "$P0" ]
# ... or changes a byte of the signature (an order signed by another key reads the same)
BODY=$(hq_sql "SELECT hex(body) FROM wipe_orders WHERE device = x'$DEV2_ID'")
FLIPPED=$(python3 -c 'import sys; b=bytearray.fromhex(sys.argv[1]); b[100]^=1; print(b.hex())' "$BODY")
hq_sql_rw "UPDATE wipe_orders SET body = x'$FLIPPED' WHERE device = x'$DEV2_ID'"
expect_exit "an order whose signature does not verify: exit 5" 5 d2 sync
check "... reported as not carrying the officer's signature" grep -q "officer signature" "$ERR"
check "... nothing destroyed" [ -s "$D2/keystore" ]
hq_sql_rw "DELETE FROM wipe_orders WHERE device = x'$DEV2_ID'"
expect_exit "without the bogus order device 2 syncs again" 0 d2 sync
check "... and sent what it had" [ "$(pending2)" = 0 ]

# ---- HQ unreachable: exit 4 before any passphrase ---------------------------------------------
proxy_mode down
(
    unset MRF_PASSPHRASE
    run setsid -w "$MRF" --home "$D2" sync --timeout 3
    echo "$LAST_RC" >"$T/down.rc"
)
check "HQ down: the order check says unreachable (4), no passphrase asked" [ "$(cat "$T/down.rc")" = 4 ]
proxy_mode pass

# ---- an HQ made before officer keys ------------------------------------------------------------
OLD=$T/old-hq
old() { "$MRF_HQ" --home "$OLD" "$@"; }
(
    unset MRF_OFFICER_PASSPHRASE
    run old init --url https://127.0.0.1:9
    echo "$LAST_RC" >"$T/old.rc"
    cp "$OUT" "$T/old.out"
)
check "init with MRF_ESCROW_PASSPHRASE but no MRF_OFFICER_PASSPHRASE: no officer key" \
    [ "$(cat "$T/old.rc")" = 0 ] && [ ! -e "$OLD/officer-OFFLINE.key" ]
check "... and it says how to add one" grep -q "mrf-hq officer init" "$T/old.out"
run old post add NAI --kind bilateral
check "its tokens are version 1" [ "$(payload_v "$(old enroll NAI 2>/dev/null)")" = 1 ]
expect_exit "mrf-hq officer init adds the officer key" 0 old officer init --out "$T/safe/old-officer.key"
check "... written where asked" [ -s "$T/safe/old-officer.key" ]
expect_exit "... once only" 3 old officer init --out "$T/safe/old-officer-2.key"
check "tokens made after it are version 2" [ "$(payload_v "$(old enroll NAI 2>/dev/null)")" = 2 ]

hq_stop
finish

#!/usr/bin/env bash
# The identity test of issue 2 (DESIGN §4): partners recorded with distinctive strings in every
# sealed field, grants with distinctive notes, some fields edited, refusals that carry a name.
# Afterwards none of those strings, nor a distinctive part of one, nor their hex or base64 form,
# may occur in any file under the device home (post.db, its WAL, the keystore, anything), under
# the HQ home, in the temporary directory the programs were given, or in anything a command
# printed without --reveal. With --reveal the name must show (so this test can fail). The post's
# key ring (issue 12): a colleague's laptop reveals a partner after approval; HQ, its log and a
# laptop HQ revoked (after the rotation that follows) never hold or open what came after.
# Prints "ok - NAME" / "not ok - NAME" per check and "N passed, M failed" last.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TMPD=$T/tmpdir # TMPDIR of the programs: scratch files they make must not leak either
mkdir -p "$TMPD"
export TMPDIR=$TMPD

if ! setup_device NAI; then
    fail "set-up" "mrf-hq init / post add / enroll / mrf init failed; nothing else can run"
    finish
fi
pass "set-up (HQ, post NAI, enrolled device)"

# ---- the secrets ------------------------------------------------------------------------
# Every value is written to $SECRETS, one a line, with a label; all are searched for at the end.
SECRETS=$T/secrets
: >"$SECRETS"
# secret LABEL VALUE PART... : remembers VALUE and its distinctive PARTs, prints VALUE.
secret() {
    local label=$1 value=$2 p
    shift 2
    printf 'whole\t%s\t%s\n' "$label" "$value" >>"$SECRETS"
    for p in "$@"; do printf 'part\t%s\t%s\n' "$label" "$p" >>"$SECRETS"; done
    printf '%s' "$value"
}

P1_NAME=$(secret "partner 1 name" "Qzxv-Marigold-Collective-7731" "Qzxv" "Marigold")
P1_CONTACT=$(secret "partner 1 contact" "Wubbel Tsongqa-Prazenko" "Wubbel" "Tsongqa" "Prazenko")
P1_PHONE=$(secret "partner 1 phone" "+254 711 928374" "711 928374")
P1_EMAIL=$(secret "partner 1 e-mail" "qzxv@marigold.example" "qzxv@" "marigold.example")
P1_ADDRESS=$(secret "partner 1 address" "17 Vlorinkade, Xanthorp 4471" "Vlorinkade" "Xanthorp")
P1_BANK=$(secret "partner 1 bank" "NL91ZXQV0417164300" "ZXQV0417164300")
P1_NOTE=$(secret "partner 1 note" "Qzxv-note-safehouse-Kibera-5521" "safehouse" "Kibera")
P2_NAME=$(secret "partner 2 name" "Brindlewick-Advocacy-Trust-0932" "Brindlewick")
P2_CONTACT=$(secret "partner 2 contact" "Olufemi Zarkadakis" "Olufemi" "Zarkadakis")
P2_PHONE=$(secret "partner 2 phone" "+31 (0)20 555-8172" "555-8172")
P2_EMAIL=$(secret "partner 2 e-mail" "brindle.trust@orchid.example" "brindle.trust" "orchid.example")
P2_ADDRESS=$(secret "partner 2 address" "PO Box 88231 Harlowmere" "Harlowmere" "Box 88231")
P2_BANK=$(secret "partner 2 bank" "KE55BRNDL0000931772" "BRNDL0000931772")
P2_NOTE=$(secret "partner 2 note" "Brindle-note-lawyer-raided-4410" "lawyer-raided")
P3_NAME=$(secret "partner 3 name" "Ngozi Fjellstrom Rights Circle 6604" "Fjellstrom" "Rights Circle")
P3_CONTACT=$(secret "partner 3 contact" "Iskandar Vaughan-Mbeki" "Iskandar" "Vaughan-Mbeki")
P3_PHONE=$(secret "partner 3 phone" "+95 9 7731 46220" "7731 46220")
P3_EMAIL=$(secret "partner 3 e-mail" "nfrc6604@lotus.example" "nfrc6604" "lotus.example")
P3_ADDRESS=$(secret "partner 3 address" "Flat 3B, Quellington Road 66" "Quellington")
P3_BANK=$(secret "partner 3 bank" "MM0099ZQWY105566" "ZQWY105566")
P3_NOTE_A=$(secret "partner 3 note, line 1" "Circle-note-line-one-Tamarisk" "Tamarisk")
P3_NOTE_B=$(secret "partner 3 note, line 2" "Circle-note-hidden-Oxbow-8093" "Oxbow-8093")
P1_NAME2=$(secret "partner 1 new name" "Qzxv-Marigold-Renamed-8842" "Marigold-Renamed")
P1_PHONE2=$(secret "partner 1 new phone" "+254 733 604115" "733 604115")
P2_NOTE2=$(secret "partner 2 new note" "Brindle-note-edited-Sorrel-3307" "Sorrel")
P3_BANK2=$(secret "partner 3 new bank" "MM0099ZQWY999991" "ZQWY999991")
G1_NOTE=$(secret "grant 1 note" "Grant-note-Xylocarp-2291" "Xylocarp")
G2_NOTE=$(secret "grant 2 note" "Grant-note-Pemberwick-5528" "Pemberwick")
G1_NOTE2=$(secret "grant 1 new note" "Grant-note-revised-Ozymandi-7710" "Ozymandi")
# Values only ever given to commands that were refused.
PROBE_NAME=$(secret "refused partner name" "Qzxv-Leak-Probe-Hollowmere-4417" "Hollowmere")
PROBE_EDIT=$(secret "refused edit name" "Qzxv-Edit-Probe-Farthingale-5150" "Farthingale")
PROBE_PHONE=$(secret "refused phone" "Call-Probe-Wendigo" "Wendigo")
PROBE_MAIL=$(secret "refused e-mail" "Mailprobe-Quagmire-no-at-sign" "Quagmire")
PROBE_GNOTE=$(secret "refused grant note" "Grant-Leak-Probe-Anemone-6021" "Anemone")
PROBE_GNOTE2=$(secret "refused grant note 2" "Grant-Leak-Probe-Bittern-6022" "Bittern")
PROBE_LONG=$(secret "refused long name" "Qzxv-Overlong-Probe-Gallimaufry" "Gallimaufry")

# ---- record, edit, refuse ---------------------------------------------------------------
expect_exit "theme set exits 0" 0 dev theme set 2026 FOE HRD
expect_exit "partner 1 add exits 0" 0 dev partner add --name "$P1_NAME" --contact "$P1_CONTACT" \
    --phone "$P1_PHONE" --email "$P1_EMAIL" --address "$P1_ADDRESS" --bank "$P1_BANK" \
    --risk high --note "$P1_NOTE"
PX1=$(cat "$OUT")
expect_exit "partner 2 add exits 0" 0 dev partner add --name "$P2_NAME" --contact "$P2_CONTACT" \
    --phone "$P2_PHONE" --email "$P2_EMAIL" --address "$P2_ADDRESS" --bank "$P2_BANK" \
    --risk medium --note "$P2_NOTE"
PX2=$(cat "$OUT")
expect_exit "partner 3 add (two-line note) exits 0" 0 dev partner add --name "$P3_NAME" \
    --contact "$P3_CONTACT" --phone "$P3_PHONE" --email "$P3_EMAIL" --address "$P3_ADDRESS" \
    --bank "$P3_BANK" --risk low --note "$P3_NOTE_A"$'\n'"$P3_NOTE_B"
PX3=$(cat "$OUT")
all_codes() { local c; for c in "$@"; do [[ $c =~ ^PX-[0-9A-Z]{6}$ ]] || return 1; done; }
check "partner codes printed" all_codes "$PX1" "$PX2" "$PX3"

expect_exit "grant 1 add exits 0" 0 dev grant add --partner "$PX1" --theme FOE --year 2026 \
    --amount 12500 --note "$G1_NOTE"
G1=$(cat "$OUT")
expect_exit "grant 2 add exits 0" 0 dev grant add --partner "$PX2" --theme HRD --year 2026 \
    --amount 800.50 --start 2026-02-01 --end 2026-11-30 --note "$G2_NOTE"
G2=$(cat "$OUT")
expect_exit "grant 3 add (no note) exits 0" 0 dev grant add --partner "$PX3" --theme FOE \
    --year 2026 --amount 99
expect_exit "grant 1 note edit exits 0" 0 dev grant set "$G1" --note "$G1_NOTE2"
expect_exit "grant 1 committed exits 0" 0 dev grant set "$G1" --status committed

expect_exit "partner 1 edit (name, phone) exits 0" 0 dev partner edit "$PX1" --name "$P1_NAME2" \
    --phone "$P1_PHONE2"
expect_exit "partner 2 edit (note, contact cleared) exits 0" 0 dev partner edit "$PX2" \
    --note "$P2_NOTE2" --contact ""
expect_exit "partner 3 edit (bank, risk) exits 0" 0 dev partner edit "$PX3" --bank "$P3_BANK2" \
    --risk high

# Refusals after the name: exit 3, and the message never repeats what was typed.
no_echo() { # no_echo NAME VALUE... : the last command's stdout and stderr hold none of VALUE
    local name=$1 v
    shift
    for v in "$@"; do
        if ! lacks "$v" "$OUT" "$ERR"; then
            fail "$name" "the output repeats '$v'"
            return
        fi
    done
    pass "$name"
}
long_name="$PROBE_LONG-$(printf 'x%.0s' $(seq 200))"
expect_exit "refused: partner add with a bad e-mail exits 3" 3 \
    dev partner add --name "$PROBE_NAME" --email "$PROBE_MAIL"
no_echo "refused: the bad e-mail message names neither name nor e-mail" "$PROBE_NAME" "$PROBE_MAIL"
expect_exit "refused: partner add with a bad risk exits 3" 3 \
    dev partner add --name "$PROBE_NAME" --note "$PROBE_GNOTE" --risk extreme
no_echo "refused: the bad risk message names neither name nor note" "$PROBE_NAME" "$PROBE_GNOTE"
expect_exit "refused: partner add with letters in the phone exits 3" 3 \
    dev partner add --name "$PROBE_NAME" --phone "$PROBE_PHONE"
no_echo "refused: the bad phone message names neither name nor phone" "$PROBE_NAME" "$PROBE_PHONE"
expect_exit "refused: partner add with an over-long name exits 3" 3 dev partner add --name "$long_name"
no_echo "refused: the over-long name is not repeated" "$PROBE_LONG"
expect_exit "refused: partner add with a control character exits 3" 3 \
    dev partner add --name "$PROBE_NAME"$'\x07'
no_echo "refused: the name with a control character is not repeated" "$PROBE_NAME"
expect_exit "refused: partner edit with a bad risk exits 3" 3 \
    dev partner edit "$PX1" --name "$PROBE_EDIT" --risk extreme
no_echo "refused: the edit message does not name the new name" "$PROBE_EDIT"
expect_exit "refused: partner edit of an unknown partner exits 3" 3 \
    dev partner edit PX-ZZZZZZ --name "$PROBE_EDIT"
no_echo "refused: the unknown-partner message does not name the name" "$PROBE_EDIT"
expect_exit "refused: grant add with a bad amount exits 3" 3 dev grant add --partner "$PX1" \
    --theme FOE --year 2026 --amount abc --note "$PROBE_GNOTE"
no_echo "refused: the bad amount message does not name the note" "$PROBE_GNOTE"
expect_exit "refused: grant add on a theme not chosen exits 3" 3 dev grant add --partner "$PX1" \
    --theme WGR --year 2026 --amount 1 --note "$PROBE_GNOTE"
no_echo "refused: the theme message does not name the note" "$PROBE_GNOTE"
expect_exit "refused: grant set with a bad amount exits 3" 3 \
    dev grant set "$G2" --note "$PROBE_GNOTE2" --amount 1.234
no_echo "refused: the grant set message does not name the note" "$PROBE_GNOTE2"
expect_exit "refused: grant set with an over-long note exits 3" 3 \
    dev grant set "$G2" --note "$PROBE_GNOTE2-$(printf 'y%.0s' $(seq 4100))"
no_echo "refused: the over-long note is not repeated" "$PROBE_GNOTE2"
expect_exit "refused: partner remove with an open grant exits 3" 3 dev partner remove "$PX1"
no_echo "refused: the open-grant message does not name the partner" "$P1_NAME2" "$P1_NAME"

# ---- writes that stay in the WAL ---------------------------------------------------------
# A reader holding the store open keeps post.db-wal on disk after mrf exits, as it would be
# if the machine lost power mid-session: what sits there must be sealed as well.
P4_NAME=$(secret "partner 4 name (WAL)" "Walrecord-Juniperhall-Sodality-3318" "Juniperhall" "Sodality")
P4_NOTE=$(secret "partner 4 note (WAL)" "Walnote-Corvidae-Escape-Route-2207" "Corvidae")
P1_NOTE3=$(secret "partner 1 note (WAL)" "Walnote-Kestrelmoor-Contact-9931" "Kestrelmoor")
if python3 -c 'import sqlite3' 2>/dev/null; then
    python3 - "$DEV/post.db" "$T/reader.ready" "$T/reader.stop" <<'PY' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN")
db.execute("SELECT count(*) FROM sqlite_master").fetchall()
open(sys.argv[2], "w").close()
deadline = time.time() + 30
while not os.path.exists(sys.argv[3]) and time.time() < deadline:
    time.sleep(0.05)
db.execute("COMMIT")
db.close()
PY
    reader=$!
    LIB_PIDS="$LIB_PIDS $reader"
    for _ in $(seq 100); do [ -e "$T/reader.ready" ] && break; sleep 0.05; done
    check "WAL: a reader holds the store open" [ -e "$T/reader.ready" ]
    expect_exit "WAL: partner 4 add exits 0" 0 dev partner add --name "$P4_NAME" --note "$P4_NOTE"
    PX4=$(cat "$OUT")
    expect_exit "WAL: partner 1 note edit exits 0" 0 dev partner edit "$PX1" --note "$P1_NOTE3"
    check "WAL: post.db-wal is on disk" [ -s "$DEV/post.db-wal" ]
    check "WAL: no file, WAL included, holds the new name or notes" \
        lacks_all "$DEV" "$P4_NAME" "$P4_NOTE" "$P1_NOTE3"
    touch "$T/reader.stop"
    wait "$reader"
    LIB_PIDS=${LIB_PIDS/ $reader/}
    expect_exit "WAL: partner 4 show --reveal exits 0" 0 dev partner show "$PX4" --reveal
    check "WAL: partner 4 was recorded (--reveal shows its name)" has "$P4_NAME" "$OUT"
else
    skip "WAL kept open by a reader" "python3 has no sqlite3 module"
fi

# ---- everything a user may run without --reveal ------------------------------------------
for c in "partner list" "partner list --json" "partner show $PX1" "partner show $PX2 --json" \
    "partner show $PX3" "grant list" "grant list --json" "grant list --year 2026" \
    "theme list" "allocation 2026" "allocation 2026 --json" "status" "status --json" \
    "conflicts" "conflicts --json" "export --format csv" "export --format json" "sync --timeout 2"; do
    # shellcheck disable=SC2086
    run dev $c
    check_msg "mrf $c runs" "exit $LAST_RC" [ "$LAST_RC" -eq 0 -o \( "$c" = "sync --timeout 2" -a "$LAST_RC" -eq 4 \) ]
done
run hq post list
run hq post list --json
MRF_PASSPHRASE="not the passphrase" expect_exit "partner list --reveal, wrong passphrase exits 6" 6 \
    dev partner list --reveal
# A failed reveal printed nothing revealed: keep its output with the plain outputs.
cat "$OUT" "$ERR" >>"$LOG"
MRF_PASSPHRASE="not the passphrase" expect_exit "export --reveal, wrong passphrase exits 6" 6 \
    dev export --format json --reveal
cat "$OUT" "$ERR" >>"$LOG"

# ---- positive control: --reveal does show them -------------------------------------------
expect_exit "partner show --reveal exits 0" 0 dev partner show "$PX1" --reveal
check "partner show --reveal prints the (new) name" has "$P1_NAME2" "$OUT"
check "partner show --reveal prints the bank account" has "$P1_BANK" "$OUT"
check "partner show --reveal prints the new phone" has "$P1_PHONE2" "$OUT"
expect_exit "partner list --reveal exits 0" 0 dev partner list --reveal
check "partner list --reveal prints partner 2's name" has "$P2_NAME" "$OUT"
check "partner list --reveal prints partner 3's name" has "$P3_NAME" "$OUT"
expect_exit "export json --reveal exits 0" 0 dev export --format json --reveal
check "export --reveal prints the edited grant note" has "$G1_NOTE2" "$OUT"
check "export --reveal prints partner 3's two-line note" json_ok "$OUT" \
    '[p["note"] for p in d["partners"] if p["code"] == "'"$PX3"'"] == ["'"$P3_NOTE_A"'\n'"$P3_NOTE_B"'"]'
check "export --reveal prints partner 2's edited note" has "$P2_NOTE2" "$OUT"
check "the revealed outputs were captured" has "$P1_NAME2" "$LOG_REVEAL"
# The search itself finds a string in a binary file (else every check below passes vacuously).
mkdir -p "$T/canary"
cp "$DEV/post.db" "$T/canary/post.db"
printf '%s' "$P1_NAME" >>"$T/canary/post.db"
check_msg "canary: grep finds a name appended to a copy of post.db" "the search is blind" \
    has "$P1_NAME" "$T/canary/post.db"
rm -rf "$T/canary"

# ---- the search --------------------------------------------------------------------------
ls -A "$DEV" | sed 's/^/# device file: /'
check "device home holds post.db" [ -s "$DEV/post.db" ]
check "device home holds the keystore" [ -s "$DEV/keystore" ]

# Every secret whole (exact), its distinctive parts (ignoring case), its hex and base64 forms.
python3 - "$SECRETS" "$T/needles" <<'PY'
import base64, sys
out = open(sys.argv[2], "w")
for line in open(sys.argv[1]):
    kind, label, v = line.rstrip("\n").split("\t", 2)
    if kind == "part":
        out.write("part\tnocase\t%s\t%s\n" % (label, v))
        continue
    b = v.encode()
    out.write("whole\texact\t%s\t%s\n" % (label, v))
    out.write("hex\tnocase\t%s\t%s\n" % (label, b.hex()))
    out.write("base64\texact\t%s\t%s\n" % (label, base64.b64encode(b).decode().rstrip("=")))
    out.write("base64url\texact\t%s\t%s\n" % (label, base64.urlsafe_b64encode(b).decode().rstrip("=")))
PY
check "needles made" [ -s "$T/needles" ]

# search WHERE-NAME PATH... : one check per kind of needle; the failure lists what leaked.
search() {
    local where=$1 kind k case label s leaks
    shift
    for kind in whole part hex base64; do
        leaks=""
        while IFS=$'\t' read -r k case label s; do
            [ "$k" = "$kind" ] || { [ "$kind" = base64 ] && [ "$k" = base64url ]; } || continue
            if [ "$case" = nocase ]; then
                lacks_i "$s" "$@" || leaks="$leaks; $label ('$s')"
            else
                lacks "$s" "$@" || leaks="$leaks; $label ('$s')"
            fi
        done <"$T/needles"
        if [ -z "$leaks" ]; then
            pass "no secret ($kind) in $where"
        else
            fail "no secret ($kind) in $where" "found${leaks#;}"
        fi
    done
}
# ---- the post's key ring: a colleague reveals, HQ and a revoked laptop do not -----------------
# A second HQ, serving, with laptops k1 (records), k2 (a colleague, approved) and k3 (approved,
# then revoked by HQ). After the rotation k1 records again: k2 reveals both partners, k3 only
# the one it held before, even with the new row copied into its store; HQ's home and log hold
# nothing (the search below covers them too).
K_NAME=$(secret "key ring partner name" "Keyring-Halcyon-Weavers-5182" "Halcyon-Weavers")
K_NOTE=$(secret "key ring partner note" "Keyring-note-Marrowby-3390" "Marrowby")
K_AFTER=$(secret "name recorded after the rotation" "Keyring-Rotated-Quillfeather-7720" "Quillfeather")
kdev() { "$MRF" --home "$T/$1" "${@:2}"; }
kfp() { kdev "$1" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])'; }
HQ_MAIN=$HQ_HOME
HQ_HOME=$T/hq-ring
if start_sync_hq; then
    run hq post add NAI --kind bilateral
    for k in k1 k2 k3; do
        expect_exit "key ring: laptop $k set up" 0 kdev $k init --token "$(hq enroll NAI 2>/dev/null)"
    done
    expect_exit "key ring: k1 records a partner" 0 kdev k1 partner add --name "$K_NAME" --note "$K_NOTE"
    KX1=$(cat "$OUT")
    for k in k1 k2 k3 k1; do expect_exit "key ring: $k syncs" 0 kdev $k sync --timeout 20; done
    expect_exit "key ring: k2 shows k1's partner sealed" 0 kdev k2 partner show "$KX1" --reveal
    check "key ring: unapproved, k2 does not reveal the name" lacks "$K_NAME" "$OUT"
    expect_exit "key ring: k1 approves k2" 0 kdev k1 device approve "$(kfp k2)"
    expect_exit "key ring: k1 approves k3" 0 kdev k1 device approve "$(kfp k3)"
    for k in k1 k2 k3; do expect_exit "key ring: $k syncs" 0 kdev $k sync --timeout 20; done
    expect_exit "key ring: k2 partner show --reveal" 0 kdev k2 partner show "$KX1" --reveal
    check "key ring: the colleague's laptop reveals the name" has "$K_NAME" "$OUT"
    check "key ring: ... and the note" has "$K_NOTE" "$OUT"
    expect_exit "key ring: HQ revokes k3" 0 hq device revoke "$(sqlite3 "$T/k3/post.db" \
        "SELECT lower(hex(device_id)) FROM meta")"
    expect_exit "key ring: k1 syncs (rotates)" 0 kdev k1 sync --timeout 20
    expect_exit "key ring: k1 records after the rotation" 0 kdev k1 partner add --name "$K_AFTER"
    KX2=$(cat "$OUT")
    expect_exit "key ring: k1 syncs" 0 kdev k1 sync --timeout 20
    expect_exit "key ring: k2 syncs" 0 kdev k2 sync --timeout 20
    expect_exit "key ring: k2 reveals the newer partner" 0 kdev k2 partner show "$KX2" --reveal
    check "key ring: the colleague's laptop reveals the name recorded after the rotation" \
        has "$K_AFTER" "$OUT"
    sqlite3 "$T/k3/post.db" "ATTACH '$T/k1/post.db' AS a;
        INSERT INTO partners SELECT * FROM a.partners WHERE code = '$KX2'"
    expect_exit "key ring: the revoked laptop's partner show --reveal" 0 \
        kdev k3 partner show "$KX2" --reveal
    check "key ring: the revoked laptop cannot open what was recorded after the rotation" \
        lacks "$K_AFTER" "$OUT"
    expect_exit "key ring: the revoked laptop still opens what it held" 0 \
        kdev k3 partner show "$KX1" --reveal
    check "key ring: ... the name it held before" has "$K_NAME" "$OUT"
    hq_stop
    search "the key ring's HQ home" "$HQ_HOME"
    search "the key ring's HQ log" "$T/serve.log"
    search "the revoked laptop's home" "$T/k3"
    search "the colleague's home" "$T/k2"
else
    fail "key ring: a serving HQ starts" "$(tail -n 3 "$T/serve.log" 2>/dev/null | tr '\n' ' ')"
fi
HQ_HOME=$HQ_MAIN

search "the device home" "$DEV"
search "the HQ home" "$HQ_HOME"
search "the programs' TMPDIR" "$TMPD"
search "outputs without --reveal" "$LOG"
check "the device passphrase is in no device file" lacks "$MRF_PASSPHRASE" "$DEV"
check "the escrow passphrase is in no device file" lacks "$MRF_ESCROW_PASSPHRASE" "$DEV"

# ---- wipe: afterwards nothing on the device reveals a partner ----------------------------
expect_exit "wipe --yes exits 0" 0 dev wipe --yes
check_msg "wipe --yes leaves no file" "left: $(ls -A "$DEV" 2>/dev/null | tr '\n' ' ')" \
    empty_or_absent "$DEV"
search "outputs without --reveal, after wipe" "$LOG"

finish

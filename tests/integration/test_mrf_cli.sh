#!/usr/bin/env bash
# Runs the real `mrf` (and `mrf-hq` for keys and tokens) in temporary homes and checks every
# offline command of DESIGN §7 against the rules of issue 2 and DESIGN §8: exit codes, outputs,
# refusals with exit 3 that write nothing (pending count and listings unchanged), coalescing of
# repeated writes, --json shapes, export, passwd, wipe, --help and usage errors.
# Prints "ok - NAME" / "not ok - NAME" per check and "N passed, M failed" last.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# refused NAME CODE cmd... : the command exits CODE and the store is left exactly as it was.
refused() {
    local name=$1
    snapshot
    expect_exit "$@"
    unchanged "$name: nothing written"
}
# code_line KIND : the last command printed one line, a code of KIND (PX or G), alone.
code_line() {
    local kind=$1
    [ "$(wc -l <"$OUT")" -eq 1 ] && grep -Eq "^$kind-[0-9A-Z]{6}\$" "$OUT"
}
# grant_field CODE FIELD : a field of one grant from `mrf grant list --json`.
grant_field() {
    dev grant list --json >"$T/gl.json" 2>/dev/null || return 1
    json "$T/gl.json" "[g['$2'] for g in d if g['code'] == '$1'][0]"
}
partner_json_ok() { # partner_json_ok CODE EXPR (p = the partner in `partner show --json`)
    dev partner show "$1" --json >"$T/ps.json" 2>/dev/null || return 1
    json_ok "$T/ps.json" "(lambda p: $2)(d)"
}

# =========================================================================================
# init
# =========================================================================================
if ! setup_hq NAI; then
    fail "HQ set-up" "mrf-hq init/post add/enroll failed; nothing else can run"
    finish
fi
pass "HQ set-up (mrf-hq init, post add, enroll)"

n=${#TOKEN}
pay=${TOKEN#mrf1.}
pay=${pay%%.*}
sig=${TOKEN##*.}
# mutate MODE : $TOKEN with one base64url character changed, as near its middle as possible:
#   json-ok   in the payload, so that the payload still decodes to valid JSON (only the
#             signature check can catch it);
#   json-bad  in the payload, so that the payload no longer decodes to JSON;
#   sig       in the middle of the signature.
mutate() {
    python3 - "$TOKEN" "$1" <<'PY'
import base64, json, sys
tok, mode = sys.argv[1], sys.argv[2]
head, pay, sig = tok.split(".")
def flip(s, i):
    return s[:i] + ("B" if s[i] == "A" else "A") + s[i + 1:]
def decodes(p):
    try:
        json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        return True
    except Exception:
        return False
if mode == "sig":
    print(".".join([head, pay, flip(sig, len(sig) // 2)]))
    sys.exit(0)
mid = len(pay) // 2
for d in range(len(pay)):
    for i in (mid + d, mid - d):
        if 0 < i < len(pay) - 1:
            p = flip(pay, i)
            if decodes(p) == (mode == "json-ok"):
                print(".".join([head, p, sig]))
                sys.exit(0)
sys.exit(1)
PY
}
tok_json_ok=$(mutate json-ok)
tok_json_bad=$(mutate json-bad)
tok_sig=$(mutate sig)
check "test set-up: three altered tokens made" [ -n "$tok_json_ok" -a -n "$tok_json_bad" -a -n "$tok_sig" ]

bad_tokens=("" "garbage" "mrf1.x.y" "$tok_json_ok" "$tok_json_bad" "$tok_sig"
    "${TOKEN:0:$((n - 10))}" "${TOKEN:0:$((n / 2))}" "mrf1.$pay" "mrf2.$pay.$sig"
    "$TOKEN.x" "mrf1..$sig")
bad_names=("empty" "garbage" "mrf1.x.y"
    "one character changed in the middle, payload still JSON"
    "one character changed in the middle, payload no longer JSON"
    "one character changed in the middle of the signature" "truncated by 10 characters"
    "truncated to half" "signature part missing" "wrong version prefix" "a fourth part"
    "empty payload")
for i in "${!bad_tokens[@]}"; do
    home=$T/badinit$i
    expect_exit "init: malformed token (${bad_names[$i]}) exits 3" 3 \
        "$MRF" --home "$home" init --token "${bad_tokens[$i]}"
    check_msg "init: malformed token (${bad_names[$i]}) creates nothing" \
        "files left in $home: $(ls -A "$home" 2>/dev/null | tr '\n' ' ')" empty_or_absent "$home"
done
# A home that already exists (made by the user) stays empty after a refused token.
mkdir -p "$T/premade"
expect_exit "init: malformed token into an existing empty home exits 3" 3 \
    "$MRF" --home "$T/premade" init --token "${TOKEN:0:$((n - 10))}"
check "init: malformed token leaves an existing home empty" empty_or_absent "$T/premade"

expect_exit "init: without --token is a usage error" 2 "$MRF" --home "$T/notoken" init
check "init: without --token creates nothing" empty_or_absent "$T/notoken"

for pp in short 1234567; do
    MRF_PASSPHRASE=$pp expect_exit "init: passphrase of ${#pp} characters exits 3" 3 \
        "$MRF" --home "$T/shortpp" init --token "$TOKEN"
    check "init: passphrase of ${#pp} characters creates nothing" empty_or_absent "$T/shortpp"
done
if command -v setsid >/dev/null; then
    run env -u MRF_PASSPHRASE setsid -w "$MRF" --home "$T/nopp" init --token "$TOKEN" </dev/null
    check_msg "init: no passphrase and no terminal is refused" "exit $LAST_RC" [ "$LAST_RC" -ne 0 ]
    check "init: no passphrase and no terminal creates nothing" empty_or_absent "$T/nopp"
else
    skip "init: no passphrase and no terminal" "setsid is not installed"
fi

expect_exit "init: a valid token exits 0" 0 dev init --token "$TOKEN"
DEV_FP=$(sed -n 's/.*HQ key fingerprint: *//p' "$OUT" | head -n 1)
check_msg "init: prints HQ's fingerprint as mrf-hq init printed it" \
    "mrf init printed '$DEV_FP', mrf-hq init printed '$HQ_FP'" [ -n "$DEV_FP" -a "$DEV_FP" = "$HQ_FP" ]
check "init: keystore written" [ -s "$DEV/keystore" ]
check "init: post.db written" [ -s "$DEV/post.db" ]
check_msg "init: keystore is not readable by others" "mode $(stat -c %a "$DEV/keystore")" \
    [ "$(stat -c %a "$DEV/keystore")" = 600 ]
check_msg "init: the store is not readable by others" "mode $(stat -c %a "$DEV/post.db")" \
    [ "$(stat -c %a "$DEV/post.db")" = 600 ]
check_msg "init: the home is private" "mode $(stat -c %a "$DEV")" [ "$(stat -c %a "$DEV")" = 700 ]
cp "$DEV/keystore" "$T/keystore.before"
expect_exit "init: twice exits 3" 3 dev init --token "$TOKEN"
check "init: twice says the device is already set up" grep -qi "already" "$ERR"
check "init: twice leaves the keystore as it was" same_file "$DEV/keystore" "$T/keystore.before"
# A device HQ has not accepted yet may adopt a new token (its first expired or was used before
# its first sync): under its current passphrase, keeping its keys and everything recorded.
TOKEN2=$(hq enroll NAI 2>/dev/null)
expect_exit "init: a fresh token with a wrong passphrase exits 6" 6 \
    env MRF_PASSPHRASE="a wrong passphrase" "$MRF" --home "$DEV" init --token "$TOKEN2"
check "init: ... and leaves the keys as they were (the count of wrong tries moved)" \
    same_keys "$DEV/keystore" "$T/keystore.before"
expect_exit "init: a fresh token on a device not yet enrolled is adopted" 0 dev init --token "$TOKEN2"
check "init: ... it says so" grep -q 'new enrollment token adopted' "$OUT"
check "init: ... the keystore holds the new secret" \
    test "$(sha256sum <"$DEV/keystore")" != "$(sha256sum <"$T/keystore.before")"
check_msg "init: ... and stays private" "mode $(stat -c %a "$DEV/keystore")" \
    [ "$(stat -c %a "$DEV/keystore")" = 600 ]

# An expired token: --days is 1..90, so only a faked clock can make one expire.
if command -v faketime >/dev/null; then
    TOKEN3=$(hq enroll NAI --days 1 2>/dev/null)
    expect_exit "init: an expired token exits 5" 5 \
        at "+3d" "$MRF" --home "$T/expired" init --token "$TOKEN3"
    check "init: an expired token creates nothing" empty_or_absent "$T/expired"
else
    skip "init: an expired token exits 5" "faketime is not installed"
fi
# A device whose token has expired says so in status, with the way out.
TOKEN4=$(hq enroll NAI --days 1 2>/dev/null)
expect_exit "init: a one-day token" 0 "$MRF" --home "$T/oneday" init --token "$TOKEN4"
if command -v faketime >/dev/null; then
    run at "+3d" "$MRF" --home "$T/oneday" status --json
    check "status --json: token_expired once past its expiry" json_ok "$OUT" 'd["token_expired"] is True'
    run at "+3d" "$MRF" --home "$T/oneday" status
    check "status: says the token expired and how to go on" grep -q "expired: ask HQ for a new token, then 'mrf init --token NEW'" "$OUT"
fi
run "$MRF" --home "$T/oneday" status --json
check "status --json: token_expired is false before" json_ok "$OUT" 'd["token_expired"] is False'
run "$MRF" --home "$T/oneday" status
check "status: no expiry warning before" lacks "expired:" "$OUT"

# =========================================================================================
# every command before init
# =========================================================================================
NONE=$T/none
before_init=(
    "theme set 2026 FOE" "theme list" "partner add --name X" "partner list"
    "partner list --reveal" "partner show PX-AAAAAA" "partner edit PX-AAAAAA --name Y"
    "partner remove PX-AAAAAA"
    "grant add --partner PX-AAAAAA --theme FOE --year 2026 --amount 1"
    "grant set G-AAAAAA --amount 2" "grant list" "allocation" "status" "status --json" "sync"
    "conflicts" "export --format csv" "passwd"
)
for c in "${before_init[@]}"; do
    # shellcheck disable=SC2086
    MRF_NEW_PASSPHRASE="another passphrase" expect_exit "before init: mrf $c exits 3" 3 \
        "$MRF" --home "$NONE" $c
    check_msg "before init: mrf $c points to mrf init" "stderr does not mention 'mrf init'" \
        grep -q "mrf init" "$ERR"
    check "before init: mrf $c creates no home" empty_or_absent "$NONE"
done
# wipe has nothing to destroy: "nothing to wipe" is as good a way forward as "mrf init".
expect_exit "before init: mrf wipe --yes exits 3" 3 "$MRF" --home "$NONE" wipe --yes
check_msg "before init: mrf wipe --yes says why" "stderr mentions neither 'mrf init' nor 'nothing'" \
    grep -Eqi "mrf init|nothing" "$ERR"
check "before init: mrf wipe --yes creates no home" empty_or_absent "$NONE"

# =========================================================================================
# status (fresh device)
# =========================================================================================
expect_exit "status --json exits 0" 0 dev status --json
cp "$OUT" "$T/status.json"
check_msg "status --json: post is NAI" "post = $(json "$T/status.json" 'd.get("post")' 2>&1)" \
    json_ok "$T/status.json" 'd.get("post") == "NAI"'
check "status --json: device is a non-empty string" \
    json_ok "$T/status.json" 'isinstance(d.get("device"), str) and len(d["device"]) >= 8'
check "status --json: enrolled is false" json_ok "$T/status.json" 'd.get("enrolled") is False'
check "status --json: pending is 0 on a fresh device" json_ok "$T/status.json" \
    'type(d.get("pending")) is int and d["pending"] == 0'
expect_exit "status exits 0" 0 dev status
check "status shows the post" grep -q "NAI" "$OUT"
check "status shows the pending count" grep -Eqi "pending.*0" "$OUT"

# =========================================================================================
# themes
# =========================================================================================
expect_exit "theme set: two themes exits 0" 0 dev theme set 2026 FOE HRD
expect_exit "theme list exits 0" 0 dev theme list
check "theme list shows 2026 FOE" grep -Eq "^2026 +FOE( |$)" "$OUT"
check "theme list shows 2026 HRD" grep -Eq "^2026 +HRD( |$)" "$OUT"
expect_exit "theme list 2026 exits 0" 0 dev theme list 2026
check "theme list 2026 shows both" grep -Eq "^2026 +HRD( |$)" "$OUT"
expect_exit "theme list --json exits 0" 0 dev theme list --json
check "theme list --json holds exactly FOE and HRD for 2026" json_ok "$OUT" \
    'sorted((t["year"], t["theme"]) for t in d) == [(2026, "FOE"), (2026, "HRD")]'

refused "theme set: a third theme exits 3" 3 dev theme set 2026 FOE HRD WGR
check "theme set: third theme message names the rule" grep -qi "two" "$ERR"
refused "theme set: unknown theme code exits 3" 3 dev theme set 2026 FOE XYZ
refused "theme set: a theme named twice exits 3" 3 dev theme set 2026 FOE FOE
refused "theme set: year 1999 exits 3" 3 dev theme set 1999 FOE
refused "theme set: year 2101 exits 3" 3 dev theme set 2101 FOE
refused "theme set: year abc exits 3" 3 dev theme set abc FOE
refused "theme set: no theme is a usage error or invalid" "2|3" dev theme set 2026
refused "theme list: year out of range exits 3" 3 dev theme list 1999

expect_exit "theme set 2027 FOE HRD exits 0" 0 dev theme set 2027 FOE HRD
expect_exit "theme set: replacing 2027 by WGR ACC exits 0" 0 dev theme set 2027 WGR ACC
run dev theme list 2027 --json
check "theme set: 2027 replaced by WGR ACC" json_ok "$OUT" \
    'sorted(t["theme"] for t in d if t["year"] == 2027) == ["ACC", "WGR"]'
expect_exit "theme set: replacing 2027 by LGBTIQ alone exits 0" 0 dev theme set 2027 LGBTIQ
run dev theme list --json
check "theme set: 2027 is LGBTIQ alone, 2026 untouched" json_ok "$OUT" \
    'sorted((t["year"], t["theme"]) for t in d) == [(2026, "FOE"), (2026, "HRD"), (2027, "LGBTIQ")]'

# =========================================================================================
# partners
# =========================================================================================
expect_exit "partner add exits 0" 0 dev partner add --name "Alpha Org" --contact "A. Person" \
    --phone "+31 70 000 0000" --email alpha@example.org --risk high --note "first partner"
check "partner add prints the code alone" code_line PX
PA=$(cat "$OUT")
expect_exit "partner add (second) exits 0" 0 dev partner add --name "Beta Org"
PB=$(cat "$OUT")
expect_exit "partner add (third) exits 0" 0 dev partner add --name 'Gamma "Q", Ltd' --risk low
PC=$(cat "$OUT")
check "partner codes differ" [ "$PA" != "$PB" -a "$PB" != "$PC" ]

expect_exit "partner list exits 0" 0 dev partner list
check "partner list shows the code" grep -qF "$PA" "$OUT"
check "partner list shows names sealed" grep -Eq "^$PA .*sealed" "$OUT"
check "partner list does not show the name" lacks "Alpha Org" "$OUT"
expect_exit "partner list --json exits 0" 0 dev partner list --json
check "partner list --json: every name is \"sealed\"" json_ok "$OUT" \
    'len(d) == 3 and all(p["name"] == "sealed" for p in d)'
check "partner list --json: risk is shown" json_ok "$OUT" \
    '[p["risk"] for p in d if p["code"] == "'"$PA"'"] == ["high"]'
expect_exit "partner list --reveal exits 0" 0 dev partner list --reveal
check "partner list --reveal shows the name" grep -qF "Alpha Org" "$OUT"
expect_exit "partner list --reveal --json exits 0" 0 dev partner list --reveal --json
check "partner list --reveal --json shows every field" json_ok "$OUT" \
    '[(p["name"], p["contact"], p["phone"], p["email"], p["note"]) for p in d if p["code"] == "'"$PA"'"] == [("Alpha Org", "A. Person", "+31 70 000 0000", "alpha@example.org", "first partner")]'
MRF_PASSPHRASE="wrong passphrase" expect_exit "partner list --reveal, wrong passphrase exits 6" 6 \
    dev partner list --reveal
check "wrong passphrase shows no name" lacks "Alpha Org" "$OUT" "$ERR"
MRF_PASSPHRASE="wrong passphrase" expect_exit "partner show --reveal, wrong passphrase exits 6" 6 \
    dev partner show "$PA" --reveal
expect_exit "partner show exits 0" 0 dev partner show "$PA"
check "partner show keeps the name sealed" grep -q "sealed" "$OUT"
check "partner show: the fields, in order" [ "$(awk '{printf "%s ", $1}' "$OUT")" = \
    "code risk removed name contact phone email address bank note grants " ]
check "partner show does not show the name" lacks "Alpha Org" "$OUT"
expect_exit "partner show --reveal exits 0" 0 dev partner show "$PA" --reveal
check "partner show --reveal shows the name" grep -qF "Alpha Org" "$OUT"

expect_exit "partner edit exits 0" 0 dev partner edit "$PA" --name "Alpha Renamed" --risk low
check "partner edit: risk changed" partner_json_ok "$PA" 'p["risk"] == "low"'
run dev partner show "$PA" --reveal --json
check "partner edit: name changed, other fields kept" json_ok "$OUT" \
    'd["name"] == "Alpha Renamed" and d["contact"] == "A. Person" and d["note"] == "first partner"'
expect_exit "partner edit: clearing the contact exits 0" 0 dev partner edit "$PA" --contact ""
run dev partner show "$PA" --reveal --json
check "partner edit: contact cleared" json_ok "$OUT" 'd["contact"] in (None, "")'

long200=$(printf 'n%.0s' $(seq 200))
long201=$(printf 'n%.0s' $(seq 201))
refused "partner add: a 201-byte name exits 3" 3 dev partner add --name "$long201"
refused "partner edit: a 201-byte name exits 3" 3 dev partner edit "$PB" --name "$long201"
refused "partner add: control character in the name exits 3" 3 dev partner add --name $'Bad\x01Name'
refused "partner add: newline in the name exits 3" 3 dev partner add --name $'Bad\nName'
refused "partner add: escape sequence in the name exits 3" 3 dev partner add --name $'Bad\e[2JName'
refused "partner add: invalid UTF-8 in the name exits 3" 3 dev partner add --name $'Bad\xffName'
for e in notanemail "a@" "@example.org" "a b@example.org" "a@b@example.org" "a@.de" "a@b..de" "a@b" "a@b."; do
    refused "partner add: bad e-mail '$e' exits 3" 3 dev partner add --name Y --email "$e"
done
refused "partner add: bad risk exits 3" 3 dev partner add --name Y --risk extreme
refused "partner add: letters in the phone exit 3" 3 dev partner add --name Y --phone "call me"
refused "partner add: name missing exits 3 or 2" "2|3" dev partner add --contact Y
refused "partner add: empty name exits 3 or 2" "2|3" dev partner add --name ""
refused "partner add: no options exits 3 or 2" "2|3" dev partner add
refused "partner edit: emptying the name exits 3" 3 dev partner edit "$PB" --name ""
refused "partner edit: nothing to change exits 3 or 2" "2|3" dev partner edit "$PB"
refused "partner edit: bad e-mail exits 3" 3 dev partner edit "$PB" --email nope
refused "partner show: unknown code exits 3" 3 dev partner show PX-ZZZZZZ
check "partner show: unknown code names the way forward" grep -q "partner list" "$ERR"
refused "partner edit: unknown code exits 3" 3 dev partner edit PX-ZZZZZZ --name Y
refused "partner remove: unknown code exits 3" 3 dev partner remove PX-ZZZZZZ
for c in "PX-" "hello" "PX-12345" "PX-1234567" "G-AAAAAA" "PX-AAAAA!"; do
    refused "partner show: malformed code '$c' exits 3" 3 dev partner show "$c"
done
refused "partner remove: malformed code exits 3" 3 dev partner remove "nonsense"
expect_exit "partner add: a 200-byte name exits 0" 0 dev partner add --name "$long200"
P200=$(cat "$OUT")
run dev partner show "$P200" --reveal --json
check "partner add: the 200-byte name is kept whole" json_ok "$OUT" "d['name'] == '$long200'"
expect_exit "partner add: 100 two-byte characters (200 bytes) exits 0" 0 \
    dev partner add --name "$(printf 'é%.0s' $(seq 100))"

# Eight processes adding partners at once: every one succeeds and is recorded once.
dev partner list --json >"$T/before-par.json"
par_pids=""
for i in 1 2 3 4 5 6 7 8; do
    ("$MRF" --home "$DEV" partner add --name "Parallel $i" >"$T/par.$i.out" 2>"$T/par.$i.err"
        echo $? >"$T/par.$i.rc") &
    par_pids="$par_pids $!"
done
for p in $par_pids; do wait "$p"; done
check_msg "concurrent partner add: all eight exit 0" "exit codes: $(cat "$T"/par.*.rc | tr '\n' ' ')" \
    [ "$(cat "$T"/par.*.rc | grep -cx 0)" -eq 8 ]
check "concurrent partner add: eight different codes" \
    [ "$(cat "$T"/par.*.out | grep -E '^PX-[0-9A-Z]{6}$' | sort -u | wc -l)" -eq 8 ]
dev partner list --json >"$T/after-par.json"
check "concurrent partner add: the list grew by eight" json_ok "$T/after-par.json" \
    "len(d) == len(json.load(open('$T/before-par.json'))) + 8"
MRF_HOME=$DEV expect_exit "MRF_HOME is used without --home" 0 "$MRF" status
check "MRF_HOME: status shows the post" grep -q NAI "$OUT"

# =========================================================================================
# grants
# =========================================================================================
expect_exit "grant add exits 0" 0 dev grant add --partner "$PA" --theme FOE --year 2026 \
    --amount 12500 --start 2026-01-01 --end 2026-12-31 --note "grant note"
check "grant add prints the code alone" code_line G
G1=$(cat "$OUT")
check "grant add: status is draft" [ "$(grant_field "$G1" status)" = draft ]
check "grant add: currency defaults to EUR" [ "$(grant_field "$G1" currency)" = EUR ]

refused "grant add: theme not among the year's themes exits 3" 3 \
    dev grant add --partner "$PA" --theme WGR --year 2026 --amount 10
check "grant add: theme message points to mrf theme set" grep -q "theme set" "$ERR"
refused "grant add: a year without themes exits 3" 3 \
    dev grant add --partner "$PA" --theme FOE --year 2030 --amount 10
refused "grant add: unknown theme exits 3" 3 \
    dev grant add --partner "$PA" --theme XYZ --year 2026 --amount 10
refused "grant add: year out of range exits 3" 3 \
    dev grant add --partner "$PA" --theme FOE --year 1999 --amount 10
refused "grant add: unknown partner exits 3" 3 \
    dev grant add --partner PX-ZZZZZZ --theme FOE --year 2026 --amount 10
refused "grant add: malformed partner code exits 3" 3 \
    dev grant add --partner ZZ --theme FOE --year 2026 --amount 10
refused "grant add: bad currency exits 3" 3 \
    dev grant add --partner "$PA" --theme FOE --year 2026 --amount 10 --currency EURO
refused "grant add: no amount exits 2 or 3" "2|3" \
    dev grant add --partner "$PA" --theme FOE --year 2026

for a in 0 -5 1.234 1,000 abc 1e5 1000000000.01 "" "5." ".5" "+5" "0.00" " 5" "5 " \
    99999999999999999999 18446744073709551617 0x10 "1 000"; do
    refused "grant add: amount '$a' exits 3" 3 \
        dev grant add --partner "$PA" --theme FOE --year 2026 --amount "$a"
done
refused "grant set: amount 0 exits 3" 3 dev grant set "$G1" --amount 0
refused "grant set: amount 1.234 exits 3" 3 dev grant set "$G1" --amount 1.234

declare -A want_amount=([1000000000.00]=1000000000.00 [12500]=12500.00 [12500.5]=12500.50
    [0.01]=0.01 [7]=7.00)
declare -A gcode
for a in 1000000000.00 12500 12500.5 0.01 7; do
    expect_exit "grant add: amount '$a' exits 0" 0 \
        dev grant add --partner "$PB" --theme HRD --year 2026 --amount "$a"
    gcode[$a]=$(cat "$OUT")
done
run dev grant list
cp "$OUT" "$T/gl.txt"
dev grant list --json >"$T/gl.json" 2>/dev/null
declare -A json_amount
while read -r c v; do json_amount[$c]=$v; done < <(json "$T/gl.json" \
    '"\n".join("%s %s" % (g["code"], json.dumps(g["amount"])) for g in d)')
for a in 1000000000.00 12500 12500.5 0.01 7; do
    check_msg "grant list: amount '$a' shows as ${want_amount[$a]}" "no line '${gcode[$a]} ... ${want_amount[$a]}'" \
        grep -Eq "^${gcode[$a]} .* ${want_amount[$a]}( |$)" "$T/gl.txt"
    got=${json_amount[${gcode[$a]}]:-missing}
    check_msg "grant list --json: amount '$a' is the string \"${want_amount[$a]}\"" \
        "amount is $got" [ "$got" = "\"${want_amount[$a]}\"" ]
done

for d in 2026-02-30 2026-13-01 26-01-01 2026-1-01 2026-00-10 2026-01-00 2025-02-29 \
    2026-01-01x 2026/01/01; do
    refused "grant add: start date '$d' exits 3" 3 \
        dev grant add --partner "$PA" --theme FOE --year 2026 --amount 1 --start "$d"
done
refused "grant add: end date 2026-02-30 exits 3" 3 \
    dev grant add --partner "$PA" --theme FOE --year 2026 --amount 1 --end 2026-02-30
refused "grant add: end before start exits 3" 3 \
    dev grant add --partner "$PA" --theme FOE --year 2026 --amount 1 --start 2026-05-02 --end 2026-05-01
refused "grant set: end before start exits 3" 3 dev grant set "$G1" --end 2025-12-31
refused "grant set: start after end exits 3" 3 dev grant set "$G1" --start 2027-01-01
refused "grant set: bad date exits 3" 3 dev grant set "$G1" --start 2026-02-30
expect_exit "grant add: 2024-02-29 and start = end exits 0" 0 \
    dev grant add --partner "$PA" --theme FOE --year 2026 --amount 1 --start 2024-02-29 --end 2024-02-29

# remove: refused while the partner has a draft or a committed grant
expect_exit "partner add (to remove) exits 0" 0 dev partner add --name "Delta Org"
PD=$(cat "$OUT")
expect_exit "grant add on the partner to remove exits 0" 0 \
    dev grant add --partner "$PD" --theme HRD --year 2026 --amount 100
GD=$(cat "$OUT")
refused "partner remove: a draft grant is open, exits 3" 3 dev partner remove "$PD"
check "partner remove: message names the open grant" grep -qF "$GD" "$ERR"
expect_exit "grant set: draft to committed exits 0" 0 dev grant set "$GD" --status committed
refused "partner remove: a committed grant is open, exits 3" 3 dev partner remove "$PD"
expect_exit "grant set: committed to cancelled exits 0" 0 dev grant set "$GD" --status cancelled
expect_exit "partner remove: only a cancelled grant left, exits 0" 0 dev partner remove "$PD"
run dev partner list --json
check "partner remove: gone from the list" json_ok "$OUT" \
    '"'"$PD"'" not in [p["code"] for p in d if not p.get("removed")]'
refused "grant add: removed partner exits 3" 3 \
    dev grant add --partner "$PD" --theme HRD --year 2026 --amount 1
refused "partner edit: removed partner exits 3" 3 dev partner edit "$PD" --name Z
refused "partner remove: twice exits 3" 3 dev partner remove "$PD"
expect_exit "partner add (removed, no grants) exits 0" 0 dev partner add --name "Epsilon Org"
PE=$(cat "$OUT")
expect_exit "partner remove: no grants, exits 0" 0 dev partner remove "$PE"
refused "grant add: removed partner without grants exits 3" 3 \
    dev grant add --partner "$PE" --theme FOE --year 2026 --amount 1

# status moves forward only
for s in committed disbursed closed; do
    expect_exit "grant set: status forward to $s exits 0" 0 dev grant set "$G1" --status "$s"
    check "grant set: status is $s" [ "$(grant_field "$G1" status)" = "$s" ]
done
refused "grant set: closed back to disbursed exits 3" 3 dev grant set "$G1" --status disbursed
check "grant set: backwards message names the rule" grep -qi "forward" "$ERR"
refused "grant set: closed back to draft exits 3" 3 dev grant set "$G1" --status draft
refused "grant set: closed to cancelled exits 3" 3 dev grant set "$G1" --status cancelled
refused "grant set: amount change on a closed grant exits 3" 3 dev grant set "$G1" --amount 1
refused "grant set: unknown status exits 3" 3 dev grant set "$G1" --status approved
expect_exit "grant add (to disburse) exits 0" 0 \
    dev grant add --partner "$PA" --theme FOE --year 2026 --amount 50
G2=$(cat "$OUT")
run dev grant set "$G2" --status committed
run dev grant set "$G2" --status disbursed
check "grant set: G2 reached disbursed" [ "$(grant_field "$G2" status)" = disbursed ]
refused "grant set: cancelled from disbursed exits 3" 3 dev grant set "$G2" --status cancelled
refused "grant set: disbursed back to committed exits 3" 3 dev grant set "$G2" --status committed
expect_exit "grant add (to cancel from draft) exits 0" 0 \
    dev grant add --partner "$PA" --theme FOE --year 2026 --amount 60
G3=$(cat "$OUT")
expect_exit "grant set: cancelled from draft exits 0" 0 dev grant set "$G3" --status cancelled
refused "grant set: cancelled back to draft exits 3" 3 dev grant set "$G3" --status draft
refused "grant set: amount change on a cancelled grant exits 3" 3 dev grant set "$G3" --amount 61
refused "grant set: unknown grant exits 3" 3 dev grant set G-ZZZZZZ --amount 5
refused "grant set: malformed grant code exits 3" 3 dev grant set "$PA" --amount 5
refused "grant set: nothing to change exits 2 or 3" "2|3" dev grant set "$G2"

# dropping a theme that a live grant uses
refused "theme set: dropping HRD used by grants exits 3" 3 dev theme set 2026 FOE
check "theme set: drop message names the theme and a grant" grep -Eq "HRD.*G-[0-9A-Z]{6}" "$ERR"
refused "theme set: replacing FOE HRD by WGR ACC exits 3" 3 dev theme set 2026 WGR ACC

# list --year and JSON amounts
expect_exit "grant add 2027 exits 0" 0 dev grant add --partner "$PA" --theme LGBTIQ --year 2027 --amount 2027.27
G27=$(cat "$OUT")
expect_exit "grant list --year 2027 --json exits 0" 0 dev grant list --year 2027 --json
check "grant list --year 2027 holds just the 2027 grant" json_ok "$OUT" \
    '[g["code"] for g in d] == ["'"$G27"'"] and d[0]["year"] == 2027'
expect_exit "grant list --year 2026 exits 0" 0 dev grant list --year 2026
check "grant list --year 2026 leaves out 2027" lacks "$G27" "$OUT"
check "grant list --year 2026 shows 2026 grants" grep -qF "$G1" "$OUT"
refused "grant list --year abc exits 3" 3 dev grant list --year abc
expect_exit "grant list --json exits 0" 0 dev grant list --json
check "grant list --json: every amount is a string with two decimals" json_ok "$OUT" \
    'len(d) > 5 and all(isinstance(g["amount"], str) and __import__("re").fullmatch(r"[0-9]+\.[0-9]{2}", g["amount"]) for g in d)'
check "grant list --json: notes are sealed" json_ok "$OUT" \
    'all(g["note"] in (None, "sealed") for g in d)'

# =========================================================================================
# coalescing: repeated writes to one column travel once, with the latest value
# =========================================================================================
expect_exit "grant add (coalescing) exits 0" 0 \
    dev grant add --partner "$PA" --theme FOE --year 2026 --amount 10
GC=$(cat "$OUT")
p0=$(pending)
run dev grant set "$GC" --amount 4321.01
p1=$(pending)
for a in 4321.02 4321.03 4321.04 4321.05; do run dev grant set "$GC" --amount "$a"; done
p5=$(pending)
check_msg "coalescing: the first amount change adds at most one pending change" \
    "pending $p0 -> $p1" delta_is "$p0" "$p1" 0 1
check_msg "coalescing: four more amount changes add no pending change" \
    "pending $p1 -> $p5" delta_is "$p1" "$p5" 0 0
check "coalescing: the grant shows the latest amount" [ "$(grant_field "$GC" amount)" = 4321.05 ]
# A column the add did not write: five writes add exactly one pending change.
p0=$(pending)
for d in 2026-03-01 2026-03-02 2026-03-03 2026-03-04 2026-03-05; do
    run dev grant set "$GC" --start "$d"
done
p5=$(pending)
check_msg "coalescing: five start changes on a fresh column add exactly one pending change" \
    "pending $p0 -> $p5" delta_is "$p0" "$p5" 1 1
p0=$(pending)
for a in 2026-04-01 2026-04-02 2026-04-03 2026-04-04 2026-04-05; do
    run dev grant set "$G2" --end "$a"
done
p5=$(pending)
check_msg "coalescing: five end changes on another grant add exactly one pending change" \
    "pending $p0 -> $p5" delta_is "$p0" "$p5" 1 1
check "coalescing: only the latest amount is in the outbox" python3 - "$DEV/post.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
vals = [str(v) for (v,) in db.execute("SELECT value FROM outbox WHERE changeset IS NULL")]
assert "432105" in vals, "latest amount missing"
assert not any(v in vals for v in ("432101", "432102", "432103", "432104")), "older amounts kept"
PY

# =========================================================================================
# allocation (a year with draft, committed, cancelled and non-EUR grants only)
# =========================================================================================
expect_exit "theme set 2028 exits 0" 0 dev theme set 2028 ACC
for spec in "100.10 committed EUR" "200.20 committed EUR" "400.40 draft EUR" \
    "800.80 cancelled EUR" "1600.00 committed USD"; do
    # shellcheck disable=SC2086 # amount, status, currency
    set -- $spec
    run dev grant add --partner "$PA" --theme ACC --year 2028 --amount "$1" --currency "$3"
    g=$(cat "$OUT")
    [ "$2" = draft ] || run dev grant set "$g" --status "$2"
done
expect_exit "allocation 2028 exits 0" 0 dev allocation 2028
check "allocation says none received" grep -qi "none received" "$OUT"
check "allocation shows committed 300.30" grep -Eq "committed +300\.30( |$)" "$OUT"
expect_exit "allocation 2028 --json exits 0" 0 dev allocation 2028 --json
check "allocation --json: committed is the sum of committed EUR grants" json_ok "$OUT" \
    'd["committed"] == "300.30" and d["allocation"] is None'
expect_exit "allocation (this year) exits 0" 0 dev allocation
refused "allocation: bad year exits 3" 3 dev allocation abc

# =========================================================================================
# sync, conflicts
# =========================================================================================
snapshot
# HQ in these tests is https://127.0.0.1:9, where nothing listens: unreachable, nothing lost.
expect_exit "sync with HQ unreachable exits 4" 4 dev sync --timeout 2
check "sync says nothing was lost" grep -qi "nothing was lost" "$ERR"
unchanged "sync: pending unchanged"
expect_exit "sync --timeout 0 exits 3" 3 dev sync --timeout 0
expect_exit "sync --timeout abc exits 3" 3 dev sync --timeout abc
expect_exit "conflicts exits 0" 0 dev conflicts
expect_exit "conflicts --json exits 0" 0 dev conflicts --json
check "conflicts --json is an empty list" json_ok "$OUT" 'd == []'
run dev status --json
check "status --json: pending counts the changes" json_ok "$OUT" 'd["pending"] > 0'

# =========================================================================================
# export
# =========================================================================================
dev grant list --json >"$T/all-grants.json"
dev partner list --json >"$T/all-partners.json"
csv_check() { # csv_check FILE REVEALED(0|1)
    python3 - "$1" "$2" "$T/all-grants.json" "$T/all-partners.json" "$PA" "$PC" <<'PY'
import csv, json, sys
path, revealed, gl, pl, pa, pc = sys.argv[1:]
rows = list(csv.reader(open(path, newline="")))
head = rows[0]
assert "grant" in head and "name" in head and "amount" in head, head
recs = [dict(zip(head, r)) for r in rows[1:]]
assert all(len(r) == len(head) for r in rows), "ragged rows"
grants = json.load(open(gl))
got = sorted(r["grant"] for r in recs if r["grant"])
want = sorted(g["code"] for g in grants)
assert got == want, "not one row per grant: extra %s, missing %s" % (
    sorted(set(got) - set(want)) or [c for c in set(got) if got.count(c) > 1], sorted(set(want) - set(got)))
amount = {g["code"]: g["amount"] for g in grants}
assert all(r["amount"] == amount[r["grant"]] for r in recs if r["grant"]), "amounts differ"
names = {r["partner"]: r["name"] for r in recs}
if revealed == "1":
    assert names[pa] == "Alpha Renamed", names[pa]
    assert names[pc] == 'Gamma "Q", Ltd', names[pc]
else:
    assert all(v == "sealed" for v in names.values()), names
    assert all(r["grant_note"] in ("", "sealed") for r in recs if r.get("grant_note") is not None)
PY
}
expect_exit "export --format csv exits 0" 0 dev export --format csv
cp "$OUT" "$T/export.csv"
check "export csv: header line first" grep -q "^partner,.*grant" "$T/export.csv"
CSV_HEAD=$'partner,risk,name,contact,phone,email,address,bank,partner_note,grant,theme,year,amount,currency,status,start,end,grant_note\r'
check "export csv: the header, exactly" [ "$(head -n 1 "$T/export.csv")" = "$CSV_HEAD" ]
why=$(csv_check "$T/export.csv" 0 2>&1)
rc=$?
check_msg "export csv: one row per grant, names sealed" "$(tail -n 1 <<<"$why")" [ "$rc" -eq 0 ]
check "export csv: no name in clear" lacks "Alpha Renamed" "$T/export.csv"
expect_exit "export --format csv --reveal exits 0" 0 dev export --format csv --reveal
cp "$OUT" "$T/export-rev.csv"
why=$(csv_check "$T/export-rev.csv" 1 2>&1)
rc=$?
check_msg "export csv --reveal: one row per grant, names revealed (quoted right)" \
    "$(tail -n 1 <<<"$why")" [ "$rc" -eq 0 ]
expect_exit "export --format json exits 0" 0 dev export --format json
check "export json: partners sealed, one entry per grant" json_ok "$OUT" \
    'all(p["name"] == "sealed" for p in d["partners"]) and sorted(g["code"] for g in d["grants"]) == sorted(g["code"] for g in json.load(open("'"$T/all-grants.json"'")))' 
check "export json: amounts are two-decimal strings" json_ok "$OUT" \
    'all(isinstance(g["amount"], str) and __import__("re").fullmatch(r"[0-9]+\.[0-9]{2}", g["amount"]) for g in d["grants"])'
check "export json: no name in clear" lacks "Alpha Renamed" "$OUT"
expect_exit "export --format json --reveal exits 0" 0 dev export --format json --reveal
check "export json --reveal: names revealed" json_ok "$OUT" \
    '{p["code"]: p["name"] for p in d["partners"]}["'"$PA"'"] == "Alpha Renamed"'
MRF_PASSPHRASE="wrong passphrase" expect_exit "export --reveal, wrong passphrase exits 6" 6 \
    dev export --format csv --reveal
expect_exit "export without --format is a usage error or invalid" "2|3" dev export
expect_exit "export --format xml is a usage error or invalid" "2|3" dev export --format xml

# =========================================================================================
# passwd
# =========================================================================================
NEW="the new passphrase 2"
MRF_NEW_PASSPHRASE=short expect_exit "passwd: a new passphrase under 8 characters exits 3" 3 dev passwd
MRF_PASSPHRASE="wrong passphrase" MRF_NEW_PASSPHRASE=$NEW expect_exit "passwd: wrong old passphrase exits 6" 6 dev passwd
expect_exit "passwd: refusals kept the old passphrase" 0 dev partner list --reveal
MRF_NEW_PASSPHRASE=$NEW expect_exit "passwd exits 0" 0 dev passwd
expect_exit "passwd: the old passphrase now exits 6" 6 dev partner list --reveal
MRF_PASSPHRASE=$NEW expect_exit "passwd: the new passphrase exits 0" 0 dev partner list --reveal
check "passwd: the new passphrase reveals the names" grep -qF "Alpha Renamed" "$OUT"
export MRF_PASSPHRASE=$NEW

# =========================================================================================
# --help, unknown commands and options
# =========================================================================================
for c in "" init "theme set" "theme list" "partner add" "partner list" "partner show" \
    "partner edit" "partner remove" "grant add" "grant set" "grant list" allocation status \
    sync conflicts export passwd wipe; do
    # shellcheck disable=SC2086
    expect_exit "mrf $c --help exits 0" 0 dev $c --help
    check "mrf $c --help prints usage" grep -q "usage: mrf" "$OUT"
done
expect_exit "unknown command exits 2" 2 dev frobnicate
expect_exit "unknown subcommand exits 2" 2 dev partner frobnicate
expect_exit "theme without subcommand exits 2" 2 dev theme
expect_exit "no command exits 2" 2 "$MRF"
for c in "status --bogus" "partner list --bogus" "grant list --year" "--bogus status" \
    "grant add --bogus x" "export --format csv --bogus" "wipe --bogus"; do
    # shellcheck disable=SC2086
    expect_exit "mrf $c exits 2" 2 dev $c
done
check "usage errors left the files in place" [ -s "$DEV/keystore" -a -s "$DEV/post.db" ]

# =========================================================================================
# wipe
# =========================================================================================
expect_exit "wipe without --yes exits 2" 2 dev wipe
check "wipe without --yes: keystore still there" [ -s "$DEV/keystore" ]
check "wipe without --yes: post.db still there" [ -s "$DEV/post.db" ]
expect_exit "wipe without --yes: the device still works" 0 dev status
expect_exit "wipe --yes exits 0" 0 dev wipe --yes
check "wipe --yes: keystore gone" [ ! -e "$DEV/keystore" ]
check "wipe --yes: post.db gone" [ ! -e "$DEV/post.db" ]
check_msg "wipe --yes: no store file left" "left: $(ls -A "$DEV" 2>/dev/null | tr '\n' ' ')" \
    empty_or_absent "$DEV"
expect_exit "status after wipe exits 3" 3 dev status
check "status after wipe points to mrf init" grep -q "mrf init" "$ERR"

finish

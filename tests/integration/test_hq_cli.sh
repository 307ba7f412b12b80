#!/usr/bin/env bash
# Runs the real mrf-hq binary ($MRF_HQ_BIN, set by ctest) in a temporary home and checks the
# offline HQ commands end to end: init (files, modes, refusals, nothing half-written), post
# add/list (the sealed country never appears in any file or output), enroll (the token, its
# secret kept only as a hash), --help on every command and exit codes of DESIGN §7.
set -euo pipefail

B=${MRF_HQ_BIN:?set MRF_HQ_BIN to the mrf-hq binary}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
H=$T/hq             # the HQ home
OUT=$T/out          # stdout of the last command
ERR=$T/err          # stderr of the last command
LOG=$T/all-output   # every output of every command, searched for the country at the end
COUNTRY="Zembla-Xq7-Borduria"
export MRF_ESCROW_PASSPHRASE="correct horse battery staple"
: >"$LOG"

passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() {
    failed=$((failed + 1))
    echo "FAIL: $*" >&2
    sed 's/^/  stdout: /' "$OUT" >&2 || true
    sed 's/^/  stderr: /' "$ERR" >&2 || true
}

# expect_exit CODE cmd... : runs cmd, keeps its output in $OUT/$ERR, checks the exit code.
expect_exit() {
    local want=$1 rc
    shift
    if "$@" >"$OUT" 2>"$ERR"; then rc=0; else rc=$?; fi
    cat "$OUT" "$ERR" >>"$LOG"
    if [ "$rc" -eq "$want" ]; then ok; else fail "exit $rc, want $want: ${*#"$B"}"; fi
}
# check DESCRIPTION cmd... : a plain assertion.
check() {
    local what=$1
    shift
    if "$@"; then ok; else fail "$what"; fi
}
mode_of() { stat -c %a "$1"; }
# lacks TEXT FILE... : true if no file holds TEXT (directories searched recursively).
lacks() { ! grep -rqF -- "$1" "${@:2}"; }

hq() { "$B" --home "$H" "$@"; }

# ---- init --------------------------------------------------------------------------------
expect_exit 0 hq init --url https://hq.example.org:8443
check "init prints the fingerprint" grep -q "HQ key fingerprint: [0-9a-f]\{4\}" "$OUT"
check "init prints the TLS pin" grep -q "sha256//[A-Za-z0-9+/]\{43\}=" "$OUT"
check "init says to move the escrow key offline" grep -qi "escrow-OFFLINE.key to offline storage" "$OUT"
FP=$(sed -n 's/.*HQ key fingerprint: //p' "$OUT")
PIN=$(sed -n 's/.*TLS pin: *//p' "$OUT")
check "init printed a fingerprint" [ -n "$FP" ]
check "init printed a pin" [ -n "$PIN" ]
check "home is 0700" [ "$(mode_of "$H")" = 700 ]
check "hq.keys is 0600" [ "$(mode_of "$H/hq.keys")" = 600 ]
check "TLS key is 0600" [ "$(mode_of "$H/tls/key.pem")" = 600 ]
check "certificate exists" [ -s "$H/tls/cert.pem" ]
check "escrow key exists" [ -s "$H/escrow-OFFLINE.key" ]
check "store exists" [ -s "$H/hq.db" ]
check "hq.keys is versioned" [ "$(head -c 5 "$H/hq.keys")" = MRFHK ]
check "escrow passphrase not in the escrow file" lacks "$MRF_ESCROW_PASSPHRASE" \
    "$H/escrow-OFFLINE.key"
if command -v openssl >/dev/null; then
    want=$(openssl x509 -in "$H/tls/cert.pem" -pubkey -noout |
        openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64) || want=none
    check "pin is curl's sha256// of the certificate key" [ "$PIN" = "sha256//$want" ]
    openssl x509 -in "$H/tls/cert.pem" -noout -ext subjectAltName >"$T/san" 2>&1 || true
    check "certificate names the host" grep -q "DNS:hq.example.org" "$T/san"
fi

expect_exit 3 hq init --url https://hq.example.org:8443
check "second init says already initialised" grep -q "already initialised" "$ERR"

# Refusals on a fresh home leave nothing behind.
for url in http://hq.example.org:8443 https://hq.example.org:0 https://hq.example.org:65536 \
    https:// ftp://hq.example.org https://hq.example.org:8443/path "https://hq example.org" \
    https://999.0.0.1:8443; do
    expect_exit 3 "$B" --home "$T/fresh" init --url "$url"
    check "bad URL $url leaves no home" [ ! -e "$T/fresh" ]
done
expect_exit 2 "$B" --home "$T/fresh" init
check "init without --url leaves no home" [ ! -e "$T/fresh" ]
if command -v setsid >/dev/null; then
    # No passphrase in the environment and no terminal: refused before anything is written.
    if env -u MRF_ESCROW_PASSPHRASE setsid -w "$B" --home "$T/fresh" init \
        --url https://hq.example.org:8443 </dev/null >"$OUT" 2>"$ERR"; then
        fail "init without a passphrase succeeded"
    else
        ok
    fi
    check "init without a passphrase leaves no home" [ ! -e "$T/fresh" ]
fi
expect_exit 0 "$B" --home "$T/v6" init --url "https://[::1]:9443"
check "IPv6 URL normalised" grep -q "https://\[::1\]:9443" "$OUT"

# ---- post --------------------------------------------------------------------------------
expect_exit 3 "$B" --home "$T/none" post list
check "uninitialised home names init" grep -q "mrf-hq init" "$ERR"
expect_exit 0 hq post list
expect_exit 0 hq post add NAI --kind bilateral --country "$COUNTRY"
check "post add reports the code" grep -q "NAI" "$OUT"
expect_exit 0 hq post add gva-mun --kind multilateral
expect_exit 3 hq post add nai --kind multilateral
check "duplicate post says it exists" grep -q "exists" "$ERR"
expect_exit 3 hq post add KAB --kind regional
expect_exit 2 hq post add KAB
expect_exit 3 hq post add 1BAD --kind bilateral
expect_exit 3 hq post add KAB --kind bilateral --country ""
expect_exit 2 hq post add
expect_exit 0 hq post list
check "list shows NAI sealed" grep -Eq "^NAI +bilateral +0 +sealed$" "$OUT"
check "list shows GVA-MUN without country" grep -Eq "^GVA-MUN +multilateral +0 +-$" "$OUT"
check "list has no KAB" lacks KAB "$OUT"
expect_exit 0 hq post list --json
check "post list --json is JSON" python3 -m json.tool "$OUT" >/dev/null
check "post list --json content" python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))
assert [r["code"] for r in rows] == ["GVA-MUN", "NAI"], rows
assert rows[1]["country"] == "sealed" and rows[0]["country"] is None, rows
assert rows[1]["kind"] == "bilateral" and rows[1]["devices"] == 0, rows
' "$OUT"

# ---- enroll ------------------------------------------------------------------------------
expect_exit 0 hq enroll NAI
check "token alone on stdout, one line" [ "$(wc -l <"$OUT")" -eq 1 ]
check "token starts with mrf1." grep -q "^mrf1\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$" "$OUT"
check "enroll shows the same fingerprint" grep -qF "$FP" "$ERR"
check "enroll shows the expiry" grep -q "valid until" "$ERR"
TOKEN=$(cat "$OUT")
check "token secret not in the store, token fields right" python3 -c '
import base64, json, sys
tok, db = sys.argv[1], open(sys.argv[2], "rb").read()
def b64(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
_, p, s = tok.split(".")
body = json.loads(b64(p))
assert body["v"] == 1 and body["post"] == "NAI", body
assert body["url"] == "https://hq.example.org:8443", body
assert body["pin"] == sys.argv[3], body
assert isinstance(body["exp"], str) and body["exp"].isdigit(), body
secret = b64(body["secret"])
assert len(secret) == 32 and len(b64(s)) == 64
assert secret not in db, "enrollment secret stored in hq.db"
assert body["secret"].encode() not in db
' "$TOKEN" "$H/hq.db" "$PIN"
expect_exit 0 hq enroll nai --days 90
check "second token differs" [ "$(cat "$OUT")" != "$TOKEN" ]
for d in 0 91 -1 abc 7x ""; do
    expect_exit 3 hq enroll NAI --days "$d"
done
expect_exit 3 hq enroll ZZZ
check "unknown post names the way forward" grep -q "mrf-hq post add ZZZ" "$ERR"
expect_exit 3 hq enroll "bad code!"
expect_exit 2 hq enroll
expect_exit 3 "$B" --home "$T/none" enroll NAI

# ---- help and usage ----------------------------------------------------------------------
expect_exit 0 "$B" --help
for c in init "post add" "post list" enroll; do
    # shellcheck disable=SC2086
    expect_exit 0 hq $c --help
    check "$c --help prints usage" grep -q "usage: mrf-hq $c" "$OUT"
done
expect_exit 2 hq frobnicate
expect_exit 2 hq post
expect_exit 2 hq post list --bogus
expect_exit 2 "$B"

# ---- the country is sealed: nowhere in the home, nowhere in any output -------------------
# ---- allocate: it applies, or says why not and changes nothing -----------------------------
alloc_cents() { sqlite3 -readonly "$H/hq.db" "SELECT amount_cents FROM allocations WHERE post = 'NAI' AND year = 2026"; }
expect_exit 0 hq allocate NAI 2026 500
check "allocate writes the allocation" [ "$(alloc_cents)" = 50000 ]
expect_exit 0 hq allocate NAI 2026 600
check "allocate again replaces it" [ "$(alloc_cents)" = 60000 ]
expect_exit 3 hq allocate NAI 2026 -5
expect_exit 3 hq allocate NOPE 2026 5
# a store from before clocks were bounded may hold a clock far ahead (here 2^64 - 1) on the
# amount: HQ's own write would lose, so allocate must not say "allocated"
sqlite3 "$H/hq.db" "UPDATE clocks SET clock = -1 WHERE post = 'NAI' AND tbl = 3 AND col = 1"
expect_exit 3 hq allocate NAI 2026 900
check "... and says why, and that nothing changed" grep -q "ahead of HQ's own.*nothing was changed" "$ERR"
check "... and nothing changed" [ "$(alloc_cents)" = 60000 ]

check "country not in any file under the home" lacks "$COUNTRY" "$H"
check "country not in any output" lacks "$COUNTRY" "$LOG"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

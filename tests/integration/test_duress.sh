# The duress passphrase and the limit of wrong passphrases, with the real mrf (no HQ server
# needed: neither touches the network). The duress passphrase, typed at any passphrase prompt
# (reveal, show, export, passwd, and on a real terminal), destroys the keystore and answers
# exactly as a wrong passphrase does: exit 6, the same message, a keystore file of the same
# size and header, about the same time; afterwards nothing left on disk opens a sealed field
# (the remains are put in a fresh home and tried with the right passphrase) and no file holds
# a partner's name. --max-failures N: the count survives between processes and a kill -9
# during the key derivation, a right passphrase resets it, the Nth wrong one destroys the
# keystore and says so.
. "$(dirname "$0")/lib.sh"

RIGHT="$MRF_PASSPHRASE"
DURESS="duress passphrase 9"
NAME="Amina Duress-Partner"
PHONE="+254 700 111 222"

setup_device || {
    fail "set-up" "mrf-hq init / post add / enroll / mrf init failed; nothing else can run"
    finish
}
run dev theme set 2026 HRD
run dev partner add --name "$NAME" --phone "$PHONE" --note "met in the back office"
PX=$(tr -d '\n' <"$OUT")
run dev grant add --partner "$PX" --theme HRD --year 2026 --amount 12500.00
check "set-up: a partner and a grant recorded" [ -n "$PX" -a "$LAST_RC" -eq 0 ]

# ---- setting it ----------------------------------------------------------------------------
PLAIN=$T/plain # a device home without a duress passphrase, to compare with
cp -a "$DEV" "$PLAIN"
MRF_DURESS_PASSPHRASE=short expect_exit "passwd --duress: under 8 characters exits 3" 3 dev passwd --duress
MRF_DURESS_PASSPHRASE=$RIGHT expect_exit "passwd --duress: the passphrase itself is refused (3)" 3 dev passwd --duress
check "passwd --duress: ... naming the rule" grep -q "must differ" "$ERR"
expect_exit "passwd --duress and --max-failures together: usage (2)" 2 dev passwd --duress --max-failures 3
MRF_DURESS_PASSPHRASE=$DURESS expect_exit "passwd --duress exits 0" 0 dev passwd --duress
check "passwd --duress: the duress passphrase is in no file" lacks "$DURESS" "$DEV"
check "the keystore has the same size with and without a duress passphrase" \
    [ "$(stat -c %s "$DEV/keystore")" = "$(stat -c %s "$PLAIN/keystore")" ]
check "... and the same first 23 bytes (format, version, limits)" \
    cmp -s -n 23 "$DEV/keystore" "$PLAIN/keystore"
expect_exit "the right passphrase still reveals" 0 dev partner list --reveal
check "... the name" has "$NAME" "$OUT"
ARMED=$T/armed # an armed home kept to copy from
cp -a "$DEV" "$ARMED"

# ---- wrong and duress answer alike ---------------------------------------------------------
# fresh NAME : a copy of the armed home at $T/NAME
fresh() { rm -rf "${T:?}/$1" && cp -a "$ARMED" "$T/$1"; }
fresh w
MRF_PASSPHRASE="wrong passphrase 1" expect_exit "a wrong passphrase exits 6" 6 "$MRF" --home "$T/w" partner list --reveal
sed "s#$T/w#HOME#g" "$ERR" >"$T/wrong.err"
cp "$OUT" "$T/wrong.out"
fresh d
MRF_PASSPHRASE=$DURESS expect_exit "the duress passphrase exits 6" 6 "$MRF" --home "$T/d" partner list --reveal
sed "s#$T/d#HOME#g" "$ERR" >"$T/duress.err"
check "... with the very message of a wrong passphrase" same_file "$T/wrong.err" "$T/duress.err"
check "... and the same (empty) output" same_file "$T/wrong.out" "$OUT"
check "... the keystore file is still there, same size" \
    [ "$(stat -c %s "$T/d/keystore")" = "$(stat -c %s "$T/w/keystore")" ]
check "... same header as the wrong try left" cmp -s -n 47 "$T/d/keystore" "$T/w/keystore"
check "... no scratch file left behind" [ -z "$(ls "$T/d" | grep -v -e '^post.db' -e '^keystore$')" ]
check "... the wrong try left none either" [ -z "$(ls "$T/w" | grep -v -e '^post.db' -e '^keystore$')" ]
MRF_PASSPHRASE=$RIGHT expect_exit "after it the right passphrase is wrong too (6)" 6 "$MRF" --home "$T/d" partner list --reveal
sed "s#$T/d#HOME#g" "$ERR" >"$T/after.err"
check "... with the same message" same_file "$T/wrong.err" "$T/after.err"
MRF_PASSPHRASE=$RIGHT expect_exit "the wrong try destroyed nothing (0)" 0 "$MRF" --home "$T/w" partner list --reveal
expect_exit "after the duress passphrase, the store still lists partners (sealed)" 0 "$MRF" --home "$T/d" partner list
check "... by code" has "$PX" "$OUT"
check "... without the name" lacks "$NAME" "$OUT"
expect_exit "... and grants" 0 "$MRF" --home "$T/d" grant list

# ---- what is left opens nothing ------------------------------------------------------------
check "no file of the wiped home holds the name" lacks "$NAME" "$T/d"
check "... nor the phone number" lacks "$PHONE" "$T/d"
REMAINS=$T/remains
cp -a "$T/d" "$REMAINS"
for pass in "$RIGHT" "$DURESS" "wrong passphrase 1"; do
    MRF_PASSPHRASE=$pass expect_exit "the remains, with '$pass': export --reveal opens nothing (6)" 6 \
        "$MRF" --home "$REMAINS" export --format json --reveal
    check "... and prints no name" lacks "$NAME" "$OUT"
done
# The sealed fields of the old store against the remains' keystore: mrf refuses to reveal
# without a keystore that opens, so nothing decrypts them; the store's blobs are unchanged
# ciphertext.
check "the store still holds the sealed blobs (ciphertext only)" \
    [ "$(sqlite3 -readonly "$T/d/post.db" "SELECT count(*) FROM partners WHERE name IS NOT NULL")" = 1 ]

# ---- every prompt is a duress prompt -------------------------------------------------------
fresh s
MRF_PASSPHRASE=$DURESS expect_exit "at 'partner show --reveal': exit 6" 6 "$MRF" --home "$T/s" partner show "$PX" --reveal
MRF_PASSPHRASE=$RIGHT expect_exit "... and the keys are gone" 6 "$MRF" --home "$T/s" partner show "$PX" --reveal
fresh e
MRF_PASSPHRASE=$DURESS expect_exit "at 'export --reveal': exit 6" 6 "$MRF" --home "$T/e" export --format csv --reveal
MRF_PASSPHRASE=$RIGHT expect_exit "... and the keys are gone" 6 "$MRF" --home "$T/e" export --format csv --reveal
fresh p
MRF_PASSPHRASE=$DURESS MRF_NEW_PASSPHRASE="new passphrase 77" expect_exit "as passwd's current passphrase: exit 6" 6 "$MRF" --home "$T/p" passwd
MRF_PASSPHRASE="new passphrase 77" expect_exit "... the new one was not set" 6 "$MRF" --home "$T/p" partner list --reveal
MRF_PASSPHRASE=$RIGHT expect_exit "... and the keys are gone" 6 "$MRF" --home "$T/p" partner list --reveal
fresh t
(
    unset MRF_PASSPHRASE
    pty_run "$DURESS" -- "$MRF" --home "$T/t" partner list --reveal
    echo "$LAST_RC" >"$T/t.rc"
    cp "$OUT" "$T/t.screen"
    pty_run "$RIGHT" -- "$MRF" --home "$T/t" partner list --reveal
    echo "$LAST_RC" >"$T/t2.rc"
)
check "typed on a terminal: exit 6" [ "$(cat "$T/t.rc")" = 6 ]
check "... the terminal shows the wrong-passphrase message" grep -q "passphrase is wrong" "$T/t.screen"
check "... then the right one is wrong too" [ "$(cat "$T/t2.rc")" = 6 ]

# ---- changing the passphrase keeps the duress one ------------------------------------------
fresh c
MRF_NEW_PASSPHRASE=$DURESS expect_exit "passwd: the duress passphrase cannot become the passphrase (3)" 3 "$MRF" --home "$T/c" passwd
MRF_NEW_PASSPHRASE="changed passphrase 5" expect_exit "passwd exits 0" 0 "$MRF" --home "$T/c" passwd
MRF_PASSPHRASE=$DURESS expect_exit "the duress passphrase still works after a change" 6 "$MRF" --home "$T/c" partner list --reveal
MRF_PASSPHRASE="changed passphrase 5" expect_exit "... and destroyed the keys" 6 "$MRF" --home "$T/c" partner list --reveal
fresh n
expect_exit "passwd --no-duress exits 0" 0 "$MRF" --home "$T/n" passwd --no-duress
MRF_PASSPHRASE=$DURESS expect_exit "after --no-duress it is only a wrong passphrase (6)" 6 "$MRF" --home "$T/n" partner list --reveal
expect_exit "... the keys are there" 0 "$MRF" --home "$T/n" partner list --reveal

# ---- about the same time ---------------------------------------------------------------------
# 7 tries of each, interleaved, each on a fresh copy. A generous bound only (figures, with 20
# runs, in docs/BENCHMARKS.md from bench/duress.sh): the medians within 30% + 40 ms.
python3 - "$MRF" "$ARMED" "$T/timing" "$DURESS" <<'PY' >"$T/timing.out"
import os, shutil, statistics, subprocess, sys, time
mrf, armed, work, duress = sys.argv[1:5]
times = {"wrong": [], "duress": []}
for i in range(7):
    for kind, pw in (("wrong", "wrong passphrase 1"), ("duress", duress)):
        home = f"{work}-{kind}"
        shutil.rmtree(home, ignore_errors=True)
        shutil.copytree(armed, home, symlinks=True)
        env = dict(os.environ, MRF_PASSPHRASE=pw)
        t0 = time.perf_counter()
        rc = subprocess.run([mrf, "--home", home, "partner", "list", "--reveal"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        times[kind].append(time.perf_counter() - t0)
        assert rc == 6, (kind, rc)
w, d = statistics.median(times["wrong"]), statistics.median(times["duress"])
print(f"{w*1000:.1f} {d*1000:.1f}")
sys.exit(0 if abs(d - w) <= 0.3 * w + 0.04 else 1)
PY
rc=$?
read -r MW MD <"$T/timing.out" 2>/dev/null
check_msg "wrong and duress take about the same time (medians $MW ms, $MD ms)" \
    "medians wrong ${MW:-?} ms, duress ${MD:-?} ms" [ "$rc" -eq 0 ]

# ---- a limit of wrong passphrases ------------------------------------------------------------
LIM=$T/lim
cp -a "$PLAIN" "$LIM"
lim() { "$MRF" --home "$LIM" "$@"; }
expect_exit "passwd --max-failures -1: exit 3" 3 lim passwd --max-failures -1
expect_exit "passwd --max-failures 1001: exit 3" 3 lim passwd --max-failures 1001
MRF_PASSPHRASE="wrong passphrase 1" expect_exit "passwd --max-failures with a wrong passphrase: 6" 6 lim passwd --max-failures 3
expect_exit "passwd --max-failures 3 exits 0" 0 lim passwd --max-failures 3
check "... and says what it does" grep -q "3 wrong passphrases" "$OUT"
# failures : the count in the keystore (bytes 43..46, little-endian)
failures() { python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); print(int.from_bytes(d[43:47],"little"))' "$LIM/keystore"; }
MRF_PASSPHRASE="wrong passphrase 1" expect_exit "wrong try 1 of 3: exit 6" 6 lim partner list --reveal
MRF_PASSPHRASE="wrong passphrase 2" expect_exit "wrong try 2 of 3: exit 6" 6 lim partner list --reveal
check "the count is 2, kept between processes" [ "$(failures)" = 2 ]
expect_exit "the right passphrase reveals" 0 lim partner list --reveal
check "... and resets the count" [ "$(failures)" = 0 ]
# kill -9 during the key derivation: the try is counted first, so killing it saves nothing;
# and the last try allowed takes the keystore away before deriving, so killing that one
# leaves it destroyed.
# killed_try N : a wrong try killed with -9 once it has been counted (or has taken the
# keystore away).
failures_or_gone() { if [ -e "$LIM/keystore" ]; then failures; else echo gone; fi; }
killed_try() {
    local before pid
    before=$(failures)
    MRF_PASSPHRASE="wrong passphrase k$1" "$MRF" --home "$LIM" partner list --reveal >/dev/null 2>&1 &
    pid=$!
    wait_for 10 _counted "$before"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
_counted() { local n; n=$(failures_or_gone); [ "$n" = gone ] || [ "$n" -gt "$1" ]; }
killed_try 1
killed_try 2
check "2 tries killed with -9 once counted: the count is 2" [ "$(failures)" = 2 ]
MRF_PASSPHRASE=$RIGHT expect_exit "... a right passphrase then opens (try 3 of 3, put back)" 0 lim partner list --reveal
check "... and resets the count" [ "$(failures)" = 0 ]
killed_try 1
killed_try 2
killed_try 3
check "3 tries killed with -9: the third, the last allowed, left the keystore destroyed" [ ! -e "$LIM/keystore" ]
rm -rf "$LIM" && cp -a "$PLAIN" "$LIM"
expect_exit "(a fresh copy) passwd --max-failures 3" 0 lim passwd --max-failures 3
for i in 1 2; do
    MRF_PASSPHRASE="wrong passphrase $i" expect_exit "wrong try $i of 3" 6 lim partner list --reveal
done
MRF_PASSPHRASE="wrong passphrase 3" expect_exit "the third wrong try in a row: exit 6" 6 lim partner list --reveal
check "... saying the keystore is destroyed" grep -q "destroyed" "$ERR"
check "... and naming the setting" grep -q "max-failures 3" "$ERR"
check "... the keystore is gone" [ ! -e "$LIM/keystore" ]
MRF_PASSPHRASE=$RIGHT expect_exit "then the right passphrase opens nothing (3: no keystore)" 3 lim partner list --reveal
check "... and the message says why and what to do" grep -q "mrf wipe --yes" "$ERR"
check "no file of that home holds the name" lacks "$NAME" "$LIM"
expect_exit "... the store still lists the partner by code" 0 lim partner list
check "... sealed" lacks "$NAME" "$OUT"
# duress counts as a wrong try too, and a limit reached by it says the same as a wrong one
LD=$T/limduress
cp -a "$ARMED" "$LD"
expect_exit "duress and a limit of 2 together" 0 "$MRF" --home "$LD" passwd --max-failures 2
MRF_PASSPHRASE="wrong passphrase 1" expect_exit "a wrong try (1 of 2)" 6 "$MRF" --home "$LD" partner list --reveal
MRF_PASSPHRASE=$DURESS expect_exit "the duress passphrase as try 2 of 2: exit 6" 6 "$MRF" --home "$LD" partner list --reveal
check "... says destroyed, as a second wrong try would" grep -q "destroyed" "$ERR"
check "... and the keystore is gone" [ ! -e "$LD/keystore" ]
expect_exit "passwd --max-failures 0 turns a limit off" 0 "$MRF" --home "$T/n" passwd --max-failures 0
check "... and says so" grep -q "no limit" "$OUT"

finish

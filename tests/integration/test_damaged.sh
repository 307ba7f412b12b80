#!/usr/bin/env bash
# One damaged sealed field (issue 10): a real `mrf-hq serve` behind the recording proxy and two
# devices of post NAI.
#   - a compromised device pushes a sealed field whose frame is broken (written with sqlite3
#     into its store and outbox): HQ quarantines that change set and applies nothing of it,
#     the device's status shows HQ's reason, the rest of its outbox syncs, and the other
#     device's reveals are unaffected;
#   - on a device, fields of its own partners damaged locally (a cut frame, a changed tag)
#     show as "damaged" in `partner list/show --reveal` and `export --reveal` (text, JSON and
#     CSV), the rest reveals, exit 0, one warning line on stderr per damaged field naming the
#     partner's code and the column and nothing of the content; a field from the other
#     device still shows "sealed (another device)".
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || {
    echo "sqlite3 is needed to damage a store" >&2
    exit 1
}

dpending() { dsql "$1" "SELECT count(*) FROM outbox"; }

start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
pass "HQ starts behind the proxy"
run hq post add NAI --kind bilateral
expect_exit "device 1 set up" 0 D d1 init --token "$(token NAI)"
expect_exit "device 2 set up" 0 D d2 init --token "$(token NAI)"

P1=$(D d1 partner add --name "Alpha Damaged Org" --phone "+254 700 111222")
P2=$(D d2 partner add --name "Beta Intact Org" --phone "+254 700 333444")
P3=$(D d2 partner add --name "Gamma Intact Org" --phone "+254 700 555666")
P4=$(D d2 partner add --name "Delta Intact Org" --phone "+254 700 777888")
expect_exit "device 1 syncs" 0 D d1 sync --timeout 20
expect_exit "device 2 syncs" 0 D d2 sync --timeout 20
expect_exit "device 1 pulls" 0 D d1 sync --timeout 20

# =========================================================================================
# a compromised device pushes a damaged sealed field
# =========================================================================================
pid=$(dsql d1 "SELECT hex(id) FROM partners WHERE code = '$P1'")
phone_hq=$(hq_sql "SELECT hex(phone) FROM partners WHERE code = '$P1'")
check "HQ holds partner 1's phone" test -n "$phone_hq"
# The store and a frozen change set of its own get the phone cut by one byte (partners = table
# 1, phone = column 2); a good edit goes in the outbox beside it.
dsql d1 "UPDATE partners SET phone = substr(phone, 1, length(phone) - 1) WHERE code = '$P1'"
dsql d1 "INSERT INTO outbox(tbl, id, col, value, clock, changeset) VALUES (1, X'$pid', 2,
         (SELECT phone FROM partners WHERE code = '$P1'), (SELECT clock + 1 FROM meta),
         randomblob(16))"
P5=$(D d1 partner add --name "Epsilon Later Org")
run D d1 sync --timeout 20
check "the compromised device's sync completes (exit 0)" test "$LAST_RC" = 0
check "it warns about the quarantine" grep -q 'quarantine' "$ERR"
run D d1 status --json
check "its status shows one quarantined change" json_ok "$OUT" 'd["quarantined"] == 1'
check "its status shows HQ's reason" \
    json_ok "$OUT" '"a sealed field is damaged" in d["quarantine_reason"]'
check "the rest of its outbox synced" test "$(dpending d1)" = 0
check "HQ kept partner 1's phone as it was" \
    test "$(hq_sql "SELECT hex(phone) FROM partners WHERE code = '$P1'")" = "$phone_hq"
check "HQ has the later partner" test "$(hq_sql "SELECT count(*) FROM partners WHERE code = '$P5'")" = 1
check "HQ recorded the change set as quarantined" \
    test "$(hq_sql "SELECT count(*) FROM received WHERE verdict = 'quarantined'")" = 1

expect_exit "device 2 pulls" 0 D d2 sync --timeout 20
check "device 2 holds partner 1's phone as HQ does" \
    test "$(dsql d2 "SELECT hex(phone) FROM partners WHERE code = '$P1'")" = "$phone_hq"
expect_exit "device 2: partner list --reveal exits 0" 0 D d2 partner list --reveal --json
check "device 2 reveals its own partners" json_ok "$OUT" \
    '{p["code"]: p["name"] for p in d}["'"$P2"'"] == "Beta Intact Org"'
check "device 2 shows partner 1 as sealed (another device)" json_ok "$OUT" \
    '[p for p in d if p["code"] == "'"$P1"'"][0]["phone"] == "sealed (another device)"'
check "device 2 shows nothing damaged" test "$(grep -c damaged "$OUT" "$ERR" | awk -F: '{s+=$2} END {print s}')" = 0
expect_exit "device 2: export --reveal exits 0" 0 D d2 export --format json --reveal

# =========================================================================================
# damaged fields on a device: the rest reveals
# =========================================================================================
# partner 2: the name's tag changed (a whole frame that does not open); partner 3: the phone
# cut (a broken frame); partner 4 untouched.
dsql d2 "UPDATE partners SET name = substr(name, 1, length(name) - 16) || zeroblob(16)
         WHERE code = '$P2'"
dsql d2 "UPDATE partners SET phone = substr(phone, 1, length(phone) - 5) WHERE code = '$P3'"

# damaged_in NAME FILE : exactly the two damaged fields show "damaged", the rest reveals.
damaged_in() {
    local f=$2
    check "$1: partner 2's name is damaged" json_ok "$f" \
        '[p for p in d if p["code"] == "'"$P2"'"][0]["name"] == "damaged"'
    check "$1: partner 2's phone reveals" json_ok "$f" \
        '[p for p in d if p["code"] == "'"$P2"'"][0]["phone"] == "+254 700 333444"'
    check "$1: partner 3's phone is damaged" json_ok "$f" \
        '[p for p in d if p["code"] == "'"$P3"'"][0]["phone"] == "damaged"'
    check "$1: partner 3's name reveals" json_ok "$f" \
        '[p for p in d if p["code"] == "'"$P3"'"][0]["name"] == "Gamma Intact Org"'
    check "$1: partner 4 reveals" json_ok "$f" \
        '[p for p in d if p["code"] == "'"$P4"'"][0]["name"] == "Delta Intact Org"'
    check "$1: partner 1 is sealed (another device)" json_ok "$f" \
        '[p for p in d if p["code"] == "'"$P1"'"][0]["name"] == "sealed (another device)"'
}
# warned NAME : stderr has one warning line per damaged field, naming code and column only.
warned() {
    check "$1: two warning lines" test "$(grep -c 'warning' "$ERR")" = 2
    check "$1: the warning names partner 2 and its name" \
        grep -q "warning: partner $P2: its name is damaged" "$ERR"
    check "$1: the warning names partner 3 and its phone" \
        grep -q "warning: partner $P3: its phone is damaged" "$ERR"
    check "$1: the warnings hold no content" lacks_all "$ERR" "Beta" "Gamma" "333444" "555666"
}

expect_exit "partner list --reveal --json exits 0" 0 D d2 partner list --reveal --json
cp "$OUT" "$T/list.json"
damaged_in "list --json" "$T/list.json"
warned "list --json"
expect_exit "partner list --reveal exits 0" 0 D d2 partner list --reveal
check "list: the damaged name shows in its cell" grep -q "$P2.*damaged" "$OUT"
check "list: the other rows reveal" grep -q "$P4.*Delta Intact Org" "$OUT"
warned "list" # the table shows names only, but every field is opened

expect_exit "partner show --reveal exits 0" 0 D d2 partner show "$P3" --reveal
check "show: the phone is damaged" grep -q '^phone *damaged$' "$OUT"
check "show: the name reveals" grep -q '^name *Gamma Intact Org$' "$OUT"
check "show: one warning line" test "$(grep -c 'warning' "$ERR")" = 1
expect_exit "partner show --reveal --json exits 0" 0 D d2 partner show "$P2" --reveal --json
check "show --json: the name is damaged" json_ok "$OUT" 'd["name"] == "damaged"'
check "show --json: the phone reveals" json_ok "$OUT" 'd["phone"] == "+254 700 333444"'

expect_exit "export --format json --reveal exits 0" 0 D d2 export --format json --reveal
python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["partners"]))' \
    "$OUT" >"$T/export.json"
damaged_in "export json" "$T/export.json"
warned "export json"
expect_exit "export --format csv --reveal exits 0" 0 D d2 export --format csv --reveal
check "export csv: the damaged name" grep -q "\"$P2\",.*\"damaged\"" "$OUT"
check "export csv: the other rows reveal" grep -q "Delta Intact Org" "$OUT"
warned "export csv"

finish

#!/usr/bin/env bash
# `mrf-hq ui`, HQ's dashboard, with a real `mrf-hq serve` behind the recording proxy (lib.sh),
# real devices of post NAI (n and m) and GVA (g) syncing, and a real `mrf-hq ui --no-browser`,
# checked two ways:
#   - the guards, with curl: no token 403, a wrong Host refused, a cross-site form post refused,
#     the security headers, no partner identity or country in any answer, nothing listening but
#     on loopback, a network --listen refused;
#   - the flows, in headless chromium (tests/integration/uidriver.py, phases hq-*): the
#     overview's figures equal `mrf-hq report --format json` for the year and its CSV the CLI's;
#     a conflict resolved in the page with a reason (refusals next to their field) reaches the
#     post after its sync (`mrf conflicts --all --json`); a device revoked from the page (with a
#     confirmation step) gets exit 5 on its next sync; an allocation set in the page; every
#     page's screenshot at 1366x768 (in the build folder, ui-screenshots/); labels and a visible
#     focus ring; Quit.
# Every process is stopped by its pid on exit; every wait has a deadline.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || {
    echo "sqlite3 (the CLI) is needed; scripts/install-deps.sh installs it" >&2
    exit 1
}

. "$(dirname "$0")/uilib.sh"
YEAR=2026

sync_all() { # each device syncs twice: push, then pull what the others pushed
    local h ok=0
    for h in "$@"; do D "$h" sync --timeout 20 >/dev/null 2>>"$T/sync.err" || ok=1; done
    for h in "$@"; do D "$h" sync --timeout 20 >/dev/null 2>>"$T/sync.err" || ok=1; done
    return $ok
}
open_id() { # open_id RULE ROWS-SUBSTRING : the id of the open record of that rule
    hq conflicts --json >"$T/open.json" 2>/dev/null &&
        json "$T/open.json" "next((c['id'] for c in d if c['rule'] == '$1' and '${2:-}' in c['rows']), '')"
}

# ---- HQ, two posts, three devices, data and a conflict -------------------------------------
start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
expect_exit "post NAI added (country sealed)" 0 hq post add NAI --kind bilateral --country Kenya
expect_exit "post GVA added (country sealed)" 0 hq post add GVA --kind multilateral --country Switzerland
expect_exit "NAI device n set up" 0 D n init --token "$(token NAI)"
expect_exit "NAI device m set up" 0 D m init --token "$(token NAI)"
expect_exit "GVA device g set up" 0 D g init --token "$(token GVA)"
D n theme set $YEAR FOE WGR >/dev/null
P=$(D n partner add --name "Nairobi Legal Aid Trust" --contact "Wanjiru Kamau" --phone "+254 20 555 0101")
G1=$(D n grant add --partner "$P" --theme FOE --year $YEAR --amount 10000.00)
G2=$(D n grant add --partner "$P" --theme WGR --year $YEAR --amount 5000.00)
D n grant set "$G2" --status committed >/dev/null
D n grant set "$G2" --status disbursed >/dev/null
PG=$(D g partner add --name "Geneva Forum for Rights")
D g theme set $YEAR HRD >/dev/null
G3=$(D g grant add --partner "$PG" --theme HRD --year $YEAR --amount 2500.00 --currency USD)
D g grant set "$G3" --status committed >/dev/null
expect_exit "HQ allocates 12000.00 to NAI for $YEAR" 0 hq allocate NAI $YEAR 12000.00
check "n recorded a partner and two grants, g one" test -n "$P" -a -n "$G1" -a -n "$G2" -a -n "$G3"
check "every device syncs" sync_all n m g
D n grant set "$G1" --amount 12000.00 >/dev/null
D m grant set "$G1" --amount 13000.00 >/dev/null
check "n and m sync concurrent amounts" sync_all n m
C1=$(open_id concurrent_edit "$G1")
check "a value record is open for $G1's amount" test -n "$C1"
# a change set HQ quarantines for its content (as test_sync.sh makes one): g's next sync
gid=$(sqlite3 "$T/g/post.db" "SELECT hex(id) FROM grants WHERE code = '$G3'")
sqlite3 "$T/g/post.db" "INSERT INTO outbox(tbl, id, col, value, clock, changeset) VALUES (2, X'$gid', 5, 'approved', (SELECT clock + 1 FROM meta), randomblob(16))"
run D g sync --timeout 20
run D g status --json
check "g has a quarantined change set" json_ok "$OUT" 'd["quarantined"] == 1'

# ---- mrf-hq ui ------------------------------------------------------------------------------
expect_exit "a network --listen is refused (3)" 3 hq ui --no-browser --listen 0.0.0.0:8080
check "the refusal names the SSH tunnel" grep -q 'ssh -L 8080:127.0.0.1:8080' "$ERR"
expect_exit "a malformed --listen is a usage error (2)" 2 hq ui --no-browser --listen 127.0.0.1:x

ui_launch "$MRF_HQ" --home "$HQ_HOME" ui --no-browser || {
    fail "mrf-hq ui starts and prints its address" "$(tail -n 3 "$T/ui.log")"
    finish
}
pass "mrf-hq ui starts and prints its address"
check "the address holds a 64-hex-digit token" grep -Eq '^http://127\.0\.0\.1:[0-9]+/\?token=[0-9a-f]{64}$' "$T/ui.out"

# ---- guards ----------------------------------------------------------------------------------
check_msg "no token: 403" "got $(code "$UI_ORIGIN/")" [ "$(code "$UI_ORIGIN/")" = 403 ]
check_msg "a wrong token: 403" "wrong" [ "$(code "$UI_ORIGIN/?token=00")" = 403 ]
check_msg "the CSV without the token: 403" "wrong" [ "$(code "$UI_ORIGIN/report.csv?year=$YEAR")" = 403 ]
check_msg "a wrong Host (DNS rebinding) is refused even with the token" "wrong" \
    [ "$(code -H "Host: evil.example:$UI_PORT" "$UI_URL")" = 421 ]
check_msg "a Host on another port (a tunnel that changes the port) is refused" "wrong" \
    [ "$(code -H "Host: 127.0.0.1:8080" "$UI_URL")" = 421 ]
check_msg "the token URL sets the cookie and drops the token" "wrong" \
    [ "$(code -c "$T/jar" "$UI_URL")" = 303 ]
check "the cookie is HttpOnly and SameSite=Strict" grep -qi 'set-cookie: mrf_[0-9]*=[0-9a-f]*; Path=/; HttpOnly; SameSite=Strict' "$T/headers"
check_msg "with the cookie the overview answers" "wrong" [ "$(code -b "$T/jar" "$UI_ORIGIN/")" = 200 ]
for h in "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'" \
    "Cache-Control: no-store" "X-Frame-Options: DENY" "Referrer-Policy: no-referrer"; do
    check "the overview carries $h" grep -qiF "$h" "$T/headers"
done
check "the overview has no inline script or style" python3 -c 'import re,sys; s=open(sys.argv[1]).read(); sys.exit(1 if re.search(r"<script(?![^>]*\bsrc=)", s) or re.search(r"\s(on[a-z]+|style)=", s) else 0)' "$T/body"
CSRF=$(grep -o 'name="csrf" value="[0-9a-f]*' "$T/body" | head -n 1 | sed 's/.*value="//')
check "forms carry a CSRF token" test ${#CSRF} -eq 64
check_msg "a cross-site form post (Origin of another site) is refused" "wrong" \
    [ "$(post -H 'Origin: http://evil.example' --data "csrf=$CSRF&post=NAI&year=$YEAR&amount=1" "$UI_ORIGIN/allocations")" = 403 ]
check_msg "a post with Sec-Fetch-Site: cross-site is refused" "wrong" \
    [ "$(post -H 'Sec-Fetch-Site: cross-site' --data "csrf=$CSRF&post=NAI&year=$YEAR&amount=1" "$UI_ORIGIN/allocations")" = 403 ]
check_msg "a post without the CSRF token is refused" "wrong" \
    [ "$(post --data "post=NAI&year=$YEAR&amount=1" "$UI_ORIGIN/allocations")" = 403 ]
check_msg "a post as text/plain is refused" "wrong" \
    [ "$(post -H 'Content-Type: text/plain' --data "csrf=$CSRF&post=NAI&year=$YEAR&amount=1" "$UI_ORIGIN/allocations")" = 415 ]
run hq report --year $YEAR --format json
check "no refused post changed NAI's allocation" json_ok "$OUT" \
    '[r["allocation"] for r in d["rows"] if r["section"] == "post_year" and r["post"] == "NAI"] == ["12000.00"]'
check "mrf-hq ui logs the refusals without a token" lacks "$CSRF" "$T/ui.log"
check "mrf-hq ui listens on 127.0.0.1 only" listens_on_loopback_only "$UI_PID"

# ---- the overview equals the report ------------------------------------------------------------
hq report --year $YEAR --format json >"$T/rep-post.json"
hq report --year $YEAR --by theme --format json >"$T/rep-theme.json"
hq report --year $YEAR --format csv >"$T/rep-post.csv"
hq report --year $YEAR --by theme --format csv >"$T/rep-theme.csv"
driver hq-overview $YEAR "$T/rep-post.json" "$T/rep-theme.json" "$T/rep-post.csv" "$T/rep-theme.csv"

# ---- a conflict resolved in the page reaches the post -------------------------------------------
amount_on() {
    D "$1" grant list --json >"$T/gl.json" 2>/dev/null &&
        json "$T/gl.json" "[g['amount'] for g in d if g['code'] == '$2'][0]"
}
hq conflicts --json >"$T/c1.json" 2>/dev/null
B_VAL=$(json "$T/c1.json" "[c['b']['value'] for c in d if c['id'] == '$C1'][0]")
driver hq-conflicts "$C1"
run hq conflicts --all --json
check "HQ's store holds the decision and the reason" json_ok "$OUT" \
    "[(c['decision'], c['reason']) for c in d if c['id'] == '$C1'] == [('take_b', 'the later figure, agreed by phone')]"
check "and the HQ-only note" json_ok "$OUT" "[c.get('note') for c in d if c['id'] == '$C1'] == ['desk checked the budget line']"
check "HQ's grant holds side B ($B_VAL)" test "$(hq_sql "SELECT amount_cents FROM grants WHERE post = 'NAI' AND code = '$G1'")" = "$(echo "$B_VAL" | tr -d '.')"
run hq audit list --json
check "the decision is in the audit chain" json_ok "$OUT" "any(e['kind'] == 'resolve' for e in d)"
check "n and m sync after the decision" sync_all n m
for h in n m; do
    run D "$h" conflicts --all --json
    check "$h shows $C1 decided take_b with the reason" json_ok "$OUT" \
        "[(c['decision'], c['reason']) for c in d if c['id'] == '$C1'] == [('take_b', 'the later figure, agreed by phone')]"
    check "$h never sees the officer's note" lacks "desk checked" "$OUT"
    check "$h holds side B" test "$(amount_on "$h" "$G1")" = "$B_VAL"
done
# ... and on the post's own page (mrf ui on n)
"$MRF" --home "$T/n" ui --no-browser >"$T/pui.out" 2>>"$T/pui.log" &
PUI_PID=$!
LIB_PIDS="$LIB_PIDS $PUI_PID"
if wait_for 10 grep -q '^http://127.0.0.1:' "$T/pui.out"; then
    PUI_URL=$(head -n 1 "$T/pui.out")
    curl -s -c "$T/pjar" -o /dev/null --max-time 10 "$PUI_URL"
    curl -s -b "$T/pjar" --max-time 10 "${PUI_URL%%/\?*}/conflicts" >"$T/pui.html"
    check "the post's conflicts page (mrf ui) shows HQ's decision and reason" \
        grep -q 'the later figure, agreed by phone' "$T/pui.html"
else
    fail "mrf ui starts on n" "$(tail -n 3 "$T/pui.log")"
fi
kill -TERM "$PUI_PID" 2>/dev/null
wait "$PUI_PID" 2>/dev/null
LIB_PIDS=${LIB_PIDS/ $PUI_PID/}

# ---- a device revoked in the page gets exit 5 ------------------------------------------------------
run D m status --json
M_ID=$(json "$OUT" 'd["device"]')
check "m's device id is known" test ${#M_ID} -eq 32
check_msg "the revoke button alone answers the confirmation page" "wrong" \
    [ "$(post --data "csrf=$CSRF" "$UI_ORIGIN/devices/$M_ID/revoke")" = 200 ]
check "which revokes nothing" grep -q 'id="confirm"' "$T/body"
run hq device list --json
check "m is still active before the confirmation" json_ok "$OUT" "[x['status'] for x in d if x['id'] == '$M_ID'] == ['active']"
driver hq-revoke "$M_ID"
run hq device list --json
check "HQ's store holds m revoked" json_ok "$OUT" "[x['status'] for x in d if x['id'] == '$M_ID'] == ['revoked']"
expect_exit "m's next sync is refused (exit 5)" 5 D m sync --timeout 20
expect_exit "n still syncs (exit 0)" 0 D n sync --timeout 20

# ---- an allocation set in the page -------------------------------------------------------------------
driver hq-allocate $YEAR
run hq report --year $YEAR --format json
check "the report holds GVA's allocation of 30000.00 USD" json_ok "$OUT" \
    '[r["allocation"] for r in d["rows"] if r["section"] == "post_year" and r["post"] == "GVA" and r["currency"] == "USD"] == ["30000.00"]'
run hq audit list --json --kind allocate --post GVA
check "with its audit entry" json_ok "$OUT" 'len(d) == 1'
check "g syncs" sync_all g
run D g allocation $YEAR --json
check "g's laptop shows the allocation" json_ok "$OUT" 'd["allocation"] == "30000.00" and d["currency"] == "USD"'

# ---- no identity or country in any answer --------------------------------------------------------
: >"$T/crawl"
for p in / "/?year=$YEAR" "/report.csv?year=$YEAR" "/report.csv?year=$YEAR&by=theme" \
    "/report.csv?year=$YEAR&by=status" /conflicts "/conflicts?state=all" "/conflicts/$C1" /posts \
    "/allocations?year=$YEAR" "/devices/$M_ID/revoke"; do
    curl -s -b "$T/jar" --max-time 10 -D - "$UI_ORIGIN$p" >>"$T/crawl"
done
check "every page answered" test "$(grep -c '^HTTP/1.1 200' "$T/crawl")" -eq 11
check "no partner name, contact, phone or country in any answer" lacks_all "$T/crawl" \
    "Nairobi Legal" "Wanjiru" "555 0101" "Geneva Forum" "Kenya" "Switzerland"
curl -s -b "$T/jar" --max-time 10 "$UI_ORIGIN/posts" >"$T/posts.html"
check "the posts page shows GVA's quarantined change set with HQ's reason" \
    python3 -c 'import re,sys; s=open(sys.argv[1]).read(); g=s[s.index("id=\"post-GVA\""):]; sys.exit(0 if re.search(r"data-k=\"reason\">[^<]*unknown grant status", g[:g.find("</section>")]) else 1)' "$T/posts.html"
check "nothing identifying in mrf-hq ui's log" lacks_all "$T/ui.log" "Nairobi Legal" "Kenya" "Switzerland" "desk checked"

# ---- every page, keyboard, Quit --------------------------------------------------------------------
driver hq-pages "$C1"
wait_for 10 eval '! kill -0 "$UI_PID" 2>/dev/null' && pass "mrf-hq ui has exited after Quit" ||
    fail "mrf-hq ui has exited after Quit" "pid $UI_PID still running"
wait "$UI_PID" 2>/dev/null
rc=$?
check_msg "mrf-hq ui exited 0" "exit $rc" [ "$rc" -eq 0 ]
LIB_PIDS=${LIB_PIDS/ $UI_PID/}
check "screenshots of every page were saved" test "$(ls "$SHOTS"/hq-*.png 2>/dev/null | wc -l)" -ge 9
echo "# screenshots in $SHOTS"
finish

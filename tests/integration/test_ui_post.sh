#!/usr/bin/env bash
# `mrf ui`, the post's web pages, with a real `mrf ui --no-browser` on a device set up with
# `mrf init` and a real `mrf-hq serve` behind the recording proxy (lib.sh), checked two ways:
#   - the guards, with curl: no token 403, a wrong Host refused, a cross-site form post refused
#     (Origin, Sec-Fetch-Site, a missing CSRF token), the security headers on every answer, no
#     identity in any page while locked, nothing listening but on loopback;
#   - the flows, in headless chromium (tests/integration/uidriver.py, the DevTools protocol over a
#     pipe): themes with a third refused in the rule's words, a partner and a grant added, unlock
#     to see the name, lock to seal it, the countdown sealing it by itself, sync with HQ up and
#     with HQ down, every page's screenshot at 1366x768 (in the build folder, ui-screenshots/),
#     labels and a visible focus ring, Quit. After each flow the store is read back with
#     `mrf ... --json`.
# Every process is stopped by its pid on exit; every wait has a deadline.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/uilib.sh"
YEAR=2026

start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
run hq post add NAI --kind bilateral
TOKEN=$(hq enroll NAI 2>/dev/null)
run dev init --token "$TOKEN"
[ "$LAST_RC" -eq 0 ] || {
    fail "the device is set up" "mrf init exit $LAST_RC"
    finish
}

# the browser's partner line: the partner's and the grant's codes it made
driver_line() {
    case $1 in
    "# partner "*) read -r _ _ PX _ GX <<<"$1" ;;
    *) return 1 ;;
    esac
}

ui_launch "$MRF" --home "$DEV" ui --no-browser --lock-after 10 --sync-timeout 8 || {
    fail "mrf ui starts and prints its address" "$(tail -n 3 "$T/ui.log")"
    finish
}
pass "mrf ui starts and prints its address"
check "the address holds a 64-hex-digit token" grep -Eq '^http://127\.0\.0\.1:[0-9]+/\?token=[0-9a-f]{64}$' "$T/ui.out"

# ---- guards ----------------------------------------------------------------------------------
check_msg "no token: 403" "got $(code "$UI_ORIGIN/")" [ "$(code "$UI_ORIGIN/")" = 403 ]
check_msg "a wrong token: 403" "got $(code "$UI_ORIGIN/?token=00")" [ "$(code "$UI_ORIGIN/?token=00")" = 403 ]
check_msg "an asset without the token: 403" "wrong" [ "$(code "$UI_ORIGIN/assets/app.js")" = 403 ]
check_msg "a wrong Host (DNS rebinding) is refused even with the token" \
    "got $(code -H "Host: evil.example:$UI_PORT" "$UI_URL")" \
    [ "$(code -H "Host: evil.example:$UI_PORT" "$UI_URL")" = 421 ]
check_msg "a Host on another port is refused" "wrong" \
    [ "$(code -H "Host: 127.0.0.1:1" "$UI_URL")" = 421 ]
check_msg "the token URL sets the cookie and drops the token" "wrong" \
    [ "$(code -c "$T/jar" "$UI_URL")" = 303 ]
check "the cookie is HttpOnly and SameSite=Strict" grep -qi 'set-cookie: mrf_[0-9]*=[0-9a-f]*; Path=/; HttpOnly; SameSite=Strict' "$T/headers"
check_msg "with the cookie the home page answers" "wrong" [ "$(code -b "$T/jar" "$UI_ORIGIN/")" = 200 ]
for h in "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'" \
    "Cache-Control: no-store" "X-Frame-Options: DENY" "Referrer-Policy: no-referrer" \
    "frame-ancestors 'none'" "X-Content-Type-Options: nosniff"; do
    check "a page carries $h" grep -qiF "$h" "$T/headers"
done
check "the page has no inline script" python3 -c 'import re,sys; s=open(sys.argv[1]).read(); sys.exit(1 if re.search(r"<script(?![^>]*\bsrc=)", s) or re.search(r"\son[a-z]+=", s) else 0)' "$T/body"
CSRF=$(grep -o 'name="csrf" value="[0-9a-f]*' "$T/body" | head -n 1 | sed 's/.*value="//')
check "forms carry a CSRF token" test ${#CSRF} -eq 64
code "$UI_ORIGIN/assets/app.js" >/dev/null
check "a 403 carries the security headers too" grep -qiF "Cache-Control: no-store" "$T/headers"
check_msg "a cross-site form post (Origin of another site) is refused" "wrong" \
    [ "$(post -H 'Origin: http://evil.example' --data "csrf=$CSRF&year=$YEAR&theme=ACC" "$UI_ORIGIN/themes")" = 403 ]
check_msg "a post with Origin: null from another site is refused" "wrong" \
    [ "$(post -H 'Origin: null' -H 'Sec-Fetch-Site: cross-site' --data "csrf=$CSRF&year=$YEAR&theme=ACC" "$UI_ORIGIN/themes")" = 403 ]
check_msg "a post with Origin: null and no Sec-Fetch-Site is refused" "wrong" \
    [ "$(post -H 'Origin: null' --data "csrf=$CSRF&year=$YEAR&theme=ACC" "$UI_ORIGIN/themes")" = 403 ]
check_msg "a post with Sec-Fetch-Site: cross-site is refused" "wrong" \
    [ "$(post -H 'Sec-Fetch-Site: cross-site' --data "csrf=$CSRF&year=$YEAR&theme=ACC" "$UI_ORIGIN/themes")" = 403 ]
check_msg "a post without the CSRF token is refused" "wrong" \
    [ "$(post --data "year=$YEAR&theme=ACC" "$UI_ORIGIN/themes")" = 403 ]
check_msg "a post with a wrong CSRF token is refused" "wrong" \
    [ "$(post --data "csrf=$(printf %064d 0)&year=$YEAR&theme=ACC" "$UI_ORIGIN/themes")" = 403 ]
check_msg "a post as text/plain is refused" "wrong" \
    [ "$(post -H 'Content-Type: text/plain' --data "csrf=$CSRF&year=$YEAR&theme=ACC" "$UI_ORIGIN/themes")" = 415 ]
check_msg "a body over the cap is refused (413)" "wrong" \
    [ "$(post --data "csrf=$CSRF&x=$(head -c 70000 /dev/zero | tr '\0' a)" "$UI_ORIGIN/themes")" = 413 ]
run dev theme list --json
check "no refused post wrote anything" json_ok "$OUT" 'd == []'
check "mrf ui logs the refusals without a token or a body" lacks "$CSRF" "$T/ui.log"
# Nothing listens but on loopback: every listening socket of mrf ui is 127.0.0.1.
check "mrf ui listens on 127.0.0.1 only" listens_on_loopback_only "$UI_PID"

# ---- flows in the browser ----------------------------------------------------------------------
driver record "$YEAR"
run dev theme list "$YEAR" --json
check "the store holds the two themes" json_ok "$OUT" 'sorted(r["theme"] for r in d) == ["FOE", "HRD"]'
run dev partner list --json
check "the store holds the partner, high risk, sealed" json_ok "$OUT" \
    'len(d) == 1 and d[0]["risk"] == "high" and d[0]["name"] == "sealed" and d[0]["code"] == "'"${PX:-none}"'"'
run dev partner list --reveal --json
check "its name is the one typed in the page" json_ok "$OUT" 'd[0]["name"] == "Kenya Defenders Trust" and d[0]["phone"] == "+254 20 123 4567"'
run dev grant list --json
check "the store holds the grant, committed" json_ok "$OUT" \
    'len(d) == 1 and d[0]["amount"] == "12500.00" and d[0]["status"] == "committed" and d[0]["theme"] == "HRD" and d[0]["code"] == "'"${GX:-none}"'"'

# No identity in any answer while locked: every page, fetched with the cookie.
: >"$T/crawl"
for p in / /themes /partners /partners/new "/partners/${PX:-none}" "/partners/${PX:-none}/edit" /grants \
    /grants/new "/grants/${GX:-none}" /allocation /conflicts /unlock; do
    curl -s -b "$T/jar" --max-time 10 -D - "$UI_ORIGIN$p" >>"$T/crawl"
done
check "every page answered (locked)" test "$(grep -c '^HTTP/1.1 200' "$T/crawl")" -eq 12
check "no name, contact or phone in any page while locked" lacks_all "$T/crawl" "Kenya Defenders" "Wanjiru" "254 20 123"

driver reveal "${PX:-none}"
check "the passphrase never reached mrf ui's log" lacks "$MRF_PASSPHRASE" "$T/ui.log"
check "no name in mrf ui's log" lacks "Kenya Defenders" "$T/ui.log"

run dev status --json
before=$(json "$OUT" 'd["pending"]')
driver sync 0
run dev status --json
check "after the sync nothing is pending and the device is enrolled" json_ok "$OUT" 'd["pending"] == 0 and d["enrolled"] is True and d["last_sync"]'
check "HQ holds the grant" test "$(hq_sql "SELECT count(*) FROM grants WHERE amount_cents = 1250000")" = 1
check "something was pending before" test "${before:-0}" -gt 0

hq_stop
run dev grant set "${GX:-none}" --amount 13000.00
driver sync 4
run dev status --json
check "with HQ down the change is still pending (nothing lost)" json_ok "$OUT" 'd["pending"] >= 1'
hq_start || fail "HQ restarts" "$(tail -n 3 "$T/serve.log")"

driver pages
wait_for 10 eval '! kill -0 "$UI_PID" 2>/dev/null' && pass "mrf ui has exited after Quit" ||
    fail "mrf ui has exited after Quit" "pid $UI_PID still running"
wait "$UI_PID" 2>/dev/null
rc=$?
check_msg "mrf ui exited 0" "exit $rc" [ "$rc" -eq 0 ]
LIB_PIDS=${LIB_PIDS/ $UI_PID/}
check "it said the keys are wiped" grep -q 'keys are wiped' "$T/ui.log"
check "screenshots of every page were saved" test "$(ls "$SHOTS"/*.png 2>/dev/null | wc -l)" -ge 12
echo "# screenshots in $SHOTS"
finish

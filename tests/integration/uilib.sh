# uilib.sh — what the two web-page tests share (test_ui_post.sh: `mrf ui`; test_ui_hq.sh:
# `mrf-hq ui`), sourced after lib.sh: chromium present, the page server started (lib.sh stops
# it by its pid), the browser phases of uidriver.py counted as checks, curl with the answer's
# code, and "nothing listens but on loopback". Each test keeps what is its own: the command
# it serves with, its guards and flows.

SHOTS=${MRF_UI_SHOTS:-$(dirname "$MRF")/ui-screenshots}
DRIVER=$MRF_SRC/tests/integration/uidriver.py
mkdir -p "$SHOTS"
[ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null || {
    fail "chromium is installed" "run scripts/install-deps.sh (Debian's chromium)"
    finish
}

# ui_launch CMD... : starts CMD (a `ui --no-browser` on a free port) and waits up to 10 s for
# the address it prints; sets UI_PID, UI_URL, UI_ORIGIN, UI_PORT (lib.sh stops it on exit,
# by its pid).
ui_launch() {
    : >"$T/ui.out"
    "$@" >"$T/ui.out" 2>>"$T/ui.log" &
    UI_PID=$!
    LIB_PIDS="$LIB_PIDS $UI_PID"
    wait_for 10 grep -q '^http://127.0.0.1:' "$T/ui.out" || return 1
    UI_URL=$(head -n 1 "$T/ui.out")
    UI_ORIGIN=${UI_URL%%/\?*}
    UI_PORT=${UI_ORIGIN##*:}
}

# driver PHASE [ARG...] : runs one browser phase; its "ok"/"not ok" lines count here. A test
# may define driver_line LINE, which returns 0 for a line of its own it has taken.
driver() {
    local phase=$1 line start=$SECONDS
    shift
    while IFS= read -r line; do
        case $line in
        "ok - "*) pass "browser: ${line#ok - }" ;;
        "not ok - "*)
            failed=$((failed + 1))
            echo "not ok - browser: ${line#not ok - }"
            ;;
        *) declare -F driver_line >/dev/null && driver_line "$line" || echo "$line" ;;
        esac
    done < <(timeout 180 python3 "$DRIVER" "$phase" "$UI_URL" "$SHOTS" "$@" 2>>"$T/driver.log")
    echo "# browser phase $phase: $((SECONDS - start)) s"
}

# code CURL_ARGS... : the answer's HTTP code; its body in $T/body, its headers in $T/headers.
code() { curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 10 "$@"; }
# post CURL_ARGS... : the same, as a POST with the session's cookie jar.
post() { code -b "$T/jar" -X POST "$@"; }

# listens_on_loopback_only PID : every listening TCP socket of PID is on 127.0.0.1 (none on
# another address, none on IPv6), and there is at least one.
listens_on_loopback_only() {
    python3 - "$1" <<'PY'
import os, sys
pid = sys.argv[1]
inodes = set()
for fd in os.listdir("/proc/%s/fd" % pid):
    try:
        t = os.readlink("/proc/%s/fd/%s" % (pid, fd))
    except OSError:
        continue
    if t.startswith("socket:["):
        inodes.add(t[8:-1])
found = []
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(f).read().splitlines()[1:]:
        p = line.split()
        if p[3] == "0A" and p[9] in inodes:
            found.append((f, p[1]))
ok = found and all(f.endswith("tcp") and a.startswith("0100007F:") for f, a in found)
sys.exit(0 if ok else 1)
PY
}

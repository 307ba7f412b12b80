# Shared helpers for the integration tests in tests/integration/test_*.sh (sourced, not run).
#
# ctest runs each test as `bash FILE` with MRF_BIN and MRF_HQ_BIN (absolute paths of the two
# programs) and MRF_SRC in the environment. Sourcing this file:
#   - turns on `set -u` and pipefail (never `set -e`: refusals are what we test);
#   - makes a private temporary directory $T, removed by a trap on EXIT whatever happens
#     (kept for diagnosis when MRF_KEEP_TMP is set);
#   - gives pass/fail/skip counters, named checks that print "ok - NAME" / "not ok - NAME",
#     expect_exit, and `finish`, which prints "N passed, M failed" alone on the last line and
#     exits non-zero when anything failed.
# Every command run through expect_exit/run keeps its stdout in $OUT and stderr in $ERR; both are
# also appended to $LOG (commands without --reveal) or $LOG_REVEAL (commands with --reveal), so a
# test can search everything the programs ever printed.

set -u
set -o pipefail

MRF=${MRF_BIN:?set MRF_BIN to the mrf binary}
MRF_HQ=${MRF_HQ_BIN:?set MRF_HQ_BIN to the mrf-hq binary}
command -v python3 >/dev/null || {
    echo "python3 is needed to read the programs' JSON" >&2
    exit 1
}

T=$(mktemp -d "${TMPDIR:-/tmp}/mrf-it.XXXXXXXX") || exit 1
LIB_PIDS="" # background processes a test started (by pid): ended on exit
_lib_cleanup() {
    local p
    for p in $LIB_PIDS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    [ -n "${MRF_KEEP_TMP:-}" ] || rm -rf "$T"
}
trap _lib_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
chmod 700 "$T"

OUT=$T/out          # stdout of the last command
ERR=$T/err          # stderr of the last command
LOG=$T/log-plain    # every stdout/stderr of commands run without --reveal
LOG_REVEAL=$T/log-reveal
: >"$OUT"
: >"$ERR"
: >"$LOG"
: >"$LOG_REVEAL"

passed=0
failed=0
skipped=0
LAST_RC=0
RUN_SEQ=0 # commands run so far (through run/expect_exit)
SNAP_SEQ=none

# Printable form of a command line for messages (long arguments shortened).
_lib_cmdline() {
    local a s=""
    for a in "$@"; do
        [ "$a" = "$MRF" ] && a=mrf
        [ "$a" = "$MRF_HQ" ] && a=mrf-hq
        [ ${#a} -gt 60 ] && a="${a:0:40}...(${#a} bytes)"
        case $a in
        *[[:space:]]* | "") a="'$a'" ;;
        esac
        s="$s $a"
    done
    printf '%s' "${s# }"
}

pass() {
    passed=$((passed + 1))
    echo "ok - $1"
}
# fail NAME MESSAGE : records a failure, shows the last command's output for diagnosis.
fail() {
    failed=$((failed + 1))
    echo "not ok - $1: ${2:-failed}"
    if [ -s "$OUT" ]; then head -n 8 "$OUT" | sed 's/^/#   last stdout: /'; fi
    if [ -s "$ERR" ]; then head -n 8 "$ERR" | sed 's/^/#   last stderr: /'; fi
}
skip() {
    skipped=$((skipped + 1))
    echo "skip - $1: $2"
}

# run cmd... : runs a command, output to $OUT/$ERR (and the logs), exit code in $LAST_RC.
run() {
    local a log=$LOG
    for a in "$@"; do [ "$a" = "--reveal" ] && log=$LOG_REVEAL; done
    RUN_SEQ=$((RUN_SEQ + 1))
    "$@" >"$OUT" 2>"$ERR"
    LAST_RC=$?
    cat "$OUT" "$ERR" >>"$log"
    return 0
}

# expect_exit NAME CODE cmd... : runs cmd and checks its exit code (CODE may be "2|3").
expect_exit() {
    local name=$1 want=$2
    shift 2
    run "$@"
    case "|$want|" in
    *"|$LAST_RC|"*) pass "$name" ;;
    *) fail "$name" "exit $LAST_RC, want $want: $(_lib_cmdline "$@")" ;;
    esac
}

# check NAME cmd... : passes if cmd succeeds (its own output is discarded).
check() {
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name" "$(_lib_cmdline "$@") is false"; fi
}
# check_msg NAME MESSAGE cmd... : as check, with a custom failure message.
check_msg() {
    local name=$1 msg=$2
    shift 2
    if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name" "$msg"; fi
}

# has TEXT FILE... : FILE holds TEXT (fixed string, binary files searched as text).
has() { grep -a -q -F -- "$1" "${@:2}"; }
# lacks TEXT PATH... : no file under PATH holds TEXT (directories searched recursively).
lacks() { ! grep -a -r -q -F -- "$1" "${@:2}"; }
# lacks_i TEXT PATH... : as lacks, ignoring case.
lacks_i() { ! grep -a -r -q -i -F -- "$1" "${@:2}"; }
# delta_is FROM TO MIN MAX : both are counts and MIN <= TO - FROM <= MAX.
delta_is() {
    [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]] && [ $(($2 - $1)) -ge "$3" ] && [ $(($2 - $1)) -le "$4" ]
}
# lacks_all PATH TEXT... : no file under PATH holds any of the TEXTs.
lacks_all() {
    local where=$1 v
    shift
    for v in "$@"; do lacks "$v" "$where" || return 1; done
}
# same_file A B : the two files have the same content.
same_file() { cmp -s -- "$1" "$2"; }
# same_keys A B : two device keystores hold the same keys: every byte the same but the count
# of wrong passphrases in a row (bytes 43..46 of a version-2 keystore), which every try moves.
same_keys() {
    [ "$(stat -c %s -- "$1")" = "$(stat -c %s -- "$2")" ] &&
        cmp -s -n 43 -- "$1" "$2" && cmp -s -i 47 -- "$1" "$2"
}
# empty_or_absent DIR : DIR does not exist or holds nothing.
empty_or_absent() { [ ! -e "$1" ] || [ -z "$(ls -A -- "$1")" ]; }

# json FILE EXPR : prints the value of the python expression EXPR with d = the JSON in FILE
# (strings printed bare, everything else as JSON). Fails if FILE is not JSON.
json() {
    python3 - "$1" "$2" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {"d": d, "json": json, "re": re})
print(v if isinstance(v, str) else json.dumps(v))
PY
}
# json_ok FILE EXPR : true if the python expression EXPR (d = the JSON in FILE) is true.
json_ok() {
    python3 - "$1" "$2" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2], {"d": d, "json": json, "re": re}) else 1)
PY
}

# ---- a terminal -------------------------------------------------------------------------
# pty_run ANSWERS... -- CMD... : runs CMD on a pseudo-terminal, typing one answer per prompt;
# the screen goes to $OUT, the exit code to $LAST_RC.
pty_run() {
    python3 - "$@" >"$OUT" <<'PY'
import os, pty, select, signal, sys, time
# Never hangs: every read waits at most until one deadline, then the child is killed (exit 98).
args = sys.argv[1:]
sep = args.index("--")
answers, cmd = args[:sep], args[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(cmd[0], cmd)
deadline = time.time() + 30
screen = b""

def read_some():
    left = deadline - time.time()
    if left <= 0 or not select.select([fd], [], [], left)[0]:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        sys.stdout.write(screen.decode(errors="replace") + "\n(timed out)\n")
        sys.exit(98)
    try:
        return os.read(fd, 1024)
    except OSError:
        return b""

for answer in answers:
    seen = b""
    while not seen.rstrip().endswith(b":"):
        data = read_some()
        if not data:
            break
        seen += data
    screen += seen
    os.write(fd, answer.encode() + b"\n")
while True:
    data = read_some()
    if not data:
        break
    screen += data
_, status = os.waitpid(pid, 0)
sys.stdout.write(screen.decode(errors="replace"))
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 99)
PY
    LAST_RC=$?
}

# ---- an HQ and one enrolled device -------------------------------------------------------
# setup_device [POST] : HQ home $HQ_HOME, post POST (default NAI), device home $DEV; sets
# $TOKEN and $HQ_FP (HQ's key fingerprint as mrf-hq init printed it). Returns non-zero if
# any step failed (the caller reports it).
HQ_HOME=$T/hq
DEV=$T/dev
export MRF_ESCROW_PASSPHRASE="escrow passphrase for tests"
export MRF_PASSPHRASE="device passphrase 1"
unset MRF_NEW_PASSPHRASE MRF_HOME MRF_HQ_HOME

hq() { "$MRF_HQ" --home "$HQ_HOME" "$@"; }
dev() { "$MRF" --home "$DEV" "$@"; }
# Tests with several devices keep each in $T/NAME:
D() { # D NAME ARGS... : mrf on the device in $T/NAME
    local h=$1
    shift
    "$MRF" --home "$T/$h" "$@"
}
dsql() { sqlite3 "$T/$1/post.db" "$2"; } # dsql NAME SQL : on that device's store
token() { "$MRF_HQ" --home "$HQ_HOME" enroll "$1" 2>/dev/null; } # token POST : a new token

setup_hq() {
    local post=${1:-NAI}
    run hq init --url https://127.0.0.1:9
    [ "$LAST_RC" -eq 0 ] || return 1
    HQ_FP=$(sed -n 's/.*HQ key fingerprint: *//p' "$OUT" | head -n 1)
    [ -n "$HQ_FP" ] || return 1
    run hq post add "$post" --kind bilateral
    [ "$LAST_RC" -eq 0 ] || return 1
    TOKEN=$(hq enroll "$post" 2>/dev/null) || return 1
    [ -n "$TOKEN" ]
}
setup_device() {
    setup_hq "$@" || return 1
    run dev init --token "$TOKEN"
    [ "$LAST_RC" -eq 0 ]
}

# pending : prints the device's pending change count (mrf status --json), or "error".
pending() {
    local f=$T/pending.json
    local n
    # Read without python (called around every refusal; python costs ~0.1 s a start).
    if "$MRF" --home "$DEV" status --json >"$f" 2>/dev/null; then
        n=$(tr -d ' \t\n' <"$f" | sed -n 's/.*"pending":\([0-9][0-9]*\).*/\1/p')
        echo "${n:-error}"
    else
        echo error
    fi
}

# snapshot : records pending and `mrf grant list --json`; unchanged NAME : checks that both are
# as recorded. (Any write to partners or themes adds to pending, so pending covers them.)
# The state unchanged() saw stays the snapshot until the next command runs (saves processes).
snapshot() {
    [ "$SNAP_SEQ" = "$RUN_SEQ" ] && return 0
    SNAP_PENDING=$(pending)
    dev grant list --json >"$T/snap-grants" 2>/dev/null
    SNAP_SEQ=$RUN_SEQ
}
unchanged() {
    local name=$1 now
    now=$(pending)
    dev grant list --json >"$T/now-grants" 2>/dev/null
    if [ "$now" != "$SNAP_PENDING" ]; then
        fail "$name" "pending changed from $SNAP_PENDING to $now"
    elif [ "$now" = error ]; then
        fail "$name" "mrf status --json failed"
    elif ! same_file "$T/snap-grants" "$T/now-grants"; then
        fail "$name" "grant list --json changed"
    else
        pass "$name"
    fi
    SNAP_PENDING=$now
    mv -f "$T/now-grants" "$T/snap-grants"
    SNAP_SEQ=$RUN_SEQ
}

# at OFFSET CMD... : runs CMD with the clock moved by OFFSET ("+3d"), with libfaketime
# preloaded straight (FAKETIME=OFFSET), not through the `faketime` wrapper: the wrapper keeps a
# POSIX semaphore named after its pid, which a kill -9 leaves behind, and a later wrapper that
# gets the same pid then fails ("sem_open: File exists"; seen in a CI run). AddressSanitizer
# wants to come first among preloads; libfaketime is harmless before it, so the sanitizer build
# is told not to insist.
LIBFAKETIME=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
at() {
    local off=$1
    shift
    [ -n "$LIBFAKETIME" ] || {
        echo "libfaketime.so.1 not found under /usr/lib/*/faketime/ (the faketime package)" >&2
        return 127
    }
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        LD_PRELOAD="$LIBFAKETIME${LD_PRELOAD:+:$LD_PRELOAD}" FAKETIME="$off" "$@"
}

# ---- a running HQ behind the recording proxy (tests/integration/hqproxy.py) ---------------
# free_port : a loopback TCP port that was free a moment ago.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS CMD... : polls CMD every 0.1 s until it succeeds; fails after SECONDS.
wait_for() {
    local n=$(($1 * 10))
    shift
    while ! "$@" 2>/dev/null; do
        n=$((n - 1))
        [ "$n" -gt 0 ] || return 1
        sleep 0.1
    done
}

# start_sync_hq : initialises HQ in $HQ_HOME with its URL on the proxy's port (devices reach HQ
# through the proxy, which serves HQ's own certificate) and starts `mrf-hq serve` on another
# free port. Sets PROXY_DIR, URL_PORT, HQ_PORT, PROXY_PID, HQ_PID; both pids are stopped on
# exit. Returns non-zero if anything failed to come up.
start_sync_hq() {
    PROXY_DIR=$T/proxy
    mkdir -p "$PROXY_DIR"
    HQ_PORT=$(free_port) || return 1
    python3 "$MRF_SRC/tests/integration/hqproxy.py" "$PROXY_DIR" "$HQ_HOME/tls/cert.pem" \
        "$HQ_HOME/tls/key.pem" "$HQ_PORT" 2>>"$T/proxy.log" &
    PROXY_PID=$!
    LIB_PIDS="$LIB_PIDS $PROXY_PID"
    wait_for 10 test -s "$PROXY_DIR/port" || return 1
    URL_PORT=$(cat "$PROXY_DIR/port")
    run hq init --url "https://127.0.0.1:$URL_PORT"
    [ "$LAST_RC" -eq 0 ] || return 1
    hq_start
}

# hq_start / hq_stop : start `mrf-hq serve` (waiting for its "serving" line) / stop it with
# SIGTERM and wait for it; hq_stop returns the server's exit status.
hq_start() {
    local before
    before=$(grep -c 'serving https' "$T/serve.log" 2>/dev/null)
    "$MRF_HQ" --home "$HQ_HOME" serve --listen "127.0.0.1:$HQ_PORT" ${HQ_SERVE_ARGS-} 2>>"$T/serve.log" &
    HQ_PID=$!
    LIB_PIDS="$LIB_PIDS $HQ_PID"
    wait_for 15 _lib_serving "${before:-0}"
}
_lib_serving() {
    kill -0 "$HQ_PID" && [ "$(grep -c 'serving https' "$T/serve.log")" -gt "$1" ]
}
hq_stop() {
    local rc
    kill -TERM "$HQ_PID" 2>/dev/null
    wait "$HQ_PID"
    rc=$?
    LIB_PIDS=${LIB_PIDS/ $HQ_PID/}
    return $rc
}

# proxy_mode MODE : what the proxy does with the next requests (see hqproxy.py).
proxy_mode() {
    printf '%s\n' "$1" >"$PROXY_DIR/mode.tmp" && mv -f "$PROXY_DIR/mode.tmp" "$PROXY_DIR/mode"
}

# hq_sql SQL : runs a read-only query on HQ's store.
hq_sql() { sqlite3 -readonly "$HQ_HOME/hq.db" "$1"; }

# finish : the closing line; exit status 1 if anything failed.
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0
    exit 1
}

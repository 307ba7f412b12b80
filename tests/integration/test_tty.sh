# The passphrase on a real terminal (a pseudo-terminal): asked twice at init with echo off, asked
# once to reveal, a wrong one is exit 6, and two entries that differ create nothing.
. "$(dirname "$0")/lib.sh"

setup_hq || {
    fail "setup" "could not set up HQ"
    finish
}
unset MRF_PASSPHRASE

# pty_run ANSWERS... -- CMD... : runs CMD on a pseudo-terminal, typing one answer per prompt;
# the screen goes to $OUT, the exit code to $LAST_RC.
pty_run() {
    python3 - "$@" >"$OUT" <<'PY'
import os, pty, sys, time
args = sys.argv[1:]
sep = args.index("--")
answers, cmd = args[:sep], args[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(cmd[0], cmd)
screen = b""
for answer in answers:
    seen = b""
    deadline = time.time() + 10
    while not seen.rstrip().endswith(b":") and time.time() < deadline:
        try:
            seen += os.read(fd, 1024)
        except OSError:
            break
    screen += seen
    os.write(fd, answer.encode() + b"\n")
while True:
    try:
        data = os.read(fd, 1024)
    except OSError:
        break
    if not data:
        break
    screen += data
_, status = os.waitpid(pid, 0)
sys.stdout.write(screen.decode(errors="replace"))
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 99)
PY
    LAST_RC=$?
}

pty_run "first entry 123" "second entry 456" -- "$MRF" --home "$DEV" init --token "$TOKEN"
check "tty init: two different entries refused (exit 3)" [ "$LAST_RC" -eq 3 ]
check "tty init: ... and nothing is created" empty_or_absent "$DEV"

pty_run "tty secret 123" "tty secret 123" -- "$MRF" --home "$DEV" init --token "$TOKEN"
check "tty init: asked twice, exit 0" [ "$LAST_RC" -eq 0 ]
check "tty init: prompts for the passphrase twice" [ "$(grep -c 'passphrase' "$OUT")" -ge 2 ]
check "tty init: the passphrase is not echoed" lacks "tty secret" "$OUT"

MRF_PASSPHRASE="tty secret 123" "$MRF" --home "$DEV" theme set 2026 HRD >/dev/null
"$MRF" --home "$DEV" partner add --name "Tty Partner Name" >/dev/null
pty_run "tty secret 123" -- "$MRF" --home "$DEV" partner list --reveal
check "tty reveal: right passphrase shows the name" has "Tty Partner Name" "$OUT"
check "tty reveal: ... exit 0" [ "$LAST_RC" -eq 0 ]
pty_run "not the passphrase" -- "$MRF" --home "$DEV" partner list --reveal
check "tty reveal: wrong passphrase is exit 6" [ "$LAST_RC" -eq 6 ]
check "tty reveal: ... and shows no name" lacks "Tty Partner Name" "$OUT"
check "tty reveal: ... nor echoes what was typed" lacks "not the passphrase" "$OUT"

finish

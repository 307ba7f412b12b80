# The passphrase on a real terminal (a pseudo-terminal): asked twice at init with echo off, asked
# once to reveal, a wrong one is exit 6, and two entries that differ create nothing.
. "$(dirname "$0")/lib.sh"

setup_hq || {
    fail "setup" "could not set up HQ"
    finish
}
unset MRF_PASSPHRASE

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

# kill -9 at random moments of `mrf grant add` and `mrf grant set`: afterwards the store is
# sound, every grant the program reported exists, and every row has exactly the outbox entries
# of its writes (never a write without its change, nor a change without its write).
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || {
    echo "sqlite3 (the CLI) is needed; scripts/install-deps.sh installs it" >&2
    exit 1
}

setup_device || {
    fail "setup" "could not set up HQ and a device"
    finish
}
dev theme set 2026 HRD >/dev/null
P=$(dev partner add --name "Crash Partner")
G0=$(dev grant add --partner "$P" --theme HRD --year 2026 --amount 1)

reported=$T/reported
: >"$reported"
killed=0
completed=0
for i in $(seq 1 60); do
    if [ $((i % 3)) -eq 0 ]; then
        "$MRF" --home "$DEV" grant set "$G0" --amount "$i.00" >/dev/null 2>&1 &
    else
        "$MRF" --home "$DEV" grant add --partner "$P" --theme HRD --year 2026 \
            --amount "$i.50" >"$T/code.$i" 2>/dev/null &
    fi
    pid=$!
    # somewhere between start-up and commit (a whole run takes a few milliseconds)
    sleep "0.00$((RANDOM % 9))"
    if kill -9 "$pid" 2>/dev/null; then
        killed=$((killed + 1))
    fi
    if wait "$pid" 2>/dev/null; then
        completed=$((completed + 1))
        [ -s "$T/code.$i" ] && cat "$T/code.$i" >>"$reported"
    fi
done
echo "# $killed processes were sent SIGKILL, $completed completed"

db=$DEV/post.db
check "store integrity after kill -9" [ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ]

missing=0
while read -r code; do
    n=$(sqlite3 "$db" "SELECT count(*) FROM grants WHERE code = '$code'")
    [ "$n" = 1 ] || missing=$((missing + 1))
done <"$reported"
check "every reported grant exists ($(wc -l <"$reported") reported)" [ "$missing" -eq 0 ]

# A new grant writes 7 columns (partner theme year amount currency status removed); each
# is pending in the outbox until a sync.
bad=$(sqlite3 "$db" "SELECT count(*) FROM grants g WHERE
    (SELECT count(*) FROM outbox o WHERE o.tbl = 2 AND o.id = g.id) <> 7")
check "every grant has exactly its 7 outbox entries" [ "$bad" = 0 ]
orphans=$(sqlite3 "$db" "SELECT count(*) FROM outbox o WHERE o.tbl = 2 AND
    NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = o.id)")
check "no outbox entry without its row" [ "$orphans" = 0 ]
clocks=$(sqlite3 "$db" "SELECT count(*) FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM clocks c
    WHERE c.tbl = o.tbl AND c.id = o.id AND c.col = o.col AND c.clock = o.clock)")
check "every outbox entry carries its column's current clock" [ "$clocks" = 0 ]
amount=$(sqlite3 "$db" "SELECT g.amount_cents = o.value FROM grants g JOIN outbox o
    ON o.tbl = 2 AND o.id = g.id AND o.col = 3 WHERE g.code = '$G0'")
check "the coalesced amount in the outbox is the stored amount" [ "$amount" = 1 ]
meta=$(sqlite3 "$db" "SELECT (SELECT clock FROM meta) >= (SELECT max(clock) FROM clocks)")
check "the device clock is past every column clock" [ "$meta" = 1 ]

run dev grant add --partner "$P" --theme HRD --year 2026 --amount 7
check "the device keeps working after the kills" [ "$LAST_RC" -eq 0 ]

finish

#!/usr/bin/env bash
# A full disk at HQ (issue 10): HQ's home on a 16 MiB tmpfs of its own (mounting it needs
# root, as the network-namespace tests do), a real `mrf-hq serve` behind the recording proxy
# and one device of post NAI.
#   - with the disk filled, GET /v1/health answers 503 disk_full;
#   - the device's sync exits 4 saying HQ answered disk_full, and keeps every pending change;
#   - HQ's log says the disk is full and names the device and the post of the change set it
#     could not store (never "cannot rollback - no transaction is active"), and HQ's store
#     holds nothing of it;
#   - once there is room, health still says disk_full until a change set is stored; the next
#     sync stores everything, and health answers ok again.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || {
    echo "curl is needed for GET /v1/health" >&2
    exit 1
}
if [ "$(id -u)" != 0 ]; then
    skip "a full disk at HQ" "mounting a small tmpfs needs root"
    finish
fi

FS=$T/fs
mkdir -p "$FS"
mount -t tmpfs -o size=16m,mode=700 tmpfs "$FS" || {
    fail "a 16 MiB tmpfs for HQ's home" "mount -t tmpfs failed"
    finish
}
_full_cleanup() {
    local p
    for p in $LIB_PIDS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    LIB_PIDS=""
    umount "$FS" 2>/dev/null || umount -l "$FS" 2>/dev/null
    _lib_cleanup
}
trap _full_cleanup EXIT
HQ_HOME=$FS/hq

start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
pass "HQ starts on a 16 MiB disk of its own"
run hq post add NAI --kind bilateral
expect_exit "device set up" 0 dev init --token "$(hq enroll NAI 2>/dev/null)"
dev theme set 2026 FOE WGR >/dev/null
P=$(dev partner add --name "Full Disk Org")
expect_exit "the device syncs" 0 dev sync --timeout 20
health() { curl -sk --max-time 10 -o "$T/health.txt" -w '%{http_code}' "https://127.0.0.1:$HQ_PORT/v1/health"; }
check "health answers ok" test "$(health)" = 200

dd if=/dev/zero of="$FS/filler" bs=64k 2>/dev/null # until the disk is full
check "the disk is full ($(df --output=avail -B1 "$FS" | tail -n 1) bytes free)" \
    test "$(df --output=avail -B1 "$FS" | tail -n 1)" -lt 65536
check "health answers 503" test "$(health)" = 503
check "and says disk_full" grep -q '^disk_full' "$T/health.txt"

for i in $(seq 1 60); do
    dev grant add --partner "$P" --theme FOE --year 2026 --amount "$((1000 + i))" \
        --note "notes that take room: $(printf 'x%.0s' $(seq 1 200))" >/dev/null
done
before=$(pending)
check "60 grants are pending ($before changes)" test "$before" -gt 60
grants_hq=$(hq_sql "SELECT count(*) FROM grants")
expect_exit "the device's sync exits 4 (HQ unreachable for now)" 4 dev sync --timeout 8
check "it says HQ answered disk_full" grep -q 'HQ answered HTTP 503 (disk_full)' "$ERR"
check "every pending change is kept ($before)" test "$(pending)" = "$before"
check "HQ's store holds nothing of it" test "$(hq_sql "SELECT count(*) FROM grants")" = "$grants_hq"
check "HQ's log says the disk is full and names the device and the post" \
    grep -Eq "ingest: HQ's disk is full: the change set of device [0-9a-f]{16} \(post NAI\) was not stored" \
    "$T/serve.log"
check "HQ's log never says only 'cannot rollback'" lacks "cannot rollback" "$T/serve.log"
check "the refused syncs are logged as disk_full" grep -q 'POST /v1/sync 503 .*verdict=disk_full' "$T/serve.log"

rm -f "$FS/filler"
check "with room again, health still says disk_full until a change set is stored" \
    test "$(health)" = 503
expect_exit "the next sync stores everything" 0 dev sync --timeout 20
check "the outbox is empty" test "$(pending)" = 0
check "HQ holds the 60 grants" test "$(hq_sql "SELECT count(*) FROM grants")" = "$((grants_hq + 60))"
check "health answers ok again" test "$(health)" = 200
check "HQ is still running" kill -0 "$HQ_PID"
expect_exit "HQ stops cleanly" 0 hq_stop
finish

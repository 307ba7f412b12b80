#!/usr/bin/env bash
# Randomized, seeded convergence of real devices and a real HQ: a thin wrapper around
# tests/integration/converge.py (read its header for what is covered and how it counts).
# It starts `mrf-hq serve` behind the recording proxy (lib.sh start_sync_hq), runs the driver,
# and turns the driver's "ok - ..." / "not ok - ..." lines into this test's result.
#   - two posts, five devices, clocks a year ahead, a year behind and ~5000 years ahead
#     (MRF_CONVERGE_SKEW=none|year|all, default all);
#   - random offline operations, concurrent edits of one column on two devices, random syncs
#     in random orders, lost answers, HQ holding or unreachable, `mrf sync` killed with -9,
#     HQ allocations;
#   - concurrent edits of one grant's amount or status on two devices of a post (different
#     values, sometimes the same), concurrent theme choices, and HQ resolving random open
#     conflict records (--accept, --take A|B, --set) with a reason;
#   - at the end every device holds exactly HQ's rows and column clocks of its post and
#     nothing of another, nothing was lost or applied twice (counted on both sides: a device
#     drops no write, one a pull beats is set aside and sent), nothing is quarantined, every
#     created row is at HQ; every concurrent differing edit HQ received has exactly one value
#     record and no value record lacks one (checked sync by sync and change set by change
#     set against the devices' outboxes, theme sets against what each change set had seen);
#     no side of a concurrent pair is lost; every decision reached every device of its post
#     with its reason; `mrf-hq audit verify` holds.
# Reproduce a failure with the seed it prints:
#   MRF_SEED=N MRF_BIN=$PWD/build/mrf MRF_HQ_BIN=$PWD/build/mrf-hq MRF_SRC=$PWD \
#       bash tests/integration/test_converge.sh
# Size: MRF_CONVERGE_STEPS (default 200), MRF_CONVERGE_FAULTS (default 0.3).
. "$(dirname "$0")/lib.sh"

start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
pass "HQ starts behind the proxy"

python3 "$MRF_SRC/tests/integration/converge.py" "$T" "$HQ_HOME" "$PROXY_DIR" \
    >"$T/driver.out" 2>"$T/driver.err" </dev/null
drc=$?
cat "$T/driver.out"
[ -s "$T/driver.err" ] && sed 's/^/# driver stderr: /' "$T/driver.err"
passed=$((passed + $(grep -c '^ok - ' "$T/driver.out")))
failed=$((failed + $(grep -c '^not ok - ' "$T/driver.out")))
seed=$(sed -n 's/^seed: //p' "$T/driver.out" | head -n 1)
if [ "$drc" -ne 0 ] && ! grep -q '^not ok - ' "$T/driver.out"; then
    fail "the driver" "exit $drc without saying what failed (seed ${seed:-unknown})"
fi
if ! grep -q '^driver: ' "$T/driver.out"; then
    fail "the driver ran to its end" "no closing line (seed ${seed:-unknown})"
fi
check "mrf-hq serve stops cleanly at the end" hq_stop
[ "$failed" -eq 0 ] || echo "# reproduce: MRF_SEED=${seed:-?} MRF_CONVERGE_STEPS=${MRF_CONVERGE_STEPS:-200}" \
    "MRF_CONVERGE_FAULTS=${MRF_CONVERGE_FAULTS:-0.3} MRF_CONVERGE_SKEW=${MRF_CONVERGE_SKEW:-all}" \
    "MRF_BIN=$MRF MRF_HQ_BIN=$MRF_HQ MRF_SRC=$MRF_SRC bash $0"
finish

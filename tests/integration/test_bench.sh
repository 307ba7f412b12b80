#!/usr/bin/env bash
# The benchmarks keep working, not only compiling: bench/run.sh in its smoke mode runs every
# benchmark program of bench/ at a small size against the programs of this build (a real
# `mrf-hq serve`, real devices, the slow-link relay, HQ ingest in process) and fails if any of
# them did not do what it measures (an op not sent, a change set refused, a program that
# crashed). No figure is judged here; docs/BENCHMARKS.md is not touched.
. "$(dirname "$0")/lib.sh"

bin=$(dirname "$MRF_BIN")
missing=""
for b in bench_cli bench_rss bench_ingest bench_outbox bench_syncmem bench_report bench_audit bench_device; do
    [ -x "$bin/$b" ] || missing="$missing $b"
done
if [ -n "$missing" ]; then
    fail "the benchmark programs are built" \
        "missing in $bin:$missing; build them with: cmake --build $bin --target benches"
    finish
fi
pass "the benchmark programs are built"

run env MRF_BENCH_SMOKE="$bin" timeout 300 bash "$MRF_SRC/bench/run.sh"
if [ "$LAST_RC" -eq 0 ]; then
    pass "bench/run.sh runs every benchmark (smoke size)"
else
    fail "bench/run.sh runs every benchmark (smoke size)" "exit $LAST_RC"
    tail -n 15 "$ERR" | sed 's/^/#   /'
fi
check "... and prints its figures" grep -q '^ingest_new_ops_per_s=' "$OUT"
check "... the audit verify figures" grep -q '^audit_verify_ms_per_1000=' "$OUT"
check "... and the report figures" grep -q '^report_ratio_to_aggregate=' "$OUT"
if [ "$(id -u)" -eq 0 ]; then
    check "... and the satellite-link figures (bench/link.sh)" grep -q '^link_pull1k_ratio=' "$OUT"
else
    skip "... and the satellite-link figures (bench/link.sh)" "needs root for its network namespaces"
fi

check "... and the device figures" grep -q '^outbox_ratio_cpu_per_op_largest_to_smallest=' "$OUT"
check "... and leaves docs/BENCHMARKS.md alone" git -C "$MRF_SRC" diff --quiet -- docs/BENCHMARKS.md
finish

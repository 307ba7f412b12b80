#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS_PER_TARGET] — builds the libFuzzer targets of fuzz/ with clang in
# build-fuzz (-DMRF_FUZZ=ON: ASan, UBSan, coverage), replays every checked-in seed
# (fuzz/corpus/<target>/) and regression input (fuzz/regress/<target>/) through its target,
# then fuzzes each target for SECONDS_PER_TARGET seconds (default 600), from a working corpus
# (build-fuzz/corpus/<target>/, seeded from fuzz/corpus; FUZZ_WORK=DIR puts it elsewhere).
# FUZZ_JOBS=2 runs two targets at a time (default 1); FUZZ_TARGETS="a b" picks targets.
# A crash, leak, UBSan report, timeout or memory blow-up is written to
# build-fuzz/crashes/<target>/ (the path is printed) and makes the script exit 1. Reproduce
# one with `build-fuzz/fuzz/fuzz_<target> FILE`; keep it in fuzz/regress/<target>/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-600}
jobs=${FUZZ_JOBS:-1}
dir=build-fuzz
work=${FUZZ_WORK:-$dir/corpus}
crashes=$dir/crashes
logs=$dir/logs
case "$secs" in '' | *[!0-9]*)
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2
    exit 2
    ;;
esac

echo "fuzz: building $dir (clang, libFuzzer, ASan+UBSan)"
CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMRF_FUZZ=ON -DMRF_WERROR=ON \
    >/dev/null
cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)" --target fuzz >/dev/null

if [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    targets=()
    for f in fuzz/fuzz_*.c; do
        t=${f#fuzz/fuzz_}
        targets+=("${t%.c}")
    done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$crashes" "$logs"
failed=0

# The checked-in inputs first: a regression that comes back fails here, in seconds.
for t in "${targets[@]}"; do
    inputs=()
    for d in "fuzz/corpus/$t" "fuzz/regress/$t"; do
        [ -d "$d" ] && inputs+=("$d")
    done
    [ ${#inputs[@]} -gt 0 ] || continue
    if ! "$dir/fuzz/fuzz_$t" -runs=0 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$crashes/$t-replay-" "${inputs[@]}" >"$logs/$t-replay.log" 2>&1; then
        echo "fuzz: $t: a checked-in input fails (log: $logs/$t-replay.log):" >&2
        grep -E "^(==[0-9]+==ERROR|SUMMARY|fuzz:)|runtime error|Running:" "$logs/$t-replay.log" |
            tail -n 5 >&2 || true
        failed=1
    else
        echo "fuzz: $t: $(find "${inputs[@]}" -type f | wc -l) checked-in inputs replayed"
    fi
done
[ "$secs" -gt 0 ] || exit "$failed"

# A figure of libFuzzer's final stats (-print_final_stats) in the log of target $t.
stat_of() {
    sed -n "s/^stat::$1: *//p" "$logs/$t.log" | head -n 1
}

# One target: fuzz for secs seconds; a finding leaves its input in $crashes/$t/.
run_one() {
    local t=$1 corpus=$work/$1 seeds=()
    mkdir -p "$corpus" "$crashes/$t"
    [ -d "fuzz/corpus/$t" ] && seeds+=("fuzz/corpus/$t")
    [ -d "fuzz/regress/$t" ] && seeds+=("fuzz/regress/$t")
    if "$dir/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$crashes/$t/" "$corpus" "${seeds[@]}" \
        >"$logs/$t.log" 2>&1; then
        echo "fuzz: $t: ${secs}s, $(stat_of number_of_executed_units) runs," \
            "$(stat_of average_exec_per_sec) execs/s, peak RSS $(stat_of peak_rss_mb) MB," \
            "corpus $(find "$corpus" -type f | wc -l) inputs"
        return 0
    fi
    echo "fuzz: $t: FOUND a problem (log: $logs/$t.log)" >&2
    grep -E "^(==[0-9]+==ERROR|SUMMARY)|runtime error|^fuzz:" "$logs/$t.log" | head -n 3 >&2 || true
    grep -o "Test unit written to .*" "$logs/$t.log" | sed 's/^Test unit written to /fuzz: reproducer: /' >&2 ||
        true
    return 1
}

echo "fuzz: ${#targets[@]} targets, ${secs}s each, $jobs at a time (logs in $logs/)"
pids=()
names=()
for t in "${targets[@]}"; do
    run_one "$t" &
    pids+=($!)
    names+=("$t")
    if [ ${#pids[@]} -ge "$jobs" ]; then
        wait "${pids[0]}" || failed=1
        pids=("${pids[@]:1}")
        names=("${names[@]:1}")
    fi
done
for p in "${pids[@]}"; do
    wait "$p" || failed=1
done
if [ "$failed" -ne 0 ]; then
    echo "fuzz: FAILED: see the reproducers above (build-fuzz/crashes/)" >&2
fi
exit "$failed"

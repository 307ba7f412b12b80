#!/usr/bin/env bash
# Installs what is missing, builds mrf twice (plain, and with AddressSanitizer +
# UndefinedBehaviorSanitizer), checks the code format, and runs every test with ctest in both
# builds; then builds it a third time as packagers do (Release, -O3), without running the
# tests, since -O3 brings warnings of its own. Warnings are errors in all three (MRF_WERROR).
# Last, the fuzz targets (clang, libFuzzer): every checked-in seed and regression input is
# replayed, then each target fuzzes for 10 seconds from a fresh working corpus.
# Fails loudly on the first broken step; ctest's per-test timeouts keep it from hanging.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)

echo "== format (clang-format, .clang-format)"
mapfile -t sources < <(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
clang-format --dry-run --Werror "${sources[@]}"

echo "== static analysis (cppcheck)"
cppcheck -j "$jobs" --quiet --error-exitcode=1 --enable=warning,portability --std=c11 \
    -I common -I crypto -I sync -I schema -I web -I client -I hq -I bench \
    --include=/usr/include/cjson/cJSON.h \
    common crypto sync schema web client hq bench fuzz

for variant in plain asan; do
    dir=build
    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMRF_WERROR=ON)
    if [ "$variant" = asan ]; then
        dir=build-asan
        flags=(-DCMAKE_BUILD_TYPE=Debug -DMRF_SANITIZE=ON -DMRF_WERROR=ON)
    fi
    echo "== build ($variant)"
    cmake -S . -B "$dir" "${flags[@]}" >/dev/null
    cmake --build "$dir" -j "$jobs"
    cmake --build "$dir" -j "$jobs" --target benches # tests/integration/test_bench.sh runs them
    echo "== tests ($variant)"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir "$dir" --output-on-failure --timeout 600 -j "$jobs"
done
echo "== build (release: -O3, build only)"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DMRF_WERROR=ON >/dev/null
cmake --build build-release -j "$jobs" --target all benches
echo "== fuzz (replay the corpus, then 10 s per target)"
fuzz_work=$(mktemp -d)
FUZZ_JOBS=$jobs FUZZ_WORK="$fuzz_work" ./scripts/fuzz.sh 10 || {
    rm -rf "$fuzz_work"
    exit 1
}
rm -rf "$fuzz_work"
echo "== all tests passed (plain and sanitizer builds; release build clean; fuzz targets clean)"

#!/usr/bin/env bash
# Runs the benchmarks on this machine and rewrites docs/BENCHMARKS.md with the figures.
# Figures, never pass/fail. usage: bench/run.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}

./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target mrf mrf-hq bench_cli >/dev/null

work=$(mktemp -d /tmp/mrf-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export MRF_ESCROW_PASSPHRASE="bench escrow passphrase" MRF_PASSPHRASE="bench device passphrase"
./build/mrf-hq --home "$work/hq" init --url https://127.0.0.1:9 >/dev/null
./build/mrf-hq --home "$work/hq" post add NAI --kind bilateral >/dev/null
token=$(./build/mrf-hq --home "$work/hq" enroll NAI 2>/dev/null)
./build/mrf --home "$work/dev" init --token "$token" >/dev/null
./build/mrf --home "$work/dev" theme set 2026 HRD >/dev/null
partner=$(./build/mrf --home "$work/dev" partner add --name "Bench Partner")

out=$(./build/bench_cli "$PWD/build/mrf" "$work/dev" "$partner" "$runs")
echo "$out"
get() { echo "$out" | sed -n "s/^$1=//p"; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
fs=$(df -T /tmp | awk 'NR==2 {print $2}')
cat > docs/BENCHMARKS.md <<MD
# Benchmarks

Measured by \`bench/run.sh $runs\` on $(date -u +%Y-%m-%d): $(nproc) cores ($cpu), /tmp on $fs.
Figures are this machine's; ratios put them against its own floors. Nothing here is asserted in
a test.

## \`mrf grant add\` as a whole process

| what | median of $runs runs |
|---|---|
| \`mrf grant add\` (fork, exec, open store, rules, ~10 captured column writes, durable commit) | $(get mrf_grant_add_median_ms) ms |
| floor: fork + exec of \`/bin/true\` | $(get floor_spawn_true_median_ms) ms |
| floor: one durable SQLite commit of one row (WAL, synchronous=FULL) | $(get floor_sqlite_durable_commit_median_ms) ms |
| **ratio** grant add / (spawn + commit) | **$(get ratio_to_spawn_plus_commit)** |

Target (sync issue): ≤ 15 ms. Sync, ingest, wire-size and memory benchmarks arrive with the sync
work.
MD
echo "wrote docs/BENCHMARKS.md"

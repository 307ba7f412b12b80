#!/usr/bin/env bash
# Times a wrong passphrase against the duress passphrase (docs/DECISIONS.md, "Duress, failed
# unlocks and remote wipe"): `mrf partner list --reveal` as a whole process, RUNS times each,
# interleaved, each on a fresh copy of one device home that has a duress passphrase set, and
# prints the figures as a Markdown section (bench/run.sh appends it to docs/BENCHMARKS.md).
# A figure, not a test: tests/integration/test_duress.sh asserts only a generous bound.
# usage: bench/duress.sh BUILD_DIR [RUNS]   (RUNS default 20)
set -euo pipefail
B=$(cd "${1:?give the build directory holding mrf and mrf-hq}" && pwd)
runs=${2:-20}
work=$(mktemp -d /tmp/mrf-duress.XXXXXX)
trap 'rm -rf "$work"' EXIT
export MRF_ESCROW_PASSPHRASE="bench escrow passphrase" MRF_PASSPHRASE="bench device passphrase"
unset MRF_OFFICER_PASSPHRASE
"$B/mrf-hq" --home "$work/hq" init --url https://127.0.0.1:9 >/dev/null
"$B/mrf-hq" --home "$work/hq" post add NAI --kind bilateral >/dev/null
token=$("$B/mrf-hq" --home "$work/hq" enroll NAI 2>/dev/null)
"$B/mrf" --home "$work/armed" init --token "$token" >/dev/null
"$B/mrf" --home "$work/armed" partner add --name "Bench Partner" >/dev/null
MRF_DURESS_PASSPHRASE="bench duress passphrase" "$B/mrf" --home "$work/armed" passwd --duress >/dev/null
python3 - "$B/mrf" "$work" "$runs" <<'PY'
import os, shutil, statistics, subprocess, sys, time
mrf, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
kinds = (("right", "bench device passphrase", 0), ("wrong", "not the passphrase", 6),
         ("duress", "bench duress passphrase", 6))
t = {k: [] for k, _, _ in kinds}
for _ in range(runs):
    for kind, pw, want in kinds:
        home = f"{work}/try"
        shutil.rmtree(home, ignore_errors=True)
        shutil.copytree(f"{work}/armed", home, symlinks=True)
        env = dict(os.environ, MRF_PASSPHRASE=pw)
        t0 = time.perf_counter()
        rc = subprocess.run([mrf, "--home", home, "partner", "list", "--reveal"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        t[kind].append((time.perf_counter() - t0) * 1000)
        if rc != want:
            sys.exit(f"{kind}: exit {rc}, want {want}")
med = {k: statistics.median(v) for k, v in t.items()}
q = {k: statistics.quantiles(v, n=4) for k, v in t.items()}
print("## Duress passphrase against a wrong one (bench/duress.sh)\n")
print(f"`mrf partner list --reveal` as a whole process, {runs} runs of each, interleaved, each on a")
print("fresh copy of one device home with a duress passphrase set. The duress try destroys the")
print("keystore and writes a decoy; the wrong try writes and destroys a scratch file of the same")
print("size: the same file work, one Argon2id derivation each.\n")
print("| passphrase | median | quartiles | exit |")
print("|---|---|---|---|")
for kind, _, want in kinds:
    print(f"| {kind} | {med[kind]:.1f} ms | {q[kind][0]:.1f}–{q[kind][2]:.1f} ms | {want} |")
d = med["duress"] - med["wrong"]
print(f"\n**duress − wrong: {d:+.1f} ms ({d / med['wrong'] * 100:+.1f}% of the wrong try's median)**;")
print("the spread of either (its interquartile range) is "
      f"{q['wrong'][2] - q['wrong'][0]:.1f} ms and {q['duress'][2] - q['duress'][0]:.1f} ms.")
print("test_duress.sh asserts only |duress − wrong| ≤ 30% + 40 ms of the wrong median (7 runs).")
PY

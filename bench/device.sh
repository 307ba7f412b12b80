#!/usr/bin/env bash
# bench/device.sh BUILD_DIR [--markdown] [--smoke] : the device's costs against the size of its
# store (issue 11, "The device"), each beside its small-size twin measured in the same run:
#   1. `mrf sync` of a large outbox (bench/bench_outbox.c fills it as capture would) at 10k,
#      100k and 700k pending ops, a fresh HQ (`mrf-hq serve` on loopback, hourly bound lifted)
#      and device for each: the sync's wall time and the device process's CPU time per op
#      (bench/bench_device.c times the sync inside the process, so the passphrase's fixed cost
#      is not spread over the ops; HQ's ingest is in the wall time, not in the CPU time);
#   2. the post store after that sync: bytes per grant, by table and index (dbstat), free pages;
#   3. `mrf export --format csv` per row at 1k grants x 100 partners, 10k x 1k, 100k x 10k;
#   4. every listing (grant list, partner list, allocation, status, conflicts) as a whole
#      process at 1k / 10k / 100k rows, output to /dev/null.
# Stores of 3 and 4 are filled in SQL by bench_device fill (rows as capture leaves them; every
# partner's name sealed as `mrf partner add` seals it). Prints key=value lines; with --markdown
# the section of docs/BENCHMARKS.md (the key=value lines then go to stderr). --smoke: tiny
# sizes, a few seconds (tests/integration/test_bench.sh through bench/run.sh). Figures only:
# it fails only if something did not work.
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
shift || true
md="" smoke=""
for a in "$@"; do
    case $a in
    --markdown) md=1 ;;
    --smoke) smoke=1 ;;
    *) echo "usage: bench/device.sh BUILD_DIR [--markdown] [--smoke]" >&2; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.."
out_sizes="10000 100000 700000"
list_sizes="1000 10000 100000"
runs=3
if [ -n "$smoke" ]; then
    out_sizes="700 1400" list_sizes="100 200" runs=1
fi

work=$(mktemp -d /tmp/mrf-bench-device.XXXXXX)
hq_pid=""
stop_hq() {
    if [ -n "$hq_pid" ]; then
        kill -TERM "$hq_pid" 2>/dev/null || true
        wait "$hq_pid" 2>/dev/null || true
        hq_pid=""
    fi
}
cleanup() {
    stop_hq
    rm -rf "$work"
}
trap cleanup EXIT
export MRF_ESCROW_PASSPHRASE="bench escrow passphrase" MRF_PASSPHRASE="bench device passphrase"
say() { printf '%s\n' "$*" >&2; }
kv() { sed -n "s/^$2=//p" <<<"$1"; }

# start_hq DIR : a fresh HQ in DIR serving on a free loopback port, one post NAI (sets hq_pid)
start_hq() {
    local dir=$1 port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$B/mrf-hq" --home "$dir" init --url "https://127.0.0.1:$port" >/dev/null
    "$B/mrf-hq" --home "$dir" post add NAI --kind bilateral >/dev/null
    # what is measured is the sync, not the hourly bound (docs/DECISIONS.md, "Volume bounds")
    "$B/mrf-hq" --home "$dir" limits set --per-hour 100000000 >/dev/null
    "$B/mrf-hq" --home "$dir" serve --listen "127.0.0.1:$port" 2>"$dir.log" &
    hq_pid=$!
    for _ in $(seq 150); do
        grep -q 'serving https' "$dir.log" 2>/dev/null && return 0
        kill -0 "$hq_pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$dir.log" >&2
    say "mrf-hq serve did not come up"
    exit 1
}

# store_stats DB : bytes of the file, free pages' bytes, and bytes per table or index (dbstat)
store_stats() {
    python3 - "$1" <<'PY'
import os, sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
page = c.execute("PRAGMA page_size").fetchone()[0]
print("file=%d" % os.path.getsize(sys.argv[1]))
print("free=%d" % (c.execute("PRAGMA freelist_count").fetchone()[0] * page))
print("grants=%d" % c.execute("SELECT count(*) FROM grants").fetchone()[0])
for name, size in c.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"):
    print("t_%s=%d" % (name, size))
PY
}

# ---- 1 and 2: the outbox sync, and the store it leaves --------------------------------------
OUTBOX="" # size|sync ms|cpu ms|close ms|changesets|requests|file|free|grants|tables
# The sizes up to 100,000 ops take a few seconds: each is synced three times (a fresh HQ and
# device each time; seven up to 10,000 ops, the tenth of a second every ratio is divided by)
# and the run of median device CPU kept, so one busy moment of this machine does not make the
# ratios; 700,000 once (a minute). Every run leaves the same store: its figures are the last
# run's.
for n in $out_sizes; do
    syncs=3
    if [ "$n" -le 10000 ]; then syncs=7; fi
    if [ "$n" -gt 100000 ] || [ -n "$smoke" ]; then syncs=1; fi
    picks=""
    for run in $(seq "$syncs"); do
        say "device: sync of a $n-op outbox ($run of $syncs)"
        d=$work/out$n
        start_hq "$d-hq"
        "$B/mrf" --home "$d" init --token "$("$B/mrf-hq" --home "$d-hq" enroll NAI 2>/dev/null)" >/dev/null
        "$B/mrf" --home "$d" theme set 2026 HRD >/dev/null
        "$B/mrf" --home "$d" partner add --name "Bench Partner" >/dev/null
        "$B/mrf" --home "$d" sync >/dev/null # enrols; the theme and the partner go
        "$B/bench_outbox" "$d/post.db" "$n" >/dev/null
        r=$("$B/bench_device" sync "$d")
        stop_hq
        [ "$(kv "$r" sent)" -eq "$n" ] || { say "the $n-op sync sent $(kv "$r" sent) ops"; exit 1; }
        picks="$picks$(kv "$r" sync_cpu_ms) $(echo "$r" | tr '\n' ' ')
"
        if [ "$run" -lt "$syncs" ]; then rm -rf "$d" "$d-hq"; fi
    done
    # the median run by device CPU (its whole output, one line, back into lines)
    r=$(printf '%s' "$picks" | sort -n | sed -n "$(( (syncs + 1) / 2 ))p" | cut -d' ' -f2- | tr ' ' '\n')
    s=$(store_stats "$d/post.db")
    tables=$(sed -n 's/^t_//p' <<<"$s" | tr '\n' ' ')
    OUTBOX="$OUTBOX$n|$(kv "$r" sync_ms)|$(kv "$r" sync_cpu_ms)|$(kv "$r" close_ms)|$(kv "$r" changesets)|$(kv "$r" requests)|$(kv "$s" file)|$(kv "$s" free)|$(kv "$s" grants)|$tables
"
    rm -rf "$d" "$d-hq"
done

# ---- 3 and 4: export and listings over stores filled in SQL ---------------------------------
say "device: a device to copy for the listings"
base=$work/base
start_hq "$base-hq"
"$B/mrf" --home "$base" init --token "$("$B/mrf-hq" --home "$base-hq" enroll NAI 2>/dev/null)" >/dev/null
stop_hq
"$B/mrf" --home "$base" theme set 2026 HRD >/dev/null
"$B/mrf" --home "$base" partner add --name "Bench Partner" >/dev/null

# timed HOME ARGS... : median wall ms of RUNS runs of `mrf --home HOME ARGS` (stdout to
# /dev/null), fails if one fails
timed() {
    python3 - "$runs" "$B/mrf" --home "$@" <<'PY'
import statistics, subprocess, sys, time
runs, argv = int(sys.argv[1]), sys.argv[2:]
t = []
for _ in range(runs):
    t0 = time.monotonic()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
    t.append((time.monotonic() - t0) * 1000)
print("%.1f" % statistics.median(t))
PY
}

EXPORT="" # grants|partners|rows|ms|reveal ms
LISTS=""  # rows|grant list|partner list|allocation|status|conflicts --all (ms)
for n in $list_sizes; do
    p=$((n / 10))
    say "device: export of $n grants x $p partners"
    h=$work/exp$n
    cp -a "$base" "$h"
    "$B/bench_device" fill "$h" "$n" "$p" 0 >/dev/null
    "$B/mrf" --home "$h" status >/dev/null # brings the copy's store up to date, as any command
    rows=$("$B/mrf" --home "$h" export --format csv | wc -l)
    ms=$(timed "$h" export --format csv)
    rms=$(timed "$h" export --format csv --reveal)
    EXPORT="$EXPORT$n|$p|$((rows - 1))|$ms|$rms
"
    rm -rf "$h"

    say "device: listings at $n rows"
    h=$work/list$n
    cp -a "$base" "$h"
    "$B/bench_device" fill "$h" "$n" "$n" "$n" >/dev/null
    LISTS="$LISTS$n|$(timed "$h" grant list)|$(timed "$h" partner list)|$(timed "$h" allocation 2026)|$(timed "$h" status)|$(timed "$h" conflicts --all)
"
    rm -rf "$h"
done

printf '%s' "$OUTBOX" >"$work/outbox"
printf '%s' "$EXPORT" >"$work/export"
printf '%s' "$LISTS" >"$work/lists"
python3 - "$work" "$md" <<'PY'
import sys
work, md = sys.argv[1], sys.argv[2]
def rows(name):
    return [l.split("|") for l in open(f"{work}/{name}").read().splitlines() if l]
out, exp, lst = rows("outbox"), rows("export"), rows("lists")
kv = []
for n, ms, cpu, close, sets, req, file, free, grants, tables in out:
    n = int(n)
    kv += [(f"outbox_{n}_sync_us_per_op", float(ms) * 1000 / n),
           (f"outbox_{n}_cpu_us_per_op", float(cpu) * 1000 / n),
           (f"outbox_{n}_close_ms", float(close)),
           (f"outbox_{n}_changesets", int(sets)),
           (f"store_{n}_grants", int(grants)),
           (f"store_{n}_bytes_per_grant", int(file) / int(grants)),
           (f"store_{n}_free_bytes_per_grant", int(free) / int(grants))]
first, last = out[0], out[-1]
wall = lambda r: float(r[1]) / int(r[0])
cpu = lambda r: float(r[2]) / int(r[0])
kv += [("outbox_ratio_sync_per_op_largest_to_smallest", wall(last) / wall(first)),
       ("outbox_ratio_cpu_per_op_largest_to_smallest", cpu(last) / cpu(first))]
for g, p, r, ms, rms in exp:
    kv += [(f"export_{g}x{p}_us_per_row", float(ms) * 1000 / int(r)),
           (f"export_{g}x{p}_reveal_us_per_row", float(rms) * 1000 / int(r))]
per_row = lambda r, i: float(r[i]) * 1000 / int(r[0])
kv += [("export_ratio_per_row_largest_to_smallest",
        (float(exp[-1][3]) / int(exp[-1][2])) / (float(exp[0][3]) / int(exp[0][2])))]
names = ["grant_list", "partner_list", "allocation", "status", "conflicts_all"]
for r in lst:
    for i, name in enumerate(names, 1):
        kv.append((f"list_{r[0]}_{name}_ms", float(r[i])))
for i, name in enumerate(names, 1):
    kv.append((f"list_ratio_{name}_per_row_largest_to_smallest",
               per_row(lst[-1], i) / per_row(lst[0], i)))
for k, v in kv: # with --markdown to stderr, so bench/run.sh's console shows them too
    print("%s=%s" % (k, ("%.2f" % v) if isinstance(v, float) else v),
          file=sys.stderr if md else sys.stdout)
if not md:
    sys.exit(0)

def tables(r):
    parts = dict(t.split("=") for t in r[9].split())
    return parts
print("## The device (bench/device.sh)")
print()
print("`bash bench/device.sh build-bench --markdown`. Each size on a fresh HQ (`mrf-hq serve` on")
print("loopback, hourly bound lifted) and device; the outbox filled by bench/bench_outbox.c as")
print("capture leaves it, then one sync timed inside the process by bench/bench_device.c (after")
print("the unlock; \"device CPU\" is the device process's own CPU time, HQ's ingest is in the")
print("wall time only; \"close\" returns the pages the acknowledged outbox freed). Up to 100,000")
print("ops each size is synced three times (seven up to 10,000), from a fresh HQ and device, and")
print("the run of median device CPU is shown: a 10,000-op sync takes a tenth of a second, which one")
print("busy moment of this machine moved by a third from run to run (1.10 to 1.37 for the ratio at")
print("700,000 with three runs).")
print()
print("| pending ops | change sets | sync µs/op (wall) | x smallest | device CPU µs/op | x smallest | close ms |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for r in out:
    print("| %s | %s | %.1f | %.2f | %.1f | %.2f | %s |" % (
        f"{int(r[0]):,}", r[4], wall(r) * 1000, wall(r) / wall(first), cpu(r) * 1000,
        cpu(r) / cpu(first), r[3]))
print()
print("No outbox statement scans the outbox any more (post store 8, `outbox_frozen`). Each frozen")
print("entry leaves `outbox_pending`, the unique index capture coalesces pending writes with, keyed")
print("by random row ids; once HQ has answered, a sync freezes some 32,000 ops (many change sets)")
print("in one transaction, so each page of that index is written once per freeze, not once per")
print("change set (docs/DECISIONS.md, \"One freeze for many change sets\"). What per-op growth is")
print("left is that index outgrowing SQLite's 2 MiB page cache: the pages a freeze touches are read")
print("back and written again as they spill, bounded per op whatever the outbox.")
print()
print("The post store after that sync, bytes per grant (dbstat; the file after the close):")
print()
groups = [("clocks", lambda k: k in ("clocks", "clock_rows", "writers")), ("grants (rows)", lambda k: k == "grants"),
          ("grants' 3 indexes", lambda k: k.startswith("grants_") or k == "sqlite_autoindex_grants_1"),
          ("outbox and its indexes", lambda k: k.startswith("outbox"))]
print("| grants | file | free pages | " + " | ".join(g for g, _ in groups) + " | everything else |")
print("|---:|---:|---:|" + "---:|" * len(groups) + "---:|")
for r in out:
    t, g = tables(r), int(r[8])
    sums = [sum(int(v) for k, v in t.items() if f(k)) for _, f in groups]
    other = sum(int(v) for v in t.values()) - sum(sums)
    print("| %s | %.0f | %.0f | " % (f"{g:,}", int(r[6]) / g, int(r[7]) / g) +
          " | ".join("%.0f" % (v / g) for v in sums) + " | %.0f |" % (other / g))
print()
print("`mrf export --format csv` as a whole process (median of 3, output to /dev/null), stores")
print("filled by `bench_device fill` (a tenth of the partners without grants, one in fifty")
print("removed, one grant in twenty removed; every partner's name sealed as `mrf partner add`")
print("seals it, so --reveal opens each one):")
print()
print("| grants x partners | CSV rows | ms | µs/row | x smallest | --reveal ms | --reveal µs/row |")
print("|---|---:|---:|---:|---:|---:|---:|")
base = float(exp[0][3]) / int(exp[0][2])
for g, p, r, ms, rms in exp:
    print("| %s x %s | %s | %s | %.2f | %.2f | %s | %.2f |" % (
        f"{int(g):,}", f"{int(p):,}", f"{int(r):,}", ms, float(ms) * 1000 / int(r),
        float(ms) / int(r) / base, rms, float(rms) * 1000 / int(r)))
print()
print("Every listing as a whole process (median of 3, output to /dev/null) over a store of N")
print("grants, N partners and N conflict records (one in ten open); µs per row, then the ratio")
print("of the per-row time at the largest size to the smallest:")
print()
print("| rows | grant list | partner list | allocation 2026 | status | conflicts --all |")
print("|---:|---:|---:|---:|---:|---:|")
for r in lst:
    print("| %s | " % f"{int(r[0]):,}" + " | ".join(
        "%s ms (%.2f µs/row)" % (r[i], per_row(r, i)) for i in range(1, 6)) + " |")
print("| per row, largest / smallest | " + " | ".join(
    "%.2f" % (per_row(lst[-1], i) / per_row(lst[0], i)) for i in range(1, 6)) + " |")
PY

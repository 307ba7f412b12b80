#!/usr/bin/env bash
# bench/hqscale.sh BUILD_DIR [--markdown] [SIZES] : how HQ's costs grow with its store. One HQ
# store per size (ops in the oplog; default 10k, 100k and 1M), each filled with the fund's
# new-grant change sets through hq_ingest() itself (bench_ingest --scale --posts 84: the 84
# posts of the minister's letter share the ops, HQSCALE_POSTS to change); then change sets of
# new grants and of edited amounts (durable commits, as the server makes them) are timed in
# turns across the stores, so that every size meets the same moments of the machine; then the
# grant list of another post whose 1,000 grants do not change and, up to 100k, a fresh device's
# full pull. Then HQ's bytes per op in the largest store: the whole file (page_count x
# page_size / ops) and each table and index (SQLite's dbstat, through Python's sqlite3). The
# figures are ratios against the smallest size of the same run. With --markdown it prints
# docs/BENCHMARKS.md's section "HQ at scale" (bench/run.sh appends it). SETS (env
# HQSCALE_SETS, default 30) change sets of each kind are timed per size. Last, the worst case
# beside it: the smallest and largest sizes again with one post holding every op (ingest only;
# docs/DECISIONS.md, "HQ at scale is the fund's shape"). About a minute here at the
# default sizes.
set -u
B=$(cd "${1:-build}" && pwd)
md=""
[ "${2:-}" = "--markdown" ] && md=1
SIZES=${3:-"10000 100000 1000000"}
SETS=${HQSCALE_SETS:-30}
POSTS=${HQSCALE_POSTS:-84}
export MRF_ESCROW_PASSPHRASE="${MRF_ESCROW_PASSPHRASE:-bench escrow passphrase}"
work=$(mktemp -d "${TMPDIR:-/tmp}/mrf-hqscale.XXXXXX")
trap 'rm -rf "$work"' EXIT

first=${SIZES%% *}
last=${SIZES##* }
# stores DIR SIZE... : a new HQ home per size, with posts NAI and GVA; prints SIZE:HOME each
stores() {
    local d=$1 n
    shift
    for n in "$@"; do
        "$B/mrf-hq" --home "$d/hq$n" init --url "https://127.0.0.1:1" >/dev/null || return 1
        "$B/mrf-hq" --home "$d/hq$n" post add NAI --kind bilateral >/dev/null || return 1
        "$B/mrf-hq" --home "$d/hq$n" post add GVA --kind bilateral >/dev/null || return 1
        printf '%s ' "$n:$d/hq$n"
    done
}
# shellcheck disable=SC2086 # SIZES and the stores are lists
st=$(stores "$work" $SIZES) || exit 1
# shellcheck disable=SC2086
out=$("$B/bench_ingest" --scale --posts "$POSTS" NAI GVA "$SETS" $st) || exit 1
# the worst case: one post holds every op (its stores gone before the dbstat below)
mkdir -p "$work/one" || exit 1
one_sizes=$first
[ "$last" = "$first" ] || one_sizes="$first $last"
# shellcheck disable=SC2086
st=$(stores "$work/one" $one_sizes) || exit 1
# shellcheck disable=SC2086
one=$("$B/bench_ingest" --scale --posts 1 NAI GVA "$SETS" $st) || exit 1
rm -rf "$work/one"
# dbstat of the largest store: bytes of each table and index (with its free space inside
# pages), by name
stat=$(python3 - "$work/hq${SIZES##* }/hq.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ops = db.execute("SELECT count(*) FROM oplog_ops").fetchone()[0]
rows = db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
for name, size in rows:
    print("dbstat_%s_bytes_per_op=%.1f" % (name, size / ops))
PY
) || exit 1
get() { echo "$out" | sed -n "s/^$1=//p"; }
oget() { echo "$one" | sed -n "s/^$1=//p"; }
for n in $SIZES; do # what it measures must have worked: the other post's grants, listed whole
    [ "$(get "at_${n}_grant_list_other_rows")" = "$(get other_post_grants)" ] ||
        { echo "hqscale: the grant list at $n gave $(get "at_${n}_grant_list_other_rows") rows" >&2; exit 1; }
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
pulls=$(for n in $SIZES; do [ -n "$(get "at_${n}_pull_us_per_op")" ] && echo "$n"; done)
pull_hi=$(echo "$pulls" | tail -n 1)
bytes_per_op=$(awk -v p="$(get page_size)" -v c="$(get page_count)" -v n="$(get oplog_ops)" \
    'BEGIN { printf "%.1f", p * c / n }')
summary="hq_bytes_per_op=$bytes_per_op
ingest_new_ratio_${last}_to_${first}=$(ratio "$(get "at_${last}_new_ops_per_s")" "$(get "at_${first}_new_ops_per_s")")
ingest_existing_ratio_${last}_to_${first}=$(ratio "$(get "at_${last}_existing_ops_per_s")" "$(get "at_${first}_existing_ops_per_s")")
one_post_ingest_new_ratio_${last}_to_${first}=$(ratio "$(oget "at_${last}_new_ops_per_s")" "$(oget "at_${first}_new_ops_per_s")")
one_post_ingest_existing_ratio_${last}_to_${first}=$(ratio "$(oget "at_${last}_existing_ops_per_s")" "$(oget "at_${first}_existing_ops_per_s")")
grant_list_ratio_${last}_to_${first}=$(ratio "$(get "at_${last}_grant_list_other_ms")" "$(get "at_${first}_grant_list_other_ms")")
pull_ratio_${pull_hi}_to_${first}=$(ratio "$(get "at_${pull_hi}_pull_us_per_op")" "$(get "at_${first}_pull_us_per_op")")"

if [ -z "$md" ]; then
    printf '%s\n%s\n%s\n' "$out" "$(echo "$one" | awk '{ print "one_post_" $0 }')" "$stat"
    printf '%s\n' "$summary"
    exit 0
fi
sget() { echo "$summary" | sed -n "s/^$1=//p"; }
cat <<MD
## HQ at scale (bench/hqscale.sh)

One HQ store per size (ops in the oplog), filled the way the fund fills it: $(get posts_sharing_the_store) posts (the
minister's letter names 84) take turns, each change set a post's share, through \`hq_ingest()\`.
The post measured, NAI, is one of them and holds a $(get posts_sharing_the_store)th of the ops. Then $SETS change sets of each kind are timed per size with
durable commits, as \`mrf-hq serve\` makes them, $(get changesets_per_turn) at a time with the
stores taking turns, each turn after one untimed change set: this machine's speed drifts by a
third within seconds (the same 30 change sets at 10k took 10 to 17 ms each from one run to the
next), and in turns every size meets the same drift. Ops/s count every timed change set and the
checkpoint that copies its pages into the store. Another post's 1,000 grants stay as they are:
its \`grant list\` must not cost more as the first post grows. A fresh device's full pull is
timed up to 100k ops. Ratios are against the smallest size of the same run.

| ops in HQ's oplog | new grants ops/s | pages read / written per change set | edited amounts ops/s | pages read / written | other post's grant list | fresh device's pull per op |
|---|---|---|---|---|---|---|
$(for n in $SIZES; do
    p=$(get "at_${n}_pull_us_per_op")
    if [ -n "$p" ]; then p="$p µs"; else p="not run"; fi
    echo "| $n | $(get "at_${n}_new_ops_per_s") | $(get "at_${n}_new_pages_read_per_set") / $(get "at_${n}_new_pages_written_per_set") | $(get "at_${n}_existing_ops_per_s") | $(get "at_${n}_existing_pages_read_per_set") / $(get "at_${n}_existing_pages_written_per_set") | $(get "at_${n}_grant_list_other_ms") ms | $p |"
done)

Pages read (from the file, past SQLite's page cache) and written per change set of 1,000 ops are
SQLite's own counters for HQ's handle: counts, which the machine's load does not move.

Where a change set's durable commit writes its pages, by table or index (pages per commit, read
from the write-ahead log before its checkpoint; the eight that write most at $last):

| table or index | new grants at $first | new grants at $last | edited amounts at $first | edited amounts at $last |
|---|---|---|---|---|
$(echo "$out" | sed -n "s/^at_${last}_new_wal_pages_of_\(.*\)=\(.*\)$/\2 \1/p" | sort -rn | head -n 8 |
    while read -r _ name; do
        w() { v=$(get "at_$1_$2_wal_pages_of_$name"); echo "${v:-<1}"; }
        echo "| $name | $(w "$first" new) | $(w "$last" new) | $(w "$first" existing) | $(w "$last" existing) |"
    done)
| all | $(get "at_${first}_new_wal_pages_per_commit") | $(get "at_${last}_new_wal_pages_per_commit") | $(get "at_${first}_existing_wal_pages_per_commit") | $(get "at_${last}_existing_wal_pages_per_commit") |

| figure | value | target |
|---|---|---|
| ingest of new grants, $last / $first | **$(sget "ingest_new_ratio_${last}_to_${first}")** | ≥ 0.8 |
| ingest of edited amounts, $last / $first | **$(sget "ingest_existing_ratio_${last}_to_${first}")** | ≥ 0.8 |
| worst case, one post holding every op: new grants, $last / $first | $(sget "one_post_ingest_new_ratio_${last}_to_${first}") | not the fund's shape |
| worst case, one post holding every op: edited amounts, $last / $first | $(sget "one_post_ingest_existing_ratio_${last}_to_${first}") | not the fund's shape |
| other post's grant list, $last / $first | **$(sget "grant_list_ratio_${last}_to_${first}")** | ~1 |
| fresh device's pull per op, $pull_hi / $first | **$(sget "pull_ratio_${pull_hi}_to_${first}")** | ~1 (linear) |
| HQ store bytes per op at $(get oplog_ops) ops (page_count × page_size / ops) | **$bytes_per_op B** | ≤ 100 B |

By table and index (dbstat, pages with their free space, per op):

| table or index | B per op |
|---|---|
$(echo "$stat" | sed -n 's/^dbstat_\(.*\)_bytes_per_op=\(.*\)$/| \1 | \2 |/p' | head -n 14)

The worst case is the same bench with one post holding every op (\`bench_ingest --scale --posts 1\`):
$(oget "at_${last}_new_ops_per_s") new-grant ops/s at $last against $(oget "at_${first}_new_ops_per_s") at $first, its commits writing
$(oget "at_${last}_new_wal_pages_per_commit") pages at $last, $(oget "at_${last}_new_wal_pages_of_sqlite_autoindex_grants_1") of them the random \`(post, id)\` key's, against
$(oget "at_${first}_new_wal_pages_per_commit") at $first. At 1M ops that post would hold 143,000 grants; why the fund's shape is the
measure, and what one post that large costs: docs/DECISIONS.md, "HQ at scale is the fund's shape".

Reproduce: \`bench/hqscale.sh BUILD --markdown\`.
MD

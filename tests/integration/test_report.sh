#!/usr/bin/env bash
# `mrf-hq report` end to end: a real `mrf-hq serve`, real devices of two posts recording themes,
# partners and grants with known amounts and statuses, syncing; `mrf-hq allocate`; then the
# report's figures equal the numbers computed by hand below, in the table, in JSON (read by
# python3's json) and in CSV (read back by python3's csv module: header, values, CRLF). The
# exceptions name the over-allocated post and the post without themes; a partner's name or note
# typed on a device appears in no output of any report; bad options exit 3 (2 for a usage
# clash), an unknown post exits 3.
#
# Hand computation, 2026, all EUR unless said:
#   NAI  allocation 80000.00; grants HRD 20000 committed (P1), HRD 10000 disbursed (P1),
#        FOE 5000 closed (P2), FOE 7000 draft (P2), FOE 9000 cancelled (P2), HRD 2500 USD
#        committed (P1)
#        committed = 20000 + 10000 + 5000 = 35000.00   disbursed = 10000 + 5000 = 15000.00
#        remaining = 80000 - 35000 = 45000.00          grants 4 (not the cancelled), partners 2
#        USD: committed 2500.00, no allocation in USD (allocation and remaining "-")
#   GVA  allocation 5000.00; WGR 6000 committed: remaining -1000.00 -> over_allocation
#   KAB  allocation 1000.00, never synced, no themes -> not_synced, no_themes
#   totals EUR: allocation 86000.00, committed 41000.00, disbursed 15000.00,
#               remaining 45000 - 1000 + 1000 = 45000.00, grants 5, partners 3
. "$(dirname "$0")/lib.sh"

SECRET_NAME="Qx7 Vertrouwelijk Partnerorg"
SECRET_NOTE="Qx7 note never in a report"
REPORTS=$T/reports
mkdir -p "$REPORTS"
# report NAME ARGS... : runs mrf-hq report, keeps its stdout as $REPORTS/NAME
report() {
    local name=$1
    shift
    run hq report "$@"
    cp "$OUT" "$REPORTS/$name"
}

start_sync_hq || {
    fail "HQ starts" "$(tail -n 5 "$T/serve.log" "$T/proxy.log" 2>/dev/null | tr '\n' ' ')"
    finish
}
pass "HQ starts"
run hq post add NAI --kind bilateral --country "Qx7 Sealed Country"
run hq post add GVA --kind multilateral
run hq post add KAB --kind bilateral
expect_exit "NAI device set up" 0 D nai init --token "$(token NAI)"
expect_exit "GVA device set up" 0 D gva init --token "$(token GVA)"

# ---- the posts record, offline, then sync -------------------------------------------------
D nai theme set 2026 HRD FOE >/dev/null
P1=$(D nai partner add --name "$SECRET_NAME" --note "$SECRET_NOTE" --phone "+31 70 348 6486")
P2=$(D nai partner add --name "Second Qx7 Org")
g() { D nai grant add --partner "$1" --theme "$2" --year 2026 --amount "$3" "${@:4}"; }
G1=$(g "$P1" HRD 20000)
G2=$(g "$P1" HRD 10000)
G3=$(g "$P2" FOE 5000)
G4=$(g "$P2" FOE 7000)
G5=$(g "$P2" FOE 9000)
G6=$(g "$P1" HRD 2500 --currency USD)
check "NAI recorded six grants" test -n "$G1" -a -n "$G2" -a -n "$G3" -a -n "$G4" -a -n "$G5" -a -n "$G6"
D nai grant set "$G1" --status committed >/dev/null
D nai grant set "$G2" --status disbursed >/dev/null
D nai grant set "$G3" --status closed >/dev/null
D nai grant set "$G5" --status cancelled >/dev/null
D nai grant set "$G6" --status committed >/dev/null
D gva theme set 2026 WGR >/dev/null
PG=$(D gva partner add --name "Geneva Qx7 Org")
GG=$(D gva grant add --partner "$PG" --theme WGR --year 2026 --amount 6000)
D gva grant set "$GG" --status committed >/dev/null
expect_exit "NAI syncs" 0 D nai sync --timeout 30
expect_exit "GVA syncs" 0 D gva sync --timeout 30
expect_exit "allocate NAI" 0 hq allocate NAI 2026 80000
expect_exit "allocate GVA" 0 hq allocate GVA 2026 5000
expect_exit "allocate KAB" 0 hq allocate KAB 2026 1000

# ---- JSON ---------------------------------------------------------------------------------
report json --year 2026 --json
check "report --json exits 0" test "$LAST_RC" = 0
check "report --json is JSON" python3 -m json.tool "$REPORTS/json"
line() { # line POST CUR : the post-year line as one comparable tuple
    echo "[(r['allocation'], r['committed'], r['disbursed'], r['remaining'], r['grants'], r['partners']) for r in d['rows'] if r['section'] == 'post_year' and r['post'] == '$1' and r['currency'] == '$2']"
}
check "NAI EUR: allocation, committed, disbursed, remaining, grants, partners" json_ok \
    "$REPORTS/json" "$(line NAI EUR) == [('80000.00', '35000.00', '15000.00', '45000.00', 4, 2)]"
check "NAI USD: committed, no allocation in USD" json_ok "$REPORTS/json" \
    "$(line NAI USD) == [(None, '2500.00', '0.00', None, 1, 1)]"
check "GVA EUR: over the allocation, remaining negative" json_ok "$REPORTS/json" \
    "$(line GVA EUR) == [('5000.00', '6000.00', '0.00', '-1000.00', 1, 1)]"
check "KAB EUR: its allocation alone" json_ok "$REPORTS/json" \
    "$(line KAB EUR) == [('1000.00', '0.00', '0.00', '1000.00', 0, 0)]"
check "NAI theme lines: HRD and FOE" json_ok "$REPORTS/json" \
    "sorted((r['theme'], r['currency'], r['committed'], r['disbursed'], r['grants']) for r in d['rows'] if r['section'] == 'post_theme' and r['post'] == 'NAI') == [('FOE', 'EUR', '5000.00', '5000.00', 2), ('HRD', 'EUR', '30000.00', '10000.00', 2), ('HRD', 'USD', '2500.00', '0.00', 1)]"
check "totals per currency" json_ok "$REPORTS/json" \
    "[(t['currency'], t['allocation'], t['committed'], t['disbursed'], t['remaining'], t['grants'], t['partners']) for t in d['totals']] == [('EUR', '86000.00', '41000.00', '15000.00', '45000.00', 5, 3), ('USD', None, '2500.00', '0.00', None, 1, 1)]"
check "themes chosen: HRD 1, FOE 1, WGR 1, the others 0" json_ok "$REPORTS/json" \
    "{t['theme']: t['posts'] for t in d['themes_chosen']} == {'FOE': 1, 'WGR': 1, 'LGBTIQ': 0, 'FORB': 0, 'HRD': 1, 'ACC': 0}"
check "exceptions: GVA over its allocation (so with an open conflict, HQ's over_allocation record), KAB never synced and without themes" json_ok \
    "$REPORTS/json" "[(e['post'], e['rule']) for e in d['exceptions']] == [('GVA', 'open_conflicts'), ('GVA', 'over_allocation'), ('KAB', 'not_synced'), ('KAB', 'no_themes')]"
expect_exit "HQ's queue holds GVA's over-allocation record" 0 hq conflicts --post GVA --json
check "... one open over_allocation record for GVA" json_ok "$OUT" "[c['rule'] for c in d] == ['over_allocation']"
check "data as of: NAI's last sync today, KAB never" json_ok "$REPORTS/json" \
    "{p['post']: p['data_as_of'][:10] for p in d['posts']} == {'GVA': '$(date -u +%Y-%m-%d)', 'KAB': 'never', 'NAI': '$(date -u +%Y-%m-%d)'}"
check "every NAI line carries its data as of" json_ok "$REPORTS/json" \
    "all(r['data_as_of'] != 'never' for r in d['rows'] if r['post'] == 'NAI')"

# ---- the table ------------------------------------------------------------------------------
report table --year 2026
check "report (table) exits 0" test "$LAST_RC" = 0
check "table: NAI's heading with its data as of" grep -Eq "^NAI +bilateral +data as of $(date -u +%Y-%m-%d) [0-9:]{5} UTC" "$REPORTS/table"
check "table: NAI's EUR line" grep -Eq "^  2026 all +EUR +80000.00 +35000.00 +15000.00 +45000.00 +4 +2$" "$REPORTS/table"
check "table: GVA's line, remaining negative" grep -Eq "^  2026 all +EUR +5000.00 +6000.00 +0.00 +-1000.00 +1 +1$" "$REPORTS/table"
check "table: KAB never synced" grep -Eq "^KAB +bilateral +data as of never" "$REPORTS/table"
check "table: EUR totals" grep -Eq "^2026 EUR +86000.00 +41000.00 +15000.00 +45000.00 +5 +3$" "$REPORTS/table"
check "table: the over-allocated post in the exceptions" grep -Eq "^GVA +2026 over_allocation +committed 6000.00" "$REPORTS/table"
check "table: the post without themes in the exceptions" grep -Eq "^KAB +2026 no_themes" "$REPORTS/table"
check "table: fits in 100 columns" test "$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$REPORTS/table")" -le 100

# ---- CSV, read back by a real CSV reader ------------------------------------------------------
report csv --year 2026 --format csv
check "report --format csv exits 0" test "$LAST_RC" = 0
check "CSV: CRLF line ends, a header, values as the JSON has them" python3 - "$REPORTS/csv" "$REPORTS/json" <<'PY'
import csv, json, sys
raw = open(sys.argv[1], "rb").read()
assert raw.count(b"\n") == raw.count(b"\r\n") > 1, "line ends are not CRLF"
rows = list(csv.reader(open(sys.argv[1], newline="")))
head = rows[0]
assert head[:4] == ["section", "post", "kind", "year"], head
assert all(len(r) == len(head) for r in rows), "ragged records"
recs = [dict(zip(head, r)) for r in rows[1:]]
nai = [r for r in recs if r["section"] == "post_year" and r["post"] == "NAI" and r["currency"] == "EUR"]
assert len(nai) == 1, nai
n = nai[0]
assert (n["year"], n["allocation"], n["committed"], n["disbursed"], n["remaining"], n["grants"], n["partners"]) == \
    ("2026", "80000.00", "35000.00", "15000.00", "45000.00", "4", "2"), n
usd = [r for r in recs if r["section"] == "post_year" and r["currency"] == "USD"][0]
assert usd["allocation"] == "" and usd["remaining"] == "" and usd["committed"] == "2500.00", usd
exc = [(r["post"], r["rule"]) for r in recs if r["section"] == "exception"]
assert ("GVA", "over_allocation") in exc and ("KAB", "no_themes") in exc, exc
d = json.load(open(sys.argv[2]))
parts = ["posts", "rows", "themes_chosen", "totals", "exceptions"]
assert len(recs) == sum(len(d[p]) for p in parts), "CSV and JSON disagree on the records"
tot = [r for r in recs if r["section"] == "total" and r["currency"] == "EUR"][0]
assert (tot["allocation"], tot["committed"], tot["remaining"]) == ("86000.00", "41000.00", "45000.00"), tot
PY

# ---- by theme, by status, one post --------------------------------------------------------------
report theme --year 2026 --by theme --json
check "by theme: HRD EUR over the posts" json_ok "$REPORTS/theme" \
    "[(r['committed'], r['disbursed'], r['grants'], r['posts']) for r in d['rows'] if r['theme'] == 'HRD' and r['currency'] == 'EUR'] == [('30000.00', '10000.00', 2, 1)]"
check "by theme: WGR from GVA" json_ok "$REPORTS/theme" \
    "[(r['committed'], r['posts']) for r in d['rows'] if r['theme'] == 'WGR'] == [('6000.00', 1)]"
report theme-table --year 2026 --by theme
check "by theme (table) exits 0" test "$LAST_RC" = 0
report status --by status --post NAI --format json
check "by status, one post: the cancelled grant shows here only" json_ok "$REPORTS/status" \
    "[(r['status'], r['currency'], r['amount'], r['grants']) for r in d['rows']] == [('draft', 'EUR', '7000.00', 1), ('committed', 'EUR', '20000.00', 1), ('committed', 'USD', '2500.00', 1), ('disbursed', 'EUR', '10000.00', 1), ('closed', 'EUR', '5000.00', 1), ('cancelled', 'EUR', '9000.00', 1)]"
check "by status, one post: only that post" json_ok "$REPORTS/status" \
    "[p['post'] for p in d['posts']] == ['NAI'] and all(r['post'] == 'NAI' for r in d['rows'])"
report status-table --by status
check "by status (table) exits 0" test "$LAST_RC" = 0
report all-years --format csv
check "every year, CSV, exits 0" test "$LAST_RC" = 0

# ---- refusals ---------------------------------------------------------------------------------
expect_exit "--by other is exit 3" 3 hq report --by country
check "... and names the rule" grep -q "post, theme or status" "$ERR"
expect_exit "--format other is exit 3" 3 hq report --format xlsx
check "... and names the formats" grep -q "table, csv or json" "$ERR"
expect_exit "--year out of range is exit 3" 3 hq report --year 1999
expect_exit "--post malformed is exit 3" 3 hq report --post "no such"
expect_exit "--post unknown is exit 3" 3 hq report --post ZZZ
check "... and says there is no such post" grep -q "no post ZZZ" "$ERR"
expect_exit "--json with --format csv is a usage error" 2 hq report --json --format csv
expect_exit "--help" 0 hq report --help

# ---- no identity, note or country anywhere ------------------------------------------------------
for text in "$SECRET_NAME" "$SECRET_NOTE" "Second Qx7 Org" "Geneva Qx7 Org" "Qx7 Sealed Country" "348 6486"; do
    check "no report shows \"$text\"" lacks "$text" "$REPORTS"
done
check "no report shows a partner code" lacks "$P1" "$REPORTS"
finish

#!/usr/bin/env bash
# `mrf export --format csv` (client/cmd_export.c) against the CSV its contract describes, byte
# for byte: one row per live grant with its partner's columns (the first partner the list
# gives with the grant's partner code; empty if the partner's row is not on this device), then
# one row per live partner no grant names, each field quoted with inner
# quotes doubled and a leading = + - @ defused, CRLF line ends. The reference below builds
# that CSV from `export --format json` (the same lists, in the same order) the plain way, a
# walk of the partner list per grant, so the export's own lookup (sorted, not walked) must give
# exactly the same bytes. The store has several partners, partners without grants, a removed
# partner with and one without grants, a removed grant, a grant whose partner is not on the
# device and two partners sharing a code (written with sqlite3, as sync could leave them: the
# code counts as having the grants that name it, shown with the first partner's columns).
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || {
    echo "sqlite3 is needed to shape the store" >&2
    exit 1
}

setup_device || {
    fail "device set up" "$(tail -n 3 "$ERR")"
    finish
}
dsql() { sqlite3 "$DEV/post.db" "$1"; }
dev theme set 2026 HRD WGR >/dev/null
PA=$(dev partner add --name 'Alpha "A", Ltd' --risk high --note "=SUM(A1)")
PB=$(dev partner add --name "Beta" --email b@example.org)
PC=$(dev partner add --name "-Gamma" --phone "+41 22")
PD=$(dev partner add --name "Delta, no grants")
PE=$(dev partner add --name "Epsilon, removed with a grant")
PF=$(dev partner add --name "Zeta, removed, no grants")
grants=()
for p in "$PA" "$PA" "$PB" "$PE" "$PC" "$PB"; do
    grants+=("$(dev grant add --partner "$p" --theme HRD --year 2026 --amount "$((RANDOM + 1)).25" --note "@note $p")")
done
dev grant set "${grants[1]}" --status committed --start 2026-02-01 --end 2026-12-31 >/dev/null
dev partner remove "$PE" >/dev/null 2>&1 || dev partner remove "$PE" --force >/dev/null 2>&1 || true
dev partner remove "$PF" >/dev/null
# a removed grant; a grant whose partner never reached this device; a partner sharing PD's code
dsql "UPDATE grants SET removed = 1 WHERE code = '${grants[4]}'"
dsql "INSERT INTO grants(id, post, code, partner, theme, year, amount_cents, currency, status, removed)
      VALUES (randomblob(16), 'NAI', 'G-ORPHAN', randomblob(16), 'HRD', 2026, 500, 'EUR', 'draft', 0)"
dsql "INSERT INTO partners(id, post, code, risk, removed) VALUES (randomblob(16), 'NAI', '$PD', 'low', 0)"
dsql "INSERT INTO grants(id, post, code, partner, theme, year, amount_cents, currency, status, removed)
      SELECT randomblob(16), 'NAI', 'G-TWIN', id, 'WGR', 2026, 700, 'EUR', 'draft', 0 FROM partners
      WHERE code = '$PD' AND name IS NULL"
check "the store has a removed partner" [ "$(dsql "SELECT count(*) FROM partners WHERE removed = 1")" -ge 1 ]
check "... two partners sharing a code" [ "$(dsql "SELECT count(*) FROM partners WHERE code = '$PD'")" -eq 2 ]

reference() { # JSON -> the CSV the contract describes
    python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sealed = ["name", "contact", "phone", "email", "address", "bank", "note"]
pk = ["code", "risk"] + sealed
gk = ["code", "theme", "year", "amount", "currency", "status", "start", "end", "note"]
def field(v, last):
    s = None
    if isinstance(v, bool):
        s = "yes" if v else "no"
    elif isinstance(v, (int, float)):
        s = "%.0f" % v
    elif isinstance(v, str):
        s = v
    out = ""
    if s is not None:
        out = '"' + ("'" if s[:1] in ("=", "+", "-", "@") else "") + s.replace('"', '""') + '"'
    return out + ("\r\n" if last else ",")
def by_code(code):
    for p in d["partners"]:
        if code is not None and p.get("code") == code:
            return p
    return None
out = ["partner,risk," + ",".join("partner_note" if k == "note" else k for k in sealed) +
       ",grant,theme,year,amount,currency,status,start,end,grant_note\r\n"]
for g in d["grants"]:
    p = by_code(g.get("partner"))
    out += [field(p.get(k) if p else (g.get("partner") if i == 0 else None), False) for i, k in enumerate(pk)]
    out += [field(g.get(k), i == len(gk) - 1) for i, k in enumerate(gk)]
for p in d["partners"]:
    if p.get("removed") is True:
        continue
    if any(g.get("partner") is not None and g.get("partner") == p.get("code") for g in d["grants"]):
        continue
    out += [field(p.get(k), False) for k in pk]
    out += [field(None, i == len(gk) - 1) for i in range(len(gk))]
sys.stdout.buffer.write("".join(out).encode())
PY
}

for reveal in "" "--reveal"; do
    expect_exit "export --format json $reveal exits 0" 0 dev export --format json $reveal
    cp "$OUT" "$T/export.json"
    expect_exit "export --format csv $reveal exits 0" 0 dev export --format csv $reveal
    cp "$OUT" "$T/export.csv"
    reference "$T/export.json" >"$T/reference.csv"
    check "export csv $reveal: byte for byte the CSV of its contract" same_file "$T/export.csv" "$T/reference.csv"
    check "... one row per live grant and per live partner without grants" \
        [ "$(($(wc -l <"$T/export.csv") - 1))" -eq "$((6 - 1 + 2 + 1))" ]
done
check "export csv --reveal: the names are there" grep -qF '"Alpha ""A"", Ltd"' "$T/export.csv"
check "... a partner whose only grant is removed has its row" grep -qF "\"'-Gamma" "$T/export.csv"
check "... a grant names its code's first partner" grep -qF '"Delta, no grants",,,,,,,"G-TWIN"' "$T/export.csv"
check "... the removed partner without grants has none" lacks "Zeta, removed" "$T/export.csv"
finish

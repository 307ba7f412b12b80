#!/usr/bin/env bash
# The main job, end to end on this machine (loopback only): installs what is missing, builds,
# sets HQ up and starts its HTTPS server, enrolls two posts, records themes, partners and grants
# offline on their devices, syncs, pulls an HQ allocation and another device's grants, shows that
# a laptop with a wrong date cannot take a grant over, then HQ's half: two laptops edit one
# grant's amount offline, HQ lists the conflict, shows it and resolves it with a reason, both
# laptops show the decision after their next sync, a second laptop of the post reading its
# colleague's partner once approved (the post's key ring), one change set travelling by pouch
# (USB stick, diplomatic bag) and HQ's reply applied twice, HQ's consolidated report, an
# audited escrow reveal of one partner, and `mrf-hq audit verify`. Everything lives in a
# temporary folder that is removed at the end (keep it with MRF_DEMO_KEEP=1); the server is
# stopped by its pid.
# Passphrases come from the environment, as automation does.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

demo=$(mktemp -d /tmp/mrf-demo.XXXXXX)
hq_pid=""
cleanup() {
    if [ -n "$hq_pid" ]; then kill -TERM "$hq_pid" 2>/dev/null && wait "$hq_pid" 2>/dev/null; fi
    if [ "${MRF_DEMO_KEEP:-0}" = 1 ]; then echo "(kept $demo)"; else rm -rf "$demo"; fi
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export MRF_HQ_HOME="$demo/hq" MRF_HOME="$demo/nairobi-laptop"
export MRF_ESCROW_PASSPHRASE="demo escrow passphrase" MRF_PASSPHRASE="demo device passphrase"
mrf() { ./build/mrf "$@"; }
mrf_hq() { ./build/mrf-hq "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "HQ: keys, self-signed TLS certificate, escrow key pair"
run mrf_hq init --url "https://127.0.0.1:$port"

step "HQ: register two posts (a country is sealed to the escrow key) and enroll three devices"
run mrf_hq post add NAI --kind bilateral --country Kenya
run mrf_hq post add GVA-MUN --kind multilateral
run mrf_hq post list
printf '$ mrf-hq enroll NAI    (twice: two laptops at the Nairobi embassy)\n'
token=$(mrf_hq enroll NAI)
token2=$(mrf_hq enroll NAI 2>/dev/null)
echo "${token:0:48}... (${#token} characters)"
printf '$ mrf-hq enroll GVA-MUN\n'
token3=$(mrf_hq enroll GVA-MUN 2>/dev/null)

step "HQ: start the HTTPS server (TLS 1.2+, its own certificate, one log line per request)"
printf '$ mrf-hq serve --listen 127.0.0.1:%s &\n' "$port"
./build/mrf-hq serve --listen "127.0.0.1:$port" 2>"$demo/serve.log" &
hq_pid=$!
for _ in $(seq 1 100); do grep -q serving "$demo/serve.log" 2>/dev/null && break; sleep 0.1; done
cat "$demo/serve.log"

step "Post: set the device up offline with the token (compare the fingerprint by phone)"
run mrf init --token "$token"

step "Post: the year's two focus themes (a third is refused with exit 3)"
run mrf theme set 2026 HRD FOE
run mrf theme set 2026 HRD FOE ACC || echo "(exit $?)"
run mrf theme list

step "Post: record partners; identities are sealed on this device, no passphrase needed"
p1=$(mrf partner add --name "Freedom Voices Collective" --contact "A. Mwangi" \
    --phone "+254 700 000001" --risk high --note "met in person in March")
echo "partner $p1"
p2=$(mrf partner add --name "Digital Defenders Network" --email "info@ddn.example" --risk medium)
echo "partner $p2"
run mrf partner list

step "Post: grants in the post's themes"
g1=$(mrf grant add --partner "$p1" --theme HRD --year 2026 --amount 45000.00 \
    --start 2026-02-01 --end 2026-12-31)
echo "grant $g1"
g2=$(mrf grant add --partner "$p2" --theme FOE --year 2026 --amount 12500.50)
echo "grant $g2"
run mrf grant set "$g1" --status committed
run mrf grant add --partner "$p2" --theme WGR --year 2026 --amount 100 || echo "(exit $?)"
run mrf grant set "$g1" --status draft || echo "(exit $?)"
run mrf grant list
run mrf allocation 2026

step "Post: only with the passphrase are identities revealed"
run mrf partner show "$p1" --reveal

step "Post: what waits for the next sync"
run mrf status

step "Post: sync (push the outbox, pull what HQ and the post's other devices wrote)"
run mrf sync

step "A second Nairobi laptop and the Geneva mission, recording offline, then syncing"
laptop2="$demo/nairobi-laptop-2"
geneva="$demo/geneva-laptop"
printf '$ mrf --home %s init --token "%s..."\n' "$laptop2" "${token2:0:24}"
mrf --home "$laptop2" init --token "$token2" 2>/dev/null
printf '$ mrf --home %s init --token "%s..."\n' "$geneva" "${token3:0:24}"
mrf --home "$geneva" init --token "$token3" 2>/dev/null
run mrf --home "$geneva" theme set 2026 FORB ACC
pg=$(mrf --home "$geneva" partner add --name "Interfaith Dialogue Platform" --risk low)
run mrf --home "$geneva" grant add --partner "$pg" --theme FORB --year 2026 --amount 30000
run mrf --home "$geneva" sync
run mrf --home "$laptop2" sync
printf '# the second laptop now holds the first one'"'"'s grants; the partner stays sealed to it:\n'
run mrf --home "$laptop2" grant list
run mrf --home "$laptop2" partner show "$p1" --reveal

step "HQ: the allocation for 2026; it reaches the posts on their next sync"
run mrf_hq allocate NAI 2026 80000
run mrf_hq allocate GVA-MUN 2026 50000
run mrf sync
run mrf allocation 2026

step "A laptop whose date is five years ahead edits a grant: kept, but it never wins by being ahead"
printf '$ faketime -f +1826d mrf --home %s grant set %s --amount 20000\n' "$laptop2" "$g2"
faketime -f +1826d ./build/mrf --home "$laptop2" grant set "$g2" --amount 20000
printf '$ faketime -f +1826d mrf --home %s sync\n' "$laptop2"
faketime -f +1826d ./build/mrf --home "$laptop2" sync
printf '# HQ applied that edit at its own clock; the first laptop pulls it, then edits later:\n'
run mrf sync
run mrf grant set "$g2" --amount 15000
run mrf sync
printf '$ faketime -f +1826d mrf --home %s sync\n' "$laptop2"
faketime -f +1826d ./build/mrf --home "$laptop2" sync 2>/dev/null
run mrf --home "$laptop2" grant list
run mrf --home "$laptop2" status

step "HQ: the laptop's wrong date is in HQ's conflict queue; HQ accepts it once the date is fixed"
run mrf_hq conflicts
ca=$(mrf_hq conflicts --json | python3 -c 'import json, sys
print(next(c["id"] for c in json.load(sys.stdin) if c["rule"] == "clock_ahead"))')
run mrf_hq resolve "$ca" --accept --reason "laptop date corrected by the embassy's IT"

step "Two Nairobi laptops edit the same grant's amount offline, then both sync"
run mrf grant set "$g1" --amount 46000
run mrf --home "$laptop2" grant set "$g1" --amount 44000
run mrf sync
run mrf --home "$laptop2" sync

step "HQ: the conflict is kept, both values with it; HQ decides, with a reason for the post"
run mrf_hq conflicts
cv=$(mrf_hq conflicts --json | python3 -c 'import json, sys
print(next(c["id"] for c in json.load(sys.stdin) if c["rule"] == "concurrent_edit"))')
run mrf_hq conflict show "$cv"
run mrf_hq resolve "$cv" --take A --reason "the amount agreed in the October review"

step "Both laptops get HQ's decision on their next sync"
run mrf sync
run mrf conflicts --all
run mrf grant list
run mrf --home "$laptop2" sync
run mrf --home "$laptop2" conflicts --all

step "The post's key ring: the second Nairobi laptop reads its colleague's partner after approval"
printf '# on the second laptop: its fingerprint (its operator reads it out, in person or by phone)\n'
run mrf --home "$laptop2" status
fp2=$(mrf --home "$laptop2" status --json | python3 -c 'import json, sys
print(json.load(sys.stdin)["fingerprint"])')
printf '# on the first laptop: the post'"'"'s devices as HQ relays them (HQ-signed), with the same fingerprint\n'
run mrf device list
run mrf device approve "$fp2"
run mrf sync
run mrf --home "$laptop2" sync
run mrf --home "$laptop2" partner show "$p1" --reveal
run mrf device list
printf '# HQ relayed the post key sealed to that laptop; it never held it and still reads nothing\n'

step "The Geneva link is down for weeks: a change set travels by diplomatic pouch instead"
mkdir -p "$demo/bag"
run mrf --home "$geneva" grant add --partner "$pg" --theme ACC --year 2026 --amount 8000
run mrf --home "$geneva" pouch out "$demo/bag/gva.mrfp"
printf '# sealed to HQ, signed by the laptop, padded to a size bucket: nothing in it is readable\n'
run stat -c '%n: %s bytes' "$demo/bag/gva.mrfp"
run mrf_hq pouch in "$demo/bag/gva.mrfp" --reply "$demo/bag/gva-reply.mrfp"
run mrf --home "$geneva" pouch in "$demo/bag/gva-reply.mrfp"
printf '# the same reply again changes nothing (exactly once, whatever the bag does):\n'
run mrf --home "$geneva" pouch in "$demo/bag/gva-reply.mrfp"
run mrf --home "$geneva" status

step "HQ: the consolidated report, each post with the date its data is from, and exceptions"
run mrf_hq report --year 2026

step "HQ: an authorised officer reveals one partner with the offline escrow key (audited first)"
run mrf_hq reveal --escrow-key "$MRF_HQ_HOME/escrow-OFFLINE.key" \
    --purpose "court order 2026/117: identify the grantee of $g1" partner "$p1" --post NAI
run mrf_hq audit list --kind reveal

step "HQ: the audit chain holds: every envelope, allocation, decision and reveal, replayed"
run mrf_hq audit verify

step "HQ: consolidated grants of all posts (HQ never sees who the partners are), devices, log"
run mrf_hq grant list
run mrf_hq device list
printf '$ cat serve.log    (one line per request; no identity, note or secret)\n'
cat "$demo/serve.log"

step "HQ: stop the server (SIGTERM: finishes requests in flight, then stops)"
kill -TERM "$hq_pid"
wait "$hq_pid"
hq_pid=""
tail -n 1 "$demo/serve.log"

step "The web pages: the post's (mrf ui) and HQ's dashboard (mrf-hq ui)"
cat <<EOF
The same laptop's records as web pages, on 127.0.0.1 only and offline. This demo's folder is
removed when it ends; keep it with MRF_DEMO_KEEP=1 ./scripts/demo.sh, then run
  ./build/mrf --home $MRF_HOME ui
It prints the address with its secret token and opens it in the browser (--no-browser: print
only); Ctrl-C or the page's Quit button stops it. Unlock with the demo passphrase
"$MRF_PASSPHRASE" to see the names. HQ's dashboard on the demo's HQ home:
  ./build/mrf-hq --home $MRF_HQ_HOME ui
shows the overview of the figures above (bars per post, themes, exceptions, CSV), the conflict
queue with its decision, the posts and devices, and the allocations; the same 127.0.0.1-only
rules, and no escrow key. It works without mrf-hq serve running.
EOF

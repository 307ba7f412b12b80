#!/usr/bin/env bash
# The main job, end to end on this machine: installs what is missing, builds, sets HQ up, enrolls
# a post, and records themes, partners and grants offline on the post's device, then shows what
# waits in its outbox. Everything lives in a temporary folder that is removed at the end
# (keep it with MRF_DEMO_KEEP=1). Passphrases come from the environment, as automation does.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

demo=$(mktemp -d /tmp/mrf-demo.XXXXXX)
if [ "${MRF_DEMO_KEEP:-0}" = 1 ]; then
    echo "(keeping $demo)"
else
    trap 'rm -rf "$demo"' EXIT
fi
export MRF_HQ_HOME="$demo/hq" MRF_HOME="$demo/nairobi-laptop"
export MRF_ESCROW_PASSPHRASE="demo escrow passphrase" MRF_PASSPHRASE="demo device passphrase"
mrf() { ./build/mrf "$@"; }
mrf_hq() { ./build/mrf-hq "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "HQ: keys, self-signed TLS certificate, escrow key pair"
run mrf_hq init --url https://127.0.0.1:8443

step "HQ: register a post (its country is sealed to the escrow key) and enroll a device"
run mrf_hq post add NAI --kind bilateral --country Kenya
run mrf_hq post add GVA-MUN --kind multilateral
run mrf_hq post list
printf '$ mrf-hq enroll NAI\n'
token=$(mrf_hq enroll NAI)
echo "${token:0:48}... (${#token} characters)"

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
run mrf sync || echo "(exit $?: the network sync arrives with the sync work)"

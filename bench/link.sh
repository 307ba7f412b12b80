#!/usr/bin/env bash
# bench/link.sh BUILD_DIR [--smoke] [--markdown] : `mrf sync` against `mrf-hq serve` over a real
# satellite-like link, beside the floor no protocol can beat on it.
#
# The link: two network namespaces joined by one veth pair on a private /30 that exists only
# inside them (no route out, nothing bridged: no packet leaves the machine), impaired both ways
# as shared/tools/badlink/recipe.sh does on a kernel without netem: `tc tbf` for the rate on each
# side's egress, an NFQUEUE helper (bench/nfqdelay.c, compiled here) for the one-way delay on
# each side's ingress, iptables `statistic` drops on each side's ingress for the loss. HQ serves
# in one namespace, the devices sync from the other, so the TCP handshake, TLS and every byte
# cross the link; the bytes on the wire are the device side's interface counters.
#
# Scenarios, each with the real programs: a fresh device's first sync pulling 1,000 grants
# (7,006 ops) and 4,000 grants (28,006 ops) that a loader device sent to HQ over loopback inside
# HQ's namespace; an enrolled device pushing 1,000 new grants (bench_outbox fills its outbox as
# `mrf grant add` x1,000 would). Each runs twice without loss and three times with 2% loss each
# way. The floor: the TCP handshake, the TLS 1.3 handshake and one request (3 round trips), plus
# every byte counted on the interface (both directions, retransmissions included) at the line
# rate. Prints key=value lines; with --markdown, docs/BENCHMARKS.md's section instead (the
# key=value lines then go to stderr). --smoke: 50 and 200 grants at 2 Mbit/s, 20 ms each way,
# one run of each, in a few seconds (bench/run.sh's smoke mode).
#
# Needs root (network namespaces): exits 2 without it (bench/run.sh then leaves the section out);
# 64 on a usage error, 1 when what it measures did not work. Needs ip, tc, iptables, ethtool, a C
# compiler and libnetfilter-queue-dev (scripts/install-deps.sh). Everything it makes (the two
# namespaces, and with them the veth pair, the qdiscs and the iptables rules; the delay helpers,
# HQ and any sync still running; its temporary directory) goes on every exit path, a signal too.
set -u
usage() {
    echo "usage: bench/link.sh BUILD_DIR [--smoke] [--markdown]" >&2
    exit 64
}
[ $# -ge 1 ] || usage
B=$(cd "$1" 2>/dev/null && pwd) || usage
shift
smoke="" md=""
for a in "$@"; do
    case $a in
    --smoke) smoke=1 ;;
    --markdown) md=1 ;;
    *) usage ;;
    esac
done
SRC=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'link.sh: %s\n' "$*" >&2; }
if [ "$(id -u)" -ne 0 ]; then
    say "needs root to make network namespaces (ip netns); run it as root, or leave this section out"
    exit 2
fi
missing=""
for t in ip tc iptables ethtool cc python3; do command -v "$t" >/dev/null || missing="$missing $t"; done
[ -e /usr/include/libnetfilter_queue/libnetfilter_queue.h ] || missing="$missing libnetfilter-queue-dev"
for b in mrf mrf-hq bench_outbox bench_rss; do [ -x "$B/$b" ] || missing="$missing $B/$b"; done
if [ -n "$missing" ]; then
    say "missing:$missing (scripts/install-deps.sh installs the tools; cmake --build $B --target mrf mrf-hq benches the programs)"
    exit 1
fi

# ---- sizes and the link ------------------------------------------------------------------
rate_kbit=256 one_way_ms=300 loss_pct=2 g_small=1000 g_big=4000 runs_clean=2 runs_loss=3
sync_timeout=900
if [ -n "$smoke" ]; then
    rate_kbit=2048 one_way_ms=20 g_small=50 g_big=200 runs_clean=1 runs_loss=1 sync_timeout=120
fi
rtt_ms=$((2 * one_way_ms))
settle=$(python3 -c "print(($rtt_ms * 2 + 200) / 1000)") # after a sync: its FIN exchange crosses
NS_H=mrf-link-hq-$$ NS_D=mrf-link-dev-$$
IF_H=mlh$$ IF_D=mld$$ # at most 15 characters
IP_H=10.231.0.1 IP_D=10.231.0.2 NET=10.231.0.0/30

work=$(mktemp -d /tmp/mrf-link.XXXXXX) || exit 1
pids=() # the delay helpers and HQ, by pid
cleanup() {
    local p ns
    trap - EXIT INT TERM HUP
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    for ns in "$NS_H" "$NS_D"; do # anything of ours still inside (a sync cut short by a signal)
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null # takes the veth, its qdiscs and iptables rules along
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
die() {
    say "$*"
    exit 1
}
# bg CMD... : runs CMD and waits for it in the background, so a signal stops the script at once
bg() {
    "$@" &
    wait $!
}
inH() { ip netns exec "$NS_H" "$@"; }
inD() { ip netns exec "$NS_D" "$@"; }

cc -O2 -Wall -Wextra -Werror -o "$work/nfqdelay" "$SRC/bench/nfqdelay.c" -lnetfilter_queue \
    -lnfnetlink || die "cannot build bench/nfqdelay.c"
ip netns add "$NS_H" || die "cannot make network namespace $NS_H"
ip netns add "$NS_D" || die "cannot make network namespace $NS_D"
ip link add "$IF_H" netns "$NS_H" type veth peer name "$IF_D" netns "$NS_D" ||
    die "cannot make the veth pair"
for side in "$NS_H:$IF_H:$IP_H" "$NS_D:$IF_D:$IP_D"; do
    IFS=: read -r ns ifc ip <<<"$side"
    ip -n "$ns" link set lo up
    # no IPv6 on the link: its neighbour discovery would add bytes to the counters
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=1" 2>/dev/null
    ip -n "$ns" addr add "$ip/30" dev "$ifc" || die "cannot address $ifc"
    ip -n "$ns" link set "$ifc" up || die "cannot bring $ifc up"
    # segments of one MTU each: offloaded 64 KB blobs would be paced and delayed as one packet
    ip netns exec "$ns" ethtool -K "$ifc" tso off gso off gro off >/dev/null 2>&1
    # Debian's default congestion control, whatever this kernel's default is (recipe.sh)
    ip -n "$ns" route replace "$NET" dev "$ifc" proto kernel scope link src "$ip" congctl cubic ||
        die "cannot set the route of $ifc"
    ip netns exec "$ns" tc qdisc add dev "$ifc" root tbf rate "${rate_kbit}kbit" burst 4kb \
        latency 1s || die "cannot set the rate on $ifc (tc tbf)"
    ip netns exec "$ns" "$work/nfqdelay" 0 "$one_way_ms" 2>"$work/nfq-$ifc.log" &
    pids+=($!)
    for _ in $(seq 50); do grep -q 'delay' "$work/nfq-$ifc.log" && break; sleep 0.1; done
    grep -q 'delay' "$work/nfq-$ifc.log" || die "nfqdelay did not start: $(cat "$work/nfq-$ifc.log")"
    ip netns exec "$ns" iptables -w -t mangle -A PREROUTING -i "$ifc" -j NFQUEUE --queue-num 0 ||
        die "cannot queue $ifc's packets to the delay (iptables NFQUEUE)"
done
prob=$(python3 -c "print(f'{$loss_pct / 100:.4f}')")
drop_rule() { # drop_rule NS IF -A|-D : the loss on IF's ingress, on or off
    ip netns exec "$1" iptables -w -t raw "$3" PREROUTING -i "$2" -m statistic --mode random \
        --probability "$prob" -j DROP
}
dropped=0 passed=0 # over the lossy runs: packets dropped, packets that went on to the delay
loss_on() {
    local side
    for side in "$NS_H:$IF_H" "$NS_D:$IF_D"; do
        ip netns exec "${side%%:*}" iptables -w -t mangle -Z PREROUTING &&
            drop_rule "${side%%:*}" "${side##*:}" -A || die "cannot turn the loss on (iptables)"
    done
}
loss_off() { # counts what the link did, then turns the loss off
    local side d q
    for side in "$NS_H:$IF_H" "$NS_D:$IF_D"; do
        d=$(ip netns exec "${side%%:*}" iptables -w -t raw -nvxL PREROUTING | awk '/DROP/ {s += $1} END {print s + 0}')
        q=$(ip netns exec "${side%%:*}" iptables -w -t mangle -nvxL PREROUTING | awk '/NFQUEUE/ {s += $1} END {print s + 0}')
        dropped=$((dropped + d)) passed=$((passed + q))
        drop_rule "${side%%:*}" "${side##*:}" -D || die "cannot turn the loss off (iptables)"
    done
}
counter() { inD cat "/sys/class/net/$IF_D/statistics/$1_bytes"; }

# ---- HQ in its namespace, a loader device beside it on loopback ----------------------------
export MRF_ESCROW_PASSPHRASE="link bench escrow passphrase" MRF_PASSPHRASE="link bench device passphrase"
hq() { "$B/mrf-hq" --home "$work/hq" "$@"; }
port=$(inH python3 -c "import socket; s=socket.socket(); s.bind(('$IP_H', 0)); print(s.getsockname()[1])")
hq init --url "https://$IP_H:$port" >/dev/null || die "mrf-hq init failed"
hq post add NAI --kind bilateral >/dev/null || die "mrf-hq post add failed"
hq limits set --per-hour 100000000 >/dev/null || die "mrf-hq limits set failed" # the sync, not the bound
inH "$B/mrf-hq" --home "$work/hq" serve 2>"$work/serve.log" & # every address on the URL's port
pids+=($!)
for _ in $(seq 150); do
    grep -q 'serving https' "$work/serve.log" 2>/dev/null && break
    kill -0 "${pids[-1]}" 2>/dev/null || die "mrf-hq serve stopped: $(tail -3 "$work/serve.log")"
    sleep 0.1
done
grep -q 'serving https' "$work/serve.log" || die "mrf-hq serve did not come up"
new_device() { # new_device NAME : set up from a fresh token, not yet synced
    "$B/mrf" --home "$work/$1" init --token "$(hq enroll NAI 2>/dev/null)" >/dev/null ||
        die "mrf init of $1 failed"
}
field() { python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))[sys.argv[2]]))' "$1" "$2"; }
# The loader syncs to HQ's own address from inside HQ's namespace: loopback, not the link.
new_device loader
loader() { "$B/mrf" --home "$work/loader" "$@"; }
loader theme set 2026 HRD >/dev/null || die "mrf theme set failed"
loader partner add --name "Link Partner" >/dev/null || die "mrf partner add failed"
load() { # load GRANTS : the loader sends GRANTS new grants to HQ
    "$B/bench_outbox" "$work/loader/post.db" "$((7 * $1))" >/dev/null || die "bench_outbox failed"
    bg inH "$B/mrf" --home "$work/loader" sync --json >"$work/load.json" 2>"$work/load.err" ||
        die "the loader's sync failed: $(tail -3 "$work/load.err")"
    [ "$(field "$work/load.json" sent)" -ge $((7 * $1)) ] || die "the loader sent $(field "$work/load.json" sent) ops"
}

# ---- one timed sync across the link --------------------------------------------------------
# run SCENARIO MODE HOME : one `mrf sync` of HOME from the device's namespace, appended to
# $work/runs as "scenario mode wall_ms wire_bytes requests bytes_up bytes_down sent received"
run() {
    local tx0 rx0 tx1 rx1 ms
    tx0=$(counter tx) rx0=$(counter rx)
    bg inD "$B/bench_rss" "$B/mrf" --home "$work/$3" sync --json --timeout "$sync_timeout" \
        >"$work/run.json" 2>"$work/run.err" ||
        die "$1 ($2): mrf sync across the link failed: $(grep -v '=' "$work/run.err" | tail -3)"
    sleep "$settle"
    tx1=$(counter tx) rx1=$(counter rx)
    ms=$(sed -n 's/^wall_ms=//p' "$work/run.err")
    echo "$1 $2 $ms $((tx1 - tx0 + rx1 - rx0))" "$(python3 -c 'import json,sys
j = json.load(open(sys.argv[1]))
print(*(int(j[k]) for k in ("requests", "bytes_up", "bytes_down", "sent", "received")))' "$work/run.json")" \
        >>"$work/runs"
    say "$1 $2: $ms ms, $((tx1 - tx0 + rx1 - rx0)) bytes on the wire"
}
fresh_pulls() { # fresh_pulls SCENARIO OPS : first syncs of fresh devices, without loss then with
    local i mode n
    for mode in clean loss; do
        n=$runs_clean
        [ "$mode" = loss ] && n=$runs_loss && loss_on
        for i in $(seq "$n"); do
            new_device "$1-$mode-$i"
            run "$1" "$mode" "$1-$mode-$i"
            [ "$(tail -n 1 "$work/runs" | cut -d' ' -f9)" -ge "$2" ] ||
                die "$1: the fresh device received $(tail -n 1 "$work/runs" | cut -d' ' -f9) ops, not $2"
        done
        [ "$mode" = loss ] && loss_off
    done
    last_device="$1-loss-$n"
}

say "link: ${rate_kbit} kbit/s and ${one_way_ms} ms each way, then ${loss_pct}% loss each way too"
load "$g_small"
fresh_pulls pull1k $((7 * g_small))
load $((g_big - g_small))
fresh_pulls pull28k $((7 * g_big))
# The push: the last device above is up to date; each run sends its own 1,000 new grants.
bg inD "$B/mrf" --home "$work/$last_device" sync >/dev/null 2>&1 || die "the pushing device's catch-up sync failed"
for mode in clean loss; do
    n=$runs_clean
    [ "$mode" = loss ] && n=$runs_loss && loss_on
    for i in $(seq "$n"); do
        "$B/bench_outbox" "$work/$last_device/post.db" $((7 * g_small)) >/dev/null || die "bench_outbox failed"
        run push1k "$mode" "$last_device"
        [ "$(tail -n 1 "$work/runs" | cut -d' ' -f8)" -eq $((7 * g_small)) ] ||
            die "push1k: the device sent $(tail -n 1 "$work/runs" | cut -d' ' -f8) ops, not $((7 * g_small))"
    done
    [ "$mode" = loss ] && loss_off
done

# ---- figures -------------------------------------------------------------------------------
python3 - "$work/runs" "$rate_kbit" "$one_way_ms" "$loss_pct" "$dropped" "$passed" "$md" \
    "$runs_clean" "$runs_loss" "$g_small" "$g_big" <<'PY'
import statistics, sys, textwrap

path, rate_kbit, one_way, loss_pct, dropped, passed, md, runs_clean, runs_loss, g_small, g_big = sys.argv[1:]
rate_bps, one_way, dropped, passed = int(rate_kbit) * 1000, int(one_way), int(dropped), int(passed)
rows = [l.split() for l in open(path) if l.strip()]

def floor_ms(wire):  # TCP + TLS 1.3 handshakes and one request: 3 round trips; bytes at line rate
    return 3 * 2 * one_way + wire * 8 / rate_bps * 1000

keys, groups = [], {}
for r in rows:
    groups.setdefault((r[0], r[1]), []).append([float(x) for x in r[2:]])
for (scen, mode), runs in groups.items():
    ms = [r[0] for r in runs]
    floors = [floor_ms(r[1]) for r in runs]
    p = "link_%s%s_" % (scen, "" if mode == "clean" else "_loss")
    med = lambda i: statistics.median(r[i] for r in runs)
    keys += [
        (p + "runs", len(runs)),
        (p + "ops", round(max(runs[0][5], runs[0][6]))),
        (p + "requests", round(med(2))),
        (p + "bytes_up", round(med(3))),
        (p + "bytes_down", round(med(4))),
        (p + "wire_bytes", round(med(1))),
        (p + "ms_min", round(min(ms))),
        (p + "ms", round(statistics.median(ms))),
        (p + "ms_max", round(max(ms))),
        (p + "floor_ms", round(statistics.median(floors))),
        (p + "ratio", "%.2f" % (statistics.median(ms) / statistics.median(floors))),
    ]
fig = dict(keys)
measured = "%.2f" % (100 * dropped / max(1, dropped + passed))
keys += [("link_rate_kbit", rate_kbit), ("link_one_way_ms", one_way), ("link_loss_pct", loss_pct),
         ("link_loss_measured_pct", measured)]
out = sys.stderr if md else sys.stdout
for k, v in keys:
    print("%s=%s" % (k, v), file=out)
if not md:
    sys.exit(0)

def n(x):
    return "{:,}".format(int(x))

print("## Over a satellite link (bench/link.sh)")
print()
print(textwrap.fill(
    "`bench/link.sh build --markdown` (as root; about three and a half minutes here). Two "
    "network namespaces joined by one veth pair on a private /30 that exists only inside them; "
    "each direction runs at %s kbit/s (`tc tbf` on the sender's side), %d ms one way "
    "(bench/nfqdelay.c holding every packet on an NFQUEUE at the receiver: this kernel has no "
    "netem) and, in the second row, %s%% loss (iptables `statistic` drops at the receiver; "
    "%s%% of the packets were dropped over the lossy runs). `mrf-hq serve` runs in one "
    "namespace, the device's `mrf sync` in the other, so the TCP handshake, TLS and every byte "
    "cross the link; wire bytes are the device side's interface counters, both directions, from "
    "before the sync until its connection has closed (Ethernet, IP, TCP and TLS headers, and "
    "every retransmission). The floor is what no protocol can beat on this link: the TCP "
    "handshake, the TLS 1.3 handshake and one request (3 round trips, %s ms), plus those wire "
    "bytes at the line rate. A pull is a fresh device's first sync (enrollment included) of "
    "what another device of the post sent HQ; a push is an enrolled device sending %s new "
    "grants (as `mrf grant add` ×%s leaves them). The wall time includes starting `mrf` and "
    "its passphrase unlock (Argon2id, about a tenth of a second). Without loss: median of %s "
    "runs; with loss: %s runs, min / median / max, and the ratio of the medians."
    % (rate_kbit, one_way, loss_pct, measured, n(6 * one_way), n(g_small), n(g_small), runs_clean,
       runs_loss), 96))
titles = {"pull1k": "Pull of %s grants by a fresh device" % n(g_small),
          "pull28k": "Pull of %s grants by a fresh device" % n(g_big),
          "push1k": "Push of %s new grants" % n(g_small)}
for scen in ("pull1k", "pull28k", "push1k"):
    print()
    print("%s:" % titles[scen])
    print()
    print("| link | ops | requests | wire bytes | wall time | floor | **time / floor** |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode, label in (("clean", "no loss"), ("loss", "%s%% loss each way" % loss_pct)):
        p = "link_%s%s_" % (scen, "" if mode == "clean" else "_loss")
        if p + "ms" not in fig:
            continue
        wall = "%s ms" % n(fig[p + "ms"])
        if mode == "loss":
            wall = "%s / %s / %s ms" % (n(fig[p + "ms_min"]), n(fig[p + "ms"]), n(fig[p + "ms_max"]))
        print("| %s | %s | %s | %s | %s | %s ms | **%s** |" % (
            label, n(fig[p + "ops"]), fig[p + "requests"], n(fig[p + "wire_bytes"]), wall,
            n(fig[p + "floor_ms"]), fig[p + "ratio"]))
PY

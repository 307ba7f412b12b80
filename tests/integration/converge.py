#!/usr/bin/env python3
"""Randomized, seeded convergence test of the real `mrf` devices and `mrf-hq serve`.

Run by tests/integration/test_converge.sh (which starts HQ behind tests/integration/hqproxy.py
with lib.sh's start_sync_hq) as:  converge.py T HQ_HOME PROXY_DIR
with MRF_BIN, MRF_HQ_BIN, MRF_PASSPHRASE and MRF_ESCROW_PASSPHRASE in the environment.
Python 3 standard library only.

What it does
  Two posts, five devices, each in its own home, set up with `mrf init --token` (tokens from
  `mrf-hq enroll POST`): NAI n1 (real clock), n2 (+365 days), n3 (+1825000 days, about 5000
  years ahead: its hybrid logical clocks are >= 2^63); GVA g1 (real clock), g2 (-365 days).
  A skewed device runs every command with libfaketime preloaded (FAKETIME=OFFSET) except
  `mrf init`: a token lives at most 90 days by HQ's clock, so a device a year ahead rightly
  refuses it as expired (exit 5), which is not what this test is about. MRF_CONVERGE_SKEW=none|year|all (default
  all) says which devices are skewed: none, only the +-365 days ones, or also n3.
  Then MRF_CONVERGE_STEPS random steps (default 120), each one of:
    - an offline operation on a random device: theme set (1-2 themes for 2026 or 2027),
      partner add / edit (phone or risk) / remove, grant add (a live partner and a theme of the
      year as that device sees them), grant set (amount, status forward, note); about half of
      the grant sets are CONCURRENT: the same column of a grant edited on two devices of the
      same post, one after the other, before either syncs. Exit 0 or 3 (a rule refused it) is
      accepted; anything else is a failure naming the command, its exit and stderr;
    - a sync of a random device, or of all devices in a random order; a fraction of them
      (MRF_CONVERGE_FAULTS, default 0.3) interrupted: the proxy in drop-once (HQ applies, the
      answer is cut; the device retries within the same sync), hold (503 until the sync gives
      up, exit 4), down (connection cut, exit 4), or `mrf sync` started in the background and
      killed with SIGKILL after a random pause of 0-0.3 s (its outcome is recorded, nothing
      depends on when the kill lands);
    - occasionally `mrf-hq allocate POST YEAR AMOUNT`.
  At the end the proxy passes everything and every device syncs until its outbox is empty.
  Then a causal probe: on each post, every device in turn (random order) syncs, sets the amount
  of one grant and the risk of one partner, and syncs again; each of these writes is made
  after its device pulled all the earlier ones, so the last one must win everywhere, whatever
  the device clocks say (DESIGN section 5), and each must be recorded (exit 0). Then every
  device syncs once more (the second round, so everyone pulls everything), and it checks:
    1. every device holds exactly HQ's rows of its post (themes, partners, grants, allocations;
       every column the device's table has, by row id) and the per-column clocks of those rows
       (clock and device of every column). If `clocks` has a `post` column (HQ keyed by
       (post, id)) the clocks are selected by it, else by the ids of the post's rows;
    2. no device holds a row (or a clock) of another post;
    3. nothing lost or applied twice, counted (see "The count" below);
    4. no change set is quarantined, on any device or at HQ (reasons printed if any);
    5. every partner and grant a device created (the code `partner add`/`grant add` printed
       when it exited 0) exists at HQ under that device's post;
  and that every device's outbox is empty, and the probe's last writes hold at HQ and on every
  device of the post.

The count (check 3)
  Device side: before and after every sync (interrupted or killed ones too) `mrf status --json`
  gives "pending" (outbox entries) and "quarantined" (quarantined entries); the driver also
  reads the outbox itself, read-only (seq, change set id, column, clock). The entries that left
  the outbox in a sync, pending-before minus pending-after, are of three kinds:
    acknowledged by HQ, quarantined by HQ, or DROPPED by the device without being sent: when a
    pulled op beats a column that has a pending (not yet frozen) local write, the device drops
    that write (client/sync.c pull_op; HQ would refuse it as stale anyway).
  So "left == ingested by HQ" is not exact by itself. A drop can only happen to an entry that
  was still pending, not frozen into a change set, when HQ's answer arrived. A sync freezes all
  pending entries into its first change set before its first request, unless a change set left
  frozen by an earlier interrupted sync goes first; the outboxes here stay far below one
  change set (256 KiB), so drops are possible only in a sync that started with frozen entries.
  For those syncs the driver classifies each entry that was pending at the start and left: it
  was dropped iff the writer of that column on the device after the sync is another device (a
  pulled op replaced it). Not the clock: HQ may have applied the device's own write at a clock
  of its own (its clock was more than a day ahead), and the device then takes that clock. This needs no other sync running at HQ meanwhile:
  syncs here run one at a time, and after a kill the driver waits until the proxy has HQ's
  answer to every request it forwarded. For syncs that exit 0 the device's own summary
  (`mrf sync --json` "sent") gives a second, independent count: left - dropped must equal
  sent + newly quarantined entries, per sync.
  HQ side: `mrf-hq serve` logs one line per request (hq/serve.c request_log):
    ... POST /v1/sync STATUS device=<first 8 bytes hex> post=P ops=IN/APPLIED/SENT verdict=V
  IN is the number of ops in the change set; a change set seen before is logged verdict=replay
  (or, for a quarantined one, verdict=quarantined) with IN = 0, because HQ does not parse it
  again. Checked, per device: the sum of IN over its accepted and quarantined lines equals the
  sum over its syncs of (left - dropped); every replay line applied 0 ops; and HQ's oplog holds
  no two rows with the same (post, tbl, id, col, clock, device).

Reproducing
  The seed comes from MRF_SEED, else is random; it is printed at the start ("seed: N"), in
  every failure line and in the summary. Every random choice comes from random.Random(seed),
  and candidates are taken in the order the driver created them (never in the order of the
  random codes), so MRF_SEED=N replays the same choices:
    MRF_SEED=N MRF_BIN=$PWD/build/mrf MRF_HQ_BIN=$PWD/build/mrf-hq MRF_SRC=$PWD \\
        bash tests/integration/test_converge.sh
  (MRF_KEEP_TMP=1 keeps the homes, serve.log and the proxy's captures.) The outcome of a kill
  -9 depends on when it lands, so a failure that depends on one may need a few runs.
  Knobs: MRF_CONVERGE_STEPS, MRF_CONVERGE_FAULTS (0..1), MRF_CONVERGE_SKEW (none|year|all),
  MRF_CONVERGE_OFFLINE_TIMEOUT (seconds for a sync that cannot reach HQ, default 1).

Output: "ok - ..." / "not ok - ... (seed N)" lines, a summary, exit 0 if nothing failed.
"""
import glob
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time

MRF = os.environ["MRF_BIN"]
# Debian's libfaketime (scripts/install-deps.sh installs the faketime package)
LIBFAKETIME = next(iter(sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))), None)
MRF_HQ = os.environ["MRF_HQ_BIN"]
T, HQ_HOME, PROXY_DIR = sys.argv[1], sys.argv[2], sys.argv[3]
SERVE_LOG = os.path.join(T, "serve.log")

SEED = int(os.environ.get("MRF_SEED") or random.SystemRandom().randrange(1, 2**31))
STEPS = int(os.environ.get("MRF_CONVERGE_STEPS") or 120)
FAULTS = float(os.environ.get("MRF_CONVERGE_FAULTS") or 0.3)
SKEW = os.environ.get("MRF_CONVERGE_SKEW") or "all"
OFFLINE_TIMEOUT = int(os.environ.get("MRF_CONVERGE_OFFLINE_TIMEOUT") or 1)
SYNC_TIMEOUT = 20
rng = random.Random(SEED)

THEMES = ["FOE", "WGR", "LGBTIQ", "FORB", "HRD", "ACC"]
YEARS = [2026, 2027]
STATUS_ORDER = ["draft", "committed", "disbursed", "closed"]
# (name, post, clock offset, which MRF_CONVERGE_SKEW settings skew it)
LAYOUT = [
    ("n1", "NAI", None, ()),
    ("n2", "NAI", "+365d", ("year", "all")),
    ("n3", "NAI", "+1825000d", ("all",)),
    ("g1", "GVA", None, ()),
    ("g2", "GVA", "-365d", ("year", "all")),
]
LOG_RE = re.compile(r"POST /v1/sync (\d+) device=([0-9a-fA-F]+) post=(\S+) "
                    r"ops=(-?\d+)/(-?\d+)/(-?\d+) verdict=(\S+)")

passed = 0
failed = 0
unexpected_shown = 0
UNEXPECTED_SHOWN_MAX = 12
bg_procs = []  # background `mrf sync` process groups still to be ended


def ok(name):
    global passed
    passed += 1
    print("ok - %s" % name, flush=True)


def not_ok(name, msg):
    global failed
    failed += 1
    print("not ok - %s: %s (seed %d)" % (name, msg, SEED), flush=True)


def check(name, cond, msg):
    if cond:
        ok(name)
    else:
        not_ok(name, msg)


def note(text):
    print("# " + text, flush=True)


def short(s, n=300):
    s = s.decode(errors="replace") if isinstance(s, bytes) else s
    s = " ".join(s.split())
    return s if len(s) <= n else s[:n] + "..."


def run_cmd(argv, timeout, env=None):
    """Runs argv in its own process group; (rc, stdout, stderr). rc "timeout" if it had to be
    killed (the whole group, should the program have started others)."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return "timeout", out.decode(errors="replace"), err.decode(errors="replace")
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def hq(*args, timeout=60):
    return run_cmd([MRF_HQ, "--home", HQ_HOME] + list(args), timeout)


def proxy_mode(mode):
    tmp = os.path.join(PROXY_DIR, "mode.tmp")
    with open(tmp, "w") as f:
        f.write(mode + "\n")
    os.replace(tmp, os.path.join(PROXY_DIR, "mode"))


def proxy_quiet(limit=15.0):
    """Waits until the proxy has HQ's answer (or its own) to every request it took in."""
    time.sleep(0.2)
    end = time.time() + limit
    while time.time() < end:
        bodies = glob.glob(os.path.join(PROXY_DIR, "body-*.bin"))
        if all(os.path.exists(b.replace("body-", "status-").replace(".bin", ""))
               for b in bodies):
            return True
        time.sleep(0.05)
    return False


def ro(path):
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)


def columns(db, table):
    return [r[1] for r in db.execute("PRAGMA table_info(%s)" % table)]


class Registry:
    """Creation order of every code the driver saw printed: candidates are sorted by it, so
    a seed makes the same choices whatever random codes the programs drew."""

    def __init__(self):
        self.order = {}

    def add(self, code):
        self.order.setdefault(code, len(self.order))

    def key(self, code):
        return (self.order.get(code, 1 << 30), code)


REG = Registry()


class Device:
    def __init__(self, name, post, offset):
        self.name, self.post, self.offset = name, post, offset
        self.home = os.path.join(T, name)
        self.db = os.path.join(self.home, "post.db")
        self.id = None
        self.created = []  # (kind, code) of rows it created
        self.left = 0      # outbox entries that left, summed over syncs
        self.dropped = 0   # ... of which dropped by a pulled op, never sent
        self.syncs = 0

    def label(self):
        return "%s (%s%s)" % (self.name, self.post, ", " + self.offset if self.offset else "")

    def argv(self, args):
        return [MRF, "--home", self.home] + list(args)

    def env(self):
        """libfaketime preloaded straight, not through the `faketime` wrapper: the wrapper keeps
        a POSIX semaphore named after its pid, which a kill -9 leaves behind, and a later
        wrapper that gets the same pid then fails (sem_open: File exists)."""
        e = dict(os.environ)
        if self.offset:
            a = e.get("ASAN_OPTIONS")
            e["ASAN_OPTIONS"] = (a + ":" if a else "") + "verify_asan_link_order=0"
            e["LD_PRELOAD"] = LIBFAKETIME
            e["FAKETIME"] = self.offset
            e["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
        return e

    def run(self, args, timeout=60, real_clock=False):
        if real_clock:
            return run_cmd([MRF, "--home", self.home] + list(args), timeout)
        return run_cmd(self.argv(args), timeout, self.env())

    def status(self):
        rc, out, err = self.run(["status", "--json"])
        if rc != 0:
            not_ok("%s: mrf status --json" % self.name, "exit %s: %s" % (rc, short(err)))
            return None
        return json.loads(out)

    # ---- its view, read-only ---------------------------------------------------------------
    def view(self):
        with ro(self.db) as db:
            partners = [c for (c,) in db.execute(
                "SELECT code FROM partners WHERE post = ? AND removed = 0", (self.post,))]
            themes = {}
            for y, t in db.execute("SELECT year, theme FROM themes WHERE post = ? AND "
                                   "removed = 0 AND theme IS NOT NULL", (self.post,)):
                themes.setdefault(y, []).append(t)
            grants = {c: (s, y) for c, s, y in db.execute(
                "SELECT code, status, year FROM grants WHERE post = ? AND removed = 0",
                (self.post,))}
        db.close()
        for y in themes:
            themes[y].sort()
        return sorted(partners, key=REG.key), themes, grants

    def outbox(self):
        """{seq: (frozen, tbl, id, col, clock)} and the column clocks {(tbl, id, col): (clock,
        device)} of the columns in the outbox."""
        with ro(self.db) as db:
            ob = {seq: (cs is not None, tbl, bytes(i), col, clk) for seq, cs, tbl, i, col, clk in
                  db.execute("SELECT seq, changeset, tbl, id, col, clock FROM outbox")}
        db.close()
        return ob

    def column_clocks(self, keys):
        res = {}
        with ro(self.db) as db:
            for tbl, i, col in keys:
                r = db.execute("SELECT clock, device FROM clocks WHERE tbl = ? AND id = ? AND "
                               "col = ?", (tbl, i, col)).fetchone()
                res[(tbl, i, col)] = (r[0], bytes(r[1])) if r else None
        db.close()
        return res


DEVICES = []
stats = {"ops": {}, "syncs": {}, "sync_rc": {}, "alloc": 0, "concurrent": 0,
         "accounting_checked": 0, "t_ops": 0.0}


def count(table, key, n=1):
    stats[table][key] = stats[table].get(key, 0) + n


def unexpected(what, dev, args, rc, out, err):
    global unexpected_shown
    count("ops", "unexpected exits:%s" % rc)
    if unexpected_shown < UNEXPECTED_SHOWN_MAX:
        not_ok("%s on %s exits 0 or 3" % (what, dev.label()),
               "mrf %s: exit %s, stderr: %s" % (" ".join(args), rc, short(err)))
    elif unexpected_shown == UNEXPECTED_SHOWN_MAX:
        note("(further unexpected exits are counted, not shown)")
    unexpected_shown += 1


def op(dev, kind, args):
    t = time.time()
    rc, out, err = dev.run(args)
    stats["t_ops"] += time.time() - t
    count("ops", "%s:%s" % (kind, rc))
    if rc not in (0, 3):
        unexpected(kind, dev, args, rc, out, err)
    return rc, out.strip()


# ---- operations ----------------------------------------------------------------------------
def amount():
    return "%d.%02d" % (rng.randint(1, 60000), rng.randint(0, 99))


def do_theme(dev):
    year = rng.choice(YEARS)
    themes = rng.sample(THEMES, rng.randint(1, 2))
    op(dev, "theme set", ["theme", "set", str(year)] + themes)


def do_partner_add(dev):
    n = len(REG.order)
    args = ["partner", "add", "--name", "Converge Org %d-%d" % (SEED % 1000, n)]
    if rng.random() < 0.5:
        args += ["--phone", "+254 7%08d" % rng.randint(0, 99999999)]
    if rng.random() < 0.5:
        args += ["--risk", rng.choice(["low", "medium", "high"])]
    rc, out = op(dev, "partner add", args)
    if rc == 0 and out:
        REG.add(out)
        dev.created.append(("partner", out))


def do_partner_edit(dev, partners):
    code = rng.choice(partners)
    if rng.random() < 0.5:
        args = ["partner", "edit", code, "--phone", "+41 22 %07d" % rng.randint(0, 9999999)]
    else:
        args = ["partner", "edit", code, "--risk", rng.choice(["low", "medium", "high"])]
    op(dev, "partner edit", args)


def do_partner_remove(dev, partners):
    op(dev, "partner remove", ["partner", "remove", rng.choice(partners)])


def do_grant_add(dev, partners, themes):
    year = rng.choice(sorted(themes))
    args = ["grant", "add", "--partner", rng.choice(partners), "--theme",
            rng.choice(themes[year]), "--year", str(year), "--amount", amount()]
    if rng.random() < 0.3:
        args += ["--note", "converge note %d" % rng.randint(0, 10**6)]
    rc, out = op(dev, "grant add", args)
    if rc == 0 and out:
        REG.add(out)
        dev.created.append(("grant", out))


def next_status(current):
    """A status to move to: forward mostly, sometimes any (a refusal is fine)."""
    if rng.random() < 0.15 or current not in STATUS_ORDER:
        return rng.choice(STATUS_ORDER + ["cancelled"])
    i = STATUS_ORDER.index(current)
    choices = STATUS_ORDER[i + 1:] + (["cancelled"] if current in ("draft", "committed") else [])
    return rng.choice(choices) if choices else rng.choice(STATUS_ORDER)


def grant_set_args(code, col, status):
    if col == "amount":
        return ["grant", "set", code, "--amount", amount()]
    if col == "status":
        return ["grant", "set", code, "--status", next_status(status)]
    return ["grant", "set", code, "--note", "set note %d" % rng.randint(0, 10**6)]


def do_grant_set(dev, grants):
    col = rng.choice(["amount", "amount", "status", "status", "note"])
    peers = [d for d in DEVICES if d is not dev and d.post == dev.post]
    if peers and rng.random() < 0.5:
        other = rng.choice(peers)
        theirs = other.view()[2]
        common = sorted(set(grants) & set(theirs), key=REG.key)
        if common:
            code = rng.choice(common)
            stats["concurrent"] += 1
            op(dev, "grant set (concurrent)", grant_set_args(code, col, grants[code][0]))
            op(other, "grant set (concurrent)", grant_set_args(code, col, theirs[code][0]))
            return
    code = rng.choice(sorted(grants, key=REG.key))
    op(dev, "grant set", grant_set_args(code, col, grants[code][0]))


def do_op(dev):
    partners, themes, grants = dev.view()
    kind = rng.choices(["theme", "padd", "pedit", "prm", "gadd", "gset"],
                       weights=[8, 14, 10, 4, 26, 38])[0]
    if kind == "gset" and not grants:
        kind = "gadd"
    if kind == "gadd" and not themes:
        kind = "theme"
    if kind in ("gadd", "pedit", "prm") and not partners:
        kind = "padd"
    {"theme": lambda: do_theme(dev),
     "padd": lambda: do_partner_add(dev),
     "pedit": lambda: do_partner_edit(dev, partners),
     "prm": lambda: do_partner_remove(dev, partners),
     "gadd": lambda: do_grant_add(dev, partners, themes),
     "gset": lambda: do_grant_set(dev, grants)}[kind]()


def do_allocate():
    post = rng.choice(sorted({d.post for d in DEVICES}))
    year = rng.choice(YEARS)
    rc, out, err = hq("allocate", post, str(year), str(rng.randint(10000, 900000)))
    stats["alloc"] += 1
    if rc != 0:
        not_ok("mrf-hq allocate %s %d" % (post, year), "exit %s: %s" % (rc, short(err)))


# ---- syncs ---------------------------------------------------------------------------------
def sync(dev, fault="none"):
    """One sync of dev, interrupted as fault says; accounts for what left its outbox."""
    t_start = time.time()
    st0 = dev.status()
    ob0 = dev.outbox()
    if st0 is None:
        return None
    if st0["pending"] != len(ob0):
        not_ok("%s: status pending matches the outbox" % dev.name,
               "pending %s, outbox rows %d" % (st0["pending"], len(ob0)))
    dev.syncs += 1
    count("syncs", fault)
    report = None
    if fault in ("hold", "down"):
        proxy_mode(fault)
        rc, out, err = dev.run(["sync", "--timeout", str(OFFLINE_TIMEOUT)], timeout=60)
        proxy_mode("pass")
        if rc != 4:
            not_ok("%s: a sync with HQ unreachable (%s) exits 4" % (dev.label(), fault),
                   "exit %s, stderr: %s" % (rc, short(err)))
    elif fault == "kill":
        p = subprocess.Popen(dev.argv(["sync", "--timeout", str(SYNC_TIMEOUT)]),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, start_new_session=True, env=dev.env())
        bg_procs.append(p)
        time.sleep(rng.uniform(0.0, 0.3))
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        rc = p.wait(timeout=30)
        bg_procs.remove(p)
        rc = "killed" if rc == -signal.SIGKILL else rc
        if rc not in ("killed", 0):
            not_ok("%s: a sync killed in the background" % dev.label(),
                   "it ended by itself with exit %s" % rc)
        if not proxy_quiet():
            not_ok("the proxy settles after a kill", "a request is still unanswered after 15 s")
    else:
        if fault == "drop":
            proxy_mode("drop-once")
        rc, out, err = dev.run(["sync", "--timeout", str(SYNC_TIMEOUT), "--json"], timeout=90)
        proxy_mode("pass")
        if rc == 0:
            report = json.loads(out)
        else:
            not_ok("%s: sync%s exits 0" % (dev.label(), " after a lost answer"
                                            if fault == "drop" else ""),
                   "exit %s, stderr: %s" % (rc, short(err)))
    count("sync_rc", "%s:%s" % (fault, rc))
    stats["t_sync_" + fault] = stats.get("t_sync_" + fault, 0) + time.time() - t_start
    st1 = dev.status()
    ob1 = dev.outbox()
    if st1 is None:
        return rc
    left = st0["pending"] - st1["pending"]
    newly_q = st1.get("quarantined", 0) - st0.get("quarantined", 0)
    dropped = 0
    if any(e[0] for e in ob0.values()):
        # started with a frozen change set: entries still pending then may have been dropped
        gone = [e for s, e in ob0.items() if not e[0] and s not in ob1]
        clocks = dev.column_clocks([(e[1], e[2], e[3]) for e in gone])
        dropped = sum(1 for e in gone
                      if clocks[(e[1], e[2], e[3])] is None
                      or clocks[(e[1], e[2], e[3])][1] != dev.id_bytes)
    dev.left += left
    dev.dropped += dropped
    if left < 0:
        not_ok("%s: a sync never adds to the outbox" % dev.name, "pending %d -> %d" %
               (st0["pending"], st1["pending"]))
    if report is not None:
        stats["accounting_checked"] += 1
        if left - dropped != report["sent"] + newly_q:
            not_ok("%s: what left the outbox is what HQ acknowledged" % dev.label(),
                   "pending %d -> %d, %d dropped by pulled ops, but the sync reports %d sent "
                   "and %d newly quarantined" % (st0["pending"], st1["pending"], dropped,
                                                 report["sent"], newly_q))
    return rc


def pick_fault():
    if rng.random() >= FAULTS:
        return "none"
    return rng.choice(["drop", "hold", "down", "kill"])


# ---- set-up --------------------------------------------------------------------------------
def setup():
    for post, kind in (("NAI", "bilateral"), ("GVA", "multilateral")):
        rc, out, err = hq("post", "add", post, "--kind", kind)
        if rc != 0:
            not_ok("mrf-hq post add %s" % post, "exit %s: %s" % (rc, short(err)))
            return False
    for name, post, offset, when in LAYOUT:
        dev = Device(name, post, offset if SKEW in when else None)
        rc, token, err = hq("enroll", post)
        if rc != 0:
            not_ok("mrf-hq enroll %s" % post, "exit %s: %s" % (rc, short(err)))
            return False
        rc, out, err = dev.run(["init", "--token", token.strip()], real_clock=True)
        if rc != 0:
            not_ok("%s set up" % dev.label(), "exit %s: %s" % (rc, short(err)))
            return False
        st = dev.status()
        if st is None:
            return False
        dev.id = st["device"].lower()
        dev.id_bytes = bytes.fromhex(dev.id)
        DEVICES.append(dev)
    ok("HQ, 2 posts and %d devices set up (%s)" % (len(DEVICES),
       ", ".join(d.label() for d in DEVICES)))
    return True


# ---- a causal probe ------------------------------------------------------------------------
def probe_write(dev, args, kind, what):
    """One write of the causal probe on dev; it must succeed. True if it did."""
    rc, out, err = dev.run(args)
    count("ops", "probe %s:%s" % (kind, rc))
    if rc != 0:
        not_ok("causal probe: %s sets %s after pulling every earlier write" % (dev.label(), what),
               "mrf %s: exit %s, stderr: %s" % (" ".join(args), rc, short(err)))
    return rc == 0


def causal_probe():
    """With every outbox empty: on each post, every device in turn (random order) syncs, sets
    one grant's amount and one partner's risk, and syncs again. Each write is made after its
    device has pulled every earlier one, so the last must win everywhere, whatever the clocks
    (DESIGN section 5: a clock far ahead never wins by being ahead, and never stops another
    device from recording). Returns what to look for: [(post, grant, cents, partner, risk)]."""
    want = []
    with ro(os.path.join(HQ_HOME, "hq.db")) as hqdb:
        for post in sorted({d.post for d in DEVICES}):
            grants = sorted((c for (c,) in hqdb.execute(
                "SELECT code FROM grants WHERE post = ? AND removed = 0 AND status IN "
                "('draft', 'committed', 'disbursed')", (post,))), key=REG.key)
            partners = sorted((c for (c,) in hqdb.execute(
                "SELECT code FROM partners WHERE post = ? AND removed = 0", (post,))),
                key=REG.key)
            want.append([post, rng.choice(grants) if grants else None, None,
                         rng.choice(partners) if partners else None, None])
    hqdb.close()
    risks = ["low", "medium", "high"]
    for w in want:
        devs = [d for d in DEVICES if d.post == w[0]]
        rng.shuffle(devs)
        for i, dev in enumerate(devs):
            sync(dev)
            if w[1]:
                cents = 100 * (i + 1) * 1111 + rng.randint(0, 99)
                if probe_write(dev, ["grant", "set", w[1], "--amount",
                                     "%d.%02d" % divmod(cents, 100)], "grant set", "an amount"):
                    w[2] = cents
            if w[3]:
                risk = risks[(risks.index(w[4]) + 1) % 3] if w[4] else rng.choice(risks)
                if probe_write(dev, ["partner", "edit", w[3], "--risk", risk], "partner edit",
                               "a risk"):
                    w[4] = risk
            sync(dev)
    return want


def probe_checks(want):
    for post, grant, cents, partner, risk in want:
        where = [("HQ", os.path.join(HQ_HOME, "hq.db"))] + [
            (d.name, d.db) for d in DEVICES if d.post == post]
        for what, code, table, col, value in (("amount", grant, "grants", "amount_cents", cents),
                                              ("risk", partner, "partners", "risk", risk)):
            if code is None or value is None:
                continue
            got = []
            for name, path in where:
                with ro(path) as db:
                    r = db.execute("SELECT %s FROM %s WHERE post = ? AND code = ?" % (col, table),
                                   (post, code)).fetchall()
                db.close()
                got.append((name, [x[0] for x in r]))
            bad = [(n, v) for n, v in got if v != [value]]
            check("causal probe, %s: the last %s written to %s (%s) wins everywhere"
                  % (post, what, code, value), not bad,
                  "holding something else: %s" % ", ".join("%s %s" % nv for nv in bad))


# ---- the checks at the end -----------------------------------------------------------------
DOMAIN = ["themes", "partners", "grants", "allocations"]


def post_rows(db, post, cols_from=None):
    """{table: {id: row}} of post's rows, with the columns of cols_from's tables (else db's)."""
    res = {}
    for t in DOMAIN:
        cols = columns(cols_from or db, t)
        sel = ", ".join(cols)
        rows = db.execute("SELECT %s FROM %s WHERE post = ?" % (sel, t), (post,)).fetchall()
        i = cols.index("id")
        res[t] = (cols, {bytes(r[i]): tuple(bytes(v) if isinstance(v, memoryview) else v
                                            for v in r) for r in rows})
    return res


def post_clocks(db, post):
    """{(tbl, id, col): (clock, device)} of post's rows."""
    if "post" in columns(db, "clocks"):
        q = "SELECT tbl, id, col, clock, device FROM clocks WHERE post = ?"
        args = (post,)
    else:
        q = ("SELECT tbl, id, col, clock, device FROM clocks WHERE id IN ("
             + " UNION ".join("SELECT id FROM %s WHERE post = ?" % t for t in DOMAIN) + ")")
        args = (post,) * len(DOMAIN)
    return {(tbl, bytes(i), col): (clk, bytes(d)) for tbl, i, col, clk, d in
            db.execute(q, args)}


def fmt(v):
    if isinstance(v, bytes):
        return v.hex()[:16] + ("..." if len(v) > 8 else "")
    return repr(v)


def compare_state(dev, hqdb):
    with ro(dev.db) as ddb:
        mine = post_rows(ddb, dev.post)
        hqs = post_rows(hqdb, dev.post, cols_from=ddb)
        diffs = []
        for t in DOMAIN:
            cols, a = mine[t]
            _, b = hqs[t]
            for i in sorted(set(a) | set(b)):
                if i not in a:
                    diffs.append("%s %s: at HQ, missing on the device" % (t, i.hex()[:12]))
                elif i not in b:
                    diffs.append("%s %s: on the device, missing at HQ" % (t, i.hex()[:12]))
                elif a[i] != b[i]:
                    cs = [(c, x, y) for c, x, y in zip(cols, a[i], b[i]) if x != y]
                    diffs.append("%s %s: %s" % (t, i.hex()[:12], ", ".join(
                        "%s device %s HQ %s" % (c, fmt(x), fmt(y)) for c, x, y in cs)))
        ca, cb = post_clocks(ddb, dev.post), post_clocks(hqdb, dev.post)
        nclock = 0
        for k in sorted(set(ca) | set(cb)):
            if ca.get(k) != cb.get(k):
                nclock += 1
                if nclock <= 4:
                    x, y = ca.get(k), cb.get(k)
                    diffs.append("clock tbl %d id %s col %d: device %s HQ %s" % (
                        k[0], k[1].hex()[:12], k[2],
                        "none" if x is None else "%d/%s" % (x[0] & (2**64 - 1), x[1].hex()[:8]),
                        "none" if y is None else "%d/%s" % (y[0] & (2**64 - 1), y[1].hex()[:8])))
        if nclock > 4:
            diffs.append("... %d column clocks differ in all" % nclock)
        nrows = sum(len(mine[t][1]) for t in DOMAIN)
    ddb.close()
    return diffs, nrows, len(ca)


def foreign(dev):
    with ro(dev.db) as db:
        n = sum(db.execute("SELECT count(*) FROM %s WHERE post <> ?" % t, (dev.post,))
                .fetchone()[0] for t in DOMAIN)
        own = post_clocks(db, dev.post)
        allc = db.execute("SELECT count(*) FROM clocks").fetchone()[0]
    db.close()
    return n, allc - len(own)


def hq_log():
    """{device prefix: [ingested ops, replays, replays that applied, lines]}, other verdicts."""
    per, others = {}, {}
    with open(SERVE_LOG, errors="replace") as f:
        for line in f:
            m = LOG_RE.search(line)
            if not m:
                continue
            status, dev, post, oin, oapp, oout, verdict = m.groups()
            p = per.setdefault(dev.lower(), [0, 0, 0, 0])
            p[3] += 1
            if verdict in ("accepted", "quarantined"):
                p[0] += int(oin)
            elif verdict == "replay":
                p[1] += 1
                if int(oapp) != 0 or int(oin) != 0:
                    p[2] += 1
            else:
                others[(status, verdict)] = others.get((status, verdict), 0) + 1
    return per, others


def final_checks():
    hqdb = ro(os.path.join(HQ_HOME, "hq.db"))
    compared = {"rows": 0, "clocks": 0}
    for dev in DEVICES:
        diffs, nrows, nclocks = compare_state(dev, hqdb)
        compared["rows"] += nrows
        compared["clocks"] += nclocks
        check("%s holds exactly HQ's rows and column clocks of %s (%d rows, %d clocks)"
              % (dev.label(), dev.post, nrows, nclocks), not diffs,
              "%d differences: %s" % (len(diffs), "; ".join(diffs[:8])))
    for post in sorted({d.post for d in DEVICES}):
        n = hqdb.execute("SELECT count(*) FROM grants WHERE post = ?", (post,)).fetchone()[0]
        note("HQ holds %d grants of %s" % (n, post))
    # for information: column clocks far ahead of HQ's wall clock (stored as signed 64 bits)
    ahead = [((c & (2**64 - 1)) >> 16) for (c,) in hqdb.execute("SELECT clock FROM clocks")]
    ahead = [ms for ms in ahead if ms > time.time() * 1000 + 86400000]
    if ahead:
        note("HQ holds %d column clocks more than a day ahead of its wall clock (the furthest "
             "in the year %d)" % (len(ahead), 1970 + max(ahead) / 1000 / 86400 / 365.2425))
    for dev in DEVICES:
        rows, clocks = foreign(dev)
        check("%s holds no row of another post" % dev.name, rows == 0 and clocks == 0,
              "%d rows and %d clocks not of %s" % (rows, clocks, dev.post))

    # 3. the count
    per, others = hq_log()
    for dev in DEVICES:
        p = per.get(dev.id[:16], [0, 0, 0, 0])
        want = dev.left - dev.dropped
        check("%s: ops HQ ingested from it (%d) == entries that left its outbox (%d) - dropped "
              "by pulled ops (%d)" % (dev.name, p[0], dev.left, dev.dropped), p[0] == want,
              "HQ's log counts %d ops in its accepted/quarantined change sets, the device "
              "%d left - %d dropped = %d" % (p[0], dev.left, dev.dropped, want))
    nrep = sum(p[1] for p in per.values())
    bad = sum(p[2] for p in per.values())
    check("replayed change sets applied nothing (%d replays)" % nrep, bad == 0,
          "%d replay lines with ops in or applied" % bad)
    if others:
        note("other answers in HQ's log: %s" % ", ".join(
            "%s %s x%d" % (s, v, n) for (s, v), n in sorted(others.items())))
    e5 = sum(n for (s, v), n in others.items() if s.startswith("5"))
    check("HQ answered no request with a server error", e5 == 0, "%d 5xx answers" % e5)
    dup = hqdb.execute("SELECT post, tbl, hex(id), col, clock, hex(device), count(*) FROM oplog "
                       "GROUP BY post, tbl, id, col, clock, device HAVING count(*) > 1").fetchall()
    nop = hqdb.execute("SELECT count(*) FROM oplog").fetchone()[0]
    check("HQ's oplog (%d rows) holds no op twice" % nop, not dup,
          "%d duplicated, e.g. %s" % (len(dup), dup[:3]))

    # 4. quarantine
    qdev = []
    for dev in DEVICES:
        st = dev.status()
        if st is None:
            continue
        check("%s: outbox empty at the end" % dev.name, st["pending"] == 0,
              "%d entries pending" % st["pending"])
        if st.get("quarantined", 0):
            qdev.append("%s: %d (%s)" % (dev.name, st["quarantined"],
                                         st.get("quarantine_reason")))
    qhq = hqdb.execute("SELECT hex(device), post, verdict FROM received "
                       "WHERE verdict <> 'accepted'").fetchall()
    check("no change set quarantined, on any device or at HQ", not qdev and not qhq,
          "devices: %s; HQ: %s" % (qdev or "none", [tuple(r) for r in qhq[:5]] or "none"))

    # 5. every created row at HQ under its post
    missing, ncreated = [], 0
    for dev in DEVICES:
        for kind, code in dev.created:
            ncreated += 1
            t = "partners" if kind == "partner" else "grants"
            n = hqdb.execute("SELECT count(*) FROM %s WHERE code = ? AND post = ?" % t,
                             (code, dev.post)).fetchone()[0]
            if n != 1:
                missing.append("%s %s of %s (%d at HQ)" % (kind, code, dev.name, n))
    check("every partner and grant a device created is at HQ under its post (%d)" % ncreated,
          not missing, "%d missing: %s" % (len(missing), ", ".join(missing[:8])))
    hqdb.close()
    return per, compared, ncreated, nop


def main():
    print("seed: %d" % SEED, flush=True)
    note("steps %d, faults %.2f, skew %s (reproduce: MRF_SEED=%d MRF_CONVERGE_STEPS=%d "
         "MRF_CONVERGE_FAULTS=%s MRF_CONVERGE_SKEW=%s)" % (STEPS, FAULTS, SKEW, SEED, STEPS,
                                                          FAULTS, SKEW))
    if SKEW not in ("none", "year", "all"):
        not_ok("MRF_CONVERGE_SKEW", "must be none, year or all, not %r" % SKEW)
        return
    if SKEW != "none" and LIBFAKETIME is None:
        not_ok("libfaketime", "not found under /usr/lib/*/faketime/; scripts/install-deps.sh "
               "installs the faketime package")
        return
    t0 = time.time()
    if not setup():
        return
    for step in range(STEPS):
        r = rng.random()
        if r < 0.22:
            sync(rng.choice(DEVICES), pick_fault())
        elif r < 0.26:
            order = DEVICES[:]
            rng.shuffle(order)
            for d in order:
                sync(d, pick_fault())
        elif r < 0.29:
            do_allocate()
        else:
            do_op(rng.choice(DEVICES))
    t_random = time.time() - t0

    # the end: everything passes; sync until every outbox is empty, then once more each
    proxy_mode("pass")
    for dev in DEVICES:
        for attempt in range(4):
            sync(dev)
            st = dev.status()
            if st is None or st["pending"] == 0:
                break
    want = causal_probe()
    order = DEVICES[:]
    rng.shuffle(order)
    for dev in order:
        sync(dev)

    per, compared, ncreated, nop = final_checks()
    probe_checks(want)

    print("# ---- summary (seed %d) ----" % SEED)
    note("devices %d over posts %s: %s" % (len(DEVICES), ",".join(sorted({d.post for d in
         DEVICES})), ", ".join(d.label() for d in DEVICES)))
    kinds = {}
    for k, n in stats["ops"].items():
        kinds.setdefault(k.rsplit(":", 1)[0], []).append("%s x%d" % (k.rsplit(":", 1)[1], n))
    note("operations (by exit): %s" % "; ".join("%s: %s" % (k, ", ".join(sorted(v)))
                                                 for k, v in sorted(kinds.items())))
    note("concurrent same-column edits: %d; HQ allocations: %d" % (stats["concurrent"],
                                                                   stats["alloc"]))
    note("syncs: %d (%s); outcomes: %s" % (sum(stats["syncs"].values()), ", ".join(
        "%s %d" % kv for kv in sorted(stats["syncs"].items())), ", ".join(
        "%s x%d" % kv for kv in sorted(stats["sync_rc"].items()))))
    note("accounting: per sync (exit 0) checked %d times; per device left/dropped/HQ "
         "ingested: %s" % (stats["accounting_checked"], ", ".join(
             "%s %d/%d/%d" % (d.name, d.left, d.dropped, per.get(d.id[:16], [0])[0])
             for d in DEVICES)))
    note("compared: %d rows and %d column clocks against HQ; %d created rows looked up; "
         "HQ oplog %d rows" % (compared["rows"], compared["clocks"], ncreated, nop))
    note("time: %.1f s random phase, %.1f s in all; %.1f s in operations, in syncs: %s"
         % (t_random, time.time() - t0, stats["t_ops"], ", ".join(
             "%s %.1f s" % (k[7:], v) for k, v in sorted(stats.items()) if k.startswith("t_sync_"))))
    print("seed: %d" % SEED, flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a driver bug or a program gone wrong: a failure, with the seed
        import traceback
        traceback.print_exc()
        not_ok("the driver ran to its end", "%s: %s" % (type(e).__name__, e))
    finally:
        for p in bg_procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            proxy_mode("pass")
        except OSError:
            pass
    print("driver: %d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)

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
  Then MRF_CONVERGE_STEPS random steps (default 200), each one of:
    - an offline operation on a random device: theme set (1-2 themes for 2026 or 2027),
      partner add / edit (phone or risk) / remove, grant add (a live partner and a theme of the
      year as that device sees them), grant set (amount, status forward, note); about half of
      the grant sets are CONCURRENT: the same column of a grant edited on two devices of the
      same post, one after the other, before either syncs; for amount and status these are
      PAIRS with different values (a fifth of them the same value), remembered by the driver.
      Exit 0 or 3 (a rule refused it) is accepted; anything else is a failure naming the
      command, its exit and stderr;
    - concurrent theme choices: `mrf theme set YEAR ...` on two devices of one post, one after
      the other, before either syncs, with different sets (a fifth of them the same set);
    - "HQ resolves": a random open record of `mrf-hq conflicts --json` decided with a random
      valid form, always with a --reason: a value record of a grant column by --accept,
      --take A, --take B or (an amount) --set amount=X; a theme_set record by --set
      themes=X[,Y]; a rule record by --accept. It must exit 0 and close the record with that
      reason; the driver keeps (id, post, decision, reason);
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
    6.-9. the conflict queue: value records exactly where concurrent differing edits were,
       the driver's pairs, every decision on every device of its post, `mrf-hq audit verify`
       (see "The conflict queue" below);
  and that every device's outbox is empty, and the probe's last writes hold at HQ and on every
  device of the post.

The count (check 3)
  Device side: before and after every sync (interrupted or killed ones too) `mrf status --json`
  gives "pending" (outbox entries) and "quarantined" (quarantined entries); the driver also
  reads the outbox itself, read-only (seq, change set id, column, clock, value, previous
  clock and writer, and `seen`: the device's cursor when the write was made, post store v5).
  A device never drops a write: when a pulled op beats a column that has a pending (not yet
  frozen) local write, client/sync.c pull_op sets the write aside, as it is, into a change
  set of its own that goes next in the same sync (HQ merges it, it loses, and HQ keeps it in
  a value record if it was concurrent and differs). So every entry that left the outbox in a
  sync was acknowledged by HQ or quarantined, and for syncs that exit 0 the device's own
  summary (`mrf sync --json` "sent") must say so exactly: left == sent + newly quarantined,
  per sync. The queue model (below) also names, for every sync, the change set HQ received
  each entry that left in; an entry in none is a failure (lost).
  HQ side: `mrf-hq serve` logs one line per request (hq/serve.c request_log):
    ... POST /v1/sync STATUS device=<first 8 bytes hex> post=P ops=IN/APPLIED/SENT verdict=V
  IN is the number of ops in the change set; a change set seen before is logged verdict=replay
  (or, for a quarantined one, verdict=quarantined) with IN = 0, because HQ does not parse it
  again. Checked, per device: the sum of IN over its accepted and quarantined lines equals the
  sum over its syncs of the entries that left its outbox; every replay line applied 0 ops; and
  HQ's oplog holds no two rows with the same (post, tbl, id, col, clock, device). This needs
  no other sync running at HQ meanwhile: syncs here run one at a time, and after a kill the
  driver waits until the proxy has HQ's answer to every request it forwarded (and, for the
  queue model, until HQ's log line of every change set HQ received in the sync is written).

The conflict queue (checks 6 to 9)
  HQ keeps ONE open record per (post, rule, subject) and updates it when another concurrent
  edit of the same subject arrives; a decision closes it, and the next concurrent edit of that
  subject opens a new one. So "exactly one" is said per SYNC, not per pair: before and after
  every sync (interrupted and killed ones too) the driver snapshots HQ's store read-only —
  the records (id, rule, subject, cseq: a record's cseq changes whenever HQ opens, updates or
  closes it), the change sets HQ has received from the device (`received`), the current
  write (clock, device, value) of every watched grant column in the device's outbox, the
  post's theme rows, the post's last oplog pseq and its theme-row writes — and the device's
  outbox (value, clock, prev_clock, prev_device, change set, seen), its cursor and its live
  themes per year. Syncs run one at a time and a killed one is waited for (proxy_quiet), so
  what HQ did in between is this sync's doing.
    The change sets HQ ingested in the sync, and what each held, are known exactly: their ids
  are the ids new in `received`, in HQ's order; HQ's log gives, per change set in the same
  order, the ops it held (IN) and applied (APPLIED), so the oplog rows each one applied are
  the next APPLIED pseqs of the post after the sync's starting pseq (nobody else writes to
  HQ during the sync). A change set frozen before the sync (or still frozen after it, when
  its answer never arrived) is read from the outbox by its id. The others were made and
  acknowledged within the sync from the entries pending before it that left (the pool), in
  the order client/sync.c run() sends: the oldest frozen change set first, else cut(), which
  takes the oldest pending entries while their `seen` stays the same. Syncs here run one at a
  time, so only a sync's first answer brings other writers' ops; pull_op can therefore set
  entries aside only once per sync, into one change set frozen at once, which goes before
  any later cut: the pool entries whose column a pulled op took (the column's writer on the
  device after the sync is another), except those of a first request that was itself a cut
  (sent before any pull, they lost at HQ). Every change set must hold exactly the IN ops HQ
  logged, the pool must be used up, and the APPLIED counts must add up to what the post's
  oplog grew by; anything else is a failure. A replayed change set is not ingested again, so
  it is not counted again.
    Grant columns HQ watches (sync/tables.c: theme, year, amount_cents, currency, status,
  removed; the driver edits amount and status, HQ's decisions write the others). An op is a
  CONCURRENT EDIT iff HQ holds a write of that column and that write is neither the sender's
  own nor the one the op replaced (prev_clock/prev_device), i.e. the writer had not pulled it
  (DESIGN section 5); it is DIFFERING iff its value differs from HQ's. The driver replays the
  sync's change sets in order against the snapshot (an op that wins, or that HQ restamps
  because its clock is more than a day ahead, becomes the column's current write). Then:
    6a. every concurrent differing op is covered by exactly one value record: the sync opened
        or updated exactly one `concurrent_edit` record with subject "<grant code> <column>",
        and that record is the one open for the subject after the sync, holding the sides of
        the sync's last concurrent differing op of the subject (A the value HQ held when it
        arrived, B its value, by this device: a later op of the sync updates the record); an
        equal-valued concurrent op makes a `same_value` record and no value record;
    6b. conversely, no sync opens or changes a value record (concurrent_edit or theme_set)
        without such an op, and no decision (`mrf-hq resolve`) or allocation changes any value
        record but the one decided; no sync touches a record of another post.
  This counts the edits the driver did not mean as concurrent but were (a device that edited
  a column again before pulling its own earlier write's successor, a decision overtaken by a
  device's edit, ...), since it reads what the outboxes held. The skewed devices need no
  exclusion: HQ restamps n2's and n3's clocks (more than a day ahead), but concurrency is
  decided by the writer and the replaced write, never by the op's clock, and the device
  names HQ's clock for its own restamped writes, so their ops are judged like anyone's.
    Theme sets (rule theme_set, subject "themes YEAR"): each change set that writes theme
  rows of a year is checked exactly, both ways as in 6a/6b, against the cursor HQ uses for
  it: the change set's `seen` (the least `seen` of its entries; cut() puts only entries with
  the same `seen` in one change set, and the request carries it when it is below the cursor).
  The driver computes HQ's decision from HQ's oplog (the post's theme-row writes, read after
  the sync; it holds applied writes only), as docs/DECISIONS.md says HQ decides:
    - considered at all iff another writer (a device, or HQ's decision) wrote one of that
      year's theme rows after `seen`;
    - A, the set HQ held before the change set: every row's last `removed` write up to the
      pseq the change set started at;
    - B, the set the sender chose: per row, this change set's write of `removed`, else the
      sender's own last applied write after `seen` (its earlier change sets included), else
      the row as it stood at `seen` (what it had pulled); a row it never saw is not chosen;
    - B != A: a `theme_set` value record, opened or updated, the one open for the subject
      after the sync; B == A: a `same_value` record (parallel, closed).
  Because that model of B reads HQ's own oplog, it is checked against the device, which knows
  nothing of it: when the change set holds every unsent theme write of the year and its
  writes had seen the cursor the device had when the sync began, B must be exactly the set
  the device itself showed (its store's live themes of the year, what `mrf theme list YEAR`
  lists) just before the sync.
    7. the driver's own pairs: no side is lost — each is sent as written, replaced by a later
       write of the same device before its sync (coalesced), or was no write at all (the
       device already held that value: exit 0, no outbox entry); a side set aside by a pull
       is sent. A side is the outbox entry its write made (followed by seq: one sync may
       carry two writes of the column from one device, an older frozen change set's and a
       later one's, e.g. set aside by a pull). Every pair whose two writes both reached HQ as
       written has exactly one value record from the sync that brought the later write if
       that write differed from HQ's value then, none of its own if it did not (the
       same-value pairs): a value record that sync touched is another op's when another op of
       the sync was concurrent and differing on the subject, and 6a holds the record to that
       op's sides; and the later write was concurrent by its prev clock unless the write HQ
       held when it arrived was one it had seen (its own device's, or one from before the pair
       that the earlier side lost to: HQ judges each op against the write it holds, so the
       two sides met at another op, and 6a checked that), never one of the earlier side's
       device.
    8. every decision HQ made reached every device of its post: after the final syncs each
       device's `mrf conflicts --all --json` lists every record HQ holds for its post, in the
       same state, closed ones with HQ's decision and reason, and no record of another post.
    9. `mrf-hq audit verify` exits 0.

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
  MRF_CONVERGE_OFFLINE_TIMEOUT (seconds for a sync that cannot reach HQ, default 1),
  MRF_CONVERGE_DEBUG=1 (print every pair of concurrent edits and what became of it).

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
STEPS = int(os.environ.get("MRF_CONVERGE_STEPS") or 200)
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


def u64(v):
    return v & (2**64 - 1) if isinstance(v, int) else v


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
        self.aside = 0     # ... of which a pull had beaten and the device set aside (then sent)
        self.syncs = 0
        self.sides = {}    # outbox seq: sides of the driver's concurrent pairs not sent yet

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
        """{seq: (frozen, tbl, id, col, clock, value, prev_clock, prev_device, changeset,
        seen)}; seen: the device's cursor when the write was made (post store v5)."""
        with ro(self.db) as db:
            ob = {seq: (cs is not None, tbl, bytes(i), col, u64(clk), v, u64(pc),
                        bytes(pd) if pd is not None else None,
                        bytes(cs) if cs is not None else None, seen)
                  for seq, cs, tbl, i, col, clk, v, pc, pd, seen in db.execute(
                      "SELECT seq, changeset, tbl, id, col, clock, value, prev_clock, "
                      "prev_device, seen FROM outbox")}
        db.close()
        return ob

    def theme_sets(self):
        """{year: set of live themes} as this device holds them (what `mrf theme list YEAR`
        shows), read-only."""
        res = {}
        with ro(self.db) as db:
            for y, t in db.execute("SELECT year, theme FROM themes WHERE post = ? AND "
                                   "removed = 0 AND theme IS NOT NULL", (self.post,)):
                res.setdefault(y, set()).add(t)
        db.close()
        return res

    def cursor(self):
        with ro(self.db) as db:
            c = db.execute("SELECT hq_cursor FROM meta").fetchone()[0]
        db.close()
        return c

    def theme_row(self, i):
        """(year, theme) of a theme row by id, as this device holds it."""
        with ro(self.db) as db:
            r = db.execute("SELECT year, theme FROM themes WHERE id = ?", (i,)).fetchone()
        db.close()
        return (r[0], r[1]) if r else (None, None)

    def records(self):
        """`mrf conflicts --all --json`: {id: record}, or None if it failed."""
        rc, out, err = self.run(["conflicts", "--all", "--json"])
        if rc != 0:
            not_ok("%s: mrf conflicts --all --json" % self.name, "exit %s: %s" % (rc, short(err)))
            return None
        return {c["id"]: c for c in json.loads(out)}

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
         "concurrent_themes": 0, "pairs_refused": 0, "resolve_rc": {},
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


def theme_set(dev, year, themes, kind="theme set"):
    """`mrf theme set` on dev (what its writes had seen travels with them: outbox.seen)."""
    rc, out = op(dev, kind, ["theme", "set", str(year)] + themes)
    return rc


def do_theme(dev):
    theme_set(dev, rng.choice(YEARS), rng.sample(THEMES, rng.randint(1, 2)))


def do_theme_concurrent():
    """Two devices of one post choose a year's themes, one after the other, neither syncing in
    between: different sets mostly, sometimes the same."""
    post = rng.choice(sorted({d.post for d in DEVICES}))
    d1, d2 = rng.sample([d for d in DEVICES if d.post == post], 2)
    year = rng.choice(YEARS)
    s1 = sorted(rng.sample(THEMES, rng.randint(1, 2)))
    s2 = s1[:]
    if rng.random() >= 0.2:
        while s2 == s1:
            s2 = sorted(rng.sample(THEMES, rng.randint(1, 2)))
    stats["concurrent_themes"] += 1
    theme_set(d1, year, s1, "theme set (concurrent)")
    theme_set(d2, year, s2, "theme set (concurrent)")


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


def grant_id(dev, code):
    with ro(dev.db) as db:
        r = db.execute("SELECT id FROM grants WHERE code = ?", (code,)).fetchone()
    db.close()
    return bytes(r[0]) if r else None


def forward_other(current, not_this):
    """A status current may move to, other than not_this; None if there is none."""
    if current not in STATUS_ORDER:
        return None
    i = STATUS_ORDER.index(current)
    choices = [x for x in STATUS_ORDER[i + 1:] + (["cancelled"] if current in ("draft",
               "committed") else []) if x != not_this]
    return rng.choice(choices) if choices else None


def cents(text):
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


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
            if col == "note":
                op(dev, "grant set (concurrent)", grant_set_args(code, col, grants[code][0]))
                op(other, "grant set (concurrent)", grant_set_args(code, col, theirs[code][0]))
                return
            # a pair: the same watched column on two devices of one post, neither syncing in
            # between; different values, sometimes the same
            same = rng.random() < 0.2
            if col == "amount":
                v1 = amount()
                v2 = v1
                while not same and v2 == v1:
                    v2 = amount()
                flag, c = "--amount", GRANT_COLS.index("amount_cents")
            else:
                v1 = next_status(grants[code][0])
                v2 = v1 if same else (forward_other(theirs[code][0], v1) or
                                      next_status(theirs[code][0]))
                flag, c = "--status", GRANT_COLS.index("status")
            rc1, _ = op(dev, "grant set (pair)", ["grant", "set", code, flag, v1])
            rc2, _ = op(other, "grant set (pair)", ["grant", "set", code, flag, v2])
            gid = grant_id(dev, code)
            if rc1 == 0 and rc2 == 0 and gid is not None:
                conv = cents if col == "amount" else str
                pair = {"code": code, "col": GRANT_COLS[c], "same": v1 == v2, "sides": []}
                for d, v in ((dev, v1), (other, v2)):
                    side = {"dev": d.name, "value": conv(v), "fate": None}
                    # the side is the pending entry of that column (one per column: a later
                    # write of the same device before a sync coalesces into it, keeping its
                    # seq); it is followed by seq, not by column, since the device may send an
                    # earlier frozen write of the same column in the same sync. A write of the
                    # value the device already held writes nothing (exit 0, no outbox entry):
                    # that side is no edit at all, it has nothing to send
                    seqs = [s for s, e in d.outbox().items()
                            if not e[0] and e[1:4] == (TBL_GRANTS, gid, c) and e[5] == conv(v)]
                    if not seqs:
                        side["fate"] = "unchanged"
                    else:
                        d.sides.setdefault(seqs[0], []).append(side)
                    pair["sides"].append(side)
                Q["pairs"].append(pair)
            else:
                stats["pairs_refused"] += 1
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
    pre = hq_records_raw()
    rc, out, err = hq("allocate", post, str(year), str(rng.randint(10000, 900000)))
    record_check_outside("mrf-hq allocate", pre, hq_records_raw())
    stats["alloc"] += 1
    if rc != 0:
        not_ok("mrf-hq allocate %s %d" % (post, year), "exit %s: %s" % (rc, short(err)))


# ---- the conflict queue: what HQ must open, sync by sync -----------------------------------
TBL_THEMES, TBL_GRANTS = 0, 2
THEME_REMOVED = 2
GRANT_COLS = ["partner", "theme", "year", "amount_cents", "currency", "status", "start_date",
              "end_date", "note", "removed"]
WATCHED_GRANT = {1, 2, 3, 4, 5, 9}  # sync/tables.c: the grant columns HQ watches
HQDB = os.path.join(HQ_HOME, "hq.db")
VALUE_RULES = ("concurrent_edit", "theme_set")
Q = {"fail": [], "syncs": 0, "edits": 0, "same": 0, "theme_sets": 0, "theme_records": 0,
     "theme_view": 0, "changesets": 0, "aside_cs": 0, "stale_seen": 0, "pairs": [], "decisions": [],
     "outside": 0, "resolve_rc": {}, "reopened": 0}


def qfail(what):
    Q["fail"].append(what)
    if len(Q["fail"]) <= 6:
        note("queue check failed: " + what)


def hq_records_raw():
    """{id: record} of HQ's conflicts, read-only; a and b: the sides' values (wire JSON, as
    HQ keeps them; None if the record has none), b_device the writer of side B."""
    with ro(HQDB) as db:
        res = {r[0]: {"post": r[1], "kind": r[2], "rule": r[3], "subject": r[4], "cseq": r[5],
                      "closed": r[6] is not None, "decision": r[7], "reason": r[8],
                      "a": r[9], "b": r[10], "b_device": bytes(r[11]) if r[11] else None}
               for r in db.execute("SELECT id, post, kind, rule, subject, cseq, closed_at, "
                                   "coalesce(decision, ''), coalesce(reason, ''), a_value, "
                                   "b_value, b_device FROM conflicts")}
    db.close()
    return res


def hlc_bound(now_s):
    """HQ's bound: the largest clock of now + 24 h (docs/DECISIONS.md, "Clocks")."""
    return ((int(now_s * 1000) + 86400000) << 16) | 0xFFFF


def hq_snapshot(dev, ob):
    """What the model needs of HQ, read-only: records, change sets received from dev, the
    current write (clock, device, value) of every watched grant column in ob, the post's theme
    rows."""
    snap = {"rec": hq_records_raw(), "cols": {}}
    with ro(HQDB) as db:
        snap["received"] = {bytes(i): rid for rid, i in db.execute(
            "SELECT rowid, id FROM received WHERE device = ?", (dev.id_bytes,))}
        for e in ob.values():
            if e[1] != TBL_GRANTS or e[3] not in WATCHED_GRANT:
                continue
            c = db.execute("SELECT clock, device FROM clocks WHERE post = ? AND tbl = ? AND "
                           "id = ? AND col = ?", (dev.post, e[1], e[2], e[3])).fetchone()
            if c is None:
                continue
            v = db.execute("SELECT %s FROM grants WHERE post = ? AND id = ?" % GRANT_COLS[e[3]],
                           (dev.post, e[2])).fetchone()
            snap["cols"][(e[1], e[2], e[3])] = (u64(c[0]), bytes(c[1]), v[0] if v else None)
        snap["themes"] = {bytes(i): (y, t, rm) for i, y, t, rm in db.execute(
            "SELECT id, year, theme, removed FROM themes WHERE post = ?", (dev.post,))}
        snap["pseq"] = db.execute("SELECT coalesce(max(pseq), 0) FROM oplog WHERE post = ?",
                                  (dev.post,)).fetchone()[0]
        # every write HQ applied to the post's theme rows, in HQ's order (the oplog holds only
        # applied writes: a write that lost the merge is not there)
        snap["theme_ops"] = [(ps, bytes(i), col, v, bytes(d)) for ps, i, col, v, d in db.execute(
            "SELECT pseq, id, col, value, device FROM oplog WHERE post = ? AND tbl = ? "
            "ORDER BY pseq", (dev.post, TBL_THEMES))]
    db.close()
    return snap


def log_size():
    try:
        return os.path.getsize(SERVE_LOG)
    except OSError:
        return 0


def log_lines_since(dev, offset, want, limit=5.0):
    """HQ's log lines of dev's change set requests written after offset, [(verdict, IN,
    APPLIED)] in order; waits (up to limit s) until `want` of them are accepted or quarantined
    (HQ writes a line when the request completes, a moment after its answer left)."""
    end = time.time() + limit
    while True:
        with open(SERVE_LOG, "rb") as f:
            f.seek(offset)
            data = f.read()
        data = data[:data.rfind(b"\n") + 1].decode(errors="replace")
        res = []
        for line in data.splitlines():
            m = LOG_RE.search(line)
            if m and m.group(2).lower() == dev.id[:16]:
                res.append((m.group(7), int(m.group(4)), int(m.group(5))))
        n = sum(1 for v, _, _ in res if v in ("accepted", "quarantined"))
        if n >= want or time.time() > end:
            return res
        time.sleep(0.05)


def record_events(pre, post):
    """{(post, rule, subject): {ids}} of the records opened or changed between two snapshots."""
    ev = {}
    for i, r in post.items():
        old = pre.get(i)
        if old is None or old["cseq"] != r["cseq"]:
            ev.setdefault((r["post"], r["rule"], r["subject"]), set()).add(i)
    return ev


def open_records(rec, post, rule, subject):
    return [i for i, r in rec.items() if r["post"] == post and r["rule"] == rule and
            r["subject"] == subject and not r["closed"]]


def grant_code(post, i):
    with ro(HQDB) as db:
        r = db.execute("SELECT code FROM grants WHERE post = ? AND id = ?", (post, i)).fetchone()
    db.close()
    return r[0] if r else "?"


def theme_choice(ops, post_themes, year, D, seen, p_before, p_after, ents):
    """HQ's view of a change set's choice of a year's themes, computed from HQ's oplog (ops:
    the post's theme-row writes in pseq order, read after the sync) as docs/DECISIONS.md says
    HQ decides: the change set applied its writes at pseqs (p_before, p_after], the sender had
    seen pseq `seen`. Returns (others, A, B): whether another writer (a device or HQ's
    decision) wrote one of the year's theme rows after `seen`; the set HQ held before the
    change set; the set the sender chose (per row: this change set's write of `removed`, else
    the sender's own last applied write after `seen`, else the row as it stood at `seen`)."""
    rows = {}
    for ps, i, col, v, d in ops:
        if ps > p_after:
            break
        t = post_themes.get(i)
        if t is None or t[0] != year:
            continue
        r = rows.setdefault(i, {"theme": t[1], "before": None, "seen": None, "own": None})
        if d != D and ps > seen:
            r["others"] = True
        if col != THEME_REMOVED or v is None:
            continue
        if ps <= p_before:
            r["before"] = v
        if ps <= seen:
            r["seen"] = v
        elif d == D and ps <= p_before:
            r["own"] = v
    mine = {}
    for e in ents:
        if e[1] == TBL_THEMES and e[3] == THEME_REMOVED and e[5] is not None:
            mine[e[2]] = e[5]
    A, B = set(), set()
    for i, r in rows.items():
        if r["before"] == 0 and r["theme"]:
            A.add(r["theme"])
        v = mine.get(i, r["own"] if r["own"] is not None else r["seen"])
        if v == 0 and r["theme"]:
            B.add(r["theme"])
    return any(r.get("others") for r in rows.values()), A, B


def fmt_set(x):
    return "{%s}" % ",".join(sorted(x))


def changesets_of_sync(dev, ob0, ob1, pre, post, beaten, lines):
    """The change sets HQ ingested in this sync, in HQ's order: [(id, entries, seqs, IN,
    APPLIED)] (seqs: the entries' outbox seqs, in the same order), None if the driver cannot
    name them (a failure, recorded).

    HQ's `received` gives their ids in order, HQ's log the ops each held (IN) and applied. A
    change set frozen before the sync (or left frozen after it) is read from the outbox. The
    others were made and acknowledged within the sync from the entries pending before it
    that left (the pool), in the order client/sync.c run() sends them: the oldest frozen
    change set first, else cut() (the oldest pending entries with the same `seen`). The one
    exchange that pulls other writers' ops is the sync's first answer (syncs here run one at
    a time; later answers bring only this device's own writes back), so pull_op sets pending
    entries aside at most once per sync, into one change set that is frozen at once and so
    goes before any later cut: the pool entries a pulled op beat (`beaten`, the column's
    writer on the device after the sync is another), except those of a first request that
    was itself a cut (sent before any pull; lost at HQ)."""
    new_ids = [cs for cs, rid in sorted(post["received"].items(), key=lambda kv: kv[1])
               if cs not in pre["received"]]
    acc = [(v, n_in, n_app) for v, n_in, n_app in lines if v in ("accepted", "quarantined")]
    if len(acc) != len(new_ids):
        qfail("sync %d of %s: HQ received %d new change set(s), its log shows %d accepted or "
              "quarantined request(s)" % (Q["syncs"], dev.name, len(new_ids), len(acc)))
        return None

    def by_cs(ob):
        g = {}
        for seq in sorted(ob):
            if ob[seq][0]:
                g.setdefault(ob[seq][8], []).append(seq)
        return g
    frozen0, frozen1 = by_cs(ob0), by_cs(ob1)
    pool = [s for s in sorted(ob0) if not ob0[s][0] and s not in ob1]
    first_is_cut = not frozen0
    aside = [s for s in pool if s in beaten]
    res = []
    for k, cs in enumerate(new_ids):
        if cs in frozen0:
            group, ents = frozen0[cs], [ob0[s] for s in frozen0[cs]]
        elif cs in frozen1:
            group, ents = frozen1[cs], [ob1[s] for s in frozen1[cs]]
        else:
            first_cut = k == 0 and first_is_cut
            group = []
            if aside and not first_cut:
                group, aside = aside, []
                Q["aside_cs"] += 1
                dev.aside += len(group)
            else:
                # cut(): the oldest pending entries, while their `seen` stays the same (the
                # entries set aside are frozen by then, and go first)
                rest = [s for s in pool if first_cut or s not in aside]
                for s in rest:
                    if ob0[s][9] != ob0[rest[0]][9]:
                        break
                    group.append(s)
                if first_cut:  # sent before any pull: a beaten entry of it lost at HQ
                    aside = [s for s in aside if s not in group]
            pool = [s for s in pool if s not in group]
            ents = [ob0[s] for s in group]
        if len(ents) != acc[k][1]:
            qfail("sync %d of %s: change set %d of the sync (%s) holds %d op(s) by HQ's log, the "
                  "driver names %d from the outbox" % (Q["syncs"], dev.name, k + 1, cs.hex()[:8],
                                                         acc[k][1], len(ents)))
            return None
        res.append((cs, ents, group, acc[k][1], acc[k][2]))
    if pool:
        qfail("sync %d of %s: %d outbox entr(y/ies) left the outbox in no change set HQ received "
              "(lost: seqs %s)" % (Q["syncs"], dev.name, len(pool), pool[:8]))
    return res


def queue_model(dev, ob0, ob1, pre, post, beaten, lines, cursor0, view0, t0):
    """Predicts from what dev's outbox sent which value records HQ had to open or update in
    this sync, and compares with what HQ did (see the header, "The conflict queue")."""
    Q["syncs"] += 1
    D = dev.id_bytes
    sent = changesets_of_sync(dev, ob0, ob1, pre, post, beaten, lines)
    if sent is None:
        return
    Q["changesets"] += len(sent)
    # the sync's first request: the oldest frozen change set, else its first cut
    frozen0 = [ob0[s][8] for s in sorted(ob0) if ob0[s][0]]
    first = frozen0[0] if frozen0 else (sent[0][0] if sent else None)
    cur = dict(pre["cols"])
    bound = hlc_bound(t0)
    want = {}  # (rule, subject) -> "value" | "same"
    # subject -> (seq, A, B) of the last concurrent differing op of the sync: HQ's one open
    # value record of the subject holds its sides after the sync (a later op updates it)
    last_differ = {}
    delivered = []
    p_before = pre["pseq"]
    for cs, ents, seqs, n_in, n_app in sent:
        p_after = p_before + n_app
        for e, seq in zip(ents, seqs):
            if e[1] != TBL_GRANTS or e[3] not in WATCHED_GRANT:
                continue
            key = (e[1], e[2], e[3])
            c = cur.get(key)
            subject = "%s %s" % (grant_code(dev.post, e[2]), GRANT_COLS[e[3]])
            conc = differ = False
            if c is not None:
                conc = c[1] != D and not (e[6] == c[0] and e[7] == c[1])
                differ = e[5] != c[2]
                if conc:
                    if differ:
                        want[("concurrent_edit", subject)] = "value"
                        last_differ[subject] = (seq, c[2], e[5])
                        Q["edits"] += 1
                    else:
                        want.setdefault(("same_value", subject), "same")
                        Q["same"] += 1
            # a restamped write holds HQ's clock, within the bound (None: not known here)
            won = c is None or e[4] > bound or (e[4], D) > (bound if c[0] is None else c[0],
                                                            c[1])
            # the pair sides this very entry carries (by seq: the same column may travel twice
            # in one sync, an older frozen write and a later one, e.g. set aside by a pull)
            for side in dev.sides.pop(seq, []):
                side.update(fate="sent" if side["value"] == e[5] else "replaced",
                            sync=Q["syncs"], concurrent=conc, differ=differ, subject=subject,
                            seq=seq, held_by=c[1] if c is not None else None)
                delivered.append(side)
            if won:
                cur[key] = (None if e[4] > bound else e[4], D, e[5])
        # theme sets: HQ reads concurrency against what the change set's writes had seen
        # (the least `seen` of its entries; cut() keeps one value per change set)
        seen = min(e[9] for e in ents) if ents else cursor0
        if cs != first:  # sent after a pull of this sync: its writes had seen less
            Q["stale_seen"] += 1
        years = set()
        for e in ents:
            if e[1] == TBL_THEMES:
                y = (post["themes"].get(e[2]) or (dev.theme_row(e[2])[0],))[0]
                if y:
                    years.add(y)
        for y in sorted(years):
            Q["theme_sets"] += 1
            others, A, B = theme_choice(post["theme_ops"], post["themes"], y, D, seen, p_before,
                                        p_after, ents)
            # the device's own view, independent of HQ's oplog: when the change set holds
            # every unsent theme write of the year and its writes had seen the cursor the
            # device had when the sync began, what the device showed (`mrf theme list`) just
            # before the sync is the set it chose
            mine_y = {s for s, e in ob0.items() if e[1] == TBL_THEMES and
                      (post["themes"].get(e[2]) or (None,))[0] == y}
            in_cs = {s for s, e in ob0.items() if e in ents}
            if seen == cursor0 and mine_y and mine_y <= in_cs:
                Q["theme_view"] += 1
                if view0.get(y, set()) != B:
                    qfail("sync %d of %s: themes %d: the device showed %s before the sync, HQ's "
                          "oplog says it chose %s (seen %d)" % (Q["syncs"], dev.name, y,
                                                                fmt_set(view0.get(y, set())),
                                                                fmt_set(B), seen))
            if others:
                Q["theme_records"] += 1
                want[("theme_set" if A != B else "same_value", "themes %d" % y)] = \
                    "value" if A != B else "same"
            if os.environ.get("MRF_CONVERGE_DEBUG"):
                note("sync %d of %s: change set %s themes %d seen %d others %s A %s B %s" % (
                    Q["syncs"], dev.name, cs.hex()[:8], y, seen, others, fmt_set(A), fmt_set(B)))
        p_before = p_after
    if p_before != post["pseq"]:
        qfail("sync %d of %s: HQ's log says the sync applied %d op(s), the post's oplog grew by "
              "%d" % (Q["syncs"], dev.name, p_before - pre["pseq"], post["pseq"] - pre["pseq"]))
    ev = record_events(pre["rec"], post["rec"])
    for side in delivered:
        # the value records the sync touched for the side's subject, and whether another op
        # of the sync (not the side's own entry) was concurrent and differing there: one
        # record per subject says nothing about which op made it, its sides do (checked below)
        side["records"] = sorted(ev.get((dev.post, "concurrent_edit", side["subject"]), ()))
        side["others"] = not side["differ"] and side["subject"] in last_differ
    for (p, rule, subject), ids in sorted(ev.items()):
        if p != dev.post:
            qfail("sync %d of %s changed record(s) %s of another post %s" % (
                Q["syncs"], dev.name, sorted(ids), p))
        if rule not in VALUE_RULES and rule != "same_value":
            continue
        w = want.get((rule, subject))
        if w is None:
            qfail("sync %d of %s: a %s record for %s (%s) without a concurrent %s edit the "
                  "driver can name" % (Q["syncs"], dev.name, rule, subject, sorted(ids),
                                       "equal" if rule == "same_value" else "differing"))
        elif rule != "same_value":
            opened = open_records(post["rec"], dev.post, rule, subject)
            if len(ids) != 1 or opened != sorted(ids):
                qfail("sync %d of %s: %s %s: touched %s, open after it %s (want exactly one, "
                      "that one)" % (Q["syncs"], dev.name, rule, subject, sorted(ids), opened))
            elif rule == "concurrent_edit" and subject in last_differ:
                # the record is about the sync's last concurrent differing op of the subject:
                # A the value HQ held when it arrived, B its value, written by this device
                r = post["rec"][sorted(ids)[0]]
                _, a, b = last_differ[subject]
                got = (json.loads(r["a"]) if r["a"] else None,
                       json.loads(r["b"]) if r["b"] else None, r["b_device"])
                if got != (a, b, D):
                    qfail("sync %d of %s: %s %s: the record holds A %r, B %r by %s, the sync's "
                          "last concurrent differing op was A %r, B %r by %s" % (
                              Q["syncs"], dev.name, rule, subject, got[0], got[1],
                              got[2].hex()[:16] if got[2] else None, a, b, D.hex()[:16]))
    for (rule, subject), w in sorted(want.items()):
        if (dev.post, rule, subject) not in ev:
            qfail("sync %d of %s: no %s record for %s, though its op was concurrent (%s) and %s"
                  % (Q["syncs"], dev.name, rule, subject,
                     "another writer's theme write after its seen" if subject.startswith(
                         "themes") else "prev clock/writer not HQ's",
                     "different" if w == "value" else "equal"))


def record_check_outside(what, pre, post, allowed=()):
    """A step other than a sync (a decision, an allocation) opens or changes no value record
    but the one it decides."""
    for (p, rule, subject), ids in record_events(pre, post).items():
        if rule in VALUE_RULES and not set(ids) <= set(allowed):
            Q["outside"] += 1
            qfail("%s changed value record(s) %s (%s %s)" % (what, sorted(ids), rule, subject))


def do_resolve():
    """HQ decides one open record, picked at random from `mrf-hq conflicts --json`, in a form
    valid for it, always with a reason; what was decided is kept for the end."""
    rc, out, err = hq("conflicts", "--json")
    if rc != 0:
        not_ok("mrf-hq conflicts --json", "exit %s: %s" % (rc, short(err)))
        return
    recs = [c for c in json.loads(out) if c.get("state") == "open"]
    if not recs:
        count("resolve_rc", "nothing open")
        return
    recs.sort(key=lambda c: (c["post"], c["rule"], c.get("year") or 0,
                             [REG.key(t) for t in c["rows"].split()]))
    c = rng.choice(recs)
    if c["rule"] == "concurrent_edit":
        forms = [["--accept"], ["--take", "A"], ["--take", "B"]]
        if c["detail"].split()[1].rstrip(":") == "amount_cents":
            forms.append(["--set", "amount=" + amount()])
        form = rng.choice(forms)
    elif c["rule"] == "theme_set":
        form = ["--set", "themes=" + ",".join(rng.sample(THEMES, rng.randint(1, 2)))]
    else:
        form = ["--accept"]
    reason = "converge %d, decision %d" % (SEED, len(Q["decisions"]) + 1)
    pre = hq_records_raw()
    rc, out, err = hq("resolve", c["id"], *form, "--reason", reason)
    post = hq_records_raw()
    count("resolve_rc", "%s %s:%s" % (c["rule"], form[0][2:] + (form[1].split("=")[0] if len(
        form) > 1 else ""), rc))
    if rc != 0:
        not_ok("mrf-hq resolve %s (%s) %s" % (c["id"], c["rule"], " ".join(form)),
               "exit %s: %s" % (rc, short(err)))
        return
    r = post.get(c["id"], {})
    if not r.get("closed") or r.get("reason") != reason:
        not_ok("mrf-hq resolve %s closes it with the reason" % c["id"], "HQ holds %s" % r)
    Q["decisions"].append((c["id"], c["post"], r.get("decision"), reason, c["rule"]))
    record_check_outside("resolve %s" % c["id"], pre, post, allowed=(c["id"],))
    if open_records(post, c["post"], r.get("rule"), r.get("subject")):
        Q["reopened"] += 1


# ---- syncs ---------------------------------------------------------------------------------
def sync(dev, fault="none"):
    """One sync of dev, interrupted as fault says; accounts for what left its outbox."""
    t_start = time.time()
    st0 = dev.status()
    ob0 = dev.outbox()
    if st0 is None:
        return None
    cursor0 = dev.cursor()
    view0 = dev.theme_sets()
    pre = hq_snapshot(dev, ob0)
    log0 = log_size()
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
    post = hq_snapshot(dev, ob1)
    lines = log_lines_since(dev, log0, len([cs for cs in post["received"]
                                            if cs not in pre["received"]]))
    # entries pending before the sync that left it and whose column a pulled op took (the
    # writer on the device is now another): set aside by pull_op and sent, or (in a first
    # request cut before any pull) sent and beaten at HQ
    gone = [(s, e) for s, e in ob0.items() if not e[0] and s not in ob1]
    clocks = dev.column_clocks([(e[1], e[2], e[3]) for s, e in gone])
    beaten = {s for s, e in gone if clocks[(e[1], e[2], e[3])] is None
              or clocks[(e[1], e[2], e[3])][1] != dev.id_bytes}
    queue_model(dev, ob0, ob1, pre, post, beaten, lines, cursor0, view0, t_start)
    dev.left += left
    if left < 0:
        not_ok("%s: a sync never adds to the outbox" % dev.name, "pending %d -> %d" %
               (st0["pending"], st1["pending"]))
    if report is not None:
        # a device drops nothing: every entry that left was sent (acknowledged) or quarantined
        stats["accounting_checked"] += 1
        if left != report["sent"] + newly_q:
            not_ok("%s: what left the outbox is what HQ acknowledged" % dev.label(),
                   "pending %d -> %d, but the sync reports %d sent and %d newly quarantined" % (
                       st0["pending"], st1["pending"], report["sent"], newly_q))
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
        check("%s: ops HQ ingested from it (%d) == entries that left its outbox (%d; %d of "
              "them set aside by a pull and sent)" % (dev.name, p[0], dev.left, dev.aside),
              p[0] == dev.left,
              "HQ's log counts %d ops in its accepted/quarantined change sets, the device "
              "%d left its outbox" % (p[0], dev.left))
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


def queue_checks():
    """The conflict queue at the end (see the header, "The conflict queue")."""
    check("every concurrent differing edit HQ received (a watched grant column: %d; a theme set "
          "chosen while another writer's was unseen: %d of %d theme choices, each read against "
          "its change set's seen) is covered by exactly one open value record, updated by the "
          "sync that brought it, and no value record opened or changed without one (%d syncs, "
          "%d change sets named exactly; %d equal-value concurrent grant edits)"
          % (Q["edits"], Q["theme_records"], Q["theme_sets"], Q["syncs"], Q["changesets"],
             Q["same"]), not Q["fail"],
          "%d failures, e.g. %s" % (len(Q["fail"]), "; ".join(Q["fail"][:4])))
    fates, bad = {}, []
    ids = {d.name: d.id_bytes for d in DEVICES}
    for p in Q["pairs"]:
        f = tuple(sorted(str(sd["fate"]) for sd in p["sides"]))
        if f == ("sent", "sent"):
            a, b = p["sides"]
            late, early = (a, b) if a["sync"] >= b["sync"] else (b, a)
            if not late["concurrent"]:
                # HQ judges an op against the write it holds when it arrives: the later side
                # never saw a write of the earlier side's device made after the pair, so HQ
                # must not hold one then; it may hold a write the later side had seen (its own
                # device's, e.g. an older frozen change set sent first in the same sync, or one
                # from before the pair that the earlier side lost to), and then the two sides
                # met at that write's op, recorded there (6a)
                if late["held_by"] == ids[early["dev"]]:
                    bad.append("%s %s: the later side (%s, sync %d) was not concurrent by its "
                               "prev clock, yet HQ held a write of %s then" % (
                                   p["code"], p["col"], late["dev"], late["sync"],
                                   early["dev"]))
            elif late["differ"] and len(late["records"]) != 1:
                bad.append("%s %s: sync %d touched value records %s" % (
                    p["code"], p["col"], late["sync"], late["records"]))
            elif not late["differ"] and late["records"] and not late["others"]:
                # a value record the sync touched is the late side's only if no other op of
                # that sync was concurrent and differing on the subject (the queue model checks
                # that the record then holds that other op's sides)
                bad.append("%s %s: equal values, yet value records %s" % (
                    p["code"], p["col"], late["records"]))
            # differ: the later side against HQ's value when it arrived (the earlier side's,
            # unless a decision or another device wrote the column in between)
            k = "%s values, both sent: %s" % (
                "same" if p["same"] else "different",
                ("one value record" if late["differ"] else "none") if late["concurrent"] else
                "the later met a write it had seen")
        else:
            k = "/".join(f)
            # a side is sent as written, replaced by its own device's later write (coalesced
            # before a sync), or was no write at all (unchanged); nothing else can become of
            # it: a device never drops a write (client/sync.c pull_op sets a beaten one aside
            # and sends it)
            lost = [sd for sd in p["sides"] if sd["fate"] not in ("sent", "replaced",
                                                                  "unchanged")]
            if lost:
                bad.append("%s %s: side(s) of %s never reached HQ (fate %s)" % (
                    p["code"], p["col"], "/".join(sd["dev"] for sd in lost),
                    "/".join(str(sd["fate"]) for sd in lost)))
        fates[k] = fates.get(k, 0) + 1
    check("every pair of concurrent edits the driver made (one grant's amount or status on two "
          "devices of a post, neither syncing in between) lost no side, and when both reached "
          "HQ as written it has exactly one value record if its values differed, none if equal "
          "(%d pairs: %s)" % (
              len(Q["pairs"]), ", ".join("%s %d" % kv for kv in sorted(fates.items()))),
          not bad, "; ".join(bad[:6]))
    Q["pair_fates"] = fates
    if os.environ.get("MRF_CONVERGE_DEBUG"):
        for p in Q["pairs"]:
            note("pair %s" % p)
    hqrec = hq_records_raw()
    missing, foreign_rec, differ = [], [], []
    listed = 0
    for dev in DEVICES:
        mine = dev.records()
        if mine is None:
            continue
        want = {i: r for i, r in hqrec.items() if r["post"] == dev.post}
        listed += len(mine)
        for i in sorted(set(mine) - set(want)):
            foreign_rec.append("%s lists %s (%s)" % (dev.name, i, hqrec.get(i, {}).get(
                "post", "unknown at HQ")))
        for i in sorted(set(want) - set(mine)):
            differ.append("%s lacks %s" % (dev.name, i))
        for i in sorted(set(want) & set(mine)):
            r, m = want[i], mine[i]
            if (m["state"] == "closed") != r["closed"] or (
                    r["closed"] and (m.get("decision") or "", m.get("reason") or "") !=
                    (r["decision"], r["reason"])):
                differ.append("%s: %s %s/%s/%s at HQ, %s/%s/%s on the device" % (
                    dev.name, i, "closed" if r["closed"] else "open", r["decision"], r["reason"],
                    m["state"], m.get("decision"), m.get("reason")))
        for i, post, decision, reason, rule in Q["decisions"]:
            if post == dev.post and (i not in mine or (mine[i].get("decision"),
                                                       mine[i].get("reason")) != (decision,
                                                                                  reason)):
                missing.append("%s: %s (%s) %s" % (dev.name, i, rule, "missing" if i not in mine
                                                   else "%s/%s" % (mine[i].get("decision"),
                                                                    mine[i].get("reason"))))
    check("every decision HQ made (%d) reached every device of its post, with HQ's decision and "
          "reason (`mrf conflicts --all --json`)" % len(Q["decisions"]), not missing,
          "; ".join(missing[:6]))
    check("every device lists exactly HQ's records of its post, as HQ holds them (%d listed)"
          % listed, not differ, "; ".join(differ[:6]))
    check("no device lists a record of another post", not foreign_rec, "; ".join(foreign_rec[:6]))
    rc, out, err = hq("audit", "verify")
    check("mrf-hq audit verify holds", rc == 0, "exit %s: %s %s" % (rc, short(out), short(err)))


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
        elif r < 0.34:
            do_resolve()
        elif r < 0.38:
            do_theme_concurrent()
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
    queue_checks()

    print("# ---- summary (seed %d) ----" % SEED)
    note("devices %d over posts %s: %s" % (len(DEVICES), ",".join(sorted({d.post for d in
         DEVICES})), ", ".join(d.label() for d in DEVICES)))
    kinds = {}
    for k, n in stats["ops"].items():
        kinds.setdefault(k.rsplit(":", 1)[0], []).append("%s x%d" % (k.rsplit(":", 1)[1], n))
    note("operations (by exit): %s" % "; ".join("%s: %s" % (k, ", ".join(sorted(v)))
                                                 for k, v in sorted(kinds.items())))
    note("concurrent same-column edits: %d (%d pairs of amount/status kept, %d with an edit "
         "refused); concurrent theme choices: %d; HQ allocations: %d" % (
             stats["concurrent"], len(Q["pairs"]), stats["pairs_refused"],
             stats["concurrent_themes"], stats["alloc"]))
    hqrec = hq_records_raw()
    kinds = {}
    for r in hqrec.values():
        k = "%s/%s/%s" % (r["kind"], r["rule"], "closed" if r["closed"] else "open")
        kinds[k] = kinds.get(k, 0) + 1
    note("records: %d (%s); decisions: %d (%s); a rule record accepted and open again at once: "
         "%d" % (len(hqrec), ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
                 len(Q["decisions"]), ", ".join("%s x%d" % kv for kv in sorted(
                     stats["resolve_rc"].items())), Q["reopened"]))
    note("queue model: %d syncs, %d change sets, %d concurrent differing grant edits, %d equal "
         "ones, %d theme sets checked exactly (%d concurrent, %d also against the device's own "
         "view); %d change sets of writes a pull had beaten, set aside and sent; %d change "
         "sets sent after a pull of the same sync (read against their own seen)"
         % (Q["syncs"], Q["changesets"], Q["edits"], Q["same"], Q["theme_sets"],
            Q["theme_records"], Q["theme_view"], Q["aside_cs"], Q["stale_seen"]))
    note("syncs: %d (%s); outcomes: %s" % (sum(stats["syncs"].values()), ", ".join(
        "%s %d" % kv for kv in sorted(stats["syncs"].items())), ", ".join(
        "%s x%d" % kv for kv in sorted(stats["sync_rc"].items()))))
    note("accounting: per sync (exit 0) checked %d times; per device left/set aside/HQ "
         "ingested: %s" % (stats["accounting_checked"], ", ".join(
             "%s %d/%d/%d" % (d.name, d.left, d.aside, per.get(d.id[:16], [0])[0])
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

#!/usr/bin/env python3
"""Drives Debian's chromium, headless, through the web pages of `mrf ui` (for
tests/integration/test_ui_post.sh) and of `mrf-hq ui` (for tests/integration/test_ui_hq.sh; the
phases named hq-*).

Python's standard library only: the DevTools protocol over a pipe (--remote-debugging-pipe: JSON
messages ended by NUL on file descriptors 3 and 4), so the browser opens no port of its own and
nothing is downloaded. Usage:

    uidriver.py PHASE URL SHOTS_DIR [ARG...]

opens URL (the address `mrf ui` or `mrf-hq ui` printed, with its token), runs PHASE and prints one line per
check, "ok - NAME" or "not ok - NAME: why", which the shell test counts. Every wait has a
deadline and the whole run an alarm, so it never hangs; the browser is killed by its pid on the
way out, whatever happens.
"""
import base64
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "")
                 if p and os.path.exists(p)), None)
failures = 0


def report(ok, name, why=""):
    global failures
    if ok:
        print("ok - " + name, flush=True)
    else:
        failures += 1
        print("not ok - %s: %s" % (name, why), flush=True)


class Browser:
    def __init__(self):
        if CHROMIUM is None:
            raise RuntimeError("chromium is not installed (scripts/install-deps.sh installs it)")
        self.profile = tempfile.mkdtemp(prefix="mrf-chromium.")
        to_child, self.w = os.pipe()
        self.r, from_child = os.pipe()

        def fds():
            a, b = os.dup(to_child), os.dup(from_child)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--remote-debugging-pipe", "--no-sandbox",
             "--user-data-dir=" + self.profile, "--no-first-run", "--no-default-browser-check",
             "--disable-gpu", "--disable-extensions", "--disable-background-networking",
             "--disable-sync", "--disable-component-update", "--password-store=basic",
             "--window-size=1366,768", "about:blank"],
            preexec_fn=fds, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)  # its own process group: close() stops its helpers too
        os.close(to_child)
        os.close(from_child)
        self.buf = b""
        self.events = []
        self.next_id = 0
        self.session = None
        tid = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": tid, "flatten": True})["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": False})

    def close(self):
        # Chromium's helpers (zygote, renderer, crash handler) outlive a killed browser process
        # for a moment and write into the profile, so a profile removed right after kill() was
        # often left behind with a "Default" folder in it. Ask the browser to close, then kill
        # its whole process group, and only then remove the profile.
        try:
            try:
                self.call("Browser.close", timeout=5)
            except Exception:
                pass  # it closes the pipe as it goes: no answer is the usual answer
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        finally:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
            for _ in range(20):
                shutil.rmtree(self.profile, ignore_errors=True)
                if not os.path.exists(self.profile):
                    break
                time.sleep(0.1)

    def _read(self, deadline):
        left = deadline - time.time()
        if left <= 0 or not select.select([self.r], [], [], left)[0]:
            raise TimeoutError("the browser did not answer in time")
        data = os.read(self.r, 1 << 20)
        if not data:
            raise RuntimeError("the browser went away")
        self.buf += data

    def _messages(self):
        while b"\0" in self.buf:
            raw, self.buf = self.buf.split(b"\0", 1)
            yield json.loads(raw)

    def call(self, method, params=None, timeout=20):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            for m in self._messages():
                if m.get("id") == self.next_id:
                    if "error" in m:
                        raise RuntimeError("%s: %s" % (method, m["error"]))
                    return m.get("result", {})
                if "method" in m:
                    self.events.append(m)
            self._read(deadline)

    def wait_event(self, method, timeout=20):
        deadline = time.time() + timeout
        while True:
            for i, m in enumerate(self.events):
                if m.get("method") == method:
                    del self.events[: i + 1]
                    return m
            for m in self._messages():
                self.events.append(m)
            if any(m.get("method") == method for m in self.events):
                continue
            self._read(deadline)

    def js(self, expr, timeout=20):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True}, timeout)
        if "exceptionDetails" in r:
            raise RuntimeError("script failed: %s" % r["exceptionDetails"].get("text"))
        return r["result"].get("value")

    def goto(self, url):
        self.events.clear()
        self.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def submit(self, button_selector):
        """Clicks a submit button and waits for the page the POST redirects to."""
        self.events.clear()
        self.js("document.querySelector(%s).click()" % json.dumps(button_selector))
        self.wait_event("Page.loadEventFired")

    def fill(self, values):
        for sel, v in values.items():
            self.js("(function(){var e=document.querySelector(%s); e.value=%s;"
                    "e.dispatchEvent(new Event('input'));})()" % (json.dumps(sel), json.dumps(v)))

    def text(self, selector="body"):
        return self.js("(function(){var e=document.querySelector(%s);"
                       "return e ? e.innerText : null;})()" % json.dumps(selector))

    def html(self):
        return self.js("document.documentElement.outerHTML")

    def path(self):
        return self.js("location.pathname + location.search")

    def shot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def press_tab(self):
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", {"type": kind, "key": "Tab", "code": "Tab",
                                                 "windowsVirtualKeyCode": 9})


def origin(url):
    return url.split("/?", 1)[0]


# ---- phases ----------------------------------------------------------------------------------

def phase_record(b, url, shots, year):
    """Themes (a third refused with the rule's text), a partner, a grant."""
    o = origin(url)
    b.goto(url)
    report(b.path() == "/", "the token URL lands on the home page without the token",
           b.path())
    b.goto(o + "/themes?year=" + year)
    b.js("document.querySelectorAll('input[name=theme]').forEach(function(c){"
         "c.checked = ['HRD','FOE','ACC'].indexOf(c.value) >= 0;})")
    b.submit("form[action='/themes'] button[type=submit]")
    err = b.text("#themes-error") or ""
    report("at most two themes" in err, "a third theme is refused with the rule's text", err)
    summary = b.text("#error-summary") or ""
    report("at most two themes" in summary, "the error summary repeats the rule", summary)
    checked = b.js("Array.from(document.querySelectorAll('input[name=theme]:checked'))"
                   ".map(function(c){return c.value}).sort().join(',')")
    report(checked == "ACC,FOE,HRD", "the refused form keeps what was ticked", checked)
    b.js("document.querySelectorAll('input[name=theme]').forEach(function(c){"
         "c.checked = ['HRD','FOE'].indexOf(c.value) >= 0;})")
    b.submit("form[action='/themes'] button[type=submit]")
    t = b.text("#themes-table") or ""
    report("HRD" in t and "FOE" in t and "ACC" not in t, "two themes are saved and listed", t)

    b.goto(o + "/partners/new")
    b.fill({"#name": "Kenya Defenders Trust", "#phone": "not a phone"})
    b.submit("form[action='/partners/new'] button[type=submit]")
    err = b.text("#phone-error") or ""
    report("--phone takes digits" in err, "a bad phone is refused next to its field", err)
    kept = b.js("document.querySelector('#name').value")
    report(kept == "Kenya Defenders Trust", "the refused form keeps the name as typed", kept)
    b.fill({"#phone": "+254 20 123 4567", "#contact": "Wanjiru"})
    b.js("document.querySelector('#risk').value='high'")
    b.submit("form[action='/partners/new'] button[type=submit]")
    p = b.path()
    report(p.startswith("/partners/PX-"), "a partner is added and shown", p)
    code = p.rsplit("/", 1)[-1]
    report("sealed" in (b.text("#partner-name") or ""), "its name shows as sealed while locked",
           b.text("#partner-name"))
    report("Kenya Defenders" not in b.html(), "no name in the page while locked", "")

    b.goto(o + "/grants/new")
    b.js("document.querySelector('#partner').value=%s" % json.dumps(code))
    b.js("document.querySelector('#theme').value='ACC'")
    b.fill({"#year": year, "#amount": "12,500"})
    b.submit("form[action='/grants/new'] button[type=submit]")
    err = b.text("#amount-error") or ""
    report("thousands separators" in err, "a bad amount is refused in the rule's words", err)
    b.js("document.querySelector('#theme').value='ACC'")
    b.fill({"#amount": "12500.00"})
    b.submit("form[action='/grants/new'] button[type=submit]")
    err = b.text("#theme-error") or ""
    report("not one of the post's themes" in err, "a theme outside the year's is refused", err)
    b.js("document.querySelector('#theme').value='HRD'")
    b.submit("form[action='/grants/new'] button[type=submit]")
    g = b.path()
    report(g.startswith("/grants/G-"), "a grant is added and shown", g)
    statuses = b.js("Array.from(document.querySelectorAll('#status option'))"
                    ".map(function(o){return o.value}).join(',')")
    report(statuses == "draft,committed,disbursed,closed,cancelled",
           "a draft offers every forward move", statuses)
    b.js("document.querySelector('#status').value='committed'")
    b.submit("form[action='%s'] button[type=submit]" % g)
    report("committed" in (b.text("#grant-status") or ""), "its status moves to committed",
           b.text("#grant-status"))
    statuses = b.js("Array.from(document.querySelectorAll('#status option'))"
                    ".map(function(o){return o.value}).join(',')")
    report(statuses == "committed,disbursed,closed,cancelled",
           "a committed grant offers no move back to draft", statuses)
    print("# partner %s grant %s" % (code, g.rsplit("/", 1)[-1]), flush=True)


def phase_reveal(b, url, shots, passphrase, code):
    """Unlock and see the name, lock and see it sealed again; the countdown seals by itself."""
    o = origin(url)
    b.goto(url)
    b.goto(o + "/unlock?back=/partners")
    b.fill({"#passphrase": "not the passphrase"})
    b.submit("form[action='/unlock'] button[type=submit]")
    err = b.text("#passphrase-error") or ""
    report(err.strip().endswith("Wrong passphrase"), "a wrong passphrase says so", err)
    report(b.js("document.querySelector('#passphrase').value") == "",
           "the passphrase field is never filled back in", "")
    b.fill({"#passphrase": passphrase})
    b.submit("form[action='/unlock'] button[type=submit]")
    t = b.text("#partners-table") or ""
    report("Kenya Defenders Trust" in t, "unlocked, the partner list shows the name", t)
    report(b.js("!!document.getElementById('lock-countdown')"), "a countdown shows while unlocked")
    b.goto(o + "/partners/" + code)
    report("Kenya Defenders Trust" in (b.text("#partner-name") or ""),
           "the partner's page shows the name with the lock-open mark",
           b.text("#partner-name"))
    b.shot(os.path.join(shots, "partner-unlocked.png"))
    b.submit("header form[action='/lock'] button[type=submit]")
    report("Kenya Defenders" not in b.html(), "after Lock now the name is gone", "")
    report("sealed" in (b.text("#partner-name") or ""), "and shows as sealed again",
           b.text("#partner-name"))
    # the countdown, shortened (--lock-after 10): revealed values turn into pills by themselves
    b.goto(o + "/unlock?back=/partners/" + code)
    b.fill({"#passphrase": passphrase})
    b.submit("form[action='/unlock'] button[type=submit]")
    report("Kenya Defenders Trust" in (b.text("#partner-name") or ""), "unlocked again", "")
    deadline = time.time() + 20
    while time.time() < deadline and "Kenya" in (b.text("#partner-name") or ""):
        time.sleep(0.5)
    report("Kenya" not in (b.text("body") or ""),
           "when the countdown ends the name is sealed without a reload", b.text("#partner-name"))
    time.sleep(1)
    b.goto(o + "/partners/" + code)
    report("Kenya Defenders" not in b.html(), "and the server has wiped the keys", "")


def phase_sync(b, url, shots, passphrase, want):
    """Sync from the home page; want is "0" (HQ up) or "4" (HQ down)."""
    o = origin(url)
    b.goto(url)
    b.goto(o + "/")
    b.fill({"#passphrase": passphrase})
    b.submit("#sync-button")
    deadline = time.time() + 60
    while time.time() < deadline and not b.js("!!document.getElementById('sync-outcome')"):
        time.sleep(0.3)
        if b.js("!!document.getElementById('sync-progress')"):
            continue
        b.goto(o + "/")
    got = b.js("(function(){var e=document.getElementById('sync-outcome');"
               "return e ? e.getAttribute('data-exit') : null;})()")
    text = b.text("#sync-outcome") or ""
    report(got == want, "sync from the page ends with the outcome of exit %s" % want,
           "exit %s: %s" % (got, text))
    words = {"0": "Synced with HQ", "4": "HQ unreachable: nothing lost, try later"}[want]
    report(words in text, "and says it in words (%s)" % words, text)
    if want == "0":
        b.shot(os.path.join(shots, "home-synced.png"))


def phase_pages(b, url, shots):
    """Every page at 1366x768, labels on every field, a visible focus ring, nothing external."""
    o = origin(url)
    b.goto(url)
    pages = [("home", "/"), ("themes", "/themes"), ("partners", "/partners"),
             ("partner-new", "/partners/new"), ("grants", "/grants"),
             ("grant-new", "/grants/new"), ("allocation", "/allocation"),
             ("conflicts", "/conflicts"), ("unlock", "/unlock")]
    code = b.js("null")
    b.goto(o + "/partners")
    code = b.js("(function(){var a=document.querySelector('#partners-table a');"
                "return a ? a.textContent : null;})()")
    if code:
        pages += [("partner", "/partners/" + code), ("partner-edit", "/partners/%s/edit" % code)]
    b.goto(o + "/grants")
    g = b.js("(function(){var a=document.querySelector('#grants-table a');"
             "return a ? a.textContent : null;})()")
    if g:
        pages.append(("grant", "/grants/" + g))
    for name, path in pages:
        b.goto(o + path)
        b.shot(os.path.join(shots, name + ".png"))
        unlabelled = b.js(
            "Array.from(document.querySelectorAll('input:not([type=hidden]),select,textarea'))"
            ".filter(function(e){return !(e.id && document.querySelector("
            "'label[for=\"'+e.id+'\"]')) && !e.closest('label');}).map(function(e){"
            "return e.name;}).join(',')")
        report(unlabelled == "", "%s: every field has a label" % name, unlabelled)
        ext = b.js("performance.getEntriesByType('resource').map(function(r){return r.name;})"
                   ".filter(function(n){return n.indexOf(location.origin) !== 0;}).join(',')")
        report(ext == "", "%s: loads nothing from outside" % name, ext)
        lang = b.js("document.documentElement.lang")
        report(lang == "en", "%s: lang is set" % name, lang)
    b.goto(o + "/grants/new")
    focus = []
    for _ in range(12):
        b.press_tab()
        focus.append(b.js("(function(){var e=document.activeElement, s=getComputedStyle(e);"
                          "return [e.tagName, s.outlineStyle, s.outlineWidth].join(' ');})()"))
    bad = [f for f in focus if f.split()[0] != "BODY" and (" none " in f or f.endswith(" 0px"))]
    report(bad == [] and len(focus) == 12, "keyboard focus is always visible (12 tabs)",
           "; ".join(bad))
    report(any(f.startswith("INPUT") for f in focus) and any(f.startswith("SELECT") for f in focus),
           "the form's fields are reachable by keyboard", "; ".join(focus))
    b.submit("footer form[action='/quit'] button[type=submit]")
    report("has stopped" in (b.text("h1") or ""), "Quit stops mrf ui", b.text("h1"))


# ---- HQ's dashboard (mrf-hq ui) --------------------------------------------------------------

def table_rows(b, selector):
    """Rows of a table as lists of {data-* of the row, k: text of each td/th[data-k]}."""
    return b.js("""(function(){var t=document.querySelector(%s); if(!t) return null;
        return Array.from(t.tBodies[0].rows).filter(function(r){return !r.classList.contains('over-row');})
        .map(function(r){var o={}; for (var k in r.dataset) o['@'+k]=r.dataset[k];
          r.querySelectorAll('[data-k]').forEach(function(c){o[c.dataset.k]=c.innerText.trim();});
          return o;});})()""" % json.dumps(selector))


def amount_of(text):
    """"80000.00 EUR" -> "80000.00"; "-" -> None."""
    t = (text or "").replace("\u00a0", " ").strip()
    return None if t in ("", "-") else t.split(" ")[0]


def phase_hq_overview(b, url, shots, year, rep_post, rep_theme, csv_post, csv_theme):
    """The overview's figures equal `mrf-hq report --year Y --format json`, its CSV the CLI's."""
    o = origin(url)
    b.goto(url)
    report(b.path() == "/", "the token URL lands on the overview without the token", b.path())
    b.goto(o + "/?year=" + year)
    rp = json.load(open(rep_post))
    rt = json.load(open(rep_theme))
    lines = [r for r in rp["rows"] if r["section"] == "post_year"]
    got = {(r["@post"], r["@currency"]): r for r in (table_rows(b, "#post-year") or [])}
    report(len(lines) > 0 and len(got) == len(lines), "the overview lists every post-year line (%d)"
           % len(lines), "page %d, report %d" % (len(got), len(lines)))
    bad = []
    for l in lines:
        g = got.get((l["post"], l["currency"]), {})
        for k in ("allocation", "committed", "disbursed", "remaining"):
            if amount_of(g.get(k)) != l[k]:
                bad.append("%s %s %s: page %r, report %r" % (l["post"], l["currency"], k, g.get(k), l[k]))
        for k in ("grants", "partners"):
            if g.get(k) != str(l[k]):
                bad.append("%s %s: page %r, report %r" % (l["post"], k, g.get(k), l[k]))
        if g.get("data_as_of") != l["data_as_of"]:
            bad.append("%s data as of: page %r, report %r" % (l["post"], g.get("data_as_of"), l["data_as_of"]))
    report(bad == [], "per post: allocation, committed, disbursed, remaining, grants, partners and "
           "data as of equal the report's", "; ".join(bad))
    svg = b.js("Array.from(document.querySelectorAll('svg.chart text[data-post]')).map(function(t){"
               "return [t.dataset.post, t.dataset.k, t.textContent];})")
    bad = []
    for l in lines:
        for k in ("allocation", "committed", "disbursed"):
            texts = [t for p, kk, t in svg if p == l["post"] and kk == k]
            want = l[k] if l[k] is not None else "no allocation"
            if not any(want in t for t in texts):
                bad.append("%s %s: %r not on its bar %r" % (l["post"], k, want, texts))
    report(bad == [], "every bar carries its figure (SVG drawn by the program)", "; ".join(bad))
    report(b.js("document.querySelectorAll('svg.chart rect').length") >= 3 * len(lines),
           "the chart has a bar per figure", "")
    tot = {r["@currency"]: r for r in (table_rows(b, "#totals") or [])}
    bad = []
    for t in rp["totals"]:
        g = tot.get(t["currency"], {})
        for k in ("allocation", "committed", "disbursed", "remaining"):
            if amount_of(g.get(k)) != t[k]:
                bad.append("%s %s: page %r, report %r" % (t["currency"], k, g.get(k), t[k]))
    report(bad == [] and len(tot) == len(rp["totals"]), "the totals equal the report's", "; ".join(bad))
    th = {r["@theme"]: r for r in (table_rows(b, "#themes") or [])}
    bad = []
    for t in rp["themes_chosen"]:
        if th.get(t["theme"], {}).get("posts") != str(t["posts"]):
            bad.append("%s: page %r, report %r" % (t["theme"], th.get(t["theme"]), t["posts"]))
    for t in [r for r in rt["rows"] if r["section"] == "theme"]:
        want = "%s %s" % (t["committed"], t["currency"])
        if want not in th.get(t["theme"], {}).get("committed", ""):
            bad.append("%s committed: page %r, report %r" % (t["theme"], th.get(t["theme"]), want))
    report(bad == [], "per theme: posts that chose it and money committed equal the report's",
           "; ".join(bad))
    asof = {r["@post"]: r for r in (table_rows(b, "#posts-asof") or [])}
    bad = ["%s: %r vs %r" % (p["post"], asof.get(p["post"]), p["data_as_of"]) for p in rp["posts"]
           if asof.get(p["post"], {}).get("data_as_of") != p["data_as_of"]
           or asof.get(p["post"], {}).get("open_conflicts") != str(p["open_conflicts"])]
    report(bad == [], "data as of and open conflicts per post equal the report's", "; ".join(bad))
    ex = sorted((r.get("post"), r.get("year") or "", r.get("rule"), r.get("detail", "").split(" \u00b7 ")[0])
                for r in (table_rows(b, "#exceptions") or []))
    want = sorted((e["post"], str(e.get("year", "")), e["rule"], e["detail"]) for e in rp["exceptions"])
    report(ex == want, "the exceptions equal the report's (%d)" % len(want), "page %r, report %r" % (ex, want))
    for name, path, by in (("post", csv_post, "post"), ("theme", csv_theme, "theme")):
        got = b.js("fetch('/report.csv?year=%s&by=%s',{credentials:'same-origin'}).then(function(r){"
                   "return [r.status, r.headers.get('content-disposition'), r.text()];}).then("
                   "function(a){return a[2].then(function(t){return [a[0],a[1],t];});})" % (year, by))
        want = open(path, newline="").read()
        report(got[0] == 200 and got[2] == want, "the CSV by %s is mrf-hq report --format csv's" % name,
               "status %s, %d bytes vs %d" % (got[0], len(got[2]), len(want)))
        report("attachment" in (got[1] or ""), "the CSV by %s comes as a download" % name, got[1])
    link = b.js("document.getElementById('csv-post').getAttribute('href')")
    report(link == "/report.csv?year=%s&by=post" % year, "the overview links its CSV", link)
    b.shot(os.path.join(shots, "hq-overview.png"))


def phase_hq_conflicts(b, url, shots, cid):
    """The queue, one record with both sides and its history, refusals next to their field,
    then take B with a reason and a note."""
    o = origin(url)
    b.goto(url)
    b.goto(o + "/conflicts")
    ids = b.js("Array.from(document.querySelectorAll('#conflicts-table tr[data-id]'))"
               ".map(function(r){return r.dataset.id;})") or []
    report(cid in ids, "the queue lists the open record", "%r" % ids)
    b.shot(os.path.join(shots, "hq-conflicts.png"))
    b.goto(o + "/conflicts?state=all&kind=rule")
    report(cid not in (b.text("body") or ""), "the kind filter leaves the value record out", "")
    b.goto(o + "/conflicts/" + cid)
    a, bside = b.text("#side-a") or "", b.text("#side-b") or ""
    report("written by" in a and "written by" in bside, "the record shows both sides", a + " | " + bside)
    report(b.js("document.querySelectorAll('#history tbody tr').length") >= 3,
           "and the column's history", "")
    b.shot(os.path.join(shots, "hq-conflict.png"))
    b.js("document.getElementById('decision-take_b').checked = true")
    b.submit("#resolve-button")
    err = b.text("#reason-error") or ""
    report("--reason TEXT is required" in err, "no reason: the command's refusal next to the reason", err)
    report(b.js("document.getElementById('decision-take_b').checked"), "the form keeps the choice", "")
    b.js("document.getElementById('decision-set').checked = true")
    b.js("document.getElementById('column').value = 'amount'")
    b.fill({"#value": "12,5", "#reason": "HQ's own figure"})
    b.submit("#resolve-button")
    err = b.text("#value-error") or ""
    report("thousands separators" in err, "a bad amount: the rule's words next to the value", err)
    report(b.js("document.getElementById('reason').value") == "HQ's own figure",
           "the reason is kept as typed", "")
    b.shot(os.path.join(shots, "hq-conflict-refused.png"))
    b.js("document.getElementById('decision-take_b').checked = true")
    b.fill({"#value": "", "#reason": "the later figure, agreed by phone",
            "#note": "desk checked the budget line"})
    b.submit("#resolve-button")
    flash = b.text("#flash") or ""
    report("resolved (take_b, 1 value written)" in flash, "take B resolves it, in the command's words", flash)
    report(b.path() == "/conflicts/" + cid, "the page shows the record again", b.path())
    report((b.text("#c-decision") or "") == "take_b" and
           (b.text("#c-reason") or "") == "the later figure, agreed by phone",
           "closed with the decision and the reason", "%s %s" % (b.text("#c-decision"), b.text("#c-reason")))
    report(not b.js("!!document.getElementById('resolve-form')"), "a closed record offers no form", "")


def phase_hq_revoke(b, url, shots, device):
    """Revoke a device: the button leads to a confirmation page; only its button revokes."""
    o = origin(url)
    b.goto(url)
    b.goto(o + "/posts")
    report(b.js("!!document.querySelector('tr[data-device=\"%s\"]')" % device),
           "the device is listed under its post", "")
    b.shot(os.path.join(shots, "hq-posts.png"))
    b.submit("tr[data-device='%s'] button[type=submit]" % device)
    report(b.js("!!document.getElementById('confirm')"), "revoking asks for confirmation first",
           b.text("h1"))
    report("exits 5" in (b.text("#confirm") or ""), "and says what it does", b.text("#confirm"))
    b.shot(os.path.join(shots, "hq-revoke-confirm.png"))
    b.submit("#revoke-confirm")
    flash = b.text("#flash") or ""
    report("revoked device %s" % device[:16] in flash, "the device is revoked, in the command's words", flash)
    st = b.text("tr[data-device='%s'] [data-k=status]" % device) or ""
    report(st.strip() == "revoked", "the list shows it revoked", st)


def phase_hq_allocate(b, url, shots, year):
    """Set an allocation: a refusal next to its field, then the allocation listed."""
    o = origin(url)
    b.goto(url)
    b.goto(o + "/allocations?year=" + year)
    b.js("document.getElementById('post').value = 'GVA'")
    b.fill({"#year": year, "#amount": "30,000", "#currency": "USD"})
    b.submit("#allocate-button")
    err = b.text("#amount-error") or ""
    report("thousands separators" in err, "a bad amount is refused next to the amount", err)
    report(b.js("document.getElementById('currency').value") == "USD" and
           b.js("document.getElementById('post').value") == "GVA", "the form keeps what was typed", "")
    b.fill({"#amount": "30000.00"})
    b.submit("#allocate-button")
    flash = b.text("#flash") or ""
    report("allocated 30000.00 USD to %s for GVA" % year in flash, "the allocation is set, in the "
           "command's words", flash)
    rows = {(r["@post"], r["@currency"]): r for r in (table_rows(b, "#allocations-table") or [])}
    got = amount_of(rows.get(("GVA", "USD"), {}).get("allocation"))
    report(got == "30000.00", "the table lists it", "%r" % rows)
    b.shot(os.path.join(shots, "hq-allocations.png"))


def phase_hq_pages(b, url, shots, cid):
    """Every page at 1366x768, labels on every field, nothing external, keyboard focus, Quit."""
    o = origin(url)
    b.goto(url)
    pages = [("hq-overview", "/"), ("hq-conflicts-all", "/conflicts?state=all"),
             ("hq-conflict-closed", "/conflicts/" + cid), ("hq-posts", "/posts"),
             ("hq-allocations", "/allocations")]
    for name, path in pages:
        b.goto(o + path)
        b.shot(os.path.join(shots, name + ".png"))
        unlabelled = b.js(
            "Array.from(document.querySelectorAll('input:not([type=hidden]),select,textarea'))"
            ".filter(function(e){return !(e.id && document.querySelector("
            "'label[for=\"'+e.id+'\"]')) && !e.closest('label');}).map(function(e){"
            "return e.name;}).join(',')")
        report(unlabelled == "", "%s: every field has a label" % name, unlabelled)
        ext = b.js("performance.getEntriesByType('resource').map(function(r){return r.name;})"
                   ".filter(function(n){return n.indexOf(location.origin) !== 0;}).join(',')")
        report(ext == "", "%s: loads nothing from outside" % name, ext)
        report(b.js("document.documentElement.lang") == "en", "%s: lang is set" % name, "")
        dup = b.js("(function(){var s={},d=[];document.querySelectorAll('[id]').forEach(function(e){"
                   "if(s[e.id])d.push(e.id);s[e.id]=1;});return d.join(',');})()")
        report(dup == "", "%s: ids are unique" % name, dup)
    b.goto(o + "/allocations")
    focus = []
    for _ in range(16):
        b.press_tab()
        focus.append(b.js("(function(){var e=document.activeElement, s=getComputedStyle(e);"
                          "return [e.tagName, e.id || e.name || '', s.outlineStyle, s.outlineWidth].join(' ');})()"))
    bad = [f for f in focus if f.split()[0] != "BODY" and (" none " in f or f.endswith(" 0px"))]
    report(bad == [] and len(focus) == 16, "keyboard focus is always visible (16 tabs)", "; ".join(bad))
    report(any(" amount " in f for f in focus) and any(f.startswith("SELECT") for f in focus),
           "the allocation form is reachable by keyboard", "; ".join(focus))
    b.submit("footer form[action='/quit'] button[type=submit]")
    report("has stopped" in (b.text("h1") or ""), "Quit stops mrf-hq ui", b.text("h1"))


def main():
    phase, url, shots = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(shots, exist_ok=True)
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("driver alarm")))
    signal.alarm(150)
    b = None
    try:
        b = Browser()
        if phase == "record":
            phase_record(b, url, shots, sys.argv[4])
        elif phase == "reveal":
            phase_reveal(b, url, shots, os.environ["MRF_PASSPHRASE"], sys.argv[4])
        elif phase == "sync":
            phase_sync(b, url, shots, os.environ["MRF_PASSPHRASE"], sys.argv[4])
        elif phase == "pages":
            phase_pages(b, url, shots)
        elif phase == "hq-overview":
            phase_hq_overview(b, url, shots, *sys.argv[4:9])
        elif phase == "hq-conflicts":
            phase_hq_conflicts(b, url, shots, sys.argv[4])
        elif phase == "hq-revoke":
            phase_hq_revoke(b, url, shots, sys.argv[4])
        elif phase == "hq-allocate":
            phase_hq_allocate(b, url, shots, sys.argv[4])
        elif phase == "hq-pages":
            phase_hq_pages(b, url, shots, sys.argv[4])
        else:
            report(False, "phase " + phase, "unknown")
    except Exception as e:  # any failure of the driver itself is a failed check, loudly
        report(False, "browser phase %s ran to its end" % phase, "%s: %s" % (type(e).__name__, e))
    finally:
        signal.alarm(0)
        if b is not None:
            b.close()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

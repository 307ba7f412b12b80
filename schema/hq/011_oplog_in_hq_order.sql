-- HQ store version 11: the oplog kept in the order HQ applied its ops, its posts' sequences in
-- runs, its rows named by number (docs/DECISIONS.md, "The oplog in HQ's order, rows by
-- number"). The oplog is most of the store (85 of its 128 B per op at 1M ops, with its clock
-- index): each op repeated its post, its post's sequence number, HQ's global one and its row's
-- 16-byte id, and the table, keyed by (post, pseq), left an eighth of each page empty.
--
-- 1. The four domain tables get rn INTEGER PRIMARY KEY, the rowid they had, now stable (a
--    VACUUM or a rebuild keeps it); (post, id) stays their unique key. The tables are
--    rebuilt: with legacy_alter_table, renaming the new table leaves the view clocks and its
--    triggers, which name the tables, as they are.
-- 2. oplog_ops: one row per op keyed by HQ's global sequence number (seq, the rowid), which
--    only grows: each op is appended at the end of the one B-tree, whose pages fill whole.
--    Its row is r, the row's rn in the op's table (tbl); no post, no pseq, no id.
-- 3. oplog_runs: the ops HQ appended for one post one after another, once per run: ops seq ..
--    seq + n - 1 are that post's pseq .. pseq + n - 1. A change set's ops are one run (HQ
--    applies them in one transaction, numbering both sequences together), so a run costs
--    some 40 bytes per change set, not per op. A post's ops after its cursor are its runs
--    from the one holding the cursor on (oplog_runs_post), each a range of oplog_ops' key.
-- 4. oplog_clock indexes an op by its clock alone (what a conflict asks for is one row's
--    write by clock and writer), oplog_themes the writes to theme rows by row, as before.
-- 5. The view oplog keeps its columns (seq, post, tbl, id, col, value, clock, device, pseq)
--    for the readers that are not hot: a row's history, the tests, an operator's sqlite3.
-- Every op keeps its seq, post, pseq, row, value, clock and writer; a gap left by ops deleted
-- in an older store (version 7 allowed it) starts a new run.

-- No two ops of the store share a global sequence number (version 8 numbered them from one
-- counter); one that did could not be keyed by it, so the migration refuses such a store.
CREATE TEMP TABLE seq_check (n INTEGER);
CREATE TEMP TRIGGER seq_refused BEFORE INSERT ON seq_check WHEN NEW.n > 0
BEGIN
    SELECT RAISE(ABORT, 'oplog_rows holds two ops with the same global sequence number, which keying the oplog by that number would merge; the store stays at version 10 as it is: keep a copy of hq.db and report it (docs/DECISIONS.md, "The oplog in HQ''s order, posts'' sequences in runs")');
END;
INSERT INTO seq_check SELECT count(*) - count(DISTINCT seq) FROM oplog_rows;
DROP TABLE seq_check;

-- Every op names a row of its post (the merge creates the row before its first write is
-- logged); an op without one could not be named by number, so the migration refuses such a
-- store rather than drop the op.
CREATE TEMP TABLE row_check (n INTEGER);
CREATE TEMP TRIGGER row_refused BEFORE INSERT ON row_check WHEN NEW.n > 0
BEGIN
    SELECT RAISE(ABORT, 'oplog_rows holds ops of rows this store does not have, which naming each op''s row by number would drop; the store stays at version 10 as it is: keep a copy of hq.db and report it (docs/DECISIONS.md, "The oplog in HQ''s order, rows by number")');
END;
INSERT INTO row_check SELECT count(*) FROM oplog_rows o WHERE NOT EXISTS (
    SELECT 1 FROM themes t WHERE o.tbl = 0 AND t.post = o.post AND t.id = o.id UNION ALL
    SELECT 1 FROM partners p WHERE o.tbl = 1 AND p.post = o.post AND p.id = o.id UNION ALL
    SELECT 1 FROM grants g WHERE o.tbl = 2 AND g.post = o.post AND g.id = o.id UNION ALL
    SELECT 1 FROM allocations a WHERE o.tbl = 3 AND a.post = o.post AND a.id = o.id);
DROP TABLE row_check;

PRAGMA legacy_alter_table = ON;
CREATE TABLE themes_v11 (
    id      BLOB NOT NULL CHECK (length(id) = 16),
    post    TEXT NOT NULL,
    year    INTEGER,
    theme   TEXT,
    removed INTEGER NOT NULL DEFAULT 0,
    c0 INTEGER, w0 INTEGER, c1 INTEGER, w1 INTEGER, c2 INTEGER, w2 INTEGER,
    rn      INTEGER PRIMARY KEY,         -- the row's number: the oplog names the row by it
    UNIQUE (post, id)
);
INSERT INTO themes_v11 (id, post, year, theme, removed, c0, w0, c1, w1, c2, w2, rn)
    SELECT id, post, year, theme, removed, c0, w0, c1, w1, c2, w2, rowid FROM themes ORDER BY rowid;
DROP TABLE themes;
ALTER TABLE themes_v11 RENAME TO themes;
CREATE INDEX themes_year ON themes(post, year);

CREATE TABLE partners_v11 (
    id      BLOB NOT NULL CHECK (length(id) = 16),
    post    TEXT NOT NULL,
    code    TEXT NOT NULL,
    name    BLOB,    -- sealed
    contact BLOB,    -- sealed
    phone   BLOB,    -- sealed
    email   BLOB,    -- sealed
    address BLOB,    -- sealed
    bank    BLOB,    -- sealed
    note    BLOB,    -- sealed
    risk    TEXT,
    removed INTEGER NOT NULL DEFAULT 0,
    c0 INTEGER, w0 INTEGER, c1 INTEGER, w1 INTEGER, c2 INTEGER, w2 INTEGER, c3 INTEGER, w3 INTEGER, c4 INTEGER, w4 INTEGER, c5 INTEGER, w5 INTEGER, c6 INTEGER, w6 INTEGER, c7 INTEGER, w7 INTEGER, c8 INTEGER, w8 INTEGER,
    rn      INTEGER PRIMARY KEY,         -- the row's number: the oplog names the row by it
    UNIQUE (post, id)
);
INSERT INTO partners_v11 (id, post, code, name, contact, phone, email, address, bank, note, risk, removed, c0, w0, c1, w1, c2, w2, c3, w3, c4, w4, c5, w5, c6, w6, c7, w7, c8, w8, rn)
    SELECT id, post, code, name, contact, phone, email, address, bank, note, risk, removed, c0, w0, c1, w1, c2, w2, c3, w3, c4, w4, c5, w5, c6, w6, c7, w7, c8, w8, rowid FROM partners ORDER BY rowid;
DROP TABLE partners;
ALTER TABLE partners_v11 RENAME TO partners;
CREATE INDEX partners_post ON partners(post, code);

CREATE TABLE grants_v11 (
    id           BLOB NOT NULL CHECK (length(id) = 16),
    post         TEXT NOT NULL,
    code         TEXT NOT NULL,
    partner      BLOB,        -- partners.id of the same post
    theme        TEXT,
    year         INTEGER,
    amount_cents INTEGER,
    currency     TEXT,
    status       TEXT,
    start_date   TEXT,
    end_date     TEXT,
    note         BLOB,        -- sealed
    removed      INTEGER NOT NULL DEFAULT 0,
    c0 INTEGER, w0 INTEGER, c1 INTEGER, w1 INTEGER, c2 INTEGER, w2 INTEGER, c3 INTEGER, w3 INTEGER, c4 INTEGER, w4 INTEGER, c5 INTEGER, w5 INTEGER, c6 INTEGER, w6 INTEGER, c7 INTEGER, w7 INTEGER, c8 INTEGER, w8 INTEGER, c9 INTEGER, w9 INTEGER,
    rn      INTEGER PRIMARY KEY,         -- the row's number: the oplog names the row by it
    UNIQUE (post, id)
);
INSERT INTO grants_v11 (id, post, code, partner, theme, year, amount_cents, currency, status, start_date, end_date, note, removed, c0, w0, c1, w1, c2, w2, c3, w3, c4, w4, c5, w5, c6, w6, c7, w7, c8, w8, c9, w9, rn)
    SELECT id, post, code, partner, theme, year, amount_cents, currency, status, start_date, end_date, note, removed, c0, w0, c1, w1, c2, w2, c3, w3, c4, w4, c5, w5, c6, w6, c7, w7, c8, w8, c9, w9, rowid FROM grants ORDER BY rowid;
DROP TABLE grants;
ALTER TABLE grants_v11 RENAME TO grants;
CREATE INDEX grants_year ON grants(post, year);
CREATE INDEX grants_partner ON grants(post, partner);

CREATE TABLE allocations_v11 (
    id           BLOB NOT NULL CHECK (length(id) = 16),
    post         TEXT NOT NULL,
    year         INTEGER,
    amount_cents INTEGER,
    currency     TEXT,
    c0 INTEGER, w0 INTEGER, c1 INTEGER, w1 INTEGER, c2 INTEGER, w2 INTEGER,
    rn      INTEGER PRIMARY KEY,         -- the row's number: the oplog names the row by it
    UNIQUE (post, id)
);
INSERT INTO allocations_v11 (id, post, year, amount_cents, currency, c0, w0, c1, w1, c2, w2, rn)
    SELECT id, post, year, amount_cents, currency, c0, w0, c1, w1, c2, w2, rowid FROM allocations ORDER BY rowid;
DROP TABLE allocations;
ALTER TABLE allocations_v11 RENAME TO allocations;
CREATE INDEX allocations_post ON allocations(post, year);
CREATE TABLE oplog_ops (
    seq    INTEGER PRIMARY KEY,                 -- HQ's order over all posts (oplog_seq)
    tbl    INTEGER NOT NULL,
    r      INTEGER NOT NULL,                    -- the row: its rn in table tbl
    col    INTEGER NOT NULL,
    value,                                      -- no declared type: stored as written
    clock  INTEGER NOT NULL,
    w      INTEGER NOT NULL                     -- the writer: writers.n
);
INSERT INTO oplog_ops (seq, tbl, r, col, value, clock, w)
    SELECT seq, tbl, CASE tbl
               WHEN 0 THEN (SELECT rn FROM themes t WHERE t.post = o.post AND t.id = o.id)
               WHEN 1 THEN (SELECT rn FROM partners p WHERE p.post = o.post AND p.id = o.id)
               WHEN 2 THEN (SELECT rn FROM grants g WHERE g.post = o.post AND g.id = o.id)
               WHEN 3 THEN (SELECT rn FROM allocations a WHERE a.post = o.post AND a.id = o.id)
           END, col, value, clock, w
    FROM oplog_rows o ORDER BY seq;

CREATE TABLE oplog_runs (
    seq    INTEGER PRIMARY KEY,                 -- the run's first op (oplog_ops.seq)
    post   TEXT    NOT NULL,
    pseq   INTEGER NOT NULL,                    -- that op's number in the post's sequence
    n      INTEGER NOT NULL CHECK (n > 0)       -- ops in the run
);
-- A run starts at an op whose predecessor in HQ's order is not the same post's previous op.
INSERT INTO oplog_runs (seq, post, pseq, n)
    SELECT min(seq), post, min(pseq), count(*) FROM (
        SELECT seq, post, pseq, sum(brk) OVER (ORDER BY seq) AS run FROM (
            SELECT seq, post, pseq,
                   (lag(seq) OVER w IS NOT seq - 1 OR lag(post) OVER w IS NOT post
                    OR lag(pseq) OVER w IS NOT pseq - 1) AS brk
            FROM oplog_rows WINDOW w AS (ORDER BY seq)))
    GROUP BY run;
CREATE UNIQUE INDEX oplog_runs_post ON oplog_runs(post, pseq);

DROP VIEW oplog;
DROP TABLE oplog_rows;
CREATE INDEX oplog_clock ON oplog_ops(clock);
CREATE INDEX oplog_themes ON oplog_ops(r) WHERE tbl = 0;

CREATE VIEW oplog (seq, post, tbl, id, col, value, clock, device, pseq) AS
    SELECT o.seq, r.post, o.tbl, CASE o.tbl
               WHEN 0 THEN (SELECT id FROM themes WHERE rn = o.r)
               WHEN 1 THEN (SELECT id FROM partners WHERE rn = o.r)
               WHEN 2 THEN (SELECT id FROM grants WHERE rn = o.r)
               WHEN 3 THEN (SELECT id FROM allocations WHERE rn = o.r)
           END, o.col, o.value, o.clock, (SELECT device FROM writers WHERE n = o.w),
           r.pseq + o.seq - r.seq
    FROM oplog_runs r JOIN oplog_ops o ON o.seq BETWEEN r.seq AND r.seq + r.n - 1;

PRAGMA legacy_alter_table = OFF;

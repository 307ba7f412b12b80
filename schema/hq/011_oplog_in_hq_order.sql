-- HQ store version 11: the oplog kept in the order HQ applied its ops, its posts' sequences in
-- runs (docs/DECISIONS.md, "The oplog in HQ's order, posts' sequences in runs"). The oplog is
-- most of the store (85 of its 128 B per op at 1M ops, with its clock index): each op
-- repeated its post, its post's sequence number and HQ's global one, and the table, keyed
-- by (post, pseq), left an eighth of each page empty as it grew.
--
-- 1. oplog_ops: one row per op keyed by HQ's global sequence number (seq, the rowid), which
--    only grows: each op is appended at the end of the one B-tree, whose pages fill whole.
--    No post, no pseq.
-- 2. oplog_runs: the ops HQ appended for one post one after another, once per run: ops seq ..
--    seq + n - 1 are that post's pseq .. pseq + n - 1. A change set's ops are one run (HQ
--    applies them in one transaction, numbering both sequences together), so a run costs
--    some 40 bytes per change set, not per op. A post's ops after its cursor are its runs
--    from the one holding the cursor on (oplog_runs_post), each a range of oplog_ops' key.
-- 3. oplog_clock indexes an op by its clock alone (what a conflict asks for is one row's
--    write by clock and writer; the op's post is its run's), oplog_themes the writes to
--    theme rows by row id, as before.
-- 4. The view oplog keeps its columns (seq, post, tbl, id, col, value, clock, device, pseq)
--    for the readers that are not hot: a row's history, the tests, an operator's sqlite3.
-- Every op keeps its seq, post, pseq, value, clock and writer; a gap left by ops deleted in
-- an older store (version 7 allowed it) starts a new run.

-- No two ops of the store share a global sequence number (version 8 numbered them from one
-- counter); one that did could not be keyed by it, so the migration refuses such a store.
CREATE TEMP TABLE seq_check (n INTEGER);
CREATE TEMP TRIGGER seq_refused BEFORE INSERT ON seq_check WHEN NEW.n > 0
BEGIN
    SELECT RAISE(ABORT, 'oplog_rows holds two ops with the same global sequence number, which keying the oplog by that number would merge; the store stays at version 10 as it is: keep a copy of hq.db and report it (docs/DECISIONS.md, "The oplog in HQ''s order, posts'' sequences in runs")');
END;
INSERT INTO seq_check SELECT count(*) - count(DISTINCT seq) FROM oplog_rows;
DROP TABLE seq_check;

CREATE TABLE oplog_ops (
    seq    INTEGER PRIMARY KEY,                 -- HQ's order over all posts (oplog_seq)
    tbl    INTEGER NOT NULL,
    id     BLOB    NOT NULL,
    col    INTEGER NOT NULL,
    value,                                      -- no declared type: stored as written
    clock  INTEGER NOT NULL,
    w      INTEGER NOT NULL                     -- the writer: writers.n
);
INSERT INTO oplog_ops (seq, tbl, id, col, value, clock, w)
    SELECT seq, tbl, id, col, value, clock, w FROM oplog_rows ORDER BY seq;

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
CREATE INDEX oplog_themes ON oplog_ops(id) WHERE tbl = 0;

CREATE VIEW oplog (seq, post, tbl, id, col, value, clock, device, pseq) AS
    SELECT o.seq, r.post, o.tbl, o.id, o.col, o.value, o.clock,
           (SELECT device FROM writers WHERE n = o.w), r.pseq + o.seq - r.seq
    FROM oplog_runs r JOIN oplog_ops o ON o.seq BETWEEN r.seq AND r.seq + r.n - 1;

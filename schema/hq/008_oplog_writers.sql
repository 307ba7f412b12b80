-- HQ store, version 8: a smaller oplog (docs/DECISIONS.md, "The oplog by post, writers by
-- number"), the biggest table of the store: 69.5 B per op and 42 B more in its two indexes at
-- 1M ops.
--
-- 1. Each op names its writer by its number in `writers`, as clock_rows do (version 7), where
--    it held the writer's 16-byte id.
-- 2. The table is keyed by what pulls read it by, (post, pseq), WITHOUT ROWID: the index
--    oplog_post on (post, pseq), a second copy of every op's key, is gone. seq, HQ's global
--    order (version-1 cursors), stays a column, numbered from oplog_seq, which goes on from
--    where the old AUTOINCREMENT sequence stood: a number is never given twice, even after the
--    newest ops were deleted.
-- 3. grants_code goes: a grant's short code is the first 30 bits of its id, so HQ finds a grant
--    by code through the (post, id) key (hq/hqstore_conflict.c, bind_code_range); the index's
--    random entries cost a page written per new grant at scale.
-- 4. The table is oplog_rows; `oplog` stays as a view with its old columns for every reader
--    that is not hot (a row's history, the tests, the shell).

INSERT INTO writers (device)
    SELECT DISTINCT device FROM oplog WHERE device NOT IN (SELECT device FROM writers)
    ORDER BY device;

CREATE TABLE oplog_rows (
    post   TEXT    NOT NULL,
    pseq   INTEGER NOT NULL,                    -- the post's own sequence: 1, 2, 3, ...
    seq    INTEGER NOT NULL,                    -- HQ's order over all posts (oplog_seq)
    tbl    INTEGER NOT NULL,
    id     BLOB    NOT NULL,
    col    INTEGER NOT NULL,
    value,                                      -- no declared type: stored as written
    clock  INTEGER NOT NULL,
    w      INTEGER NOT NULL,                    -- the writer: writers.n
    PRIMARY KEY (post, pseq)
) WITHOUT ROWID;
INSERT INTO oplog_rows (post, pseq, seq, tbl, id, col, value, clock, w)
    SELECT o.post, o.pseq, o.seq, o.tbl, o.id, o.col, o.value, o.clock, w.n
    FROM oplog o JOIN writers w ON w.device = o.device
    ORDER BY o.post, o.pseq;

-- The last global sequence number given. HQ reads it once per transaction, numbers its ops
-- from it and writes it back before it commits (hq/hqstore_sqlite.c).
CREATE TABLE oplog_seq (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL
);
INSERT INTO oplog_seq (id, last)
    SELECT 1, max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'oplog'), 0),
                  coalesce((SELECT max(seq) FROM oplog), 0));

DROP TABLE oplog;
DELETE FROM sqlite_sequence WHERE name = 'oplog';
CREATE INDEX oplog_clock ON oplog_rows(post, clock);

CREATE VIEW oplog (seq, post, tbl, id, col, value, clock, device, pseq) AS
    SELECT seq, post, tbl, id, col, value, clock, (SELECT device FROM writers WHERE n = w), pseq
    FROM oplog_rows;

DROP INDEX grants_code;

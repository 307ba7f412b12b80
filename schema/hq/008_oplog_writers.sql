-- HQ store, version 8: the oplog names each op's writer by its number in `writers`, as
-- clock_rows do (version 7; docs/DECISIONS.md, "Clocks packed per row"), where it held the
-- writer's 16-byte id: about 16 B less per op, in the biggest table of the store.
--
-- The table is oplog_rows now; `oplog` stays as a view with its old columns for every reader
-- (pulls, the conflict checks' history of a row, the tests). seq keeps its AUTOINCREMENT
-- guarantee across the copy: the new table's sequence starts where the old one stood, even if
-- the newest rows had been deleted.

INSERT INTO writers (device)
    SELECT DISTINCT device FROM oplog WHERE device NOT IN (SELECT device FROM writers)
    ORDER BY device;

CREATE TABLE oplog_rows (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    post   TEXT    NOT NULL,
    tbl    INTEGER NOT NULL,
    id     BLOB    NOT NULL,
    col    INTEGER NOT NULL,
    value,                                      -- no declared type: stored as written
    clock  INTEGER NOT NULL,
    w      INTEGER NOT NULL,                    -- the writer: writers.n
    pseq   INTEGER NOT NULL                     -- the post's own sequence
);
INSERT INTO oplog_rows (seq, post, tbl, id, col, value, clock, w, pseq)
    SELECT o.seq, o.post, o.tbl, o.id, o.col, o.value, o.clock, w.n, o.pseq
    FROM oplog o JOIN writers w ON w.device = o.device
    ORDER BY o.seq;
DELETE FROM sqlite_sequence WHERE name = 'oplog_rows';
INSERT INTO sqlite_sequence (name, seq) SELECT 'oplog_rows', seq FROM sqlite_sequence
    WHERE name = 'oplog';
DROP TABLE oplog;
DELETE FROM sqlite_sequence WHERE name = 'oplog';
CREATE UNIQUE INDEX oplog_post ON oplog_rows(post, pseq);
CREATE INDEX oplog_clock ON oplog_rows(post, clock);

CREATE VIEW oplog (seq, post, tbl, id, col, value, clock, device, pseq) AS
    SELECT seq, post, tbl, id, col, value, clock, (SELECT device FROM writers WHERE n = w), pseq
    FROM oplog_rows;

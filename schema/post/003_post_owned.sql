-- Post store, version 3: clocks carry the post of their row, as in the HQ store, so the one
-- merge runs the same statements on both sides (rows belong to their post: DESIGN section 5); the
-- cursor counts the post's own sequence at HQ, so it starts again from 0 (one full pull,
-- which the merge makes harmless: an op already held is stale); and the device keeps how far
-- its wall clock was from HQ's at the last sync, so `mrf status` can say when it is wrong.

CREATE TABLE clocks_v3 (
    post   TEXT    NOT NULL,
    tbl    INTEGER NOT NULL,
    id     BLOB    NOT NULL,
    col    INTEGER NOT NULL,
    clock  INTEGER NOT NULL,   -- an unsigned 64-bit value in SQLite's signed integer: compared in C
    device BLOB    NOT NULL,
    PRIMARY KEY (post, tbl, id, col)
) WITHOUT ROWID;
INSERT INTO clocks_v3 (post, tbl, id, col, clock, device)
    SELECT (SELECT post FROM meta WHERE id = 1), tbl, id, col, clock, device FROM clocks;
DROP TABLE clocks;
ALTER TABLE clocks_v3 RENAME TO clocks;

UPDATE meta SET hq_cursor = 0;
ALTER TABLE meta ADD COLUMN hq_skew_ms INTEGER;   -- device wall clock minus HQ's, last sync

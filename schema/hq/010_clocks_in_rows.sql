-- HQ store version 10: each row's column clocks move into the row itself (docs/DECISIONS.md,
-- "HQ's clocks in their rows"). Column K of a table has its clock in cK and its writer's number
-- (writers.n) in wK, beside the values, so the merge reads and writes a column and its clock
-- in one row: one B-tree keyed by random ids per new row instead of two (clock_rows was the
-- second), and one page written per edit instead of two. clock_rows goes; the view clocks
-- keeps its columns (post, tbl, id, col, clock, device) for the readers that ask by column
-- (audit verify, tests, an operator's sqlite3), with triggers for what they write.

ALTER TABLE themes ADD COLUMN c0 INTEGER;
ALTER TABLE themes ADD COLUMN w0 INTEGER;
ALTER TABLE themes ADD COLUMN c1 INTEGER;
ALTER TABLE themes ADD COLUMN w1 INTEGER;
ALTER TABLE themes ADD COLUMN c2 INTEGER;
ALTER TABLE themes ADD COLUMN w2 INTEGER;
UPDATE themes SET c0 = r.c0, w0 = r.w0, c1 = r.c1, w1 = r.w1, c2 = r.c2, w2 = r.w2
    FROM clock_rows r WHERE r.post = themes.post AND r.tbl = 0 AND r.id = themes.id;
ALTER TABLE partners ADD COLUMN c0 INTEGER;
ALTER TABLE partners ADD COLUMN w0 INTEGER;
ALTER TABLE partners ADD COLUMN c1 INTEGER;
ALTER TABLE partners ADD COLUMN w1 INTEGER;
ALTER TABLE partners ADD COLUMN c2 INTEGER;
ALTER TABLE partners ADD COLUMN w2 INTEGER;
ALTER TABLE partners ADD COLUMN c3 INTEGER;
ALTER TABLE partners ADD COLUMN w3 INTEGER;
ALTER TABLE partners ADD COLUMN c4 INTEGER;
ALTER TABLE partners ADD COLUMN w4 INTEGER;
ALTER TABLE partners ADD COLUMN c5 INTEGER;
ALTER TABLE partners ADD COLUMN w5 INTEGER;
ALTER TABLE partners ADD COLUMN c6 INTEGER;
ALTER TABLE partners ADD COLUMN w6 INTEGER;
ALTER TABLE partners ADD COLUMN c7 INTEGER;
ALTER TABLE partners ADD COLUMN w7 INTEGER;
ALTER TABLE partners ADD COLUMN c8 INTEGER;
ALTER TABLE partners ADD COLUMN w8 INTEGER;
UPDATE partners SET c0 = r.c0, w0 = r.w0, c1 = r.c1, w1 = r.w1, c2 = r.c2, w2 = r.w2, c3 = r.c3, w3 = r.w3, c4 = r.c4, w4 = r.w4, c5 = r.c5, w5 = r.w5, c6 = r.c6, w6 = r.w6, c7 = r.c7, w7 = r.w7, c8 = r.c8, w8 = r.w8
    FROM clock_rows r WHERE r.post = partners.post AND r.tbl = 1 AND r.id = partners.id;
ALTER TABLE grants ADD COLUMN c0 INTEGER;
ALTER TABLE grants ADD COLUMN w0 INTEGER;
ALTER TABLE grants ADD COLUMN c1 INTEGER;
ALTER TABLE grants ADD COLUMN w1 INTEGER;
ALTER TABLE grants ADD COLUMN c2 INTEGER;
ALTER TABLE grants ADD COLUMN w2 INTEGER;
ALTER TABLE grants ADD COLUMN c3 INTEGER;
ALTER TABLE grants ADD COLUMN w3 INTEGER;
ALTER TABLE grants ADD COLUMN c4 INTEGER;
ALTER TABLE grants ADD COLUMN w4 INTEGER;
ALTER TABLE grants ADD COLUMN c5 INTEGER;
ALTER TABLE grants ADD COLUMN w5 INTEGER;
ALTER TABLE grants ADD COLUMN c6 INTEGER;
ALTER TABLE grants ADD COLUMN w6 INTEGER;
ALTER TABLE grants ADD COLUMN c7 INTEGER;
ALTER TABLE grants ADD COLUMN w7 INTEGER;
ALTER TABLE grants ADD COLUMN c8 INTEGER;
ALTER TABLE grants ADD COLUMN w8 INTEGER;
ALTER TABLE grants ADD COLUMN c9 INTEGER;
ALTER TABLE grants ADD COLUMN w9 INTEGER;
UPDATE grants SET c0 = r.c0, w0 = r.w0, c1 = r.c1, w1 = r.w1, c2 = r.c2, w2 = r.w2, c3 = r.c3, w3 = r.w3, c4 = r.c4, w4 = r.w4, c5 = r.c5, w5 = r.w5, c6 = r.c6, w6 = r.w6, c7 = r.c7, w7 = r.w7, c8 = r.c8, w8 = r.w8, c9 = r.c9, w9 = r.w9
    FROM clock_rows r WHERE r.post = grants.post AND r.tbl = 2 AND r.id = grants.id;
ALTER TABLE allocations ADD COLUMN c0 INTEGER;
ALTER TABLE allocations ADD COLUMN w0 INTEGER;
ALTER TABLE allocations ADD COLUMN c1 INTEGER;
ALTER TABLE allocations ADD COLUMN w1 INTEGER;
ALTER TABLE allocations ADD COLUMN c2 INTEGER;
ALTER TABLE allocations ADD COLUMN w2 INTEGER;
UPDATE allocations SET c0 = r.c0, w0 = r.w0, c1 = r.c1, w1 = r.w1, c2 = r.c2, w2 = r.w2
    FROM clock_rows r WHERE r.post = allocations.post AND r.tbl = 3 AND r.id = allocations.id;

-- Every clock entry was written after its row's first column (sync/merge.c): none is left
-- without its row. A store where one was would lose it here, so the migration refuses it,
-- saying so (the message is what `mrf-hq` prints after "migration 10 failed").
CREATE TEMP TABLE orphan_check (n INTEGER);
CREATE TEMP TRIGGER orphan_refused BEFORE INSERT ON orphan_check WHEN NEW.n > 0
BEGIN
    SELECT RAISE(ABORT, 'clock_rows holds clocks of rows this store does not have, which moving the clocks into their rows would drop; the store stays at version 9 as it is: keep a copy of hq.db and report it (docs/DECISIONS.md, "HQ''s clocks in their rows")');
END;
INSERT INTO orphan_check SELECT count(*) FROM clock_rows r WHERE NOT EXISTS (
    SELECT 1 FROM themes t WHERE r.tbl = 0 AND t.post = r.post AND t.id = r.id UNION ALL
    SELECT 1 FROM partners p WHERE r.tbl = 1 AND p.post = r.post AND p.id = r.id UNION ALL
    SELECT 1 FROM grants g WHERE r.tbl = 2 AND g.post = r.post AND g.id = r.id UNION ALL
    SELECT 1 FROM allocations a WHERE r.tbl = 3 AND a.post = r.post AND a.id = r.id);
DROP TABLE orphan_check;

DROP VIEW clocks;
DROP TABLE clock_rows;

-- one pass over each table, its columns crossed with its rows (as the view over clock_rows did)
CREATE VIEW clocks (post, tbl, id, col, clock, device) AS
    SELECT post, tbl, id, col, clock, (SELECT device FROM writers WHERE n = w)
    FROM (
    SELECT r.post AS post, 0 AS tbl, r.id AS id, k.column1 AS col,
           CASE k.column1 WHEN 0 THEN r.c0 WHEN 1 THEN r.c1 WHEN 2 THEN r.c2 END AS clock,
           CASE k.column1 WHEN 0 THEN r.w0 WHEN 1 THEN r.w1 WHEN 2 THEN r.w2 END AS w
    FROM themes r, (VALUES (0), (1), (2)) k
    UNION ALL
    SELECT r.post AS post, 1 AS tbl, r.id AS id, k.column1 AS col,
           CASE k.column1 WHEN 0 THEN r.c0 WHEN 1 THEN r.c1 WHEN 2 THEN r.c2 WHEN 3 THEN r.c3 WHEN 4 THEN r.c4 WHEN 5 THEN r.c5 WHEN 6 THEN r.c6 WHEN 7 THEN r.c7 WHEN 8 THEN r.c8 END AS clock,
           CASE k.column1 WHEN 0 THEN r.w0 WHEN 1 THEN r.w1 WHEN 2 THEN r.w2 WHEN 3 THEN r.w3 WHEN 4 THEN r.w4 WHEN 5 THEN r.w5 WHEN 6 THEN r.w6 WHEN 7 THEN r.w7 WHEN 8 THEN r.w8 END AS w
    FROM partners r, (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8)) k
    UNION ALL
    SELECT r.post AS post, 2 AS tbl, r.id AS id, k.column1 AS col,
           CASE k.column1 WHEN 0 THEN r.c0 WHEN 1 THEN r.c1 WHEN 2 THEN r.c2 WHEN 3 THEN r.c3 WHEN 4 THEN r.c4 WHEN 5 THEN r.c5 WHEN 6 THEN r.c6 WHEN 7 THEN r.c7 WHEN 8 THEN r.c8 WHEN 9 THEN r.c9 END AS clock,
           CASE k.column1 WHEN 0 THEN r.w0 WHEN 1 THEN r.w1 WHEN 2 THEN r.w2 WHEN 3 THEN r.w3 WHEN 4 THEN r.w4 WHEN 5 THEN r.w5 WHEN 6 THEN r.w6 WHEN 7 THEN r.w7 WHEN 8 THEN r.w8 WHEN 9 THEN r.w9 END AS w
    FROM grants r, (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) k
    UNION ALL
    SELECT r.post AS post, 3 AS tbl, r.id AS id, k.column1 AS col,
           CASE k.column1 WHEN 0 THEN r.c0 WHEN 1 THEN r.c1 WHEN 2 THEN r.c2 END AS clock,
           CASE k.column1 WHEN 0 THEN r.w0 WHEN 1 THEN r.w1 WHEN 2 THEN r.w2 END AS w
    FROM allocations r, (VALUES (0), (1), (2)) k
    )
    WHERE clock IS NOT NULL;

CREATE TRIGGER clocks_insert INSTEAD OF INSERT ON clocks
BEGIN
    SELECT RAISE(ABORT, 'clocks: no such table and column')
        WHERE NEW.tbl IS NULL OR NEW.col IS NULL OR NOT (NEW.tbl = 0 AND NEW.col BETWEEN 0 AND 2
              OR NEW.tbl = 1 AND NEW.col BETWEEN 0 AND 8 OR NEW.tbl = 2 AND NEW.col BETWEEN 0 AND 9
              OR NEW.tbl = 3 AND NEW.col BETWEEN 0 AND 2);
    INSERT INTO writers (device) SELECT NEW.device
        WHERE NOT EXISTS (SELECT 1 FROM writers WHERE device = NEW.device);
    SELECT RAISE(ABORT, 'clocks: a clock needs its row')
        WHERE NOT EXISTS (SELECT 1 FROM themes WHERE NEW.tbl = 0 AND post = NEW.post AND id = NEW.id
                          UNION ALL SELECT 1 FROM partners WHERE NEW.tbl = 1 AND post = NEW.post AND id = NEW.id
                          UNION ALL SELECT 1 FROM grants WHERE NEW.tbl = 2 AND post = NEW.post AND id = NEW.id
                          UNION ALL SELECT 1 FROM allocations WHERE NEW.tbl = 3 AND post = NEW.post AND id = NEW.id);
    UPDATE themes SET
        c0 = CASE NEW.col WHEN 0 THEN NEW.clock ELSE c0 END,
        w0 = CASE NEW.col WHEN 0 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w0 END,
        c1 = CASE NEW.col WHEN 1 THEN NEW.clock ELSE c1 END,
        w1 = CASE NEW.col WHEN 1 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w1 END,
        c2 = CASE NEW.col WHEN 2 THEN NEW.clock ELSE c2 END,
        w2 = CASE NEW.col WHEN 2 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w2 END
    WHERE NEW.tbl = 0 AND post = NEW.post AND id = NEW.id;
    UPDATE partners SET
        c0 = CASE NEW.col WHEN 0 THEN NEW.clock ELSE c0 END,
        w0 = CASE NEW.col WHEN 0 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w0 END,
        c1 = CASE NEW.col WHEN 1 THEN NEW.clock ELSE c1 END,
        w1 = CASE NEW.col WHEN 1 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w1 END,
        c2 = CASE NEW.col WHEN 2 THEN NEW.clock ELSE c2 END,
        w2 = CASE NEW.col WHEN 2 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w2 END,
        c3 = CASE NEW.col WHEN 3 THEN NEW.clock ELSE c3 END,
        w3 = CASE NEW.col WHEN 3 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w3 END,
        c4 = CASE NEW.col WHEN 4 THEN NEW.clock ELSE c4 END,
        w4 = CASE NEW.col WHEN 4 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w4 END,
        c5 = CASE NEW.col WHEN 5 THEN NEW.clock ELSE c5 END,
        w5 = CASE NEW.col WHEN 5 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w5 END,
        c6 = CASE NEW.col WHEN 6 THEN NEW.clock ELSE c6 END,
        w6 = CASE NEW.col WHEN 6 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w6 END,
        c7 = CASE NEW.col WHEN 7 THEN NEW.clock ELSE c7 END,
        w7 = CASE NEW.col WHEN 7 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w7 END,
        c8 = CASE NEW.col WHEN 8 THEN NEW.clock ELSE c8 END,
        w8 = CASE NEW.col WHEN 8 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w8 END
    WHERE NEW.tbl = 1 AND post = NEW.post AND id = NEW.id;
    UPDATE grants SET
        c0 = CASE NEW.col WHEN 0 THEN NEW.clock ELSE c0 END,
        w0 = CASE NEW.col WHEN 0 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w0 END,
        c1 = CASE NEW.col WHEN 1 THEN NEW.clock ELSE c1 END,
        w1 = CASE NEW.col WHEN 1 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w1 END,
        c2 = CASE NEW.col WHEN 2 THEN NEW.clock ELSE c2 END,
        w2 = CASE NEW.col WHEN 2 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w2 END,
        c3 = CASE NEW.col WHEN 3 THEN NEW.clock ELSE c3 END,
        w3 = CASE NEW.col WHEN 3 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w3 END,
        c4 = CASE NEW.col WHEN 4 THEN NEW.clock ELSE c4 END,
        w4 = CASE NEW.col WHEN 4 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w4 END,
        c5 = CASE NEW.col WHEN 5 THEN NEW.clock ELSE c5 END,
        w5 = CASE NEW.col WHEN 5 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w5 END,
        c6 = CASE NEW.col WHEN 6 THEN NEW.clock ELSE c6 END,
        w6 = CASE NEW.col WHEN 6 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w6 END,
        c7 = CASE NEW.col WHEN 7 THEN NEW.clock ELSE c7 END,
        w7 = CASE NEW.col WHEN 7 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w7 END,
        c8 = CASE NEW.col WHEN 8 THEN NEW.clock ELSE c8 END,
        w8 = CASE NEW.col WHEN 8 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w8 END,
        c9 = CASE NEW.col WHEN 9 THEN NEW.clock ELSE c9 END,
        w9 = CASE NEW.col WHEN 9 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w9 END
    WHERE NEW.tbl = 2 AND post = NEW.post AND id = NEW.id;
    UPDATE allocations SET
        c0 = CASE NEW.col WHEN 0 THEN NEW.clock ELSE c0 END,
        w0 = CASE NEW.col WHEN 0 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w0 END,
        c1 = CASE NEW.col WHEN 1 THEN NEW.clock ELSE c1 END,
        w1 = CASE NEW.col WHEN 1 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w1 END,
        c2 = CASE NEW.col WHEN 2 THEN NEW.clock ELSE c2 END,
        w2 = CASE NEW.col WHEN 2 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w2 END
    WHERE NEW.tbl = 3 AND post = NEW.post AND id = NEW.id;
END;

CREATE TRIGGER clocks_delete INSTEAD OF DELETE ON clocks
BEGIN
    UPDATE themes SET
        c0 = CASE OLD.col WHEN 0 THEN NULL ELSE c0 END,
        w0 = CASE OLD.col WHEN 0 THEN NULL ELSE w0 END,
        c1 = CASE OLD.col WHEN 1 THEN NULL ELSE c1 END,
        w1 = CASE OLD.col WHEN 1 THEN NULL ELSE w1 END,
        c2 = CASE OLD.col WHEN 2 THEN NULL ELSE c2 END,
        w2 = CASE OLD.col WHEN 2 THEN NULL ELSE w2 END
    WHERE OLD.tbl = 0 AND post = OLD.post AND id = OLD.id;
    UPDATE partners SET
        c0 = CASE OLD.col WHEN 0 THEN NULL ELSE c0 END,
        w0 = CASE OLD.col WHEN 0 THEN NULL ELSE w0 END,
        c1 = CASE OLD.col WHEN 1 THEN NULL ELSE c1 END,
        w1 = CASE OLD.col WHEN 1 THEN NULL ELSE w1 END,
        c2 = CASE OLD.col WHEN 2 THEN NULL ELSE c2 END,
        w2 = CASE OLD.col WHEN 2 THEN NULL ELSE w2 END,
        c3 = CASE OLD.col WHEN 3 THEN NULL ELSE c3 END,
        w3 = CASE OLD.col WHEN 3 THEN NULL ELSE w3 END,
        c4 = CASE OLD.col WHEN 4 THEN NULL ELSE c4 END,
        w4 = CASE OLD.col WHEN 4 THEN NULL ELSE w4 END,
        c5 = CASE OLD.col WHEN 5 THEN NULL ELSE c5 END,
        w5 = CASE OLD.col WHEN 5 THEN NULL ELSE w5 END,
        c6 = CASE OLD.col WHEN 6 THEN NULL ELSE c6 END,
        w6 = CASE OLD.col WHEN 6 THEN NULL ELSE w6 END,
        c7 = CASE OLD.col WHEN 7 THEN NULL ELSE c7 END,
        w7 = CASE OLD.col WHEN 7 THEN NULL ELSE w7 END,
        c8 = CASE OLD.col WHEN 8 THEN NULL ELSE c8 END,
        w8 = CASE OLD.col WHEN 8 THEN NULL ELSE w8 END
    WHERE OLD.tbl = 1 AND post = OLD.post AND id = OLD.id;
    UPDATE grants SET
        c0 = CASE OLD.col WHEN 0 THEN NULL ELSE c0 END,
        w0 = CASE OLD.col WHEN 0 THEN NULL ELSE w0 END,
        c1 = CASE OLD.col WHEN 1 THEN NULL ELSE c1 END,
        w1 = CASE OLD.col WHEN 1 THEN NULL ELSE w1 END,
        c2 = CASE OLD.col WHEN 2 THEN NULL ELSE c2 END,
        w2 = CASE OLD.col WHEN 2 THEN NULL ELSE w2 END,
        c3 = CASE OLD.col WHEN 3 THEN NULL ELSE c3 END,
        w3 = CASE OLD.col WHEN 3 THEN NULL ELSE w3 END,
        c4 = CASE OLD.col WHEN 4 THEN NULL ELSE c4 END,
        w4 = CASE OLD.col WHEN 4 THEN NULL ELSE w4 END,
        c5 = CASE OLD.col WHEN 5 THEN NULL ELSE c5 END,
        w5 = CASE OLD.col WHEN 5 THEN NULL ELSE w5 END,
        c6 = CASE OLD.col WHEN 6 THEN NULL ELSE c6 END,
        w6 = CASE OLD.col WHEN 6 THEN NULL ELSE w6 END,
        c7 = CASE OLD.col WHEN 7 THEN NULL ELSE c7 END,
        w7 = CASE OLD.col WHEN 7 THEN NULL ELSE w7 END,
        c8 = CASE OLD.col WHEN 8 THEN NULL ELSE c8 END,
        w8 = CASE OLD.col WHEN 8 THEN NULL ELSE w8 END,
        c9 = CASE OLD.col WHEN 9 THEN NULL ELSE c9 END,
        w9 = CASE OLD.col WHEN 9 THEN NULL ELSE w9 END
    WHERE OLD.tbl = 2 AND post = OLD.post AND id = OLD.id;
    UPDATE allocations SET
        c0 = CASE OLD.col WHEN 0 THEN NULL ELSE c0 END,
        w0 = CASE OLD.col WHEN 0 THEN NULL ELSE w0 END,
        c1 = CASE OLD.col WHEN 1 THEN NULL ELSE c1 END,
        w1 = CASE OLD.col WHEN 1 THEN NULL ELSE w1 END,
        c2 = CASE OLD.col WHEN 2 THEN NULL ELSE c2 END,
        w2 = CASE OLD.col WHEN 2 THEN NULL ELSE w2 END
    WHERE OLD.tbl = 3 AND post = OLD.post AND id = OLD.id;
END;

CREATE TRIGGER clocks_update INSTEAD OF UPDATE ON clocks
BEGIN
    SELECT RAISE(ABORT, 'clocks: no such table and column')
        WHERE NEW.tbl IS NULL OR NEW.col IS NULL OR NOT (NEW.tbl = 0 AND NEW.col BETWEEN 0 AND 2
              OR NEW.tbl = 1 AND NEW.col BETWEEN 0 AND 8 OR NEW.tbl = 2 AND NEW.col BETWEEN 0 AND 9
              OR NEW.tbl = 3 AND NEW.col BETWEEN 0 AND 2);
    INSERT INTO writers (device) SELECT NEW.device
        WHERE NOT EXISTS (SELECT 1 FROM writers WHERE device = NEW.device);
    SELECT RAISE(ABORT, 'clocks: a clock needs its row')
        WHERE NOT EXISTS (SELECT 1 FROM themes WHERE NEW.tbl = 0 AND post = NEW.post AND id = NEW.id
                          UNION ALL SELECT 1 FROM partners WHERE NEW.tbl = 1 AND post = NEW.post AND id = NEW.id
                          UNION ALL SELECT 1 FROM grants WHERE NEW.tbl = 2 AND post = NEW.post AND id = NEW.id
                          UNION ALL SELECT 1 FROM allocations WHERE NEW.tbl = 3 AND post = NEW.post AND id = NEW.id);
    UPDATE themes SET
        c0 = CASE OLD.col WHEN 0 THEN NULL ELSE c0 END,
        w0 = CASE OLD.col WHEN 0 THEN NULL ELSE w0 END,
        c1 = CASE OLD.col WHEN 1 THEN NULL ELSE c1 END,
        w1 = CASE OLD.col WHEN 1 THEN NULL ELSE w1 END,
        c2 = CASE OLD.col WHEN 2 THEN NULL ELSE c2 END,
        w2 = CASE OLD.col WHEN 2 THEN NULL ELSE w2 END
    WHERE OLD.tbl = 0 AND post = OLD.post AND id = OLD.id;
    UPDATE partners SET
        c0 = CASE OLD.col WHEN 0 THEN NULL ELSE c0 END,
        w0 = CASE OLD.col WHEN 0 THEN NULL ELSE w0 END,
        c1 = CASE OLD.col WHEN 1 THEN NULL ELSE c1 END,
        w1 = CASE OLD.col WHEN 1 THEN NULL ELSE w1 END,
        c2 = CASE OLD.col WHEN 2 THEN NULL ELSE c2 END,
        w2 = CASE OLD.col WHEN 2 THEN NULL ELSE w2 END,
        c3 = CASE OLD.col WHEN 3 THEN NULL ELSE c3 END,
        w3 = CASE OLD.col WHEN 3 THEN NULL ELSE w3 END,
        c4 = CASE OLD.col WHEN 4 THEN NULL ELSE c4 END,
        w4 = CASE OLD.col WHEN 4 THEN NULL ELSE w4 END,
        c5 = CASE OLD.col WHEN 5 THEN NULL ELSE c5 END,
        w5 = CASE OLD.col WHEN 5 THEN NULL ELSE w5 END,
        c6 = CASE OLD.col WHEN 6 THEN NULL ELSE c6 END,
        w6 = CASE OLD.col WHEN 6 THEN NULL ELSE w6 END,
        c7 = CASE OLD.col WHEN 7 THEN NULL ELSE c7 END,
        w7 = CASE OLD.col WHEN 7 THEN NULL ELSE w7 END,
        c8 = CASE OLD.col WHEN 8 THEN NULL ELSE c8 END,
        w8 = CASE OLD.col WHEN 8 THEN NULL ELSE w8 END
    WHERE OLD.tbl = 1 AND post = OLD.post AND id = OLD.id;
    UPDATE grants SET
        c0 = CASE OLD.col WHEN 0 THEN NULL ELSE c0 END,
        w0 = CASE OLD.col WHEN 0 THEN NULL ELSE w0 END,
        c1 = CASE OLD.col WHEN 1 THEN NULL ELSE c1 END,
        w1 = CASE OLD.col WHEN 1 THEN NULL ELSE w1 END,
        c2 = CASE OLD.col WHEN 2 THEN NULL ELSE c2 END,
        w2 = CASE OLD.col WHEN 2 THEN NULL ELSE w2 END,
        c3 = CASE OLD.col WHEN 3 THEN NULL ELSE c3 END,
        w3 = CASE OLD.col WHEN 3 THEN NULL ELSE w3 END,
        c4 = CASE OLD.col WHEN 4 THEN NULL ELSE c4 END,
        w4 = CASE OLD.col WHEN 4 THEN NULL ELSE w4 END,
        c5 = CASE OLD.col WHEN 5 THEN NULL ELSE c5 END,
        w5 = CASE OLD.col WHEN 5 THEN NULL ELSE w5 END,
        c6 = CASE OLD.col WHEN 6 THEN NULL ELSE c6 END,
        w6 = CASE OLD.col WHEN 6 THEN NULL ELSE w6 END,
        c7 = CASE OLD.col WHEN 7 THEN NULL ELSE c7 END,
        w7 = CASE OLD.col WHEN 7 THEN NULL ELSE w7 END,
        c8 = CASE OLD.col WHEN 8 THEN NULL ELSE c8 END,
        w8 = CASE OLD.col WHEN 8 THEN NULL ELSE w8 END,
        c9 = CASE OLD.col WHEN 9 THEN NULL ELSE c9 END,
        w9 = CASE OLD.col WHEN 9 THEN NULL ELSE w9 END
    WHERE OLD.tbl = 2 AND post = OLD.post AND id = OLD.id;
    UPDATE allocations SET
        c0 = CASE OLD.col WHEN 0 THEN NULL ELSE c0 END,
        w0 = CASE OLD.col WHEN 0 THEN NULL ELSE w0 END,
        c1 = CASE OLD.col WHEN 1 THEN NULL ELSE c1 END,
        w1 = CASE OLD.col WHEN 1 THEN NULL ELSE w1 END,
        c2 = CASE OLD.col WHEN 2 THEN NULL ELSE c2 END,
        w2 = CASE OLD.col WHEN 2 THEN NULL ELSE w2 END
    WHERE OLD.tbl = 3 AND post = OLD.post AND id = OLD.id;
    UPDATE themes SET
        c0 = CASE NEW.col WHEN 0 THEN NEW.clock ELSE c0 END,
        w0 = CASE NEW.col WHEN 0 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w0 END,
        c1 = CASE NEW.col WHEN 1 THEN NEW.clock ELSE c1 END,
        w1 = CASE NEW.col WHEN 1 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w1 END,
        c2 = CASE NEW.col WHEN 2 THEN NEW.clock ELSE c2 END,
        w2 = CASE NEW.col WHEN 2 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w2 END
    WHERE NEW.tbl = 0 AND post = NEW.post AND id = NEW.id;
    UPDATE partners SET
        c0 = CASE NEW.col WHEN 0 THEN NEW.clock ELSE c0 END,
        w0 = CASE NEW.col WHEN 0 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w0 END,
        c1 = CASE NEW.col WHEN 1 THEN NEW.clock ELSE c1 END,
        w1 = CASE NEW.col WHEN 1 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w1 END,
        c2 = CASE NEW.col WHEN 2 THEN NEW.clock ELSE c2 END,
        w2 = CASE NEW.col WHEN 2 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w2 END,
        c3 = CASE NEW.col WHEN 3 THEN NEW.clock ELSE c3 END,
        w3 = CASE NEW.col WHEN 3 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w3 END,
        c4 = CASE NEW.col WHEN 4 THEN NEW.clock ELSE c4 END,
        w4 = CASE NEW.col WHEN 4 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w4 END,
        c5 = CASE NEW.col WHEN 5 THEN NEW.clock ELSE c5 END,
        w5 = CASE NEW.col WHEN 5 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w5 END,
        c6 = CASE NEW.col WHEN 6 THEN NEW.clock ELSE c6 END,
        w6 = CASE NEW.col WHEN 6 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w6 END,
        c7 = CASE NEW.col WHEN 7 THEN NEW.clock ELSE c7 END,
        w7 = CASE NEW.col WHEN 7 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w7 END,
        c8 = CASE NEW.col WHEN 8 THEN NEW.clock ELSE c8 END,
        w8 = CASE NEW.col WHEN 8 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w8 END
    WHERE NEW.tbl = 1 AND post = NEW.post AND id = NEW.id;
    UPDATE grants SET
        c0 = CASE NEW.col WHEN 0 THEN NEW.clock ELSE c0 END,
        w0 = CASE NEW.col WHEN 0 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w0 END,
        c1 = CASE NEW.col WHEN 1 THEN NEW.clock ELSE c1 END,
        w1 = CASE NEW.col WHEN 1 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w1 END,
        c2 = CASE NEW.col WHEN 2 THEN NEW.clock ELSE c2 END,
        w2 = CASE NEW.col WHEN 2 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w2 END,
        c3 = CASE NEW.col WHEN 3 THEN NEW.clock ELSE c3 END,
        w3 = CASE NEW.col WHEN 3 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w3 END,
        c4 = CASE NEW.col WHEN 4 THEN NEW.clock ELSE c4 END,
        w4 = CASE NEW.col WHEN 4 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w4 END,
        c5 = CASE NEW.col WHEN 5 THEN NEW.clock ELSE c5 END,
        w5 = CASE NEW.col WHEN 5 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w5 END,
        c6 = CASE NEW.col WHEN 6 THEN NEW.clock ELSE c6 END,
        w6 = CASE NEW.col WHEN 6 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w6 END,
        c7 = CASE NEW.col WHEN 7 THEN NEW.clock ELSE c7 END,
        w7 = CASE NEW.col WHEN 7 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w7 END,
        c8 = CASE NEW.col WHEN 8 THEN NEW.clock ELSE c8 END,
        w8 = CASE NEW.col WHEN 8 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w8 END,
        c9 = CASE NEW.col WHEN 9 THEN NEW.clock ELSE c9 END,
        w9 = CASE NEW.col WHEN 9 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w9 END
    WHERE NEW.tbl = 2 AND post = NEW.post AND id = NEW.id;
    UPDATE allocations SET
        c0 = CASE NEW.col WHEN 0 THEN NEW.clock ELSE c0 END,
        w0 = CASE NEW.col WHEN 0 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w0 END,
        c1 = CASE NEW.col WHEN 1 THEN NEW.clock ELSE c1 END,
        w1 = CASE NEW.col WHEN 1 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w1 END,
        c2 = CASE NEW.col WHEN 2 THEN NEW.clock ELSE c2 END,
        w2 = CASE NEW.col WHEN 2 THEN (SELECT n FROM writers WHERE device = NEW.device) ELSE w2 END
    WHERE NEW.tbl = 3 AND post = NEW.post AND id = NEW.id;
END;

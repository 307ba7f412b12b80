-- HQ store, version 7: column clocks packed per row, writers by number (docs/DECISIONS.md,
-- "Clocks packed per row"). The per-column table took a B-tree entry per column with the
-- writer's 16-byte id in each: about 62 B per op at 1M ops, the second biggest part of the
-- store after the oplog. The post store makes the same change (schema/post/009), since
-- sync/merge.c runs the same statements on both.

-- 1. writers: every writer (a device's 16-byte id, or HQ's own) once, numbered; clock_rows
--    name writers by that number (1 or 2 bytes where the id took 17). Never deleted: a
--    number, once given, names the same writer for as long as the store lives.
CREATE TABLE writers (
    n      INTEGER PRIMARY KEY,
    device BLOB    NOT NULL UNIQUE
);
INSERT INTO writers (device) SELECT DISTINCT device FROM clocks ORDER BY device;

-- 2. clock_rows: one row per (post, table, row id) with the clock and writer of each column
--    written, by column number (sync/tables.c; a table has at most 10 columns, checked by
--    tests/unit/test_schema.c): cK is the clock (an unsigned 64-bit value in SQLite's signed
--    integer, compared in C), wK its writer's number; both NULL for a column never written.
--    Only what the per-column table held, in a quarter of the bytes, one B-tree entry per row.
CREATE TABLE clock_rows (
    post TEXT    NOT NULL,
    tbl  INTEGER NOT NULL,
    id   BLOB    NOT NULL,
    c0 INTEGER, w0 INTEGER,
    c1 INTEGER, w1 INTEGER,
    c2 INTEGER, w2 INTEGER,
    c3 INTEGER, w3 INTEGER,
    c4 INTEGER, w4 INTEGER,
    c5 INTEGER, w5 INTEGER,
    c6 INTEGER, w6 INTEGER,
    c7 INTEGER, w7 INTEGER,
    c8 INTEGER, w8 INTEGER,
    c9 INTEGER, w9 INTEGER,
    PRIMARY KEY (post, tbl, id)
) WITHOUT ROWID;
INSERT INTO clock_rows (post, tbl, id, c0, w0, c1, w1, c2, w2, c3, w3, c4, w4, c5, w5, c6, w6, c7, w7, c8, w8, c9, w9)
    SELECT c.post, c.tbl, c.id,
           max(CASE c.col WHEN 0 THEN c.clock END), max(CASE c.col WHEN 0 THEN w.n END),
           max(CASE c.col WHEN 1 THEN c.clock END), max(CASE c.col WHEN 1 THEN w.n END),
           max(CASE c.col WHEN 2 THEN c.clock END), max(CASE c.col WHEN 2 THEN w.n END),
           max(CASE c.col WHEN 3 THEN c.clock END), max(CASE c.col WHEN 3 THEN w.n END),
           max(CASE c.col WHEN 4 THEN c.clock END), max(CASE c.col WHEN 4 THEN w.n END),
           max(CASE c.col WHEN 5 THEN c.clock END), max(CASE c.col WHEN 5 THEN w.n END),
           max(CASE c.col WHEN 6 THEN c.clock END), max(CASE c.col WHEN 6 THEN w.n END),
           max(CASE c.col WHEN 7 THEN c.clock END), max(CASE c.col WHEN 7 THEN w.n END),
           max(CASE c.col WHEN 8 THEN c.clock END), max(CASE c.col WHEN 8 THEN w.n END),
           max(CASE c.col WHEN 9 THEN c.clock END), max(CASE c.col WHEN 9 THEN w.n END)
    FROM clocks c JOIN writers w ON w.device = c.device
    GROUP BY c.post, c.tbl, c.id;
DROP TABLE clocks;

-- 3. clocks: the per-column table as it was, now a view, for readers (audit verify's compare,
--    the tests, people with the sqlite3 shell). The merge writes clock_rows (sync/merge.c).
CREATE VIEW clocks (post, tbl, id, col, clock, device) AS
    SELECT post, tbl, id, col, clock, (SELECT device FROM writers WHERE n = w)
    FROM (SELECT r.post AS post, r.tbl AS tbl, r.id AS id, k.column1 AS col,
                 CASE k.column1 WHEN 0 THEN r.c0 WHEN 1 THEN r.c1 WHEN 2 THEN r.c2 WHEN 3 THEN r.c3 WHEN 4 THEN r.c4 WHEN 5 THEN r.c5 WHEN 6 THEN r.c6 WHEN 7 THEN r.c7 WHEN 8 THEN r.c8 WHEN 9 THEN r.c9 END AS clock,
                 CASE k.column1 WHEN 0 THEN r.w0 WHEN 1 THEN r.w1 WHEN 2 THEN r.w2 WHEN 3 THEN r.w3 WHEN 4 THEN r.w4 WHEN 5 THEN r.w5 WHEN 6 THEN r.w6 WHEN 7 THEN r.w7 WHEN 8 THEN r.w8 WHEN 9 THEN r.w9 END AS w
          FROM clock_rows r, (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) k)
    WHERE clock IS NOT NULL;

-- ... and writable, for the tests and benchmarks that set a clock by hand: a row written
-- through the view lands in clock_rows (a writer first seen is numbered).
CREATE TRIGGER clocks_insert INSTEAD OF INSERT ON clocks
BEGIN
    SELECT RAISE(ABORT, 'clocks: a table has columns 0 to 9')
        WHERE NEW.col IS NULL OR NEW.col NOT BETWEEN 0 AND 9;
    INSERT INTO writers (device) SELECT NEW.device
        WHERE NOT EXISTS (SELECT 1 FROM writers WHERE device = NEW.device);
    INSERT INTO clock_rows (post, tbl, id) VALUES (NEW.post, NEW.tbl, NEW.id)
        ON CONFLICT DO NOTHING;
    UPDATE clock_rows SET
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
    WHERE post = NEW.post AND tbl = NEW.tbl AND id = NEW.id;
END;
CREATE TRIGGER clocks_delete INSTEAD OF DELETE ON clocks
BEGIN
    UPDATE clock_rows SET
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
    WHERE post = OLD.post AND tbl = OLD.tbl AND id = OLD.id;
    DELETE FROM clock_rows WHERE post = OLD.post AND tbl = OLD.tbl AND id = OLD.id AND c0 IS NULL AND c1 IS NULL AND c2 IS NULL AND c3 IS NULL AND c4 IS NULL AND c5 IS NULL AND c6 IS NULL AND c7 IS NULL AND c8 IS NULL AND c9 IS NULL;
END;
CREATE TRIGGER clocks_update INSTEAD OF UPDATE ON clocks
BEGIN
    SELECT RAISE(ABORT, 'clocks: a table has columns 0 to 9')
        WHERE NEW.col IS NULL OR NEW.col NOT BETWEEN 0 AND 9;
    INSERT INTO writers (device) SELECT NEW.device
        WHERE NOT EXISTS (SELECT 1 FROM writers WHERE device = NEW.device);
    UPDATE clock_rows SET
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
    WHERE post = OLD.post AND tbl = OLD.tbl AND id = OLD.id;
    DELETE FROM clock_rows WHERE post = OLD.post AND tbl = OLD.tbl AND id = OLD.id AND c0 IS NULL AND c1 IS NULL AND c2 IS NULL AND c3 IS NULL AND c4 IS NULL AND c5 IS NULL AND c6 IS NULL AND c7 IS NULL AND c8 IS NULL AND c9 IS NULL;
    INSERT INTO clock_rows (post, tbl, id) VALUES (NEW.post, NEW.tbl, NEW.id)
        ON CONFLICT DO NOTHING;
    UPDATE clock_rows SET
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
    WHERE post = NEW.post AND tbl = NEW.tbl AND id = NEW.id;
END;

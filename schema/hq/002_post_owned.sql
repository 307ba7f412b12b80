-- HQ store, version 2: rows belong to their post, clocks no device can hijack (DESIGN section 5).
--
-- 1. The domain tables and their clocks are keyed by (post, id), not by id alone. Theme and
--    allocation ids are derived from (post, year, theme), so a device of one post could compute
--    another post's ids; keyed by post, whatever it writes lands in its own post's rows, and
--    nothing it sends can create, change, probe or block a row of another post.
-- 2. Each post pulls from a sequence of its own (oplog.pseq), so its cursor says nothing about
--    how much other posts write. oplog.seq stays the global order HQ applied ops in.
-- 3. clock_skew: change sets that carried clocks more than a day ahead of HQ's wall clock. Such
--    ops are applied at a clock HQ gives them (see docs/DECISIONS.md, "Clocks"); this keeps
--    who sent them, for the conflict queue.
-- Existing rows keep their post; ids were unique across posts before, so no key collides.

CREATE TABLE themes_v2 (
    id      BLOB NOT NULL CHECK (length(id) = 16),
    post    TEXT NOT NULL,
    year    INTEGER,
    theme   TEXT,
    removed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (post, id)
);
INSERT INTO themes_v2 (id, post, year, theme, removed)
    SELECT id, post, year, theme, removed FROM themes;
DROP TABLE themes;
ALTER TABLE themes_v2 RENAME TO themes;
CREATE INDEX themes_year ON themes(post, year);

CREATE TABLE partners_v2 (
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
    PRIMARY KEY (post, id)
);
INSERT INTO partners_v2 (id, post, code, name, contact, phone, email, address, bank, note, risk,
                         removed)
    SELECT id, post, code, name, contact, phone, email, address, bank, note, risk, removed
    FROM partners;
DROP TABLE partners;
ALTER TABLE partners_v2 RENAME TO partners;
CREATE INDEX partners_post ON partners(post, code);

CREATE TABLE grants_v2 (
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
    PRIMARY KEY (post, id)
);
INSERT INTO grants_v2 (id, post, code, partner, theme, year, amount_cents, currency, status,
                       start_date, end_date, note, removed)
    SELECT id, post, code, partner, theme, year, amount_cents, currency, status, start_date,
           end_date, note, removed FROM grants;
DROP TABLE grants;
ALTER TABLE grants_v2 RENAME TO grants;
CREATE INDEX grants_year ON grants(post, year);
CREATE INDEX grants_partner ON grants(post, partner);
CREATE INDEX grants_code ON grants(post, code);

CREATE TABLE allocations_v2 (
    id           BLOB NOT NULL CHECK (length(id) = 16),
    post         TEXT NOT NULL,
    year         INTEGER,
    amount_cents INTEGER,
    currency     TEXT,
    PRIMARY KEY (post, id)
);
INSERT INTO allocations_v2 (id, post, year, amount_cents, currency)
    SELECT id, post, year, amount_cents, currency FROM allocations;
DROP TABLE allocations;
ALTER TABLE allocations_v2 RENAME TO allocations;
CREATE INDEX allocations_post ON allocations(post, year);

-- Clocks are unsigned 64-bit values stored in SQLite's signed integers: never compare them in
-- SQL (sync's merge compares them in C).
CREATE TABLE clocks_v2 (
    post   TEXT    NOT NULL,
    tbl    INTEGER NOT NULL,
    id     BLOB    NOT NULL,
    col    INTEGER NOT NULL,
    clock  INTEGER NOT NULL,
    device BLOB    NOT NULL,
    PRIMARY KEY (post, tbl, id, col)
) WITHOUT ROWID;
INSERT INTO clocks_v2 (post, tbl, id, col, clock, device)
    SELECT coalesce(CASE c.tbl
                        WHEN 0 THEN (SELECT post FROM themes t WHERE t.id = c.id)
                        WHEN 1 THEN (SELECT post FROM partners p WHERE p.id = c.id)
                        WHEN 2 THEN (SELECT post FROM grants g WHERE g.id = c.id)
                        WHEN 3 THEN (SELECT post FROM allocations a WHERE a.id = c.id)
                    END, ''),
           c.tbl, c.id, c.col, c.clock, c.device
    FROM clocks c;
DROP TABLE clocks;
ALTER TABLE clocks_v2 RENAME TO clocks;

-- The post's own sequence: 1, 2, 3, ... for each post, in the order HQ applied its ops.
ALTER TABLE oplog ADD COLUMN pseq INTEGER NOT NULL DEFAULT 0;
UPDATE oplog SET pseq = r.n
    FROM (SELECT seq, row_number() OVER (PARTITION BY post ORDER BY seq) AS n FROM oplog) AS r
    WHERE oplog.seq = r.seq;
DROP INDEX oplog_post;
CREATE UNIQUE INDEX oplog_post ON oplog(post, pseq);

CREATE TABLE clock_skew (
    changeset  BLOB    PRIMARY KEY CHECK (length(changeset) = 16),
    device     BLOB    NOT NULL,
    post       TEXT    NOT NULL,
    ops        INTEGER NOT NULL,   -- how many of its ops were past the bound
    max_clock  INTEGER NOT NULL,   -- the furthest clock it carried (the u64's bits)
    above      INTEGER NOT NULL,   -- the bound it passed: HQ's wall clock + a day
    restamped  INTEGER NOT NULL,   -- the clock HQ applied them at
    at         INTEGER NOT NULL    -- Unix seconds
);
CREATE INDEX clock_skew_device ON clock_skew(device);

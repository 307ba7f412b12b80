-- Post store, version 4: what HQ tells the post's devices about conflicts, and the proof of
-- what HQ had acknowledged.
--
-- 1. conflicts: the records HQ's signed answers carry (sync/mrfsync.h, struct cs_conflict),
--    one row per record id, kept at the newest version received (cseq). The version-1 table
--    was never written by a released build; it is replaced. Values are HQ's display text:
--    codes and amounts, never an identity.
-- 2. meta.conflict_cursor: the post's record sequence this device has received up to (the
--    request's "ccursor").
-- 3. meta.audit_*: the latest audit head of HQ's chain this device verified (HQ's Ed25519
--    signature over sequence and chain hash), and when it arrived (this device's clock).

DROP TABLE conflicts;
CREATE TABLE conflicts (
    id         TEXT    PRIMARY KEY,              -- "C-" and six base32 characters
    kind       TEXT    NOT NULL,                 -- value, parallel, rule
    rule       TEXT    NOT NULL,
    rows       TEXT    NOT NULL,                 -- the rows concerned, by code
    detail     TEXT    NOT NULL,
    year       INTEGER NOT NULL DEFAULT 0,       -- 0: none
    base       TEXT    NOT NULL DEFAULT '',
    a          TEXT    NOT NULL DEFAULT '',
    b          TEXT    NOT NULL DEFAULT '',
    opened_at  INTEGER NOT NULL,                 -- Unix seconds, HQ's clock
    closed_at  INTEGER,                          -- NULL while open
    decision   TEXT,                             -- NULL while open
    reason     TEXT,
    cseq       INTEGER NOT NULL,                 -- the record's number in the post's sequence
    received_at INTEGER NOT NULL                 -- Unix seconds, this device's clock
);
CREATE INDEX conflicts_open ON conflicts(closed_at, opened_at);

ALTER TABLE meta ADD COLUMN conflict_cursor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE meta ADD COLUMN audit_seq INTEGER;                     -- NULL: none verified yet
ALTER TABLE meta ADD COLUMN audit_hash BLOB CHECK (audit_hash IS NULL OR length(audit_hash) = 32);
ALTER TABLE meta ADD COLUMN audit_sig BLOB CHECK (audit_sig IS NULL OR length(audit_sig) = 64);
ALTER TABLE meta ADD COLUMN audit_at INTEGER;

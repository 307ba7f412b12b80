-- HQ store, version 3: HQ decides (conflict queue) and can prove what it did (audit).
--
-- 1. conflicts: the queue of DESIGN section 5, kept, never dropped. Three kinds: value (two
--    writers changed one watched column concurrently and the values differ), parallel
--    (concurrent but harmless: information, closed at once), rule (the merged state of a post
--    breaks a fund rule; closes by itself when a later change makes the rule hold). One open
--    record per (post, rule, subject): the same rule on the same rows updates it. cseq is the
--    post's own sequence of record changes: devices pull records after their conflict cursor.
--    The version-1 table was never written; it is replaced.
-- 2. audit_entries: what each audit link is. An accepted change set keeps its envelope exactly
--    as received (compressed, encrypted, signed by the device); HQ's own acts (allocations,
--    decisions, reveals) keep a JSON body. Every entry is signed by HQ over its sequence, time,
--    kind, meta and chain hash, so `mrf-hq audit verify` can check the chain, every signature,
--    and replay the entries into a scratch store. audit.envelope_hash is the hash of body.
-- 3. oplog_clock: a write by its post and clock, to find the value a concurrent writer
--    replaced (the op names it by clock and writer). Clocks grow with time, so the index is
--    appended to, not written at random places as an index by row id would be.

DROP INDEX conflicts_post;
DROP TABLE conflicts;

CREATE TABLE conflicts (
    id         TEXT    PRIMARY KEY,              -- "C-" and six base32 characters
    post       TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('value', 'parallel', 'rule')),
    rule       TEXT    NOT NULL,                 -- see hqstore.h, enum hq_rule
    subject    TEXT    NOT NULL,                 -- what the rule is about, e.g. "G-4KD82M amount_cents"
    year       INTEGER NOT NULL DEFAULT 0,       -- the post-year the record concerns (0: none)
    rows       TEXT    NOT NULL,                 -- the rows by code, for people
    tbl        INTEGER,                          -- value and parallel: the column written
    row_id     BLOB,
    col        INTEGER,
    base       TEXT,                             -- JSON: the value both writers replaced
    a_value    TEXT,                             -- JSON: side A, the value HQ held
    a_device   BLOB,
    a_clock    INTEGER,
    b_value    TEXT,                             -- JSON: side B, the value that arrived
    b_device   BLOB,
    b_clock    INTEGER,
    detail     TEXT    NOT NULL,                 -- one line for people; codes only
    opened_at  INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    closed_at  INTEGER,                          -- NULL while open
    decision   TEXT,                             -- accept, take_a, take_b, set, auto, info
    reason     TEXT,                             -- travels to the post
    note       TEXT,                             -- the HQ officer's own note; stays at HQ
    cseq       INTEGER NOT NULL                  -- the post's sequence of record changes
);
CREATE UNIQUE INDEX conflicts_open ON conflicts(post, rule, subject) WHERE closed_at IS NULL;
CREATE UNIQUE INDEX conflicts_cseq ON conflicts(post, cseq);
CREATE INDEX conflicts_year ON conflicts(post, year, closed_at);
-- the record of a rule and subject closed last (is this violation one HQ accepted as it is?)
CREATE INDEX conflicts_subject ON conflicts(post, rule, subject, cseq);

CREATE TABLE audit_entries (
    seq   INTEGER PRIMARY KEY,                   -- audit.seq
    kind  TEXT    NOT NULL CHECK (kind IN ('changeset', 'allocate', 'resolve', 'reveal')),
    post  TEXT,
    meta  TEXT    NOT NULL DEFAULT '{}',         -- JSON: a change set's restamp, if any
    body  BLOB    NOT NULL,
    sig   BLOB    NOT NULL CHECK (length(sig) = 64)
);
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;

CREATE INDEX oplog_clock ON oplog(post, clock);

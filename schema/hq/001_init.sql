-- HQ store, version 1: one SQLite file at headquarters (<home>/hq.db) holding every post's data.
-- The domain tables (themes, partners, grants, allocations, clocks) have the same columns and ids
-- as in the post store, so the one merge function runs unchanged on both sides; here they hold
-- the rows of all posts, told apart by `post`. Around them sit HQ's own tables: its
-- configuration, the posts and their devices, enrollment tokens, replay protection (`received`),
-- the log posts pull from (`oplog`), the conflict queue and the audit hash chain.
-- Ids are random 16-byte blobs (deterministic for themes and allocations: see row_id_derive).
-- Identities, notes and post countries are sealed blobs HQ cannot open without the offline
-- escrow key.

-- HQ's own settings, one row. The secret keys are not here: the signing and box secrets live
-- in <home>/hq.keys (the server runs unattended), the escrow secret offline.
CREATE TABLE config (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    url        TEXT    NOT NULL,                -- https://HOST:PORT as devices reach HQ
    tls_pin    TEXT    NOT NULL,                -- sha256//<base64>: what tokens tell devices to pin
    sign_pk    BLOB    NOT NULL CHECK (length(sign_pk) = 32),
    box_pk     BLOB    NOT NULL CHECK (length(box_pk) = 32),
    escrow_pk  BLOB    NOT NULL CHECK (length(escrow_pk) = 32),
    created_at INTEGER NOT NULL,                -- Unix seconds
    clock      INTEGER NOT NULL DEFAULT 0,      -- last hybrid logical clock HQ issued or saw
    device_id  BLOB    NOT NULL CHECK (length(device_id) = 16) -- writer id of HQ's own ops
);

-- The posts HQ knows. The list of posts (and so their countries) is confidential: the country
-- is sealed to the escrow key and only `mrf-hq reveal` opens it; everything else uses codes.
CREATE TABLE posts (
    code       TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('bilateral', 'multilateral')),
    country    BLOB,                            -- sealed to escrow, aad posts/<code>/country
    created_at INTEGER NOT NULL
);

-- Devices that enrolled with a token; a change set is accepted only if signed by an active
-- device of the post it claims. Revocation keeps the row so old change sets stay attributable.
CREATE TABLE devices (
    id          BLOB    PRIMARY KEY CHECK (length(id) = 16),
    post        TEXT    NOT NULL REFERENCES posts(code),
    sign_pk     BLOB    NOT NULL CHECK (length(sign_pk) = 32),
    box_pk      BLOB    NOT NULL CHECK (length(box_pk) = 32),
    status      TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    enrolled_at INTEGER NOT NULL,
    revoked_at  INTEGER,
    last_seen   INTEGER
);
CREATE INDEX devices_post ON devices(post);

-- One-time enrollment tokens. Only a hash of the secret is kept (BLAKE2b-256), so a copy of
-- this file does not let anyone enroll a device; the token itself is shown once and never
-- stored. used_at/device_id are set when a device first authenticates with the secret.
CREATE TABLE enrollments (
    token_id    BLOB    PRIMARY KEY CHECK (length(token_id) = 16),
    post        TEXT    NOT NULL REFERENCES posts(code),
    secret_hash BLOB    NOT NULL CHECK (length(secret_hash) = 32),
    expires     INTEGER NOT NULL,               -- Unix seconds
    created_at  INTEGER NOT NULL,
    used_at     INTEGER,
    device_id   BLOB CHECK (device_id IS NULL OR length(device_id) = 16)
);
CREATE INDEX enrollments_post ON enrollments(post);

-- Every change set id HQ has seen, with its verdict and the exact acknowledgement it sent:
-- a replayed or retried change set gets the same acknowledgement and applies nothing twice.
CREATE TABLE received (
    id          BLOB    PRIMARY KEY CHECK (length(id) = 16),
    device      BLOB    NOT NULL,
    post        TEXT    NOT NULL,
    verdict     TEXT    NOT NULL,               -- accepted, or quarantined with HQ's reason
    ack         BLOB,                           -- the signed acknowledgement envelope
    received_at INTEGER NOT NULL
);

-- Every applied column write, in the order HQ applied it. Posts pull by (post, seq > cursor);
-- AUTOINCREMENT so a sequence number is never reused even after the newest rows are deleted,
-- which would otherwise let a device's cursor skip writes.
CREATE TABLE oplog (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    post   TEXT    NOT NULL,
    tbl    INTEGER NOT NULL,
    id     BLOB    NOT NULL,
    col    INTEGER NOT NULL,
    value,                                      -- no declared type: stored as written
    clock  INTEGER NOT NULL,
    device BLOB    NOT NULL
);
CREATE INDEX oplog_post ON oplog(post, seq);

-- Conflicts are kept, never dropped: opened on ingest, closed by `mrf-hq resolve`, whose
-- decision travels to the posts as ordinary ops with a newer clock.
CREATE TABLE conflicts (
    id          TEXT    PRIMARY KEY,
    post        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    opened_at   INTEGER NOT NULL,
    resolved_at INTEGER,
    resolution  TEXT
);
CREATE INDEX conflicts_post ON conflicts(post, resolved_at);

-- Hash chain over every accepted envelope: chain_hash = H(prev_hash | envelope_hash), so
-- `mrf-hq audit verify` detects a removed, reordered or altered entry. Append-only: the
-- triggers refuse updates and deletes.
CREATE TABLE audit (
    seq           INTEGER PRIMARY KEY,
    envelope_hash BLOB    NOT NULL CHECK (length(envelope_hash) = 32),
    prev_hash     BLOB    NOT NULL CHECK (length(prev_hash) = 32),   -- zeros for the first
    chain_hash    BLOB    NOT NULL CHECK (length(chain_hash) = 32),
    at            INTEGER NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;

-- ---- domain tables: the same columns as the post store, for all posts --------------------

CREATE TABLE themes (
    id      BLOB PRIMARY KEY CHECK (length(id) = 16),
    post    TEXT NOT NULL,
    year    INTEGER,
    theme   TEXT,
    removed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX themes_year ON themes(post, year);

-- code is not UNIQUE here as it is on a device: short codes carry only 30 bits of the row id,
-- and across all posts two partners may share one; the id is the key.
CREATE TABLE partners (
    id      BLOB PRIMARY KEY CHECK (length(id) = 16),
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
    removed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX partners_post ON partners(post, code);

-- code not UNIQUE for the same reason as partners.code.
CREATE TABLE grants (
    id           BLOB PRIMARY KEY CHECK (length(id) = 16),
    post         TEXT NOT NULL,
    code         TEXT NOT NULL,
    partner      BLOB,        -- partners.id; not a foreign key: rows arrive column by column
    theme        TEXT,
    year         INTEGER,
    amount_cents INTEGER,
    currency     TEXT,
    status       TEXT,
    start_date   TEXT,
    end_date     TEXT,
    note         BLOB,        -- sealed
    removed      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX grants_year ON grants(post, year);
CREATE INDEX grants_partner ON grants(partner);
CREATE INDEX grants_code ON grants(post, code);

-- Written by HQ only (`mrf-hq allocate`); reaches the post's devices by sync.
CREATE TABLE allocations (
    id           BLOB PRIMARY KEY CHECK (length(id) = 16),
    post         TEXT NOT NULL,
    year         INTEGER,
    amount_cents INTEGER,
    currency     TEXT
);
CREATE INDEX allocations_post ON allocations(post, year);

-- Per-column clock of the last write, as in the post store: the merge compares an incoming
-- op's (clock, device) with this.
CREATE TABLE clocks (
    tbl    INTEGER NOT NULL,
    id     BLOB    NOT NULL,
    col    INTEGER NOT NULL,
    clock  INTEGER NOT NULL,
    device BLOB    NOT NULL,
    PRIMARY KEY (tbl, id, col)
) WITHOUT ROWID;

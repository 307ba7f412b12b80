-- Post store, version 1: one file per device. Every synced column's value lives in its domain
-- table; its clock lives in `clocks` (table id, row id, column id as in sync/tables.c).
-- Ids are random 16-byte blobs (deterministic for themes and allocations: see row_id_derive).

CREATE TABLE meta (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    post          TEXT    NOT NULL,
    device_id     BLOB    NOT NULL CHECK (length(device_id) = 16),
    sign_pk       BLOB    NOT NULL CHECK (length(sign_pk) = 32),
    box_pk        BLOB    NOT NULL CHECK (length(box_pk) = 32),
    clock         INTEGER NOT NULL DEFAULT 0,   -- last hybrid logical clock issued or seen
    hq_cursor     INTEGER NOT NULL DEFAULT 0,   -- last HQ oplog sequence pulled
    hq_url        TEXT    NOT NULL,
    hq_tls_pin    TEXT    NOT NULL,
    hq_sign_pk    BLOB    NOT NULL CHECK (length(hq_sign_pk) = 32),
    hq_box_pk     BLOB    NOT NULL CHECK (length(hq_box_pk) = 32),
    escrow_pk     BLOB    NOT NULL CHECK (length(escrow_pk) = 32),
    token_id      BLOB    NOT NULL CHECK (length(token_id) = 16),
    token_expires INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,             -- Unix seconds
    enrolled_at   INTEGER,                      -- set when HQ first accepts this device
    last_sync     INTEGER
);

CREATE TABLE themes (
    id      BLOB PRIMARY KEY CHECK (length(id) = 16),
    post    TEXT NOT NULL,
    year    INTEGER,
    theme   TEXT,
    removed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX themes_year ON themes(post, year);

CREATE TABLE partners (
    id      BLOB PRIMARY KEY CHECK (length(id) = 16),
    post    TEXT NOT NULL,
    code    TEXT NOT NULL,   -- short code from the id; unique in practice, checked on creation
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
CREATE INDEX partners_code ON partners(code);
CREATE INDEX grants_code ON grants(code);
CREATE INDEX grants_year ON grants(post, year);
CREATE INDEX grants_partner ON grants(partner);

-- Written by HQ only; reaches the device by sync.
CREATE TABLE allocations (
    id           BLOB PRIMARY KEY CHECK (length(id) = 16),
    post         TEXT NOT NULL,
    year         INTEGER,
    amount_cents INTEGER,
    currency     TEXT
);

CREATE TABLE clocks (
    tbl    INTEGER NOT NULL,
    id     BLOB    NOT NULL,
    col    INTEGER NOT NULL,
    clock  INTEGER NOT NULL,
    device BLOB    NOT NULL,
    PRIMARY KEY (tbl, id, col)
) WITHOUT ROWID;

-- Column writes not yet acknowledged by HQ. An entry with changeset NULL is pending and is
-- coalesced with later writes to the same column; once cut into a change set it is frozen
-- until that change set's acknowledgement removes it.
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY,
    tbl         INTEGER NOT NULL,
    id          BLOB    NOT NULL,
    col         INTEGER NOT NULL,
    value,                                    -- no declared type: stored as written
    clock       INTEGER NOT NULL,
    prev_clock  INTEGER NOT NULL DEFAULT 0,   -- clock of the value this write replaced
    prev_device BLOB,
    changeset   BLOB
);
CREATE UNIQUE INDEX outbox_pending ON outbox(tbl, id, col) WHERE changeset IS NULL;

-- Conflicts HQ reported for this post.
CREATE TABLE conflicts (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    detail     TEXT NOT NULL,
    opened_at  INTEGER NOT NULL,
    resolved   INTEGER NOT NULL DEFAULT 0
);

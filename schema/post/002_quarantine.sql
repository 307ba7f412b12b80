-- Post store, version 2: change sets HQ refused for their content (not for authentication).
-- Their entries leave the outbox, so the rest of it keeps syncing, but they are never thrown
-- away: each keeps its value, clocks and HQ's reason, and `mrf status` shows them.
CREATE TABLE quarantine (
    seq         INTEGER PRIMARY KEY,              -- the entry's outbox sequence number
    changeset   BLOB    NOT NULL,
    reason      TEXT    NOT NULL,                 -- HQ's reason, as HQ signed it
    at          INTEGER NOT NULL,                 -- Unix seconds
    tbl         INTEGER NOT NULL,
    id          BLOB    NOT NULL,
    col         INTEGER NOT NULL,
    value,
    clock       INTEGER NOT NULL,
    prev_clock  INTEGER NOT NULL DEFAULT 0,
    prev_device BLOB
);

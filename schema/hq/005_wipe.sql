-- HQ store, version 5 (after 004_volume): HQ's officer key and the wipe orders it signs
-- (docs/DECISIONS.md, "Duress, failed unlocks and remote wipe").
--
-- 1. officer: the public half of the officer key (Ed25519). Its secret half is sealed under
--    its own passphrase in officer-OFFLINE.key and kept offline like the escrow key; HQ's
--    server never holds it. One row, written by `mrf-hq init` or `mrf-hq officer init`.
-- 2. officer_tokens: the enrollment tokens that carried the officer key (token version 2):
--    only a device enrolled with one can check, and so obey, a wipe order.
-- 3. wipe_orders: one order per device, signed by the officer key as `mrf-hq device revoke
--    ID --wipe --officer-key FILE` made it (sync/order.c). The server relays it byte for
--    byte to the device that asks (GET /v1/order/<id>) and notes when it first did.

CREATE TABLE officer (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    sign_pk    BLOB    NOT NULL CHECK (length(sign_pk) = 32),
    created_at INTEGER NOT NULL
);

CREATE TABLE officer_tokens (
    token_id BLOB PRIMARY KEY REFERENCES enrollments(token_id)
);

CREATE TABLE wipe_orders (
    device       BLOB    PRIMARY KEY REFERENCES devices(id),
    post         TEXT    NOT NULL REFERENCES posts(code),
    body         BLOB    NOT NULL CHECK (length(body) = 128),
    issued_at    INTEGER NOT NULL,               -- Unix seconds, as the order says
    stored_at    INTEGER NOT NULL,
    delivered_at INTEGER                         -- first relayed to the device; NULL before
);

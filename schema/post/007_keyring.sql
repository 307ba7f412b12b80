-- Post store, version 7: the post's key ring on this device (docs/DECISIONS.md, "A post's key
-- ring"). postkeys holds the post keys this device holds, one per epoch it made or was granted:
-- the secret key only ever sealed (crypto_box_seal) to this device's own box key, so writing
-- one needs no passphrase and reading one needs the keystore. postkey_hq holds, per epoch, the
-- post key HQ relays (the first announcement HQ got, signed by its creator): a key of ours
-- with another key at HQ for its epoch lost a race and is dropped. keyring_out holds grants
-- this device signed (approvals, rotations) until HQ has answered a change set that carried
-- them. device_list is HQ's signed list of the post's devices, kept as signed.
CREATE TABLE postkeys (
    epoch INTEGER NOT NULL,
    pk BLOB NOT NULL,
    sealed_sk BLOB NOT NULL,
    creator BLOB NOT NULL,
    approver BLOB,            -- NULL: made on this device
    at INTEGER NOT NULL,
    PRIMARY KEY (epoch, pk)
);
CREATE TABLE postkey_hq (
    epoch INTEGER PRIMARY KEY,
    pk BLOB NOT NULL,
    creator BLOB NOT NULL,
    sig BLOB NOT NULL
);
CREATE TABLE keyring_out (
    id INTEGER PRIMARY KEY,
    epoch INTEGER NOT NULL,
    pk BLOB NOT NULL,
    item TEXT NOT NULL        -- a signed GRANT as JSON (sync/keyring.c)
);
-- The post key the last pass of sealing this device's fields again went to: the pass (which
-- opens every sealed field) runs again only when the key new fields go to has changed.
CREATE TABLE keyring_rewrapped (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pk BLOB NOT NULL
);
CREATE TABLE device_list (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    payload BLOB NOT NULL,
    sig BLOB NOT NULL,
    received_at INTEGER NOT NULL
);

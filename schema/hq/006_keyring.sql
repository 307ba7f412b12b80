-- HQ store, version 6: the posts' key rings as HQ relays them (docs/DECISIONS.md, "A post's
-- key ring"). HQ never holds a post's secret key: it keeps, per post and epoch, the first
-- announcement of the post's public key it got (signed by the device that made it), and the
-- grants (the epoch's secret key sealed to one device, signed by a device that held it), the
-- first per target device and approver (a row one approver wrote never blocks another's). A
-- grant is sent only to its target, which keeps the first that verifies and opens.
CREATE TABLE postkeys (
    post TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    pk BLOB NOT NULL,
    creator BLOB NOT NULL,
    sig BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (post, epoch)
);
CREATE TABLE postkey_grants (
    post TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    target BLOB NOT NULL,
    approver BLOB NOT NULL,
    tbox BLOB NOT NULL,
    wrapped BLOB NOT NULL,
    proof BLOB NOT NULL,      -- keyed by the previous epoch's secret (zeros for epoch 1)
    sig BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (post, epoch, target, approver)
);

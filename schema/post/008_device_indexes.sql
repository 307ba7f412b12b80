-- Post store, version 8: the entries of a frozen change set are found through an index of
-- their own. Before it, reading a change set's entries (to send it), its least "seen", its
-- acknowledgement (DELETE) and the search for the oldest frozen change set each scanned the
-- whole outbox, so a sync of N pending ops cost O(N) per change set, O(N^2) in all. The
-- index is partial: pending entries (changeset NULL, the bulk of a large outbox) are not in
-- it, so capture pays nothing for it; an entry enters it when a cut freezes it and leaves it
-- when HQ acknowledges its change set. A term `changeset = ?` implies `changeset IS NOT NULL`,
-- so SQLite uses it for every statement that names one change set (tests/unit/test_client.c
-- checks each outbox statement's plan).
CREATE INDEX outbox_frozen ON outbox(changeset) WHERE changeset IS NOT NULL;

-- grants_year (post, year) served no statement of the device: none names the post (a post
-- store holds one post's rows), so SQLite never picks it, and the listings and sums by year
-- read the table (EXPLAIN QUERY PLAN of every client statement on grants, docs/DECISIONS.md,
-- "The device's costs against the size of its store"). It cost some 30 bytes per grant. The
-- other three stay: the primary key's (merge and every read by id), grants_code (a code given
-- on the command line) and grants_partner (a partner's grants and their count).
DROP INDEX grants_year;

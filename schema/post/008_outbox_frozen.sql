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

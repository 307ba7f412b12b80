-- Post store, version 5: each outbox entry keeps what its device had pulled from HQ when the
-- write was made (meta.hq_cursor then: the post's own sequence at HQ), so HQ can tell which
-- writes of others the edit had seen even when the change set leaves after a later pull
-- (a change set of an earlier, interrupted sync goes first and its answer pulls). A change
-- set tells HQ the least of its entries' values ("seen"). Coalesced writes keep the first
-- value, as they keep the first previous clock. Entries from before this version say 0:
-- nothing seen, which can only make HQ list more parallel writes, never fewer.
ALTER TABLE outbox ADD COLUMN seen INTEGER NOT NULL DEFAULT 0;

-- Post store, version 6: HQ's officer public key, from an enrollment token of version 2
-- (docs/DECISIONS.md, "Duress, failed unlocks and remote wipe"). `mrf sync` asks HQ for a
-- wipe order for this device before it asks for the passphrase, and obeys only an order this
-- key signed. NULL for a device enrolled with a token of version 1: it asks for no order.
ALTER TABLE meta ADD COLUMN officer_pk BLOB CHECK (officer_pk IS NULL OR length(officer_pk) = 32);

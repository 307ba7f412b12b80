-- HQ store, version 4: how much one device may send (docs/DECISIONS.md, "Volume bounds per
-- device"). A device over its bound is refused, and nothing of that change set is applied.
--
-- 1. config.ops_per_changeset, config.ops_per_hour: the bounds HQ's operator set with
--    `mrf-hq limits set`. NULL means this build's default (hq/hq.h), so a later build can
--    change a default that nobody set.
-- 2. devices.window_start, devices.window_ops: each device's current hour, as ingest counts it
--    (the ops of every change set HQ took from the device since window_start, in Unix
--    seconds; 0 and 0 for a device that never sent anything). One row read and written per
--    change set, in the ingest transaction: no scan of the oplog, and it survives restarts.

ALTER TABLE config ADD COLUMN ops_per_changeset INTEGER
    CHECK (ops_per_changeset IS NULL OR ops_per_changeset > 0);
ALTER TABLE config ADD COLUMN ops_per_hour INTEGER
    CHECK (ops_per_hour IS NULL OR ops_per_hour > 0);

ALTER TABLE devices ADD COLUMN window_start INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN window_ops INTEGER NOT NULL DEFAULT 0;

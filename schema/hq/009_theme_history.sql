-- HQ store, version 9: the writes to theme rows, by (post, row id) (docs/DECISIONS.md, "A
-- theme's history through its own index"). When a change set writes a post's themes for a
-- year, HQ reads each theme row's history (hq/conflict.c, theme_set): what the sender had
-- pulled, what others wrote since. The oplog is keyed by (post, pseq), so each of those reads
-- was a scan of the post's whole oplog, up to 16 times per such change set. Theme rows (table
-- 0, sync/tables.c) are a few per post and year, so this partial index is a few entries per
-- post, and costs the writes to every other table nothing.
CREATE INDEX oplog_themes ON oplog_rows(post, id) WHERE tbl = 0;

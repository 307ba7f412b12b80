/* Every SQL statement of the post client in one place (STYLE rule 9), prepared on first use,
 * reset when fetched, finalized by client_close. Writes to synced columns do not live here:
 * they go through sync's capture. The statements that read a whole row of a synced table are
 * made from sync's column table instead of written here, so their result columns are the
 * column ids (PARTNER_NAME, GRANT_AMOUNT, ...) and no list of columns is kept twice. */
#include <assert.h>

#include "client.h"

static const char *const sql[CQ_COUNT] = {
    [CQ_META] = "SELECT post, device_id, sign_pk, box_pk, escrow_pk, hq_sign_pk, hq_url, "
                "token_expires, created_at, coalesce(enrolled_at, 0), coalesce(last_sync, 0), "
                "hq_tls_pin, hq_box_pk, token_id, hq_cursor, hq_skew_ms IS NOT NULL, "
                "coalesce(hq_skew_ms, 0), conflict_cursor, officer_pk FROM meta WHERE id = 1",
    [CQ_META_INSERT] =
        "INSERT INTO meta(id, post, device_id, sign_pk, box_pk, hq_url, hq_tls_pin, hq_sign_pk, "
        "hq_box_pk, escrow_pk, token_id, token_expires, created_at, officer_pk) "
        "VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [CQ_META_RETOKEN] = "UPDATE meta SET token_id = ?1, token_expires = ?2, hq_url = ?3, "
                        "hq_tls_pin = ?4, officer_pk = coalesce(?5, officer_pk) "
                        "WHERE id = 1 AND enrolled_at IS NULL",
    [CQ_THEMES_YEAR] = "SELECT theme FROM themes WHERE year = ?1 AND removed = 0 ORDER BY theme",
    [CQ_THEMES] = "SELECT year, theme FROM themes WHERE removed = 0 AND (?1 = 0 OR year = ?1) "
                  "ORDER BY year, theme",
    [CQ_THEME_ROW] = "SELECT removed FROM themes WHERE id = ?1",
    [CQ_GRANTS_USING_THEME] = "SELECT code FROM grants WHERE year = ?1 AND theme = ?2 AND "
                              "removed = 0 AND status <> 'cancelled' ORDER BY code LIMIT 3",
    [CQ_FIND_PARTNER] = "SELECT id, removed FROM partners WHERE code = ?1",
    [CQ_FIND_GRANT] = "SELECT id, removed FROM grants WHERE code = ?1",
    [CQ_PARTNER_OPEN_GRANTS] =
        "SELECT code FROM grants WHERE partner = ?1 AND removed = 0 AND "
        "status IN ('draft', 'committed', 'disbursed') ORDER BY code LIMIT 3",
    [CQ_PARTNERS] = "SELECT p.id, p.code, p.risk, p.removed, "
                    "(SELECT count(*) FROM grants g WHERE g.partner = p.id AND g.removed = 0) "
                    "FROM partners p WHERE (?1 IS NULL AND (p.removed = 0 OR ?2)) OR p.id = ?1 "
                    "ORDER BY p.code",
    /* [CQ_PARTNER_ROW] and [CQ_GRANT_ROW]: made by row_sql() */
    [CQ_GRANTS] = "SELECT g.id, g.code, p.code, g.theme, g.year, g.amount_cents, g.currency, "
                  "g.status, g.start_date, g.end_date, g.removed, g.note IS NOT NULL "
                  "FROM grants g LEFT JOIN partners p ON p.id = g.partner "
                  "WHERE ((?2 IS NULL AND g.removed = 0) OR g.id = ?2) "
                  "AND (?1 = 0 OR g.year = ?1) ORDER BY g.year, g.code",
    [CQ_ALLOCATION] = "SELECT amount_cents, coalesce(currency, 'EUR') FROM allocations "
                      "WHERE year = ?1 AND amount_cents IS NOT NULL",
    [CQ_COMMITTED] = "SELECT currency, sum(amount_cents) FROM grants WHERE year = ?1 AND "
                     "removed = 0 AND status IN ('committed', 'disbursed', 'closed') "
                     "GROUP BY currency ORDER BY currency",
    [CQ_CONFLICTS] = "SELECT id, kind, rule, rows, detail, year, base, a, b, opened_at, "
                     "closed_at, decision, reason FROM conflicts WHERE ?1 OR closed_at IS NULL "
                     "ORDER BY closed_at IS NOT NULL, opened_at, id",
    [CQ_OPEN_CONFLICTS] = "SELECT count(*) FROM conflicts WHERE closed_at IS NULL",
    [CQ_OPEN_CONFLICT_ROWS] = "SELECT id, rows FROM conflicts WHERE closed_at IS NULL "
                              "ORDER BY opened_at, id",
    /* a record is kept at its newest version: a page never carries an older one, but the
     * store does not rely on it */
    [CQ_CONFLICT_PUT] =
        "INSERT INTO conflicts(id, kind, rule, rows, detail, year, base, a, b, opened_at, "
        "closed_at, decision, reason, cseq, received_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
        "ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, rule = excluded.rule, "
        "rows = excluded.rows, detail = excluded.detail, year = excluded.year, "
        "base = excluded.base, a = excluded.a, b = excluded.b, opened_at = excluded.opened_at, "
        "closed_at = excluded.closed_at, decision = excluded.decision, "
        "reason = excluded.reason, cseq = excluded.cseq, received_at = excluded.received_at "
        "WHERE excluded.cseq >= conflicts.cseq",
    [CQ_CONFLICT_CURSOR] =
        "UPDATE meta SET conflict_cursor = max(conflict_cursor, ?1) WHERE id = 1",
    [CQ_AUDIT_HEAD_GET] = "SELECT audit_seq, audit_hash, audit_sig, audit_at FROM meta "
                          "WHERE id = 1 AND audit_seq IS NOT NULL",
    [CQ_AUDIT_HEAD_PUT] = "UPDATE meta SET audit_seq = ?1, audit_hash = ?2, audit_sig = ?3, "
                          "audit_at = ?4 WHERE id = 1",
    /* the oldest entry: when it is frozen, its change set is the oldest frozen one, found
     * without reading outbox_frozen (a sync freezes many change sets at once: client/sync.c) */
    [CQ_OUTBOX_OLDEST] = "SELECT changeset FROM outbox ORDER BY seq LIMIT 1",
    /* The outbox statements that name frozen entries use outbox_frozen (post migration 8), a
     * partial index of the frozen entries only, so their cost follows the change sets in
     * flight, not the outbox: without INDEXED BY, SQLite would find the oldest frozen entry
     * by walking the table in seq order, past every pending entry when none is frozen. */
    [CQ_OUTBOX_FROZEN_NEXT] = "SELECT changeset FROM outbox INDEXED BY outbox_frozen "
                              "WHERE changeset IS NOT NULL ORDER BY seq LIMIT 1",
    [CQ_OUTBOX_FROZEN_LIST] = "SELECT changeset FROM outbox WHERE changeset IS NOT NULL "
                              "GROUP BY changeset ORDER BY min(seq) LIMIT ?1",
    [CQ_OUTBOX_OF] = "SELECT tbl, id, col, value, clock, prev_clock, prev_device, seq "
                     "FROM outbox WHERE changeset = ?1 ORDER BY seq",
    [CQ_OUTBOX_PENDING] = "SELECT tbl, id, col, value, clock, prev_clock, prev_device, seq, seen "
                          "FROM outbox WHERE changeset IS NULL AND seq > ?1 ORDER BY seq",
    /* seq > ?3: the entries up to the previous cut of the same freeze are frozen already */
    [CQ_OUTBOX_FREEZE] = "UPDATE outbox SET changeset = ?1 WHERE changeset IS NULL AND "
                         "seq > ?3 AND seq <= ?2",
    [CQ_OUTBOX_ACK] = "DELETE FROM outbox WHERE changeset = ?1",
    [CQ_OUTBOX_SET_ASIDE] = "UPDATE outbox SET changeset = ?4 WHERE changeset IS NULL AND "
                            "tbl = ?1 AND id = ?2 AND col = ?3",
    [CQ_OUTBOX_SEEN] = "SELECT min(seen) FROM outbox WHERE changeset = ?1",
    [CQ_QUARANTINE_PUT] = "INSERT INTO quarantine(seq, changeset, reason, at, tbl, id, col, value, "
                          "clock, prev_clock, prev_device) SELECT seq, changeset, ?2, ?3, tbl, "
                          "id, col, value, clock, prev_clock, prev_device FROM outbox "
                          "WHERE changeset = ?1",
    [CQ_QUARANTINED] = "SELECT count(DISTINCT changeset), count(*), "
                       "(SELECT reason FROM quarantine ORDER BY at DESC, seq DESC LIMIT 1) "
                       "FROM quarantine",
    /* the clock is computed in C: clocks are unsigned, SQL's max() is not */
    [CQ_SYNC_DONE] = "UPDATE meta SET hq_cursor = max(hq_cursor, ?1), clock = ?2, "
                     "enrolled_at = coalesce(enrolled_at, ?3), last_sync = ?3, "
                     "hq_skew_ms = coalesce(?4, hq_skew_ms) "
                     "WHERE id = 1",
    [CQ_CLOCK_GET] = "SELECT clock FROM meta WHERE id = 1",
    [CQ_OUTBOX_RESTAMP_PREV] = "UPDATE outbox SET prev_clock = ?5 WHERE changeset IS NULL AND "
                               "tbl = ?1 AND id = ?2 AND col = ?3 AND prev_clock = ?4 AND "
                               "prev_device = ?6",
    [CQ_BEGIN] = "BEGIN IMMEDIATE",
    [CQ_COMMIT] = "COMMIT",
    [CQ_ROLLBACK] = "ROLLBACK",
    /* the store runs with auto_vacuum INCREMENTAL (schema_open): client_close */
    [CQ_FREE_PAGES] = "PRAGMA freelist_count",
    [CQ_TRIM] = "PRAGMA incremental_vacuum",
};

/* "SELECT <every column of t, in wire order> FROM <t> WHERE id = ?1"; caller frees. */
static char *row_sql(enum sync_table t)
{
    const struct sync_table_desc *d = sync_table_get(t);
    struct buf b;
    enum mrf_status st;

    buf_init(&b, 1024);
    st = buf_puts(&b, "SELECT ");
    for (int c = 0; c < d->ncols && st == MRF_OK; c++)
        st = buf_printf(&b, "%s%s", c ? ", " : "", d->cols[c].name);
    if (st == MRF_OK)
        st = buf_printf(&b, " FROM %s WHERE id = ?1", d->name);
    assert(st == MRF_OK); /* the names of one table are far below the cap */
    (void)st;
    return buf_take(&b, NULL);
}

sqlite3_stmt *client_stmt(struct cli_ctx *ctx, enum client_sql which)
{
    sqlite3_stmt **slot = &ctx->stmts[which];

    if (*slot == NULL) {
        char *made = NULL;
        int rc;

        if (which == CQ_PARTNER_ROW)
            made = row_sql(ST_PARTNERS);
        else if (which == CQ_GRANT_ROW)
            made = row_sql(ST_GRANTS);
        rc = sqlite3_prepare_v3(ctx->db, made ? made : sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                slot, NULL);
        x_free(made);
        if (rc != SQLITE_OK) {
            client_db_fail(ctx, "cannot prepare a query");
            return NULL;
        }
        return *slot;
    }
    sqlite3_reset(*slot);
    sqlite3_clear_bindings(*slot);
    return *slot;
}

enum mrf_status client_db_fail(struct cli_ctx *ctx, const char *what)
{
    return mrf_error_set(&ctx->err, MRF_E_IO, "store: %s: %s", what, sqlite3_errmsg(ctx->db));
}

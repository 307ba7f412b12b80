/* Change capture on the post store: each synced column write updates the domain table, the
 * column's clock and the outbox in the caller's one transaction. A pending (unsent) outbox
 * entry for the same column is coalesced — only the latest value travels — and keeps the clock
 * of the value it first replaced, which is what HQ compares to detect concurrent writes. */
#include <string.h>

#include "mrfsync.h"

enum { Q_META, Q_SAVE_CLOCK, Q_OUTBOX_PUT, Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_COUNT };

static const char *const sql[Q_COUNT] = {
    [Q_META] = "SELECT device_id, post, clock, hq_cursor FROM meta WHERE id = 1",
    [Q_SAVE_CLOCK] = "UPDATE meta SET clock = ?1 WHERE id = 1",
    [Q_OUTBOX_PUT] = "INSERT INTO outbox(tbl, id, col, value, clock, prev_clock, prev_device, "
                     "seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                     "ON CONFLICT(tbl, id, col) WHERE changeset IS NULL "
                     "DO UPDATE SET value = excluded.value, clock = excluded.clock",
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
};

struct capture {
    sqlite3 *db;
    uint8_t device[MRF_ID];
    char post[16];
    hlc_t clock;
    int64_t seen; /* meta.hq_cursor when the transaction began: what the writes had seen */
    int in_tx;
    sqlite3_stmt *q[Q_COUNT];
    sqlite3_stmt *row_insert[ST_COUNT];
    struct merge *merge; /* writes the column and its clock, as a pulled op would be */
    char errmsg[256];
};

static enum mrf_status fail(struct capture *c, const char *what)
{
    snprintf(c->errmsg, sizeof c->errmsg, "store: %s: %s", what, sqlite3_errmsg(c->db));
    return MRF_E_IO;
}

/* The statement, prepared on first use and reset. NULL with errmsg set if it cannot be. */
static sqlite3_stmt *stmt(struct capture *c, sqlite3_stmt **slot, const char *text)
{
    if (*slot == NULL) {
        if (sqlite3_prepare_v3(c->db, text, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) !=
            SQLITE_OK) {
            fail(c, "cannot prepare a statement");
            return NULL;
        }
    } else {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
    }
    return *slot;
}

static sqlite3_stmt *q(struct capture *c, int which)
{
    return stmt(c, &c->q[which], sql[which]);
}

enum mrf_status capture_new(sqlite3 *db, struct capture **out, struct mrf_error *err)
{
    struct capture *c = xcalloc(1, sizeof *c);
    sqlite3_stmt *s;
    enum mrf_status st = MRF_OK;

    *out = NULL;
    c->db = db;
    st = merge_new(db, &c->merge, err);
    if (st != MRF_OK)
        goto out;
    s = q(c, Q_META);
    if (s == NULL) {
        st = mrf_error_set(err, MRF_E_IO, "%s", c->errmsg);
        goto out;
    }
    if (sqlite3_step(s) != SQLITE_ROW) {
        st = mrf_error_set(err, MRF_E_STATE,
                           "this device is not set up yet; run 'mrf init --token TOKEN' first");
        goto out;
    }
    if (sqlite3_column_bytes(s, 0) != MRF_ID) {
        st = mrf_error_set(err, MRF_E_STATE, "store: the device id is damaged");
        goto out;
    }
    memcpy(c->device, sqlite3_column_blob(s, 0), MRF_ID);
    str_copy(c->post, (const char *)sqlite3_column_text(s, 1), sizeof c->post);
    c->clock = (hlc_t)sqlite3_column_int64(s, 2);
    sqlite3_reset(s);
    *out = c;
    c = NULL;
out:
    capture_free(c);
    return st;
}

void capture_free(struct capture *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(c->q[i]);
    for (int t = 0; t < ST_COUNT; t++)
        sqlite3_finalize(c->row_insert[t]);
    merge_free(c->merge);
    x_free(c);
}

const char *capture_errmsg(const struct capture *c)
{
    return c->errmsg;
}

enum mrf_status capture_begin(struct capture *c)
{
    sqlite3_stmt *s = q(c, Q_BEGIN);

    if (s == NULL)
        return MRF_E_IO;
    if (sqlite3_step(s) != SQLITE_DONE)
        return fail(c, "cannot begin a transaction");
    c->in_tx = 1;
    /* The clock may have moved since capture_new (another process, a pull). */
    s = q(c, Q_META);
    if (s == NULL)
        return MRF_E_IO;
    if (sqlite3_step(s) != SQLITE_ROW)
        return fail(c, "cannot read the device clock");
    c->clock = (hlc_t)sqlite3_column_int64(s, 2);
    c->seen = sqlite3_column_int64(s, 3);
    sqlite3_reset(s);
    return MRF_OK;
}

enum mrf_status capture_commit(struct capture *c)
{
    sqlite3_stmt *s = q(c, Q_SAVE_CLOCK);

    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)c->clock);
    if (sqlite3_step(s) != SQLITE_DONE)
        return fail(c, "cannot save the device clock");
    s = q(c, Q_COMMIT);
    if (s == NULL)
        return MRF_E_IO;
    if (sqlite3_step(s) != SQLITE_DONE)
        return fail(c, "cannot commit");
    c->in_tx = 0;
    return MRF_OK;
}

void capture_rollback(struct capture *c)
{
    sqlite3_stmt *s;

    if (c == NULL || !c->in_tx)
        return;
    s = q(c, Q_ROLLBACK);
    if (s)
        sqlite3_step(s);
    c->in_tx = 0;
    merge_forget(c->merge);
}

enum mrf_status capture_row(struct capture *c, enum sync_table t, const uint8_t id[MRF_ID])
{
    const struct sync_table_desc *d = sync_table_get(t);
    char text[160];
    char code[16];
    sqlite3_stmt *s;

    if (!c->in_tx) {
        snprintf(c->errmsg, sizeof c->errmsg, "capture: write outside a transaction");
        return MRF_E_INTERNAL;
    }
    if (d->code_prefix)
        snprintf(text, sizeof text, "INSERT OR IGNORE INTO %s(id, post, code) VALUES (?1, ?2, ?3)",
                 d->name);
    else
        snprintf(text, sizeof text, "INSERT OR IGNORE INTO %s(id, post) VALUES (?1, ?2)", d->name);
    s = stmt(c, &c->row_insert[t], text);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(s, 1, id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, c->post, -1, SQLITE_STATIC);
    if (d->code_prefix) {
        shortcode_make(d->code_prefix, id, code);
        sqlite3_bind_text(s, 3, code, -1, SQLITE_STATIC);
    }
    if (sqlite3_step(s) != SQLITE_DONE)
        return fail(c, "cannot create a row");
    return MRF_OK;
}

static enum mrf_status set_value(struct capture *c, enum sync_table t, const uint8_t id[MRF_ID],
                                 int col, const struct sync_value *v)
{
    const struct sync_table_desc *d = sync_table_get(t);
    struct mrf_error err;
    struct sync_op op;
    enum merge_outcome out;
    sqlite3_stmt *s;
    int found;

    if (!c->in_tx) {
        snprintf(c->errmsg, sizeof c->errmsg, "capture: write outside a transaction");
        return MRF_E_INTERNAL;
    }
    if (d == NULL || col < 0 || col >= d->ncols || (!v->is_null && d->cols[col].type != v->type)) {
        snprintf(c->errmsg, sizeof c->errmsg, "capture: no such column or wrong type");
        return MRF_E_INTERNAL;
    }
    memset(&op, 0, sizeof op);
    op.tbl = t;
    memcpy(op.id, id, MRF_ID);
    op.col = col;
    op.v = *v;
    memcpy(op.device, c->device, MRF_ID);

    /* The clock of the value being replaced travels with the op; the new clock is past it
     * (HLC: past every clock this device holds), so no other device's clock can ever make a
     * local edit stale. Only this device's own clock run to HLC_MAX can. */
    if (merge_clock(c->merge, c->post, t, id, col, &op.prev_clock, op.prev_device, &found, &err) !=
        MRF_OK) {
        str_copy(c->errmsg, err.msg, sizeof c->errmsg);
        return err.status;
    }
    c->clock = found ? hlc_recv(c->clock, op.prev_clock, time_now_ms())
                     : hlc_tick(c->clock, time_now_ms());
    op.clock = c->clock;
    if (merge_apply(c->merge, c->post, &op, &out, &err) != MRF_OK) {
        str_copy(c->errmsg, err.msg, sizeof c->errmsg);
        return err.status;
    }
    op.has_prev_device = found;
    if (out != MERGE_APPLIED) {
        snprintf(c->errmsg, sizeof c->errmsg,
                 "this device's clock has run to its end (its date is wrong by thousands of "
                 "years); set the right date, then run 'mrf sync'");
        return MRF_E_STATE;
    }

    s = q(c, Q_OUTBOX_PUT);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_int(s, 1, (int)t);
    sqlite3_bind_blob(s, 2, id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, col);
    sync_value_bind(s, 4, v);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)op.clock);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)op.prev_clock);
    if (found)
        sqlite3_bind_blob(s, 7, op.prev_device, MRF_ID, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 7);
    sqlite3_bind_int64(s, 8, c->seen);
    if (sqlite3_step(s) != SQLITE_DONE)
        return fail(c, "cannot write the outbox");
    return MRF_OK;
}

enum mrf_status capture_set_int(struct capture *c, enum sync_table t, const uint8_t id[MRF_ID],
                                int col, int64_t v)
{
    struct sync_value val = {.type = SYNC_INT, .i = v};
    return set_value(c, t, id, col, &val);
}

enum mrf_status capture_set_text(struct capture *c, enum sync_table t, const uint8_t id[MRF_ID],
                                 int col, const char *v)
{
    struct sync_value val = {.type = SYNC_TEXT, .text = v, .is_null = v == NULL};
    return set_value(c, t, id, col, &val);
}

enum mrf_status capture_set_blob(struct capture *c, enum sync_table t, const uint8_t id[MRF_ID],
                                 int col, const uint8_t *v, size_t n)
{
    struct sync_value val = {.type = SYNC_BLOB, .blob = v, .n = n, .is_null = v == NULL};
    return set_value(c, t, id, col, &val);
}

enum mrf_status capture_set_null(struct capture *c, enum sync_table t, const uint8_t id[MRF_ID],
                                 int col)
{
    const struct sync_table_desc *d = sync_table_get(t);
    struct sync_value val = {.type = d && col >= 0 && col < d->ncols ? d->cols[col].type : SYNC_INT,
                             .is_null = 1};
    return set_value(c, t, id, col, &val);
}

enum mrf_status capture_pending(sqlite3 *db, int64_t *count, struct mrf_error *err)
{
    sqlite3_stmt *s = NULL;
    enum mrf_status st = MRF_OK;

    *count = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW)
        st = mrf_error_set(err, MRF_E_IO, "store: cannot count the outbox: %s", sqlite3_errmsg(db));
    else
        *count = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return st;
}

/* The per-column merge (DESIGN §5), the same on HQ's store and on a device's: an op is written
 * only if its (clock, writer) is newer than the column's, so replicas that see the same ops
 * in any order end in the same state. Rows arrive column by column, so an op for an unknown
 * row creates it (with its short code); a row already owned by another post is refused. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mrfsync.h"

#define MAX_COLS 16

enum { M_CLOCK_GET, M_CLOCK_PUT, M_COUNT };

static const char *const msql[M_COUNT] = {
    [M_CLOCK_GET] = "SELECT clock, device FROM clocks WHERE tbl = ?1 AND id = ?2 AND col = ?3",
    [M_CLOCK_PUT] = "INSERT INTO clocks(tbl, id, col, clock, device) VALUES (?1, ?2, ?3, ?4, ?5) "
                    "ON CONFLICT(tbl, id, col) DO UPDATE SET clock = excluded.clock, "
                    "device = excluded.device",
};

struct merge {
    sqlite3 *db;
    sqlite3_stmt *q[M_COUNT];
    sqlite3_stmt *row_insert[ST_COUNT];
    sqlite3_stmt *row_post[ST_COUNT];
    sqlite3_stmt *col_update[ST_COUNT][MAX_COLS];
    /* The last row found to exist in the right post: ops come grouped by row. */
    int have_last;
    enum sync_table last_tbl;
    uint8_t last_id[MRF_ID];
    char last_post[16];
};

static enum mrf_status fail(struct merge *m, struct mrf_error *err, const char *what)
{
    return mrf_error_set(err, MRF_E_IO, "store: %s: %s", what, sqlite3_errmsg(m->db));
}

/* The statement in *slot, reset; on first use, prepared from the SQL that fmt and its
 * arguments make. The text is formatted only then: merge_apply runs once per op, and a
 * statement once per table or column. */
__attribute__((format(printf, 4, 5))) static sqlite3_stmt *
prep(struct merge *m, sqlite3_stmt **slot, struct mrf_error *err, const char *fmt, ...)
{
    char text[200];
    va_list ap;
    int n;

    if (*slot == NULL) {
        va_start(ap, fmt);
        n = vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        if (n <= 0 || (size_t)n >= sizeof text) {
            mrf_error_set(err, MRF_E_INTERNAL, "merge: a statement does not fit its buffer");
            return NULL;
        }
        if (sqlite3_prepare_v3(m->db, text, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) !=
            SQLITE_OK) {
            fail(m, err, "cannot prepare a merge statement");
            return NULL;
        }
    } else {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
    }
    return *slot;
}

enum mrf_status merge_new(sqlite3 *db, struct merge **out, struct mrf_error *err)
{
    (void)err;
    *out = xcalloc(1, sizeof **out);
    (*out)->db = db;
    return MRF_OK;
}

void merge_free(struct merge *m)
{
    if (m == NULL)
        return;
    for (int i = 0; i < M_COUNT; i++)
        sqlite3_finalize(m->q[i]);
    for (int t = 0; t < ST_COUNT; t++) {
        sqlite3_finalize(m->row_insert[t]);
        sqlite3_finalize(m->row_post[t]);
        for (int k = 0; k < MAX_COLS; k++)
            sqlite3_finalize(m->col_update[t][k]);
    }
    x_free(m);
}

void merge_forget(struct merge *m)
{
    m->have_last = 0;
}

/* Creates the row if it is missing; MRF_E_RULE if it exists under another post. */
static enum mrf_status ensure_row(struct merge *m, const char *post, const struct sync_op *op,
                                  struct mrf_error *err)
{
    const struct sync_table_desc *d = sync_table_get(op->tbl);
    char code[16];
    sqlite3_stmt *s;
    int rc;

    if (m->have_last && m->last_tbl == op->tbl && memcmp(m->last_id, op->id, MRF_ID) == 0 &&
        strcmp(m->last_post, post) == 0)
        return MRF_OK;
    s = prep(m, &m->row_insert[op->tbl], err,
             d->code_prefix
                 ? "INSERT INTO %s(id, post, code) VALUES (?1, ?2, ?3) ON CONFLICT(id) DO NOTHING"
                 : "INSERT INTO %s(id, post) VALUES (?1, ?2) ON CONFLICT(id) DO NOTHING",
             d->name);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(s, 1, op->id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, post, -1, SQLITE_STATIC);
    if (d->code_prefix) {
        shortcode_make(d->code_prefix, op->id, code);
        sqlite3_bind_text(s, 3, code, -1, SQLITE_STATIC);
    }
    if (sqlite3_step(s) != SQLITE_DONE)
        return fail(m, err, "cannot create a row");
    if (sqlite3_changes(m->db) == 0) {
        s = prep(m, &m->row_post[op->tbl], err, "SELECT post = ?2 FROM %s WHERE id = ?1", d->name);
        if (s == NULL)
            return MRF_E_IO;
        sqlite3_bind_blob(s, 1, op->id, MRF_ID, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, post, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        if (rc != SQLITE_ROW)
            return fail(m, err, "cannot read a row");
        rc = sqlite3_column_int(s, 0);
        sqlite3_reset(s); /* a statement left on a row would hold a read transaction open */
        if (rc != 1)
            return mrf_error_set(err, MRF_E_RULE, "row_of_another_post");
    }
    m->have_last = 1;
    m->last_tbl = op->tbl;
    memcpy(m->last_id, op->id, MRF_ID);
    str_copy(m->last_post, post, sizeof m->last_post);
    return MRF_OK;
}

enum mrf_status merge_clock(struct merge *m, enum sync_table t, const uint8_t id[MRF_ID], int col,
                            hlc_t *clock, uint8_t device[MRF_ID], int *found, struct mrf_error *err)
{
    sqlite3_stmt *s = prep(m, &m->q[M_CLOCK_GET], err, "%s", msql[M_CLOCK_GET]);
    int rc;

    *clock = 0;
    *found = 0;
    memset(device, 0, MRF_ID);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_int(s, 1, (int)t);
    sqlite3_bind_blob(s, 2, id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, col);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *clock = (hlc_t)sqlite3_column_int64(s, 0);
        if (sqlite3_column_bytes(s, 1) == MRF_ID)
            memcpy(device, sqlite3_column_blob(s, 1), MRF_ID);
        *found = 1;
    }
    sqlite3_reset(s); /* a statement left on a row would hold a read transaction open */
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(m, err, "cannot read a column clock");
    return MRF_OK;
}

enum mrf_status merge_apply(struct merge *m, const char *post, const struct sync_op *op,
                            enum merge_outcome *out, struct mrf_error *err)
{
    const struct sync_table_desc *d = sync_table_get(op->tbl);
    sqlite3_stmt *s;
    enum mrf_status st;
    hlc_t cur;
    uint8_t cur_dev[MRF_ID];
    int found;

    *out = MERGE_STALE;
    if (d == NULL || op->col < 0 || op->col >= d->ncols || op->col >= MAX_COLS)
        return mrf_error_set(err, MRF_E_INVALID, "bad_op: unknown column");
    st = ensure_row(m, post, op, err);
    if (st != MRF_OK)
        return st;

    st = merge_clock(m, op->tbl, op->id, op->col, &cur, cur_dev, &found, err);
    if (st != MRF_OK)
        return st;
    if (found && hlc_cmp(op->clock, op->device, cur, cur_dev) <= 0)
        return MRF_OK; /* stale */

    s = prep(m, &m->col_update[op->tbl][op->col], err, "UPDATE %s SET %s = ?1 WHERE id = ?2",
             d->name, d->cols[op->col].name);
    if (s == NULL)
        return MRF_E_IO;
    sync_value_bind(s, 1, &op->v);
    sqlite3_bind_blob(s, 2, op->id, MRF_ID, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        return fail(m, err, "cannot write a column");

    s = prep(m, &m->q[M_CLOCK_PUT], err, "%s", msql[M_CLOCK_PUT]);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_int(s, 1, (int)op->tbl);
    sqlite3_bind_blob(s, 2, op->id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, op->col);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)op->clock);
    sqlite3_bind_blob(s, 5, op->device, MRF_ID, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        return fail(m, err, "cannot write a column clock");
    *out = MERGE_APPLIED;
    return MRF_OK;
}

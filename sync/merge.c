/* The per-column merge (DESIGN §5), the same on HQ's store and on a device's: an op is written
 * only if its (clock, writer) is newer than the column's, so replicas that see the same ops
 * in any order end in the same state. Clocks are compared here, in C, as unsigned values.
 * Rows arrive column by column, so an op for an unknown row creates it (with its short code).
 * Every statement names the post with the id: on HQ's store, keyed by (post, id), one post's
 * op cannot reach another post's row; on a device's, keyed by id, a row held for another post
 * is refused. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mrfsync.h"

#define MAX_COLS 16

enum { M_CLOCK_GET, M_CLOCK_PUT, M_CLOCK_RESTAMP, M_COUNT };

static const char *const msql[M_COUNT] = {
    [M_CLOCK_GET] = "SELECT clock, device FROM clocks WHERE post = ?1 AND tbl = ?2 AND id = ?3 "
                    "AND col = ?4",
    [M_CLOCK_PUT] = "INSERT INTO clocks(post, tbl, id, col, clock, device) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(post, tbl, id, col) "
                    "DO UPDATE SET clock = excluded.clock, device = excluded.device",
    [M_CLOCK_RESTAMP] = "UPDATE clocks SET clock = ?5 WHERE post = ?1 AND tbl = ?2 AND id = ?3 "
                        "AND col = ?4 AND clock = ?6 AND device = ?7",
};

struct merge {
    sqlite3 *db;
    sqlite3_stmt *q[M_COUNT];
    sqlite3_stmt *row_insert[ST_COUNT];
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
        for (int k = 0; k < MAX_COLS; k++)
            sqlite3_finalize(m->col_update[t][k]);
    }
    x_free(m);
}

void merge_forget(struct merge *m)
{
    m->have_last = 0;
}

/* Creates the row (post, id) if it is missing. A row of the same id held for another post
 * (a device's store) is left alone: the column update then finds no row and refuses. */
static enum mrf_status ensure_row(struct merge *m, const char *post, const struct sync_op *op,
                                  struct mrf_error *err)
{
    const struct sync_table_desc *d = sync_table_get(op->tbl);
    char code[16];
    sqlite3_stmt *s;

    if (m->have_last && m->last_tbl == op->tbl && memcmp(m->last_id, op->id, MRF_ID) == 0 &&
        strcmp(m->last_post, post) == 0)
        return MRF_OK;
    s = prep(m, &m->row_insert[op->tbl], err,
             d->code_prefix ? "INSERT OR IGNORE INTO %s(post, id, code) VALUES (?1, ?2, ?3)"
                            : "INSERT OR IGNORE INTO %s(post, id) VALUES (?1, ?2)",
             d->name);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(s, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, op->id, MRF_ID, SQLITE_STATIC);
    if (d->code_prefix) {
        shortcode_make(d->code_prefix, op->id, code);
        sqlite3_bind_text(s, 3, code, -1, SQLITE_STATIC);
    }
    if (sqlite3_step(s) != SQLITE_DONE)
        return fail(m, err, "cannot create a row");
    m->have_last = 1;
    m->last_tbl = op->tbl;
    memcpy(m->last_id, op->id, MRF_ID);
    str_copy(m->last_post, post, sizeof m->last_post);
    return MRF_OK;
}

/* Binds (post, table, id, column) to parameters 1-4 of s. */
static void bind_column(sqlite3_stmt *s, const char *post, enum sync_table t,
                        const uint8_t id[MRF_ID], int col)
{
    sqlite3_bind_text(s, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, (int)t);
    sqlite3_bind_blob(s, 3, id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, col);
}

enum mrf_status merge_clock(struct merge *m, const char *post, enum sync_table t,
                            const uint8_t id[MRF_ID], int col, hlc_t *clock, uint8_t device[MRF_ID],
                            int *found, struct mrf_error *err)
{
    sqlite3_stmt *s = prep(m, &m->q[M_CLOCK_GET], err, "%s", msql[M_CLOCK_GET]);
    int rc;

    *clock = 0;
    *found = 0;
    memset(device, 0, MRF_ID);
    if (s == NULL)
        return MRF_E_IO;
    bind_column(s, post, t, id, col);
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
    struct merge_prior prior;

    return merge_apply_prior(m, post, op, out, &prior, err);
}

enum mrf_status merge_apply_prior(struct merge *m, const char *post, const struct sync_op *op,
                                  enum merge_outcome *out, struct merge_prior *prior,
                                  struct mrf_error *err)
{
    const struct sync_table_desc *d = sync_table_get(op->tbl);
    sqlite3_stmt *s;
    enum mrf_status st;
    hlc_t cur;
    uint8_t cur_dev[MRF_ID];
    int found;

    *out = MERGE_STALE;
    memset(prior, 0, sizeof *prior);
    if (d == NULL || op->col < 0 || op->col >= d->ncols || op->col >= MAX_COLS)
        return mrf_error_set(err, MRF_E_INVALID, "bad_op: unknown column");
    st = ensure_row(m, post, op, err);
    if (st != MRF_OK)
        return st;

    st = merge_clock(m, post, op->tbl, op->id, op->col, &cur, cur_dev, &found, err);
    if (st != MRF_OK)
        return st;
    prior->found = found;
    prior->clock = cur;
    memcpy(prior->device, cur_dev, MRF_ID);
    if (found && hlc_cmp(op->clock, op->device, cur, cur_dev) <= 0)
        return MRF_OK; /* stale */

    s = prep(m, &m->col_update[op->tbl][op->col], err,
             "UPDATE %s SET %s = ?1 WHERE post = ?2 AND id = ?3", d->name, d->cols[op->col].name);
    if (s == NULL)
        return MRF_E_IO;
    sync_value_bind(s, 1, &op->v);
    sqlite3_bind_text(s, 2, post, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, op->id, MRF_ID, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        return fail(m, err, "cannot write a column");
    if (sqlite3_changes(m->db) != 1) {
        m->have_last = 0;
        return mrf_error_set(err, MRF_E_RULE, "row_of_another_post");
    }

    s = prep(m, &m->q[M_CLOCK_PUT], err, "%s", msql[M_CLOCK_PUT]);
    if (s == NULL)
        return MRF_E_IO;
    bind_column(s, post, op->tbl, op->id, op->col);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)op->clock);
    sqlite3_bind_blob(s, 6, op->device, MRF_ID, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        return fail(m, err, "cannot write a column clock");
    *out = MERGE_APPLIED;
    return MRF_OK;
}

enum mrf_status merge_restamp(struct merge *m, const char *post, enum sync_table t,
                              const uint8_t id[MRF_ID], int col, hlc_t old,
                              const uint8_t device[MRF_ID], hlc_t clock, int *changed,
                              struct mrf_error *err)
{
    sqlite3_stmt *s = prep(m, &m->q[M_CLOCK_RESTAMP], err, "%s", msql[M_CLOCK_RESTAMP]);

    *changed = 0;
    if (s == NULL)
        return MRF_E_IO;
    bind_column(s, post, t, id, col);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)clock);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)old); /* equality: the sign does not matter */
    sqlite3_bind_blob(s, 7, device, MRF_ID, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        return fail(m, err, "cannot restamp a column clock");
    *changed = sqlite3_changes(m->db) == 1;
    return MRF_OK;
}

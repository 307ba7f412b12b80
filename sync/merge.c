/* The per-column merge (DESIGN §5), the same on HQ's store and on a device's: an op is written
 * only if its (clock, writer) is newer than the column's, so replicas that see the same ops
 * in any order end in the same state. Clocks are compared here, in C, as unsigned values.
 * Rows arrive column by column, so an op for an unknown row creates it (with its short code).
 * Every statement names the post with the id: on HQ's store, keyed by (post, id), one post's
 * op cannot reach another post's row; on a device's, keyed by id, a row held for another post
 * is refused.
 *
 * Column K's clock is cK and its writer's number (in the store's writers table) wK. A device's
 * store keeps them packed per row in clock_rows, one entry per (post, table, id); HQ's store
 * (version 10) keeps them in the row itself, beside the values, so a column and its clock are
 * read and written in one row (docs/DECISIONS.md, "HQ's clocks in their rows"). The store
 * says which: merge_new looks for clock_rows. Each statement names its table and column, so
 * each is prepared per column on first use. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mrfsync.h"

#define MAX_COLS 16

#define CLOCK_COLS 10 /* the cK, wK pairs of clock_rows: the most columns a table has */

#define WRITER_CACHE 8 /* writers remembered: a change set has one, a pull a few */

enum { M_WRITER_GET, M_WRITER_PUT, M_WRITER_ID, M_COUNT };

static const char *const msql[M_COUNT] = {
    [M_WRITER_GET] = "SELECT n FROM writers WHERE device = ?1",
    [M_WRITER_PUT] = "INSERT INTO writers(device) VALUES (?1)",
    [M_WRITER_ID] = "SELECT device FROM writers WHERE n = ?1",
};

/* A writer's number in the store's writers table. */
struct writer {
    sqlite3_int64 n;
    uint8_t device[MRF_ID];
};

struct merge {
    sqlite3 *db;
    sqlite3_stmt *q[M_COUNT];
    int in_row; /* clocks in the rows themselves (HQ), not in clock_rows (a device) */
    sqlite3_stmt *clock_get[ST_COUNT][CLOCK_COLS], *clock_put[CLOCK_COLS], *clock_set[CLOCK_COLS];
    sqlite3_stmt *clock_by_rn[ST_COUNT][CLOCK_COLS]; /* the same by a known row number (HQ) */
    sqlite3_stmt *clock_restamp[ST_COUNT][CLOCK_COLS];
    sqlite3_stmt *row_insert[ST_COUNT];
    sqlite3_stmt *col_update[ST_COUNT][MAX_COLS];
    /* The last row found to exist in the right post: ops come grouped by row. */
    int have_last;
    enum sync_table last_tbl;
    uint8_t last_id[MRF_ID];
    char last_post[16];
    /* ... which ensure_row created in this transaction (clocks in the rows): its columns written
     * since, the others having no clock yet, so their clocks need not be read */
    int last_fresh;
    uint32_t fresh_cols;
    sqlite3_int64 last_rn; /* its number (rowid), 0 if not known */
    /* Writers met lately, newest first; forgotten with the row (merge_forget): a number given
     * in a transaction that rolled back names nobody. */
    struct writer writers[WRITER_CACHE];
    int nwriters;
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
    sqlite3_stmt *s = NULL;
    int rc;

    *out = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = "
                           "'clock_rows'",
                           -1, &s, NULL) != SQLITE_OK ||
        (rc = sqlite3_step(s)) != SQLITE_ROW) {
        sqlite3_finalize(s);
        return mrf_error_set(err, MRF_E_IO, "store: cannot read its schema: %s",
                             sqlite3_errmsg(db));
    }
    *out = xcalloc(1, sizeof **out);
    (*out)->db = db;
    (*out)->in_row = sqlite3_column_int(s, 0) == 0;
    sqlite3_finalize(s);
    return MRF_OK;
}

void merge_free(struct merge *m)
{
    if (m == NULL)
        return;
    for (int i = 0; i < M_COUNT; i++)
        sqlite3_finalize(m->q[i]);
    for (int k = 0; k < CLOCK_COLS; k++) {
        sqlite3_finalize(m->clock_put[k]);
        sqlite3_finalize(m->clock_set[k]);
        for (int t = 0; t < ST_COUNT; t++) {
            sqlite3_finalize(m->clock_get[t][k]);
            sqlite3_finalize(m->clock_by_rn[t][k]);
            sqlite3_finalize(m->clock_restamp[t][k]);
        }
    }
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
    m->nwriters = 0;
}

/* Puts (n, device) first in m's writers. */
static void writer_remember(struct merge *m, sqlite3_int64 n, const uint8_t device[MRF_ID])
{
    int k = m->nwriters < WRITER_CACHE ? m->nwriters++ : WRITER_CACHE - 1;

    memmove(&m->writers[1], &m->writers[0], (size_t)k * sizeof m->writers[0]);
    m->writers[0].n = n;
    memcpy(m->writers[0].device, device, MRF_ID);
}

/* The index in m's writers of number n (device NULL) or of device; -1 if not there. */
static int writer_find(const struct merge *m, sqlite3_int64 n, const uint8_t *device)
{
    for (int k = 0; k < m->nwriters; k++)
        if (device != NULL ? memcmp(m->writers[k].device, device, MRF_ID) == 0
                           : m->writers[k].n == n)
            return k;
    return -1;
}

/* 1 if op's row is the last one ensure_row saw. */
static int is_last(const struct merge *m, const char *post, const struct sync_op *op)
{
    return m->have_last && m->last_tbl == op->tbl && memcmp(m->last_id, op->id, MRF_ID) == 0 &&
           strcmp(m->last_post, post) == 0;
}

/* Creates the row (post, id) if it is missing. A row of the same id held for another post
 * (a device's store) is left alone: the column update then finds no row and refuses. */
static enum mrf_status ensure_row(struct merge *m, const char *post, const struct sync_op *op,
                                  struct mrf_error *err)
{
    const struct sync_table_desc *d = sync_table_get(op->tbl);
    char code[16];
    sqlite3_stmt *s;

    if (is_last(m, post, op))
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
    m->last_rn = sqlite3_changes(m->db) == 1 ? sqlite3_last_insert_rowid(m->db) : 0;
    /* in a transaction only: each statement of autocommit is one, and another writer may
     * write the row between two */
    m->last_fresh = sqlite3_changes(m->db) == 1 && !sqlite3_get_autocommit(m->db);
    m->fresh_cols = 0;
    m->last_tbl = op->tbl;
    memcpy(m->last_id, op->id, MRF_ID);
    str_copy(m->last_post, post, sizeof m->last_post);
    return MRF_OK;
}

/* Binds (post, table, id) to parameters 1-3 of s. */
static void bind_row(sqlite3_stmt *s, const char *post, enum sync_table t, const uint8_t id[MRF_ID])
{
    sqlite3_bind_text(s, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, (int)t);
    sqlite3_bind_blob(s, 3, id, MRF_ID, SQLITE_STATIC);
}

static enum mrf_status bad_column(struct mrf_error *err)
{
    return mrf_error_set(err, MRF_E_INVALID, "bad_op: unknown column");
}

/* The number of writer device in the store's writers table, given it on first use. */
static enum mrf_status writer_number(struct merge *m, const uint8_t device[MRF_ID],
                                     sqlite3_int64 *n, struct mrf_error *err)
{
    int k = writer_find(m, 0, device);
    sqlite3_stmt *s;
    int rc;

    if (k >= 0) {
        *n = m->writers[k].n;
        return MRF_OK;
    }
    s = prep(m, &m->q[M_WRITER_GET], err, "%s", msql[M_WRITER_GET]);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(s, 1, device, MRF_ID, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(m, err, "cannot read a writer");
    if (rc == SQLITE_DONE) {
        s = prep(m, &m->q[M_WRITER_PUT], err, "%s", msql[M_WRITER_PUT]);
        if (s == NULL)
            return MRF_E_IO;
        sqlite3_bind_blob(s, 1, device, MRF_ID, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            return fail(m, err, "cannot record a writer");
        *n = sqlite3_last_insert_rowid(m->db);
    }
    writer_remember(m, *n, device);
    return MRF_OK;
}

enum mrf_status merge_writer(struct merge *m, const uint8_t device[MRF_ID], sqlite3_int64 *n,
                             struct mrf_error *err)
{
    return writer_number(m, device, n, err);
}

/* The id of writer number n into device (zeros if the store does not know it, or it is not
 * MRF_ID bytes long, as hand-made test data may be). */
static enum mrf_status writer_device(struct merge *m, sqlite3_int64 n, uint8_t device[MRF_ID],
                                     struct mrf_error *err)
{
    int k = writer_find(m, n, NULL);
    sqlite3_stmt *s;
    int rc, whole = 0;

    if (k >= 0) {
        memcpy(device, m->writers[k].device, MRF_ID);
        return MRF_OK;
    }
    s = prep(m, &m->q[M_WRITER_ID], err, "%s", msql[M_WRITER_ID]);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_int64(s, 1, n);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == MRF_ID) {
        memcpy(device, sqlite3_column_blob(s, 0), MRF_ID);
        whole = 1;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(m, err, "cannot read a writer");
    if (whole)
        writer_remember(m, n, device);
    return MRF_OK;
}

/* merge_clock, and *row whether the row has a clock entry at all (for any column); with the
 * clocks in the rows, whether the row is there, and *rn its number. known: the row's number if
 * the caller read it (0 if not): the row is then read by its number, one descent of the table
 * instead of one of the random (post, id) index and one of the table; a number that does not
 * name (post, id)'s row is not used. */
static enum mrf_status clock_read(struct merge *m, const char *post, enum sync_table t,
                                  const uint8_t id[MRF_ID], int col, sqlite3_int64 known,
                                  hlc_t *clock, uint8_t device[MRF_ID], int *found, int *row,
                                  sqlite3_int64 *rn, struct mrf_error *err)
{
    sqlite3_stmt *s = NULL;
    sqlite3_int64 writer = 0;
    int rc = SQLITE_DONE;

    *clock = 0;
    *found = 0;
    *row = 0;
    *rn = 0;
    memset(device, 0, MRF_ID);
    if (col < 0 || col >= CLOCK_COLS || sync_table_get(t) == NULL)
        return bad_column(err);
    if (m->in_row && known > 0) {
        s = prep(m, &m->clock_by_rn[t][col], err,
                 "SELECT c%d, w%d, rn FROM %s WHERE rn = ?4 AND post = ?1 AND id = ?3", col, col,
                 sync_table_get(t)->name);
        if (s == NULL)
            return MRF_E_IO;
        bind_row(s, post, t, id);
        sqlite3_bind_int64(s, 4, known);
        rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) /* not that row's number: by (post, id) */
            sqlite3_reset(s);
    }
    if (rc == SQLITE_DONE) {
        if (m->in_row)
            s = prep(m, &m->clock_get[t][col], err,
                     "SELECT c%d, w%d, rn FROM %s WHERE post = ?1 AND id = ?3", col, col,
                     sync_table_get(t)->name);
        else
            s = prep(m, &m->clock_get[t][col], err,
                     "SELECT c%d, w%d FROM clock_rows WHERE post = ?1 AND tbl = ?2 AND id = ?3",
                     col, col);
        if (s == NULL)
            return MRF_E_IO;
        bind_row(s, post, t, id);
        rc = sqlite3_step(s);
    }
    *row = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW && m->in_row)
        *rn = sqlite3_column_int64(s, 2);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        *clock = (hlc_t)sqlite3_column_int64(s, 0);
        writer = sqlite3_column_int64(s, 1);
        *found = 1;
    }
    sqlite3_reset(s); /* a statement left on a row would hold a read transaction open */
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(m, err, "cannot read a column clock");
    return *found ? writer_device(m, writer, device, err) : MRF_OK;
}

enum mrf_status merge_clock(struct merge *m, const char *post, enum sync_table t,
                            const uint8_t id[MRF_ID], int col, hlc_t *clock, uint8_t device[MRF_ID],
                            int *found, struct mrf_error *err)
{
    sqlite3_int64 rn;
    int row;

    return clock_read(m, post, t, id, col, 0, clock, device, found, &row, &rn, err);
}

enum mrf_status merge_apply(struct merge *m, const char *post, const struct sync_op *op,
                            enum merge_outcome *out, struct mrf_error *err)
{
    struct merge_prior prior;

    return merge_apply_prior(m, post, op, 0, out, &prior, err);
}

/* Writes op's value, clock and writer into its row in one statement (clocks in the rows). The
 * row is named by its number rn, which the clock read or the insert just gave: a rowid lookup,
 * not a second descent of the random (post, id) index per op (docs/DECISIONS.md, "One descent
 * of the id index per op"); post and id are checked on the row found. */
static enum mrf_status write_in_row(struct merge *m, const char *post, const struct sync_op *op,
                                    const struct sync_table_desc *d, sqlite3_int64 rn,
                                    enum merge_outcome *out, struct mrf_error *err)
{
    sqlite3_int64 writer = 0;
    enum mrf_status st = writer_number(m, op->device, &writer, err);
    sqlite3_stmt *s;

    if (st != MRF_OK)
        return st;
    if (rn <= 0)
        return mrf_error_set(err, MRF_E_INTERNAL, "merge: a row to write has no number");
    s = prep(m, &m->col_update[op->tbl][op->col], err,
             "UPDATE %s SET %s = ?1, c%d = ?4, w%d = ?5 WHERE rn = ?6 AND post = ?2 AND id = ?3",
             d->name, d->cols[op->col].name, op->col, op->col);
    if (s == NULL)
        return MRF_E_IO;
    sync_value_bind(s, 1, &op->v);
    sqlite3_bind_text(s, 2, post, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, op->id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)op->clock);
    sqlite3_bind_int64(s, 5, writer);
    sqlite3_bind_int64(s, 6, rn);
    if (sqlite3_step(s) != SQLITE_DONE)
        return fail(m, err, "cannot write a column");
    if (sqlite3_changes(m->db) != 1) {
        m->have_last = 0;
        return mrf_error_set(err, MRF_E_RULE, "row_of_another_post");
    }
    if (is_last(m, post, op) && op->col < 32)
        m->fresh_cols |= 1u << op->col;
    *out = MERGE_APPLIED;
    return MRF_OK;
}

enum mrf_status merge_apply_prior(struct merge *m, const char *post, const struct sync_op *op,
                                  sqlite3_int64 known, enum merge_outcome *out,
                                  struct merge_prior *prior, struct mrf_error *err)
{
    const struct sync_table_desc *d = sync_table_get(op->tbl);
    sqlite3_stmt *s;
    enum mrf_status st;
    hlc_t cur;
    uint8_t cur_dev[MRF_ID];
    sqlite3_int64 writer = 0;
    int found, row;

    *out = MERGE_STALE;
    memset(prior, 0, sizeof *prior);
    if (d == NULL || op->col < 0 || op->col >= d->ncols || op->col >= MAX_COLS ||
        op->col >= CLOCK_COLS)
        return bad_column(err);
    if (m->in_row && is_last(m, post, op) && m->last_fresh && op->col < 32 &&
        !sqlite3_get_autocommit(m->db) && !(m->fresh_cols & (1u << op->col))) {
        cur = 0; /* a column of a row created in this transaction, not written since */
        memset(cur_dev, 0, MRF_ID);
        found = 0;
        row = 1;
        prior->row = m->last_rn;
    } else {
        st = clock_read(m, post, op->tbl, op->id, op->col, known, &cur, cur_dev, &found, &row,
                        &prior->row, err);
        if (st != MRF_OK)
            return st;
    }
    /* a row with a clock entry in this post exists in it: the entry is written only after
     * one of its columns was (below) */
    if (!row) {
        st = ensure_row(m, post, op, err);
        if (st != MRF_OK)
            return st;
        prior->row = m->in_row ? m->last_rn : 0;
    }
    prior->found = found;
    prior->clock = cur;
    memcpy(prior->device, cur_dev, MRF_ID);
    if (found && hlc_cmp(op->clock, op->device, cur, cur_dev) <= 0)
        return MRF_OK; /* stale */
    if (m->in_row)
        return write_in_row(m, post, op, d, prior->row, out, err);

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

    st = writer_number(m, op->device, &writer, err);
    if (st != MRF_OK)
        return st;
    /* the row's entry was just read: an UPDATE finds it in one descent, an UPSERT in two */
    if (row)
        s = prep(
            m, &m->clock_set[op->col], err,
            "UPDATE clock_rows SET c%d = ?4, w%d = ?5 WHERE post = ?1 AND tbl = ?2 AND id = ?3",
            op->col, op->col);
    else
        s = prep(m, &m->clock_put[op->col], err,
                 "INSERT INTO clock_rows(post, tbl, id, c%d, w%d) VALUES (?1, ?2, ?3, ?4, ?5)",
                 op->col, op->col);
    if (s == NULL)
        return MRF_E_IO;
    bind_row(s, post, op->tbl, op->id);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)op->clock);
    sqlite3_bind_int64(s, 5, writer);
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
    sqlite3_stmt *s;

    *changed = 0;
    if (col < 0 || col >= CLOCK_COLS || sync_table_get(t) == NULL)
        return bad_column(err);
    if (m->in_row)
        s = prep(m, &m->clock_restamp[t][col], err,
                 "UPDATE %s SET c%d = ?4 WHERE post = ?1 AND id = ?3 AND c%d = ?5 AND w%d = "
                 "(SELECT n FROM writers WHERE device = ?6)",
                 sync_table_get(t)->name, col, col, col);
    else
        s = prep(m, &m->clock_restamp[t][col], err,
                 "UPDATE clock_rows SET c%d = ?4 WHERE post = ?1 AND tbl = ?2 AND id = ?3 "
                 "AND c%d = ?5 AND w%d = (SELECT n FROM writers WHERE device = ?6)",
                 col, col, col);
    if (s == NULL)
        return MRF_E_IO;
    bind_row(s, post, t, id);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)clock);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)old); /* equality: the sign does not matter */
    sqlite3_bind_blob(s, 6, device, MRF_ID, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        return fail(m, err, "cannot restamp a column clock");
    *changed = sqlite3_changes(m->db) == 1;
    return MRF_OK;
}

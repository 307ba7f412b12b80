/* The HQ store's conflict queue and row histories on SQLite: conflict records (opened, updated
 * and closed inside the caller's transaction, one open per post, rule and subject), the
 * post's sequence of record changes its devices pull, and the oplog read by row: a row's
 * history, the value a column had at one clock, the writes a change set's author had not seen.
 * Statements live in csql[] beside their enum (hqstore_db.h). */
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "hqstore_db.h"

enum {
    C_FIND_OPEN,
    C_NEXT_CSEQ,
    C_INSERT,
    C_UPDATE,
    C_CLOSE,
    C_GET,
    C_LIST,
    C_SCAN,
    C_OPEN_RULES,
    C_OPEN_RULES_YEAR,
    C_COUNT_OPEN,
    C_COUNT_OPEN_ALL,
    C_ID_TAKEN,
    H_ROW,
    H_VALUE,
    H_ROW_THEME,
    H_SINCE_THEME,
    H_SINCE,
    R_FIND_PARTNER,
    R_FIND_GRANT,
    R_YEAR_THEME,
    R_YEAR_GRANT,
    R_YEAR_ALLOC,
    R_EXISTS_PARTNER,
    R_THEME_ROWS,
    R_NOT_CHOSEN,
    R_REMOVED_PARTNER,
    R_ALLOCATION,
    R_GRANT_STATUS,
    R_NOT_CHOSEN_ROW,
    R_REMOVED_PARTNER_ROW,
    C_OPEN_ONE,
    H_ROWS_SINCE,
    C_LAST_CLOSED,
    C_COUNT
};

#define C_COLS                                                                                     \
    "id, post, kind, rule, subject, year, rows, tbl, row_id, col, base, a_value, a_device, "       \
    "a_clock, b_value, b_device, b_clock, detail, opened_at, updated_at, closed_at, "              \
    "coalesce(decision, ''), coalesce(reason, ''), coalesce(note, ''), cseq"

/* where H_ROWS_SINCE starts: past the cursor ?2 and the post's ?4 newest ops */
#define H_WINDOW_START                                                                             \
    "max(?2, (SELECT coalesce((SELECT pseq + n - 1 FROM oplog_runs WHERE post = ?1 ORDER BY pseq " \
    "DESC LIMIT 1), 0)) - ?4)"
/* the number of row (post ?1, table ?2, id ?3); of theme row (post ?1, id ?3) */
#define H_ROW_RN HQS_ROW_NUMBER("?2", "?1", "?3")
#define H_THEME_RN "(SELECT rn FROM themes WHERE post = ?1 AND id = ?3)"
/* the post's ops after the cursor ?4 (H_SINCE), after the window's start (H_ROWS_SINCE) */
#define H_AFTER_CURSOR HQS_OPLOG_AFTER("?1", "?4")
#define H_AFTER_NOTHING HQS_OPLOG_AFTER("?1", "0")
#define H_AFTER_WINDOW HQS_OPLOG_AFTER("?1", H_WINDOW_START)

static const char *const csql[C_COUNT] = {
    [C_FIND_OPEN] = "SELECT id, opened_at FROM conflicts WHERE post = ?1 AND rule = ?2 AND "
                    "subject = ?3 AND closed_at IS NULL",
    [C_NEXT_CSEQ] = "SELECT coalesce(max(cseq), 0) + 1 FROM conflicts WHERE post = ?1",
    [C_INSERT] = "INSERT INTO conflicts (id, post, kind, rule, subject, year, rows, tbl, row_id, "
                 "col, base, a_value, a_device, a_clock, b_value, b_device, b_clock, detail, "
                 "opened_at, updated_at, closed_at, decision, reason, note, cseq) VALUES (?1, ?2, "
                 "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
                 "?20, ?21, ?22, ?23, ?24, ?25)",
    [C_UPDATE] = "UPDATE conflicts SET year = ?6, rows = ?7, tbl = ?8, row_id = ?9, col = ?10, "
                 "base = ?11, a_value = ?12, a_device = ?13, a_clock = ?14, b_value = ?15, "
                 "b_device = ?16, b_clock = ?17, detail = ?18, updated_at = ?20, cseq = ?25 "
                 "WHERE id = ?1",
    [C_CLOSE] = "UPDATE conflicts SET closed_at = ?2, updated_at = ?2, decision = ?3, reason = "
                "?4, note = ?5, cseq = ?6 WHERE id = ?1 AND closed_at IS NULL",
    [C_GET] = "SELECT " C_COLS " FROM conflicts WHERE id = ?1",
    [C_LIST] = "SELECT " C_COLS " FROM conflicts WHERE (?1 IS NULL OR post = ?1) AND (?2 OR "
               "closed_at IS NULL) ORDER BY post, opened_at, cseq",
    [C_SCAN] = "SELECT " C_COLS " FROM conflicts WHERE post = ?1 AND cseq > ?2 ORDER BY cseq",
    /* a rule's open records in every year: by (post, rule) through conflicts_open; in one
     * year: through conflicts_year (post, year, closed_at). SQLite left alone read all the
     * post's records through conflicts_cseq (test_hq_ingest,
     * theme_change_costs_the_same_whatever_the_oplog). */
    [C_OPEN_RULES] = "SELECT " C_COLS " FROM conflicts INDEXED BY conflicts_open WHERE post = "
                     "?1 AND rule = ?2 AND closed_at IS NULL AND kind = 'rule' AND ?3 = 0 "
                     "ORDER BY cseq",
    [C_OPEN_RULES_YEAR] = "SELECT " C_COLS " FROM conflicts INDEXED BY conflicts_year WHERE post "
                          "= ?1 AND year = ?3 AND closed_at IS NULL AND rule = ?2 AND kind = "
                          "'rule' ORDER BY cseq",
    /* the open records: through the partial index conflicts_open, of one post or all */
    [C_COUNT_OPEN] = "SELECT count(*) FROM conflicts INDEXED BY conflicts_open WHERE post = ?1 "
                     "AND closed_at IS NULL",
    [C_COUNT_OPEN_ALL] = "SELECT count(*) FROM conflicts INDEXED BY conflicts_open WHERE "
                         "closed_at IS NULL",
    [C_ID_TAKEN] = "SELECT 1 FROM conflicts WHERE id = ?1",
    /* a row's whole history: a walk of the post's oplog by design (`conflict show`, an
     * operator's read) */
    [H_ROW] = "SELECT r.pseq + o.seq - r.seq, o.col, o.value, o.clock, (SELECT device FROM writers "
              "WHERE n = o.w) " H_AFTER_NOTHING " AND o.tbl = ?2 AND o.r = " H_ROW_RN
              " ORDER BY r.pseq, o.seq",
    /* oplog_ops name writers by number (writers.n): a writer never numbered wrote nothing.
     * By the op's clock (oplog_clock), its post its run's. INDEXED BY: without it SQLite
     * read the post's whole oplog for each value (test_hq_ingest,
     * unseen_writes_read_once_per_changeset) */
    [H_VALUE] =
        "SELECT o.value FROM oplog_ops o INDEXED BY oplog_clock WHERE o.clock = ?5 AND o.tbl = "
        "?2 AND o.r = " H_ROW_RN " AND o.col = ?4 AND o.w = (SELECT n FROM writers WHERE device = "
        "?6) ORDER BY o.seq DESC LIMIT 1",
    /* a theme row's (table 0): through oplog_themes, the few writes to theme rows (HQ store
     * version 9), not the post's whole oplog */
    [H_ROW_THEME] = "SELECT r.pseq + o.seq - r.seq, o.col, o.value, o.clock, (SELECT device FROM "
                    "writers WHERE n = o.w) FROM oplog_ops o INDEXED BY oplog_themes JOIN "
                    "oplog_runs r ON r.seq = " HQS_RUN_OF_OP " WHERE o.tbl = 0 AND ?2 = 0 AND "
                    "o.r = " H_THEME_RN " ORDER BY o.seq",
    [H_SINCE_THEME] = "SELECT r.pseq + o.seq - r.seq, o.col, o.value, o.clock, (SELECT device "
                      "FROM writers WHERE n = o.w) FROM oplog_ops o INDEXED BY oplog_themes JOIN "
                      "oplog_runs r ON r.seq = " HQS_RUN_OF_OP " WHERE o.tbl = 0 AND ?2 = 0 AND "
                      "o.r = " H_THEME_RN " AND r.pseq + o.seq - r.seq > ?4 AND o.w IS NOT "
                      "(SELECT n FROM writers WHERE device = ?5) ORDER BY o.seq",
    [H_SINCE] =
        "SELECT r.pseq + o.seq - r.seq, o.col, o.value, o.clock, (SELECT device FROM "
        "writers WHERE n = o.w) " H_AFTER_CURSOR " AND o.tbl = ?2 AND o.r = " H_ROW_RN " AND o.w "
        "IS NOT (SELECT n FROM writers WHERE device = ?5) ORDER BY r.pseq, o.seq",
    [R_FIND_PARTNER] = "SELECT id FROM partners WHERE post = ?1 AND code = ?2",
    /* a grant by its code: through the key, in the range of ids the code stands for */
    [R_FIND_GRANT] = "SELECT id FROM grants WHERE post = ?1 AND id >= ?3 AND id < ?4 AND "
                     "code = ?2",
    [R_YEAR_THEME] = "SELECT coalesce(year, 0), rn FROM themes WHERE post = ?1 AND id = ?2",
    [R_YEAR_GRANT] = "SELECT coalesce(year, 0), rn FROM grants WHERE post = ?1 AND id = ?2",
    [R_YEAR_ALLOC] = "SELECT coalesce(year, 0), rn FROM allocations WHERE post = ?1 AND id = ?2",
    [R_EXISTS_PARTNER] = "SELECT 0, rn FROM partners WHERE post = ?1 AND id = ?2",
    [R_THEME_ROWS] = "SELECT id, coalesce(theme, ''), removed FROM themes WHERE post = ?1 AND "
                     "year = ?2 ORDER BY theme",
    /* a live grant (not removed, not cancelled) whose theme is not one of the year's */
    /* its year as a range of constants, year ?2 or (?2 = 0) any: SQLite reads one year's
     * grants through grants_year (post, year); with "(?2 = 0 OR g.year = ?2)" it read every
     * year's grants of the post for one year (test_hq_ingest,
     * theme_change_costs_the_same_whatever_the_oplog). BETWEEN leaves out a NULL year. */
    [R_NOT_CHOSEN] = "SELECT g.year, g.code, coalesce(g.theme, '') FROM grants g WHERE g.post = "
                     "?1 AND g.year BETWEEN iif(?2 = 0, -9223372036854775807, ?2) AND iif(?2 = 0, "
                     "9223372036854775807, ?2) AND g.removed = 0 AND coalesce(g.status, '') <> "
                     "'cancelled' AND NOT EXISTS (SELECT 1 FROM themes t WHERE t.post = g.post "
                     "AND t.year = g.year AND t.theme = g.theme AND t.removed = 0) ORDER BY g.code",
    /* a live grant (not removed, cancelled or closed) on a removed partner */
    [R_REMOVED_PARTNER] = "SELECT g.year, g.code, p.code FROM grants g JOIN partners p ON "
                          "p.post = g.post AND p.id = g.partner WHERE g.post = ?1 AND (?2 = 0 OR "
                          "g.year = ?2) AND g.removed = 0 AND coalesce(g.status, '') NOT IN "
                          "('cancelled', 'closed') AND p.removed = 1 ORDER BY g.code",
    /* per allocation: what the post committed in its currency (grant_status_commits) */
    [R_ALLOCATION] =
        "SELECT a.year, a.currency, a.amount_cents, (SELECT coalesce(sum(g.amount_cents), "
        "0) FROM grants g WHERE g.post = a.post AND g.year = a.year AND g.currency = "
        "a.currency AND g.removed = 0 AND g.status IN ('committed', 'disbursed', "
        "'closed')) FROM allocations a WHERE a.post = ?1 AND (?2 = 0 OR a.year = ?2) "
        "AND a.currency IS NOT NULL AND a.amount_cents IS NOT NULL",
    [R_GRANT_STATUS] = "SELECT coalesce(status, '') FROM grants WHERE post = ?1 AND id >= ?3 AND "
                       "id < ?4 AND code = ?2",
    /* the same two rules for one grant, by its id (?3) */
    [R_NOT_CHOSEN_ROW] =
        "SELECT g.year, g.code, coalesce(g.theme, '') FROM grants g WHERE "
        "g.post = ?1 AND g.id = ?3 AND ?2 = ?2 AND g.removed = 0 AND g.year IS NOT "
        "NULL AND coalesce(g.status, '') <> 'cancelled' AND NOT EXISTS (SELECT 1 "
        "FROM themes t WHERE t.post = g.post AND t.year = g.year AND t.theme = "
        "g.theme AND t.removed = 0)",
    [R_REMOVED_PARTNER_ROW] = "SELECT g.year, g.code, p.code FROM grants g JOIN partners p ON "
                              "p.post = g.post AND p.id = g.partner WHERE g.post = ?1 AND g.id = "
                              "?3 AND ?2 = ?2 AND g.removed = 0 AND coalesce(g.status, '') NOT IN "
                              "('cancelled', 'closed') AND p.removed = 1",
    [C_LAST_CLOSED] = "SELECT " C_COLS " FROM conflicts WHERE post = ?1 AND rule = ?2 AND "
                      "subject = ?3 AND closed_at IS NOT NULL ORDER BY cseq DESC LIMIT 1",
    /* in the order HQ applied them, from the later of the cursor and the start of the
     * window (the ?4 newest) */
    [H_ROWS_SINCE] =
        "SELECT o.tbl, " HQS_OP_ROW_ID ", o.col, o.clock, (SELECT device FROM writers WHERE n = "
        "o.w) " H_AFTER_WINDOW " AND o.w IS NOT (SELECT n FROM writers WHERE device "
        "= ?3) ORDER BY r.pseq, o.seq",
    [C_OPEN_ONE] =
        "SELECT " C_COLS " FROM conflicts WHERE post = ?1 AND rule = ?2 AND subject = ?3 "
        "AND closed_at IS NULL",
};

_Static_assert(C_COUNT <= HQS_AREA_SLOTS, "too many conflict statements for their area");

/* Statement i, prepared or reset; a read of the oplog (H_*) sees this transaction's open
 * run first (hqs_oplog_flush). */
static sqlite3_stmt *get(struct hqstore *s, int i)
{
    int oplog = i == H_ROW || i == H_VALUE || i == H_ROW_THEME || i == H_SINCE_THEME ||
                i == H_SINCE || i == H_ROWS_SINCE;

    if (oplog && hqs_oplog_flush(s) != MRF_OK)
        return NULL;
    return hqs_stmt(s, HQS_AREA_CONFLICT, i, csql[i]);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *t)
{
    if (t != NULL && t[0] != '\0')
        sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Binds every column of c to the parameters of C_INSERT / C_UPDATE (same numbering). */
static void bind_record(sqlite3_stmt *st, const struct hq_conflict *c)
{
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->post, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, c->rule, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, c->subject, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, c->year);
    sqlite3_bind_text(st, 7, c->rows, -1, SQLITE_STATIC);
    if (c->has_col) {
        sqlite3_bind_int(st, 8, (int)c->tbl);
        sqlite3_bind_blob(st, 9, c->row_id, MRF_ID, SQLITE_STATIC);
        sqlite3_bind_int(st, 10, c->col);
    }
    bind_text_or_null(st, 11, c->base);
    if (c->has_a) {
        bind_text_or_null(st, 12, c->a_value);
        sqlite3_bind_blob(st, 13, c->a_device, MRF_ID, SQLITE_STATIC);
        sqlite3_bind_int64(st, 14, (sqlite3_int64)c->a_clock);
    }
    if (c->has_b) {
        bind_text_or_null(st, 15, c->b_value);
        sqlite3_bind_blob(st, 16, c->b_device, MRF_ID, SQLITE_STATIC);
        sqlite3_bind_int64(st, 17, (sqlite3_int64)c->b_clock);
    }
    sqlite3_bind_text(st, 18, c->detail, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 19, c->opened_at);
    sqlite3_bind_int64(st, 20, c->updated_at);
    if (c->closed_at != 0)
        sqlite3_bind_int64(st, 21, c->closed_at);
    bind_text_or_null(st, 22, c->decision);
    bind_text_or_null(st, 23, c->reason);
    bind_text_or_null(st, 24, c->note);
    sqlite3_bind_int64(st, 25, c->cseq);
}

/* Reads the C_COLS row st is on into *c. */
static void read_record(sqlite3_stmt *st, struct hq_conflict *c)
{
    memset(c, 0, sizeof *c);
    hqs_column_text(st, 0, c->id, sizeof c->id);
    hqs_column_text(st, 1, c->post, sizeof c->post);
    hqs_column_text(st, 2, c->kind, sizeof c->kind);
    hqs_column_text(st, 3, c->rule, sizeof c->rule);
    hqs_column_text(st, 4, c->subject, sizeof c->subject);
    c->year = sqlite3_column_int(st, 5);
    hqs_column_text(st, 6, c->rows, sizeof c->rows);
    if (sqlite3_column_type(st, 7) != SQLITE_NULL && hqs_column_blob(st, 8, c->row_id, MRF_ID)) {
        c->has_col = 1;
        c->tbl = (enum sync_table)sqlite3_column_int(st, 7);
        c->col = sqlite3_column_int(st, 9);
    }
    hqs_column_text(st, 10, c->base, sizeof c->base);
    if (hqs_column_blob(st, 12, c->a_device, MRF_ID)) {
        c->has_a = 1;
        hqs_column_text(st, 11, c->a_value, sizeof c->a_value);
        c->a_clock = (hlc_t)sqlite3_column_int64(st, 13);
    }
    if (hqs_column_blob(st, 15, c->b_device, MRF_ID)) {
        c->has_b = 1;
        hqs_column_text(st, 14, c->b_value, sizeof c->b_value);
        c->b_clock = (hlc_t)sqlite3_column_int64(st, 16);
    }
    hqs_column_text(st, 17, c->detail, sizeof c->detail);
    c->opened_at = sqlite3_column_int64(st, 18);
    c->updated_at = sqlite3_column_int64(st, 19);
    c->closed_at = sqlite3_column_int64(st, 20);
    hqs_column_text(st, 21, c->decision, sizeof c->decision);
    hqs_column_text(st, 22, c->reason, sizeof c->reason);
    hqs_column_text(st, 23, c->note, sizeof c->note);
    c->cseq = sqlite3_column_int64(st, 24);
}

static enum mrf_status next_cseq(struct hqstore *s, const char *post, int64_t *cseq)
{
    sqlite3_stmt *st = get(s, C_NEXT_CSEQ);
    int r;

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    r = sqlite3_step(st);
    *cseq = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return r == SQLITE_ROW ? MRF_OK : hqs_fail(s, "numbering a conflict record");
}

/* A fresh random id, "C-" and six characters of the short-code alphabet, not yet used. */
static enum mrf_status new_id(struct hqstore *s, char id[16])
{
    uint8_t rnd[MRF_ID];
    char code[16];

    for (int tries = 0; tries < 8; tries++) {
        sqlite3_stmt *st;
        int r;

        randombytes_buf(rnd, sizeof rnd);
        shortcode_make("C", rnd, code);
        str_copy(id, code, 16);
        st = get(s, C_ID_TAKEN);
        if (st == NULL)
            return MRF_E_IO;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        r = sqlite3_step(st);
        sqlite3_reset(st);
        if (r == SQLITE_DONE)
            return MRF_OK;
        if (r != SQLITE_ROW)
            return hqs_fail(s, "choosing a conflict id");
    }
    return mrf_error_set(&s->err, MRF_E_INTERNAL, "HQ store: no free conflict id");
}

enum mrf_status hqstore_conflict_upsert(struct hqstore *s, struct hq_conflict *c, int64_t now,
                                        int *opened)
{
    sqlite3_stmt *st;
    enum mrf_status rc;
    int r;

    *opened = 0;
    c->updated_at = now;
    rc = next_cseq(s, c->post, &c->cseq);
    if (rc != MRF_OK)
        return rc;
    if (c->closed_at == 0) {
        st = get(s, C_FIND_OPEN);
        if (st == NULL)
            return MRF_E_IO;
        sqlite3_bind_text(st, 1, c->post, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, c->rule, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, c->subject, -1, SQLITE_STATIC);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            hqs_column_text(st, 0, c->id, sizeof c->id);
            c->opened_at = sqlite3_column_int64(st, 1);
        }
        sqlite3_reset(st);
        if (r != SQLITE_ROW && r != SQLITE_DONE)
            return hqs_fail(s, "finding an open conflict");
        if (r == SQLITE_ROW) {
            st = get(s, C_UPDATE);
            if (st == NULL)
                return MRF_E_IO;
            bind_record(st, c);
            return hqs_step_once(st) == SQLITE_DONE ? MRF_OK
                                                    : hqs_fail(s, "updating a conflict record");
        }
    }
    rc = new_id(s, c->id);
    if (rc != MRF_OK)
        return rc;
    c->opened_at = now;
    st = get(s, C_INSERT);
    if (st == NULL)
        return MRF_E_IO;
    bind_record(st, c);
    if (hqs_step_once(st) != SQLITE_DONE)
        return hqs_fail(s, "opening a conflict record");
    *opened = 1;
    return MRF_OK;
}

enum mrf_status hqstore_conflict_get(struct hqstore *s, const char *id, struct hq_conflict *c)
{
    sqlite3_stmt *st = get(s, C_GET);
    int r;

    memset(c, 0, sizeof *c);
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        read_record(st, c);
    sqlite3_reset(st);
    if (r == SQLITE_DONE)
        return mrf_error_set(&s->err, MRF_E_NOTFOUND, "no conflict %s", id);
    return r == SQLITE_ROW ? MRF_OK : hqs_fail(s, "reading a conflict record");
}

enum mrf_status hqstore_conflict_close(struct hqstore *s, const char *id, const char *decision,
                                       const char *reason, const char *note, int64_t now)
{
    struct hq_conflict c;
    enum mrf_status rc = hqstore_conflict_get(s, id, &c);
    sqlite3_stmt *st;

    if (rc != MRF_OK)
        return rc;
    if (c.closed_at != 0)
        return mrf_error_set(&s->err, MRF_E_STATE, "conflict %s is closed already", id);
    rc = next_cseq(s, c.post, &c.cseq);
    if (rc != MRF_OK)
        return rc;
    st = get(s, C_CLOSE);
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    bind_text_or_null(st, 3, decision);
    bind_text_or_null(st, 4, reason);
    bind_text_or_null(st, 5, note);
    sqlite3_bind_int64(st, 6, c.cseq);
    return hqs_step_once(st) == SQLITE_DONE ? MRF_OK : hqs_fail(s, "closing a conflict record");
}

/* Steps st (bound by the caller) and calls fn for each record. */
static enum mrf_status each_record(struct hqstore *s, sqlite3_stmt *st, hqstore_conflict_fn fn,
                                   void *arg)
{
    struct hq_conflict *c = xcalloc(1, sizeof *c);
    enum mrf_status rc = MRF_OK;
    int r;

    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        read_record(st, c);
        rc = fn(arg, c);
        if (rc != MRF_OK)
            goto out;
    }
    if (r != SQLITE_DONE)
        rc = hqs_fail(s, "listing conflict records");
out:
    sqlite3_reset(st);
    x_free(c);
    return rc;
}

enum mrf_status hqstore_conflict_list(struct hqstore *s, const char *post, int all,
                                      hqstore_conflict_fn fn, void *arg)
{
    sqlite3_stmt *st = get(s, C_LIST);

    if (st == NULL)
        return MRF_E_IO;
    bind_text_or_null(st, 1, post);
    sqlite3_bind_int(st, 2, all != 0);
    return each_record(s, st, fn, arg);
}

enum mrf_status hqstore_conflict_scan(struct hqstore *s, const char *post, int64_t after,
                                      hqstore_conflict_fn fn, void *arg)
{
    sqlite3_stmt *st = get(s, C_SCAN);

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after);
    return each_record(s, st, fn, arg);
}

enum mrf_status hqstore_conflict_open_rules(struct hqstore *s, const char *post, const char *rule,
                                            int year, hqstore_conflict_fn fn, void *arg)
{
    sqlite3_stmt *st = get(s, year == 0 ? C_OPEN_RULES : C_OPEN_RULES_YEAR);

    if (st == NULL)
        return MRF_E_IO;
    if (rule == NULL)
        return mrf_error_set(&s->err, MRF_E_INTERNAL, "open rule records are listed by rule");
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rule, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, year);
    return each_record(s, st, fn, arg);
}

enum mrf_status hqstore_conflict_count_open(struct hqstore *s, const char *post, int64_t *n)
{
    sqlite3_stmt *st = get(s, post != NULL ? C_COUNT_OPEN : C_COUNT_OPEN_ALL);
    int r;

    *n = 0;
    if (st == NULL)
        return MRF_E_IO;
    if (post != NULL)
        sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return r == SQLITE_ROW ? MRF_OK : hqs_fail(s, "counting conflict records");
}

/* ---- the oplog, by row ------------------------------------------------------------------- */

/* Steps an H_ROW / H_SINCE statement and calls fn for each write of table t. */
static enum mrf_status each_write(struct hqstore *s, sqlite3_stmt *st, enum sync_table t,
                                  const uint8_t id[MRF_ID], hqstore_write_fn fn, void *arg)
{
    const struct sync_table_desc *d = sync_table_get(t);
    enum mrf_status rc = MRF_OK;
    struct hq_write w;
    struct sync_op op;
    int r;

    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&op, 0, sizeof op);
        op.tbl = t;
        memcpy(op.id, id, MRF_ID);
        op.col = sqlite3_column_int(st, 1);
        if (d == NULL || op.col < 0 || op.col >= d->ncols ||
            !hqs_column_blob(st, 4, op.device, MRF_ID)) {
            rc = mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: an oplog row is damaged");
            goto out;
        }
        op.clock = (hlc_t)sqlite3_column_int64(st, 3);
        sync_value_column(st, 2, d->cols[op.col].type, &op.v);
        w.pseq = sqlite3_column_int64(st, 0);
        w.col = op.col;
        w.op = &op;
        rc = fn(arg, &w);
        if (rc != MRF_OK)
            goto out;
    }
    if (r != SQLITE_DONE)
        rc = hqs_fail(s, "reading a row's writes");
out:
    sqlite3_reset(st);
    return rc;
}

static void bind_row(sqlite3_stmt *st, const char *post, enum sync_table t,
                     const uint8_t id[MRF_ID])
{
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)t);
    sqlite3_bind_blob(st, 3, id, MRF_ID, SQLITE_STATIC);
}

enum mrf_status hqstore_row_history(struct hqstore *s, const char *post, enum sync_table t,
                                    const uint8_t id[MRF_ID], hqstore_write_fn fn, void *arg)
{
    sqlite3_stmt *st = get(s, t == ST_THEMES ? H_ROW_THEME : H_ROW);

    if (st == NULL)
        return MRF_E_IO;
    bind_row(st, post, t, id);
    return each_write(s, st, t, id, fn, arg);
}

enum mrf_status hqstore_row_since(struct hqstore *s, const char *post, enum sync_table t,
                                  const uint8_t id[MRF_ID], int64_t after,
                                  const uint8_t not_device[MRF_ID], hqstore_write_fn fn, void *arg)
{
    sqlite3_stmt *st = get(s, t == ST_THEMES ? H_SINCE_THEME : H_SINCE);

    if (st == NULL)
        return MRF_E_IO;
    bind_row(st, post, t, id);
    sqlite3_bind_int64(st, 4, after);
    sqlite3_bind_blob(st, 5, not_device, MRF_ID, SQLITE_STATIC);
    return each_write(s, st, t, id, fn, arg);
}

enum mrf_status hqstore_write_value(struct hqstore *s, const char *post, enum sync_table t,
                                    const uint8_t id[MRF_ID], int col, hlc_t clock,
                                    const uint8_t device[MRF_ID], char *json, size_t n, int *found)
{
    const struct sync_column *c = sync_column_get(t, col);
    sqlite3_stmt *st = get(s, H_VALUE);
    enum mrf_status rc = MRF_OK;
    struct sync_value v;
    struct buf b;
    int r;

    *found = 0;
    json[0] = '\0';
    if (st == NULL || c == NULL)
        return st == NULL ? MRF_E_IO : MRF_E_INVALID;
    bind_row(st, post, t, id);
    sqlite3_bind_int(st, 4, col);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)clock);
    sqlite3_bind_blob(st, 6, device, MRF_ID, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        sync_value_column(st, 0, c->type, &v);
        buf_init(&b, n - 1);
        if (sync_value_to_json(&v, &b) == MRF_OK && b.data != NULL) {
            str_copy(json, b.data, n);
            *found = 1;
        }
        buf_release(&b);
    } else if (r != SQLITE_DONE) {
        rc = hqs_fail(s, "reading a replaced value");
    }
    sqlite3_reset(st);
    return rc;
}

/* Binds to parameters 3 and 4 of st the range [lo, hi) of the ids a grant's short code can
 * stand for: its six characters are the id's first 30 bits (shortcode_make), so the grants
 * with that code are found through the (post, id) key, and HQ's store needs no index on
 * (post, code), whose random entries cost a page written per new grant (docs/DECISIONS.md,
 * "The oplog by post, writers by number"). A code that is not one gives an empty range. */
static void bind_code_range(sqlite3_stmt *st, const char *code)
{
    static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    const char *dash = strrchr(code, '-');
    uint8_t lo[MRF_ID] = {0}, hi[MRF_ID + 1] = {0};
    uint32_t bits = 0, top;
    size_t nhi = MRF_ID;

    for (int i = 0; dash != NULL && i < 6; i++) {
        const char *c = dash[1 + i] != '\0' ? strchr(crockford, dash[1 + i]) : NULL;
        if (c == NULL)
            dash = NULL;
        else
            bits = bits << 5 | (uint32_t)(c - crockford);
    }
    if (dash == NULL || dash[7] != '\0') { /* [0, 0): nothing */
        sqlite3_bind_blob(st, 3, lo, MRF_ID, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 4, lo, MRF_ID, SQLITE_TRANSIENT);
        return;
    }
    top = bits << 2;
    for (int i = 0; i < 4; i++)
        lo[i] = (uint8_t)(top >> (24 - 8 * i));
    if (top == 0xfffffffcu) { /* the last range: below 17 bytes of 0xff, above every id */
        memset(hi, 0xff, sizeof hi);
        nhi = sizeof hi;
    } else {
        for (int i = 0; i < 4; i++)
            hi[i] = (uint8_t)((top + 4) >> (24 - 8 * i));
    }
    sqlite3_bind_blob(st, 3, lo, MRF_ID, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 4, hi, (int)nhi, SQLITE_TRANSIENT);
}

enum mrf_status hqstore_row_find(struct hqstore *s, const char *post, enum sync_table t,
                                 const char *code, uint8_t id[MRF_ID])
{
    sqlite3_stmt *st;
    int r;

    if (t != ST_PARTNERS && t != ST_GRANTS)
        return mrf_error_set(&s->err, MRF_E_INVALID, "only partners and grants have codes");
    st = get(s, t == ST_PARTNERS ? R_FIND_PARTNER : R_FIND_GRANT);
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, code, -1, SQLITE_STATIC);
    if (t == ST_GRANTS)
        bind_code_range(st, code);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW && !hqs_column_blob(st, 0, id, MRF_ID))
        r = SQLITE_CORRUPT;
    sqlite3_reset(st);
    if (r == SQLITE_DONE)
        return mrf_error_set(&s->err, MRF_E_NOTFOUND, "no %s %s in post %s",
                             t == ST_PARTNERS ? "partner" : "grant", code, post);
    return r == SQLITE_ROW ? MRF_OK : hqs_fail(s, "finding a row by its code");
}

/* ---- what the fund rules read ------------------------------------------------------------ */

enum mrf_status hqstore_column_clock(struct hqstore *s, const char *post, enum sync_table t,
                                     const uint8_t id[MRF_ID], int col, hlc_t *clock,
                                     uint8_t device[MRF_ID], int *found)
{
    struct merge *m = hqs_merge(s);

    if (m == NULL)
        return MRF_E_IO;
    return merge_clock(m, post, t, id, col, clock, device, found, &s->err);
}

enum mrf_status hqstore_row_year(struct hqstore *s, const char *post, enum sync_table t,
                                 const uint8_t id[MRF_ID], int *year, int *exists, int64_t *rn)
{
    int i = t == ST_THEMES     ? R_YEAR_THEME
            : t == ST_GRANTS   ? R_YEAR_GRANT
            : t == ST_PARTNERS ? R_EXISTS_PARTNER
                               : R_YEAR_ALLOC;
    sqlite3_stmt *st = get(s, i);
    int r;

    *year = 0;
    if (exists != NULL)
        *exists = 0;
    if (rn != NULL)
        *rn = 0;
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, id, MRF_ID, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *year = sqlite3_column_int(st, 0);
        if (exists != NULL)
            *exists = 1;
        if (rn != NULL)
            *rn = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return r == SQLITE_ROW || r == SQLITE_DONE ? MRF_OK : hqs_fail(s, "reading a row's year");
}

enum mrf_status hqstore_theme_rows(struct hqstore *s, const char *post, int year,
                                   hqstore_theme_fn fn, void *arg)
{
    sqlite3_stmt *st = get(s, R_THEME_ROWS);
    enum mrf_status rc = MRF_OK;
    uint8_t id[MRF_ID];
    char theme[16];
    int r;

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, year);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (!hqs_column_blob(st, 0, id, MRF_ID))
            continue;
        hqs_column_text(st, 1, theme, sizeof theme);
        rc = fn(arg, id, theme, sqlite3_column_int(st, 2) != 0);
        if (rc != MRF_OK)
            goto out;
    }
    if (r != SQLITE_DONE)
        rc = hqs_fail(s, "reading a year's themes");
out:
    sqlite3_reset(st);
    return rc;
}

/* Runs one of the rule queries for (post, year) and calls fn with each row it finds. */
static enum mrf_status rule_rows(struct hqstore *s, int i, const char *post, int year,
                                 const uint8_t *id, hqstore_rule_fn fn, void *arg)
{
    sqlite3_stmt *st = get(s, i);
    enum mrf_status rc = MRF_OK;
    struct hq_rule_row row;
    int r;

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, year);
    if (id != NULL)
        sqlite3_bind_blob(st, 3, id, MRF_ID, SQLITE_STATIC);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&row, 0, sizeof row);
        row.year = sqlite3_column_int(st, 0);
        if (i == R_ALLOCATION) {
            hqs_column_text(st, 1, row.currency, sizeof row.currency);
            row.allocation = sqlite3_column_int64(st, 2);
            row.committed = sqlite3_column_int64(st, 3);
        } else {
            hqs_column_text(st, 1, row.code, sizeof row.code);
            hqs_column_text(st, 2, row.other, sizeof row.other);
        }
        rc = fn(arg, &row);
        if (rc != MRF_OK)
            goto out;
    }
    if (r != SQLITE_DONE)
        rc = hqs_fail(s, "checking a fund rule");
out:
    sqlite3_reset(st);
    return rc;
}

enum mrf_status hqstore_rule_scan(struct hqstore *s, enum hq_rule_query q, const char *post,
                                  int year, const uint8_t *id, hqstore_rule_fn fn, void *arg)
{
    static const int all[] = {[HQRULE_NOT_CHOSEN] = R_NOT_CHOSEN,
                              [HQRULE_REMOVED_PARTNER] = R_REMOVED_PARTNER,
                              [HQRULE_ALLOCATION] = R_ALLOCATION};
    static const int one[] = {[HQRULE_NOT_CHOSEN] = R_NOT_CHOSEN_ROW,
                              [HQRULE_REMOVED_PARTNER] = R_REMOVED_PARTNER_ROW,
                              [HQRULE_ALLOCATION] = R_ALLOCATION};

    if (id != NULL && q == HQRULE_ALLOCATION)
        return mrf_error_set(&s->err, MRF_E_INTERNAL, "allocations are checked by year");
    return rule_rows(s, id ? one[q] : all[q], post, year, id, fn, arg);
}

/* The open record of (post, rule, subject), or with closed, the one closed last. */
static enum mrf_status find_one(struct hqstore *s, int i, const char *post, const char *rule,
                                const char *subject, struct hq_conflict *c, int *found)
{
    sqlite3_stmt *st = get(s, i);
    int r;

    *found = 0;
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rule, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, subject, -1, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        read_record(st, c);
        *found = 1;
    }
    sqlite3_reset(st);
    return r == SQLITE_ROW || r == SQLITE_DONE ? MRF_OK : hqs_fail(s, "finding a record");
}

enum mrf_status hqstore_conflict_find_open(struct hqstore *s, const char *post, const char *rule,
                                           const char *subject, struct hq_conflict *c, int *found)
{
    return find_one(s, C_OPEN_ONE, post, rule, subject, c, found);
}

enum mrf_status hqstore_conflict_last_closed(struct hqstore *s, const char *post, const char *rule,
                                             const char *subject, struct hq_conflict *c, int *found)
{
    return find_one(s, C_LAST_CLOSED, post, rule, subject, c, found);
}

enum mrf_status hqstore_grant_status(struct hqstore *s, const char *post, const char *code,
                                     char status[16])
{
    sqlite3_stmt *st = get(s, R_GRANT_STATUS);
    int r;

    status[0] = '\0';
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, code, -1, SQLITE_STATIC);
    bind_code_range(st, code);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        hqs_column_text(st, 0, status, 16);
    sqlite3_reset(st);
    return r == SQLITE_ROW || r == SQLITE_DONE ? MRF_OK : hqs_fail(s, "reading a grant's status");
}

enum mrf_status hqstore_writes_since(struct hqstore *s, const char *post, int64_t after,
                                     int64_t window, const uint8_t not_device[MRF_ID],
                                     hqstore_unseen_fn fn, void *arg)
{
    sqlite3_stmt *st = get(s, H_ROWS_SINCE);
    enum mrf_status rc = MRF_OK;
    uint8_t id[MRF_ID], device[MRF_ID];
    int r;

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_blob(st, 3, not_device, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, window > 0 ? window : INT64_MAX);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (!hqs_column_blob(st, 1, id, MRF_ID))
            continue;
        if (!hqs_column_blob(st, 4, device, MRF_ID))
            memset(device, 0, MRF_ID);
        rc = fn(arg, (enum sync_table)sqlite3_column_int(st, 0), id, sqlite3_column_int(st, 2),
                (hlc_t)sqlite3_column_int64(st, 3), device);
        if (rc != MRF_OK)
            goto out;
    }
    if (r != SQLITE_DONE)
        rc = hqs_fail(s, "reading the writes a device has not seen");
out:
    sqlite3_reset(st);
    return rc;
}

/* The HQ store's figures for `mrf-hq report` (hq/report.c): each query aggregates in SQL
 * (GROUP BY) and returns rows of one shape, struct hq_report_row, so one reader serves them
 * all and the report's cost grows with the number of groups, not of grants. Statements live in
 * report_sql[] beside their enum (hqstore.h, enum hqstore_report_query), prepared on first use
 * through hqs_stmt. Amounts stay int64 cents per currency: SQLite's sum() of integers is exact
 * and fails with "integer overflow" rather than rounding. Nothing here reads a sealed column. */
#include <sqlite3.h>

#include "hqstore_db.h"

/* Every query selects these 15 columns, in this order. */
#define COLS(post, kind, year, theme, status, currency, amount, committed, disbursed, grants,      \
             partners, posts, themes, conflicts, at)                                               \
    "SELECT " post ", " kind ", " year ", " theme ", " status ", " currency ", " amount            \
    ", " committed ", " disbursed ", " grants ", " partners ", " posts ", " themes ", " conflicts  \
    ", " at

/* ?1 post or NULL, ?2 year or 0, for table alias t. */
#define SCOPE(t) " (?1 IS NULL OR " t ".post = ?1) AND (?2 = 0 OR " t ".year = ?2)"
/* A grant that counts: not removed, complete, of a post HQ knows (joined as p). */
#define LIVE                                                                                       \
    " g.removed = 0 AND g.year IS NOT NULL AND g.amount_cents IS NOT NULL"                         \
    " AND g.currency IS NOT NULL AND g.status IS NOT NULL AND"
#define COMMITTED                                                                                  \
    "sum(CASE WHEN g.status IN ('committed', 'disbursed', 'closed') THEN g.amount_cents"           \
    " ELSE 0 END)"
#define DISBURSED                                                                                  \
    "sum(CASE WHEN g.status IN ('disbursed', 'closed') THEN g.amount_cents ELSE 0 END)"
#define GRANTS_FROM " FROM grants g JOIN posts p ON p.code = g.post WHERE"

static const char *const report_sql[HQR_QUERY_COUNT] = {
    /* received and conflicts are read once each, grouped, not once per post */
    [HQR_POSTS] = COLS(
        "p.code", "p.kind", "0", "''", "''", "''", "0", "0", "0", "0", "0", "0", "0",
        "coalesce(c.n, 0)",
        "coalesce(r.last, 0)") " FROM posts p"
                               " LEFT JOIN (SELECT post, max(received_at) AS last FROM received"
                               "            WHERE verdict = 'accepted' GROUP BY post) r ON r.post "
                               "= p.code"
                               " LEFT JOIN (SELECT post, count(*) AS n FROM conflicts"
                               "            WHERE closed_at IS NULL GROUP BY post) c ON c.post = "
                               "p.code"
                               " WHERE (?1 IS NULL OR p.code = ?1) AND ?2 = ?2 ORDER BY p.code",
    [HQR_ALLOCATION] =
        COLS("a.post", "''", "a.year", "''", "''", "coalesce(a.currency, 'EUR')",
             "sum(a.amount_cents)", "0", "0", "0", "0", "0", "0", "0",
             "0") " FROM allocations a JOIN posts p ON p.code = a.post"
                  " WHERE a.year IS NOT NULL AND a.amount_cents IS NOT NULL AND" SCOPE(
                      "a") " GROUP BY 1, 3, 6 ORDER BY 1, 3, 6",
    [HQR_POST_YEAR] = COLS("g.post", "''", "g.year", "''", "''", "g.currency", "0", COMMITTED,
                           DISBURSED, "count(*)", "count(DISTINCT g.partner)", "0", "0", "0", "0")
        GRANTS_FROM LIVE " g.status <> 'cancelled' AND" SCOPE(
            "g") " GROUP BY g.post, g.year, g.currency ORDER BY 1, 3, 6",
    [HQR_POST_THEME] = COLS("g.post", "''", "g.year", "coalesce(g.theme, '?')", "''", "g.currency",
                            "0", COMMITTED, DISBURSED, "count(*)", "count(DISTINCT g.partner)", "0",
                            "0", "0", "0") GRANTS_FROM LIVE
    " g.status <> 'cancelled' AND" SCOPE("g") " GROUP BY 1, 3, 4, 6 ORDER BY 1, 3, 4, 6",
    [HQR_STATUS] =
        COLS("g.post", "''", "g.year", "''", "g.status", "g.currency", "sum(g.amount_cents)", "0",
             "0", "count(*)", "count(DISTINCT g.partner)", "0", "0", "0", "0")
            GRANTS_FROM LIVE SCOPE("g") " GROUP BY 1, 3, 5, 6 ORDER BY 1, 3,"
                                        " CASE g.status WHEN 'draft' THEN 0"
                                        " WHEN 'committed' THEN 1 WHEN 'disbursed' THEN 2"
                                        " WHEN 'closed' THEN 3 WHEN 'cancelled' THEN 4"
                                        " ELSE 5 END, 5, 6",
    [HQR_THEME_POSTS] =
        COLS("''", "''", "t.year", "t.theme", "''", "''", "0", "0", "0", "0", "0",
             "count(DISTINCT t.post)", "0", "0",
             "0") " FROM themes t JOIN posts p ON p.code = t.post"
                  " WHERE t.removed = 0 AND t.year IS NOT NULL AND t.theme IS NOT NULL AND" SCOPE(
                      "t") " GROUP BY 3, 4 ORDER BY 3, 4",
    /* the codes come from an ordered subquery, so group_concat lists them alphabetically */
    [HQR_POST_THEMES] = COLS(
        "x.post", "''", "x.year", "group_concat(x.theme, ' ')", "''", "''", "0", "0", "0", "0", "0",
        "0", "count(*)", "0",
        "0") " FROM (SELECT DISTINCT t.post, t.year, t.theme FROM themes t"
             "       JOIN posts p ON p.code = t.post"
             "       WHERE t.removed = 0 AND t.year IS NOT NULL AND t.theme IS NOT NULL AND" SCOPE(
                 "t") "       ORDER BY 1, 2, 3) x GROUP BY 1, 3 ORDER BY 1, 3",
};

enum mrf_status hqstore_report_scan(struct hqstore *s, enum hqstore_report_query q,
                                    const char *post, int year, hqstore_report_fn fn, void *arg)
{
    enum mrf_status rc = MRF_OK;
    struct hq_report_row r;
    sqlite3_stmt *st;
    int step;

    _Static_assert(HQR_QUERY_COUNT <= HQS_AREA_SLOTS, "report statements fit their area");
    if (q < 0 || q >= HQR_QUERY_COUNT)
        return mrf_error_set(&s->err, MRF_E_INTERNAL, "HQ store: no report query %d", (int)q);
    st = hqs_stmt(s, HQS_AREA_REPORT, (int)q, report_sql[q]);
    if (st == NULL)
        return MRF_E_IO;
    if (post != NULL)
        sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int(st, 2, year);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        hqs_column_text(st, 0, r.post, sizeof r.post);
        hqs_column_text(st, 1, r.kind, sizeof r.kind);
        r.year = sqlite3_column_int(st, 2);
        hqs_column_text(st, 3, r.theme, sizeof r.theme);
        hqs_column_text(st, 4, r.status, sizeof r.status);
        hqs_column_text(st, 5, r.currency, sizeof r.currency);
        r.amount = sqlite3_column_int64(st, 6);
        r.committed = sqlite3_column_int64(st, 7);
        r.disbursed = sqlite3_column_int64(st, 8);
        r.grants = sqlite3_column_int64(st, 9);
        r.partners = sqlite3_column_int64(st, 10);
        r.posts = sqlite3_column_int64(st, 11);
        r.themes = sqlite3_column_int64(st, 12);
        r.conflicts = sqlite3_column_int64(st, 13);
        r.at = sqlite3_column_int64(st, 14);
        rc = fn(arg, &r);
        if (rc != MRF_OK)
            break;
    }
    if (rc == MRF_OK && step != SQLITE_DONE)
        rc = hqs_fail(s, "reading the report's figures");
    sqlite3_reset(st);
    return rc;
}

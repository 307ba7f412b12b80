/* Measures `mrf-hq report` in process: hq_report_build() over an HQ store of POSTS posts x
 * YEARS years x GRANTS grants per post-year (36 x 2 x 5,000 in bench/run.sh), beside the floor,
 * one plain SQL aggregate over the same rows on the same connection:
 *   SELECT post, theme, year, currency, sum(amount_cents) FROM grants WHERE removed = 0
 *   GROUP BY post, theme, year, currency
 * stepped to its last row. The report runs seven grouped queries (grants by post-year and by
 * post-theme-year, themes twice, allocations, years, posts with their syncs and conflicts) and
 * joins their few rows in C; the
 * ratio says what that costs over the one scan. Also timed: building plus printing the table
 * and the CSV (to /dev/null).
 *
 * The rows are written straight into the HQ schema in one transaction, with the same columns
 * and values a merge leaves (ids random, codes "G-" + a number, themes two per post-year,
 * allocations per post-year, accepted change sets per post), not through hqstore_apply: the
 * report reads rows, not ops, and 2.5 million merged ops would take minutes to write. Only
 * the report and the aggregate are timed; they alternate, after one warm-up each.
 *
 * Checks what it measures: the report's grant count and committed total per currency equal
 * what SQL counts directly. Figures, never pass/fail on time.
 *
 * usage: bench_report DIR POSTS YEARS GRANTS_PER_POST_YEAR [RUNS]
 *   DIR: a new directory for the store (must not hold one). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "common.h"
#include "hq.h"
#include "hqstore.h"
#include "mrfcrypto.h"
#include "mrfsync.h"
#include "benchhq.h"
#include "stats.h"

static void exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        bench_die(sql, sqlite3_errmsg(db));
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        bench_die(sql, sqlite3_errmsg(db));
    return st;
}

static void step_done(sqlite3 *db, sqlite3_stmt *st)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        bench_die("insert", sqlite3_errmsg(db));
    sqlite3_reset(st);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 2685821657736338717ULL) >> 32) % n;
}

/* Fills the store at path: posts, themes, allocations, grants, accepted change sets. */
static void fill(const char *path, int posts, int years, int grants)
{
    static const char *const statuses[] = {"draft", "committed", "disbursed", "closed",
                                           "cancelled"};
    sqlite3 *db = NULL;
    sqlite3_stmt *ps, *ts, *as, *gs, *rs;
    uint8_t id[MRF_ID], partner[MRF_ID];
    int64_t now = (int64_t)time(NULL);
    long code = 0;

    if (sqlite3_open(path, &db) != SQLITE_OK)
        bench_die(path, sqlite3_errmsg(db));
    exec(db, "PRAGMA synchronous = FULL");
    exec(db, "BEGIN IMMEDIATE");
    ps = prep(db, "INSERT INTO posts (code, kind, created_at) VALUES (?1, 'bilateral', 1)");
    ts = prep(db, "INSERT INTO themes (id, post, year, theme, removed) VALUES (?1, ?2, ?3, ?4, 0)");
    as = prep(db, "INSERT INTO allocations (id, post, year, amount_cents, currency)"
                  " VALUES (?1, ?2, ?3, ?4, 'EUR')");
    gs = prep(db, "INSERT INTO grants (id, post, code, partner, theme, year, amount_cents,"
                  " currency, status, removed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    rs = prep(db, "INSERT INTO received (id, device, post, verdict, received_at)"
                  " VALUES (?1, ?2, ?3, 'accepted', ?4)");
    for (int p = 0; p < posts; p++) {
        char post[16];
        snprintf(post, sizeof post, "P%03d", p);
        sqlite3_bind_text(ps, 1, post, -1, SQLITE_TRANSIENT);
        step_done(db, ps);
        for (int k = 0; k < 3; k++) { /* a few syncs each */
            mrf_random(id, MRF_ID);
            sqlite3_bind_blob(rs, 1, id, MRF_ID, SQLITE_TRANSIENT);
            sqlite3_bind_blob(rs, 2, id, MRF_ID, SQLITE_TRANSIENT);
            sqlite3_bind_text(rs, 3, post, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(rs, 4, now - (int64_t)rnd(30 * 86400));
            step_done(db, rs);
        }
        for (int y = 0; y < years; y++) {
            int year = 2026 + y, t1 = (int)rnd(THEME_COUNT), t2 = (t1 + 1 + (int)rnd(5)) % 6;
            const char *themes[2] = {theme_code(t1), theme_code(t2)};
            for (int k = 0; k < 2; k++) {
                row_id_derive(id, "themes", post, year, themes[k]);
                sqlite3_bind_blob(ts, 1, id, MRF_ID, SQLITE_TRANSIENT);
                sqlite3_bind_text(ts, 2, post, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int(ts, 3, year);
                sqlite3_bind_text(ts, 4, themes[k], -1, SQLITE_STATIC);
                step_done(db, ts);
            }
            row_id_derive(id, "allocations", post, year, NULL);
            sqlite3_bind_blob(as, 1, id, MRF_ID, SQLITE_TRANSIENT);
            sqlite3_bind_text(as, 2, post, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(as, 3, year);
            sqlite3_bind_int64(as, 4, (int64_t)grants * 2000000);
            step_done(db, as);
            for (int g = 0; g < grants; g++) {
                char gcode[32];
                mrf_random(id, MRF_ID);
                memset(partner, 0, sizeof partner);
                partner[0] = (uint8_t)rnd(200); /* 200 partners per post */
                snprintf(gcode, sizeof gcode, "G-%06ld", ++code);
                sqlite3_bind_blob(gs, 1, id, MRF_ID, SQLITE_TRANSIENT);
                sqlite3_bind_text(gs, 2, post, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(gs, 3, gcode, -1, SQLITE_TRANSIENT);
                sqlite3_bind_blob(gs, 4, partner, MRF_ID, SQLITE_TRANSIENT);
                sqlite3_bind_text(gs, 5, themes[rnd(2)], -1, SQLITE_STATIC);
                sqlite3_bind_int(gs, 6, year);
                sqlite3_bind_int64(gs, 7, 100 * (int64_t)(1 + rnd(50000)));
                sqlite3_bind_text(gs, 8, rnd(10) == 0 ? "USD" : "EUR", -1, SQLITE_STATIC);
                sqlite3_bind_text(gs, 9, statuses[rnd(5)], -1, SQLITE_STATIC);
                sqlite3_bind_int(gs, 10, rnd(50) == 0);
                step_done(db, gs);
            }
        }
    }
    sqlite3_finalize(ps);
    sqlite3_finalize(ts);
    sqlite3_finalize(as);
    sqlite3_finalize(gs);
    sqlite3_finalize(rs);
    exec(db, "COMMIT");
    exec(db, "ANALYZE");
    sqlite3_close(db);
}

/* The floor: one GROUP BY over the same rows, stepped to the end. OUT: the number of groups. */
static int64_t plain_aggregate(sqlite3 *db)
{
    static const char *sql = "SELECT post, theme, year, currency, sum(amount_cents) FROM grants"
                             " WHERE removed = 0 GROUP BY post, theme, year, currency";
    sqlite3_stmt *st = prep(db, sql);
    int64_t n = 0, sum = 0;
    int r;

    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        sum += sqlite3_column_int64(st, 4);
        n++;
    }
    if (r != SQLITE_DONE || sum <= 0)
        bench_die("plain aggregate", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return n;
}

static cJSON *report(struct hqstore *s, int64_t now)
{
    struct hq_report_opts o = {NULL, 0, HQ_REPORT_BY_POST, now};
    struct mrf_error err = {0};
    cJSON *r = NULL;

    if (hq_report_build(s, &o, &r, &err) != MRF_OK)
        bench_die("report", err.msg);
    return r;
}

/* The report's totals against SQL's own count and sums. */
static void check(sqlite3 *db, const cJSON *r)
{
    sqlite3_stmt *st = prep(db, "SELECT year, currency, count(*), sum(CASE WHEN status IN"
                                " ('committed', 'disbursed', 'closed') THEN amount_cents ELSE 0"
                                " END) FROM grants WHERE removed = 0 AND status <> 'cancelled'"
                                " GROUP BY 1, 2 ORDER BY 1, 2");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "totals")->child;
    int n = 0;

    while (sqlite3_step(st) == SQLITE_ROW) {
        char want[32];
        money_format(sqlite3_column_int64(st, 3), want);
        if (t == NULL ||
            cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "year")) !=
                sqlite3_column_int(st, 0) ||
            strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "currency")),
                   (const char *)sqlite3_column_text(st, 1)) != 0 ||
            (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "grants")) !=
                sqlite3_column_int64(st, 2) ||
            strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "committed")), want) !=
                0)
            bench_die("check", "the report's totals differ from SQL's own count and sum");
        t = t->next;
        n++;
    }
    sqlite3_finalize(st);
    if (n == 0 || t != NULL)
        bench_die("check", "the report has other totals than SQL");
}

int main(int argc, char **argv)
{
    struct mrf_error err = {0};
    struct hqstore *s = NULL;
    sqlite3 *db = NULL;
    char *path;
    int posts, years, grants, runs;
    int64_t v[4] = {0, 0, 0, 7};
    double *rep, *agg, *tab, *csv;
    int64_t groups = 0, now = (int64_t)time(NULL);
    FILE *devnull;

    if (argc < 5 || argc > 6)
        bench_die("usage", "bench_report DIR POSTS YEARS GRANTS_PER_POST_YEAR [RUNS]");
    if (parse_int64(argv[2], 1, 999, &v[0]) != MRF_OK ||
        parse_int64(argv[3], 1, 50, &v[1]) != MRF_OK ||
        parse_int64(argv[4], 1, 1000000, &v[2]) != MRF_OK ||
        (argc == 6 && parse_int64(argv[5], 1, 1000, &v[3]) != MRF_OK))
        bench_die("usage", "POSTS 1-999, YEARS 1-50, GRANTS 1-1000000, RUNS 1-1000");
    posts = (int)v[0];
    years = (int)v[1];
    grants = (int)v[2];
    runs = (int)v[3];
    if (mrfcrypto_init() != MRF_OK)
        bench_die("libsodium", "cannot initialise");
    if (dir_ensure(argv[1], &err) != MRF_OK)
        bench_die(argv[1], err.msg);
    if (hqstore_open(argv[1], HQSTORE_CREATE, &s, &err) != MRF_OK)
        bench_die("store", err.msg);
    hqstore_close(s);
    path = xasprintf("%s/%s", argv[1], HQSTORE_FILE);
    fill(path, posts, years, grants);

    if (hqstore_open(argv[1], HQSTORE_EXISTING, &s, &err) != MRF_OK)
        bench_die("store", err.msg);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        bench_die(path, sqlite3_errmsg(db));
    devnull = fopen("/dev/null", "w");
    if (devnull == NULL)
        bench_die("/dev/null", "cannot open");
    rep = xcalloc((size_t)runs, sizeof *rep);
    agg = xcalloc((size_t)runs, sizeof *agg);
    tab = xcalloc((size_t)runs, sizeof *tab);
    csv = xcalloc((size_t)runs, sizeof *csv);

    {
        cJSON *r = report(s, now); /* warm-up, and the check */
        check(db, r);
        cJSON_Delete(r);
        plain_aggregate(db);
    }
    for (int i = 0; i < runs; i++) {
        double t0 = now_ms();
        cJSON *r = report(s, now);
        rep[i] = now_ms() - t0;
        cJSON_Delete(r);

        t0 = now_ms();
        groups = plain_aggregate(db);
        agg[i] = now_ms() - t0;

        t0 = now_ms();
        r = report(s, now);
        if (hq_report_print(r, HQ_REPORT_TABLE, devnull) != MRF_OK)
            bench_die("print", "table");
        tab[i] = now_ms() - t0;
        cJSON_Delete(r);

        t0 = now_ms();
        r = report(s, now);
        if (hq_report_print(r, HQ_REPORT_CSV, devnull) != MRF_OK)
            bench_die("print", "csv");
        csv[i] = now_ms() - t0;
        cJSON_Delete(r);
    }
    {
        double mr = median(rep, runs), ma = median(agg, runs);
        printf("report_grants=%lld\n", (long long)posts * years * grants);
        printf("report_groups=%lld\n", (long long)groups);
        printf("report_build_median_ms=%.2f\n", mr);
        printf("report_table_median_ms=%.2f\n", median(tab, runs));
        printf("report_csv_median_ms=%.2f\n", median(csv, runs));
        printf("plain_aggregate_median_ms=%.2f\n", ma);
        printf("report_ratio_to_aggregate=%.2f\n", mr / ma);
    }
    fclose(devnull);
    x_free(rep);
    x_free(agg);
    x_free(tab);
    x_free(csv);
    sqlite3_close(db);
    hqstore_close(s);
    x_free(path);
    return 0;
}

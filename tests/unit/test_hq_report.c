/* Check suite for `mrf-hq report`'s figures (hq/report.c, hq/hqstore_report.c), on a real HQ
 * store in a temporary directory. Domain rows are written as HQ writes them, as ops through
 * hqstore_apply (the merge and the oplog); change set verdicts through hqstore_received_put;
 * open conflicts as rows of the conflicts table through a separate connection (the queue's
 * writer lives in another module). Random data (seeded; the seed is printed, MRF_TEST_SEED
 * repeats a run) over several posts, years, themes, currencies and statuses, removed grants
 * included: every figure of the report equals an independent computation in plain C loops over
 * the generated rows, every total equals the sum of its rows per currency, and the CSV is
 * RFC 4180. One hand-computed case pins the definitions down. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "testutil.h"
#include "common.h"
#include "hq.h"
#include "hqstore.h"
#include "mrfcrypto.h"
#include "mrfsync.h"
#include "hqtest.h"

#define NPOSTS 6
#define NYEARS 2
#define NCUR 3
#define NPARTNERS 5 /* per post */
#define MAXGRANTS 400

static const char *const post_codes[NPOSTS] = {"ACC-X", "BKK", "GVA", "KAB", "NAI", "ZZ9"};
static const int years[NYEARS] = {2026, 2027};
static const char *const currencies[NCUR] = {"EUR", "USD", "XOF"};
static const char *const statuses[GS_COUNT] = {"draft", "committed", "disbursed", "closed",
                                               "cancelled"};

static char home[64];
static struct hqstore *store;
static uint64_t rng_state;
static hlc_t clock_next = 1000;
static uint8_t writer[MRF_ID];

static uint32_t rnd(uint32_t n)
{
    /* xorshift64*: the same seed gives the same data on every machine */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32) % n;
}

static void setup(void)
{
    struct mrf_error err = {0};

    testutil_tmpdir(home, sizeof home, "report");
    ck_assert_msg(hqstore_open(home, HQSTORE_CREATE, &store, &err) == MRF_OK, "%s", err.msg);
    mrf_random(writer, MRF_ID);
}

static void teardown(void)
{
    hqstore_close(store);
    store = NULL;
    testutil_rmtree(home);
}

/* ---- writing rows as ops ------------------------------------------------------------------ */

static void put(const char *post, enum sync_table t, const uint8_t id[MRF_ID], int col,
                struct sync_value v)
{
    hqtest_put(store, post, t, id, col, v, clock_next++, writer);
}

static struct sync_value vint(int64_t i)
{
    return (struct sync_value){.type = SYNC_INT, .i = i};
}
static struct sync_value vtext(const char *s)
{
    return (struct sync_value){.type = SYNC_TEXT, .text = s};
}

static void theme_put(const char *post, int year, const char *theme, int removed)
{
    uint8_t id[MRF_ID];

    row_id_derive(id, "themes", post, year, theme);
    put(post, ST_THEMES, id, THEME_YEAR, vint(year));
    put(post, ST_THEMES, id, THEME_THEME, vtext(theme));
    put(post, ST_THEMES, id, THEME_REMOVED, vint(removed));
}

static void alloc_put(const char *post, int year, int64_t cents, const char *cur)
{
    uint8_t id[MRF_ID];

    row_id_derive(id, "allocations", post, year, NULL);
    put(post, ST_ALLOCATIONS, id, ALLOC_YEAR, vint(year));
    put(post, ST_ALLOCATIONS, id, ALLOC_AMOUNT, vint(cents));
    put(post, ST_ALLOCATIONS, id, ALLOC_CURRENCY, vtext(cur));
}

static void grant_put(const char *post, const uint8_t partner[MRF_ID], const char *theme, int year,
                      int64_t cents, const char *cur, const char *status, int removed)
{
    uint8_t id[MRF_ID];

    mrf_random(id, MRF_ID);
    put(post, ST_GRANTS, id, GRANT_PARTNER,
        (struct sync_value){.type = SYNC_BLOB, .blob = partner, .n = MRF_ID});
    put(post, ST_GRANTS, id, GRANT_THEME, vtext(theme));
    put(post, ST_GRANTS, id, GRANT_YEAR, vint(year));
    put(post, ST_GRANTS, id, GRANT_AMOUNT, vint(cents));
    put(post, ST_GRANTS, id, GRANT_CURRENCY, vtext(cur));
    put(post, ST_GRANTS, id, GRANT_STATUS, vtext(status));
    put(post, ST_GRANTS, id, GRANT_REMOVED, vint(removed));
}

static void received_put(const char *post, const char *verdict, int64_t at)
{
    struct hq_received r;
    uint8_t id[MRF_ID];

    memset(&r, 0, sizeof r);
    mrf_random(id, MRF_ID);
    mrf_random(r.device, MRF_ID);
    str_copy(r.post, post, sizeof r.post);
    str_copy(r.verdict, verdict, sizeof r.verdict);
    ck_assert_int_eq(hqstore_received_put(store, id, &r, at), MRF_OK);
}

/* Conflict records straight into the table (their writer is the conflict queue's module). */
static void conflict_put(const char *id, const char *post, int closed)
{
    char *path = xasprintf("%s/%s", home, HQSTORE_FILE), *sql;
    sqlite3 *db = NULL;

    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sql = xasprintf("INSERT INTO conflicts (id, post, kind, rule, subject, rows, detail,"
                    " opened_at, updated_at, closed_at, cseq) VALUES ('%s', '%s', 'rule',"
                    " 'over_allocation', 'x %s', '', '', 1, 1, %s, (SELECT coalesce(max(cseq),"
                    " 0) + 1 FROM conflicts WHERE post = '%s'))",
                    id, post, id, closed ? "2" : "NULL", post);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    x_free(sql);
    x_free(path);
}

/* ---- reading the report ------------------------------------------------------------------- */

static cJSON *build(const char *post, int year, enum hq_report_by by, int64_t now)
{
    struct hq_report_opts o = {post, year, by, now};
    struct mrf_error err = {0};
    cJSON *r = NULL;

    ck_assert_msg(hq_report_build(store, &o, &r, &err) == MRF_OK, "%s", err.msg);
    ck_assert_ptr_nonnull(r);
    return r;
}

static const char *s_of(const cJSON *o, const char *k)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return v ? v : "";
}
static int64_t n_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    ck_assert_msg(cJSON_IsNumber(v), "%s is not a number", k);
    return (int64_t)v->valuedouble;
}
static int is_null(const cJSON *o, const char *k)
{
    return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, k));
}
/* "12500.00" or "-120.50" in cents; fails the test on anything else. */
static int64_t cents_of(const cJSON *o, const char *k)
{
    const char *s = s_of(o, k), *dot = strchr(s, '.');
    int64_t whole = 0, frac = 0;
    int neg = s[0] == '-';

    ck_assert_msg(dot != NULL && strlen(dot) == 3, "%s=\"%s\" is not an amount", k, s);
    {
        char w[32];
        size_t n = (size_t)(dot - s) - (size_t)neg;
        ck_assert_uint_lt(n, sizeof w);
        memcpy(w, s + neg, n);
        w[n] = '\0';
        ck_assert_int_eq(parse_int64(w, 0, INT64_MAX / 100, &whole), MRF_OK);
        ck_assert_int_eq(parse_int64(dot + 1, 0, 99, &frac), MRF_OK);
    }
    return (neg ? -1 : 1) * (whole * 100 + frac);
}
static cJSON *arr_of(const cJSON *r, const char *k)
{
    cJSON *a = cJSON_GetObjectItemCaseSensitive(r, k);
    ck_assert_msg(cJSON_IsArray(a), "%s is not an array", k);
    return a;
}

/* ---- the independent computation --------------------------------------------------------------
 */

struct g {
    int post, year, theme, cur, status, partner, removed;
    int64_t cents;
};

struct model {
    struct g grants[MAXGRANTS];
    int ngrants;
    int has_alloc[NPOSTS][NYEARS];
    int alloc_cur[NPOSTS][NYEARS];
    int64_t alloc[NPOSTS][NYEARS];
    int theme_on[NPOSTS][NYEARS][THEME_COUNT];
};

static int counts(const struct g *x)
{
    return !x->removed && x->status != GS_CANCELLED;
}
static int commits(const struct g *x)
{
    return counts(x) && x->status != GS_DRAFT;
}
static int disburses(const struct g *x)
{
    return counts(x) && (x->status == GS_DISBURSED || x->status == GS_CLOSED);
}

/* The figures of the grants matching (post, year, theme, cur); -1 means any. */
struct fig {
    int64_t committed, disbursed, grants, partners, posts;
};
static struct fig figures(const struct model *m, int post, int year, int theme, int cur)
{
    struct fig f = {0, 0, 0, 0, 0};
    unsigned seen[NPOSTS] = {0};

    for (int i = 0; i < m->ngrants; i++) {
        const struct g *x = &m->grants[i];
        if (!counts(x) || (post >= 0 && x->post != post) || (year >= 0 && x->year != year) ||
            (theme >= 0 && x->theme != theme) || (cur >= 0 && x->cur != cur))
            continue;
        f.grants++;
        f.committed += commits(x) ? x->cents : 0;
        f.disbursed += disburses(x) ? x->cents : 0;
        seen[x->post] |= 1u << x->partner;
    }
    for (int p = 0; p < NPOSTS; p++) {
        f.partners += __builtin_popcount(seen[p]);
        f.posts += seen[p] != 0;
    }
    return f;
}

static int index_of(const char *const *list, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return i;
    ck_abort_msg("unexpected value %s", s);
    return -1;
}
static int post_ix(const char *s)
{
    return index_of(post_codes, NPOSTS, s);
}
static int year_ix(int64_t y)
{
    for (int i = 0; i < NYEARS; i++)
        if (years[i] == y)
            return i;
    ck_abort_msg("unexpected year %" PRId64, y);
    return -1;
}
static int cur_ix(const char *s)
{
    return index_of(currencies, NCUR, s);
}
static int theme_ix(const char *s)
{
    int t = theme_index(s);
    ck_assert_int_ge(t, 0);
    return t;
}

/* Random posts' data, written through hqstore_apply in one transaction. */
static void generate(struct model *m)
{
    uint8_t partners[NPOSTS][NPARTNERS][MRF_ID];

    memset(m, 0, sizeof *m);
    mrf_random((uint8_t *)partners, sizeof partners);
    ck_assert_int_eq(hqstore_begin(store), MRF_OK);
    for (int p = 0; p < NPOSTS; p++)
        ck_assert_int_eq(hqstore_post_add(store, post_codes[p],
                                          p % 2 ? "multilateral" : "bilateral", NULL, 0, 1),
                         MRF_OK);
    for (int p = 0; p < NPOSTS; p++) {
        for (int y = 0; y < NYEARS; y++) {
            /* 0 to 3 themes, sometimes one removed again */
            int n = (int)rnd(4);
            for (int k = 0; k < n; k++) {
                int t = (int)rnd(THEME_COUNT);
                int removed = rnd(6) == 0;
                theme_put(post_codes[p], years[y], theme_code(t), removed);
                m->theme_on[p][y][t] = !removed;
            }
            if (rnd(4) != 0) {
                m->has_alloc[p][y] = 1;
                m->alloc_cur[p][y] = (int)rnd(2); /* EUR or USD */
                m->alloc[p][y] = 100 * (int64_t)(1 + rnd(400000));
                alloc_put(post_codes[p], years[y], m->alloc[p][y], currencies[m->alloc_cur[p][y]]);
            }
        }
    }
    m->ngrants = 150 + (int)rnd(MAXGRANTS - 150);
    for (int i = 0; i < m->ngrants; i++) {
        struct g *x = &m->grants[i];
        x->post = (int)rnd(NPOSTS - 1); /* the last post never has a grant */
        x->year = (int)rnd(NYEARS);
        x->theme = (int)rnd(THEME_COUNT);
        x->cur = rnd(5) == 0 ? (int)rnd(NCUR) : m->alloc_cur[x->post][x->year];
        x->status = (int)rnd(GS_COUNT);
        x->partner = (int)rnd(NPARTNERS);
        x->removed = rnd(10) == 0;
        x->cents = 1 + (int64_t)rnd(5000000);
        grant_put(post_codes[x->post], partners[x->post][x->partner], theme_code(x->theme),
                  years[x->year], x->cents, currencies[x->cur], statuses[x->status], x->removed);
    }
    ck_assert_int_eq(hqstore_commit(store), MRF_OK);
}

/* ---- the checks ------------------------------------------------------------------------------ */

/* by post: every line against the model; theme lines sum to their post-year line; every
 * post-year line that should be there is. */
static void check_by_post(const struct model *m, const cJSON *r)
{
    const cJSON *row;
    int lines = 0, want_lines = 0, theme_rows = 0, want_theme_rows = 0;
    int64_t sum_c[NPOSTS][NYEARS][NCUR] = {{{0}}}, sum_g[NPOSTS][NYEARS][NCUR] = {{{0}}};

    cJSON_ArrayForEach(row, arr_of(r, "rows")) {
        int p = post_ix(s_of(row, "post")), y = year_ix(n_of(row, "year"));
        int c = cur_ix(s_of(row, "currency"));
        const char *sec = s_of(row, "section");
        if (strcmp(sec, "post_theme") == 0) {
            int t = theme_ix(s_of(row, "theme"));
            struct fig f = figures(m, p, y, t, c);
            ck_assert_int_eq(cents_of(row, "committed"), f.committed);
            ck_assert_int_eq(cents_of(row, "disbursed"), f.disbursed);
            ck_assert_int_eq(n_of(row, "grants"), f.grants);
            ck_assert_int_eq(n_of(row, "partners"), f.partners);
            ck_assert(is_null(row, "allocation") || !cJSON_HasObjectItem(row, "allocation"));
            sum_c[p][y][c] += cents_of(row, "committed");
            sum_g[p][y][c] += n_of(row, "grants");
            theme_rows++;
        } else {
            struct fig f = figures(m, p, y, -1, c);
            int alloc = m->has_alloc[p][y] && m->alloc_cur[p][y] == c;
            ck_assert_str_eq(sec, "post_year");
            ck_assert_int_eq(cents_of(row, "committed"), f.committed);
            ck_assert_int_eq(cents_of(row, "disbursed"), f.disbursed);
            ck_assert_int_eq(n_of(row, "grants"), f.grants);
            ck_assert_int_eq(n_of(row, "partners"), f.partners);
            if (alloc) {
                ck_assert_int_eq(cents_of(row, "allocation"), m->alloc[p][y]);
                ck_assert_int_eq(cents_of(row, "remaining"), m->alloc[p][y] - f.committed);
            } else {
                ck_assert(is_null(row, "allocation") && is_null(row, "remaining"));
            }
            /* its theme lines came before it and add up to it */
            ck_assert_int_eq(sum_c[p][y][c], f.committed);
            ck_assert_int_eq(sum_g[p][y][c], f.grants);
            lines++;
        }
    }
    for (int p = 0; p < NPOSTS; p++)
        for (int y = 0; y < NYEARS; y++)
            for (int c = 0; c < NCUR; c++) {
                want_lines += figures(m, p, y, -1, c).grants > 0 ||
                              (m->has_alloc[p][y] && m->alloc_cur[p][y] == c);
                for (int t = 0; t < THEME_COUNT; t++)
                    want_theme_rows += figures(m, p, y, t, c).grants > 0;
            }
    ck_assert_int_eq(lines, want_lines);
    ck_assert_int_eq(theme_rows, want_theme_rows);
}

/* Totals: per year and currency, equal to the model and (--by post) to the sums of the
 * post-year lines. */
static void check_totals(const struct model *m, const cJSON *r)
{
    const cJSON *t, *row;
    int n = 0, want = 0;

    cJSON_ArrayForEach(t, arr_of(r, "totals")) {
        int y = year_ix(n_of(t, "year")), c = cur_ix(s_of(t, "currency"));
        struct fig f = figures(m, -1, y, -1, c);
        int64_t alloc = 0, rem = 0, sum_c = 0, sum_d = 0, sum_g = 0, sum_p = 0, sum_a = 0;
        int any_alloc = 0;

        for (int p = 0; p < NPOSTS; p++)
            if (m->has_alloc[p][y] && m->alloc_cur[p][y] == c) {
                any_alloc = 1;
                alloc += m->alloc[p][y];
                rem += m->alloc[p][y] - figures(m, p, y, -1, c).committed;
            }
        ck_assert_int_eq(cents_of(t, "committed"), f.committed);
        ck_assert_int_eq(cents_of(t, "disbursed"), f.disbursed);
        ck_assert_int_eq(n_of(t, "grants"), f.grants);
        ck_assert_int_eq(n_of(t, "partners"), f.partners);
        if (any_alloc) {
            ck_assert_int_eq(cents_of(t, "allocation"), alloc);
            ck_assert_int_eq(cents_of(t, "remaining"), rem);
        } else {
            ck_assert(is_null(t, "allocation") && is_null(t, "remaining"));
        }
        /* the same totals as sums of the report's own post-year lines */
        cJSON_ArrayForEach(row, arr_of(r, "rows")) {
            if (strcmp(s_of(row, "section"), "post_year") != 0 || n_of(row, "year") != years[y] ||
                strcmp(s_of(row, "currency"), currencies[c]) != 0)
                continue;
            sum_c += cents_of(row, "committed");
            sum_d += cents_of(row, "disbursed");
            sum_g += n_of(row, "grants");
            sum_p += n_of(row, "partners");
            if (!is_null(row, "allocation")) {
                sum_a += cents_of(row, "allocation");
                rem -= cents_of(row, "remaining");
            }
        }
        if (strcmp(s_of(r, "by"), "post") == 0) {
            ck_assert_int_eq(sum_c, cents_of(t, "committed"));
            ck_assert_int_eq(sum_d, cents_of(t, "disbursed"));
            ck_assert_int_eq(sum_g, n_of(t, "grants"));
            ck_assert_int_eq(sum_p, n_of(t, "partners"));
            ck_assert_int_eq(sum_a, alloc);
            ck_assert_int_eq(rem, 0);
        }
        n++;
    }
    for (int y = 0; y < NYEARS; y++)
        for (int c = 0; c < NCUR; c++) {
            int a = 0;
            for (int p = 0; p < NPOSTS; p++)
                a |= m->has_alloc[p][y] && m->alloc_cur[p][y] == c;
            want += a || figures(m, -1, y, -1, c).grants > 0;
        }
    ck_assert_int_eq(n, want);
}

static void check_by_theme(const struct model *m, const cJSON *r)
{
    const cJSON *row, *t;
    int n = 0, want = 0;

    cJSON_ArrayForEach(row, arr_of(r, "rows")) {
        int y = year_ix(n_of(row, "year")), c = cur_ix(s_of(row, "currency"));
        struct fig f = figures(m, -1, y, theme_ix(s_of(row, "theme")), c);
        ck_assert_str_eq(s_of(row, "section"), "theme");
        ck_assert_int_eq(cents_of(row, "committed"), f.committed);
        ck_assert_int_eq(cents_of(row, "disbursed"), f.disbursed);
        ck_assert_int_eq(n_of(row, "grants"), f.grants);
        ck_assert_int_eq(n_of(row, "partners"), f.partners);
        ck_assert_int_eq(n_of(row, "posts"), f.posts);
        n++;
    }
    for (int y = 0; y < NYEARS; y++)
        for (int c = 0; c < NCUR; c++)
            for (int k = 0; k < THEME_COUNT; k++)
                want += figures(m, -1, y, k, c).grants > 0;
    ck_assert_int_eq(n, want);
    /* the theme rows add up to the totals */
    cJSON_ArrayForEach(t, arr_of(r, "totals")) {
        int64_t c = 0, d = 0, g = 0;
        cJSON_ArrayForEach(row, arr_of(r, "rows")) {
            if (n_of(row, "year") == n_of(t, "year") &&
                strcmp(s_of(row, "currency"), s_of(t, "currency")) == 0) {
                c += cents_of(row, "committed");
                d += cents_of(row, "disbursed");
                g += n_of(row, "grants");
            }
        }
        ck_assert_int_eq(c, cents_of(t, "committed"));
        ck_assert_int_eq(d, cents_of(t, "disbursed"));
        ck_assert_int_eq(g, n_of(t, "grants"));
    }
}

static void check_by_status(const struct model *m, const cJSON *r)
{
    const cJSON *row;
    int n = 0, want = 0;

    cJSON_ArrayForEach(row, arr_of(r, "rows")) {
        int p = post_ix(s_of(row, "post")), y = year_ix(n_of(row, "year"));
        int c = cur_ix(s_of(row, "currency"));
        int st = grant_status_parse(s_of(row, "status"));
        int64_t sum = 0, cnt = 0;
        ck_assert_int_ge(st, 0);
        for (int i = 0; i < m->ngrants; i++) {
            const struct g *x = &m->grants[i];
            if (!x->removed && x->post == p && x->year == y && x->cur == c && x->status == st) {
                sum += x->cents;
                cnt++;
            }
        }
        ck_assert_int_eq(cents_of(row, "amount"), sum);
        ck_assert_int_eq(n_of(row, "grants"), cnt);
        n++;
    }
    for (int p = 0; p < NPOSTS; p++)
        for (int y = 0; y < NYEARS; y++)
            for (int c = 0; c < NCUR; c++)
                for (int st = 0; st < GS_COUNT; st++) {
                    int any = 0;
                    for (int i = 0; i < m->ngrants && !any; i++) {
                        const struct g *x = &m->grants[i];
                        any = !x->removed && x->post == p && x->year == y && x->cur == c &&
                              x->status == st;
                    }
                    want += any;
                }
    ck_assert_int_eq(n, want);
}

/* Themes chosen per year and the theme exceptions, against the model. */
static void check_themes(const struct model *m, const cJSON *r)
{
    const cJSON *row;
    int n = 0;

    cJSON_ArrayForEach(row, arr_of(r, "themes_chosen")) {
        int y = year_ix(n_of(row, "year")), t = theme_ix(s_of(row, "theme")), want = 0;
        for (int p = 0; p < NPOSTS; p++)
            want += m->theme_on[p][y][t];
        ck_assert_int_eq(n_of(row, "posts"), want);
        n++;
    }
    ck_assert_int_eq(n, NYEARS * THEME_COUNT);
    for (int p = 0; p < NPOSTS; p++) {
        for (int y = 0; y < NYEARS; y++) {
            int chosen = 0, none = 0, over = 0, over_alloc = 0, want_over_alloc;
            for (int t = 0; t < THEME_COUNT; t++)
                chosen += m->theme_on[p][y][t];
            cJSON_ArrayForEach(row, arr_of(r, "exceptions")) {
                if (strcmp(s_of(row, "post"), post_codes[p]) != 0 ||
                    !cJSON_HasObjectItem(row, "year") || n_of(row, "year") != years[y])
                    continue;
                none += strcmp(s_of(row, "rule"), "no_themes") == 0;
                over += strcmp(s_of(row, "rule"), "themes_over_two") == 0;
                over_alloc += strcmp(s_of(row, "rule"), "over_allocation") == 0;
            }
            ck_assert_int_eq(none, chosen == 0);
            ck_assert_int_eq(over, chosen > 2);
            want_over_alloc = m->has_alloc[p][y] &&
                              figures(m, p, y, -1, m->alloc_cur[p][y]).committed > m->alloc[p][y];
            ck_assert_int_eq(over_alloc, want_over_alloc);
        }
    }
}

/* The CSV: one header row, CRLF everywhere, one record per object of the report. */
static void check_csv(const cJSON *r)
{
    static const char *const parts[] = {"posts", "rows", "themes_chosen", "totals", "exceptions"};
    char *text = NULL;
    size_t len = 0, crlf = 0, want = 1;
    FILE *f = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(hq_report_print(r, HQ_REPORT_CSV, f), MRF_OK);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "section,post,kind,year,theme,status,currency,"));
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') {
            ck_assert_msg(i > 0 && text[i - 1] == '\r', "a bare LF at byte %zu", i);
            crlf++;
        }
    }
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++)
        want += (size_t)cJSON_GetArraySize(arr_of(r, parts[p]));
    /* no field here holds a line break, so records and lines agree */
    ck_assert_uint_eq(crlf, want);
    free(text);
}

START_TEST(random_figures_match_and_totals_add_up)
{
    const char *env = getenv("MRF_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) + (uint64_t)_i * 7919u;
    struct model *m = xcalloc(1, sizeof *m);
    cJSON *r;

    printf("test_hq_report: seed %" PRIu64 " (repeat with MRF_TEST_SEED=%" PRIu64 ")\n", seed,
           seed);
    fflush(stdout);
    rng_state = seed ? seed : 1;
    generate(m);

    r = build(NULL, 0, HQ_REPORT_BY_POST, (int64_t)time(NULL));
    ck_assert_int_eq(n_of(r, "post_count"), NPOSTS);
    check_by_post(m, r);
    check_totals(m, r);
    check_themes(m, r);
    check_csv(r);
    cJSON_Delete(r);

    r = build(NULL, 0, HQ_REPORT_BY_THEME, (int64_t)time(NULL));
    check_by_theme(m, r);
    check_totals(m, r);
    check_csv(r);
    cJSON_Delete(r);

    r = build(NULL, 0, HQ_REPORT_BY_STATUS, (int64_t)time(NULL));
    check_by_status(m, r);
    check_totals(m, r);
    cJSON_Delete(r);

    /* one year, one post: only their rows, the same figures */
    r = build("GVA", 2027, HQ_REPORT_BY_POST, (int64_t)time(NULL));
    {
        const cJSON *row;
        int g = post_ix("GVA"), y = year_ix(2027);
        cJSON_ArrayForEach(row, arr_of(r, "rows")) {
            ck_assert_str_eq(s_of(row, "post"), "GVA");
            ck_assert_int_eq(n_of(row, "year"), 2027);
            if (strcmp(s_of(row, "section"), "post_year") == 0)
                ck_assert_int_eq(cents_of(row, "committed"),
                                 figures(m, g, y, -1, cur_ix(s_of(row, "currency"))).committed);
        }
        ck_assert_int_eq(cJSON_GetArraySize(arr_of(r, "posts")), 1);
        ck_assert_int_eq(cJSON_GetArraySize(arr_of(r, "themes_chosen")), THEME_COUNT);
    }
    cJSON_Delete(r);
    x_free(m);
}
END_TEST

/* A small case computed by hand: the definitions, data as of, and every exception rule. */
START_TEST(hand_computed_case)
{
    const int64_t now = 1780000000; /* 2026-05-28 */
    uint8_t pa[MRF_ID], pb[MRF_ID];
    const cJSON *row;
    cJSON *r;
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    int seen = 0;

    mrf_random(pa, MRF_ID);
    mrf_random(pb, MRF_ID);
    ck_assert_int_eq(hqstore_begin(store), MRF_OK);
    ck_assert_int_eq(hqstore_post_add(store, "NAI", "bilateral", (const uint8_t *)"x", 1, 1),
                     MRF_OK);
    ck_assert_int_eq(hqstore_post_add(store, "GVA", "multilateral", NULL, 0, 1), MRF_OK);
    ck_assert_int_eq(hqstore_post_add(store, "KAB", "bilateral", NULL, 0, 1), MRF_OK);
    theme_put("NAI", 2026, "HRD", 0);
    theme_put("NAI", 2026, "FOE", 0);
    theme_put("GVA", 2026, "HRD", 0);
    theme_put("GVA", 2026, "WGR", 0);
    theme_put("GVA", 2026, "ACC", 0);
    alloc_put("NAI", 2026, 8000000, "EUR"); /* 80,000.00 */
    alloc_put("GVA", 2026, 500000, "EUR");  /* 5,000.00 */
    grant_put("NAI", pa, "HRD", 2026, 2000000, "EUR", "committed", 0);
    grant_put("NAI", pa, "HRD", 2026, 1000000, "EUR", "disbursed", 0);
    grant_put("NAI", pb, "FOE", 2026, 500000, "EUR", "closed", 0);
    grant_put("NAI", pb, "FOE", 2026, 700000, "EUR", "draft", 0);
    grant_put("NAI", pb, "FOE", 2026, 900000, "EUR", "cancelled", 0);
    grant_put("NAI", pa, "FOE", 2026, 999900, "EUR", "committed", 1); /* removed */
    grant_put("NAI", pa, "HRD", 2026, 250000, "USD", "committed", 0);
    grant_put("GVA", pa, "WGR", 2026, 600000, "EUR", "committed", 0);
    ck_assert_int_eq(hqstore_commit(store), MRF_OK);
    received_put("NAI", "accepted", now - 3600);
    received_put("NAI", "quarantined", now - 60); /* not what "data as of" counts */
    received_put("GVA", "accepted", now - 20 * 86400);
    conflict_put("C-AAAAAA", "GVA", 0);
    conflict_put("C-BBBBBB", "GVA", 1);

    r = build(NULL, 2026, HQ_REPORT_BY_POST, now);
    cJSON_ArrayForEach(row, arr_of(r, "rows")) {
        const char *sec = s_of(row, "section"), *post = s_of(row, "post");
        const char *theme = s_of(row, "theme"), *cur = s_of(row, "currency");
        if (strcmp(post, "NAI") == 0)
            ck_assert_str_eq(s_of(row, "data_as_of"), "2026-05-28T19:26:40Z");
        if (strcmp(sec, "post_year") == 0 && strcmp(post, "NAI") == 0 && strcmp(cur, "EUR") == 0) {
            ck_assert_str_eq(s_of(row, "allocation"), "80000.00");
            ck_assert_str_eq(s_of(row, "committed"), "35000.00");
            ck_assert_str_eq(s_of(row, "disbursed"), "15000.00");
            ck_assert_str_eq(s_of(row, "remaining"), "45000.00");
            ck_assert_int_eq(n_of(row, "grants"), 4);
            ck_assert_int_eq(n_of(row, "partners"), 2);
            seen |= 1;
        } else if (strcmp(sec, "post_year") == 0 && strcmp(post, "NAI") == 0) {
            ck_assert_str_eq(cur, "USD");
            ck_assert(is_null(row, "allocation") && is_null(row, "remaining"));
            ck_assert_str_eq(s_of(row, "committed"), "2500.00");
            seen |= 2;
        } else if (strcmp(sec, "post_theme") == 0 && strcmp(post, "NAI") == 0 &&
                   strcmp(theme, "FOE") == 0) {
            ck_assert_str_eq(s_of(row, "committed"), "5000.00");
            ck_assert_str_eq(s_of(row, "disbursed"), "5000.00");
            ck_assert_int_eq(n_of(row, "grants"), 2); /* the closed one and the draft */
            ck_assert_int_eq(n_of(row, "partners"), 1);
            seen |= 4;
        } else if (strcmp(sec, "post_year") == 0 && strcmp(post, "GVA") == 0) {
            ck_assert_str_eq(s_of(row, "remaining"), "-1000.00");
            ck_assert_str_eq(s_of(row, "data_as_of"), "2026-05-08T20:26:40Z");
            seen |= 8;
        }
        ck_assert_str_ne(post, "KAB");
    }
    ck_assert_int_eq(seen, 15);
    cJSON_ArrayForEach(row, arr_of(r, "totals")) {
        if (strcmp(s_of(row, "currency"), "EUR") == 0) {
            ck_assert_str_eq(s_of(row, "allocation"), "85000.00");
            ck_assert_str_eq(s_of(row, "committed"), "41000.00");
            ck_assert_str_eq(s_of(row, "remaining"), "44000.00");
            ck_assert_int_eq(n_of(row, "grants"), 5);
            ck_assert_int_eq(n_of(row, "partners"), 3);
        }
    }
    cJSON_ArrayForEach(row, arr_of(r, "themes_chosen")) {
        if (strcmp(s_of(row, "theme"), "HRD") == 0)
            ck_assert_int_eq(n_of(row, "posts"), 2);
        if (strcmp(s_of(row, "theme"), "FORB") == 0)
            ck_assert_int_eq(n_of(row, "posts"), 0);
    }
    /* every exception, in order */
    f = open_memstream(&text, &len);
    cJSON_ArrayForEach(row, arr_of(r, "exceptions"))
        fprintf(f, "%s %s|", s_of(row, "post"), s_of(row, "rule"));
    fclose(f);
    ck_assert_str_eq(text, "GVA not_synced|GVA open_conflicts|GVA themes_over_two|"
                           "GVA over_allocation|KAB not_synced|KAB no_themes|");
    free(text);
    cJSON_Delete(r);

    r = build("NAI", 0, HQ_REPORT_BY_STATUS, now);
    seen = 0;
    cJSON_ArrayForEach(row, arr_of(r, "rows")) {
        if (strcmp(s_of(row, "status"), "cancelled") == 0) {
            ck_assert_str_eq(s_of(row, "amount"), "9000.00");
            seen++;
        }
    }
    ck_assert_int_eq(seen, 1);
    cJSON_Delete(r);
}
END_TEST

/* CSV fields with commas and quotes are quoted, quotes doubled (RFC 4180). */
START_TEST(csv_quotes_fields)
{
    cJSON *r = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(r, "exceptions"), *o;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "section", "exception");
    cJSON_AddStringToObject(o, "detail", "a, \"b\"\nc");
    cJSON_AddItemToArray(rows, o);
    ck_assert_int_eq(hq_report_print(r, HQ_REPORT_CSV, f), MRF_OK);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "\r\nexception,,,,,,,,,,,,,,,,,,\"a, \"\"b\"\"\nc\"\r\n"));
    free(text);
    cJSON_Delete(r);
}
END_TEST

static Suite *report_suite(void)
{
    Suite *s = suite_create("hq_report");
    TCase *tc = tcase_create("report");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, random_figures_match_and_totals_add_up, 0, 4);
    tcase_add_test(tc, hand_computed_case);
    tcase_add_test(tc, csv_quotes_fields);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (mrfcrypto_init() != MRF_OK) {
        fprintf(stderr, "test_hq_report: libsodium failed to initialise\n");
        return EXIT_FAILURE;
    }
    return testutil_run(report_suite());
}

/* `mrf-hq report`'s figures as one cJSON object, and the three ways of printing it (an aligned
 * table, RFC 4180 CSV, JSON), so every format shows the same figures. The store aggregates
 * (hqstore_report_scan, GROUP BY); this file only joins the few grouped rows — allocations
 * with commitments, themes with posts — sums them into totals, and finds the exceptions, so
 * its cost grows with posts x years x themes x currencies, not with grants. Amounts stay int64
 * cents per currency until they are formatted by money_format; nothing is converted. Nothing
 * here can print a country, a partner or a note: the store's queries never read them. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "hq.h"
#include "hqstore.h"
#include "mrfsync.h"

/* The CSV header: every record's keys are among these. */
static const char *const csv_columns[] = {
    "section",    "post",           "kind",       "year",      "theme",  "status", "currency",
    "allocation", "committed",      "disbursed",  "remaining", "amount", "grants", "partners",
    "posts",      "open_conflicts", "data_as_of", "rule",      "detail",
};
#define NCSV (sizeof csv_columns / sizeof csv_columns[0])

int hq_report_by_parse(const char *s)
{
    if (strcmp(s, "post") == 0)
        return HQ_REPORT_BY_POST;
    if (strcmp(s, "theme") == 0)
        return HQ_REPORT_BY_THEME;
    if (strcmp(s, "status") == 0)
        return HQ_REPORT_BY_STATUS;
    return -1;
}

int hq_report_format_parse(const char *s)
{
    if (strcmp(s, "table") == 0)
        return HQ_REPORT_TABLE;
    if (strcmp(s, "csv") == 0)
        return HQ_REPORT_CSV;
    if (strcmp(s, "json") == 0)
        return HQ_REPORT_JSON;
    return -1;
}

static const char *const by_names[] = {"post", "theme", "status"};

/* ---- the store's rows ------------------------------------------------------------------- */

struct rows {
    struct hq_report_row *v;
    size_t n, cap;
};

static enum mrf_status rows_push(void *arg, const struct hq_report_row *r)
{
    struct rows *rs = arg;

    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 64;
        rs->v = xrealloc(rs->v, rs->cap * sizeof *rs->v);
    }
    rs->v[rs->n++] = *r;
    return MRF_OK;
}

/* A post-year's figures in one currency: its allocation (if any in that currency) beside its
 * grants. */
struct line {
    char post[16];
    int year;
    char currency[4];
    int has_alloc;
    int64_t alloc, committed, disbursed, grants, partners;
};

/* Everything the report is built from. */
struct build {
    struct hqstore *s;
    const struct hq_report_opts *o;
    struct rows posts, years, alloc, post_year, post_theme, status, theme_posts, post_themes;
    struct line *lines;
    size_t nlines;
    cJSON *root;
};

/* Theme order: the letter's (FOE, WGR, LGBTIQ, FORB, HRD, ACC), anything else after. */
static int theme_rank(const char *code)
{
    int i = theme_index(code);
    return i < 0 ? THEME_COUNT : i;
}

static int cmp_post_theme(const void *a, const void *b)
{
    const struct hq_report_row *x = a, *y = b;
    int c = strcmp(x->post, y->post);

    if (c == 0)
        c = (x->year > y->year) - (x->year < y->year);
    if (c == 0)
        c = theme_rank(x->theme) - theme_rank(y->theme);
    if (c == 0)
        c = strcmp(x->theme, y->theme);
    if (c == 0)
        c = strcmp(x->currency, y->currency);
    return c;
}

static int cmp_theme_first(const void *a, const void *b)
{
    const struct hq_report_row *x = a, *y = b;
    int c = (x->year > y->year) - (x->year < y->year);

    if (c == 0)
        c = theme_rank(x->theme) - theme_rank(y->theme);
    if (c == 0)
        c = strcmp(x->theme, y->theme);
    if (c == 0)
        c = strcmp(x->currency, y->currency);
    return c;
}

static int cmp_line(const void *a, const void *b)
{
    const struct line *x = a, *y = b;
    int c = strcmp(x->post, y->post);

    if (c == 0)
        c = (x->year > y->year) - (x->year < y->year);
    if (c == 0)
        c = strcmp(x->currency, y->currency);
    return c;
}

/* *acc += v; MRF_E_INTERNAL (message on the store's caller) past 64 bits. */
static enum mrf_status add64(int64_t *acc, int64_t v)
{
    return __builtin_add_overflow(*acc, v, acc) ? MRF_E_INTERNAL : MRF_OK;
}

/* Joins allocations and the grants' post-year figures into lines, by post, year, currency. */
static enum mrf_status make_lines(struct build *b)
{
    size_t cap = b->post_year.n + b->alloc.n, i, k;

    b->lines = xcalloc(cap ? cap : 1, sizeof *b->lines);
    for (i = 0; i < b->post_year.n; i++) {
        const struct hq_report_row *r = &b->post_year.v[i];
        struct line *l = &b->lines[b->nlines++];
        str_copy(l->post, r->post, sizeof l->post);
        l->year = r->year;
        str_copy(l->currency, r->currency, sizeof l->currency);
        l->committed = r->committed;
        l->disbursed = r->disbursed;
        l->grants = r->grants;
        l->partners = r->partners;
    }
    for (i = 0; i < b->alloc.n; i++) {
        const struct hq_report_row *r = &b->alloc.v[i];
        struct line *l = NULL;
        for (k = 0; k < b->nlines && l == NULL; k++)
            if (b->lines[k].year == r->year && strcmp(b->lines[k].post, r->post) == 0 &&
                strcmp(b->lines[k].currency, r->currency) == 0)
                l = &b->lines[k];
        if (l == NULL) {
            l = &b->lines[b->nlines++];
            str_copy(l->post, r->post, sizeof l->post);
            l->year = r->year;
            str_copy(l->currency, r->currency, sizeof l->currency);
        }
        l->has_alloc = 1;
        l->alloc = r->amount;
    }
    if (b->nlines > 1) /* lines is NULL when there is none: qsort's pointer must not be */
        qsort(b->lines, b->nlines, sizeof *b->lines, cmp_line);
    return MRF_OK;
}

static void year_add(struct rows *years, int year)
{
    struct hq_report_row y;

    for (size_t i = 0; i < years->n; i++)
        if (years->v[i].year == year)
            return;
    memset(&y, 0, sizeof y);
    y.year = year;
    rows_push(years, &y);
}

static int cmp_year(const void *a, const void *b)
{
    const struct hq_report_row *x = a, *y = b;
    return (x->year > y->year) - (x->year < y->year);
}

/* The years of the report: the one asked for, else every year some post has an allocation,
 * counted grants or a chosen theme in (from the grouped rows: no scan of its own). */
static void find_years(struct build *b)
{
    size_t i;

    if (b->o->year > 0) {
        year_add(&b->years, b->o->year);
        return;
    }
    for (i = 0; i < b->nlines; i++)
        year_add(&b->years, b->lines[i].year);
    for (i = 0; i < b->post_themes.n; i++)
        year_add(&b->years, b->post_themes.v[i].year);
    for (i = 0; i < b->status.n; i++)
        year_add(&b->years, b->status.v[i].year);
    if (b->years.n > 1)
        qsort(b->years.v, b->years.n, sizeof *b->years.v, cmp_year);
}

/* ---- building records ---------------------------------------------------------------------- */

static void add_money(cJSON *o, const char *key, int64_t cents)
{
    char m[32];

    money_format(cents, m); /* signed: a remaining past the allocation shows as "-120.00" */
    cJSON_AddStringToObject(o, key, m);
}

static void add_count(cJSON *o, const char *key, int64_t n)
{
    cJSON_AddNumberToObject(o, key, (double)n);
}

/* "2026-04-30T09:12:05Z" for a time, "never" for 0. */
static void iso_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL)
        str_copy(out, "never", 32);
    else
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const struct hq_report_row *post_of(const struct build *b, const char *code)
{
    for (size_t i = 0; i < b->posts.n; i++)
        if (strcmp(b->posts.v[i].post, code) == 0)
            return &b->posts.v[i];
    return NULL;
}

static void add_as_of(cJSON *o, const struct build *b, const char *post)
{
    const struct hq_report_row *p = post_of(b, post);
    char t[32];

    iso_time(p ? p->at : 0, t);
    cJSON_AddStringToObject(o, "data_as_of", t);
}

static cJSON *record(cJSON *arr, const char *section)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "section", section);
    cJSON_AddItemToArray(arr, o);
    return o;
}

static void add_line(cJSON *arr, const struct build *b, const struct line *l)
{
    cJSON *o = record(arr, "post_year");

    cJSON_AddStringToObject(o, "post", l->post);
    add_count(o, "year", l->year);
    cJSON_AddStringToObject(o, "currency", l->currency);
    if (l->has_alloc) {
        add_money(o, "allocation", l->alloc);
    } else {
        cJSON_AddNullToObject(o, "allocation");
    }
    add_money(o, "committed", l->committed);
    add_money(o, "disbursed", l->disbursed);
    if (l->has_alloc)
        add_money(o, "remaining", l->alloc - l->committed);
    else
        cJSON_AddNullToObject(o, "remaining");
    add_count(o, "grants", l->grants);
    add_count(o, "partners", l->partners);
    add_as_of(o, b, l->post);
}

static void add_post_theme(cJSON *arr, const struct build *b, const struct hq_report_row *r)
{
    cJSON *o = record(arr, "post_theme");

    cJSON_AddStringToObject(o, "post", r->post);
    add_count(o, "year", r->year);
    cJSON_AddStringToObject(o, "theme", r->theme);
    cJSON_AddStringToObject(o, "currency", r->currency);
    cJSON_AddNullToObject(o, "allocation"); /* the post-year's, on its own line */
    add_money(o, "committed", r->committed);
    add_money(o, "disbursed", r->disbursed);
    cJSON_AddNullToObject(o, "remaining");
    add_count(o, "grants", r->grants);
    add_count(o, "partners", r->partners);
    add_as_of(o, b, r->post);
}

/* --by post: per post and year, its theme lines, then its line per currency. */
static void rows_by_post(struct build *b, cJSON *arr)
{
    size_t i = 0, k;

    while (i < b->nlines) {
        size_t end = i;
        while (end < b->nlines && b->lines[end].year == b->lines[i].year &&
               strcmp(b->lines[end].post, b->lines[i].post) == 0)
            end++;
        for (k = 0; k < b->post_theme.n; k++) {
            const struct hq_report_row *r = &b->post_theme.v[k];
            if (r->year == b->lines[i].year && strcmp(r->post, b->lines[i].post) == 0)
                add_post_theme(arr, b, r);
        }
        for (k = i; k < end; k++)
            add_line(arr, b, &b->lines[k]);
        i = end;
    }
}

/* --by theme: per year, theme and currency, summed over the posts (each post's partners are
 * its own, so summing per-post distinct counts stays exact); data_as_of is the oldest of the
 * posts that contribute. */
static enum mrf_status rows_by_theme(struct build *b, cJSON *arr)
{
    struct hq_report_row *v = NULL;
    size_t n = 0, i, k;
    enum mrf_status rc = MRF_OK;

    if (b->post_theme.n > 0)
        v = xcalloc(b->post_theme.n, sizeof *v);
    for (i = 0; i < b->post_theme.n && rc == MRF_OK; i++) {
        const struct hq_report_row *r = &b->post_theme.v[i];
        const struct hq_report_row *p = post_of(b, r->post);
        struct hq_report_row *t = NULL;
        for (k = 0; k < n && t == NULL; k++)
            if (v[k].year == r->year && strcmp(v[k].theme, r->theme) == 0 &&
                strcmp(v[k].currency, r->currency) == 0)
                t = &v[k];
        if (t == NULL) {
            t = &v[n++];
            t->year = r->year;
            str_copy(t->theme, r->theme, sizeof t->theme);
            str_copy(t->currency, r->currency, sizeof t->currency);
            t->at = INT64_MAX;
        }
        rc = add64(&t->committed, r->committed);
        if (rc == MRF_OK)
            rc = add64(&t->disbursed, r->disbursed);
        t->grants += r->grants;
        t->partners += r->partners;
        t->posts++;
        if (p == NULL || p->at < t->at)
            t->at = p ? p->at : 0;
    }
    if (rc == MRF_OK) {
        if (n > 1)
            qsort(v, n, sizeof *v, cmp_theme_first);
        for (i = 0; i < n; i++) {
            cJSON *o = record(arr, "theme");
            char at[32];
            add_count(o, "year", v[i].year);
            cJSON_AddStringToObject(o, "theme", v[i].theme);
            cJSON_AddStringToObject(o, "currency", v[i].currency);
            add_money(o, "committed", v[i].committed);
            add_money(o, "disbursed", v[i].disbursed);
            add_count(o, "grants", v[i].grants);
            add_count(o, "partners", v[i].partners);
            add_count(o, "posts", v[i].posts);
            iso_time(v[i].at, at);
            cJSON_AddStringToObject(o, "data_as_of", at);
        }
    }
    x_free(v);
    return rc;
}

/* --by status: per post, year, status (lifecycle order) and currency, cancelled included. */
static void rows_by_status(struct build *b, cJSON *arr)
{
    for (size_t i = 0; i < b->status.n; i++) {
        const struct hq_report_row *r = &b->status.v[i];
        cJSON *o = record(arr, "status");
        cJSON_AddStringToObject(o, "post", r->post);
        add_count(o, "year", r->year);
        cJSON_AddStringToObject(o, "status", r->status);
        cJSON_AddStringToObject(o, "currency", r->currency);
        add_money(o, "amount", r->amount);
        add_count(o, "grants", r->grants);
        add_count(o, "partners", r->partners);
        add_as_of(o, b, r->post);
    }
}

/* Per year in the report, each of the six themes and how many posts chose it. */
static void themes_chosen(struct build *b, cJSON *arr)
{
    for (size_t y = 0; y < b->years.n; y++) {
        for (int t = 0; t < THEME_COUNT; t++) {
            int64_t posts = 0;
            cJSON *o;
            for (size_t k = 0; k < b->theme_posts.n; k++)
                if (b->theme_posts.v[k].year == b->years.v[y].year &&
                    strcmp(b->theme_posts.v[k].theme, theme_code(t)) == 0)
                    posts = b->theme_posts.v[k].posts;
            o = record(arr, "themes_chosen");
            add_count(o, "year", b->years.v[y].year);
            cJSON_AddStringToObject(o, "theme", theme_code(t));
            add_count(o, "posts", posts);
            cJSON_AddStringToObject(o, "detail", theme_title(t));
        }
    }
}

/* Per year and currency, the sums of the post-year lines (so a total is the sum of its rows by
 * construction; the test recomputes them from the grants themselves). */
static enum mrf_status totals(struct build *b, cJSON *arr)
{
    struct line *v = NULL;
    size_t n = 0, i, k;
    enum mrf_status rc = MRF_OK;
    int64_t *rem = NULL;

    if (b->nlines > 0) {
        v = xcalloc(b->nlines, sizeof *v);
        rem = xcalloc(b->nlines, sizeof *rem);
    }
    for (i = 0; i < b->nlines && rc == MRF_OK; i++) {
        const struct line *l = &b->lines[i];
        struct line *t = NULL;
        for (k = 0; k < n && t == NULL; k++)
            if (v[k].year == l->year && strcmp(v[k].currency, l->currency) == 0)
                t = &v[k];
        if (t == NULL) {
            t = &v[n++];
            t->year = l->year;
            str_copy(t->currency, l->currency, sizeof t->currency);
        }
        if (l->has_alloc) {
            t->has_alloc = 1;
            rc = add64(&t->alloc, l->alloc);
            if (rc == MRF_OK)
                rc = add64(&rem[t - v], l->alloc - l->committed);
        }
        if (rc == MRF_OK)
            rc = add64(&t->committed, l->committed);
        if (rc == MRF_OK)
            rc = add64(&t->disbursed, l->disbursed);
        t->grants += l->grants;
        t->partners += l->partners;
    }
    for (i = 0; i < n && rc == MRF_OK; i++) {
        /* lines come sorted by post, year, currency: sort the totals by year, currency */
        for (k = i + 1; k < n; k++) {
            if (v[k].year < v[i].year ||
                (v[k].year == v[i].year && strcmp(v[k].currency, v[i].currency) < 0)) {
                struct line tl = v[i];
                int64_t tr = rem[i];
                v[i] = v[k];
                rem[i] = rem[k];
                v[k] = tl;
                rem[k] = tr;
            }
        }
    }
    for (i = 0; i < n && rc == MRF_OK; i++) {
        cJSON *o = record(arr, "total");
        add_count(o, "year", v[i].year);
        cJSON_AddStringToObject(o, "currency", v[i].currency);
        if (v[i].has_alloc) {
            add_money(o, "allocation", v[i].alloc);
        } else {
            cJSON_AddNullToObject(o, "allocation");
        }
        add_money(o, "committed", v[i].committed);
        add_money(o, "disbursed", v[i].disbursed);
        if (v[i].has_alloc)
            add_money(o, "remaining", rem[i]);
        else
            cJSON_AddNullToObject(o, "remaining");
        add_count(o, "grants", v[i].grants);
        add_count(o, "partners", v[i].partners);
    }
    x_free(rem);
    x_free(v);
    return rc;
}

static void exception(cJSON *arr, const char *post, int year, const char *rule, const char *detail)
{
    cJSON *o = record(arr, "exception");

    cJSON_AddStringToObject(o, "post", post);
    if (year > 0)
        add_count(o, "year", year);
    cJSON_AddStringToObject(o, "rule", rule);
    cJSON_AddStringToObject(o, "detail", detail);
}

/* Per post: not synced for HQ_REPORT_STALE_DAYS days or more (or never), open conflicts; per
 * post and year of the report: no themes, more than two, committed over the allocation (in
 * the allocation's currency). In post, then year order. */
static void exceptions(struct build *b, cJSON *arr)
{
    char d[256], t[32], m1[32], m2[32], m3[32];

    for (size_t i = 0; i < b->posts.n; i++) {
        const struct hq_report_row *p = &b->posts.v[i];
        int64_t age = b->o->now - p->at;

        if (p->at <= 0) {
            exception(arr, p->post, 0, "not_synced", "never synced: no change set accepted yet");
        } else if (age >= (int64_t)HQ_REPORT_STALE_DAYS * 86400) {
            iso_time(p->at, t);
            snprintf(d, sizeof d, "last accepted change set %s, %lld days ago", t,
                     (long long)(age / 86400));
            exception(arr, p->post, 0, "not_synced", d);
        }
        if (p->conflicts > 0) {
            snprintf(d, sizeof d, "%lld open conflict record%s", (long long)p->conflicts,
                     p->conflicts == 1 ? "" : "s");
            exception(arr, p->post, 0, "open_conflicts", d);
        }
        for (size_t y = 0; y < b->years.n; y++) {
            int year = b->years.v[y].year;
            const struct hq_report_row *th = NULL;

            for (size_t k = 0; k < b->post_themes.n && th == NULL; k++)
                if (b->post_themes.v[k].year == year &&
                    strcmp(b->post_themes.v[k].post, p->post) == 0)
                    th = &b->post_themes.v[k];
            if (th == NULL || th->themes == 0) {
                snprintf(d, sizeof d, "no themes chosen for %d", year);
                exception(arr, p->post, year, "no_themes", d);
            } else if (th->themes > THEMES_PER_YEAR_MAX) {
                snprintf(d, sizeof d, "%lld themes for %d (%s); a post focuses on at most two",
                         (long long)th->themes, year, th->theme);
                exception(arr, p->post, year, "themes_over_two", d);
            }
            for (size_t k = 0; k < b->nlines; k++) {
                const struct line *l = &b->lines[k];
                if (l->year != year || strcmp(l->post, p->post) != 0 || !l->has_alloc ||
                    l->committed <= l->alloc)
                    continue;
                money_format(l->committed, m1);
                money_format(l->alloc, m2);
                money_format(l->committed - l->alloc, m3);
                snprintf(d, sizeof d, "committed %s over allocation %s %s by %s", m1, m2,
                         l->currency, m3);
                exception(arr, p->post, year, "over_allocation", d);
            }
        }
    }
}

static enum mrf_status scan(struct build *b, enum hqstore_report_query q, struct rows *into)
{
    return hqstore_report_scan(b->s, q, b->o->post, b->o->year, rows_push, into);
}

enum mrf_status hq_report_build(struct hqstore *s, const struct hq_report_opts *o, cJSON **out,
                                struct mrf_error *err)
{
    struct build b;
    enum mrf_status rc;
    char at[32];
    cJSON *arr;

    *out = NULL;
    memset(&b, 0, sizeof b);
    b.s = s;
    b.o = o;
    rc = scan(&b, HQR_POSTS, &b.posts);
    if (rc == MRF_OK)
        rc = scan(&b, HQR_ALLOCATION, &b.alloc);
    if (rc == MRF_OK)
        rc = scan(&b, HQR_POST_YEAR, &b.post_year);
    if (rc == MRF_OK)
        rc = scan(&b, HQR_POST_THEME, &b.post_theme);
    if (rc == MRF_OK && o->by == HQ_REPORT_BY_STATUS)
        rc = scan(&b, HQR_STATUS, &b.status);
    if (rc == MRF_OK)
        rc = scan(&b, HQR_THEME_POSTS, &b.theme_posts);
    if (rc == MRF_OK)
        rc = scan(&b, HQR_POST_THEMES, &b.post_themes);
    if (rc == MRF_OK)
        rc = make_lines(&b);
    if (rc == MRF_OK)
        find_years(&b);
    if (rc != MRF_OK) {
        rc = mrf_error_set(err, rc, "%s", hqstore_errmsg(s));
        goto out;
    }
    if (b.post_theme.n > 1)
        qsort(b.post_theme.v, b.post_theme.n, sizeof *b.post_theme.v, cmp_post_theme);

    b.root = cJSON_CreateObject();
    iso_time(o->now, at);
    cJSON_AddStringToObject(b.root, "generated_at", at);
    if (o->year > 0)
        add_count(b.root, "year", o->year);
    else
        cJSON_AddNullToObject(b.root, "year");
    if (o->post != NULL)
        cJSON_AddStringToObject(b.root, "post", o->post);
    else
        cJSON_AddNullToObject(b.root, "post");
    cJSON_AddStringToObject(b.root, "by", by_names[o->by]);
    add_count(b.root, "stale_days", HQ_REPORT_STALE_DAYS);
    add_count(b.root, "post_count", (int64_t)b.posts.n);

    arr = cJSON_AddArrayToObject(b.root, "posts");
    for (size_t i = 0; i < b.posts.n; i++) {
        cJSON *p = record(arr, "post");
        cJSON_AddStringToObject(p, "post", b.posts.v[i].post);
        cJSON_AddStringToObject(p, "kind", b.posts.v[i].kind);
        add_count(p, "open_conflicts", b.posts.v[i].conflicts);
        add_as_of(p, &b, b.posts.v[i].post);
    }
    arr = cJSON_AddArrayToObject(b.root, "rows");
    if (o->by == HQ_REPORT_BY_POST)
        rows_by_post(&b, arr);
    else if (o->by == HQ_REPORT_BY_THEME)
        rc = rows_by_theme(&b, arr);
    else
        rows_by_status(&b, arr);
    if (rc == MRF_OK) {
        themes_chosen(&b, cJSON_AddArrayToObject(b.root, "themes_chosen"));
        rc = totals(&b, cJSON_AddArrayToObject(b.root, "totals"));
    }
    if (rc == MRF_OK)
        exceptions(&b, cJSON_AddArrayToObject(b.root, "exceptions"));
    if (rc == MRF_E_INTERNAL)
        rc = mrf_error_set(err, rc,
                           "a total passes what 64-bit cents can hold; report one year "
                           "or one post at a time");
    if (rc == MRF_OK) {
        *out = b.root;
        b.root = NULL;
    }
out:
    cJSON_Delete(b.root);
    x_free(b.lines);
    x_free(b.posts.v);
    x_free(b.years.v);
    x_free(b.alloc.v);
    x_free(b.post_year.v);
    x_free(b.post_theme.v);
    x_free(b.status.v);
    x_free(b.theme_posts.v);
    x_free(b.post_themes.v);
    return rc;
}

/* ---- printing ------------------------------------------------------------------------------ */

/* A column of the table: the record key it shows, its heading, width and alignment. */
struct tcol {
    const char *key;
    const char *head;
    int width;
    int right;
};

#define CELL 256

/* The text of rec[key] for the table: "-" for null or absent; times as "2026-04-30 09:12 UTC". */
static void cell(const cJSON *rec, const char *key, char out[CELL])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
    const char *sec = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "section"));

    if (strcmp(key, "theme") == 0 && sec != NULL && strcmp(sec, "post_year") == 0)
        str_copy(out, "all", CELL);
    else if (cJSON_IsNumber(v))
        snprintf(out, CELL, "%lld", (long long)v->valuedouble);
    else if (cJSON_IsString(v) && strcmp(key, "data_as_of") == 0 && strlen(v->valuestring) == 20)
        snprintf(out, CELL, "%.10s %.5s UTC", v->valuestring, v->valuestring + 11);
    else if (cJSON_IsString(v))
        str_copy(out, v->valuestring, CELL);
    else
        str_copy(out, "-", CELL);
}

static void t_head(FILE *f, const char *indent, const struct tcol *c)
{
    fputs(indent, f);
    for (int i = 0; c[i].key; i++) {
        if (i > 0)
            fputc(' ', f);
        if (c[i].right)
            fprintf(f, "%*s", c[i].width, c[i].head);
        else if (c[i + 1].key)
            fprintf(f, "%-*s", c[i].width, c[i].head);
        else
            fputs(c[i].head, f);
    }
    fputc('\n', f);
}

static void t_row(FILE *f, const char *indent, const struct tcol *c, const cJSON *rec)
{
    char v[CELL];

    fputs(indent, f);
    for (int i = 0; c[i].key; i++) {
        cell(rec, c[i].key, v);
        if (i > 0)
            fputc(' ', f);
        if (c[i].right)
            fprintf(f, "%*s", c[i].width, v);
        else if (c[i + 1].key)
            fprintf(f, "%-*s", c[i].width, v);
        else
            fputs(v, f);
    }
    fputc('\n', f);
}

static const struct tcol cols_post[] = {
    {"year", "YEAR", 4, 0},
    {"theme", "THEME", 6, 0},
    {"currency", "CUR", 3, 0},
    {"allocation", "ALLOCATION", 14, 1},
    {"committed", "COMMITTED", 14, 1},
    {"disbursed", "DISBURSED", 14, 1},
    {"remaining", "REMAINING", 14, 1},
    {"grants", "GRANTS", 6, 1},
    {"partners", "PARTNERS", 8, 1},
    {NULL, NULL, 0, 0},
};
static const struct tcol cols_status[] = {
    {"year", "YEAR", 4, 0},      {"status", "STATUS", 9, 0}, {"currency", "CUR", 3, 0},
    {"amount", "AMOUNT", 14, 1}, {"grants", "GRANTS", 6, 1}, {"partners", "PARTNERS", 8, 1},
    {NULL, NULL, 0, 0},
};
static const struct tcol cols_theme[] = {
    {"year", "YEAR", 4, 0},
    {"theme", "THEME", 6, 0},
    {"currency", "CUR", 3, 0},
    {"committed", "COMMITTED", 14, 1},
    {"disbursed", "DISBURSED", 14, 1},
    {"grants", "GRANTS", 6, 1},
    {"partners", "PARTNERS", 8, 1},
    {"posts", "POSTS", 5, 1},
    {"data_as_of", "DATA AS OF (OLDEST)", 20, 0},
    {NULL, NULL, 0, 0},
};
static const struct tcol cols_policy[] = {
    {"year", "YEAR", 4, 0},    {"theme", "THEME", 6, 0}, {"posts", "POSTS", 5, 1},
    {"detail", "TITLE", 0, 0}, {NULL, NULL, 0, 0},
};
static const struct tcol cols_total[] = {
    {"year", "YEAR", 4, 0},
    {"currency", "CUR", 3, 0},
    {"allocation", "ALLOCATION", 14, 1},
    {"committed", "COMMITTED", 14, 1},
    {"disbursed", "DISBURSED", 14, 1},
    {"remaining", "REMAINING", 14, 1},
    {"grants", "GRANTS", 6, 1},
    {"partners", "PARTNERS", 8, 1},
    {NULL, NULL, 0, 0},
};
static const struct tcol cols_exception[] = {
    {"post", "POST", 12, 0},    {"year", "YEAR", 4, 0}, {"rule", "RULE", 15, 0},
    {"detail", "DETAIL", 0, 0}, {NULL, NULL, 0, 0},
};

static const char *str_of(const cJSON *o, const char *key)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return v ? v : "";
}

/* The rows of one post, under a heading with its kind and how fresh its figures are. */
static void table_post_blocks(const cJSON *r, const struct tcol *cols, const char *none, FILE *f)
{
    const cJSON *p, *row;

    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r, "posts")) {
        const char *code = str_of(p, "post");
        char at[CELL];
        int n = 0;

        cell(p, "data_as_of", at);
        fprintf(f, "\n%s  %s  data as of %s\n", code, str_of(p, "kind"),
                strcmp(at, "never") == 0 ? "never: no change set accepted yet" : at);
        cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(r, "rows")) {
            if (strcmp(str_of(row, "post"), code) != 0)
                continue;
            if (n++ == 0)
                t_head(f, "  ", cols);
            t_row(f, "  ", cols, row);
        }
        if (n == 0)
            fprintf(f, "  %s\n", none);
    }
}

static void table_section(const cJSON *arr, const struct tcol *cols, const char *title,
                          const char *none, FILE *f)
{
    const cJSON *row;
    int n = 0;

    fprintf(f, "\n%s\n", title);
    cJSON_ArrayForEach(row, arr) {
        if (n++ == 0)
            t_head(f, "", cols);
        t_row(f, "", cols, row);
    }
    if (n == 0)
        fprintf(f, "%s\n", none);
}

static void print_table(const cJSON *r, FILE *f)
{
    const char *by = str_of(r, "by"), *post = str_of(r, "post"), *gen = str_of(r, "generated_at");
    const cJSON *year = cJSON_GetObjectItemCaseSensitive(r, "year");
    char title[128], years[32];

    if (cJSON_IsNumber(year))
        snprintf(years, sizeof years, "year %.0f", year->valuedouble);
    else
        str_copy(years, "all years", sizeof years);
    fprintf(f, "mrf-hq report by %s: %s%s, %s; generated %.10s %.5s UTC\n", by,
            post[0] ? "post " : "all posts", post, years, gen, strlen(gen) > 11 ? gen + 11 : "");
    fputs("Amounts per currency, never converted. committed: committed, disbursed and closed\n"
          "grants; disbursed: disbursed and closed; remaining: allocation - committed;\n"
          "-: no allocation in that currency. Drafts and cancelled grants: --by status.\n",
          f);
    if (strcmp(by, "post") == 0) {
        table_post_blocks(r, cols_post, "no grants and no allocation", f);
    } else if (strcmp(by, "status") == 0) {
        table_post_blocks(r, cols_status, "no grants", f);
    } else {
        table_section(cJSON_GetObjectItemCaseSensitive(r, "rows"), cols_theme,
                      "BY THEME (all posts in the report; data as of the stalest of them)",
                      "no grants", f);
    }
    snprintf(title, sizeof title, "THEMES CHOSEN (posts choosing each theme, of %.0f posts)",
             cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "post_count")));
    table_section(cJSON_GetObjectItemCaseSensitive(r, "themes_chosen"), cols_policy, title,
                  "no years with data", f);
    table_section(cJSON_GetObjectItemCaseSensitive(r, "totals"), cols_total,
                  "TOTALS (per year and currency: the sums of the post lines)", "no figures", f);
    table_section(cJSON_GetObjectItemCaseSensitive(r, "exceptions"), cols_exception, "EXCEPTIONS",
                  "none", f);
}

/* One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF; quotes doubled. */
static void csv_field(const cJSON *v, FILE *f)
{
    const char *s;

    if (cJSON_IsNumber(v)) {
        fprintf(f, "%lld", (long long)v->valuedouble);
        return;
    }
    if (!cJSON_IsString(v))
        return;
    s = v->valuestring;
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void print_csv(const cJSON *r, FILE *f)
{
    static const char *const parts[] = {"posts", "rows", "themes_chosen", "totals", "exceptions"};
    const cJSON *rec;
    size_t i;

    for (i = 0; i < NCSV; i++)
        fprintf(f, "%s%s", i ? "," : "", csv_columns[i]);
    fputs("\r\n", f);
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
        cJSON_ArrayForEach(rec, cJSON_GetObjectItemCaseSensitive(r, parts[p])) {
            for (i = 0; i < NCSV; i++) {
                if (i > 0)
                    fputc(',', f);
                csv_field(cJSON_GetObjectItemCaseSensitive(rec, csv_columns[i]), f);
            }
            fputs("\r\n", f);
        }
    }
}

enum mrf_status hq_report_print(const cJSON *report, enum hq_report_format fmt, FILE *f)
{
    char *text;

    switch (fmt) {
    case HQ_REPORT_TABLE:
        print_table(report, f);
        break;
    case HQ_REPORT_CSV:
        print_csv(report, f);
        break;
    case HQ_REPORT_JSON:
        text = cJSON_Print(report);
        if (text == NULL)
            return MRF_E_INTERNAL;
        fprintf(f, "%s\n", text);
        cJSON_free(text);
        break;
    }
    return fflush(f) == 0 && !ferror(f) ? MRF_OK : MRF_E_IO;
}

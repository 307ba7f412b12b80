/* The overview: `mrf-hq report --year Y`'s object (hq_report_build, the same one `--format
 * json` prints) shown for people — per post allocation, committed, disbursed and remaining as
 * horizontal SVG bars with their figures on them and as a table; per theme how many posts chose
 * it and what is committed under it (the `--by theme` object of the same read); data as of per
 * post; the exceptions; and the CSV download, which is `mrf-hq report --format csv` byte for
 * byte. Both reports are built in the page's one read transaction, so they agree. Post codes
 * only: the report's queries never read a country, a partner or a note. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ui.h"

static double num(const cJSON *o, const char *key)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* The amount member key of o as text, or NULL for null/absent ("no allocation"). */
static const char *amount(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int is_section(const cJSON *o, const char *section)
{
    return strcmp(web_jstr(o, "section"), section) == 0;
}

/* data-post="NAI" data-k="committed", escaped. */
static void data_attrs(char *out, size_t n, const char *post, const char *key)
{
    struct buf b;

    buf_init(&b, n - 1);
    web_raw(&b, "data-post=\"");
    web_esc(&b, post);
    web_raw(&b, "\" data-k=\"");
    web_esc(&b, key);
    web_raw(&b, "\"");
    str_copy(out, b.data ? b.data : "", n);
    buf_release(&b);
}

static void money_cell(struct buf *b, const char *key, const char *value, const char *currency)
{
    web_rawf(b, "<td class=\"num\" data-k=\"%s\">", key);
    if (value == NULL)
        web_raw(b, "<span class=\"muted\">-</span>");
    else
        web_money(b, value, currency);
    web_raw(b, "</td>");
}

static enum mrf_status build(struct hqui_page *pg, int year, enum hq_report_by by, cJSON **out)
{
    struct hq_report_opts o = {NULL, year, by, (int64_t)time(NULL)};
    enum mrf_status rc = hqui_store(pg);

    *out = NULL;
    if (rc == MRF_OK)
        rc = hq_report_build(pg->st, &o, out, &pg->err);
    return rc;
}

/* ---- per post --------------------------------------------------------------------------- */

static void post_chart(struct buf *b, const cJSON *rows, const char *currency, int year)
{
    const cJSON *r;
    struct web_chart c;
    double max = 0;
    int groups = 0, bars = 0;
    char title[160], text[200], attrs[96], id[32];

    cJSON_ArrayForEach(r, rows) {
        if (!is_section(r, "post_year") || strcmp(web_jstr(r, "currency"), currency) != 0)
            continue;
        groups++;
        bars += 3;
        if (amount(r, "allocation") && strtod(amount(r, "allocation"), NULL) > max)
            max = strtod(amount(r, "allocation"), NULL);
        if (strtod(web_jstr(r, "committed"), NULL) > max)
            max = strtod(web_jstr(r, "committed"), NULL);
    }
    if (groups == 0)
        return;
    snprintf(title, sizeof title,
             "Per post, %s %d: allocation, committed and disbursed as bars, remaining with the "
             "allocation",
             currency, year);
    snprintf(id, sizeof id, "chart-posts-%s", currency);
    web_raw(b, "<figure class=\"chart-box\">\n<figcaption>Amounts in <span class=\"code\">");
    web_esc(b, currency);
    web_raw(b, "</span></figcaption>\n");
    web_chart_begin(&c, b, id, title, groups, bars, max);
    cJSON_ArrayForEach(r, rows) {
        const char *al, *rm, *post = web_jstr(r, "post");
        int over;
        if (!is_section(r, "post_year") || strcmp(web_jstr(r, "currency"), currency) != 0)
            continue;
        al = amount(r, "allocation");
        rm = amount(r, "remaining");
        over = rm != NULL && rm[0] == '-';
        if (al)
            snprintf(text, sizeof text, "allocation %s %s · remaining %s", al, currency, rm);
        else
            snprintf(text, sizeof text, "no allocation in %s", currency);
        data_attrs(attrs, sizeof attrs, post, "allocation");
        web_chart_bar(&c, post, al ? strtod(al, NULL) : 0, "bar-a", text, attrs);
        if (over)
            snprintf(text, sizeof text, "committed %s %s · OVER the allocation by %s",
                     web_jstr(r, "committed"), currency, rm + 1);
        else
            snprintf(text, sizeof text, "committed %s %s", web_jstr(r, "committed"), currency);
        data_attrs(attrs, sizeof attrs, post, "committed");
        web_chart_bar(&c, NULL, strtod(web_jstr(r, "committed"), NULL), over ? "bar-over" : "bar-b",
                      text, attrs);
        snprintf(text, sizeof text, "disbursed %s %s", web_jstr(r, "disbursed"), currency);
        data_attrs(attrs, sizeof attrs, post, "disbursed");
        web_chart_bar(&c, NULL, strtod(web_jstr(r, "disbursed"), NULL), "bar-c", text, attrs);
    }
    web_chart_end(&c);
    web_raw(b, "</figure>\n");
}

static void post_table(struct buf *b, const cJSON *rows)
{
    const cJSON *r;

    web_raw(b, "<table class=\"sortable\" id=\"post-year\">\n<caption class=\"visually-hidden\">"
               "Per post and currency</caption>\n<thead><tr><th scope=\"col\">Post</th>"
               "<th scope=\"col\">Currency</th><th scope=\"col\" class=\"num\">Allocation</th>"
               "<th scope=\"col\" class=\"num\">Committed</th><th scope=\"col\" class=\"num\">"
               "Disbursed</th><th scope=\"col\" class=\"num\">Remaining</th><th scope=\"col\" "
               "class=\"num\">Grants</th><th scope=\"col\" class=\"num\">Partners</th>"
               "<th scope=\"col\">Data as of</th></tr></thead>\n<tbody>\n");
    cJSON_ArrayForEach(r, rows) {
        const char *cur = web_jstr(r, "currency"), *rm = amount(r, "remaining");
        if (!is_section(r, "post_year"))
            continue;
        web_raw(b, "<tr data-post=\"");
        web_esc(b, web_jstr(r, "post"));
        web_raw(b, "\" data-currency=\"");
        web_esc(b, cur);
        web_raw(b, "\"><th scope=\"row\" class=\"code\">");
        web_esc(b, web_jstr(r, "post"));
        web_raw(b, "</th><td class=\"code\">");
        web_esc(b, cur);
        web_raw(b, "</td>");
        money_cell(b, "allocation", amount(r, "allocation"), cur);
        money_cell(b, "committed", amount(r, "committed"), cur);
        money_cell(b, "disbursed", amount(r, "disbursed"), cur);
        money_cell(b, "remaining", rm, cur);
        web_rawf(b, "<td class=\"num\" data-k=\"grants\">%.0f</td>", num(r, "grants"));
        web_rawf(b, "<td class=\"num\" data-k=\"partners\">%.0f</td>", num(r, "partners"));
        web_raw(b, "<td data-k=\"data_as_of\">");
        web_esc(b, web_jstr(r, "data_as_of"));
        web_raw(b, "</td></tr>\n");
        if (rm && rm[0] == '-') {
            web_raw(b, "<tr class=\"over-row\"><td colspan=\"9\"><strong class=\"over-word\">"
                       "Over the allocation</strong> by ");
            web_money(b, rm + 1, cur);
            web_raw(b, "</td></tr>\n");
        }
    }
    web_raw(b, "</tbody>\n</table>\n");
}

static void totals_table(struct buf *b, const cJSON *totals)
{
    const cJSON *r;

    if (cJSON_GetArraySize(totals) == 0)
        return;
    web_raw(b, "<table id=\"totals\">\n<caption class=\"visually-hidden\">Totals per currency"
               "</caption>\n<thead><tr><th scope=\"col\">Total</th><th scope=\"col\" "
               "class=\"num\">Allocation</th><th scope=\"col\" class=\"num\">Committed</th><th "
               "scope=\"col\" class=\"num\">Disbursed</th><th scope=\"col\" class=\"num\">"
               "Remaining</th><th scope=\"col\" class=\"num\">Grants</th><th scope=\"col\" "
               "class=\"num\">Partners</th></tr></thead>\n<tbody>\n");
    cJSON_ArrayForEach(r, totals) {
        const char *cur = web_jstr(r, "currency");
        web_raw(b, "<tr data-currency=\"");
        web_esc(b, cur);
        web_raw(b, "\"><th scope=\"row\">All posts, <span class=\"code\">");
        web_esc(b, cur);
        web_raw(b, "</span></th>");
        money_cell(b, "allocation", amount(r, "allocation"), cur);
        money_cell(b, "committed", amount(r, "committed"), cur);
        money_cell(b, "disbursed", amount(r, "disbursed"), cur);
        money_cell(b, "remaining", amount(r, "remaining"), cur);
        web_rawf(b, "<td class=\"num\" data-k=\"grants\">%.0f</td>", num(r, "grants"));
        web_rawf(b, "<td class=\"num\" data-k=\"partners\">%.0f</td></tr>\n", num(r, "partners"));
    }
    web_raw(b, "</tbody>\n</table>\n");
}

/* ---- per theme --------------------------------------------------------------------------- */

/* "15000.00 EUR, 200.00 USD" committed under theme in year, from the --by theme rows. */
static void theme_money(char *out, size_t n, const cJSON *by_theme, const char *theme)
{
    const cJSON *r;
    size_t used = 0;

    out[0] = '\0';
    cJSON_ArrayForEach(r, by_theme) {
        int w;
        if (!is_section(r, "theme") || strcmp(web_jstr(r, "theme"), theme) != 0)
            continue;
        w = snprintf(out + used, n - used, "%s%s %s", used ? ", " : "", web_jstr(r, "committed"),
                     web_jstr(r, "currency"));
        if (w < 0 || (size_t)w >= n - used)
            break;
        used += (size_t)w;
    }
}

static void themes(struct buf *b, const cJSON *chosen, const cJSON *by_theme, double post_count,
                   int year)
{
    const cJSON *r;
    struct web_chart c;
    char title[128], text[256], money[160], attrs[96];

    snprintf(title, sizeof title, "Per theme, %d: how many posts chose it, and what is committed",
             year);
    web_raw(b, "<figure class=\"chart-box\">\n");
    web_chart_begin(&c, b, "chart-themes", title, cJSON_GetArraySize(chosen),
                    cJSON_GetArraySize(chosen), post_count);
    cJSON_ArrayForEach(r, chosen) {
        const char *t = web_jstr(r, "theme");
        theme_money(money, sizeof money, by_theme, t);
        snprintf(text, sizeof text, "%.0f of %.0f post%s · committed %s", num(r, "posts"),
                 post_count, post_count == 1 ? "" : "s", money[0] ? money : "nothing");
        data_attrs(attrs, sizeof attrs, t, "posts");
        web_chart_bar(&c, t, num(r, "posts"), "bar-b", text, attrs);
    }
    web_chart_end(&c);
    web_raw(b, "</figure>\n<table id=\"themes\">\n<caption class=\"visually-hidden\">Per theme"
               "</caption>\n<thead><tr><th scope=\"col\">Theme</th><th scope=\"col\" "
               "class=\"num\">Posts that chose it</th><th scope=\"col\" class=\"num\">Committed"
               "</th></tr></thead>\n<tbody>\n");
    cJSON_ArrayForEach(r, chosen) {
        const char *t = web_jstr(r, "theme");
        theme_money(money, sizeof money, by_theme, t);
        web_raw(b, "<tr data-theme=\"");
        web_esc(b, t);
        web_raw(b, "\"><th scope=\"row\"><span class=\"code\">");
        web_esc(b, t);
        web_raw(b, "</span> <span class=\"muted\">");
        web_esc(b, web_jstr(r, "detail"));
        web_rawf(b,
                 "</span></th><td class=\"num\" data-k=\"posts\">%.0f</td>"
                 "<td class=\"num\" data-k=\"committed\">",
                 num(r, "posts"));
        web_esc(b, money[0] ? money : "-");
        web_raw(b, "</td></tr>\n");
    }
    web_raw(b, "</tbody>\n</table>\n");
}

/* ---- posts, exceptions ------------------------------------------------------------------- */

static void posts_table(struct buf *b, const cJSON *posts)
{
    const cJSON *p;

    web_raw(b, "<table class=\"sortable\" id=\"posts-asof\">\n<caption class=\"visually-hidden\">"
               "Data as of, per post</caption>\n<thead><tr><th scope=\"col\">Post</th><th "
               "scope=\"col\">Kind</th><th scope=\"col\">Data as of</th><th scope=\"col\" "
               "class=\"num\">Open conflicts</th></tr></thead>\n<tbody>\n");
    cJSON_ArrayForEach(p, posts) {
        web_raw(b, "<tr data-post=\"");
        web_esc(b, web_jstr(p, "post"));
        web_raw(b, "\"><th scope=\"row\" class=\"code\">");
        web_esc(b, web_jstr(p, "post"));
        web_raw(b, "</th><td>");
        web_esc(b, web_jstr(p, "kind"));
        web_raw(b, "</td><td data-k=\"data_as_of\">");
        web_esc(b, web_jstr(p, "data_as_of"));
        web_raw(b, "</td><td class=\"num\" data-k=\"open_conflicts\">");
        if (num(p, "open_conflicts") > 0) {
            web_raw(b, "<a href=\"/conflicts?post=");
            web_urlenc(b, web_jstr(p, "post"));
            web_rawf(b, "\">%.0f</a>", num(p, "open_conflicts"));
        } else {
            web_raw(b, "0");
        }
        web_raw(b, "</td></tr>\n");
    }
    web_raw(b, "</tbody>\n</table>\n");
}

static void exceptions_table(struct buf *b, const cJSON *ex, int year)
{
    const cJSON *e;

    if (cJSON_GetArraySize(ex) == 0) {
        web_rawf(b,
                 "<p id=\"exceptions-none\">No exceptions for %d: every post synced within "
                 "14 days, chose one or two themes and stays within its allocation, and no "
                 "conflict is open.</p>\n",
                 year);
        return;
    }
    web_raw(b, "<table class=\"sortable\" id=\"exceptions\">\n<caption class=\"visually-hidden\">"
               "Exceptions</caption>\n<thead><tr><th scope=\"col\">Post</th><th scope=\"col\" "
               "class=\"num\">Year</th><th scope=\"col\">Exception</th><th scope=\"col\">What"
               "</th></tr></thead>\n<tbody>\n");
    cJSON_ArrayForEach(e, ex) {
        const char *rule = web_jstr(e, "rule");
        web_raw(b, "<tr><th scope=\"row\" class=\"code\" data-k=\"post\">");
        web_esc(b, web_jstr(e, "post"));
        web_raw(b, "</th><td class=\"num\" data-k=\"year\">");
        if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e, "year")))
            web_rawf(b, "%.0f", num(e, "year"));
        web_raw(b, "</td><td data-k=\"rule\"><span class=\"tag open\">");
        web_esc(b, rule);
        web_raw(b, "</span></td><td data-k=\"detail\">");
        web_esc(b, web_jstr(e, "detail"));
        if (strcmp(rule, "open_conflicts") == 0) {
            web_raw(b, " &middot; <a href=\"/conflicts?post=");
            web_urlenc(b, web_jstr(e, "post"));
            web_raw(b, "\">review</a>");
        } else if (strcmp(rule, "over_allocation") == 0) {
            web_raw(b, " &middot; <a href=\"/allocations\">allocations</a>");
        }
        web_raw(b, "</td></tr>\n");
    }
    web_raw(b, "</tbody>\n</table>\n");
}

void hqui_page_overview(struct hqui_page *pg)
{
    struct buf *b = pg->b;
    struct web_errors e = {0};
    const char *year_s = web_query(pg->rq, "year");
    int year = hqui_year(pg, year_s, &e);
    cJSON *rep = NULL, *by_theme = NULL;
    const cJSON *r, *totals;

    if (build(pg, year, HQ_REPORT_BY_POST, &rep) != MRF_OK ||
        build(pg, year, HQ_REPORT_BY_THEME, &by_theme) != MRF_OK) {
        hqui_fail_page(pg, 500, "Overview", pg->err.msg);
        goto out;
    }
    if (e.n > 0)
        pg->resp->status = 400;
    totals = cJSON_GetObjectItemCaseSensitive(rep, "totals");
    hqui_begin(pg, "Overview", "/");
    web_rawf(b, "<h1>Fund overview %d</h1>\n", year);
    web_error_summary(b, &e);
    web_raw(b, "<form method=\"get\" action=\"/\" class=\"filters\">\n");
    web_input(b, "text", "year", "Year", NULL, year_s, &e, "inputmode=\"numeric\" size=\"6\"");
    web_rawf(b,
             "<button type=\"submit\" class=\"secondary\">Show</button>\n"
             "<a href=\"/?year=%d\">&larr; %d</a> <a href=\"/?year=%d\">%d &rarr;</a>\n"
             "<span class=\"downloads\">CSV, as <code>mrf-hq report --year %d --format csv"
             "</code>: <a id=\"csv-post\" href=\"/report.csv?year=%d&amp;by=post\" download>"
             "by post</a> &middot; <a id=\"csv-theme\" href=\"/report.csv?year=%d&amp;by=theme\" "
             "download>by theme</a></span>\n</form>\n",
             year - 1, year - 1, year + 1, year + 1, year, year, year);
    web_raw(b, "<p class=\"lead\">The fund as HQ holds it after merging the posts' change sets, "
               "generated ");
    web_esc(b, web_jstr(rep, "generated_at"));
    web_raw(b, ". Each post's figures are as of its last accepted sync. Amounts stay in their "
               "own currency; \"-\" means no allocation in that currency.</p>\n");
    totals_table(b, totals);

    web_raw(b, "<h2>Per post</h2>\n");
    if (cJSON_GetArraySize(totals) == 0)
        web_rawf(b,
                 "<p>No allocations or grants for %d yet. Set an allocation under <a "
                 "href=\"/allocations\">Allocations</a>; grants arrive with the posts' "
                 "syncs.</p>\n",
                 year);
    cJSON_ArrayForEach(r, totals) {
        post_chart(b, cJSON_GetObjectItemCaseSensitive(rep, "rows"), web_jstr(r, "currency"), year);
    }
    if (cJSON_GetArraySize(totals) > 0)
        post_table(b, cJSON_GetObjectItemCaseSensitive(rep, "rows"));

    web_raw(b, "<h2>Per theme</h2>\n");
    themes(b, cJSON_GetObjectItemCaseSensitive(rep, "themes_chosen"),
           cJSON_GetObjectItemCaseSensitive(by_theme, "rows"), num(rep, "post_count"), year);

    web_raw(b, "<div class=\"columns\">\n<div>\n<h2>Data as of, per post</h2>\n");
    posts_table(b, cJSON_GetObjectItemCaseSensitive(rep, "posts"));
    web_raw(b, "</div>\n<div>\n<h2>Exceptions</h2>\n");
    exceptions_table(b, cJSON_GetObjectItemCaseSensitive(rep, "exceptions"), year);
    web_raw(b, "</div>\n</div>\n");
    hqui_end(pg);
out:
    cJSON_Delete(rep);
    cJSON_Delete(by_theme);
}

void hqui_report_csv(struct hqui_page *pg)
{
    const char *year_s = web_query(pg->rq, "year"), *by_s = web_query(pg->rq, "by");
    int year = 0, by = HQ_REPORT_BY_POST;
    cJSON *rep = NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f = NULL;

    if (year_s && year_s[0] && year_parse(year_s, &year, &pg->err) != MRF_OK) {
        hqui_fail_page(pg, 400, "CSV", pg->err.msg);
        return;
    }
    if (by_s && (by = hq_report_by_parse(by_s)) < 0) {
        hqui_fail_page(pg, 400, "CSV", "--by is post, theme or status");
        return;
    }
    if (build(pg, year, (enum hq_report_by)by, &rep) != MRF_OK) {
        hqui_fail_page(pg, 500, "CSV", pg->err.msg);
        return;
    }
    f = open_memstream(&text, &len);
    if (f != NULL) {
        enum mrf_status prc = hq_report_print(rep, HQ_REPORT_CSV, f);
        if (fclose(f) != 0 || prc != MRF_OK)
            f = NULL;
    }
    if (f == NULL) {
        hqui_fail_page(pg, 500, "CSV", "the CSV could not be made; try again");
        goto out;
    }
    if (buf_append(pg->b, text, len) != MRF_OK) {
        hqui_fail_page(pg, 500, "CSV", "the CSV is larger than a page may be; download one year");
        goto out;
    }
    pg->resp->content_type = "text/csv; charset=utf-8";
    if (year > 0)
        snprintf(pg->resp->filename, sizeof pg->resp->filename, "mrf-report-%d-by-%s.csv", year,
                 by_s ? by_s : "post");
    else
        snprintf(pg->resp->filename, sizeof pg->resp->filename, "mrf-report-by-%s.csv",
                 by_s ? by_s : "post");
out:
    free(text);
    cJSON_Delete(rep);
}

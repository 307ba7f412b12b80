/* Allocations per post-year: the year's allocation, committed and remaining per post (the
 * post-year lines of `mrf-hq report --year Y`'s object), and a form that sets one — `mrf-hq
 * allocate CODE YEAR AMOUNT --currency C`'s hq_allocate, with its rules, its messages (next to
 * the field they name), its audit entry and its re-check of the year's rules. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ui.h"

struct codes {
    int n;
    char code[64][16];
};

static enum mrf_status post_collect(void *arg, const struct hq_post *p)
{
    struct codes *c = arg;

    if (c->n < 64)
        str_copy(c->code[c->n++], p->code, sizeof c->code[0]);
    return MRF_OK;
}

static void money_cell(struct buf *b, const char *key, const cJSON *r, const char *currency)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, key));

    web_rawf(b, "<td class=\"num\" data-k=\"%s\">", key);
    if (v == NULL)
        web_raw(b, "<span class=\"muted\">-</span>");
    else
        web_money(b, v, currency);
    web_raw(b, "</td>");
}

/* What was typed, kept after a refusal. */
struct typed {
    const char *post, *year, *amount, *currency;
};

static void page(struct hqui_page *pg, int year, const struct typed *t, const struct web_errors *e)
{
    struct buf *b = pg->b;
    struct hq_report_opts o = {NULL, year, HQ_REPORT_BY_POST, (int64_t)time(NULL)};
    struct codes pc;
    const char *vals[64];
    cJSON *rep = NULL;
    const cJSON *r;
    char ys[16];
    int lines = 0;
    enum mrf_status rc = hqui_store(pg);

    memset(&pc, 0, sizeof pc);
    if (rc == MRF_OK)
        rc = hqstore_post_list(pg->st, post_collect, &pc);
    if (rc == MRF_OK)
        rc = hq_report_build(pg->st, &o, &rep, &pg->err);
    if (rc != MRF_OK) {
        hqui_fail_page(pg, 500, "Allocations", pg->err.msg);
        return;
    }
    for (int i = 0; i < pc.n; i++)
        vals[i] = pc.code[i];
    snprintf(ys, sizeof ys, "%d", year);
    hqui_begin(pg, "Allocations", "/allocations");
    web_rawf(b, "<h1>Allocations %d</h1>\n", year);
    web_error_summary(b, e);
    web_raw(b, "<form method=\"get\" action=\"/allocations\" class=\"filters\">\n");
    web_input(b, "text", "y", "Year", NULL, ys, NULL, "inputmode=\"numeric\" size=\"6\"");
    web_rawf(b,
             "<button type=\"submit\" class=\"secondary\">Show</button>\n<a "
             "href=\"/allocations?year=%d\">&larr; %d</a> <a href=\"/allocations?year=%d\">%d "
             "&rarr;</a>\n</form>\n",
             year - 1, year - 1, year + 1, year + 1);
    web_raw(b, "<div class=\"columns\">\n<div>\n");
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(rep, "rows")) {
        const char *cur = web_jstr(r, "currency"), *rm;
        if (strcmp(web_jstr(r, "section"), "post_year") != 0)
            continue;
        if (lines++ == 0)
            web_raw(b, "<table class=\"sortable\" id=\"allocations-table\">\n<thead><tr><th "
                       "scope=\"col\">Post</th><th scope=\"col\" class=\"num\">Allocation</th>"
                       "<th scope=\"col\" class=\"num\">Committed</th><th scope=\"col\" "
                       "class=\"num\">Remaining</th></tr></thead>\n<tbody>\n");
        rm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "remaining"));
        web_raw(b, "<tr data-post=\"");
        web_esc(b, web_jstr(r, "post"));
        web_raw(b, "\" data-currency=\"");
        web_esc(b, cur);
        web_raw(b, "\"><th scope=\"row\" class=\"code\">");
        web_esc(b, web_jstr(r, "post"));
        web_raw(b, "</th>");
        money_cell(b, "allocation", r, cur);
        money_cell(b, "committed", r, cur);
        money_cell(b, "remaining", r, cur);
        web_raw(b, "</tr>\n");
        if (rm && rm[0] == '-') {
            web_raw(b, "<tr class=\"over-row\"><td colspan=\"4\"><strong class=\"over-word\">"
                       "Over the allocation</strong> by ");
            web_money(b, rm + 1, cur);
            web_raw(b, "</td></tr>\n");
        }
    }
    if (lines == 0)
        web_rawf(b,
                 "<p id=\"allocations-none\">No allocations or grants for %d yet: set one "
                 "with the form.</p>\n",
                 year);
    else
        web_raw(b, "</tbody>\n</table>\n<p class=\"muted\">\"-\": no allocation in that currency "
                   "(amounts are never converted).</p>\n");
    web_raw(b, "</div>\n<div>\n<h2>Set an allocation</h2>\n");
    web_form_open(b, pg->ui->srv, "/allocations", "id=\"allocate-form\" novalidate");
    web_select(b, "post", "Post", NULL, vals, NULL, pc.n, t->post, e);
    web_input(b, "text", "year", "Year", NULL, t->year ? t->year : ys, e,
              "inputmode=\"numeric\" size=\"6\"");
    web_input(b, "text", "amount", "Amount",
              "12500.00: no thousands separators. It replaces the post's allocation for that "
              "year",
              t->amount, e, "inputmode=\"decimal\"");
    web_input(b, "text", "currency", "Currency", "ISO 4217, as in EUR or USD",
              t->currency ? t->currency : "EUR", e, "size=\"4\" maxlength=\"3\"");
    web_raw(b, "<div class=\"actions\"><button type=\"submit\" id=\"allocate-button\">Set "
               "allocation</button><span class=\"muted\">It reaches the post's devices on their "
               "next sync.</span></div>\n</form>\n</div>\n</div>\n");
    cJSON_Delete(rep);
    hqui_end(pg);
}

void hqui_page_allocations(struct hqui_page *pg)
{
    struct web_request *rq = pg->rq;
    static const char *const fields[] = {"post", "year", "amount", "currency"};
    struct typed none = {NULL, NULL, NULL, NULL};
    struct typed t = {web_field(rq, "post"), web_field(rq, "year"), web_field(rq, "amount"),
                      web_field(rq, "currency")};
    struct web_errors e;
    struct hq_allocated done;
    char msg[256];
    int year;
    enum mrf_status rc;

    memset(&e, 0, sizeof e);
    if (!rq->post) {
        const char *y = web_query(rq, "y");
        year = hqui_year(pg, y ? y : web_query(rq, "year"), &e);
        if (e.n > 0)
            pg->resp->status = 400;
        page(pg, year, &none, &e);
        return;
    }
    rc = hq_allocate(pg->ui->home, t.post ? t.post : "", t.year ? t.year : "",
                     t.amount ? t.amount : "", t.currency && t.currency[0] ? t.currency : NULL,
                     &done, &pg->err);
    if (rc != MRF_OK) {
        web_form_error(&e, pg->err.msg, fields, 4, "amount");
        pg->resp->status = 400;
        page(pg, hqui_year(pg, t.year, NULL), &t, &e);
        return;
    }
    snprintf(msg, sizeof msg,
             "allocated %s %s to %d for %s; it reaches the post's devices on their next sync",
             done.amount, done.currency, done.year, done.post);
    hqui_flash(pg->ui, HQUI_FLASH_OK, msg);
    snprintf(pg->resp->location, sizeof pg->resp->location, "/allocations?year=%d", done.year);
}

/* The allocation page: `mrf allocation --json`'s object for a year as bars per currency: HQ's
 * allocation against what the post committed, the remainder printed on the bar, and
 * over-allocation in colour and in words (a warning: HQ decides). Other currencies are shown
 * committed only, never converted. */
#include <stdlib.h>
#include <string.h>

#include "ui.h"

static void bar(struct buf *b, double part, double whole, int over, const char *label)
{
    double pct = whole > 0 ? part * 100.0 / whole : 100.0;

    if (pct > 100.0)
        pct = 100.0;
    if (pct < 0)
        pct = 0;
    web_rawf(b, "<div class=\"bar%s\" role=\"img\" aria-label=\"", over ? " over" : "");
    web_esc(b, label);
    web_rawf(b, "\"><div class=\"fill bar-w%d\"></div><span class=\"label\">", (int)(pct / 5) * 5);
    web_esc(b, label);
    web_raw(b, "</span></div>\n");
}

void ui_page_allocation(struct ui_page *pg)
{
    struct buf *b = pg->b;
    const char *year_s = web_query(pg->rq, "year");
    int year = client_this_year();
    cJSON *o = NULL, *x;
    char label[256];
    const char *cur, *al, *cm, *rm;

    if (year_s && year_s[0] && year_parse(year_s, &year, &pg->ctx->err) != MRF_OK) {
        ui_fail_page(pg, 400, "Allocation", pg->ctx->err.msg);
        return;
    }
    if (client_allocation_json(pg->ctx, year, &o) != MRF_OK) {
        ui_fail_page(pg, 500, "Allocation", pg->ctx->err.msg);
        return;
    }
    cur = web_jstr(o, "currency");
    al = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "allocation"));
    cm = web_jstr(o, "committed");
    rm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "remaining"));
    ui_begin(pg, "Allocation", "/allocation");
    web_rawf(b, "<h1>Allocation %d</h1>\n", year);
    web_raw(b, "<form method=\"get\" action=\"/allocation\" class=\"filters\">\n");
    web_input(b, "text", "year", "Year", NULL, year_s ? year_s : NULL, NULL,
              "inputmode=\"numeric\" size=\"6\"");
    web_raw(b, "<button type=\"submit\" class=\"secondary\">Show</button>\n</form>\n");
    web_raw(b, "<h2>");
    web_esc(b, cur);
    web_raw(b, "</h2>\n<div id=\"allocation-main\">\n");
    if (al == NULL) {
        web_rawf(b,
                 "<p>No allocation received from HQ for %d yet (it arrives with a sync). "
                 "Committed so far: ",
                 year);
        web_money(b, cm, cur);
        web_raw(b, ".</p>\n");
    } else {
        int over = rm && rm[0] == '-';
        snprintf(label, sizeof label, "committed %s of %s %s, remaining %s %s", cm, al, cur,
                 rm ? rm : "-", cur);
        bar(b, strtod(cm, NULL), strtod(al, NULL), over, label);
        web_raw(b, "<table>\n<thead><tr><th scope=\"col\">Allocation</th><th scope=\"col\" "
                   "class=\"num\">Committed</th><th scope=\"col\" class=\"num\">Remaining</th>"
                   "</tr></thead>\n<tbody><tr><td class=\"num\">");
        web_money(b, al, cur);
        web_raw(b, "</td><td class=\"num\">");
        web_money(b, cm, cur);
        web_raw(b, "</td><td class=\"num\">");
        web_money(b, rm, cur);
        web_raw(b, "</td></tr></tbody>\n</table>\n");
        if (over) {
            char msg[256];
            web_raw(b, "<div class=\"notice bad\" id=\"over-allocation\"><strong "
                       "class=\"over-word\">Over-allocated.</strong> ");
            if (client_allocation_warning(pg->ctx, year, msg, sizeof msg))
                web_esc(b, msg);
            web_raw(b, "</div>\n");
        }
    }
    web_raw(b, "</div>\n");
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(o, "other_currencies")) {
        web_raw(b, "<h2>");
        web_esc(b, web_jstr(x, "currency"));
        web_raw(b, "</h2>\n<p>Committed ");
        web_money(b, web_jstr(x, "committed"), web_jstr(x, "currency"));
        web_raw(b, ": no allocation in this currency, so it is not counted against the "
                   "allocation (amounts are never converted).</p>\n");
    }
    cJSON_Delete(o);
    ui_end(pg);
}

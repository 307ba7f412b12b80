/* The conflicts page: the records HQ sent this post (`mrf conflicts --all --json`), open ones
 * first, then closed ones with HQ's decision and its reason. Codes and amounts only. */
#include <string.h>

#include "ui.h"

static void table(struct buf *b, const cJSON *rows, int closed, const char *id)
{
    const cJSON *o;

    web_rawf(b,
             "<table class=\"sortable\" id=\"%s\">\n<thead><tr><th scope=\"col\">Record</th>"
             "<th scope=\"col\">Kind</th><th scope=\"col\">Rule</th><th scope=\"col\">Rows"
             "</th><th scope=\"col\">What happened</th><th scope=\"col\">%s</th>%s</tr>"
             "</thead>\n<tbody>\n",
             id, closed ? "Closed" : "Opened",
             closed ? "<th scope=\"col\">HQ's decision and reason</th>" : "");
    cJSON_ArrayForEach(o, rows) {
        if ((strcmp(web_jstr(o, "state"), "closed") == 0) != closed)
            continue;
        web_raw(b, "<tr><td class=\"code\">");
        web_esc(b, web_jstr(o, "id"));
        web_raw(b, "</td><td>");
        web_esc(b, web_jstr(o, "kind"));
        web_raw(b, "</td><td>");
        web_esc(b, web_jstr(o, "rule"));
        web_raw(b, "</td><td class=\"code\">");
        web_esc(b, web_jstr(o, "rows"));
        web_raw(b, "</td><td>");
        web_esc(b, web_jstr(o, "detail"));
        if (web_jstr(o, "a")[0] || web_jstr(o, "b")[0]) {
            web_raw(b, "<br><span class=\"muted\">A (HQ held): ");
            web_esc(b, web_jstr(o, "a"));
            web_raw(b, " &middot; B (arrived): ");
            web_esc(b, web_jstr(o, "b"));
            web_raw(b, "</span>");
        }
        web_raw(b, "</td><td>");
        web_esc(b, web_jstr(o, closed ? "closed" : "opened"));
        web_raw(b, "</td>");
        if (closed) {
            web_raw(b, "<td>");
            web_esc(b, web_jstr(o, "decision"));
            if (web_jstr(o, "reason")[0]) {
                web_raw(b, ": ");
                web_esc(b, web_jstr(o, "reason"));
            }
            web_raw(b, "</td>");
        }
        web_raw(b, "</tr>\n");
    }
    web_raw(b, "</tbody>\n</table>\n");
}

void ui_page_conflicts(struct ui_page *pg)
{
    struct buf *b = pg->b;
    cJSON *rows = NULL;
    const cJSON *o;
    int open = 0, closed = 0;

    if (client_conflicts_json(pg->ctx, 1, &rows) != MRF_OK) {
        ui_fail_page(pg, 500, "Conflicts", pg->ctx->err.msg);
        return;
    }
    cJSON_ArrayForEach(o, rows) {
        if (strcmp(web_jstr(o, "state"), "closed") == 0)
            closed++;
        else
            open++;
    }
    ui_begin(pg, "Conflicts", "/conflicts");
    web_raw(b, "<h1>Conflicts HQ reported</h1>\n<p class=\"lead\">When two laptops change the "
               "same value before they sync, or the post's records break a fund rule, HQ keeps "
               "both values and decides. Meanwhile the values stay as they are and can be "
               "edited; HQ's decision arrives with a sync.</p>\n");
    web_rawf(b, "<h2>Open (%d)</h2>\n", open);
    if (open)
        table(b, rows, 0, "open-conflicts");
    else
        web_raw(b, "<p>No open conflicts.</p>\n");
    web_rawf(b, "<h2>Closed, with HQ's decision (%d)</h2>\n", closed);
    if (closed)
        table(b, rows, 1, "closed-conflicts");
    else
        web_raw(b, "<p>None yet.</p>\n");
    cJSON_Delete(rows);
    ui_end(pg);
}

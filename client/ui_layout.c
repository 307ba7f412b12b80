/* The frame of every `mrf ui` page (header with the post and the lock state, navigation,
 * notices, the Quit button) and sealed values as pills. Amounts, status tags, "how long ago"
 * and filing a rule's message under its field are the web layer's (web/show.c), shared with
 * `mrf-hq ui`. */
#include <string.h>
#include <time.h>

#include "ui.h"

static const struct web_nav nav[] = {
    {"/", "Home"},         {"/themes", "Themes"},         {"/partners", "Partners"},
    {"/grants", "Grants"}, {"/allocation", "Allocation"}, {"/conflicts", "Conflicts"},
};

static void header(struct ui_page *pg)
{
    struct buf *b = pg->b;
    int left = ui_unlock_left(pg->ui);

    web_raw(b, "<a class=\"skip\" href=\"#main\">Skip to the page</a>\n<header class=\"top\">\n"
               "<span class=\"brand\">mrf</span>\n<span>Post <span class=\"post\">");
    web_esc(b, pg->ctx->meta.post);
    web_raw(b, "</span></span>\n<div class=\"lock\">\n");
    if (left > 0) {
        web_rawf(b,
                 "<span id=\"lock-state\">Unlocked: names are shown; locks in "
                 "<span id=\"lock-countdown\" data-seconds=\"%d\">%d:%02d</span> without use"
                 "</span>\n",
                 left, left / 60, left % 60);
        web_form_open(b, pg->ui->srv, "/lock", NULL);
        web_raw(b, "<input type=\"hidden\" name=\"back\" value=\"");
        web_esc(b, web_safe_back(pg->rq->path));
        web_raw(b, "\">\n<button type=\"submit\">Lock now</button>\n</form>\n");
    } else {
        web_raw(b, "<span id=\"lock-state\">Locked: names are sealed</span>\n"
                   "<a class=\"button secondary\" href=\"/unlock?back=");
        web_urlenc(b, web_safe_back(pg->rq->path));
        web_raw(b, "\">Unlock</a>\n");
    }
    web_raw(b, "</div>\n</header>\n<nav class=\"main\" aria-label=\"Pages\">\n<ul>\n");
}

void ui_begin(struct ui_page *pg, const char *title, const char *current)
{
    struct buf *b = pg->b;
    char full[160];

    snprintf(full, sizeof full, "%s · mrf %s", title, pg->ctx->meta.post);
    web_page_begin(b, full, NULL);
    header(pg);
    web_nav(b, nav, sizeof nav / sizeof nav[0], current);
    if (pg->ui->flash_kind != UI_FLASH_NONE && !pg->rq->post) {
        web_notice(b, pg->ui->flash_kind != UI_FLASH_OK, pg->ui->flash);
        pg->ui->flash_kind = UI_FLASH_NONE;
        pg->ui->flash[0] = '\0';
    }
}

void ui_end(struct ui_page *pg)
{
    web_footer(pg->b, pg->ui->srv,
               "This page runs on this laptop only and works offline. Nothing here is sent "
               "anywhere but by Sync.",
               "Quit mrf ui");
}

void ui_fail_page(struct ui_page *pg, int status, const char *title, const char *msg)
{
    struct buf *b = pg->b;

    pg->resp->status = status;
    buf_reset(b);
    if (pg->ctx->db != NULL) {
        ui_begin(pg, title, NULL);
    } else {
        web_page_begin(b, title, NULL);
        web_raw(b, "<main id=\"main\">\n");
    }
    web_raw(b, "<h1>");
    web_esc(b, title);
    web_raw(b, "</h1>\n<div class=\"notice bad\">");
    web_esc(b, msg);
    web_raw(b, "</div>\n");
    if (pg->ctx->db != NULL)
        ui_end(pg);
    else
        web_raw(b, "</main>\n</body>\n</html>\n");
}

void ui_sealed(struct buf *b, const cJSON *v)
{
    const char *s = cJSON_GetStringValue(v);

    if (s == NULL) {
        web_raw(b, "<span class=\"muted\">-</span>");
    } else if (strcmp(s, "sealed") == 0) {
        web_raw(b, "<span class=\"pill sealed\">sealed</span>");
    } else if (strcmp(s, "sealed (another device)") == 0) {
        web_raw(b, "<span class=\"pill sealed\" title=\"recorded on another laptop of this "
                   "post; only that laptop and HQ's escrow key open it\">sealed (another "
                   "device)</span>");
    } else if (strcmp(s, "damaged") == 0) {
        web_raw(b, "<span class=\"pill\" title=\"this field no longer opens; record it again "
                   "and tell HQ\">damaged</span>");
    } else {
        web_raw(b, "<span class=\"revealed\">");
        web_esc(b, s);
        web_raw(b, "</span>");
    }
}

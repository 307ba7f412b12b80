/* The frame of every `mrf-hq ui` page (header, navigation, notices, the footer with the Quit
 * button) and the small pieces HQ's pages share: a time with how long ago, and the year a
 * page is about. Amounts, status tags and filing a message under its field are the web
 * layer's (web/show.c), shared with `mrf ui`. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ui.h"

static const struct web_nav nav[] = {
    {"/", "Overview"},
    {"/conflicts", "Conflicts"},
    {"/posts", "Posts and devices"},
    {"/allocations", "Allocations"},
};

int hqui_this_year(void)
{
    time_t now = time(NULL);
    struct tm tm;

    if (gmtime_r(&now, &tm) == NULL)
        return 2026;
    return tm.tm_year + 1900;
}

int hqui_year(struct hqui_page *pg, const char *given, struct web_errors *e)
{
    int year = hqui_this_year();

    if (given == NULL || given[0] == '\0')
        return year;
    if (year_parse(given, &year, &pg->err) != MRF_OK) {
        if (e)
            web_form_error(e, pg->err.msg, NULL, 0, "year");
        return hqui_this_year();
    }
    return year;
}

void hqui_when(struct buf *b, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char w[32], ago[64];

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
        web_raw(b, "never");
        return;
    }
    strftime(w, sizeof w, "%Y-%m-%d %H:%M UTC", &tm);
    web_ago(ago, sizeof ago, t, (int64_t)time(NULL));
    web_esc(b, w);
    web_raw(b, " <span class=\"muted\">(");
    web_esc(b, ago);
    web_raw(b, ")</span>");
}

void hqui_begin(struct hqui_page *pg, const char *title, const char *current)
{
    struct buf *b = pg->b;
    char full[160];

    snprintf(full, sizeof full, "%s · mrf-hq", title);
    web_page_begin(b, full, NULL);
    web_raw(b, "<a class=\"skip\" href=\"#main\">Skip to the page</a>\n<header class=\"top\">\n"
               "<span class=\"brand\">mrf-hq</span>\n<span>HQ dashboard</span>\n"
               "<div class=\"lock\"><span>Post codes only; identities stay sealed</span></div>\n"
               "</header>\n<nav class=\"main\" aria-label=\"Pages\">\n<ul>\n");
    web_nav(b, nav, sizeof nav / sizeof nav[0], current);
    if (pg->ui->flash_kind != HQUI_FLASH_NONE && !pg->rq->post) {
        web_notice(b, pg->ui->flash_kind != HQUI_FLASH_OK, pg->ui->flash);
        pg->ui->flash_kind = HQUI_FLASH_NONE;
        pg->ui->flash[0] = '\0';
    }
}

void hqui_end(struct hqui_page *pg)
{
    web_footer(pg->b, pg->ui->srv,
               "This page runs on this machine only. It never loads the escrow key: reveal "
               "stays a command for the offline machine.",
               "Quit mrf-hq ui");
}

void hqui_fail_page(struct hqui_page *pg, int status, const char *title, const char *msg)
{
    struct buf *b = pg->b;

    pg->resp->status = status;
    buf_reset(b);
    hqui_begin(pg, title, NULL);
    web_raw(b, "<h1>");
    web_esc(b, title);
    web_raw(b, "</h1>\n<div class=\"notice bad\" id=\"failure\">");
    web_esc(b, msg);
    web_raw(b, "</div>\n");
    hqui_end(pg);
}

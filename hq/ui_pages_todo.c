/* The dashboard pages not built yet (conflicts, posts and devices, allocations): each says so
 * and names the command that does the job meanwhile. Replaced page by page. */
#include "ui.h"

static void later(struct hqui_page *pg, const char *title, const char *cmd)
{
    char msg[256];

    snprintf(msg, sizeof msg, "This page is not built yet; use %s meanwhile.", cmd);
    hqui_fail_page(pg, 404, title, msg);
}

void hqui_page_conflicts(struct hqui_page *pg, const char *rest)
{
    (void)rest;
    later(pg, "Conflicts", "mrf-hq conflicts, conflict show and resolve");
}

void hqui_page_posts(struct hqui_page *pg)
{
    later(pg, "Posts and devices", "mrf-hq device list and device revoke");
}

void hqui_page_revoke(struct hqui_page *pg, const char *rest)
{
    (void)rest;
    later(pg, "Revoke a device", "mrf-hq device revoke");
}

void hqui_page_allocations(struct hqui_page *pg)
{
    later(pg, "Allocations", "mrf-hq allocate");
}

/* `mrf-hq ui`'s session and routes: each request is routed to its page; a page that reads opens
 * the HQ store read-only for that request, in one read transaction (hqui_store), and the handle
 * is closed when the answer is built, so no page holds the store between requests and `mrf-hq
 * serve` is never kept waiting. */
#include <string.h>

#include <sodium.h>

#include "ui.h"

void hqui_flash(struct hqui *ui, enum hqui_flash kind, const char *msg)
{
    ui->flash_kind = kind;
    str_copy(ui->flash, msg, sizeof ui->flash);
}

enum mrf_status hqui_store(struct hqui_page *pg)
{
    enum mrf_status rc;

    if (pg->st != NULL)
        return MRF_OK;
    rc = hqstore_open(pg->ui->home, HQSTORE_READONLY, &pg->st, &pg->err);
    if (rc == MRF_OK && (rc = hqstore_begin_read(pg->st)) == MRF_OK)
        rc = hqstore_config_get(pg->st, &pg->cfg);
    if (rc != MRF_OK && pg->st != NULL) {
        mrf_error_set(&pg->err, rc, "%s", hqstore_errmsg(pg->st));
        hqstore_rollback(pg->st);
        hqstore_close(pg->st);
        pg->st = NULL;
    }
    return rc;
}

static void page_quit(struct hqui_page *pg)
{
    web_page_begin(pg->b, "mrf-hq ui has stopped", NULL);
    web_raw(pg->b, "<main>\n<h1>mrf-hq ui has stopped</h1>\n<p>The server is closing; "
                   "mrf-hq serve goes on serving the posts. Run <code>mrf-hq ui</code> again to "
                   "come back; you can close this tab.</p>\n</main>\n");
    web_page_end(pg->b);
    web_quit(pg->ui->srv);
}

static void route(struct hqui_page *pg)
{
    const char *p = pg->rq->path;
    int post = pg->rq->post;

    if (strcmp(p, "/") == 0 && !post)
        hqui_page_overview(pg);
    else if (strcmp(p, "/report.csv") == 0 && !post)
        hqui_report_csv(pg);
    else if (strncmp(p, "/conflicts", 10) == 0 && (p[10] == '\0' || p[10] == '/'))
        hqui_page_conflicts(pg, p + 10);
    else if (strcmp(p, "/posts") == 0 && !post)
        hqui_page_posts(pg);
    else if (strncmp(p, "/devices/", 9) == 0)
        hqui_page_revoke(pg, p + 9);
    else if (strcmp(p, "/allocations") == 0)
        hqui_page_allocations(pg);
    else if (strcmp(p, "/quit") == 0 && post)
        page_quit(pg);
    else
        hqui_fail_page(pg, 404, "Page not found",
                       "There is no such page. Use the links at the top to find your way.");
}

void hqui_handle(void *app, struct web_request *rq, struct web_response *resp)
{
    struct hqui_page pg;

    memset(&pg, 0, sizeof pg);
    pg.ui = app;
    pg.rq = rq;
    pg.resp = resp;
    pg.b = &resp->body;
    mrf_error_clear(&pg.err);
    route(&pg);
    if (pg.st != NULL) {
        hqstore_rollback(pg.st); /* ends the read transaction; nothing was written */
        hqstore_close(pg.st);
    }
    sodium_memzero(&pg.err, sizeof pg.err);
}

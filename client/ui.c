/* `mrf ui`'s session and routes: each request gets its own post store context (read-only for a
 * GET), the unlocked keys lent to it while its page is built, and is routed to its page. The
 * lock timer lives here: a page asked for (not the sync progress the script polls) counts as
 * use; the keys are wiped lock_after_s seconds after the last use, by the next request or by
 * web_run's tick, whichever comes first. */
#include <string.h>

#include <sodium.h>

#include "ui.h"

void ui_lock(struct ui *ui)
{
    mrf_secrets_free(ui->secrets); /* wipes */
    ui->secrets = NULL;
    ui->last_use_ms = 0;
}

int ui_unlock_left(const struct ui *ui)
{
    uint64_t now = time_now_ms(), until;

    if (ui->secrets == NULL)
        return 0;
    until = ui->last_use_ms + (uint64_t)ui->lock_after_s * 1000u;
    return until > now ? (int)((until - now + 999) / 1000) : 0;
}

static void expire(struct ui *ui)
{
    if (ui->secrets && ui_unlock_left(ui) == 0)
        ui_lock(ui);
}

void ui_tick(void *app)
{
    struct ui *ui = app;

    pthread_mutex_lock(&ui->mu);
    expire(ui);
    pthread_mutex_unlock(&ui->mu);
}

void ui_flash(struct ui *ui, enum ui_flash kind, const char *msg)
{
    ui->flash_kind = kind;
    str_copy(ui->flash, msg, sizeof ui->flash);
}

static void page_quit(struct ui_page *pg)
{
    web_page_begin(pg->b, "mrf ui has stopped", NULL);
    web_raw(pg->b, "<main>\n<h1>mrf ui has stopped</h1>\n<p>The keys are wiped and the server "
                   "is closing. Nothing recorded is lost. Run <code>mrf ui</code> again to "
                   "come back; you can close this tab.</p>\n</main>\n");
    web_page_end(pg->b);
    web_quit(pg->ui->srv);
}

static void page_not_found(struct ui_page *pg)
{
    ui_fail_page(pg, 404, "Page not found",
                 "There is no such page. Use the links at the top to find your way.");
}

static void route(struct ui_page *pg)
{
    const char *p = pg->rq->path;
    int post = pg->rq->post;

    if (strcmp(p, "/") == 0 && !post)
        ui_page_home(pg);
    else if (strcmp(p, "/sync") == 0 && post)
        ui_sync_start(pg);
    else if (strcmp(p, "/unlock") == 0 || (strcmp(p, "/lock") == 0 && post))
        ui_page_unlock(pg);
    else if (strcmp(p, "/quit") == 0 && post)
        page_quit(pg);
    else if (strcmp(p, "/themes") == 0)
        ui_page_themes(pg);
    else if (strncmp(p, "/partners", 9) == 0 && (p[9] == '\0' || p[9] == '/'))
        ui_page_partners(pg, p + 9);
    else if (strncmp(p, "/grants", 7) == 0 && (p[7] == '\0' || p[7] == '/'))
        ui_page_grants(pg, p + 7);
    else if (strcmp(p, "/allocation") == 0 && !post)
        ui_page_allocation(pg);
    else if (strcmp(p, "/conflicts") == 0 && !post)
        ui_page_conflicts(pg);
    else
        page_not_found(pg);
}

void ui_handle(void *app, struct web_request *rq, struct web_response *resp)
{
    struct ui *ui = app;
    struct cli_ctx ctx;
    struct ui_page pg = {ui, &ctx, rq, resp, &resp->body};
    enum mrf_status st;

    /* The script's poll of a running sync reads no store and is not "use". */
    if (strcmp(rq->path, "/sync/progress") == 0 && !rq->post) {
        ui_sync_progress(&pg);
        return;
    }
    pthread_mutex_lock(&ui->mu);
    expire(ui);
    if (ui->secrets)
        ui->last_use_ms = time_now_ms();
    ui_sync_reap(ui, 0);
    client_init(&ctx, ui->home);
    ctx.readonly = !rq->post;
    st = client_open(&ctx);
    if (st != MRF_OK) {
        ui_fail_page(&pg, 500, "The post store cannot be opened", ctx.err.msg);
    } else {
        ctx.secrets = ui->secrets; /* lent for this page only */
        route(&pg);
        if (ctx.secrets != ui->secrets) /* a page unlocked: the keys move to the session */
            mrf_secrets_free(ctx.secrets);
        ctx.secrets = NULL;
    }
    client_close(&ctx);
    sodium_memzero(&ctx.err, sizeof ctx.err);
    pthread_mutex_unlock(&ui->mu);
}

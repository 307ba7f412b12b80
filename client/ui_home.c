/* The home page: "is my post in order?" — the object `mrf status --json` prints (post,
 * enrolled, pending changes, last sync and how long ago, open conflicts, quarantined change sets
 * with HQ's reason), and the Sync button with the last sync's outcome or its live progress. */
#include <time.h>

#include "ui.h"

static void fact(struct buf *b, const char *label, const char *id)
{
    web_raw(b, "<dt>");
    web_esc(b, label);
    web_rawf(b, "</dt><dd id=\"%s\">", id);
}

void ui_page_home(struct ui_page *pg)
{
    struct buf *b = pg->b;
    cJSON *o = NULL;
    const cJSON *q;
    char ago[64];
    enum mrf_status st = client_status_json(pg->ctx, &o);
    int running;

    if (st != MRF_OK) {
        ui_fail_page(pg, 500, "Status", pg->ctx->err.msg);
        return;
    }
    ui_begin(pg, "Home", "/");
    web_raw(b, "<h1>Post ");
    web_esc(b, web_jstr(o, "post"));
    web_raw(b, "</h1>\n");
    ui_sync_outcome(pg);
    web_raw(b, "<dl class=\"facts\">\n");
    fact(b, "Enrolled with HQ", "enrolled");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "enrolled"))) {
        web_raw(b, "yes");
    } else {
        web_raw(b, "not yet: the first sync introduces this laptop");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "token_expired")))
            web_raw(b, " <strong class=\"over-word\">(its token has expired: ask HQ for a new "
                       "one, then run <code>mrf init --token NEW</code>; nothing recorded here "
                       "is lost)</strong>");
    }
    web_raw(b, "</dd>\n");
    fact(b, "Changes waiting for a sync", "pending");
    web_rawf(b, "%.0f</dd>\n",
             cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "pending")));
    fact(b, "Last sync", "last-sync");
    if (pg->ctx->meta.last_sync > 0) {
        web_ago(ago, sizeof ago, pg->ctx->meta.last_sync, (int64_t)time(NULL));
        web_esc(b, web_jstr(o, "last_sync"));
        web_raw(b, " (");
        web_esc(b, ago);
        web_raw(b, ")");
    } else {
        web_raw(b, "never");
    }
    web_raw(b, "</dd>\n");
    fact(b, "Open conflicts", "open-conflicts");
    web_rawf(b, "%.0f",
             cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "open_conflicts")));
    if (cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "open_conflicts")) > 0)
        web_raw(b, " &middot; <a href=\"/conflicts\">see what HQ reported</a>");
    web_raw(b, "</dd>\n");
    fact(b, "Quarantined change sets", "quarantined");
    q = cJSON_GetObjectItemCaseSensitive(o, "quarantined");
    web_rawf(b, "%.0f", cJSON_GetNumberValue(q));
    if (cJSON_GetNumberValue(q) > 0) {
        web_raw(b, " <span class=\"over-word\">HQ refused them:</span> ");
        web_esc(b, web_jstr(o, "quarantine_reason"));
        web_raw(b, " <span class=\"muted\">(kept on this laptop; the rest still syncs; tell HQ)"
                   "</span>");
    }
    web_raw(b, "</dd>\n");
    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "clock_ahead_s"))) {
        double ahead = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "clock_ahead_s"));
        double off = ahead < 0 ? -ahead : ahead;
        fact(b, "This laptop's clock", "clock");
        if (off * 1000.0 <= (double)HLC_AHEAD_MAX_MS)
            web_raw(b, "in step with HQ's at the last sync");
        else
            web_rawf(b,
                     "<span class=\"over-word\">%.0f days %s HQ's</span> at the last sync: set "
                     "this laptop's date and time, then sync (nothing recorded is lost)",
                     off / 86400.0, ahead > 0 ? "ahead of" : "behind");
        web_raw(b, "</dd>\n");
    }
    fact(b, "HQ", "hq");
    web_esc(b, web_jstr(o, "hq"));
    web_raw(b, " <span class=\"muted\">fingerprint <span class=\"code\">");
    web_esc(b, web_jstr(o, "hq_fingerprint"));
    web_raw(b, "</span></span></dd>\n</dl>\n");

    pthread_mutex_lock(&pg->ui->sync.mu);
    running = pg->ui->sync.running;
    pthread_mutex_unlock(&pg->ui->sync.mu);
    if (!running) {
        web_raw(b, "<h2>Sync with HQ</h2>\n");
        web_form_open(b, pg->ui->srv, "/sync", NULL);
        if (pg->ctx->secrets == NULL)
            web_input(b, "password", "passphrase", "Passphrase",
                      "Sync signs what it sends with this laptop's key: type your passphrase "
                      "(the page stays locked)",
                      NULL, NULL, "autocomplete=\"current-password\"");
        web_raw(b, "<div class=\"actions\"><button type=\"submit\" id=\"sync-button\">Sync now"
                   "</button><span class=\"muted\">Sends the waiting changes and fetches HQ's. "
                   "If the link fails nothing is lost.</span></div>\n</form>\n");
    }
    cJSON_Delete(o);
    ui_end(pg);
}

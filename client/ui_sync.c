/* Sync from `mrf ui`: POST /sync starts client_sync, the function `mrf sync` runs, on a thread
 * of its own with its own store context and its own copy of the keys (typed passphrase when
 * the page is locked: the keys are then opened for the sync only). GET /sync/progress answers
 * the live figures as JSON for the page's script; the home page shows the outcome in the words
 * of the exit codes: 0 synced, 4 HQ unreachable (nothing lost), 5 HQ refused this device. */
#include <string.h>

#include <sodium.h>

#include "ui.h"

static void on_progress(void *arg, const struct sync_progress *p)
{
    struct ui_sync *s = arg;

    pthread_mutex_lock(&s->mu);
    s->p = *p;
    pthread_mutex_unlock(&s->mu);
}

static void *sync_thread(void *arg)
{
    struct ui_sync *s = arg;
    struct cli_ctx ctx;
    struct sync_opts o = {0};
    struct sync_summary sum;
    enum mrf_status st;

    memset(&sum, 0, sizeof sum);
    client_init(&ctx, s->home);
    st = client_open(&ctx);
    pthread_mutex_lock(&s->mu);
    ctx.secrets = s->keys; /* client_close wipes them */
    s->keys = NULL;
    pthread_mutex_unlock(&s->mu);
    o.timeout_s = s->timeout_s;
    o.progress = on_progress;
    o.progress_arg = s;
    if (st == MRF_OK)
        st = client_sync(&ctx, &o, &sum);
    pthread_mutex_lock(&s->mu);
    s->st = st;
    s->sum = sum;
    str_copy(s->msg, st == MRF_OK ? "" : ctx.err.msg, sizeof s->msg);
    s->running = 0;
    s->done = 1;
    pthread_mutex_unlock(&s->mu);
    client_close(&ctx);
    return NULL;
}

void ui_sync_reap(struct ui *ui, int wait_ms)
{
    struct ui_sync *s = &ui->sync;
    uint64_t until = time_now_ms() + (uint64_t)wait_ms;
    int running;

    if (!s->started)
        return;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        running = s->running;
        pthread_mutex_unlock(&s->mu);
        if (!running || time_now_ms() >= until)
            break;
        struct timespec t = {0, 50 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    if (!running) {
        pthread_join(s->thread, NULL);
        s->started = 0;
    }
}

void ui_sync_start(struct ui_page *pg)
{
    struct ui *ui = pg->ui;
    struct ui_sync *s = &ui->sync;
    struct mrf_secrets *keys = NULL;
    const char *pass = web_field(pg->rq, "passphrase");
    enum mrf_status st;

    str_copy(pg->resp->location, "/", sizeof pg->resp->location);
    if (s->started) {
        ui_flash(ui, UI_FLASH_WARN, "A sync is already running; its progress is below.");
        return;
    }
    if (ui->secrets) {
        keys = xsecure_malloc(sizeof *keys);
        memcpy(keys, ui->secrets, sizeof *keys);
    } else {
        st = pass && pass[0] ? client_unlock_with(pg->ctx, pass)
                             : mrf_error_set(&pg->ctx->err, MRF_E_PASSPHRASE, "no passphrase");
        if (st != MRF_OK) {
            pthread_mutex_lock(&s->mu);
            s->done = 1;
            s->st = st;
            str_copy(s->msg, pg->ctx->err.msg, sizeof s->msg);
            pthread_mutex_unlock(&s->mu);
            return;
        }
        keys = pg->ctx->secrets; /* for the sync only: the page stays locked */
        pg->ctx->secrets = NULL;
    }
    pthread_mutex_lock(&s->mu);
    s->keys = keys;
    s->home = ui->home;
    s->running = 1;
    s->done = 0;
    memset(&s->p, 0, sizeof s->p);
    pthread_mutex_unlock(&s->mu);
    if (pthread_create(&s->thread, NULL, sync_thread, s) != 0) {
        pthread_mutex_lock(&s->mu);
        mrf_secrets_free(s->keys);
        s->keys = NULL;
        s->running = 0;
        s->done = 1;
        s->st = MRF_E_INTERNAL;
        str_copy(s->msg, "cannot start the sync thread", sizeof s->msg);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->started = 1;
}

void ui_sync_progress(struct ui_page *pg)
{
    struct ui_sync *s = &pg->ui->sync;
    cJSON *o = cJSON_CreateObject();
    char *txt;

    pthread_mutex_lock(&s->mu);
    cJSON_AddBoolToObject(o, "running", s->running);
    cJSON_AddNumberToObject(o, "ops_total", (double)s->p.ops_total);
    cJSON_AddNumberToObject(o, "ops_sent", (double)s->p.ops_sent);
    cJSON_AddNumberToObject(o, "changesets", (double)s->p.changesets);
    cJSON_AddNumberToObject(o, "ops_pulled", (double)s->p.ops_pulled);
    cJSON_AddNumberToObject(o, "bytes_up", (double)s->p.bytes_up);
    cJSON_AddNumberToObject(o, "bytes_down", (double)s->p.bytes_down);
    pthread_mutex_unlock(&s->mu);
    txt = cJSON_PrintUnformatted(o);
    web_raw(pg->b, txt ? txt : "{}");
    cJSON_free(txt);
    cJSON_Delete(o);
    pg->resp->content_type = "application/json";
}

void ui_sync_outcome(struct ui_page *pg)
{
    struct ui_sync *s = &pg->ui->sync;
    struct buf *b = pg->b;
    int running, done;
    enum mrf_status st;
    struct sync_summary sum;
    struct sync_progress p;
    char msg[512];

    pthread_mutex_lock(&s->mu);
    running = s->running;
    done = s->done;
    st = s->st;
    sum = s->sum;
    p = s->p;
    str_copy(msg, s->msg, sizeof msg);
    pthread_mutex_unlock(&s->mu);
    if (running) {
        web_raw(b,
                "<noscript><meta http-equiv=\"refresh\" content=\"2\"></noscript>\n"
                "<div class=\"notice\" id=\"sync-progress\" data-poll=\"/sync/progress\" "
                "role=\"status\" aria-live=\"polite\">\n<strong>Syncing with HQ...</strong><br>\n");
        web_rawf(b,
                 "<progress max=\"%lld\" value=\"%lld\"></progress>\n<span "
                 "class=\"progress-text\">%lld of %lld changes sent</span>\n</div>\n",
                 (long long)(p.ops_total > 0 ? p.ops_total : 1), (long long)p.ops_sent,
                 (long long)p.ops_sent, (long long)p.ops_total);
        return;
    }
    if (!done)
        return;
    if (st == MRF_OK) {
        cJSON *j = client_sync_summary_json(&sum);
        web_raw(b, "<div class=\"notice ok\" role=\"status\" id=\"sync-outcome\" "
                   "data-exit=\"0\">");
        web_rawf(b,
                 "<strong>Synced with HQ.</strong> Sent %.0f change%s in %.0f change set%s, "
                 "received %.0f.",
                 cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "sent")),
                 sum.p.ops_sent == 1 ? "" : "s",
                 cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "changesets")),
                 sum.p.changesets == 1 ? "" : "s",
                 cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "received")));
        cJSON_Delete(j);
        if (sum.quarantined > 0) {
            web_rawf(b, " HQ refused %lld change set(s) for their content (",
                     (long long)sum.quarantined);
            web_esc(b, sum.quarantine_reason);
            web_raw(b, "); they are kept in quarantine, below.");
        }
        if (sum.records > sum.decided)
            web_rawf(b, " HQ sent %lld open conflict record(s): see Conflicts.",
                     (long long)(sum.records - sum.decided));
        if (sum.decided > 0)
            web_rawf(b, " HQ closed %lld conflict record(s): see Conflicts for its decisions.",
                     (long long)sum.decided);
        if (sum.audit_warning[0]) {
            web_raw(b, " Warning: ");
            web_esc(b, sum.audit_warning);
        }
        web_raw(b, "</div>\n");
        return;
    }
    web_rawf(b, "<div class=\"notice %s\" role=\"alert\" id=\"sync-outcome\" data-exit=\"%d\">",
             st == MRF_E_OFFLINE ? "warn" : "bad", mrf_status_exit(st));
    if (st == MRF_E_OFFLINE)
        web_raw(b, "<strong>HQ unreachable: nothing lost, try later.</strong> ");
    else if (st == MRF_E_REFUSED)
        web_raw(b, "<strong>HQ refused this device: ask HQ.</strong> ");
    else if (st == MRF_E_PASSPHRASE)
        web_raw(b, "<strong>Wrong passphrase.</strong> Nothing was sent.");
    else
        web_raw(b, "<strong>The sync failed.</strong> ");
    if (st != MRF_E_PASSPHRASE)
        web_esc(b, msg);
    web_raw(b, "</div>\n");
}

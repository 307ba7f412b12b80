/* mrf sync: pushes the outbox to HQ and pulls what HQ and the post's other devices wrote
 * (client/sync.c). Needs the passphrase: change sets are signed with the device's key. On a
 * terminal a progress bar on stderr shows changes acknowledged, change sets and bytes; without
 * one, a single summary line. Before the passphrase it asks HQ for a wipe order signed by HQ's
 * officer (client/order.c) and obeys it. Exit 0 synced, 4 HQ unreachable or this device over
 * HQ's hourly bound (nothing lost, try later), 5 HQ refused, or wiped by an officer's order,
 * or an order that did not verify was ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "client.h"

#define BAR_WIDTH 24

static void human_bytes(int64_t n, char out[32])
{
    if (n < 10 * 1024)
        snprintf(out, 32, "%lld B", (long long)n);
    else if (n < 10 * 1024 * 1024)
        snprintf(out, 32, "%.1f KiB", (double)n / 1024.0);
    else
        snprintf(out, 32, "%.1f MiB", (double)n / (1024.0 * 1024.0));
}

static void progress_bar(void *arg, const struct sync_progress *p)
{
    char bar[BAR_WIDTH + 1], up[32], down[32];
    int64_t total = p->ops_total > 0 ? p->ops_total : 1;
    int64_t done = p->ops_sent < total ? p->ops_sent : total;
    int fill = (int)(done * BAR_WIDTH / total);

    (void)arg;
    if (p->ops_total == 0)
        fill = BAR_WIDTH;
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    human_bytes(p->bytes_up, up);
    human_bytes(p->bytes_down, down);
    fprintf(stderr, "\rsync [%s] %lld/%lld changes, %lld change sets, %s up, %s down ", bar,
            (long long)done, (long long)p->ops_total, (long long)p->changesets, up, down);
    fflush(stderr);
}

static int exec_sync(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *timeout = cli_get(a, "timeout");
    int64_t secs = 0;
    int tty = isatty(STDERR_FILENO);
    struct sync_opts o = {0};
    struct sync_summary sum;
    char up[32], down[32];
    enum mrf_status st = MRF_OK;

    if (timeout != NULL && parse_int64(timeout, 1, 86400, &secs) != MRF_OK)
        st = mrf_error_set(&ctx->err, MRF_E_INVALID,
                           "--timeout must be a whole number of seconds from 1 to 86400");
    o.timeout_s = (int)secs;
    if (tty && !a->json)
        o.progress = progress_bar;
    if (st == MRF_OK)
        st = client_open(ctx);
    if (st == MRF_OK) /* before the passphrase: a seized laptop is wiped without it */
        st = client_wipe_order(ctx, o.timeout_s);
    if (st == MRF_OK)
        st = client_unlock(ctx);
    if (st == MRF_OK)
        st = client_sync(ctx, &o, &sum);
    if (o.progress && st != MRF_E_USAGE && st != MRF_E_PASSPHRASE)
        fputc('\n', stderr);
    if (st != MRF_OK)
        return out_fail("sync", ctx, st);
    if (a->json) {
        cJSON *j = client_sync_summary_json(&sum);
        out_json(j);
        cJSON_Delete(j);
    } else {
        human_bytes(sum.p.bytes_up, up);
        human_bytes(sum.p.bytes_down, down);
        printf("synced with HQ: %lld %s sent in %lld change %s, %lld received; %lld %s, %s up, "
               "%s down\n",
               (long long)sum.p.ops_sent, sum.p.ops_sent == 1 ? "change" : "changes",
               (long long)sum.p.changesets, sum.p.changesets == 1 ? "set" : "sets",
               (long long)sum.p.ops_pulled, (long long)sum.requests,
               sum.requests == 1 ? "request" : "requests", up, down);
    }
    out_sync_notes("sync", &sum, a->json);
    if (ctx->meta.has_skew && (ctx->meta.hq_skew_ms > (int64_t)HLC_AHEAD_MAX_MS ||
                               ctx->meta.hq_skew_ms < -(int64_t)HLC_AHEAD_MAX_MS))
        fprintf(stderr,
                "mrf: sync: this laptop's clock is %lld days %s HQ's; set its date and time (%s)\n",
                (long long)((llabs(ctx->meta.hq_skew_ms) + 43200000) / 86400000),
                ctx->meta.hq_skew_ms > 0 ? "ahead of" : "behind",
                ctx->meta.hq_skew_ms > 0
                    ? "meanwhile HQ orders this device's changes by when it receives them"
                    : "meanwhile its changes may lose to earlier ones from other devices");
    return 0;
}

const struct cmd_entry cmd_sync = {
    "sync",
    "[--timeout SECONDS] [--json]",
    "push pending changes to HQ and pull HQ's and the post's other devices' changes",
    0,
    0,
    {{"timeout", 1, "give up after this many seconds in all (default 300); nothing is lost"},
     {"json", 0, "print the summary as JSON"},
     {NULL, 0, NULL}},
    exec_sync,
    CMD_WRITES,
};

/* mrf sync: pushes the outbox to HQ and pulls HQ's changes. Not built yet: it says so, exits 1
 * and leaves every pending change in the outbox. */
#include "client.h"

static int exec_sync(struct cli_ctx *ctx, const struct cli_args *a)
{
    int64_t pending = 0;
    enum mrf_status st = client_open(ctx);

    (void)a;
    if (st == MRF_OK)
        st = capture_pending(ctx->db, &pending, &ctx->err);
    if (st != MRF_OK)
        return out_fail("sync", ctx, st);
    mrf_error_set(&ctx->err, MRF_E_UNAVAILABLE,
                  "not available in this build: syncing with HQ is not built yet; your %lld "
                  "pending changes stay safe in the outbox",
                  (long long)pending);
    return out_fail("sync", ctx, MRF_E_UNAVAILABLE);
}

const struct cmd_entry cmd_sync = {
    "sync",    "", "push pending changes to HQ and pull HQ's (not available in this build yet)",
    0,         0,  {{NULL, 0, NULL}},
    exec_sync,
};

/* What every mrf-hq command shares at its edges: paths inside the HQ home, and the one way a
 * command ends, printing its error once as "mrf-hq: <command>: <message>" and turning the
 * status into the exit code of DESIGN §7 (through mrf_status_exit, the only mapping). */
#include <stdio.h>

#include "hq.h"

char *hq_path(const char *home, const char *leaf)
{
    return xasprintf("%s/%s", home, leaf);
}

int hq_finish(struct cli_ctx *ctx, enum mrf_status st)
{
    if (st != MRF_OK) {
        const char *msg = ctx->err.msg[0] != '\0' ? ctx->err.msg : mrf_status_str(st);
        fprintf(stderr, "%s: %s: %s\n", ctx->prog, ctx->cmd ? ctx->cmd->name : "?", msg);
    }
    return mrf_status_exit(st);
}

/* What every mrf-hq command shares at its edges: paths inside the HQ home, and the one way a
 * command ends, printing its error once as "mrf-hq: <command>: <message>" and turning the
 * status into the exit code of DESIGN §7 (through mrf_status_exit, the only mapping). */
#include <stdio.h>

#include <cjson/cJSON.h>

#include "hq.h"

const struct home_file hq_home_files[] = {
    {HQ_DB_FILE, HOME_F_STORE}, {HQ_DB_FILE "-wal", 0}, {HQ_DB_FILE "-shm", 0}, {HQ_KEYS_FILE, 0},
    {HQ_TLS_DIR, HOME_F_DIR},   {HQ_TLS_CERT_FILE, 0},  {HQ_TLS_KEY_FILE, 0},   {NULL, 0},
};

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

enum mrf_status hq_store_open(struct cli_ctx *ctx, struct hqstore **st)
{
    int ro = ctx->cmd != NULL && (ctx->cmd->flags & CMD_READONLY) != 0;

    return hqstore_open(ctx->home, ro ? HQSTORE_READONLY : HQSTORE_EXISTING, st, &ctx->err);
}

enum mrf_status hq_store_fail(struct cli_ctx *ctx, struct hqstore *st, enum mrf_status rc)
{
    return mrf_error_set(&ctx->err, rc, "%s", hqstore_errmsg(st));
}

enum mrf_status hq_print_json(struct cli_ctx *ctx, const cJSON *v)
{
    char *text = cJSON_Print(v);

    if (text == NULL)
        return mrf_error_set(&ctx->err, MRF_E_INTERNAL, "out of memory");
    printf("%s\n", text);
    cJSON_free(text);
    return MRF_OK;
}

/* mrf wipe --yes: crypto-shredding (client/wipe.c). The keystore goes first; without it
 * nothing left on the device opens a sealed field. Then the store and its WAL are zero-filled
 * and removed. */
#include <sys/stat.h>

#include "client.h"

static int exec_wipe(struct cli_ctx *ctx, const struct cli_args *a)
{
    enum mrf_status st;
    struct stat sb;

    if (!cli_has(a, "yes")) {
        mrf_error_set(&ctx->err, MRF_E_USAGE,
                      "wipe destroys this device's keys and store, and every change not yet "
                      "synced; run 'mrf wipe --yes' to do it");
        return out_fail("wipe", ctx, MRF_E_USAGE);
    }
    if (stat(ctx->keystore_path, &sb) != 0 && stat(ctx->store_path, &sb) != 0) {
        mrf_error_set(&ctx->err, MRF_E_STATE, "nothing to wipe in %s", ctx->home);
        return out_fail("wipe", ctx, MRF_E_STATE);
    }
    st = client_destroy(ctx);
    if (st != MRF_OK)
        return out_fail("wipe", ctx, st);
    printf("wiped: keys and store destroyed in %s\n", ctx->home);
    return 0;
}

const struct cmd_entry cmd_wipe = {
    "wipe",
    "--yes",
    "destroy this device's keys and store (crypto-shredding); unsynced changes are lost",
    0,
    0,
    {{"yes", 0, "really do it"}, {NULL, 0, NULL}},
    exec_wipe,
    CMD_WRITES,
};

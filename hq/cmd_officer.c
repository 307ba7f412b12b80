/* `mrf-hq officer init [--out FILE]`: gives an HQ set up before officer keys existed its
 * officer key (hq/officer.c): the key pair, its secret half sealed under a new officer
 * passphrase into FILE (default <home>/officer-OFFLINE.key, to be moved offline at once), its
 * public half into the store. Enrollment tokens made from then on carry it (token version 2),
 * so devices enrolled with them can be wiped by `mrf-hq device revoke ID --wipe`; devices
 * enrolled before cannot check an order and are only revoked (docs/DECISIONS.md). Refuses an
 * HQ that has an officer key already: replacing it would strand every device that holds it. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "hq.h"
#include "hqstore.h"

static int officer_init_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *out = cli_get(a, "out");
    struct hqstore *st = NULL;
    uint8_t pk[MRF_SIGN_PK];
    char *path = out != NULL ? xstrdup(out) : hq_path(ctx->home, HQ_OFFICER_FILE);
    char *pass = NULL;
    char fp[48];
    int has = 0, made = 0;
    enum mrf_status rc = hq_store_open(ctx, &st);

    if (rc != MRF_OK)
        goto out;
    rc = hqstore_officer_get(st, pk, &has);
    if (rc != MRF_OK) {
        rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    if (has) {
        mrf_fingerprint(pk, sizeof pk, fp);
        rc = mrf_error_set(&ctx->err, MRF_E_STATE,
                           "this HQ has an officer key already (fingerprint %s); it is never "
                           "replaced: devices hold it",
                           fp);
        goto out;
    }
    rc = passphrase_read("Officer passphrase", "MRF_OFFICER_PASSPHRASE", 1, &pass, &ctx->err);
    if (rc == MRF_OK)
        rc = hq_officer_create(path, pass, pk, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    made = 1;
    rc = hqstore_officer_set(st, pk, (int64_t)time(NULL));
    if (rc != MRF_OK) {
        rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    mrf_fingerprint(pk, sizeof pk, fp);
    printf("officer key created: %s\n  fingerprint: %s\n", path, fp);
    printf("\nMove %s to offline storage NOW, apart from the escrow key if you can, and delete "
           "it from this machine. Only `mrf-hq device revoke ID --wipe --officer-key FILE` "
           "needs it, with its passphrase. Tokens made from now on carry its public half; "
           "devices enrolled before cannot be wiped from HQ, only revoked.\n",
           path);
    if (fflush(stdout) != 0)
        rc = mrf_error_set(&ctx->err, MRF_E_IO, "cannot write to standard output");
out:
    if (rc != MRF_OK && made) {
        struct mrf_error ignored;
        (void)keystore_destroy(path, &ignored);
    }
    passphrase_free(pass);
    x_free(path);
    hqstore_close(st);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_officer_init = {
    "officer init",
    "[--out FILE]",
    "give an HQ set up without one its offline officer key, which signs wipe orders",
    0,
    0,
    {{"out", 1, "where to write the sealed key (default <home>/officer-OFFLINE.key)"},
     {NULL, 0, NULL}},
    officer_init_exec,
    CMD_WRITES,
};

/* mrf passwd: re-encrypts the keystore under a new passphrase. */
#include <string.h>

#include "client.h"

static int exec_passwd(struct cli_ctx *ctx, const struct cli_args *a)
{
    char *old = NULL, *new = NULL;
    enum mrf_status st = client_open(ctx);

    (void)a;
    if (st == MRF_OK)
        st = passphrase_read("Current passphrase", "MRF_PASSPHRASE", 0, &old, &ctx->err);
    if (st == MRF_OK)
        st = passphrase_read("New passphrase", "MRF_NEW_PASSPHRASE", 1, &new, &ctx->err);
    if (st == MRF_OK && strlen(new) < PASSPHRASE_MIN)
        st = mrf_error_set(&ctx->err, MRF_E_INVALID,
                           "a passphrase needs at least %d characters; choose a longer one",
                           PASSPHRASE_MIN);
    if (st == MRF_OK)
        st = keystore_rekey(ctx->keystore_path, old, new, &ctx->err);
    passphrase_free(old);
    passphrase_free(new);
    if (st != MRF_OK)
        return out_fail("passwd", ctx, st);
    printf("passphrase changed\n");
    return 0;
}

const struct cmd_entry cmd_passwd = {
    "passwd",
    "",
    "change the keystore passphrase (MRF_PASSPHRASE, MRF_NEW_PASSPHRASE for automation)",
    0,
    0,
    {{NULL, 0, NULL}},
    exec_passwd,
    CMD_WRITES,
};

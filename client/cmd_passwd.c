/* mrf passwd: re-encrypts the keystore under a new passphrase; with --duress sets a second,
 * duress passphrase (typed at any passphrase prompt it destroys the keystore and answers as a
 * wrong passphrase; --no-duress removes it); with --max-failures N destroys the keystore after
 * N wrong passphrases in a row (0: off). What each protects against, and what not, is in
 * docs/DECISIONS.md, "Duress, failed unlocks and remote wipe"; the keystore does the work
 * (crypto/mrfcrypto.h). */
#include <string.h>

#include "client.h"

/* Reads a new passphrase (twice on a terminal) and checks its length. */
static enum mrf_status read_new(struct cli_ctx *ctx, const char *prompt, const char *env,
                                char **out)
{
    enum mrf_status st = passphrase_read(prompt, env, 1, out, &ctx->err);

    if (st == MRF_OK && strlen(*out) < PASSPHRASE_MIN)
        st = mrf_error_set(&ctx->err, MRF_E_INVALID,
                           "a passphrase needs at least %d characters; choose a longer one",
                           PASSPHRASE_MIN);
    return st;
}

static int exec_passwd(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *max = cli_get(a, "max-failures");
    int duress = cli_has(a, "duress"), no_duress = cli_has(a, "no-duress");
    char *old = NULL, *new = NULL;
    int64_t n = 0;
    enum mrf_status st = MRF_OK;

    if (duress + no_duress + (max != NULL) > 1)
        st = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           "give one of --duress, --no-duress and --max-failures at a time");
    if (st == MRF_OK && max != NULL && parse_int64(max, 0, KEYSTORE_MAX_FAILURES, &n) != MRF_OK)
        st = mrf_error_set(&ctx->err, MRF_E_INVALID,
                           "--max-failures takes a whole number from 0 (off) to %d",
                           KEYSTORE_MAX_FAILURES);
    if (st == MRF_OK)
        st = client_open(ctx);
    if (st == MRF_OK)
        st = passphrase_read("Current passphrase", "MRF_PASSPHRASE", 0, &old, &ctx->err);
    if (st == MRF_OK && duress)
        st = read_new(ctx, "Duress passphrase", "MRF_DURESS_PASSPHRASE", &new);
    else if (st == MRF_OK && !no_duress && max == NULL)
        st = read_new(ctx, "New passphrase", "MRF_NEW_PASSPHRASE", &new);
    if (st == MRF_OK) {
        if (duress || no_duress)
            st = keystore_set_duress(ctx->keystore_path, old, new, &ctx->err);
        else if (max != NULL)
            st = keystore_set_max_failures(ctx->keystore_path, old, (uint32_t)n, &ctx->err);
        else
            st = keystore_rekey(ctx->keystore_path, old, new, &ctx->err);
    }
    passphrase_free(old);
    passphrase_free(new);
    if (st != MRF_OK)
        return out_fail("passwd", ctx, st);
    if (duress)
        printf("duress passphrase set: typed at any passphrase prompt of mrf, it destroys this "
               "device's keys and answers as a wrong passphrase does\n");
    else if (no_duress)
        printf("no duress passphrase is set now\n");
    else if (max != NULL && n == 0)
        printf("no limit of wrong passphrases now\n");
    else if (max != NULL)
        printf("after %lld wrong passphrases in a row this device's keys will be destroyed\n",
               (long long)n);
    else
        printf("passphrase changed\n");
    return 0;
}

const struct cmd_entry cmd_passwd = {
    "passwd",
    "[--duress | --no-duress | --max-failures N]",
    "change the keystore passphrase, or set a duress passphrase or a limit of wrong "
    "passphrases (MRF_PASSPHRASE, MRF_NEW_PASSPHRASE, MRF_DURESS_PASSPHRASE for automation)",
    0,
    0,
    {{"duress", 0, "set a second passphrase that destroys the keys and answers as a wrong one"},
     {"no-duress", 0, "remove the duress passphrase"},
     {"max-failures", 1, "destroy the keys after N wrong passphrases in a row (0: off)"},
     {NULL, 0, NULL}},
    exec_passwd,
    CMD_WRITES,
};

/* mrf init --token TOKEN: sets this device up offline from HQ's one-time token, under a new
 * passphrase, and prints HQ's key fingerprint for the operator to compare by phone. On a
 * device set up already that HQ has not accepted yet, adopts a new token instead (the first
 * one expired or was used before the device's first sync), keeping everything recorded. */
#include <ctype.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

/* A copy of a pasted token without the white space a terminal or an e-mail adds around it or
 * inside it (line breaks). Caller frees. */
static char *token_trim(const char *s)
{
    size_t n = strlen(s), k = 0;
    char *out = xmalloc(n + 1);

    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            out[k++] = s[i];
    out[k] = '\0';
    return out;
}

static void print_hq(const struct cli_ctx *ctx)
{
    char fp[48];

    mrf_fingerprint(ctx->meta.hq_sign_pk, MRF_SIGN_PK, fp);
    printf("HQ: %s\nHQ key fingerprint: %s\n", ctx->meta.hq_url, fp);
    printf("Compare the fingerprint with HQ by phone before the first 'mrf sync'.\n");
}

/* The device is set up already: adopt a new token if HQ has not accepted it yet (its first
 * token expired or was used), keeping everything recorded, under the current passphrase. */
static int exec_retoken(struct cli_ctx *ctx, char *token)
{
    int64_t now = (int64_t)time(NULL);
    char *pass = NULL, *dev;
    char until[32];
    struct tm tm;
    time_t t;
    enum mrf_status st = client_open(ctx);

    if (st == MRF_OK)
        st = client_retoken(ctx, token, NULL, now); /* refuse before asking for a passphrase */
    if (st == MRF_OK)
        st = passphrase_read("Passphrase", "MRF_PASSPHRASE", 0, &pass, &ctx->err);
    if (st == MRF_OK)
        st = client_retoken(ctx, token, pass, now);
    passphrase_free(pass);
    x_free(token);
    if (st != MRF_OK)
        return out_fail("init", ctx, st);
    t = (time_t)ctx->meta.token_expires;
    strftime(until, sizeof until, "%Y-%m-%d %H:%M UTC", gmtime_r(&t, &tm));
    dev = hex_encode(ctx->meta.device_id, MRF_ID);
    printf("device %s of post %s: new enrollment token adopted, valid until %s; everything "
           "recorded here is kept\n",
           dev, ctx->meta.post, until);
    x_free(dev);
    print_hq(ctx);
    printf("Then run 'mrf sync' to enroll this device with HQ.\n");
    client_close(ctx);
    return 0;
}

static int exec_init(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *given = cli_get(a, "token");
    char *token = NULL;
    char *pass = NULL;
    char *dev;
    enum mrf_status st;

    if (given == NULL) {
        mrf_error_set(&ctx->err, MRF_E_USAGE, "give the token from HQ with --token TOKEN");
        return out_fail("init", ctx, MRF_E_USAGE);
    }
    token = token_trim(given);
    {
        /* Check the token before asking for a passphrase: a typo should not cost one. */
        struct enroll_token tok;
        st = token_decode(token, &tok, &ctx->err);
        token_wipe(&tok);
        /* A token that fails its signature was garbled on the way: bad input, not a refusal. */
        if (st == MRF_E_AUTH)
            st = MRF_E_INVALID;
        if (st != MRF_OK) {
            x_free(token);
            return out_fail("init", ctx, st);
        }
    }
    if (access(ctx->store_path, F_OK) == 0)
        return exec_retoken(ctx, token);
    st = passphrase_read("New passphrase", "MRF_PASSPHRASE", 1, &pass, &ctx->err);
    if (st == MRF_OK)
        st = client_setup(ctx, token, pass, (int64_t)time(NULL));
    passphrase_free(pass);
    x_free(token);
    if (st != MRF_OK)
        return out_fail("init", ctx, st);
    dev = hex_encode(ctx->meta.device_id, MRF_ID);
    printf("device %s set up for post %s\n", dev, ctx->meta.post);
    x_free(dev);
    print_hq(ctx);
    client_close(ctx);
    return 0;
}

const struct cmd_entry cmd_init = {
    "init",
    "--token TOKEN",
    "set this device up for its post with a one-time token from HQ (works offline); on a "
    "device not yet enrolled, adopt a new token and keep what it recorded",
    0,
    0,
    {{"token", 1, "the enrollment token printed by 'mrf-hq enroll POST'"}, {NULL, 0, NULL}},
    exec_init,
    CMD_WRITES,
};

/* `mrf-hq enroll CODE [--days N]`: issues a one-time device token for a post. The token
 * (sync/token.c) carries everything a device needs to work offline and later reach HQ: the
 * URL, the TLS pin, HQ's and the escrow's public keys, the post, a token id, a fresh 32-byte
 * enrollment secret and the expiry; HQ signs it. HQ keeps only BLAKE2b-256 of the secret, so
 * the store cannot re-create a token; the token is printed once, alone on stdout (for
 * scripts), and the expiry and HQ key fingerprint go to stderr for the operator to read out
 * when comparing by phone. The enrollment is stored before the token is shown. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "hq.h"
#include "hqstore.h"
#include "mrfsync.h"

#define ENROLL_DAYS_DEFAULT 7
#define ENROLL_DAYS_MAX 90

static int enroll_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    enum mrf_status rc = MRF_OK;
    const char *days_s = cli_get(a, "days");
    int64_t days = ENROLL_DAYS_DEFAULT;
    struct hqstore *st = NULL;
    struct mrf_secrets *keys = NULL;
    struct hq_config cfg;
    struct hq_post post;
    struct hq_enrollment e;
    int officer = 0;
    struct enroll_token t;
    char code[16];
    char fp[48];
    char when[32];
    char *p_keys = NULL, *tok = NULL;
    time_t now = time(NULL);
    struct tm tm;

    memset(&t, 0, sizeof t);
    memset(&e, 0, sizeof e);
    rc = post_code_parse(a->args[0], code, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    if (days_s != NULL && parse_int64(days_s, 1, ENROLL_DAYS_MAX, &days) != MRF_OK) {
        rc = mrf_error_set(&ctx->err, MRF_E_INVALID,
                           "--days must be a whole number of days from 1 to %d", ENROLL_DAYS_MAX);
        goto out;
    }

    rc = hqstore_open(ctx->home, HQSTORE_EXISTING, &st, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    rc = hqstore_config_get(st, &cfg);
    if (rc == MRF_OK)
        rc = hqstore_post_get(st, code, &post);
    if (rc == MRF_E_NOTFOUND) {
        rc = mrf_error_set(&ctx->err, rc,
                           "no post %s; add it first with mrf-hq post add %s --kind "
                           "bilateral|multilateral",
                           code, code);
        goto out;
    }
    if (rc != MRF_OK) {
        rc = mrf_error_set(&ctx->err, rc, "%s", hqstore_errmsg(st));
        goto out;
    }
    p_keys = hq_path(ctx->home, HQ_KEYS_FILE);
    rc = hqkeys_load(p_keys, &keys, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    if (sodium_memcmp(keys->pub.sign_pk, cfg.hq.sign_pk, MRF_SIGN_PK) != 0) {
        rc = mrf_error_set(&ctx->err, MRF_E_STATE,
                           "%s does not hold the key this HQ store was set up with; restore "
                           "the right hq.keys",
                           p_keys);
        goto out;
    }

    rc = hqstore_officer_get(st, t.officer_pk, &officer);
    if (rc != MRF_OK) {
        rc = mrf_error_set(&ctx->err, rc, "%s", hqstore_errmsg(st));
        goto out;
    }
    /* With an officer key, version 2 carries it: the device can then check a wipe order. */
    t.version = officer ? 2 : 1;
    t.has_officer = officer;
    str_copy(t.url, cfg.url, sizeof t.url);
    str_copy(t.tls_pin, cfg.tls_pin, sizeof t.tls_pin);
    t.hq = cfg.hq;
    memcpy(t.escrow_pk, cfg.escrow_pk, sizeof t.escrow_pk);
    str_copy(t.post, code, sizeof t.post);
    mrf_random(t.token_id, sizeof t.token_id);
    mrf_random(t.secret, sizeof t.secret);
    t.expires = (int64_t)now + days * 86400;
    rc = token_encode(&t, keys->sign_sk, &tok, &ctx->err);
    if (rc != MRF_OK)
        goto out;

    memcpy(e.token_id, t.token_id, sizeof e.token_id);
    str_copy(e.post, code, sizeof e.post);
    mrf_hash(e.secret_hash, sizeof e.secret_hash, t.secret, sizeof t.secret, NULL, 0);
    e.expires = t.expires;
    e.created_at = (int64_t)now;
    rc = hqstore_begin(st);
    if (rc == MRF_OK)
        rc = hqstore_enrollment_add(st, &e);
    if (rc == MRF_OK && officer)
        rc = hqstore_officer_token_add(st, e.token_id);
    if (rc == MRF_OK)
        rc = hqstore_commit(st);
    if (rc != MRF_OK) {
        hqstore_rollback(st);
        rc = mrf_error_set(&ctx->err, rc, "%s", hqstore_errmsg(st));
        goto out;
    }

    printf("%s\n", tok);
    if (fflush(stdout) != 0) {
        rc = mrf_error_set(&ctx->err, MRF_E_IO, "cannot write the token to standard output");
        goto out;
    }
    gmtime_r(&(time_t){(time_t)t.expires}, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    mrf_fingerprint(cfg.hq.sign_pk, sizeof cfg.hq.sign_pk, fp);
    fprintf(stderr,
            "one-time token for post %s; valid until %s (%lld days)\n"
            "HQ key fingerprint: %s\n"
            "give the token to the post over a trusted channel; the device shows this "
            "fingerprint at mrf init: compare it by phone\n",
            code, when, (long long)days, fp);

out:
    if (tok != NULL) {
        sodium_memzero(tok, strlen(tok));
        x_free(tok);
    }
    token_wipe(&t);
    mrf_secrets_free(keys);
    x_free(p_keys);
    hqstore_close(st);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_enroll = {
    "enroll",
    "CODE [--days N]",
    "print a one-time device token for a post (stdout), its expiry and HQ's fingerprint "
    "(stderr)",
    1,
    1,
    {{"days", 1, "days the token stays valid, 1 to 90 (default 7)"}, {NULL, 0, NULL}},
    enroll_exec,
    CMD_WRITES,
};

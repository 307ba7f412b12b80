/* `mrf-hq reveal --escrow-key FILE --purpose TEXT (partner CODE --post P | post CODE)`: opens a
 * partner's sealed identity fields, or a post's sealed country, with the offline escrow key.
 * The escrow key never lives on the server: an officer brings the file and its passphrase to
 * this command alone. Order, so nothing is shown that the audit does not record: unlock the
 * key, open every field in guarded memory, append a "reveal" entry (what, post, code, purpose,
 * time: never an identity) to the audit chain and commit, and only then print. A field that
 * does not open (damaged) shows as "damaged", with a warning on stderr, and the others are
 * revealed; if none opens, nothing is.  Nothing
 * revealed is written to a file, the store or a log; every buffer that held it is wiped. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "hq.h"
#include "hqstore.h"
#include "mrfsync.h"

#define PURPOSE_MAX 500 /* bytes */
#define NFIELDS (PARTNER_NOTE + 1)

/* What is being revealed, and the opened values (sodium_malloc'd, sealed_plain_free). */
struct reveal {
    struct cli_ctx *ctx;
    const uint8_t *escrow_pk;
    const uint8_t *escrow_sk;
    const uint8_t *id; /* the partner's row id, for the fields' associated data */
    const char *code;
    char *plain[NFIELDS];
    int damaged[NFIELDS]; /* the field is there but does not open: shown as "damaged" */
    int nopened, ndamaged;
};

static enum mrf_status open_field(void *arg, int col, const uint8_t *blob, size_t n)
{
    struct reveal *r = arg;
    char aad[SYNC_AAD_MAX];
    size_t len;
    enum mrf_status rc;

    sync_field_aad(ST_PARTNERS, r->id, col, aad);
    rc = sealed_open(&r->plain[col], &len, blob, n, aad, r->escrow_pk, r->escrow_sk);
    if (rc == MRF_E_AUTH || rc == MRF_E_INVALID) {
        /* one damaged field does not hide the others (as on a device); if none opens, the
         * caller refuses the whole reveal */
        r->damaged[col] = 1;
        r->ndamaged++;
        if (r->ndamaged == 1)
            mrf_error_set(&r->ctx->err, rc,
                          "partner %s: its %s does not open with this escrow key (damaged, or "
                          "sealed before this key); nothing was revealed",
                          r->code, sync_column_get(ST_PARTNERS, col)->name);
        return MRF_OK;
    }
    if (rc != MRF_OK)
        return rc;
    r->nopened++;
    return MRF_OK;
}

/* Zeroes every string of a JSON tree that held revealed values, before it is freed. */
static void json_wipe(cJSON *j)
{
    for (; j != NULL; j = j->next) {
        if (j->valuestring != NULL)
            sodium_memzero(j->valuestring, strlen(j->valuestring));
        json_wipe(j->child);
    }
}

/* The audit entry's body: codes, purpose and time only. Caller frees (cJSON_free). */
static char *audit_body(const char *what, const char *post, const char *code,
                        const struct reveal *r, const char *purpose, int64_t now)
{
    cJSON *o = cJSON_CreateObject(), *fields = cJSON_CreateArray();
    char *text;

    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "what", what);
    cJSON_AddStringToObject(o, "post", post);
    if (code != NULL)
        cJSON_AddStringToObject(o, "code", code);
    for (int col = 0; col < NFIELDS && strcmp(what, "partner") == 0; col++)
        if (r->plain[col] != NULL)
            cJSON_AddItemToArray(fields,
                                 cJSON_CreateString(sync_column_get(ST_PARTNERS, col)->name));
    cJSON_AddItemToObject(o, "fields", fields);
    if (r->ndamaged > 0) {
        cJSON *bad = cJSON_AddArrayToObject(o, "damaged");
        for (int col = 0; col < NFIELDS; col++)
            if (r->damaged[col])
                cJSON_AddItemToArray(bad,
                                     cJSON_CreateString(sync_column_get(ST_PARTNERS, col)->name));
    }
    cJSON_AddStringToObject(o, "purpose", purpose);
    cJSON_AddNumberToObject(o, "at", (double)now);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* Prints the revealed values; stdout is the only place they go. */
static enum mrf_status show(struct cli_ctx *ctx, const char *what, const char *post,
                            const char *code, const struct reveal *r, const char *country,
                            int64_t seq)
{
    enum mrf_status rc = MRF_OK;
    cJSON *o = NULL, *f;
    char *text = NULL;

    if (ctx->json) {
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "what", what);
        cJSON_AddStringToObject(o, "post", post);
        if (code != NULL)
            cJSON_AddStringToObject(o, "code", code);
        cJSON_AddNumberToObject(o, "audit_seq", (double)seq);
        if (country != NULL) {
            cJSON_AddStringToObject(o, "country", country);
        } else {
            f = cJSON_AddObjectToObject(o, "fields");
            for (int col = 0; col < NFIELDS; col++)
                if (r->plain[col] != NULL || r->damaged[col])
                    cJSON_AddStringToObject(f, sync_column_get(ST_PARTNERS, col)->name,
                                            r->damaged[col] ? "damaged" : r->plain[col]);
        }
        text = cJSON_Print(o);
        if (text == NULL)
            rc = mrf_error_set(&ctx->err, MRF_E_INTERNAL, "out of memory");
        else if (fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF)
            rc = MRF_E_IO;
    } else if (country != NULL) {
        printf("post %s (audit entry %lld)\n  country: %s\n", post, (long long)seq, country);
    } else {
        printf("partner %s of post %s (audit entry %lld)\n", code, post, (long long)seq);
        for (int col = 0; col < NFIELDS; col++)
            if (r->plain[col] != NULL || r->damaged[col])
                printf("  %-8s %s\n", sync_column_get(ST_PARTNERS, col)->name,
                       r->damaged[col] ? "damaged" : r->plain[col]);
        if (r->nopened == 0)
            printf("  (no identity fields recorded)\n");
    }
    if (fflush(stdout) != 0 || rc == MRF_E_IO)
        rc = mrf_error_set(&ctx->err, MRF_E_IO, "cannot write to standard output");
    if (text != NULL) {
        sodium_memzero(text, strlen(text));
        cJSON_free(text);
    }
    json_wipe(o);
    cJSON_Delete(o);
    return rc;
}

static int reveal_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *what = a->args[0], *key_file = cli_get(a, "escrow-key");
    const char *purpose = cli_get(a, "purpose"), *post_in = cli_get(a, "post");
    int partner = strcmp(what, "partner") == 0;
    struct reveal r;
    struct hqstore *st = NULL;
    struct mrf_secrets *keys = NULL;
    struct hq_config cfg;
    char post[16], code[16], aad[64], *keys_path = NULL, *pass = NULL, *country = NULL;
    char *body = NULL;
    uint8_t escrow_pk[MRF_BOX_PK], *escrow_sk = NULL, id[MRF_ID], *blob = NULL;
    size_t bloblen = 0, clen;
    struct audit_head head;
    int64_t now = (int64_t)(time_now_ms() / 1000u);
    enum mrf_status rc = MRF_OK;

    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    if (!partner && strcmp(what, "post") != 0) {
        rc = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           "say what to reveal: partner CODE --post P, or "
                           "post CODE");
        goto out;
    }
    if (key_file == NULL || purpose == NULL) {
        rc = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           "give the escrow key file (--escrow-key FILE) and why (--purpose TEXT)");
        goto out;
    }
    if (purpose[0] == '\0' || strlen(purpose) > PURPOSE_MAX ||
        !text_valid(purpose, strlen(purpose), 0)) {
        rc = mrf_error_set(&ctx->err, MRF_E_INVALID,
                           "the purpose must be 1 to %d bytes of text without control "
                           "characters; nothing was revealed",
                           PURPOSE_MAX);
        goto out;
    }
    if (partner) {
        if (post_in == NULL) {
            rc = mrf_error_set(&ctx->err, MRF_E_USAGE,
                               "partner codes are per post: give --post P as well");
            goto out;
        }
        rc = post_code_parse(post_in, post, &ctx->err);
        if (rc == MRF_OK)
            rc = shortcode_parse("PX", a->args[1], code, &ctx->err);
    } else {
        rc = post_code_parse(a->args[1], post, &ctx->err);
    }
    if (rc != MRF_OK)
        goto out;
    r.code = code;

    keys_path = hq_path(ctx->home, HQ_KEYS_FILE);
    rc = hq_store_open(ctx, &st);
    if (rc == MRF_OK)
        rc = hqkeys_load(keys_path, &keys, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    rc = hqstore_config_get(st, &cfg);
    if (rc != MRF_OK) {
        rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    rc = passphrase_read("Escrow passphrase", "MRF_ESCROW_PASSPHRASE", 0, &pass, &ctx->err);
    if (rc == MRF_OK)
        rc = boxkey_load(key_file, pass, escrow_pk, &escrow_sk, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    if (sodium_memcmp(escrow_pk, cfg.escrow_pk, MRF_BOX_PK) != 0) {
        rc = mrf_error_set(&ctx->err, MRF_E_INVALID,
                           "%s is not this HQ's escrow key (its public key differs from the one "
                           "in hq.db); nothing was revealed",
                           key_file);
        goto out;
    }
    r.escrow_pk = escrow_pk;
    r.escrow_sk = escrow_sk;
    r.id = id;

    rc = hqstore_begin(st);
    if (rc != MRF_OK) {
        rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    if (partner) {
        rc = hqstore_partner_sealed(st, post, code, id, open_field, &r);
        if (rc != MRF_OK && ctx->err.msg[0] == '\0')
            rc = hq_store_fail(ctx, st, rc);
        if (rc == MRF_OK && r.ndamaged > 0 && r.nopened == 0)
            rc = ctx->err.status != MRF_OK ? ctx->err.status : MRF_E_AUTH;
        if (rc == MRF_OK)
            mrf_error_clear(&ctx->err);
    } else {
        rc = hqstore_post_country(st, post, &blob, &bloblen);
        if (rc != MRF_OK)
            rc = hq_store_fail(ctx, st, rc);
        else if (blob == NULL)
            rc = mrf_error_set(&ctx->err, MRF_E_NOTFOUND,
                               "post %s has no country recorded; nothing was revealed", post);
        if (rc == MRF_OK) {
            snprintf(aad, sizeof aad, "posts/%s/country", post);
            rc = sealed_open(&country, &clen, blob, bloblen, aad, escrow_pk, escrow_sk);
            if (rc != MRF_OK)
                rc = mrf_error_set(&ctx->err, rc,
                                   "the country of %s does not open with this escrow key; "
                                   "nothing was revealed",
                                   post);
        }
    }
    if (rc != MRF_OK)
        goto out;

    /* recorded before anything is shown */
    body = audit_body(what, post, partner ? code : NULL, &r, purpose, now);
    if (body == NULL) {
        rc = mrf_error_set(&ctx->err, MRF_E_INTERNAL, "out of memory");
        goto out;
    }
    rc = hq_audit_append(st, keys, "reveal", post, "{}", (const uint8_t *)body, strlen(body), now,
                         &head);
    if (rc == MRF_OK)
        rc = hqstore_commit(st);
    if (rc != MRF_OK) {
        rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    rc = show(ctx, what, post, partner ? code : NULL, &r, country, head.seq);
    for (int col = 0; rc == MRF_OK && col < NFIELDS; col++)
        if (r.damaged[col])
            fprintf(stderr,
                    "mrf-hq reveal: warning: partner %s: its %s does not open with this escrow "
                    "key (damaged, or sealed before this key); the other fields are shown\n",
                    code, sync_column_get(ST_PARTNERS, col)->name);
out:
    if (st != NULL)
        hqstore_rollback(st);
    for (int col = 0; col < NFIELDS; col++)
        sealed_plain_free(r.plain[col]);
    sealed_plain_free(country);
    cJSON_free(body);
    x_free(blob);
    if (escrow_sk != NULL)
        sodium_free(escrow_sk);
    passphrase_free(pass);
    mrf_secrets_free(keys);
    hqstore_close(st);
    x_free(keys_path);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_reveal = {
    "reveal",
    "--escrow-key FILE --purpose TEXT (partner CODE --post P | post CODE)",
    "open a partner's identity or a post's country with the offline escrow key (audited)",
    2,
    2,
    {{"escrow-key", 1, "the escrow key file (escrow-OFFLINE.key)"},
     {"purpose", 1, "why, for the audit (at most 500 bytes)"},
     {"post", 1, "the partner's post"},
     {"json", 0, "print JSON"},
     {NULL, 0, NULL}},
    reveal_exec,
    CMD_WRITES,
};

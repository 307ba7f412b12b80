/* A new enrollment token for a device HQ has not accepted yet (client.h, client_retoken).
 * A post may record for weeks before its first link to HQ; if the token expires first, or is
 * used by another device, the device asks HQ for a new one and adopts it here, with nothing it
 * recorded lost. The device keeps its keys and id; only the enrollment secret (keystore) and
 * the token's id, expiry, HQ URL and pin (store) change, and HQ's officer key is taken from a
 * version-2 token if the device had none. */
#include <string.h>

#include <sodium.h>

#include "client.h"

/* What makes tok unusable for this device, if anything. */
static enum mrf_status retoken_check(struct cli_ctx *ctx, const struct enroll_token *tok,
                                     int64_t now)
{
    char want[48], got[48];

    if (ctx->meta.enrolled_at > 0)
        return mrf_error_set(&ctx->err, MRF_E_STATE,
                             "init: this device is set up for post %s and HQ has accepted it "
                             "already; it needs no new token ('mrf sync' uses what it has)",
                             ctx->meta.post);
    if (sodium_memcmp(tok->token_id, ctx->meta.token_id, MRF_ID) == 0)
        return mrf_error_set(&ctx->err, MRF_E_STATE,
                             "init: this device is already set up in %s with this token; "
                             "nothing to do ('mrf status' shows it)",
                             ctx->home);
    if (strcmp(tok->post, ctx->meta.post) != 0)
        return mrf_error_set(&ctx->err, MRF_E_RULE,
                             "init: this device holds the records of post %s and the token is "
                             "for post %s; ask HQ for a token of %s ('mrf-hq enroll %s')",
                             ctx->meta.post, tok->post, ctx->meta.post, ctx->meta.post);
    if (sodium_memcmp(tok->hq.sign_pk, ctx->meta.hq_sign_pk, MRF_SIGN_PK) != 0 ||
        sodium_memcmp(tok->hq.box_pk, ctx->meta.hq_box_pk, MRF_BOX_PK) != 0 ||
        sodium_memcmp(tok->escrow_pk, ctx->meta.escrow_pk, MRF_BOX_PK) != 0) {
        mrf_fingerprint(ctx->meta.hq_sign_pk, MRF_SIGN_PK, want);
        mrf_fingerprint(tok->hq.sign_pk, MRF_SIGN_PK, got);
        return mrf_error_set(&ctx->err, MRF_E_RULE,
                             "init: the token comes from another HQ (key %s) than the one this "
                             "device was set up for (key %s); ask that HQ for a new token",
                             got, want);
    }
    /* A device that holds HQ's officer key keeps it: a token without it, or with another,
     * would let whoever made that token stop (or forge) wipe orders for this device. One
     * without may take it from a newer token of the same HQ. */
    if (ctx->meta.has_officer &&
        (!tok->has_officer ||
         sodium_memcmp(tok->officer_pk, ctx->meta.officer_pk, MRF_SIGN_PK) != 0))
        return mrf_error_set(&ctx->err, MRF_E_RULE,
                             "init: the token does not carry the officer key this device holds; "
                             "ask HQ for a token from 'mrf-hq enroll %s' on the same HQ",
                             ctx->meta.post);
    return client_token_fresh(ctx, tok, now);
}

enum mrf_status client_retoken(struct cli_ctx *ctx, const char *token, const char *passphrase,
                               int64_t now)
{
    struct enroll_token tok;
    sqlite3_stmt *s;
    enum mrf_status st = token_decode(token, &tok, &ctx->err);

    if (st == MRF_OK)
        st = retoken_check(ctx, &tok, now);
    if (st != MRF_OK || passphrase == NULL)
        goto out;
    st = client_unlock_with(ctx, passphrase);
    if (st != MRF_OK)
        goto out;
    memcpy(ctx->secrets->enroll_secret, tok.secret, MRF_SECRET);
    st = keystore_update(ctx->keystore_path, passphrase, ctx->secrets, &ctx->err);
    if (st != MRF_OK)
        goto out;
    s = client_stmt(ctx, CQ_META_RETOKEN);
    if (s == NULL) {
        st = MRF_E_IO;
        goto out;
    }
    sqlite3_bind_blob(s, 1, tok.token_id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, tok.expires);
    sqlite3_bind_text(s, 3, tok.url, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, tok.tls_pin, -1, SQLITE_STATIC);
    if (tok.has_officer)
        sqlite3_bind_blob(s, 5, tok.officer_pk, MRF_SIGN_PK, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        st = client_db_fail(ctx, "cannot record the new token");
    else if (sqlite3_changes(ctx->db) != 1)
        st = mrf_error_set(&ctx->err, MRF_E_STATE,
                           "init: HQ accepted this device meanwhile; it needs no new token");
    sqlite3_reset(s);
    if (st == MRF_OK) {
        memcpy(ctx->meta.token_id, tok.token_id, MRF_ID);
        ctx->meta.token_expires = tok.expires;
        str_copy(ctx->meta.hq_url, tok.url, sizeof ctx->meta.hq_url);
        str_copy(ctx->meta.hq_tls_pin, tok.tls_pin, sizeof ctx->meta.hq_tls_pin);
        if (tok.has_officer) {
            ctx->meta.has_officer = 1;
            memcpy(ctx->meta.officer_pk, tok.officer_pk, MRF_SIGN_PK);
        }
    }
out:
    token_wipe(&tok);
    return st;
}

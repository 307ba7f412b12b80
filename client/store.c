/* The device's two files: the post store (SQLite, WAL) and the keystore. Opening, first-time
 * set-up from an enrollment token (all or nothing), unlocking with the passphrase, finding rows
 * by short code and opening sealed columns. */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "client.h"
#include "schema.h"

const struct home_file client_home_files[] = {
    {"post.db", HOME_F_STORE}, {"post.db-wal", 0}, {"post.db-shm", 0}, {"keystore", 0}, {NULL, 0},
};

void client_init(struct cli_ctx *ctx, const char *home)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->home = home;
    snprintf(ctx->store_path, sizeof ctx->store_path, "%s/post.db", home);
    snprintf(ctx->keystore_path, sizeof ctx->keystore_path, "%s/keystore", home);
}

static enum mrf_status load_meta(struct cli_ctx *ctx)
{
    sqlite3_stmt *s = client_stmt(ctx, CQ_META);
    struct post_meta *m = &ctx->meta;

    if (s == NULL)
        return MRF_E_IO;
    if (sqlite3_step(s) != SQLITE_ROW)
        return mrf_error_set(&ctx->err, MRF_E_STATE,
                             "this device is not set up yet; run 'mrf init --token TOKEN' with "
                             "a token from HQ");
    if (sqlite3_column_bytes(s, 1) != MRF_ID || sqlite3_column_bytes(s, 2) != MRF_SIGN_PK ||
        sqlite3_column_bytes(s, 3) != MRF_BOX_PK || sqlite3_column_bytes(s, 4) != MRF_BOX_PK ||
        sqlite3_column_bytes(s, 5) != MRF_SIGN_PK || sqlite3_column_bytes(s, 12) != MRF_BOX_PK ||
        sqlite3_column_bytes(s, 13) != MRF_ID)
        return mrf_error_set(&ctx->err, MRF_E_STATE, "store: the device record is damaged");
    str_copy(m->post, (const char *)sqlite3_column_text(s, 0), sizeof m->post);
    memcpy(m->device_id, sqlite3_column_blob(s, 1), MRF_ID);
    memcpy(m->pub.sign_pk, sqlite3_column_blob(s, 2), MRF_SIGN_PK);
    memcpy(m->pub.box_pk, sqlite3_column_blob(s, 3), MRF_BOX_PK);
    memcpy(m->escrow_pk, sqlite3_column_blob(s, 4), MRF_BOX_PK);
    memcpy(m->hq_sign_pk, sqlite3_column_blob(s, 5), MRF_SIGN_PK);
    str_copy(m->hq_url, (const char *)sqlite3_column_text(s, 6), sizeof m->hq_url);
    m->token_expires = sqlite3_column_int64(s, 7);
    m->created_at = sqlite3_column_int64(s, 8);
    m->enrolled_at = sqlite3_column_int64(s, 9);
    m->last_sync = sqlite3_column_int64(s, 10);
    str_copy(m->hq_tls_pin, (const char *)sqlite3_column_text(s, 11), sizeof m->hq_tls_pin);
    memcpy(m->hq_box_pk, sqlite3_column_blob(s, 12), MRF_BOX_PK);
    memcpy(m->token_id, sqlite3_column_blob(s, 13), MRF_ID);
    m->hq_cursor = sqlite3_column_int64(s, 14);
    m->has_skew = sqlite3_column_int(s, 15);
    m->hq_skew_ms = sqlite3_column_int64(s, 16);
    m->conflict_cursor = sqlite3_column_int64(s, 17);
    m->has_officer = sqlite3_column_bytes(s, 18) == MRF_SIGN_PK;
    if (m->has_officer)
        memcpy(m->officer_pk, sqlite3_column_blob(s, 18), MRF_SIGN_PK);
    sqlite3_reset(s);
    return MRF_OK;
}

enum mrf_status client_open(struct cli_ctx *ctx)
{
    struct stat sb;
    enum mrf_status st;

    if (stat(ctx->store_path, &sb) != 0)
        return mrf_error_set(&ctx->err, MRF_E_STATE,
                             "this device is not set up in %s; run 'mrf init --token TOKEN' "
                             "with a token from HQ (or give --home)",
                             ctx->home);
    if (ctx->readonly)
        st = schema_open_readonly(ctx->store_path, SCHEMA_POST, &ctx->db, &ctx->err);
    else
        st = schema_open(ctx->store_path, SCHEMA_POST, &ctx->db, &ctx->err);
    if (st != MRF_OK)
        return st;
    st = load_meta(ctx);
    if (st != MRF_OK)
        return st;
    return capture_new(ctx->db, &ctx->cap, &ctx->err);
}

/* Gives the pages this command's writes freed (an acknowledged outbox, above all) back to the
 * file system: the store runs with auto_vacuum INCREMENTAL (schema_open). Best effort, and
 * ctx->err is left as the command left it: a page left free is reused by the next write, so
 * a failure (busy) costs only file size. */
static void trim_free_pages(struct cli_ctx *ctx)
{
    struct mrf_error kept = ctx->err;
    sqlite3_stmt *s = client_stmt(ctx, CQ_FREE_PAGES);

    if (s != NULL && sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) > 0 &&
        (s = client_stmt(ctx, CQ_TRIM)) != NULL)
        while (sqlite3_step(s) == SQLITE_ROW)
            ;
    if (s != NULL)
        sqlite3_reset(s);
    ctx->err = kept;
}

void client_close(struct cli_ctx *ctx)
{
    if (ctx->db != NULL && !ctx->readonly)
        trim_free_pages(ctx);
    capture_free(ctx->cap);
    ctx->cap = NULL;
    for (int i = 0; i < CQ_COUNT; i++) {
        sqlite3_finalize(ctx->stmts[i]);
        ctx->stmts[i] = NULL;
    }
    sqlite3_close_v2(ctx->db);
    ctx->db = NULL;
    client_ring_free(ctx->ring);
    ctx->ring = NULL;
    mrf_secrets_free(ctx->secrets);
    ctx->secrets = NULL;
}

enum mrf_status client_unlock(struct cli_ctx *ctx)
{
    char *pass = NULL;
    enum mrf_status st;

    if (ctx->secrets)
        return MRF_OK;
    st = passphrase_read("Passphrase", "MRF_PASSPHRASE", 0, &pass, &ctx->err);
    if (st == MRF_OK)
        st = client_unlock_with(ctx, pass);
    passphrase_free(pass);
    return st;
}

enum mrf_status client_unlock_with(struct cli_ctx *ctx, const char *passphrase)
{
    enum mrf_status st = MRF_OK;

    if (ctx->secrets == NULL)
        st = keystore_open(ctx->keystore_path, passphrase, &ctx->secrets, &ctx->err);
    if (st == MRF_E_NOTFOUND)
        st = mrf_error_set(&ctx->err, MRF_E_STATE,
                           "this device's keystore is gone (destroyed by 'mrf wipe', after too "
                           "many wrong passphrases, or by HQ's wipe order): nothing sealed on "
                           "it opens any more; run 'mrf wipe --yes', then 'mrf init --token' "
                           "with a new token from HQ");
    if (st == MRF_OK &&
        sodium_memcmp(ctx->secrets->pub.box_pk, ctx->meta.pub.box_pk, MRF_BOX_PK) != 0) {
        mrf_secrets_free(ctx->secrets);
        ctx->secrets = NULL;
        st = mrf_error_set(&ctx->err, MRF_E_STATE,
                           "the keystore does not belong to this store; restore the matching "
                           "keystore file");
    }
    if (st == MRF_OK)
        st = client_ring_load(ctx);
    return st;
}

static enum mrf_status insert_meta(struct cli_ctx *ctx, const struct enroll_token *tok,
                                   const struct mrf_secrets *sec, const uint8_t device[MRF_ID],
                                   int64_t now)
{
    sqlite3_stmt *s = client_stmt(ctx, CQ_META_INSERT);

    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(s, 1, tok->post, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, device, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, sec->pub.sign_pk, MRF_SIGN_PK, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, sec->pub.box_pk, MRF_BOX_PK, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, tok->url, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, tok->tls_pin, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 7, tok->hq.sign_pk, MRF_SIGN_PK, SQLITE_STATIC);
    sqlite3_bind_blob(s, 8, tok->hq.box_pk, MRF_BOX_PK, SQLITE_STATIC);
    sqlite3_bind_blob(s, 9, tok->escrow_pk, MRF_BOX_PK, SQLITE_STATIC);
    sqlite3_bind_blob(s, 10, tok->token_id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_int64(s, 11, tok->expires);
    sqlite3_bind_int64(s, 12, now);
    if (tok->has_officer)
        sqlite3_bind_blob(s, 13, tok->officer_pk, MRF_SIGN_PK, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        return client_db_fail(ctx, "cannot record this device");
    return MRF_OK;
}

enum mrf_status client_token_fresh(struct cli_ctx *ctx, const struct enroll_token *tok, int64_t now)
{
    if (tok->expires > now)
        return MRF_OK;
    return mrf_error_set(&ctx->err, MRF_E_REFUSED,
                         "init: the token has expired; ask HQ for a new one ('mrf-hq enroll %s')",
                         tok->post);
}

enum mrf_status client_setup(struct cli_ctx *ctx, const char *token, const char *passphrase,
                             int64_t now)
{
    struct enroll_token tok;
    struct mrf_secrets *sec = NULL;
    uint8_t device[MRF_ID];
    struct stat sb;
    int made_keystore = 0, made_store = 0;
    enum mrf_status st;

    if (stat(ctx->store_path, &sb) == 0 || stat(ctx->keystore_path, &sb) == 0)
        return mrf_error_set(&ctx->err, MRF_E_STATE,
                             "this device is already set up in %s; to start over run "
                             "'mrf wipe --yes' first (it destroys what is not synced)",
                             ctx->home);
    st = token_decode(token, &tok, &ctx->err);
    if (st != MRF_OK)
        return st;
    st = client_token_fresh(ctx, &tok, now);
    if (st != MRF_OK) {
        token_wipe(&tok);
        return st;
    }
    if (strlen(passphrase) < PASSPHRASE_MIN) {
        token_wipe(&tok);
        return mrf_error_set(&ctx->err, MRF_E_INVALID,
                             "init: a passphrase needs at least %d characters; choose a longer "
                             "one",
                             PASSPHRASE_MIN);
    }
    st = dir_ensure(ctx->home, &ctx->err);
    if (st != MRF_OK)
        goto out;
    mrf_secrets_new(&sec);
    memcpy(sec->enroll_secret, tok.secret, MRF_SECRET);
    mrf_random(device, sizeof device);

    st = keystore_create(ctx->keystore_path, passphrase, sec, &ctx->err);
    if (st != MRF_OK)
        goto out;
    made_keystore = 1;
    made_store = 1;
    st = schema_open(ctx->store_path, SCHEMA_POST, &ctx->db, &ctx->err);
    if (st != MRF_OK)
        goto out;
    st = insert_meta(ctx, &tok, sec, device, now);
    if (st != MRF_OK)
        goto out;
    st = load_meta(ctx);
    if (st == MRF_OK)
        st = client_ring_first_key(ctx);
    if (st == MRF_OK)
        st = capture_new(ctx->db, &ctx->cap, &ctx->err);
out:
    if (st != MRF_OK) {
        struct mrf_error ignored;
        client_close(ctx);
        if (made_store) {
            char side[1200];
            unlink(ctx->store_path);
            snprintf(side, sizeof side, "%s-wal", ctx->store_path);
            unlink(side);
            snprintf(side, sizeof side, "%s-shm", ctx->store_path);
            unlink(side);
        }
        if (made_keystore)
            keystore_destroy(ctx->keystore_path, &ignored);
    }
    mrf_secrets_free(sec);
    token_wipe(&tok);
    return st;
}

enum mrf_status client_find(struct cli_ctx *ctx, enum sync_table t, const char *code,
                            uint8_t id[MRF_ID], int *removed)
{
    const struct sync_table_desc *d = sync_table_get(t);
    char norm[16];
    sqlite3_stmt *s;
    enum mrf_status st;
    int rc;

    memset(id, 0, MRF_ID);
    *removed = 0;
    st = shortcode_parse(d->code_prefix, code, norm, &ctx->err);
    if (st != MRF_OK)
        return st;
    s = client_stmt(ctx, t == ST_PARTNERS ? CQ_FIND_PARTNER : CQ_FIND_GRANT);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(s, 1, norm, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        return mrf_error_set(&ctx->err, MRF_E_NOTFOUND,
                             "no %s with code %s on this device; 'mrf %s list' shows them",
                             t == ST_PARTNERS ? "partner" : "grant", norm,
                             t == ST_PARTNERS ? "partner" : "grant");
    if (rc != SQLITE_ROW)
        return client_db_fail(ctx, "cannot look up a code");
    if (sqlite3_column_bytes(s, 0) != MRF_ID)
        return mrf_error_set(&ctx->err, MRF_E_STATE, "store: a row id is damaged");
    memcpy(id, sqlite3_column_blob(s, 0), MRF_ID);
    *removed = sqlite3_column_int(s, 1);
    sqlite3_reset(s);
    return MRF_OK;
}

enum mrf_status client_reveal(struct cli_ctx *ctx, enum sync_table t, const uint8_t id[MRF_ID],
                              int col, char **plain)
{
    sqlite3_stmt *s;
    char aad[SYNC_AAD_MAX];
    const uint8_t *blob;
    size_t len, n;
    enum mrf_status st;

    *plain = NULL;
    if (!sync_column_sealed(t, col) || ctx->secrets == NULL)
        return mrf_error_set(&ctx->err, MRF_E_INTERNAL, "reveal: not a sealed column");
    assert(t == ST_PARTNERS || t == ST_GRANTS); /* the tables with sealed columns */
    s = client_stmt(ctx, t == ST_PARTNERS ? CQ_PARTNER_ROW : CQ_GRANT_ROW);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(s, 1, id, MRF_ID, SQLITE_TRANSIENT);
    if (sqlite3_step(s) != SQLITE_ROW)
        return client_db_fail(ctx, "cannot read a sealed field");
    if (sqlite3_column_type(s, col) == SQLITE_NULL) {
        sqlite3_reset(s);
        return MRF_OK;
    }
    sync_field_aad(t, id, col, aad);
    blob = sqlite3_column_blob(s, col);
    n = (size_t)sqlite3_column_bytes(s, col);
    st = sealed_open(plain, &len, blob, n, aad, ctx->secrets->pub.box_pk, ctx->secrets->box_sk);
    /* A tag that fails in a field with a slot for this device: damaged, not someone else's. */
    if (st == MRF_E_AUTH &&
        sealed_for_key(blob, n, ctx->secrets->pub.box_pk, ctx->secrets->box_sk) == MRF_OK)
        st = MRF_E_INVALID;
    if (st == MRF_E_AUTH) /* a colleague's field: the post's key ring may open it */
        st = client_ring_open(ctx, blob, n, aad, plain, &len);
    sqlite3_reset(s);
    if (st == MRF_E_AUTH)
        return mrf_error_set(&ctx->err, st, "reveal: this field was sealed on another device");
    if (st != MRF_OK)
        return mrf_error_set(&ctx->err, MRF_E_INVALID, "reveal: this field is damaged");
    return MRF_OK;
}

int client_this_year(void)
{
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    return tm.tm_year + 1900;
}

/* The post's key ring on a device: the post keys it holds (each secret sealed to this device's
 * own box key in the store, opened only with the unlocked keystore), which of them new sealed
 * fields also go to, opening a colleague's field with them, and what travels by sync — this
 * device's announcements of keys it made, the grants it signed (approvals and rotations), and
 * from HQ the post's announcements, the grants for this device and HQ's signed device list.
 * At each unlock that may write (mrf sync) it keeps the ring in order: after HQ's answer, a
 * post with no key gets one from this device, a key a revoked device held is rotated, and the
 * fields this device sealed that no post key opens are sealed again (docs/DECISIONS.md, "A
 * post's key ring"). Its statements run a few times per sync or command, so they are
 * prepared where used, from the one array below. */
#include <ctype.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "client.h"

#define RING_MAX 64 /* post keys a device holds: one per epoch */

struct ring_key {
    uint32_t epoch;
    uint8_t pk[MRF_BOX_PK];
    uint8_t *sk; /* sodium_malloc'd */
};

struct client_ring {
    int n;
    struct ring_key k[RING_MAX];
};

enum ring_sql {
    RQ_KEYS,      /* this device's keys that did not lose: accepted or pending, newest first */
    RQ_HQ_EPOCH,  /* the post's latest epoch as HQ relays it */
    RQ_HQ_KEY,    /* HQ's key of one epoch */
    RQ_PENDING,   /* keys this device made that HQ has not relayed yet */
    RQ_KEY_PUT,   /* a key this device holds */
    RQ_HQ_PUT,    /* an announcement HQ relays (the first one stays) */
    RQ_DROP_LOST, /* keys of an epoch HQ relays another key for */
    RQ_OUT_LOST,  /* queued grants of keys this device no longer holds */
    RQ_OUT_PUT,   /* a grant to send */
    RQ_OUT_ALL,   /* grants to send */
    RQ_OUT_DONE,  /* grants HQ has answered for */
    RQ_DEVICES,   /* HQ's signed device list */
    RQ_DEVICES_PUT,
    RQ_APPROVER,  /* who granted this device a key */
    RQ_REWRAPPED, /* the key the last re-wrap pass went to */
    RQ_REWRAPPED_PUT,
    RQ_COUNT
};

static const char *const ring_sql[RQ_COUNT] = {
    [RQ_KEYS] = "SELECT p.epoch, p.pk, p.sealed_sk, h.pk IS NOT NULL FROM postkeys p"
                " LEFT JOIN postkey_hq h ON h.epoch = p.epoch"
                " WHERE h.pk IS NULL OR h.pk = p.pk ORDER BY p.epoch DESC",
    [RQ_HQ_EPOCH] = "SELECT coalesce(max(epoch), 0) FROM postkey_hq",
    [RQ_HQ_KEY] = "SELECT pk, creator FROM postkey_hq WHERE epoch = ?1",
    [RQ_PENDING] = "SELECT p.epoch, p.pk FROM postkeys p WHERE p.approver IS NULL AND NOT EXISTS"
                   " (SELECT 1 FROM postkey_hq h WHERE h.epoch = p.epoch) ORDER BY p.epoch",
    [RQ_KEY_PUT] = "INSERT OR IGNORE INTO postkeys (epoch, pk, sealed_sk, creator, approver, at)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [RQ_HQ_PUT] = "INSERT OR IGNORE INTO postkey_hq (epoch, pk, creator, sig)"
                  " VALUES (?1, ?2, ?3, ?4)",
    [RQ_DROP_LOST] = "DELETE FROM postkeys WHERE EXISTS (SELECT 1 FROM postkey_hq h"
                     " WHERE h.epoch = postkeys.epoch AND h.pk <> postkeys.pk)",
    [RQ_OUT_LOST] = "DELETE FROM keyring_out WHERE NOT EXISTS (SELECT 1 FROM postkeys p"
                    " WHERE p.epoch = keyring_out.epoch AND p.pk = keyring_out.pk)",
    [RQ_OUT_PUT] = "INSERT INTO keyring_out (epoch, pk, item) VALUES (?1, ?2, ?3)",
    [RQ_OUT_ALL] = "SELECT id, item FROM keyring_out ORDER BY id LIMIT 64",
    [RQ_OUT_DONE] = "DELETE FROM keyring_out WHERE id <= ?1",
    [RQ_DEVICES] = "SELECT payload, sig, received_at FROM device_list WHERE id = 1",
    [RQ_DEVICES_PUT] = "INSERT INTO device_list (id, payload, sig, received_at)"
                       " VALUES (1, ?1, ?2, ?3) ON CONFLICT (id) DO UPDATE SET"
                       " payload = excluded.payload, sig = excluded.sig,"
                       " received_at = excluded.received_at",
    [RQ_APPROVER] = "SELECT approver FROM postkeys WHERE epoch = ?1 AND pk = ?2",
    [RQ_REWRAPPED] = "SELECT pk = ?1 FROM keyring_rewrapped WHERE id = 1",
    [RQ_REWRAPPED_PUT] = "INSERT INTO keyring_rewrapped (id, pk) VALUES (1, ?1)"
                         " ON CONFLICT (id) DO UPDATE SET pk = excluded.pk",
};

/* Statement which, prepared (caller sqlite3_finalizes); NULL with ctx->err set. */
static sqlite3_stmt *ring_stmt(struct cli_ctx *ctx, enum ring_sql which)
{
    sqlite3_stmt *s = NULL;

    if (sqlite3_prepare_v2(ctx->db, ring_sql[which], -1, &s, NULL) != SQLITE_OK) {
        client_db_fail(ctx, "cannot read the key ring");
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

/* Runs a statement without rows (bindings done); finalizes it. */
static enum mrf_status ring_exec(struct cli_ctx *ctx, sqlite3_stmt *s, const char *what)
{
    int rc;

    if (s == NULL)
        return MRF_E_IO;
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? MRF_OK : client_db_fail(ctx, what);
}

/* A transaction of the ring through capture (so the device clock and the store's writes stay
 * as capture keeps them): its failure's message moves to ctx->err. */
static enum mrf_status ring_begin(struct cli_ctx *ctx)
{
    enum mrf_status st = capture_begin(ctx->cap);

    return st == MRF_OK ? MRF_OK : mrf_error_set(&ctx->err, st, "%s", capture_errmsg(ctx->cap));
}

static enum mrf_status ring_commit(struct cli_ctx *ctx, enum mrf_status st)
{
    if (st == MRF_OK && (st = capture_commit(ctx->cap)) != MRF_OK)
        mrf_error_set(&ctx->err, st, "%s", capture_errmsg(ctx->cap));
    if (st != MRF_OK)
        capture_rollback(ctx->cap);
    return st;
}

void client_ring_free(struct client_ring *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < r->n; i++)
        sodium_free(r->k[i].sk); /* wipes */
    sodium_memzero(r, sizeof *r);
    x_free(r);
}

/* ---- which keys ---------------------------------------------------------------------------- */

/* The post's latest epoch as HQ relays it (0: none yet). */
static enum mrf_status hq_epoch(struct cli_ctx *ctx, uint32_t *epoch)
{
    sqlite3_stmt *s = ring_stmt(ctx, RQ_HQ_EPOCH);
    enum mrf_status st = MRF_OK;

    *epoch = 0;
    if (s == NULL)
        return MRF_E_IO;
    if (sqlite3_step(s) == SQLITE_ROW)
        *epoch = (uint32_t)sqlite3_column_int64(s, 0);
    else
        st = client_db_fail(ctx, "cannot read the key ring");
    sqlite3_finalize(s);
    return st;
}

/* The key new fields are sealed to: this device's newest key that did not lose a race, if it
 * is of the post's latest epoch or newer (a key this device made and HQ has not relayed yet).
 * OUT: *have, epoch, pk, *accepted (HQ relays it). */
static enum mrf_status seal_key(struct cli_ctx *ctx, int *have, uint32_t *epoch,
                                uint8_t pk[MRF_BOX_PK], int *accepted)
{
    sqlite3_stmt *s;
    uint32_t latest;
    enum mrf_status st = hq_epoch(ctx, &latest);
    int rc;

    *have = 0;
    *accepted = 0;
    *epoch = 0;
    if (st != MRF_OK)
        return st;
    s = ring_stmt(ctx, RQ_KEYS);
    if (s == NULL)
        return MRF_E_IO;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 1) == MRF_BOX_PK &&
        (uint32_t)sqlite3_column_int64(s, 0) >= latest) {
        *have = 1;
        *epoch = (uint32_t)sqlite3_column_int64(s, 0);
        memcpy(pk, sqlite3_column_blob(s, 1), MRF_BOX_PK);
        *accepted = sqlite3_column_int(s, 3);
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        st = client_db_fail(ctx, "cannot read the key ring");
    }
    sqlite3_finalize(s);
    return st;
}

enum mrf_status client_ring_recipients(struct cli_ctx *ctx, uint8_t keys[3][MRF_BOX_PK], int *n)
{
    uint32_t epoch;
    int have, accepted;
    enum mrf_status st;

    memcpy(keys[0], ctx->meta.pub.box_pk, MRF_BOX_PK);
    memcpy(keys[1], ctx->meta.escrow_pk, MRF_BOX_PK);
    *n = 2;
    st = seal_key(ctx, &have, &epoch, keys[2], &accepted);
    if (st == MRF_OK && have)
        *n = 3;
    return st;
}

enum mrf_status client_ring_load(struct cli_ctx *ctx)
{
    struct client_ring *r;
    sqlite3_stmt *s;
    enum mrf_status st = MRF_OK;
    int rc;

    if (ctx->secrets == NULL || ctx->ring != NULL)
        return MRF_OK;
    s = ring_stmt(ctx, RQ_KEYS);
    if (s == NULL)
        return MRF_E_IO;
    r = xcalloc(1, sizeof *r);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && r->n < RING_MAX) {
        struct ring_key *k = &r->k[r->n];
        if (sqlite3_column_bytes(s, 1) != MRF_BOX_PK || sqlite3_column_bytes(s, 2) != MRF_WRAP)
            continue;
        k->epoch = (uint32_t)sqlite3_column_int64(s, 0);
        memcpy(k->pk, sqlite3_column_blob(s, 1), MRF_BOX_PK);
        /* a key whose sealed secret does not open is left out: its fields show as sealed */
        if (postkey_unwrap(&k->sk, sqlite3_column_blob(s, 2), ctx->secrets->pub.box_pk,
                           ctx->secrets->box_sk, k->pk) == MRF_OK)
            r->n++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        st = client_db_fail(ctx, "cannot read the key ring");
    sqlite3_finalize(s);
    if (st != MRF_OK) {
        client_ring_free(r);
        return st;
    }
    ctx->ring = r;
    return MRF_OK;
}

/* Drops the loaded ring, so the next client_ring_load reads the store again. */
static void ring_reload(struct cli_ctx *ctx)
{
    client_ring_free(ctx->ring);
    ctx->ring = NULL;
}

/* The secret of the loaded ring's key of epoch (a key that lost a race is not in the ring),
 * or NULL. */
static const uint8_t *ring_secret(const struct cli_ctx *ctx, uint32_t epoch)
{
    for (int i = 0; ctx->ring != NULL && i < ctx->ring->n; i++)
        if (ctx->ring->k[i].epoch == epoch)
            return ctx->ring->k[i].sk;
    return NULL;
}

enum mrf_status client_ring_open(struct cli_ctx *ctx, const uint8_t *blob, size_t n,
                                 const char *aad, char **plain, size_t *len)
{
    enum mrf_status st = MRF_E_AUTH;

    *plain = NULL;
    for (int i = 0; ctx->ring != NULL && i < ctx->ring->n; i++) {
        const struct ring_key *k = &ctx->ring->k[i];
        st = sealed_open(plain, len, blob, n, aad, k->pk, k->sk);
        if (st == MRF_E_AUTH && sealed_for_key(blob, n, k->pk, k->sk) == MRF_OK)
            return MRF_E_INVALID; /* a slot for this key that does not open: damaged */
        if (st != MRF_E_AUTH)
            return st;
    }
    return st;
}

/* ---- HQ's device list ---------------------------------------------------------------------- */

/* HQ's list as this device keeps it, verified again against HQ's key. OUT: *l (caller x_frees;
 * NULL with MRF_OK if none came yet), *received. */
static enum mrf_status devices_read(struct cli_ctx *ctx, struct keyring_devices **l,
                                    int64_t *received)
{
    sqlite3_stmt *s = ring_stmt(ctx, RQ_DEVICES);
    enum mrf_status st = MRF_OK;
    int rc;

    *l = NULL;
    *received = 0;
    if (s == NULL)
        return MRF_E_IO;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *l = xcalloc(1, sizeof **l);
        *received = sqlite3_column_int64(s, 2);
        if (sqlite3_column_bytes(s, 1) != MRF_SIG ||
            mrf_verify(sqlite3_column_blob(s, 1), sqlite3_column_blob(s, 0),
                       (size_t)sqlite3_column_bytes(s, 0), ctx->meta.hq_sign_pk) != MRF_OK ||
            keyring_devices_decode(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
                                   *l) != MRF_OK ||
            strcmp((*l)->post, ctx->meta.post) != 0)
            st = mrf_error_set(&ctx->err, MRF_E_STATE,
                               "store: HQ's device list does not verify against HQ's key; run "
                               "'mrf sync' to fetch it again");
    } else if (rc != SQLITE_DONE) {
        st = client_db_fail(ctx, "cannot read HQ's device list");
    }
    sqlite3_finalize(s);
    if (st != MRF_OK) {
        x_free(*l);
        *l = NULL;
    }
    return st;
}

/* ---- what goes to HQ ----------------------------------------------------------------------- */

enum mrf_status client_ring_request(struct cli_ctx *ctx, struct buf *members, int64_t *upto)
{
    sqlite3_stmt *s;
    struct postkey_ann a;
    int nkeys = 0, ngrants = 0;
    enum mrf_status st;

    *upto = 0;
    buf_reset(members);
    if (ctx->secrets == NULL)
        return MRF_OK;
    s = ring_stmt(ctx, RQ_PENDING);
    if (s == NULL)
        return MRF_E_IO;
    st = buf_puts(members, ",\"keyring\":{\"keys\":[");
    while (st == MRF_OK && sqlite3_step(s) == SQLITE_ROW && nkeys < KEYRING_MAX_ITEMS) {
        if (sqlite3_column_bytes(s, 1) != MRF_BOX_PK)
            continue;
        memset(&a, 0, sizeof a);
        str_copy(a.post, ctx->meta.post, sizeof a.post);
        a.epoch = (uint32_t)sqlite3_column_int64(s, 0);
        memcpy(a.pk, sqlite3_column_blob(s, 1), MRF_BOX_PK);
        memcpy(a.creator, ctx->meta.device_id, MRF_ID);
        postkey_ann_sign(&a, ctx->secrets->sign_sk);
        if (nkeys++ > 0)
            st = buf_puts(members, ",");
        if (st == MRF_OK)
            st = keyring_ann_to_json(&a, members);
    }
    sqlite3_finalize(s);
    if (st == MRF_OK)
        st = buf_puts(members, "],\"grants\":[");
    s = st == MRF_OK ? ring_stmt(ctx, RQ_OUT_ALL) : NULL;
    while (s != NULL && st == MRF_OK && sqlite3_step(s) == SQLITE_ROW) {
        if (ngrants++ > 0)
            st = buf_puts(members, ",");
        if (st == MRF_OK)
            st = buf_puts(members, (const char *)sqlite3_column_text(s, 1));
        *upto = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    if (st == MRF_OK)
        st = buf_puts(members, "]}");
    if (nkeys + ngrants == 0) /* nothing to say: the request stays as it was */
        buf_reset(members);
    return st;
}

/* ---- what comes from HQ -------------------------------------------------------------------- */

/* Member key of o as base64url, decoded (caller x_frees); NULL if absent or not base64url. */
static uint8_t *b64_member(const cJSON *o, const char *key, size_t cap, size_t *n)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    uint8_t *raw = NULL;

    *n = 0;
    if (!cJSON_IsString(j) || strlen(j->valuestring) > cap ||
        b64url_decode(j->valuestring, strlen(j->valuestring), &raw, n) != MRF_OK)
        return NULL;
    return raw;
}

/* Verifies and keeps HQ's device list; OUT: *l (caller x_frees). */
static enum mrf_status take_devices(struct cli_ctx *ctx, const cJSON *k, int64_t now,
                                    struct keyring_devices **l)
{
    size_t n = 0, sn = 0;
    uint8_t *payload = b64_member(k, "devices", 4 * (64 + KEYRING_MAX_DEVICES * 96), &n);
    uint8_t *sig = b64_member(k, "dsig", 2 * MRF_SIG, &sn);
    sqlite3_stmt *s;
    enum mrf_status st = MRF_OK;

    *l = xcalloc(1, sizeof **l);
    if (payload == NULL || sig == NULL || sn != MRF_SIG ||
        mrf_verify(sig, payload, n, ctx->meta.hq_sign_pk) != MRF_OK ||
        keyring_devices_decode(payload, n, *l) != MRF_OK || strcmp((*l)->post, ctx->meta.post) != 0)
        st = mrf_error_set(&ctx->err, MRF_E_REFUSED,
                           "HQ's device list does not verify against HQ's key; nothing was "
                           "applied");
    if (st == MRF_OK && (s = ring_stmt(ctx, RQ_DEVICES_PUT)) != NULL) {
        sqlite3_bind_blob(s, 1, payload, (int)n, SQLITE_TRANSIENT);
        sqlite3_bind_blob(s, 2, sig, MRF_SIG, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 3, now);
        st = ring_exec(ctx, s, "cannot keep HQ's device list");
    } else if (st == MRF_OK) {
        st = MRF_E_IO;
    }
    x_free(payload);
    x_free(sig);
    if (st != MRF_OK) {
        x_free(*l);
        *l = NULL;
    }
    return st;
}

/* Keeps the announcements whose creator's signature verifies (the creator as HQ's list has
 * it); the first one of an epoch stays. Others are ignored. */
static enum mrf_status take_keys(struct cli_ctx *ctx, const cJSON *doc,
                                 const struct keyring_devices *l)
{
    const cJSON *item;
    struct postkey_ann a;
    const struct keyring_device *d;
    sqlite3_stmt *s;
    enum mrf_status st = MRF_OK;

    cJSON_ArrayForEach(item, keyring_member(doc, "keys")) {
        if (keyring_ann_from_json(item, ctx->meta.post, &a) != MRF_OK ||
            (d = keyring_devices_find(l, a.creator)) == NULL ||
            postkey_ann_verify(&a, d->keys.sign_pk) != MRF_OK)
            continue;
        s = ring_stmt(ctx, RQ_HQ_PUT);
        if (s == NULL)
            return MRF_E_IO;
        sqlite3_bind_int64(s, 1, a.epoch);
        sqlite3_bind_blob(s, 2, a.pk, MRF_BOX_PK, SQLITE_TRANSIENT);
        sqlite3_bind_blob(s, 3, a.creator, MRF_ID, SQLITE_TRANSIENT);
        sqlite3_bind_blob(s, 4, a.sig, MRF_SIG, SQLITE_TRANSIENT);
        st = ring_exec(ctx, s, "cannot keep a post key");
        if (st != MRF_OK)
            return st;
    }
    /* a key of ours that HQ relays another key for lost a race: gone, with its grants */
    st = ring_exec(ctx, ring_stmt(ctx, RQ_DROP_LOST), "cannot update the key ring");
    if (st == MRF_OK)
        st = ring_exec(ctx, ring_stmt(ctx, RQ_OUT_LOST), "cannot update the key ring");
    return st;
}

/* HQ's key of epoch: OUT *found, pk. */
static enum mrf_status hq_key(struct cli_ctx *ctx, uint32_t epoch, int *found,
                              uint8_t pk[MRF_BOX_PK])
{
    sqlite3_stmt *s = ring_stmt(ctx, RQ_HQ_KEY);
    int rc;

    *found = 0;
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_int64(s, 1, epoch);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == MRF_BOX_PK) {
        memcpy(pk, sqlite3_column_blob(s, 0), MRF_BOX_PK);
        *found = 1;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? MRF_OK
                                                 : client_db_fail(ctx, "cannot read the key ring");
}

/* Keeps the grants for this device that a device of HQ's list signed, of the key HQ relays for
 * their epoch, that open with this device's key into that very key's secret and, when this
 * device holds the epoch before (from its ring or from this answer), whose chain proof that
 * key confirms. A forged one (another signer, another key, not for this device, a rotation
 * nobody holding the previous key made) is ignored: HQ alone cannot add a reader nor a key.
 * Needs the unlocked keystore; without it the grants wait for the next sync. */
static enum mrf_status take_grants(struct cli_ctx *ctx, const cJSON *doc,
                                   const struct keyring_devices *l, int64_t now)
{
    const cJSON *item;
    struct postkey_grant g;
    const struct keyring_device *d;
    uint8_t pk[MRF_BOX_PK];
    struct ring_key got[KEYRING_MAX_ITEMS]; /* secrets opened from this answer */
    int ngot = 0, found;
    uint8_t *sk = NULL;
    const uint8_t *prev;
    sqlite3_stmt *s;
    enum mrf_status st = MRF_OK;

    if (ctx->secrets == NULL)
        return MRF_OK;
    if (ctx->ring == NULL && (st = client_ring_load(ctx)) != MRF_OK)
        return st;
    cJSON_ArrayForEach(item, keyring_member(doc, "grants")) {
        if (keyring_grant_from_json(item, ctx->meta.post, &g) != MRF_OK ||
            memcmp(g.target, ctx->meta.device_id, MRF_ID) != 0 ||
            memcmp(g.target_box_pk, ctx->meta.pub.box_pk, MRF_BOX_PK) != 0 ||
            (d = keyring_devices_find(l, g.approver)) == NULL ||
            postkey_grant_verify(&g, d->keys.sign_pk) != MRF_OK)
            continue;
        st = hq_key(ctx, g.epoch, &found, pk);
        if (st != MRF_OK)
            break;
        if (!found || sodium_memcmp(pk, g.pk, MRF_BOX_PK) != 0 ||
            postkey_unwrap(&sk, g.wrapped, ctx->secrets->pub.box_pk, ctx->secrets->box_sk, g.pk) !=
                MRF_OK)
            continue;
        prev = g.epoch > 1 ? ring_secret(ctx, g.epoch - 1) : NULL;
        for (int i = 0; prev == NULL && g.epoch > 1 && i < ngot; i++)
            if (got[i].epoch == g.epoch - 1)
                prev = got[i].sk;
        if (prev != NULL && postkey_chain_verify(g.proof, g.post, g.epoch, g.pk, prev) != MRF_OK) {
            sodium_free(sk);
            sk = NULL;
            continue;
        }
        if (ngot < KEYRING_MAX_ITEMS) {
            got[ngot].epoch = g.epoch;
            got[ngot++].sk = sk;
        } else {
            sodium_free(sk);
        }
        sk = NULL;
        s = ring_stmt(ctx, RQ_KEY_PUT);
        if (s == NULL) {
            st = MRF_E_IO;
            break;
        }
        sqlite3_bind_int64(s, 1, g.epoch);
        sqlite3_bind_blob(s, 2, g.pk, MRF_BOX_PK, SQLITE_TRANSIENT);
        sqlite3_bind_blob(s, 3, g.wrapped, MRF_WRAP, SQLITE_TRANSIENT); /* sealed to us */
        sqlite3_bind_blob(s, 4, d->id, MRF_ID, SQLITE_TRANSIENT);
        sqlite3_bind_blob(s, 5, g.approver, MRF_ID, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 6, now);
        st = ring_exec(ctx, s, "cannot keep a post key");
        if (st != MRF_OK)
            break;
    }
    for (int i = 0; i < ngot; i++)
        sodium_free(got[i].sk);
    sodium_memzero(&g, sizeof g);
    return st;
}

enum mrf_status client_ring_answer(struct cli_ctx *ctx, const cJSON *doc, int64_t upto)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(doc, "keyring");
    struct keyring_devices *l = NULL;
    int64_t now = (int64_t)time(NULL);
    sqlite3_stmt *s;
    enum mrf_status st;

    if (!cJSON_IsObject(k))
        return MRF_OK; /* an HQ without key rings: what is queued waits */
    st = take_devices(ctx, k, now, &l);
    if (st == MRF_OK)
        st = take_keys(ctx, doc, l);
    if (st == MRF_OK)
        st = take_grants(ctx, doc, l, now);
    if (st == MRF_OK && upto > 0 && (s = ring_stmt(ctx, RQ_OUT_DONE)) != NULL) {
        sqlite3_bind_int64(s, 1, upto);
        st = ring_exec(ctx, s, "cannot update the key ring");
    }
    x_free(l);
    ring_reload(ctx);
    return st;
}

/* ---- making keys and grants ---------------------------------------------------------------- */

/* Keeps a new key of epoch made here: its secret sealed to this device's own box key. */
static enum mrf_status key_put(struct cli_ctx *ctx, uint32_t epoch, const uint8_t pk[MRF_BOX_PK],
                               const uint8_t *sk)
{
    uint8_t wrapped[MRF_WRAP];
    sqlite3_stmt *s;
    enum mrf_status st = postkey_wrap(wrapped, sk, ctx->meta.pub.box_pk);

    if (st != MRF_OK)
        return mrf_error_set(&ctx->err, MRF_E_INTERNAL, "cannot seal a post key");
    s = ring_stmt(ctx, RQ_KEY_PUT);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_int64(s, 1, epoch);
    sqlite3_bind_blob(s, 2, pk, MRF_BOX_PK, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 3, wrapped, MRF_WRAP, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 4, ctx->meta.device_id, MRF_ID, SQLITE_TRANSIENT);
    sqlite3_bind_null(s, 5);
    sqlite3_bind_int64(s, 6, (int64_t)time(NULL));
    return ring_exec(ctx, s, "cannot keep a post key");
}

/* Queues a grant of key (epoch, pk, sk) to device d, signed by this device, with the chain
 * proof made with prev_sk, epoch - 1's secret (NULL: none, zeros). */
static enum mrf_status grant_queue(struct cli_ctx *ctx, uint32_t epoch,
                                   const uint8_t pk[MRF_BOX_PK], const uint8_t *sk,
                                   const uint8_t *prev_sk, const struct keyring_device *d)
{
    struct postkey_grant g;
    struct buf item;
    sqlite3_stmt *s;
    enum mrf_status st;

    memset(&g, 0, sizeof g);
    str_copy(g.post, ctx->meta.post, sizeof g.post);
    g.epoch = epoch;
    memcpy(g.pk, pk, MRF_BOX_PK);
    memcpy(g.target, d->id, MRF_ID);
    memcpy(g.target_box_pk, d->keys.box_pk, MRF_BOX_PK);
    memcpy(g.approver, ctx->meta.device_id, MRF_ID);
    if (postkey_wrap(g.wrapped, sk, d->keys.box_pk) != MRF_OK)
        return mrf_error_set(&ctx->err, MRF_E_INVALID,
                             "device approve: that device's key is unusable; ask HQ");
    if (prev_sk != NULL)
        postkey_chain_proof(g.proof, g.post, epoch, pk, prev_sk);
    postkey_grant_sign(&g, ctx->secrets->sign_sk);
    buf_init(&item, 4096);
    st = keyring_grant_to_json(&g, &item);
    s = st == MRF_OK ? ring_stmt(ctx, RQ_OUT_PUT) : NULL;
    if (s != NULL) {
        sqlite3_bind_int64(s, 1, epoch);
        sqlite3_bind_blob(s, 2, pk, MRF_BOX_PK, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, item.data, (int)item.len, SQLITE_TRANSIENT);
        st = ring_exec(ctx, s, "cannot queue a post key grant");
    } else if (st == MRF_OK) {
        st = MRF_E_IO;
    }
    buf_release(&item);
    return st;
}

/* The loaded ring's key of epoch, or NULL. */
static const struct ring_key *ring_find(const struct cli_ctx *ctx, uint32_t epoch,
                                        const uint8_t pk[MRF_BOX_PK])
{
    for (int i = 0; ctx->ring != NULL && i < ctx->ring->n; i++)
        if (ctx->ring->k[i].epoch == epoch && memcmp(ctx->ring->k[i].pk, pk, MRF_BOX_PK) == 0)
            return &ctx->ring->k[i];
    return NULL;
}

/* Makes a post key of epoch here and, for a rotation, grants it to the list's active holders
 * of the epoch before (not to this device, which holds it), with the chain proof of the
 * epoch before's secret (in the loaded ring). */
static enum mrf_status make_key(struct cli_ctx *ctx, uint32_t epoch,
                                const struct keyring_devices *l)
{
    uint8_t pk[MRF_BOX_PK];
    uint8_t *sk = xsecure_malloc(MRF_BOX_SK);
    const uint8_t *prev = epoch > 1 ? ring_secret(ctx, epoch - 1) : NULL;
    enum mrf_status st;

    mrf_box_keypair(pk, sk);
    st = key_put(ctx, epoch, pk, sk);
    for (int i = 0; st == MRF_OK && l != NULL && i < l->n; i++)
        if (!l->d[i].revoked && l->d[i].holds &&
            memcmp(l->d[i].id, ctx->meta.device_id, MRF_ID) != 0)
            st = grant_queue(ctx, epoch, pk, sk, prev, &l->d[i]);
    sodium_free(sk);
    return st;
}

enum mrf_status client_ring_first_key(struct cli_ctx *ctx)
{
    return make_key(ctx, 1, NULL);
}

/* ---- keeping the ring in order ------------------------------------------------------------- */

/* Whether the last re-wrap pass went to pk already. OUT: *done. */
static enum mrf_status rewrapped(struct cli_ctx *ctx, const uint8_t pk[MRF_BOX_PK], int *done)
{
    sqlite3_stmt *s = ring_stmt(ctx, RQ_REWRAPPED);
    int rc;

    *done = 0;
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(s, 1, pk, MRF_BOX_PK, SQLITE_TRANSIENT);
    rc = sqlite3_step(s);
    *done = rc == SQLITE_ROW && sqlite3_column_int(s, 0) == 1;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? MRF_OK
                                                 : client_db_fail(ctx, "cannot read the key ring");
}

/* Seals again, to this device, the escrow key and the current post key, every field this
 * device sealed that no post key of its ring opens (fields from before the ring, fields sealed
 * while it waited for approval, fields sealed to a key that lost a race). The write is an
 * ordinary capture: it travels as ops. The pass opens every sealed field of the store, so it
 * runs once per key new fields go to: every field recorded after it goes to that key. */
static enum mrf_status rewrap(struct cli_ctx *ctx, int *changed)
{
    static const enum sync_table tables[] = {ST_PARTNERS, ST_GRANTS};
    uint8_t keys[3][MRF_BOX_PK];
    sqlite3_stmt *done_put;
    int nkeys, done = 0;
    enum mrf_status st = client_ring_recipients(ctx, keys, &nkeys);

    if (st != MRF_OK || nkeys < 3)
        return st;
    st = rewrapped(ctx, keys[2], &done);
    if (st != MRF_OK || done)
        return st;
    st = ring_begin(ctx);
    for (size_t t = 0; st == MRF_OK && t < sizeof tables / sizeof tables[0]; t++) {
        const struct sync_table_desc *d = sync_table_get(tables[t]);
        for (int c = 0; st == MRF_OK && c < d->ncols; c++) {
            char sql[160];
            sqlite3_stmt *s = NULL;
            if (!sync_column_sealed(tables[t], c))
                continue;
            snprintf(sql, sizeof sql, "SELECT id, %s FROM %s WHERE %s IS NOT NULL", d->cols[c].name,
                     d->name, d->cols[c].name);
            if (sqlite3_prepare_v2(ctx->db, sql, -1, &s, NULL) != SQLITE_OK) {
                sqlite3_finalize(s);
                st = client_db_fail(ctx, "cannot read sealed fields");
                break;
            }
            while (st == MRF_OK && sqlite3_step(s) == SQLITE_ROW) {
                const uint8_t *blob = sqlite3_column_blob(s, 1);
                size_t n = (size_t)sqlite3_column_bytes(s, 1);
                uint8_t id[MRF_ID], *out = NULL;
                char aad[SYNC_AAD_MAX], *plain = NULL;
                size_t len = 0, outlen = 0;
                int opens = 0;

                if (sqlite3_column_bytes(s, 0) != MRF_ID)
                    continue;
                memcpy(id, sqlite3_column_blob(s, 0), MRF_ID);
                for (int i = 0; i < ctx->ring->n && !opens; i++)
                    opens =
                        sealed_for_key(blob, n, ctx->ring->k[i].pk, ctx->ring->k[i].sk) == MRF_OK;
                sync_field_aad(tables[t], id, c, aad);
                if (opens || sealed_open(&plain, &len, blob, n, aad, ctx->secrets->pub.box_pk,
                                         ctx->secrets->box_sk) != MRF_OK)
                    continue; /* a colleague's field, or damaged: not ours to seal again */
                st = sealed_seal(&out, &outlen, plain, len, aad, (const uint8_t(*)[MRF_BOX_PK])keys,
                                 nkeys);
                sealed_plain_free(plain);
                if (st == MRF_OK)
                    st = capture_set_blob(ctx->cap, tables[t], id, c, out, outlen);
                if (st != MRF_OK)
                    st = mrf_error_set(&ctx->err, st, "key ring: cannot seal a field again: %s",
                                       capture_errmsg(ctx->cap));
                x_free(out);
                *changed += st == MRF_OK;
            }
            sqlite3_finalize(s);
        }
    }
    if (st == MRF_OK && (done_put = ring_stmt(ctx, RQ_REWRAPPED_PUT)) != NULL) {
        sqlite3_bind_blob(done_put, 1, keys[2], MRF_BOX_PK, SQLITE_TRANSIENT);
        st = ring_exec(ctx, done_put, "cannot update the key ring");
    } else if (st == MRF_OK) {
        st = MRF_E_IO;
    }
    return ring_commit(ctx, st);
}

enum mrf_status client_ring_maintain(struct cli_ctx *ctx, int may_create, int *changed)
{
    struct keyring_devices *l = NULL;
    uint8_t pk[MRF_BOX_PK];
    uint32_t latest, epoch;
    int64_t received;
    int have, accepted, rotate = 0;
    enum mrf_status st;

    *changed = 0;
    if (ctx->secrets == NULL || ctx->readonly)
        return MRF_OK;
    /* a list that no longer verifies is no list: the sync goes on and brings a fresh one */
    if (devices_read(ctx, &l, &received) != MRF_OK)
        mrf_error_clear(&ctx->err);
    st = hq_epoch(ctx, &latest);
    if (st == MRF_OK)
        st = seal_key(ctx, &have, &epoch, pk, &accepted);
    if (st != MRF_OK)
        goto out;
    /* a revoked device holds the current key, and this device holds it too: rotate */
    for (int i = 0;
         l != NULL && have && accepted && epoch == latest && l->epoch == latest && i < l->n; i++)
        rotate |= l->d[i].revoked && l->d[i].holds;
    if (rotate || (may_create && latest == 0 && !have && l != NULL)) {
        st = client_ring_load(ctx); /* the proof of a rotation needs the current secret */
        if (st == MRF_OK)           /* the key and its grants together, or neither */
            st = capture_begin(ctx->cap);
        if (st == MRF_OK)
            st = make_key(ctx, rotate ? latest + 1 : 1, rotate ? l : NULL);
        if (st == MRF_OK)
            st = capture_commit(ctx->cap);
        else
            capture_rollback(ctx->cap);
        *changed += st == MRF_OK;
    }
    ring_reload(ctx);
    if (st == MRF_OK)
        st = client_ring_load(ctx);
    if (st == MRF_OK)
        st = rewrap(ctx, changed);
out:
    x_free(l);
    return st;
}

/* ---- approving a device -------------------------------------------------------------------- */

/* fp without spaces, lower case, into out (32 hex digits); 0 if it is not a fingerprint. */
static int fp_normal(const char *fp, char out[33])
{
    size_t n = 0;

    for (const char *p = fp; *p; p++) {
        if (*p == ' ' || *p == '-' || *p == ':')
            continue;
        if (!isxdigit((unsigned char)*p) || n >= 32)
            return 0;
        out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n] = '\0';
    return n == 32;
}

enum mrf_status client_ring_approve(struct cli_ctx *ctx, const char *fp, char shown[48])
{
    struct keyring_devices *l = NULL;
    const struct keyring_device *d = NULL;
    char want[33], have_fp[48], norm[33];
    uint8_t pk[MRF_BOX_PK];
    uint32_t epoch;
    int64_t received;
    int have, accepted, begun = 0;
    enum mrf_status st;

    shown[0] = '\0';
    if (!fp_normal(fp, want))
        return mrf_error_set(&ctx->err, MRF_E_INVALID,
                             "device approve: a fingerprint is 32 hex digits, as 'mrf device "
                             "list' shows it");
    st = devices_read(ctx, &l, &received);
    for (int i = 0; st == MRF_OK && l != NULL && i < l->n && d == NULL; i++) {
        mrf_device_fingerprint(&l->d[i].keys, have_fp);
        if (fp_normal(have_fp, norm) && strcmp(norm, want) == 0) {
            d = &l->d[i];
            str_copy(shown, have_fp, 48);
        }
    }
    if (st == MRF_OK && d == NULL)
        st = mrf_error_set(&ctx->err, MRF_E_NOTFOUND,
                           "device approve: no device of post %s has that fingerprint in HQ's "
                           "list; check it with the other laptop's 'mrf status', run 'mrf sync' "
                           "on both, then 'mrf device list'",
                           ctx->meta.post);
    else if (st == MRF_OK && d->revoked)
        st = mrf_error_set(&ctx->err, MRF_E_RULE,
                           "device approve: HQ has revoked that device; it can never hold the "
                           "post key");
    else if (st == MRF_OK && memcmp(d->id, ctx->meta.device_id, MRF_ID) == 0)
        st = mrf_error_set(&ctx->err, MRF_E_RULE,
                           "device approve: that is this device; approve another laptop's "
                           "fingerprint");
    if (st == MRF_OK)
        st = client_unlock(ctx);
    if (st == MRF_OK)
        st = seal_key(ctx, &have, &epoch, pk, &accepted);
    if (st == MRF_OK && (!have || !accepted))
        st = mrf_error_set(&ctx->err, MRF_E_RULE,
                           "device approve: this device does not hold the post's current key "
                           "(yet); approve from a device 'mrf device list' shows holding it, "
                           "or sync this one first");
    if (st == MRF_OK)
        st = client_ring_load(ctx);
    if (st == MRF_OK && (st = ring_begin(ctx)) == MRF_OK)
        begun = 1;
    /* every post key this device holds: the new reader opens what was sealed before too */
    for (int i = 0; st == MRF_OK && ctx->ring != NULL && i < ctx->ring->n; i++) {
        st = grant_queue(ctx, ctx->ring->k[i].epoch, ctx->ring->k[i].pk, ctx->ring->k[i].sk,
                         ring_secret(ctx, ctx->ring->k[i].epoch - 1), d);
    }
    if (st == MRF_OK && ring_find(ctx, epoch, pk) == NULL)
        st = mrf_error_set(&ctx->err, MRF_E_STATE,
                           "device approve: this device's post key does not open with its "
                           "keystore; restore the matching keystore");
    if (begun)
        st = ring_commit(ctx, st);
    x_free(l);
    return st;
}

/* ---- listing -------------------------------------------------------------------------------- */

enum mrf_status client_devices_json(struct cli_ctx *ctx, cJSON **out)
{
    struct keyring_devices *l = NULL;
    int64_t received;
    char fp[48];
    cJSON *arr;
    enum mrf_status st = devices_read(ctx, &l, &received);

    *out = NULL;
    if (st != MRF_OK)
        return st;
    arr = cJSON_CreateArray();
    for (int i = 0; l != NULL && i < l->n; i++) {
        cJSON *o = cJSON_CreateObject();
        char *id = hex_encode(l->d[i].id, 8);
        mrf_device_fingerprint(&l->d[i].keys, fp);
        cJSON_AddStringToObject(o, "device", id);
        cJSON_AddStringToObject(o, "fingerprint", fp);
        cJSON_AddStringToObject(o, "status", l->d[i].revoked ? "revoked" : "active");
        cJSON_AddBoolToObject(o, "post_key", l->d[i].holds);
        cJSON_AddBoolToObject(o, "this_device",
                              memcmp(l->d[i].id, ctx->meta.device_id, MRF_ID) == 0);
        cJSON_AddItemToArray(arr, o);
        x_free(id);
    }
    x_free(l);
    *out = arr;
    return MRF_OK;
}

/* "post_key_from": the fingerprint of the device that granted this device its key (as HQ's
 * list has it), which its operator checks against that laptop's own `mrf status`; absent if
 * this device made the key. */
static enum mrf_status add_granted_by(struct cli_ctx *ctx, cJSON *o, uint32_t epoch,
                                      const uint8_t pk[MRF_BOX_PK])
{
    struct keyring_devices *l = NULL;
    const struct keyring_device *d;
    sqlite3_stmt *s = ring_stmt(ctx, RQ_APPROVER);
    uint8_t approver[MRF_ID];
    int64_t received;
    int found = 0;
    char fp[48];

    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_int64(s, 1, epoch);
    sqlite3_bind_blob(s, 2, pk, MRF_BOX_PK, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 0) == MRF_ID) {
        memcpy(approver, sqlite3_column_blob(s, 0), MRF_ID);
        found = 1;
    }
    sqlite3_finalize(s);
    if (!found)
        return MRF_OK;
    if (devices_read(ctx, &l, &received) != MRF_OK) {
        mrf_error_clear(&ctx->err);
        return MRF_OK;
    }
    d = l != NULL ? keyring_devices_find(l, approver) : NULL;
    if (d != NULL) {
        mrf_device_fingerprint(&d->keys, fp);
        cJSON_AddStringToObject(o, "post_key_from", fp);
    }
    x_free(l);
    return MRF_OK;
}

enum mrf_status client_ring_status(struct cli_ctx *ctx, cJSON *o)
{
    uint8_t pk[MRF_BOX_PK];
    uint32_t epoch, latest;
    int have, accepted;
    char fp[48];
    enum mrf_status st = hq_epoch(ctx, &latest);

    mrf_device_fingerprint(&ctx->meta.pub, fp);
    cJSON_AddStringToObject(o, "fingerprint", fp);
    if (st == MRF_OK)
        st = seal_key(ctx, &have, &epoch, pk, &accepted);
    if (st != MRF_OK)
        return st;
    if (have && accepted) {
        cJSON_AddStringToObject(o, "post_key", "held");
        st = add_granted_by(ctx, o, epoch, pk);
    } else if (have)
        cJSON_AddStringToObject(o, "post_key", "made here, HQ has not relayed it yet");
    else if (latest > 0)
        cJSON_AddStringToObject(o, "post_key", "waiting for approval");
    else
        cJSON_AddStringToObject(o, "post_key", "none yet");
    cJSON_AddNumberToObject(o, "post_key_epoch", have ? epoch : latest);
    return st;
}

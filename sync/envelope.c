/* Envelopes: the one binary frame both directions of the wire use (layout in mrfsync.h).
 * Sealing compresses the JSON body with zstd, encrypts it with XChaCha20-Poly1305 under the
 * X25519 key the two parties share (the header is the associated data, so no header byte can
 * change unnoticed) and signs header and ciphertext with the sender's Ed25519 key. Parsing
 * checks every length against the frame before anything is allocated; opening verifies the
 * signature before it decrypts and bounds the decompressed size before it allocates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zstd.h>

#include "mrfsync.h"

#define ENV_NONCE 24
#define ENV_ZSTD_LEVEL 3

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Writes the header (and enroll extension) for a ciphertext of ct_len bytes; returns its
 * length. */
static size_t write_header(const struct envelope *h, const uint8_t nonce[ENV_NONCE],
                           uint32_t ct_len, uint8_t out[ENV_HEADER + ENV_ENROLL_EXT])
{
    uint8_t *p = out;

    memcpy(p, ENV_MAGIC, 4);
    p[4] = ENV_VERSION;
    p[5] = (uint8_t)h->kind;
    p[6] = (uint8_t)h->flags;
    p[7] = 0;
    p += 8;
    memcpy(p, h->sender, MRF_ID);
    p += MRF_ID;
    memcpy(p, h->changeset, MRF_ID);
    p += MRF_ID;
    memset(p, 0, 16);
    memcpy(p, h->post, strnlen(h->post, 15));
    p += 16;
    memcpy(p, nonce, ENV_NONCE);
    p += ENV_NONCE;
    put_u32(p, ct_len);
    p += 4;
    if (h->flags & ENV_F_ENROLL) {
        memcpy(p, h->token_id, MRF_ID);
        p += MRF_ID;
        memcpy(p, h->keys.sign_pk, MRF_SIGN_PK);
        p += MRF_SIGN_PK;
        memcpy(p, h->keys.box_pk, MRF_BOX_PK);
        p += MRF_BOX_PK;
    }
    return (size_t)(p - out);
}

enum mrf_status envelope_seal(const struct envelope *h, const char *json, size_t len,
                              const struct mrf_secrets *me, const uint8_t peer_box_pk[MRF_BOX_PK],
                              struct buf *out, struct mrf_error *err)
{
    uint8_t head[ENV_HEADER + ENV_ENROLL_EXT];
    uint8_t nonce[ENV_NONCE];
    uint8_t key[crypto_box_BEFORENMBYTES];
    size_t bound = ZSTD_compressBound(len), zlen, head_len, env_len;
    uint8_t *z = NULL, *env;
    unsigned long long ct_len;
    enum mrf_status st = MRF_OK;

    buf_reset(out);
    if (len > WIRE_JSON_MAX)
        return mrf_error_set(err, MRF_E_TOOBIG, "a change set body is over %u bytes",
                             WIRE_JSON_MAX);
    z = xmalloc(bound);
    zlen = ZSTD_compress(z, bound, json, len, ENV_ZSTD_LEVEL);
    if (ZSTD_isError(zlen)) {
        st = mrf_error_set(err, MRF_E_INTERNAL, "cannot compress a change set: %s",
                           ZSTD_getErrorName(zlen));
        goto out;
    }
    mrf_random(nonce, sizeof nonce);
    head_len =
        write_header(h, nonce, (uint32_t)(zlen + crypto_aead_xchacha20poly1305_ietf_ABYTES), head);
    if (head_len + zlen + crypto_aead_xchacha20poly1305_ietf_ABYTES + MRF_SIG > ENV_MAX) {
        st = mrf_error_set(err, MRF_E_TOOBIG, "an envelope would be over %u bytes", ENV_MAX);
        goto out;
    }
    if (crypto_box_beforenm(key, peer_box_pk, me->box_sk) != 0) {
        st = mrf_error_set(err, MRF_E_AUTH, "the receiver's public key is not usable");
        goto out;
    }
    /* The whole frame in one allocation, then one append. */
    env_len = head_len + zlen + crypto_aead_xchacha20poly1305_ietf_ABYTES + MRF_SIG;
    env = xmalloc(env_len);
    memcpy(env, head, head_len);
    crypto_aead_xchacha20poly1305_ietf_encrypt(env + head_len, &ct_len, z, zlen, head, head_len,
                                               NULL, nonce, key);
    mrf_sign(env + head_len + ct_len, env, head_len + (size_t)ct_len, me->sign_sk);
    if (buf_append(out, env, env_len) != MRF_OK)
        st = mrf_error_set(err, MRF_E_TOOBIG, "an envelope does not fit its buffer");
    x_free(env);
out:
    sodium_memzero(key, sizeof key);
    if (z != NULL) {
        sodium_memzero(z, bound);
        x_free(z);
    }
    if (st != MRF_OK)
        buf_reset(out);
    return st;
}

enum mrf_status envelope_parse(const uint8_t *p, size_t n, struct envelope *h,
                               struct mrf_error *err)
{
    size_t head_len = ENV_HEADER;
    uint32_t ct_len;

    memset(h, 0, sizeof *h);
    if (n > ENV_MAX)
        return mrf_error_set(err, MRF_E_TOOBIG, "too_large");
    if (n < ENV_HEADER + MRF_SIG || memcmp(p, ENV_MAGIC, 4) != 0)
        return mrf_error_set(err, MRF_E_INVALID, "bad_envelope");
    if (p[4] != ENV_VERSION)
        return mrf_error_set(err, MRF_E_INVALID, "bad_version");
    h->kind = p[5];
    h->flags = p[6];
    if ((h->kind != ENV_REQUEST && h->kind != ENV_RESPONSE) || (h->flags & ~ENV_F_ENROLL) != 0 ||
        p[7] != 0)
        return mrf_error_set(err, MRF_E_INVALID, "bad_envelope");
    if (h->flags & ENV_F_ENROLL)
        head_len += ENV_ENROLL_EXT;
    ct_len = get_u32(p + ENV_HEADER - 4);
    if (ct_len < crypto_aead_xchacha20poly1305_ietf_ABYTES || n < head_len + MRF_SIG ||
        (size_t)ct_len != n - head_len - MRF_SIG)
        return mrf_error_set(err, MRF_E_INVALID, "bad_length");
    memcpy(h->sender, p + 8, MRF_ID);
    memcpy(h->changeset, p + 8 + MRF_ID, MRF_ID);
    memcpy(h->post, p + 8 + 2 * MRF_ID, 15);
    h->post[15] = '\0';
    if (p[8 + 2 * MRF_ID + 15] != 0 || !text_valid(h->post, strlen(h->post), 0))
        return mrf_error_set(err, MRF_E_INVALID, "bad_envelope");
    if (h->flags & ENV_F_ENROLL) {
        const uint8_t *x = p + ENV_HEADER;
        memcpy(h->token_id, x, MRF_ID);
        memcpy(h->keys.sign_pk, x + MRF_ID, MRF_SIGN_PK);
        memcpy(h->keys.box_pk, x + MRF_ID + MRF_SIGN_PK, MRF_BOX_PK);
    }
    h->raw = p;
    h->raw_len = n;
    h->head_len = head_len;
    h->ct = p + head_len;
    h->ct_len = ct_len;
    h->sig = p + n - MRF_SIG;
    return MRF_OK;
}

enum mrf_status envelope_open(const struct envelope *h, const uint8_t sender_sign_pk[MRF_SIGN_PK],
                              const uint8_t sender_box_pk[MRF_BOX_PK],
                              const uint8_t my_box_sk[MRF_BOX_SK], char **json, size_t *len,
                              struct mrf_error *err)
{
    uint8_t key[crypto_box_BEFORENMBYTES];
    const uint8_t *nonce = h->raw + ENV_HEADER - 4 - ENV_NONCE;
    uint8_t *z = NULL;
    unsigned long long zlen = 0;
    unsigned long long size;
    size_t got;
    char *plain = NULL;
    enum mrf_status st = MRF_OK;

    *json = NULL;
    *len = 0;
    if (mrf_verify(h->sig, h->raw, h->head_len + h->ct_len, sender_sign_pk) != MRF_OK)
        return mrf_error_set(err, MRF_E_AUTH, "bad_signature");
    if (crypto_box_beforenm(key, sender_box_pk, my_box_sk) != 0)
        return mrf_error_set(err, MRF_E_AUTH, "bad_key");
    z = xmalloc(h->ct_len);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(z, &zlen, NULL, h->ct, h->ct_len, h->raw,
                                                   h->head_len, nonce, key) != 0) {
        st = mrf_error_set(err, MRF_E_AUTH, "bad_ciphertext");
        goto out;
    }
    size = ZSTD_getFrameContentSize(z, (size_t)zlen);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
        st = mrf_error_set(err, MRF_E_INVALID, "bad_compression");
        goto out;
    }
    if (size > WIRE_JSON_MAX) {
        st = mrf_error_set(err, MRF_E_TOOBIG, "too_large");
        goto out;
    }
    plain = xmalloc((size_t)size + 1);
    got = ZSTD_decompress(plain, (size_t)size, z, (size_t)zlen);
    if (ZSTD_isError(got) || got != size) {
        st = mrf_error_set(err, MRF_E_INVALID, "bad_compression");
        goto out;
    }
    plain[size] = '\0';
    *json = plain;
    *len = (size_t)size;
    plain = NULL;
out:
    sodium_memzero(key, sizeof key);
    if (z != NULL) {
        sodium_memzero(z, h->ct_len);
        x_free(z);
    }
    x_free(plain);
    return st;
}

void envelope_hash(const struct envelope *h, uint8_t out[32])
{
    mrf_hash(out, 32, h->raw, h->raw_len, NULL, 0);
}

/* ---- the size a body will have on the wire ----------------------------------------------- */

/* Fed a block at a time and flushed after each, so what zstd gave is exact for the bytes
 * flushed; the bytes since count at the ratio so far. A flush ends a zstd block, which makes
 * the estimate a little larger than the one-shot compression the envelope makes. */
#define METER_BLOCK (16u * 1024u)

struct wire_meter {
    ZSTD_CCtx *z;
    size_t fed;      /* bytes of the body fed (and flushed) so far */
    size_t produced; /* zstd bytes they gave */
    uint8_t out[4096];
};

struct wire_meter *wire_meter_new(void)
{
    struct wire_meter *m = xcalloc(1, sizeof *m);

    m->z = ZSTD_createCCtx();
    if (m->z == NULL) { /* allocation never fails quietly (common/xalloc.c) */
        fprintf(stderr, "mrf: out of memory (a zstd context)\n");
        abort();
    }
    ZSTD_CCtx_setParameter(m->z, ZSTD_c_compressionLevel, ENV_ZSTD_LEVEL);
    return m;
}

void wire_meter_free(struct wire_meter *m)
{
    if (m == NULL)
        return;
    ZSTD_freeCCtx(m->z);
    x_free(m);
}

size_t wire_meter_update(struct wire_meter *m, const struct buf *b)
{
    size_t held, rc;

    while (b->len >= m->fed + METER_BLOCK) {
        ZSTD_inBuffer in = {b->data + m->fed, METER_BLOCK, 0};
        do {
            ZSTD_outBuffer out = {m->out, sizeof m->out, 0};
            rc = ZSTD_compressStream2(m->z, &out, &in, ZSTD_e_flush);
            if (ZSTD_isError(rc))
                return m->produced + (b->len - m->fed); /* uncompressed: the JSON bound holds */
            m->produced += out.pos;
        } while (rc != 0 || in.pos < in.size);
        m->fed += METER_BLOCK;
    }
    held = b->len > m->fed ? b->len - m->fed : 0;
    /* the bytes not yet fed count at the ratio so far, or 1:4 before any */
    if (m->fed > 0)
        return m->produced + (size_t)((double)held * (double)m->produced / (double)m->fed);
    return held / 4;
}

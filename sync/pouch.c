/* Pouches: the container that carries one device's sync envelopes by hand (USB stick,
 * diplomatic bag) instead of over HTTPS (layout in mrfsync.h; reasons in docs/DECISIONS.md,
 * "Sync by pouch"). The envelopes inside are exactly those of the wire, untouched; this file
 * only frames them: a body listing them, signed by the sender as a whole (so a pouch is taken
 * whole or not at all), padded to a size bucket (so its size says little), and sealed to the
 * receiver's box key (so nothing but the 8-byte header can be read on the way). Reading
 * checks the size before it allocates, opens the box, and checks the body's lengths and
 * signature before it looks at a single envelope. */
#include <string.h>

#include <sodium.h>

#include "mrfsync.h"

#define POUCH_SIG_CONTEXT "mrf-pouch-v1"
/* id, reply_to, device, post, created, signer_pk, count */
#define BODY_FIXED (4u * MRF_ID + 8u + MRF_SIGN_PK + 4u)
/* everything in a file but the body */
#define FILE_FIXED (POUCH_HEADER + crypto_box_SEALBYTES + 4u + MRF_SIG)

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

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

/* The smallest bucket that holds need bytes, or 0 if none does. */
static size_t bucket_for(size_t need)
{
    for (size_t b = POUCH_BUCKET_MIN; b <= POUCH_MAX; b *= 4)
        if (need <= b)
            return b;
    return 0;
}

static int is_bucket(size_t n)
{
    return n >= POUCH_BUCKET_MIN && bucket_for(n) == n;
}

static size_t body_len(const struct pouch *p)
{
    size_t n = BODY_FIXED;

    for (int i = 0; i < p->n; i++)
        n += 4 + p->env_len[i];
    return n;
}

void pouch_init(struct pouch *p, int kind)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    mrf_random(p->id, MRF_ID);
    p->created_ms = time_now_ms();
}

size_t pouch_size(const struct pouch *p)
{
    return bucket_for(FILE_FIXED + body_len(p));
}

size_t pouch_room(const struct pouch *p)
{
    size_t used = FILE_FIXED + body_len(p);

    return used < POUCH_MAX ? POUCH_MAX - used : 0;
}

enum mrf_status pouch_add(struct pouch *p, const uint8_t *env, size_t len, struct mrf_error *err)
{
    if (p->n >= POUCH_ENVELOPES_MAX)
        return mrf_error_set(err, MRF_E_TOOBIG, "a pouch holds at most %d envelopes",
                             POUCH_ENVELOPES_MAX);
    if (len == 0 || len > ENV_MAX || 4 + len > pouch_room(p))
        return mrf_error_set(err, MRF_E_TOOBIG, "a pouch holds at most %u bytes", POUCH_MAX);
    p->env[p->n] = env;
    p->env_len[p->n] = len;
    p->n++;
    return MRF_OK;
}

static void header_write(const struct pouch *p, uint8_t h[POUCH_HEADER])
{
    memcpy(h, POUCH_MAGIC, 4);
    h[4] = POUCH_VERSION;
    h[5] = (uint8_t)p->kind;
    h[6] = 0;
    h[7] = 0;
}

/* Ed25519ph (libsodium's multi-part signature) over context, header and body. */
static void sign_state(crypto_sign_state *st, const uint8_t h[POUCH_HEADER], const uint8_t *body,
                       size_t n)
{
    crypto_sign_init(st);
    crypto_sign_update(st, (const unsigned char *)POUCH_SIG_CONTEXT, strlen(POUCH_SIG_CONTEXT));
    crypto_sign_update(st, h, POUCH_HEADER);
    crypto_sign_update(st, body, n);
}

enum mrf_status pouch_write(const struct pouch *p, const uint8_t sign_sk[MRF_SIGN_SK],
                            const uint8_t peer_box_pk[MRF_BOX_PK], struct buf *out,
                            struct mrf_error *err)
{
    uint8_t h[POUCH_HEADER];
    size_t blen = body_len(p), total = bucket_for(FILE_FIXED + blen), plain_len, off;
    uint8_t *plain = NULL, *sealed = NULL, *b;
    crypto_sign_state st;
    enum mrf_status rc = MRF_OK;

    buf_reset(out);
    if (total == 0 || total > out->cap)
        return mrf_error_set(err, MRF_E_TOOBIG, "a pouch holds at most %u bytes", POUCH_MAX);
    if (p->kind != POUCH_REQUEST && p->kind != POUCH_REPLY)
        return mrf_error_set(err, MRF_E_INTERNAL, "unknown pouch kind");
    header_write(p, h);
    plain_len = total - POUCH_HEADER - crypto_box_SEALBYTES;
    plain = xcalloc(1, plain_len);
    put_u32(plain, (uint32_t)blen);
    b = plain + 4;
    memcpy(b, p->id, MRF_ID);
    memcpy(b + 16, p->reply_to, MRF_ID);
    memcpy(b + 32, p->device, MRF_ID);
    memcpy(b + 48, p->post, strnlen(p->post, 15));
    put_u64(b + 64, p->created_ms);
    crypto_sign_ed25519_sk_to_pk(b + 72, sign_sk);
    put_u32(b + 104, (uint32_t)p->n);
    off = BODY_FIXED;
    for (int i = 0; i < p->n; i++) {
        put_u32(b + off, (uint32_t)p->env_len[i]);
        memcpy(b + off + 4, p->env[i], p->env_len[i]);
        off += 4 + p->env_len[i];
    }
    sign_state(&st, h, b, blen);
    crypto_sign_final_create(&st, b + blen, NULL, sign_sk);
    sealed = xmalloc(plain_len + crypto_box_SEALBYTES);
    if (crypto_box_seal(sealed, plain, plain_len, peer_box_pk) != 0) {
        rc = mrf_error_set(err, MRF_E_INTERNAL, "cannot seal the pouch");
        goto out;
    }
    rc = buf_append(out, h, sizeof h);
    if (rc == MRF_OK)
        rc = buf_append(out, sealed, plain_len + crypto_box_SEALBYTES);
    if (rc != MRF_OK)
        rc = mrf_error_set(err, rc, "a pouch holds at most %u bytes", POUCH_MAX);
out:
    x_free(sealed);
    x_free(plain);
    return rc;
}

/* Checks the body's fixed part and envelope list and fills p with views into it. */
static enum mrf_status parse_body(const uint8_t *b, size_t blen, struct pouch *p,
                                  struct mrf_error *err)
{
    uint32_t count = get_u32(b + 104);
    size_t off = BODY_FIXED;

    if (b[63] != '\0' || count > POUCH_ENVELOPES_MAX)
        return mrf_error_set(err, MRF_E_INVALID,
                             "pouch: its list of envelopes is malformed; nothing was applied");
    memcpy(p->id, b, MRF_ID);
    memcpy(p->reply_to, b + 16, MRF_ID);
    memcpy(p->device, b + 32, MRF_ID);
    memcpy(p->post, b + 48, 16);
    p->created_ms = get_u64(b + 64);
    for (uint32_t i = 0; i < count; i++) {
        size_t len;
        if (blen - off < 4)
            break;
        len = get_u32(b + off);
        off += 4;
        if (len == 0 || len > ENV_MAX || len > blen - off)
            break;
        p->env[p->n] = b + off;
        p->env_len[p->n] = len;
        p->n++;
        off += len;
    }
    if ((uint32_t)p->n != count || off != blen)
        return mrf_error_set(err, MRF_E_INVALID,
                             "pouch: its list of envelopes does not add up to its length; "
                             "nothing was applied");
    return MRF_OK;
}

enum mrf_status pouch_read(const uint8_t *data, size_t n, int kind,
                           const uint8_t my_box_pk[MRF_BOX_PK], const uint8_t my_box_sk[MRF_BOX_SK],
                           struct pouch *p, struct mrf_error *err)
{
    crypto_sign_state st;
    size_t blen, end;
    const uint8_t *b;
    enum mrf_status rc;

    memset(p, 0, sizeof *p);
    if (n < POUCH_HEADER || memcmp(data, POUCH_MAGIC, 4) != 0)
        return mrf_error_set(err, MRF_E_INVALID,
                             "pouch: this file is not a pouch (it does not start with %s); "
                             "nothing was applied",
                             POUCH_MAGIC);
    if (data[4] != POUCH_VERSION)
        return mrf_error_set(err, MRF_E_INVALID,
                             "pouch: a pouch of version %u; this program reads version %d: "
                             "upgrade it; nothing was applied",
                             data[4], POUCH_VERSION);
    if (data[5] != kind || data[6] != 0 || data[7] != 0)
        return mrf_error_set(err, MRF_E_INVALID, "%s; nothing was applied",
                             data[5] == POUCH_REPLY     ? "pouch: this is a reply pouch from HQ, "
                                                          "not a device's pouch ('mrf pouch in' "
                                                          "takes it)"
                             : data[5] == POUCH_REQUEST ? "pouch: this is a device's pouch, not "
                                                          "a reply from HQ ('mrf-hq pouch in' "
                                                          "takes it)"
                                                        : "pouch: a pouch of an unknown kind");
    if (!is_bucket(n))
        return mrf_error_set(err, MRF_E_INVALID,
                             "pouch: its size (%zu bytes) is none of the pouch sizes (64 KiB "
                             "times 1, 4, 16, 64, 256 or 1024): it was cut short or added to; "
                             "copy it again from the original; nothing was applied",
                             n);
    p->plain_len = n - POUCH_HEADER - crypto_box_SEALBYTES;
    p->plain = xmalloc(p->plain_len);
    if (crypto_box_seal_open(p->plain, data + POUCH_HEADER, n - POUCH_HEADER, my_box_pk,
                             my_box_sk) != 0) {
        rc = mrf_error_set(err, MRF_E_AUTH,
                           "pouch: it does not open with this key: it is meant for another "
                           "receiver (another device, or another HQ), or it was changed on the "
                           "way; nothing was applied: take the pouch made for this receiver");
        goto fail;
    }
    blen = get_u32(p->plain);
    if (blen < BODY_FIXED || blen > p->plain_len - 4 - MRF_SIG) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "pouch: its length fields do not add up; nothing was applied");
        goto fail;
    }
    b = p->plain + 4;
    end = 4 + blen + MRF_SIG;
    for (size_t i = end; i < p->plain_len; i++)
        if (p->plain[i] != 0) {
            rc = mrf_error_set(err, MRF_E_INVALID,
                               "pouch: its padding is not zeros; nothing was applied");
            goto fail;
        }
    memcpy(p->signer_pk, b + 72, MRF_SIGN_PK);
    sign_state(&st, data, b, blen);
    if (crypto_sign_final_verify(&st, b + blen, p->signer_pk) != 0) {
        rc = mrf_error_set(err, MRF_E_AUTH,
                           "pouch: its signature does not verify: it was changed after it was "
                           "signed; nothing was applied");
        goto fail;
    }
    p->kind = kind;
    rc = parse_body(b, blen, p, err);
    if (rc == MRF_OK)
        return MRF_OK;
fail:
    pouch_release(p);
    return rc;
}

void pouch_release(struct pouch *p)
{
    x_free(p->plain);
    memset(p, 0, sizeof *p);
}

/* postkey — the cryptography of a post's key ring: wrapping a post secret key to one device
 * (crypto_box_seal to its box key) and unwrapping it, the two signed statements devices make
 * about post keys, and the device fingerprint operators compare before an approval.
 *
 * Signed layouts (integers big-endian, the post code NUL-padded to 16 bytes):
 *   announcement: "mrf-postkey-ann-v1" | post[16] | u32 epoch | pk[32] | creator[16]
 *   grant:        "mrf-postkey-grant-v1" | post[16] | u32 epoch | pk[32] | target[16]
 *                 | target_box_pk[32] | approver[16] | wrapped[80] | proof[32]
 *   chain proof:  BLAKE2b-256, keyed with epoch - 1's secret key, of
 *                 "mrf-postkey-chain-v1" | post[16] | u32 epoch | pk[32]
 * The domain strings keep one kind of statement from being read as another, and a grant names
 * the key it wraps, the device and the box key it is for, so a grant copied to another device,
 * another post or another epoch does not verify. Unwrapped secrets live in sodium_malloc
 * memory and are checked against the public key they must belong to. */
#include <assert.h>
#include <string.h>
#include <sodium.h>

#include "mrfcrypto.h"

#define ANN_DOMAIN "mrf-postkey-ann-v1"
#define GRANT_DOMAIN "mrf-postkey-grant-v1"
_Static_assert(MRF_WRAP == crypto_box_SEALBYTES + MRF_BOX_SK, "MRF_WRAP is a sealed box of a key");
#define ANN_LEN (sizeof ANN_DOMAIN - 1 + 16 + 4 + MRF_BOX_PK + MRF_ID)
#define CHAIN_DOMAIN "mrf-postkey-chain-v1"
#define GRANT_LEN                                                                                  \
    (sizeof GRANT_DOMAIN - 1 + 16 + 4 + MRF_BOX_PK + MRF_ID + MRF_BOX_PK + MRF_ID + MRF_WRAP +     \
     MRF_PROOF)
#define CHAIN_LEN (sizeof CHAIN_DOMAIN - 1 + 16 + 4 + MRF_BOX_PK)

static uint8_t *put(uint8_t *p, const void *v, size_t n)
{
    memcpy(p, v, n);
    return p + n;
}

static uint8_t *put_head(uint8_t *p, const char *domain, const char *post, uint32_t epoch)
{
    char padded[16] = {0};
    uint8_t e[4] = {(uint8_t)(epoch >> 24), (uint8_t)(epoch >> 16), (uint8_t)(epoch >> 8),
                    (uint8_t)epoch};

    memcpy(padded, post, strnlen(post, sizeof padded));
    p = put(p, domain, strlen(domain));
    p = put(p, padded, sizeof padded);
    return put(p, e, sizeof e);
}

static void ann_message(uint8_t m[ANN_LEN], const struct postkey_ann *a)
{
    uint8_t *p = put_head(m, ANN_DOMAIN, a->post, a->epoch);

    p = put(p, a->pk, MRF_BOX_PK);
    p = put(p, a->creator, MRF_ID);
    assert((size_t)(p - m) == ANN_LEN);
}

static void grant_message(uint8_t m[GRANT_LEN], const struct postkey_grant *g)
{
    uint8_t *p = put_head(m, GRANT_DOMAIN, g->post, g->epoch);

    p = put(p, g->pk, MRF_BOX_PK);
    p = put(p, g->target, MRF_ID);
    p = put(p, g->target_box_pk, MRF_BOX_PK);
    p = put(p, g->approver, MRF_ID);
    p = put(p, g->wrapped, MRF_WRAP);
    p = put(p, g->proof, MRF_PROOF);
    assert((size_t)(p - m) == GRANT_LEN);
}

void postkey_chain_proof(uint8_t out[MRF_PROOF], const char *post, uint32_t epoch,
                         const uint8_t pk[MRF_BOX_PK], const uint8_t *prev_sk)
{
    uint8_t m[CHAIN_LEN];
    uint8_t *p = put_head(m, CHAIN_DOMAIN, post, epoch);

    p = put(p, pk, MRF_BOX_PK);
    assert((size_t)(p - m) == CHAIN_LEN);
    mrf_hash(out, MRF_PROOF, m, sizeof m, prev_sk, MRF_BOX_SK);
}

enum mrf_status postkey_chain_verify(const uint8_t proof[MRF_PROOF], const char *post,
                                     uint32_t epoch, const uint8_t pk[MRF_BOX_PK],
                                     const uint8_t *prev_sk)
{
    uint8_t want[MRF_PROOF];
    int ok;

    postkey_chain_proof(want, post, epoch, pk, prev_sk);
    ok = sodium_memcmp(want, proof, MRF_PROOF) == 0;
    sodium_memzero(want, sizeof want);
    return ok ? MRF_OK : MRF_E_AUTH;
}

enum mrf_status postkey_wrap(uint8_t wrapped[MRF_WRAP], const uint8_t *sk,
                             const uint8_t to_box_pk[MRF_BOX_PK])
{
    assert(wrapped != NULL && sk != NULL && to_box_pk != NULL);
    if (crypto_box_seal(wrapped, sk, MRF_BOX_SK, to_box_pk) != 0) {
        memset(wrapped, 0, MRF_WRAP);
        return MRF_E_INVALID;
    }
    return MRF_OK;
}

enum mrf_status postkey_unwrap(uint8_t **sk_out, const uint8_t wrapped[MRF_WRAP],
                               const uint8_t my_pk[MRF_BOX_PK], const uint8_t my_sk[MRF_BOX_SK],
                               const uint8_t expect_pk[MRF_BOX_PK])
{
    uint8_t derived[MRF_BOX_PK];
    uint8_t *sk;
    enum mrf_status rc = MRF_OK;

    assert(sk_out != NULL && wrapped != NULL && my_pk != NULL && my_sk != NULL);
    assert(expect_pk != NULL);
    *sk_out = NULL;
    sk = xsecure_malloc(MRF_BOX_SK);
    if (crypto_box_seal_open(sk, wrapped, MRF_WRAP, my_pk, my_sk) != 0 ||
        crypto_scalarmult_base(derived, sk) != 0 ||
        sodium_memcmp(derived, expect_pk, MRF_BOX_PK) != 0)
        rc = MRF_E_AUTH;
    sodium_memzero(derived, sizeof derived);
    if (rc != MRF_OK) {
        sodium_free(sk); /* wipes */
        return rc;
    }
    *sk_out = sk;
    return MRF_OK;
}

void postkey_ann_sign(struct postkey_ann *a, const uint8_t sign_sk[MRF_SIGN_SK])
{
    uint8_t m[ANN_LEN];

    ann_message(m, a);
    mrf_sign(a->sig, m, sizeof m, sign_sk);
}

enum mrf_status postkey_ann_verify(const struct postkey_ann *a, const uint8_t sign_pk[MRF_SIGN_PK])
{
    uint8_t m[ANN_LEN];

    ann_message(m, a);
    return mrf_verify(a->sig, m, sizeof m, sign_pk);
}

void postkey_grant_sign(struct postkey_grant *g, const uint8_t sign_sk[MRF_SIGN_SK])
{
    uint8_t m[GRANT_LEN];

    grant_message(m, g);
    mrf_sign(g->sig, m, sizeof m, sign_sk);
}

enum mrf_status postkey_grant_verify(const struct postkey_grant *g,
                                     const uint8_t sign_pk[MRF_SIGN_PK])
{
    uint8_t m[GRANT_LEN];

    grant_message(m, g);
    return mrf_verify(g->sig, m, sizeof m, sign_pk);
}

void mrf_device_fingerprint(const struct mrf_pubkeys *k, char out[48])
{
    uint8_t both[MRF_SIGN_PK + MRF_BOX_PK];

    memcpy(both, k->sign_pk, MRF_SIGN_PK);
    memcpy(both + MRF_SIGN_PK, k->box_pk, MRF_BOX_PK);
    mrf_fingerprint(both, sizeof both, out);
}

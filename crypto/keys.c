/* keys — key pairs and signatures: the secrets of a device or of HQ (an Ed25519 signing pair,
 * an X25519 box pair and the enrollment secret, together in one struct mrf_secrets), a lone box
 * pair for the escrow key, and detached Ed25519 signatures. Secret keys are only ever written
 * into sodium_malloc memory; mrf_secrets_free wipes before it releases. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>

#include "mrfcrypto.h"

/* *out = fresh signing and box key pairs with a zero enrollment secret, in sodium_malloc
 * memory, owned by the caller (mrf_secrets_free). */
void mrf_secrets_new(struct mrf_secrets **out)
{
    struct mrf_secrets *s;

    assert(out != NULL);
    s = xsecure_malloc(sizeof *s);
    sodium_memzero(s, sizeof *s);
    crypto_sign_keypair(s->pub.sign_pk, s->sign_sk);
    crypto_box_keypair(s->pub.box_pk, s->box_sk);
    *out = s;
}

/* Wipes and releases s. NULL is a no-op. */
void mrf_secrets_free(struct mrf_secrets *s)
{
    if (s == NULL)
        return;
    sodium_memzero(s, sizeof *s);
    sodium_free(s);
}

/* A fresh X25519 pair: pk into pk, the secret key into sk (MRF_BOX_SK bytes the caller
 * allocated with sodium_malloc). */
void mrf_box_keypair(uint8_t pk[MRF_BOX_PK], uint8_t *sk)
{
    assert(pk != NULL && sk != NULL);
    crypto_box_keypair(pk, sk);
}

/* sig = the detached Ed25519 signature of msg[0..len) under sk. Never fails. */
void mrf_sign(uint8_t sig[MRF_SIG], const uint8_t *msg, size_t len, const uint8_t sk[MRF_SIGN_SK])
{
    assert(sig != NULL && sk != NULL && (msg != NULL || len == 0));
    crypto_sign_detached(sig, NULL, msg, len, sk);
}

/* MRF_OK if sig is pk's signature of msg[0..len), MRF_E_AUTH otherwise (also for a malformed
 * public key or a non-canonical signature). */
enum mrf_status mrf_verify(const uint8_t sig[MRF_SIG], const uint8_t *msg, size_t len,
                           const uint8_t pk[MRF_SIGN_PK])
{
    assert(sig != NULL && pk != NULL && (msg != NULL || len == 0));
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? MRF_OK : MRF_E_AUTH;
}

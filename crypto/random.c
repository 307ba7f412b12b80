/* random — the small primitives every other part of crypto/ and its callers lean on: library
 * set-up, random bytes, BLAKE2b hashing and the human fingerprint of a public key. Nothing here
 * holds state; once mrfcrypto_init() has run, every function is reentrant. */
#include <assert.h>
#include <sodium.h>

#include "mrfcrypto.h"

#define FP_BYTES 16 /* bytes of the hash shown: 8 groups of 2 bytes */

/* MRF_OK once libsodium is ready (also when it already was); MRF_E_INTERNAL if it cannot be
 * initialised, in which case nothing in this module may be used. */
enum mrf_status mrfcrypto_init(void)
{
    return sodium_init() < 0 ? MRF_E_INTERNAL : MRF_OK;
}

/* Fills out[0..n) from the operating system's CSPRNG. Never fails. */
void mrf_random(uint8_t *out, size_t n)
{
    assert(out != NULL || n == 0);
    randombytes_buf(out, n);
}

/* BLAKE2b of msg into out[0..outlen). outlen must be 16..64 and keylen 16..64 when key is not
 * NULL; anything else is a bug and aborts. */
void mrf_hash(uint8_t *out, size_t outlen, const uint8_t *msg, size_t len, const uint8_t *key,
              size_t keylen)
{
    int rc;

    assert(out != NULL && (msg != NULL || len == 0));
    assert(outlen >= crypto_generichash_BYTES_MIN && outlen <= crypto_generichash_BYTES_MAX);
    if (key == NULL)
        keylen = 0;
    assert(keylen == 0 || (keylen >= crypto_generichash_KEYBYTES_MIN &&
                           keylen <= crypto_generichash_KEYBYTES_MAX));
    rc = crypto_generichash(out, outlen, msg, len, key, keylen);
    assert(rc == 0);
    (void)rc;
}

/* out = the first 16 bytes of BLAKE2b-256(pk) as 8 space-separated groups of 4 lower-case hex
 * digits: 39 characters and a NUL. A fingerprint is read aloud, so it is short and fixed-width. */
void mrf_fingerprint(const uint8_t *pk, size_t pklen, char out[48])
{
    static const char hexdig[] = "0123456789abcdef";
    uint8_t h[crypto_generichash_BYTES];
    size_t i, o = 0;

    assert(out != NULL && (pk != NULL || pklen == 0));
    mrf_hash(h, sizeof h, pk, pklen, NULL, 0);
    for (i = 0; i < FP_BYTES; i++) {
        if (i > 0 && i % 2 == 0)
            out[o++] = ' ';
        out[o++] = hexdig[h[i] >> 4];
        out[o++] = hexdig[h[i] & 0x0f];
    }
    out[o] = '\0';
}

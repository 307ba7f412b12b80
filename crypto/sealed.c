/* sealed — sealed fields: partner identities and free-text notes, encrypted on the device that
 * records them so that only the recipients' secret keys (the device's and HQ's offline escrow
 * key) can read them. Sealing needs public keys only, so recording never asks for a passphrase.
 *
 * Blob (version 1): u8 version | u8 nrecip | nrecip slots | nonce[24] | ciphertext+tag. Each
 * slot is crypto_box_seal of the 32-byte field key to one recipient. The plaintext is padded
 * (ISO/IEC 7816-4, sodium_pad) to a 32-byte block, so a blob tells a name's length only to the
 * block, and encrypted with XChaCha20-Poly1305-IETF. Its additional data is every blob byte
 * before the nonce followed by the caller's aad string: the aad binds the blob to its row and
 * column, and the header and slots are bound too, so that no byte of the blob (another
 * recipient's slot included) can change without the open failing. Every length is checked
 * before anything is allocated or decrypted (frame_parse, also offered to HQ and to sync as
 * sealed_frame_check, which judge fields they cannot open). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "mrfcrypto.h"

#define SEALED_VERSION 1
#define SEALED_HEAD 2 /* version, nrecip */
#define FIELD_KEY crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define SLOT (crypto_box_SEALBYTES + FIELD_KEY)
#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define BLOCK 32
/* The longest padded plaintext: padding always adds at least one byte. */
#define MAX_PADDED ((SEALED_MAX_PLAIN / BLOCK + 1) * BLOCK)

/* The AEAD additional data: blob[0..head) || aad. *adlen = its length; caller x_frees. */
static uint8_t *additional_data(const uint8_t *blob, size_t head, const char *aad, size_t *adlen)
{
    size_t aadlen = strlen(aad);
    uint8_t *ad = xmalloc(head + aadlen);

    memcpy(ad, blob, head);
    memcpy(ad + head, aad, aadlen);
    *adlen = head + aadlen;
    return ad;
}

/* Seals plain[0..len) to nrecip (1..SEALED_MAX_RECIP) recipients, bound to aad. On success
 * *blob (caller x_frees) and *bloblen are set; on failure they are NULL and 0. MRF_E_TOOBIG if
 * len > SEALED_MAX_PLAIN; MRF_E_INVALID if a recipient key is unusable (a low-order point). */
enum mrf_status sealed_seal(uint8_t **blob, size_t *bloblen, const char *plain, size_t len,
                            const char *aad, const uint8_t (*recip_pk)[MRF_BOX_PK], int nrecip)
{
    uint8_t key[FIELD_KEY];
    unsigned char *padded = NULL;
    uint8_t *out = NULL, *ad = NULL;
    size_t padded_len = 0, head, total, adlen = 0;
    unsigned long long clen = 0;
    enum mrf_status rc = MRF_OK;
    int i;

    assert(blob != NULL && bloblen != NULL && aad != NULL && recip_pk != NULL);
    assert(plain != NULL || len == 0);
    assert(nrecip >= 1 && nrecip <= SEALED_MAX_RECIP);
    *blob = NULL;
    *bloblen = 0;
    if (len > SEALED_MAX_PLAIN)
        return MRF_E_TOOBIG;

    padded = xsecure_malloc(len + BLOCK);
    if (len > 0)
        memcpy(padded, plain, len);
    if (sodium_pad(&padded_len, padded, len, BLOCK, len + BLOCK) != 0)
        abort(); /* cannot happen: the buffer holds a full extra block */

    head = SEALED_HEAD + (size_t)nrecip * SLOT;
    total = head + NONCE + padded_len + TAG;
    out = xmalloc(total);
    out[0] = SEALED_VERSION;
    out[1] = (uint8_t)nrecip;
    crypto_aead_xchacha20poly1305_ietf_keygen(key);
    for (i = 0; i < nrecip; i++) {
        if (crypto_box_seal(out + SEALED_HEAD + (size_t)i * SLOT, key, FIELD_KEY, recip_pk[i]) !=
            0) {
            rc = MRF_E_INVALID;
            goto out;
        }
    }
    randombytes_buf(out + head, NONCE);
    ad = additional_data(out, head, aad, &adlen);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + head + NONCE, &clen, padded, padded_len, ad,
                                               adlen, NULL, out + head, key);
    assert(clen == padded_len + TAG);
    *blob = out;
    *bloblen = total;
    out = NULL;
out:
    sodium_memzero(key, sizeof key);
    x_free(ad);
    x_free(out);
    sodium_free(padded); /* sodium_free wipes before it releases */
    return rc;
}

/* The frame of a sealed field, everything that can be judged without a key: version, recipient
 * count, slots, nonce and a ciphertext of whole padded blocks within the field cap plus its
 * tag, nothing after. OUT: *nrecip and *head (bytes before the nonce) when it is whole. */
static enum mrf_status frame_parse(const uint8_t *blob, size_t bloblen, size_t *nrecip,
                                   size_t *head)
{
    size_t n, h, mlen;

    if (bloblen < SEALED_HEAD || blob[0] != SEALED_VERSION)
        return MRF_E_INVALID;
    n = blob[1];
    if (n < 1 || n > SEALED_MAX_RECIP)
        return MRF_E_INVALID;
    h = SEALED_HEAD + n * SLOT;
    if (bloblen < h + NONCE + TAG)
        return MRF_E_INVALID;
    mlen = bloblen - h - NONCE - TAG;
    if (mlen < BLOCK || mlen > MAX_PADDED || mlen % BLOCK != 0)
        return MRF_E_INVALID;
    *nrecip = n;
    *head = h;
    return MRF_OK;
}

enum mrf_status sealed_frame_check(const uint8_t *blob, size_t bloblen)
{
    size_t nrecip, head;

    assert(blob != NULL || bloblen == 0);
    return frame_parse(blob, bloblen, &nrecip, &head);
}

enum mrf_status sealed_for_key(const uint8_t *blob, size_t bloblen, const uint8_t pk[MRF_BOX_PK],
                               const uint8_t sk[MRF_BOX_SK])
{
    uint8_t key[FIELD_KEY];
    size_t nrecip, head, i;
    int found = 0;

    assert((blob != NULL || bloblen == 0) && pk != NULL && sk != NULL);
    if (frame_parse(blob, bloblen, &nrecip, &head) != MRF_OK)
        return MRF_E_INVALID;
    for (i = 0; i < nrecip && !found; i++)
        found = crypto_box_seal_open(key, blob + SEALED_HEAD + i * SLOT, SLOT, pk, sk) == 0;
    sodium_memzero(key, sizeof key);
    return found ? MRF_OK : MRF_E_AUTH;
}

/* Opens blob with the recipient pair (pk, sk). On success *plain is NUL-terminated, in
 * sodium_malloc memory, owned by the caller (sealed_plain_free), and *len (if len is not NULL)
 * its length without the NUL. MRF_E_INVALID if malformed, MRF_E_AUTH if no slot is for this key
 * or the blob or aad do not match. On failure *plain is NULL and *len 0. */
enum mrf_status sealed_open(char **plain, size_t *len, const uint8_t *blob, size_t bloblen,
                            const char *aad, const uint8_t pk[MRF_BOX_PK],
                            const uint8_t sk[MRF_BOX_SK])
{
    uint8_t key[FIELD_KEY];
    unsigned char *buf = NULL;
    uint8_t *ad = NULL;
    size_t nrecip, head, clen, mlen, adlen = 0, unpadded = 0, i;
    enum mrf_status rc = MRF_OK;
    int found = 0;

    assert(plain != NULL && (blob != NULL || bloblen == 0) && aad != NULL);
    assert(pk != NULL && sk != NULL);
    *plain = NULL;
    if (len != NULL)
        *len = 0;
    if (frame_parse(blob, bloblen, &nrecip, &head) != MRF_OK)
        return MRF_E_INVALID;
    clen = bloblen - head - NONCE;
    mlen = clen - TAG;

    for (i = 0; i < nrecip && !found; i++)
        found = crypto_box_seal_open(key, blob + SEALED_HEAD + i * SLOT, SLOT, pk, sk) == 0;
    if (!found) {
        rc = MRF_E_AUTH;
        goto out;
    }
    buf = xsecure_malloc(mlen + 1);
    ad = additional_data(blob, head, aad, &adlen);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf, NULL, NULL, blob + head + NONCE, clen, ad,
                                                   adlen, blob + head, key) != 0) {
        rc = MRF_E_AUTH;
        goto out;
    }
    if (sodium_unpad(&unpadded, buf, mlen, BLOCK) != 0) {
        rc = MRF_E_INVALID;
        goto out;
    }
    buf[unpadded] = '\0';
    *plain = (char *)buf;
    if (len != NULL)
        *len = unpadded;
    buf = NULL;
out:
    sodium_memzero(key, sizeof key);
    x_free(ad);
    sodium_free(buf); /* sodium_free wipes before it releases */
    return rc;
}

/* Wipes and releases a plaintext from sealed_open. NULL is a no-op. */
void sealed_plain_free(char *plain)
{
    sodium_free(plain); /* sodium_free wipes the whole region before it releases */
}

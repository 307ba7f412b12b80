/* crypto — every use of libsodium in mrf: key pairs, the passphrase keystore, sealed fields
 * (partner identities and notes), signatures and fingerprints.
 *
 * Secrets (secret keys, unwrapped field keys, plaintexts of sealed fields) live only in
 * sodium_malloc memory or fixed arrays and are wiped before every return. Structs holding
 * secrets are created by their _open/_new function and released with their _free, which wipes.
 * Bad data returns a status (MRF_E_AUTH for a failed tag or signature, MRF_E_INVALID for a
 * malformed blob); misuse (NULL where not allowed) aborts. Thread safety: all functions are
 * reentrant once mrfcrypto_init() has run in main(). */
#ifndef MRF_CRYPTO_H
#define MRF_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define MRF_SIGN_PK 32
#define MRF_SIGN_SK 64
#define MRF_SIG 64
#define MRF_BOX_PK 32
#define MRF_BOX_SK 32
#define MRF_SECRET 32 /* an enrollment secret */
#define MRF_ID 16     /* a random row, device or change-set id */

/* sodium_init(); MRF_E_INTERNAL if it fails. */
enum mrf_status mrfcrypto_init(void);

/* n random bytes. */
void mrf_random(uint8_t *out, size_t n);

/* ---- key pairs --------------------------------------------------------------------------- */

struct mrf_pubkeys {
    uint8_t sign_pk[MRF_SIGN_PK]; /* Ed25519 */
    uint8_t box_pk[MRF_BOX_PK];   /* X25519 */
};

/* The secrets of a device or of HQ. Always heap, in sodium_malloc memory. */
struct mrf_secrets {
    uint8_t sign_sk[MRF_SIGN_SK];
    uint8_t box_sk[MRF_BOX_SK];
    uint8_t enroll_secret[MRF_SECRET]; /* devices: from the token; HQ: unused, zero */
    struct mrf_pubkeys pub;
};

/* Generates fresh signing and box key pairs. *out is owned by the caller (mrf_secrets_free). */
void mrf_secrets_new(struct mrf_secrets **out);
void mrf_secrets_free(struct mrf_secrets *s);

/* A box-only key pair (the escrow key). */
void mrf_box_keypair(uint8_t pk[MRF_BOX_PK], uint8_t *sk /* sodium_malloc'd, MRF_BOX_SK */);

/* A human fingerprint of a public key for comparing by phone: 8 groups of 4 hex digits of
 * BLAKE2b-256 over the key, e.g. "3f2a 91c0 ...". out must hold 48 bytes. */
void mrf_fingerprint(const uint8_t *pk, size_t pklen, char out[48]);

/* ---- signatures -------------------------------------------------------------------------- */

void mrf_sign(uint8_t sig[MRF_SIG], const uint8_t *msg, size_t len, const uint8_t sk[MRF_SIGN_SK]);
/* MRF_OK if sig verifies, MRF_E_AUTH otherwise. */
enum mrf_status mrf_verify(const uint8_t sig[MRF_SIG], const uint8_t *msg, size_t len,
                           const uint8_t pk[MRF_SIGN_PK]) __attribute__((warn_unused_result));

/* BLAKE2b of msg into out (outlen 16..64), keyed if key != NULL. */
void mrf_hash(uint8_t *out, size_t outlen, const uint8_t *msg, size_t len, const uint8_t *key,
              size_t keylen);

/* ---- keystore ---------------------------------------------------------------------------- */

/* A keystore file holds one struct mrf_secrets encrypted (XChaCha20-Poly1305) under a key
 * derived from a passphrase with Argon2id. The file is versioned and records the algorithm,
 * its parameters and salt; it is written atomically with mode 0600.
 *
 * Field protection (version 2, docs/DECISIONS.md "Duress, failed unlocks and remote wipe"):
 * the file always holds a second slot, random unless a duress passphrase is set, and a count
 * of wrong passphrases in a row with an optional limit. Every function below that takes a
 * passphrase treats it the same way: the try is counted durably before the key is derived,
 * then one derivation is checked against both slots. The right passphrase resets the count.
 * The duress passphrase destroys the keystore (keystore_destroy) and leaves in its place a
 * decoy of the same size and form that nothing opens, and answers exactly as a wrong one:
 * MRF_E_PASSPHRASE, the same message, the same file work. When the count reaches the limit,
 * the keystore is destroyed and the message says so (still MRF_E_PASSPHRASE). A process
 * holds an flock on the keystore's directory while it tries, so parallel tries all count. */

/* Creates path (refuses to overwrite: MRF_E_STATE if it exists). */
enum mrf_status keystore_create(const char *path, const char *passphrase,
                                const struct mrf_secrets *s, struct mrf_error *err);
/* Opens path; *out owned by the caller (mrf_secrets_free). MRF_E_PASSPHRASE if the passphrase
 * is wrong (or is the duress passphrase, or was the last try allowed), MRF_E_INVALID if the
 * file is not a keystore, MRF_E_NOTFOUND if it does not exist, MRF_E_IO if it cannot be read
 * or, with a limit set, the try cannot be counted. */
enum mrf_status keystore_open(const char *path, const char *passphrase, struct mrf_secrets **out,
                              struct mrf_error *err);
/* Re-encrypts path under a new passphrase, atomically; the duress passphrase and the limit
 * stay. MRF_E_PASSPHRASE if old is wrong; MRF_E_RULE if new is the duress passphrase. */
enum mrf_status keystore_rekey(const char *path, const char *old_pass, const char *new_pass,
                               struct mrf_error *err);
/* Replaces the secrets in path with s, under the same passphrase, atomically: a crash leaves
 * the old or the new file. MRF_E_PASSPHRASE if passphrase does not open path. */
enum mrf_status keystore_update(const char *path, const char *passphrase,
                                const struct mrf_secrets *s, struct mrf_error *err);
/* Sets the duress passphrase of path (passphrase must open it), or with duress NULL makes
 * slot B random again (no duress passphrase). MRF_E_RULE if duress equals the passphrase. */
enum mrf_status keystore_set_duress(const char *path, const char *passphrase, const char *duress,
                                    struct mrf_error *err);
#define KEYSTORE_MAX_FAILURES 1000
/* Sets the limit of wrong passphrases in a row (0: none, the default; at most
 * KEYSTORE_MAX_FAILURES, else MRF_E_INVALID) and resets the count. */
enum mrf_status keystore_set_max_failures(const char *path, const char *passphrase, uint32_t n,
                                          struct mrf_error *err);
/* What can be read of path without the passphrase: the limit and the count (0 and 0 for a
 * version-1 file). Nothing in it tells whether a duress passphrase is set. */
struct keystore_policy {
    uint32_t max_failures;
    uint32_t failures;
};
enum mrf_status keystore_policy(const char *path, struct keystore_policy *p, struct mrf_error *err);
/* Overwrites path with random bytes, fsyncs, unlinks. MRF_OK if it did not exist. */
enum mrf_status keystore_destroy(const char *path, struct mrf_error *err);

/* The same for a single box secret key (the escrow key): a "box keystore". */
enum mrf_status boxkey_store(const char *path, const char *passphrase, const uint8_t pk[MRF_BOX_PK],
                             const uint8_t *sk, struct mrf_error *err);
/* *sk_out is sodium_malloc'd (MRF_BOX_SK bytes; free with sodium_free). */
enum mrf_status boxkey_load(const char *path, const char *passphrase, uint8_t pk_out[MRF_BOX_PK],
                            uint8_t **sk_out, struct mrf_error *err);

/* The same for an Ed25519 signing key (HQ's officer key, which signs wipe orders): an "officer
 * key" file holding pk || sk. MRF_E_STATE if path exists. */
enum mrf_status signkey_store(const char *path, const char *passphrase,
                              const uint8_t pk[MRF_SIGN_PK], const uint8_t *sk,
                              struct mrf_error *err);
/* *sk_out is sodium_malloc'd (MRF_SIGN_SK bytes; free with sodium_free). MRF_E_INVALID if the
 * file's public key does not belong to its secret key. */
enum mrf_status signkey_load(const char *path, const char *passphrase, uint8_t pk_out[MRF_SIGN_PK],
                             uint8_t **sk_out, struct mrf_error *err);

/* ---- sealed fields ----------------------------------------------------------------------- */

/* A sealed field: the plaintext padded to a 32-byte block, encrypted with a fresh random key
 * (XChaCha20-Poly1305, with aad bound in), that key wrapped by a sealed box to each recipient.
 * Blob layout (version 1):
 *   u8 version=1 | u8 nrecip | nrecip * (crypto_box_SEALBYTES + 32) | 24 nonce | ciphertext+tag
 * The aad binds the blob to where it lives ("partners/<row id hex>/name") so a blob moved to
 * another row or column does not open. The AEAD additional data is every blob byte before the
 * nonce followed by aad, so no byte of the blob (another recipient's slot included) can change
 * unnoticed. At most 8 recipients. */

#define SEALED_MAX_RECIP 8
#define SEALED_MAX_PLAIN 8192

/* *blob is owned by the caller (x_free). MRF_E_TOOBIG if len > SEALED_MAX_PLAIN. */
enum mrf_status sealed_seal(uint8_t **blob, size_t *bloblen, const char *plain, size_t len,
                            const char *aad, const uint8_t (*recip_pk)[MRF_BOX_PK], int nrecip);
/* Opens with one recipient's key pair. *plain is NUL-terminated, in sodium_malloc memory, owned
 * by the caller (sealed_plain_free). MRF_E_AUTH if the blob was tampered with or is not for this
 * key; MRF_E_INVALID if malformed. *plain is NULL on failure. */
enum mrf_status sealed_open(char **plain, size_t *len, const uint8_t *blob, size_t bloblen,
                            const char *aad, const uint8_t pk[MRF_BOX_PK],
                            const uint8_t sk[MRF_BOX_SK]);
void sealed_plain_free(char *plain);
/* Checks what can be checked of a blob without a key: version 1, 1..SEALED_MAX_RECIP
 * recipients, whole slots, a nonce, a ciphertext of whole 32-byte blocks (at least one, at most
 * the padded SEALED_MAX_PLAIN) plus its tag, and nothing after. MRF_OK if the frame is whole,
 * MRF_E_INVALID if not. A whole frame may still not open (a changed byte inside, a whole block
 * added or cut): only a recipient can tell, and sealed_open then says MRF_E_AUTH. */
enum mrf_status sealed_frame_check(const uint8_t *blob, size_t bloblen)
    __attribute__((warn_unused_result));
/* Whether one of the blob's slots is for the pair (pk, sk): MRF_OK if one opens, MRF_E_AUTH if
 * none does, MRF_E_INVALID if the frame is not whole. It tells a field sealed to someone else
 * (MRF_E_AUTH here) from one sealed to this key that sealed_open refuses (damaged). */
enum mrf_status sealed_for_key(const uint8_t *blob, size_t bloblen, const uint8_t pk[MRF_BOX_PK],
                               const uint8_t sk[MRF_BOX_SK]) __attribute__((warn_unused_result));

#endif

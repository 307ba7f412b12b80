/* HQ's key file, <home>/hq.keys: the signing key (tokens, acknowledgements) and box key
 * (opening change sets) of the HQ server. Unlike a device keystore it is not passphrase-sealed,
 * because the server must start and run unattended; it is protected by mode 0600, the 0700
 * home and the machine's disk encryption. The escrow key, which opens identities, is never in
 * this file. Versioned and checksummed so a damaged or foreign file is refused, not misread. */
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "hq.h"

static const uint8_t magic[5] = {'M', 'R', 'F', 'H', 'K'};
#define HQKEYS_VERSION 1
#define HQKEYS_ALG_ED25519_X25519 1
#define HQKEYS_HDR 8
#define HQKEYS_BODY (HQKEYS_HDR + MRF_SIGN_SK + MRF_BOX_SK + MRF_SIGN_PK + MRF_BOX_PK)
#define HQKEYS_SUM 32
#define HQKEYS_LEN (HQKEYS_BODY + HQKEYS_SUM)

enum mrf_status hqkeys_write(const char *path, const struct mrf_secrets *s, struct mrf_error *err)
{
    enum mrf_status rc;
    uint8_t *f = NULL, *p;
    struct stat sb;

    if (stat(path, &sb) == 0)
        return mrf_error_set(err, MRF_E_STATE, "%s exists already; refusing to overwrite HQ's keys",
                             path);
    f = sodium_malloc(HQKEYS_LEN);
    if (f == NULL)
        return mrf_error_set(err, MRF_E_INTERNAL, "out of secure memory");
    p = f;
    memcpy(p, magic, sizeof magic);
    p[5] = HQKEYS_VERSION;
    p[6] = HQKEYS_ALG_ED25519_X25519;
    p[7] = 0;
    p += HQKEYS_HDR;
    memcpy(p, s->sign_sk, MRF_SIGN_SK);
    p += MRF_SIGN_SK;
    memcpy(p, s->box_sk, MRF_BOX_SK);
    p += MRF_BOX_SK;
    memcpy(p, s->pub.sign_pk, MRF_SIGN_PK);
    p += MRF_SIGN_PK;
    memcpy(p, s->pub.box_pk, MRF_BOX_PK);
    p += MRF_BOX_PK;
    mrf_hash(p, HQKEYS_SUM, f, HQKEYS_BODY, NULL, 0);
    rc = file_write_atomic(path, f, HQKEYS_LEN, 0600, err);
    sodium_free(f); /* wipes */
    return rc;
}

enum mrf_status hqkeys_load(const char *path, struct mrf_secrets **out, struct mrf_error *err)
{
    enum mrf_status rc = MRF_OK;
    uint8_t *f = NULL;
    size_t len = 0;
    uint8_t sum[HQKEYS_SUM];
    uint8_t pk[MRF_SIGN_PK > MRF_BOX_PK ? MRF_SIGN_PK : MRF_BOX_PK];
    struct mrf_secrets *s = NULL;
    const uint8_t *p;

    *out = NULL;
    rc = file_read_all(path, 4096, &f, &len, err);
    if (rc != MRF_OK)
        goto out;
    if (len != HQKEYS_LEN || memcmp(f, magic, sizeof magic) != 0) {
        rc = mrf_error_set(err, MRF_E_INVALID, "%s is not an HQ key file", path);
        goto out;
    }
    if (f[5] != HQKEYS_VERSION || f[6] != HQKEYS_ALG_ED25519_X25519) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "%s is an HQ key file of version %u, algorithm %u; this mrf-hq reads "
                           "version %d; update mrf-hq",
                           path, f[5], f[6], HQKEYS_VERSION);
        goto out;
    }
    mrf_hash(sum, sizeof sum, f, HQKEYS_BODY, NULL, 0);
    if (sodium_memcmp(sum, f + HQKEYS_BODY, HQKEYS_SUM) != 0) {
        rc = mrf_error_set(err, MRF_E_INVALID, "%s is damaged (checksum); restore it from backup",
                           path);
        goto out;
    }
    mrf_secrets_new(&s);
    p = f + HQKEYS_HDR;
    memcpy(s->sign_sk, p, MRF_SIGN_SK);
    p += MRF_SIGN_SK;
    memcpy(s->box_sk, p, MRF_BOX_SK);
    p += MRF_BOX_SK;
    memcpy(s->pub.sign_pk, p, MRF_SIGN_PK);
    p += MRF_SIGN_PK;
    memcpy(s->pub.box_pk, p, MRF_BOX_PK);
    sodium_memzero(s->enroll_secret, sizeof s->enroll_secret);

    /* The public halves must belong to the secrets, or HQ would hand out keys it cannot use. */
    if (crypto_sign_ed25519_sk_to_pk(pk, s->sign_sk) != 0 ||
        sodium_memcmp(pk, s->pub.sign_pk, MRF_SIGN_PK) != 0 ||
        crypto_scalarmult_base(pk, s->box_sk) != 0 ||
        sodium_memcmp(pk, s->pub.box_pk, MRF_BOX_PK) != 0) {
        rc = mrf_error_set(err, MRF_E_INVALID, "%s holds keys that do not match; restore it", path);
        goto out;
    }
    *out = s;
    s = NULL;
out:
    mrf_secrets_free(s);
    if (f != NULL) {
        sodium_memzero(f, len);
        x_free(f);
    }
    sodium_memzero(sum, sizeof sum);
    return rc;
}

/* HQ's officer key: an Ed25519 key pair whose secret half signs wipe orders (sync/order.c)
 * and lives offline, sealed under its own passphrase like the escrow key (crypto's officer
 * key file). HQ's server keeps only the public half (the store's officer table), and every
 * enrollment token carries it, so a device obeys an order only if this key signed it:
 * whoever takes over the server cannot wipe the posts. Created by `mrf-hq init`, or by
 * `mrf-hq officer init` on an HQ set up before it existed (hq/cmd_officer.c). */
#include <string.h>

#include <sodium.h>

#include "hq.h"
#include "hqstore.h"

enum mrf_status hq_officer_create(const char *path, const char *passphrase, uint8_t pk[MRF_SIGN_PK],
                                  struct mrf_error *err)
{
    uint8_t *sk = xsecure_malloc(MRF_SIGN_SK);
    enum mrf_status rc;

    crypto_sign_ed25519_keypair(pk, sk);
    rc = signkey_store(path, passphrase, pk, sk, err);
    sodium_free(sk);
    if (rc != MRF_OK)
        memset(pk, 0, MRF_SIGN_PK);
    return rc;
}

enum mrf_status hq_officer_load(struct hqstore *st, const char *path, uint8_t **sk,
                                struct mrf_error *err)
{
    uint8_t want[MRF_SIGN_PK], got[MRF_SIGN_PK];
    char *pass = NULL;
    int has = 0;
    enum mrf_status rc;

    *sk = NULL;
    rc = hqstore_officer_get(st, want, &has);
    if (rc != MRF_OK)
        return mrf_error_set(err, rc, "%s", hqstore_errmsg(st));
    if (!has)
        return mrf_error_set(err, MRF_E_STATE,
                             "this HQ has no officer key, so no device can check a wipe order; "
                             "run 'mrf-hq officer init' first (devices enrolled after it can be "
                             "wiped)");
    rc = passphrase_read("Officer passphrase", "MRF_OFFICER_PASSPHRASE", 0, &pass, err);
    if (rc == MRF_OK)
        rc = signkey_load(path, pass, got, sk, err);
    passphrase_free(pass);
    if (rc == MRF_OK && sodium_memcmp(got, want, MRF_SIGN_PK) != 0) {
        sodium_free(*sk);
        *sk = NULL;
        rc = mrf_error_set(err, MRF_E_STATE,
                           "%s is not this HQ's officer key (devices would refuse its orders); "
                           "bring the officer-OFFLINE.key made for this HQ",
                           path);
    }
    return rc;
}

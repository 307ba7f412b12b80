/* HQ's self-signed TLS certificate, made in-process with GnuTLS at `mrf-hq init`. Devices do
 * not trust it through a CA: they pin its public key, which reaches them inside the signed
 * enrollment token, so the pin computed here must be exactly what libcurl's
 * CURLOPT_PINNEDPUBLICKEY compares: "sha256//" + base64 (standard, padded) of SHA-256 over the
 * DER SubjectPublicKeyInfo. The certificate still carries a proper server profile (SAN for the
 * URL's host, not a CA, digital signature, TLS server) so ordinary TLS stacks accept it once
 * pinned. The private key is written with mode 0600 and wiped from memory after use. */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>

#include "hq.h"

#define CERT_BACKDATE_S 3600                     /* tolerate clocks a little behind */
#define CERT_LIFETIME_S ((5 * 365 + 1) * 86400L) /* five years */

static enum mrf_status gt_fail(struct mrf_error *err, const char *what, int r)
{
    return mrf_error_set(err, MRF_E_INTERNAL, "TLS certificate: %s: %s", what, gnutls_strerror(r));
}

/* The pin of crt's public key. */
static enum mrf_status pin_of_crt(gnutls_x509_crt_t crt, char pin[TLSCERT_PIN_MAX],
                                  struct mrf_error *err)
{
    enum mrf_status rc = MRF_OK;
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t der = {NULL, 0};
    uint8_t h[crypto_hash_sha256_BYTES];
    int r;

    pin[0] = '\0';
    r = gnutls_pubkey_init(&pub);
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_pubkey_import_x509(pub, crt, 0);
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der);
    if (r != GNUTLS_E_SUCCESS) {
        rc = gt_fail(err, "reading the public key", r);
        goto out;
    }
    crypto_hash_sha256(h, der.data, der.size);
    memcpy(pin, "sha256//", 9);
    sodium_bin2base64(pin + 8, TLSCERT_PIN_MAX - 8, h, sizeof h, sodium_base64_VARIANT_ORIGINAL);
out:
    gnutls_free(der.data);
    if (pub != NULL)
        gnutls_pubkey_deinit(pub);
    return rc;
}

enum mrf_status tlscert_pin(const char *pem, size_t len, char pin[TLSCERT_PIN_MAX],
                            struct mrf_error *err)
{
    enum mrf_status rc = MRF_OK;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t d;
    int r;

    pin[0] = '\0';
    if (len > UINT32_MAX)
        return mrf_error_set(err, MRF_E_TOOBIG, "TLS certificate: too large");
    d.data = (unsigned char *)(uintptr_t)pem;
    d.size = (unsigned int)len;
    r = gnutls_x509_crt_init(&crt);
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM);
    if (r != GNUTLS_E_SUCCESS) {
        rc = mrf_error_set(err, MRF_E_INVALID, "TLS certificate: not a PEM certificate: %s",
                           gnutls_strerror(r));
        goto out;
    }
    rc = pin_of_crt(crt, pin, err);
out:
    if (crt != NULL)
        gnutls_x509_crt_deinit(crt);
    return rc;
}

/* Fills in everything but the signature. */
static int crt_build(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const struct hq_url *u)
{
    uint8_t serial[16];
    uint8_t kid[64];
    size_t kidlen = sizeof kid;
    time_t now = time(NULL);
    int r;

    /* A positive 128-bit serial with its top byte non-zero, so its DER form is 16 bytes. */
    mrf_random(serial, sizeof serial);
    serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40);

    r = gnutls_x509_crt_set_version(crt, 3);
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_x509_crt_set_serial(crt, serial, sizeof serial);
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_x509_crt_set_activation_time(crt, now - CERT_BACKDATE_S);
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_x509_crt_set_expiration_time(crt, now + CERT_LIFETIME_S);
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, u->host,
                                          (unsigned int)strlen(u->host));
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_x509_crt_set_key(crt, key);
    if (r == GNUTLS_E_SUCCESS) {
        if (u->kind == HQ_HOST_DNS)
            r = gnutls_x509_crt_set_subject_alt_name(
                crt, GNUTLS_SAN_DNSNAME, u->host, (unsigned int)strlen(u->host), GNUTLS_FSAN_SET);
        else
            r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, u->addr,
                                                     u->kind == HQ_HOST_IPV4 ? 4 : 16,
                                                     GNUTLS_FSAN_SET);
    }
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_x509_privkey_get_key_id(key, 0, kid, &kidlen);
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen);
    return r;
}

enum mrf_status tlscert_create(const struct hq_url *u, const char *cert_path, const char *key_path,
                               char pin[TLSCERT_PIN_MAX], struct mrf_error *err)
{
    enum mrf_status rc = MRF_OK;
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t kpem = {NULL, 0}, cpem = {NULL, 0};
    int key_written = 0;
    int r;

    pin[0] = '\0';
    r = gnutls_x509_privkey_init(&key);
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                         GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
    if (r != GNUTLS_E_SUCCESS) {
        rc = gt_fail(err, "generating the key", r);
        goto out;
    }
    r = gnutls_x509_crt_init(&crt);
    if (r == GNUTLS_E_SUCCESS)
        r = crt_build(crt, key, u);
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
    if (r != GNUTLS_E_SUCCESS) {
        rc = gt_fail(err, "building the certificate", r);
        goto out;
    }
    r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cpem);
    if (r == GNUTLS_E_SUCCESS)
        r = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
                                              &kpem);
    if (r != GNUTLS_E_SUCCESS) {
        rc = gt_fail(err, "exporting", r);
        goto out;
    }
    rc = pin_of_crt(crt, pin, err);
    if (rc != MRF_OK)
        goto out;

    rc = file_write_atomic(key_path, kpem.data, kpem.size, 0600, err);
    if (rc != MRF_OK)
        goto out;
    key_written = 1;
    rc = file_write_atomic(cert_path, cpem.data, cpem.size, 0644, err);

out:
    if (rc != MRF_OK) {
        pin[0] = '\0';
        if (key_written)
            unlink(key_path);
    }
    if (kpem.data != NULL) {
        sodium_memzero(kpem.data, kpem.size);
        gnutls_free(kpem.data);
    }
    gnutls_free(cpem.data);
    if (crt != NULL)
        gnutls_x509_crt_deinit(crt);
    if (key != NULL)
        gnutls_x509_privkey_deinit(key); /* GnuTLS wipes the key material */
    return rc;
}

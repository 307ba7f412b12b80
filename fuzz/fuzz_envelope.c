/* Fuzz target: the envelope, the binary frame of the wire (sync/envelope.c). The first byte
 * of an input chooses what the rest is:
 *   even  a whole envelope: envelope_parse, and where the frame is whole envelope_hash and
 *         envelope_open as HQ opens a request of device FD_NAI_A (the generator's seeds are
 *         sealed with those keys, so their mutations reach the signature check and, where it
 *         still holds, decryption and decompression);
 *   odd   what a sender encrypts, the zstd frame: sealed around it byte for byte by FD_NAI_A
 *         (fuzz_seal_raw), so envelope_open gets past signature and tag and decompresses it,
 *         as HQ does for any enrolled device.
 * Checks besides the sanitizers: a parsed frame accounts for every byte, an opened body is at
 * most WIRE_JSON_MAX bytes and NUL-terminated at its length. */
#include <string.h>

#include "fuzzutil.h"

static struct hq_identity hq;
static struct fuzz_device dev[FUZZ_NDEV];
static struct buf sealed;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (mrfcrypto_init() != MRF_OK)
        fuzz_die("libsodium cannot be initialised");
    fuzz_identity(&hq);
    fuzz_devices(dev);
    return 0;
}

static void open_one(const uint8_t *p, size_t n)
{
    const struct fuzz_device *d = &dev[FD_NAI_A];
    struct envelope h;
    struct mrf_error err;
    uint8_t hash[32];
    char *json = NULL;
    size_t len = 0;

    if (envelope_parse(p, n, &h, &err) != MRF_OK)
        return;
    if (h.head_len + h.ct_len + MRF_SIG != n || h.raw != p || h.sig != p + n - MRF_SIG)
        fuzz_die("envelope_parse: a frame that does not account for its bytes");
    envelope_hash(&h, hash);
    if (envelope_open(&h, d->keys->pub.sign_pk, d->keys->pub.box_pk, hq.keys->box_sk, &json, &len,
                      &err) == MRF_OK) {
        if (json == NULL || len > WIRE_JSON_MAX || json[len] != '\0')
            fuzz_die("envelope_open: a body over its cap or not NUL-terminated");
    } else if (json != NULL || len != 0) {
        fuzz_die("envelope_open: failed but left a body");
    }
    x_free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fuzz_device *d = &dev[FD_NAI_A];

    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0) {
        open_one(data + 1, size - 1);
        return 0;
    }
    if (size - 1 > ENV_MAX)
        return 0;
    fuzz_seal_raw(ENV_REQUEST, d->keys, d->id, data + 1, size - 1, hq.cfg.hq.box_pk, &sealed);
    open_one((const uint8_t *)sealed.data, sealed.len);
    return 0;
}

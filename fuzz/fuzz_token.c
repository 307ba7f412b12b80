/* Fuzz target: the enrollment token decoder (sync/token.c), what `mrf init --token` reads from
 * a person's paste. The first byte of an input chooses what the rest is:
 *   even  the token text, as typed;
 *   odd   a payload: every "@K@" in it becomes the base64url of HQ's fixed signing key, and the
 *         payload is signed with that key and wrapped as "mrf1.<payload>.<signature>", so the
 *         decoder gets past the signature to the fields (a mutated token rarely does).
 * A token that decodes is encoded again (token_encode) and decoded again: it must come back
 * the same. */
#include <string.h>

#include "fuzzutil.h"

static struct mrf_secrets *hq;
static char *hq_sign_b64;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (mrfcrypto_init() != MRF_OK)
        fuzz_die("libsodium cannot be initialised");
    fuzz_secrets("hq", &hq);
    hq_sign_b64 = b64url_encode(hq->pub.sign_pk, sizeof hq->pub.sign_pk);
    return 0;
}

/* "mrf1." b64(payload with @K@ replaced) "." b64(signature); NULL past TOKEN_MAX_LEN. */
static char *wrap(const uint8_t *data, size_t size)
{
    struct buf p, t;
    uint8_t sig[MRF_SIG];
    char *p64, *s64, *out = NULL;

    buf_init(&p, TOKEN_MAX_LEN);
    for (size_t i = 0; i < size; i++) {
        enum mrf_status st;
        if (i + 3 <= size && memcmp(data + i, "@K@", 3) == 0) {
            st = buf_puts(&p, hq_sign_b64);
            i += 2;
        } else {
            st = buf_append(&p, data + i, 1);
        }
        if (st != MRF_OK) {
            buf_release(&p);
            return NULL;
        }
    }
    mrf_sign(sig, (const uint8_t *)p.data, p.len, hq->sign_sk);
    p64 = b64url_encode((const uint8_t *)p.data, p.len);
    s64 = b64url_encode(sig, sizeof sig);
    buf_init(&t, 4 * TOKEN_MAX_LEN);
    if (buf_printf(&t, "mrf1.%s.%s", p64, s64) == MRF_OK)
        out = buf_take(&t, NULL);
    buf_release(&t);
    x_free(s64);
    x_free(p64);
    buf_release(&p);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct enroll_token t, again;
    struct mrf_error err;
    char *text, *enc = NULL;

    if (size < 1 || size > 4 * TOKEN_MAX_LEN)
        return 0;
    if (data[0] & 1)
        text = wrap(data + 1, size - 1);
    else
        text = fuzz_cstr(data + 1, size - 1);
    if (text == NULL)
        return 0;
    if (token_decode(text, &t, &err) == MRF_OK) {
        if (token_encode(&t, hq->sign_sk, &enc, &err) != MRF_OK)
            fuzz_die("token_encode: cannot write a token token_decode read");
        if (token_decode(enc, &again, &err) != MRF_OK)
            fuzz_die("token_decode: refuses a token token_encode wrote");
        if (memcmp(&t, &again, sizeof t) != 0)
            fuzz_die("a token does not come back the same");
        token_wipe(&again);
        x_free(enc);
    }
    token_wipe(&t);
    x_free(text);
    return 0;
}

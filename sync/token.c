/* Enrollment tokens: the one-time text `mrf-hq enroll` prints and `mrf init --token` reads.
 *
 * Form (version 1): "mrf1." base64url(payload) "." base64url(signature), no padding, where
 * payload is compact JSON {"v":1,"url":..,"pin":..,"hq_sign":..,"hq_box":..,"escrow":..,
 * "post":..,"tid":..,"secret":..,"exp":".."} with binary fields in base64url and exp as a
 * decimal string of Unix seconds (a JSON number is a double in cJSON and would lose bits), and
 * the signature is Ed25519 by HQ's signing key over the payload bytes exactly as carried.
 * Version 2 is the same with "v":2 and one more field, "officer": HQ's officer public key
 * (base64url), which signs wipe orders; an HQ with an officer key writes version 2, one
 * without writes version 1, and both are read. Each version holds exactly its fields.
 *
 * Decoding is strict: a token is typed or pasted by people over bad links, so anything not
 * exactly as written here is refused with a message that names the fault, never the token or
 * the secret. The payload is printable ASCII with no JSON escapes (nothing in it needs one),
 * no duplicate and no unknown keys. The signature is checked as soon as the HQ key is known, before
 * the other fields, so a garbled copy reads as such. Buffers that held the secret are wiped before
 * they are freed. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "mrfsync.h"

#define TOKEN_PREFIX "mrf1."
#define TOKEN_VERSION 1
#define TOKEN_VERSION_OFFICER 2
#define EXP_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

/* The payload's keys, in the order they are written. A decoded payload of version 1 must hold
 * exactly the first TOKEN_NKEYS_V1, each once; one of version 2 all of them. */
static const char *const token_keys[] = {"v",    "url", "pin",    "hq_sign", "hq_box", "escrow",
                                         "post", "tid", "secret", "exp",     "officer"};
#define TOKEN_NKEYS (sizeof token_keys / sizeof token_keys[0])
#define TOKEN_NKEYS_V1 (TOKEN_NKEYS - 1)

/* Wipes and frees a cJSON tree whose string values may hold the secret. */
static void json_wipe_free(cJSON *node)
{
    cJSON *c;

    if (node == NULL)
        return;
    for (c = node->child; c != NULL; c = c->next) {
        if (cJSON_IsString(c) && c->valuestring != NULL)
            sodium_memzero(c->valuestring, strlen(c->valuestring));
    }
    cJSON_Delete(node);
}

static void wipe_free(void *p, size_t n)
{
    if (p == NULL)
        return;
    sodium_memzero(p, n);
    x_free(p);
}

/* 1 if s is printable ASCII without spaces (URLs and pins travel in this form). */
static int printable_ascii(const char *s)
{
    for (; *s; s++) {
        if (*s <= ' ' || *s > '~')
            return 0;
    }
    return 1;
}

/* Checks the form of a pin: "sha256//" then standard base64 (padded) of 32 bytes. */
static int pin_valid(const char *pin)
{
    uint8_t hash[32];
    size_t n = 0;
    const char *b64;
    int ok;

    if (strncmp(pin, "sha256//", 8) != 0)
        return 0;
    b64 = pin + 8;
    if (strlen(b64) != sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL) - 1)
        return 0;
    ok = sodium_base642bin(hash, sizeof hash, b64, strlen(b64), NULL, &n, NULL,
                           sodium_base64_VARIANT_ORIGINAL) == 0 &&
         n == sizeof hash;
    sodium_memzero(hash, sizeof hash);
    return ok;
}

static int url_valid(const char *url)
{
    size_t n = strlen(url);

    return n > 8 && n < sizeof(((struct enroll_token *)0)->url) &&
           strncmp(url, "https://", 8) == 0 && printable_ascii(url) && strchr(url, '"') == NULL &&
           strchr(url, '\\') == NULL;
}

/* Adds a base64url string of p[0..n) under key. */
static void add_b64(cJSON *obj, const char *key, const uint8_t *p, size_t n)
{
    char *s = b64url_encode(p, n);

    cJSON_AddStringToObject(obj, key, s);
    wipe_free(s, strlen(s));
}

enum mrf_status token_encode(const struct enroll_token *t, const uint8_t sign_sk[MRF_SIGN_SK],
                             char **out, struct mrf_error *err)
{
    enum mrf_status rc = MRF_OK;
    cJSON *obj = NULL;
    char *payload = NULL;
    char *p64 = NULL, *s64 = NULL;
    char exp[24];
    char post[16];
    uint8_t sig[MRF_SIG];
    struct mrf_error perr;
    struct buf b;

    *out = NULL;
    buf_init(&b, TOKEN_MAX_LEN);
    if ((t->version != TOKEN_VERSION && t->version != TOKEN_VERSION_OFFICER) ||
        (t->version == TOKEN_VERSION_OFFICER) != (t->has_officer != 0)) {
        rc = mrf_error_set(err, MRF_E_INVALID, "token: version %d cannot be written%s", t->version,
                           t->has_officer ? " with an officer key" : "");
        goto out;
    }
    if (!url_valid(t->url)) {
        rc = mrf_error_set(err, MRF_E_INVALID, "token: the HQ URL must start with https://");
        goto out;
    }
    if (!pin_valid(t->tls_pin)) {
        rc = mrf_error_set(err, MRF_E_INVALID, "token: the TLS pin is not sha256//<base64>");
        goto out;
    }
    if (post_code_parse(t->post, post, &perr) != MRF_OK || strcmp(post, t->post) != 0) {
        rc = mrf_error_set(err, MRF_E_INVALID, "token: the post code is not valid");
        goto out;
    }
    if (t->expires <= 0 || t->expires > EXP_MAX) {
        rc = mrf_error_set(err, MRF_E_INVALID, "token: the expiry is out of range");
        goto out;
    }
    snprintf(exp, sizeof exp, "%lld", (long long)t->expires);

    obj = cJSON_CreateObject();
    if (obj == NULL) {
        rc = mrf_error_set(err, MRF_E_INTERNAL, "token: out of memory");
        goto out;
    }
    cJSON_AddNumberToObject(obj, "v", t->version);
    cJSON_AddStringToObject(obj, "url", t->url);
    cJSON_AddStringToObject(obj, "pin", t->tls_pin);
    add_b64(obj, "hq_sign", t->hq.sign_pk, sizeof t->hq.sign_pk);
    add_b64(obj, "hq_box", t->hq.box_pk, sizeof t->hq.box_pk);
    add_b64(obj, "escrow", t->escrow_pk, sizeof t->escrow_pk);
    cJSON_AddStringToObject(obj, "post", t->post);
    add_b64(obj, "tid", t->token_id, sizeof t->token_id);
    add_b64(obj, "secret", t->secret, sizeof t->secret);
    cJSON_AddStringToObject(obj, "exp", exp);
    if (t->has_officer)
        add_b64(obj, "officer", t->officer_pk, sizeof t->officer_pk);
    if (cJSON_GetArraySize(obj) != (int)(t->has_officer ? TOKEN_NKEYS : TOKEN_NKEYS_V1)) {
        rc = mrf_error_set(err, MRF_E_INTERNAL, "token: out of memory");
        goto out;
    }
    /* Printed into one buffer of ours, not cJSON's growing one, so no copy of the secret is
     * left behind in freed memory. The payload never needs more than the token may hold. */
    payload = xcalloc(1, TOKEN_MAX_LEN);
    if (!cJSON_PrintPreallocated(obj, payload, TOKEN_MAX_LEN, 0)) {
        rc = mrf_error_set(err, MRF_E_TOOBIG,
                           "token: longer than %d characters; shorten the HQ URL", TOKEN_MAX_LEN);
        goto out;
    }

    mrf_sign(sig, (const uint8_t *)payload, strlen(payload), sign_sk);
    p64 = b64url_encode((const uint8_t *)payload, strlen(payload));
    s64 = b64url_encode(sig, sizeof sig);
    if (buf_puts(&b, TOKEN_PREFIX) != MRF_OK || buf_puts(&b, p64) != MRF_OK ||
        buf_puts(&b, ".") != MRF_OK || buf_puts(&b, s64) != MRF_OK) {
        rc = mrf_error_set(err, MRF_E_TOOBIG,
                           "token: longer than %d characters; shorten the HQ URL", TOKEN_MAX_LEN);
        goto out;
    }
    *out = buf_take(&b, NULL);

out:
    if (b.data != NULL)
        sodium_memzero(b.data, b.len);
    buf_release(&b);
    if (p64 != NULL)
        wipe_free(p64, strlen(p64));
    x_free(s64);
    wipe_free(payload, TOKEN_MAX_LEN);
    json_wipe_free(obj);
    return rc;
}

/* The string value of key, or NULL (with err set) if missing or not a string. */
static const char *get_str(const cJSON *obj, const char *key, struct mrf_error *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (it == NULL) {
        mrf_error_set(err, MRF_E_INVALID,
                      "token: the field \"%s\" is missing; copy the whole token again", key);
        return NULL;
    }
    if (!cJSON_IsString(it) || it->valuestring == NULL) {
        mrf_error_set(err, MRF_E_INVALID, "token: the field \"%s\" is not a string", key);
        return NULL;
    }
    return it->valuestring;
}

/* Decodes the base64url field key into exactly n bytes at out. */
static enum mrf_status get_bin(const cJSON *obj, const char *key, uint8_t *out, size_t n,
                               struct mrf_error *err)
{
    const char *s = get_str(obj, key, err);
    uint8_t *raw = NULL;
    size_t len = 0;
    enum mrf_status rc;

    if (s == NULL)
        return MRF_E_INVALID;
    rc = b64url_decode(s, strlen(s), &raw, &len);
    if (rc != MRF_OK) {
        rc = mrf_error_set(err, MRF_E_INVALID, "token: the field \"%s\" is not base64url", key);
        goto out;
    }
    if (len != n) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "token: the field \"%s\" holds %zu bytes, expected %zu", key, len, n);
        goto out;
    }
    memcpy(out, raw, n);
out:
    wipe_free(raw, len);
    return rc;
}

/* Refuses keys other than the first nkeys of token_keys and any key given twice (cJSON would
 * keep the first silently, so a doctored payload could read differently to different
 * parsers). */
static enum mrf_status check_keys(const cJSON *obj, size_t nkeys, struct mrf_error *err)
{
    int seen[TOKEN_NKEYS] = {0};
    const cJSON *c;
    size_t i;

    for (c = obj->child; c != NULL; c = c->next) {
        for (i = 0; i < nkeys; i++) {
            if (c->string != NULL && strcmp(c->string, token_keys[i]) == 0)
                break;
        }
        if (i == nkeys)
            return mrf_error_set(err, MRF_E_INVALID,
                                 "token: the payload holds an unknown field; it was not made "
                                 "by mrf-hq enroll");
        if (seen[i]++)
            return mrf_error_set(err, MRF_E_INVALID, "token: the field \"%s\" appears twice",
                                 token_keys[i]);
    }
    return MRF_OK;
}

/* Parses exp: 1 to 12 decimal digits, no sign, in (0, EXP_MAX]. */
static enum mrf_status parse_exp(const char *s, int64_t *out, struct mrf_error *err)
{
    size_t n = strlen(s), i;
    int64_t v = 0;

    if (n == 0 || n > 12 || s[0] == '0')
        goto bad;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            goto bad;
        v = v * 10 + (s[i] - '0');
    }
    if (v > EXP_MAX)
        goto bad;
    *out = v;
    return MRF_OK;
bad:
    return mrf_error_set(err, MRF_E_INVALID, "token: the expiry is not a Unix time");
}

enum mrf_status token_decode(const char *s, struct enroll_token *t, struct mrf_error *err)
{
    enum mrf_status rc = MRF_OK;
    size_t n, i, dots = 0, plen = 0, slen = 0;
    const char *p64, *s64, *v;
    uint8_t *payload = NULL, *sig = NULL;
    const char *end = NULL;
    cJSON *obj = NULL;
    const cJSON *ver;
    struct mrf_error perr;

    memset(t, 0, sizeof *t);
    if (s == NULL || s[0] == '\0') {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "token: empty; paste the token mrf-hq enroll printed");
        goto out;
    }
    n = strnlen(s, TOKEN_MAX_LEN + 1);
    if (n > TOKEN_MAX_LEN) {
        rc = mrf_error_set(err, MRF_E_TOOBIG,
                           "token: longer than %d characters; it is not an mrf token",
                           TOKEN_MAX_LEN);
        goto out;
    }
    if (strncmp(s, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) != 0) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "token: does not start with \"mrf1.\"; it is not an mrf enrollment "
                           "token of this version");
        goto out;
    }
    for (i = 0; i < n; i++)
        dots += s[i] == '.';
    if (dots != 2) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "token: not three dot-separated parts; copy the whole token again");
        goto out;
    }
    p64 = s + strlen(TOKEN_PREFIX);
    s64 = strchr(p64, '.') + 1;
    if (s64 - 1 == p64 || *s64 == '\0') {
        rc =
            mrf_error_set(err, MRF_E_INVALID, "token: a part is empty; copy the whole token again");
        goto out;
    }
    if (b64url_decode(p64, (size_t)(s64 - 1 - p64), &payload, &plen) != MRF_OK) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "token: the payload is not base64url; copy the whole token again");
        goto out;
    }
    if (b64url_decode(s64, strlen(s64), &sig, &slen) != MRF_OK || slen != MRF_SIG) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "token: the signature part is damaged; copy the whole token again");
        goto out;
    }

    /* What token_encode writes is printable ASCII without escapes or spaces around; anything
     * else (an escaped NUL that would cut a string short, a BOM) is not a token of ours. */
    for (i = 0; i < plen; i++) {
        if (payload[i] < ' ' || payload[i] > '~' || payload[i] == '\\')
            break;
    }
    if (i < plen || plen < 2 || payload[0] != '{')
        obj = NULL;
    else
        obj = cJSON_ParseWithLengthOpts((const char *)payload, plen, &end, 0);
    if (obj == NULL || !cJSON_IsObject(obj) || end != (const char *)payload + plen) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "token: the payload is damaged; copy the whole token again");
        goto out;
    }
    ver = cJSON_GetObjectItemCaseSensitive(obj, "v");
    if (ver == NULL || !cJSON_IsNumber(ver)) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "token: the version field is missing or not a number");
        goto out;
    }
    if (ver->valuedouble != TOKEN_VERSION && ver->valuedouble != TOKEN_VERSION_OFFICER) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "token: version %.0f is not supported by this mrf (it reads versions "
                           "%d and %d); update mrf",
                           ver->valuedouble, TOKEN_VERSION, TOKEN_VERSION_OFFICER);
        goto out;
    }
    t->version = (int)ver->valuedouble;

    /* The signature first: a garbled token should say so, not complain about a field. */
    rc = get_bin(obj, "hq_sign", t->hq.sign_pk, sizeof t->hq.sign_pk, err);
    if (rc != MRF_OK)
        goto out;
    if (mrf_verify(sig, payload, plen, t->hq.sign_pk) != MRF_OK) {
        rc = mrf_error_set(err, MRF_E_AUTH,
                           "token: the signature does not match; copy the whole token again");
        goto out;
    }

    rc = check_keys(obj, t->version == TOKEN_VERSION ? TOKEN_NKEYS_V1 : TOKEN_NKEYS, err);
    if (rc != MRF_OK)
        goto out;
    if (t->version == TOKEN_VERSION_OFFICER) {
        rc = get_bin(obj, "officer", t->officer_pk, sizeof t->officer_pk, err);
        if (rc != MRF_OK)
            goto out;
        t->has_officer = 1;
    }

    v = get_str(obj, "url", err);
    if (v == NULL) {
        rc = MRF_E_INVALID;
        goto out;
    }
    if (!url_valid(v)) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "token: the HQ URL is not an https:// URL; ask HQ for a new token");
        goto out;
    }
    str_copy(t->url, v, sizeof t->url);

    v = get_str(obj, "pin", err);
    if (v == NULL) {
        rc = MRF_E_INVALID;
        goto out;
    }
    if (strlen(v) >= sizeof t->tls_pin || !pin_valid(v)) {
        rc = mrf_error_set(err, MRF_E_INVALID, "token: the TLS pin is not sha256//<base64>");
        goto out;
    }
    str_copy(t->tls_pin, v, sizeof t->tls_pin);

    rc = get_bin(obj, "hq_box", t->hq.box_pk, sizeof t->hq.box_pk, err);
    if (rc == MRF_OK)
        rc = get_bin(obj, "escrow", t->escrow_pk, sizeof t->escrow_pk, err);
    if (rc == MRF_OK)
        rc = get_bin(obj, "tid", t->token_id, sizeof t->token_id, err);
    if (rc == MRF_OK)
        rc = get_bin(obj, "secret", t->secret, sizeof t->secret, err);
    if (rc != MRF_OK)
        goto out;

    v = get_str(obj, "post", err);
    if (v == NULL) {
        rc = MRF_E_INVALID;
        goto out;
    }
    if (post_code_parse(v, t->post, &perr) != MRF_OK || strcmp(v, t->post) != 0) {
        rc = mrf_error_set(err, MRF_E_INVALID, "token: the post code is not valid");
        goto out;
    }

    v = get_str(obj, "exp", err);
    if (v == NULL) {
        rc = MRF_E_INVALID;
        goto out;
    }
    rc = parse_exp(v, &t->expires, err);

out:
    if (rc != MRF_OK)
        sodium_memzero(t, sizeof *t);
    json_wipe_free(obj);
    wipe_free(payload, plen);
    x_free(sig);
    return rc;
}

void token_wipe(struct enroll_token *t)
{
    if (t == NULL)
        return;
    sodium_memzero(t->secret, sizeof t->secret);
}

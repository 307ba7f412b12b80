/* Text checks and conversions: UTF-8 validation for every free-text input, bounded copies,
 * whole-string integer parsing, hex and base64url. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common.h"

int text_valid(const char *s, size_t n, int allow_newlines)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i];
        size_t extra;
        unsigned cp;

        if (c < 0x80) {
            if (c == 0x7f)
                return 0;
            if (c < 0x20 && !(allow_newlines && (c == '\n' || c == '\t')))
                return 0;
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            extra = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= extra)
            return 0;
        for (size_t k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        /* overlong forms, surrogates, beyond Unicode, C1 controls */
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
            (extra == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
            (cp >= 0x80 && cp < 0xa0))
            return 0;
        i += extra + 1;
    }
    return 1;
}

size_t str_copy(char *dst, const char *src, size_t dstsize)
{
    size_t n = strlen(src);

    if (dstsize) {
        size_t k = n < dstsize - 1 ? n : dstsize - 1;
        memcpy(dst, src, k);
        dst[k] = '\0';
    }
    return n;
}

enum mrf_status parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    long long v;

    *out = 0;
    if (s == NULL || *s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
        return MRF_E_INVALID;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return MRF_E_INVALID;
    *out = (int64_t)v;
    return MRF_OK;
}

char *hex_encode(const uint8_t *p, size_t n)
{
    char *out = xmalloc(n * 2 + 1);
    sodium_bin2hex(out, n * 2 + 1, p, n);
    return out;
}

enum mrf_status hex_decode(const char *s, uint8_t *out, size_t n)
{
    size_t got = 0;
    const char *end = NULL;

    if (s == NULL || strlen(s) != n * 2)
        return MRF_E_INVALID;
    if (sodium_hex2bin(out, n, s, n * 2, NULL, &got, &end) != 0 || got != n || *end != '\0')
        return MRF_E_INVALID;
    return MRF_OK;
}

char *b64url_encode(const uint8_t *p, size_t n)
{
    const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    size_t len = sodium_base64_ENCODED_LEN(n, variant);
    char *out = xmalloc(len);
    sodium_bin2base64(out, len, p, n, variant);
    return out;
}

/* 1 if c is a character of the base64url alphabet. */
static int b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

enum mrf_status b64url_decode(const char *s, size_t slen, uint8_t **out, size_t *outlen)
{
    size_t cap = slen / 4 * 3 + 3;
    uint8_t *p;
    size_t got = 0;
    const char *end = NULL;

    *out = NULL;
    *outlen = 0;
    /* The alphabet is checked here: libsodium 1.0.18 reads its input as signed chars, and
     * takes some bytes past 0x7f for '-' or '_' (found by fuzz/fuzz_domain.c). */
    for (size_t i = 0; i < slen; i++)
        if (!b64url_char((unsigned char)s[i]))
            return MRF_E_INVALID;
    p = xmalloc(cap);
    if (sodium_base642bin(p, cap, s, slen, NULL, &got, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != s + slen) {
        sodium_memzero(p, cap);
        x_free(p);
        return MRF_E_INVALID;
    }
    *out = p;
    *outlen = got;
    return MRF_OK;
}

/* A growable byte buffer whose size cap is fixed when it is created (as curl's dynbuf): input
 * over the cap is MRF_E_TOOBIG, never a truncation. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

void buf_init(struct buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void buf_release(struct buf *b)
{
    x_free(b->data);
    buf_init(b, b->cap);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

enum mrf_status buf_append(struct buf *b, const void *p, size_t n)
{
    size_t want;

    if (n > b->cap || b->len > b->cap - n)
        return MRF_E_TOOBIG;
    want = b->len + n + 1;
    if (want > b->alloc) {
        size_t a = b->alloc ? b->alloc : 64;
        while (a < want)
            a *= 2;
        b->data = xrealloc(b->data, a);
        b->alloc = a;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return MRF_OK;
}

enum mrf_status buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

enum mrf_status buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    char small[256];
    char *big;
    enum mrf_status st;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MRF_E_INTERNAL;
    if ((size_t)n < sizeof small)
        return buf_append(b, small, (size_t)n);
    big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    st = buf_append(b, big, (size_t)n);
    x_free(big);
    return st;
}

char *buf_take(struct buf *b, size_t *len_out)
{
    char *p = b->data;

    if (p == NULL)
        p = xstrdup("");
    if (len_out)
        *len_out = b->len;
    buf_init(b, b->cap);
    return p;
}

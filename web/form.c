/* Forms as browsers send them (application/x-www-form-urlencoded), decoded in place in the
 * request's guarded body, with a cap on the number of fields; and the lookups handlers use. */
#include <string.h>

#include "mrfweb.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) in place ('+' is a space, %XX a byte, a browser's CR LF line break a LF)
 * and NUL-terminates; returns the new length, or -1 for a bad escape. */
static long decode(char *s, size_t n)
{
    size_t r = 0, w = 0;

    while (r < n) {
        if (s[r] == '+') {
            s[w++] = ' ';
            r++;
        } else if (s[r] == '%') {
            int hi, lo;
            if (r + 2 >= n)
                return -1;
            hi = hexval(s[r + 1]);
            lo = hexval(s[r + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            r += 3;
            if (hi == 0 && lo == 13) { /* CR: a line break is LF, whatever the browser sent */
                if (r + 2 < n && s[r] == '%' && s[r + 1] == '0' && (s[r + 2] | 0x20) == 'a')
                    continue;
                lo = 10;
            }
            s[w++] = (char)(hi * 16 + lo);
        } else {
            s[w++] = s[r++];
        }
    }
    s[w] = '\0';
    return (long)w;
}

enum mrf_status web_form_parse(char *s, size_t len, struct web_field *fields, int *nfields)
{
    size_t i = 0;

    *nfields = 0;
    s[len] = '\0';
    while (i < len) {
        size_t end = i, eq;
        long kn, vn;
        while (end < len && s[end] != '&')
            end++;
        if (end == i) { /* "a=1&&b=2" */
            i++;
            continue;
        }
        if (*nfields == WEB_FORM_MAX)
            return MRF_E_TOOBIG;
        eq = i;
        while (eq < end && s[eq] != '=')
            eq++;
        s[end] = '\0';
        if (eq < end)
            s[eq] = '\0';
        kn = decode(s + i, eq - i);
        vn = eq < end ? decode(s + eq + 1, end - eq - 1) : 0;
        if (kn < 0 || vn < 0 || !text_valid(s + i, (size_t)kn, 0) ||
            (eq < end && !text_valid(s + eq + 1, (size_t)vn, 1)))
            return MRF_E_INVALID;
        fields[*nfields].name = s + i;
        fields[*nfields].value = eq < end ? s + eq + 1 : s + eq;
        (*nfields)++;
        i = end + 1;
    }
    return MRF_OK;
}

const char *web_field(const struct web_request *rq, const char *name)
{
    const char *v = NULL;

    for (int i = 0; i < rq->nfields; i++)
        if (strcmp(rq->fields[i].name, name) == 0)
            v = rq->fields[i].value;
    return v;
}

int web_field_count(const struct web_request *rq, const char *name)
{
    int n = 0;

    for (int i = 0; i < rq->nfields; i++)
        n += strcmp(rq->fields[i].name, name) == 0;
    return n;
}

const char *web_field_nth(const struct web_request *rq, const char *name, int nth)
{
    for (int i = 0; i < rq->nfields; i++)
        if (strcmp(rq->fields[i].name, name) == 0 && nth-- == 0)
            return rq->fields[i].value;
    return NULL;
}

/* HQ's URL as `mrf-hq init --url` takes it: https only, a host that can go into a certificate's
 * subjectAltName (a DNS name, an IPv4 address or a bracketed IPv6 address) and a port. The URL
 * is stored and put in tokens in one normalised form, "https://host:port", so devices append
 * "/v1/sync" to it and the certificate always names exactly the host they dial. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"

#define URL_MAX 255
#define DNS_MAX 253
#define LABEL_MAX 63

/* 1 if name is a DNS host name (letters, digits, hyphens; labels of 1..63; no trailing dot),
 * already lower-cased, whose last label is not all digits. */
static int dns_name_valid(const char *name)
{
    size_t n = strlen(name), label = 0, i;
    int digits_only = 1;

    if (n == 0 || n > DNS_MAX)
        return 0;
    for (i = 0; i <= n; i++) {
        char c = name[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > LABEL_MAX || name[i - 1] == '-')
                return 0;
            if (c == '\0')
                break;
            label = 0;
            digits_only = 1;
            continue;
        }
        if (label == 0 && c == '-')
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
        if (!(c >= '0' && c <= '9'))
            digits_only = 0;
        label++;
    }
    return !digits_only;
}

/* Parses 1..5 digits in 1..65535. */
static int port_parse(const char *s, size_t n, int *port)
{
    size_t i;
    long v = 0;

    if (n == 0 || n > 5)
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return 0;
    *port = (int)v;
    return 1;
}

enum mrf_status hq_url_parse(const char *s, struct hq_url *out, struct mrf_error *err)
{
    enum mrf_status rc = MRF_OK;
    const char *auth, *end, *hs, *he, *ps = NULL;
    size_t n, i, hlen;
    char host[URL_MAX + 1];
    char v6[INET6_ADDRSTRLEN];

    memset(out, 0, sizeof *out);
    if (s == NULL || s[0] == '\0') {
        rc = mrf_error_set(err, MRF_E_INVALID, "the URL is empty; give --url https://HOST:PORT");
        goto out;
    }
    n = strlen(s);
    if (n > URL_MAX) {
        rc = mrf_error_set(err, MRF_E_INVALID, "the URL is longer than %d characters", URL_MAX);
        goto out;
    }
    if (strncmp(s, "https://", 8) != 0) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "the URL must start with https:// (devices reach HQ over TLS only); "
                           "give --url https://HOST:PORT");
        goto out;
    }
    auth = s + 8;
    end = s + n;
    if (end > auth && end[-1] == '/')
        end--;
    for (i = 0; auth + i < end; i++) {
        char c = auth[i];
        if (c == '/' || c == '?' || c == '#' || c == '@' || c <= ' ' || c > '~') {
            rc = mrf_error_set(err, MRF_E_INVALID,
                               "the URL must be https://HOST:PORT with no user, path, query or "
                               "spaces");
            goto out;
        }
    }

    if (auth < end && *auth == '[') {
        hs = auth + 1;
        he = memchr(hs, ']', (size_t)(end - hs));
        if (he == NULL) {
            rc = mrf_error_set(err, MRF_E_INVALID, "the URL's IPv6 address lacks its ']'");
            goto out;
        }
        if (he + 1 < end) {
            if (he[1] != ':') {
                rc = mrf_error_set(err, MRF_E_INVALID, "the URL has text after ']'");
                goto out;
            }
            ps = he + 2;
        }
        out->kind = HQ_HOST_IPV6;
    } else {
        hs = auth;
        he = memchr(hs, ':', (size_t)(end - hs));
        if (he != NULL)
            ps = he + 1;
        else
            he = end;
        out->kind = HQ_HOST_DNS;
    }
    hlen = (size_t)(he - hs);
    if (hlen == 0 || hlen >= sizeof host) {
        rc = mrf_error_set(err, MRF_E_INVALID, "the URL has no host; give --url https://HOST:PORT");
        goto out;
    }
    for (i = 0; i < hlen; i++)
        host[i] = (char)tolower((unsigned char)hs[i]);
    host[hlen] = '\0';

    out->port = 443;
    if (ps != NULL && !port_parse(ps, (size_t)(end - ps), &out->port)) {
        rc = mrf_error_set(err, MRF_E_INVALID, "the URL's port must be a number from 1 to 65535");
        goto out;
    }

    if (out->kind == HQ_HOST_IPV6) {
        if (inet_pton(AF_INET6, host, out->addr) != 1) {
            rc = mrf_error_set(err, MRF_E_INVALID, "the URL's host is not an IPv6 address");
            goto out;
        }
        inet_ntop(AF_INET6, out->addr, v6, sizeof v6);
        str_copy(out->host, v6, sizeof out->host);
        snprintf(out->normalized, sizeof out->normalized, "https://[%s]:%d", out->host, out->port);
        goto out;
    }
    if (strspn(host, "0123456789.") == hlen) {
        if (inet_pton(AF_INET, host, out->addr) != 1) {
            rc = mrf_error_set(err, MRF_E_INVALID, "the URL's host is not an IPv4 address");
            goto out;
        }
        out->kind = HQ_HOST_IPV4;
    } else if (!dns_name_valid(host)) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "the URL's host is not a valid DNS name (letters, digits, '-' and "
                           "'.') nor an IP address");
        goto out;
    }
    str_copy(out->host, host, sizeof out->host);
    snprintf(out->normalized, sizeof out->normalized, "https://%s:%d", out->host, out->port);

out:
    if (rc != MRF_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

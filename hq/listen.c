/* Where `mrf-hq serve` listens: parsing --listen (IPv4 or bracketed IPv6 with a port), the
 * default (every address on the port of HQ's URL), and a clear reason when the address cannot
 * be bound; the options of an accepted connection's socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hq.h"

static void listen_text(struct hq_listen *la)
{
    char a[INET6_ADDRSTRLEN];

    if (la->family == AF_INET) {
        inet_ntop(AF_INET, &la->v4.sin_addr, a, sizeof a);
        snprintf(la->text, sizeof la->text, "%s:%u", a, (unsigned)la->port);
    } else {
        inet_ntop(AF_INET6, &la->v6.sin6_addr, a, sizeof a);
        snprintf(la->text, sizeof la->text, "[%s]:%u", a, (unsigned)la->port);
    }
}

static void listen_set(struct hq_listen *la, int family, const void *addr, uint16_t port)
{
    memset(la, 0, sizeof *la);
    la->family = family;
    la->port = port;
    if (family == AF_INET) {
        la->v4.sin_family = AF_INET;
        la->v4.sin_port = htons(port);
        memcpy(&la->v4.sin_addr, addr, 4);
    } else {
        la->v6.sin6_family = AF_INET6;
        la->v6.sin6_port = htons(port);
        memcpy(&la->v6.sin6_addr, addr, 16);
    }
    listen_text(la);
}

/* Parses "IPV4:PORT" or "[IPV6]:PORT". */
enum mrf_status hq_listen_parse(const char *s, struct hq_listen *la, struct mrf_error *err)
{
    char host[INET6_ADDRSTRLEN];
    const char *colon, *p;
    uint8_t addr[16];
    unsigned long port = 0;
    size_t hn;
    int family;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            goto bad;
        family = AF_INET6;
        hn = (size_t)(close - s - 1);
        colon = close + 1;
        s++;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            goto bad;
        family = AF_INET;
        hn = (size_t)(colon - s);
    }
    if (hn == 0 || hn >= sizeof host)
        goto bad;
    memcpy(host, s, hn);
    host[hn] = '\0';
    if (inet_pton(family, host, addr) != 1)
        goto bad;
    for (p = colon + 1; *p >= '0' && *p <= '9' && port <= 65535; p++)
        port = port * 10 + (unsigned long)(*p - '0');
    if (p == colon + 1 || *p != '\0' || port < 1 || port > 65535)
        goto bad;
    listen_set(la, family, addr, (uint16_t)port);
    return MRF_OK;
bad:
    return mrf_error_set(err, MRF_E_INVALID,
                         "--listen takes ADDR:PORT with an IPv4 address or a bracketed IPv6 "
                         "address and a port from 1 to 65535, e.g. 127.0.0.1:8443 or [::1]:8443");
}

/* Every address on port: IPv6 and IPv4 on one socket when the machine has IPv6. */
void hq_listen_any(struct hq_listen *la, uint16_t port)
{
    static const uint8_t any[16] = {0};
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd >= 0) {
        close(fd);
        listen_set(la, AF_INET6, any, port);
        la->dual = 1;
    } else {
        listen_set(la, AF_INET, any, port);
    }
}

/* After libmicrohttpd failed to start: binds the address once more to learn why. Returns the
 * errno of the bind, or 0 if binding works (then the failure was something else). */
static int bind_errno(const struct hq_listen *la)
{
    int fd = socket(la->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1, zero = 0, e = 0;

    if (fd < 0)
        return errno;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (la->family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, la->dual ? &zero : &one, sizeof one);
    if (la->family == AF_INET ? bind(fd, (const struct sockaddr *)&la->v4, sizeof la->v4)
                              : bind(fd, (const struct sockaddr *)&la->v6, sizeof la->v6))
        e = errno;
    close(fd);
    return e;
}

enum mrf_status hq_listen_failed(const struct hq_listen *la, struct mrf_error *err)
{
    int e = bind_errno(la);

    if (e == EADDRINUSE)
        return mrf_error_set(err, MRF_E_IO,
                             "cannot listen on %s: the port is in use by another program "
                             "(another mrf-hq serve?); stop it or choose another port with "
                             "--listen ADDR:PORT",
                             la->text);
    if (e == EACCES)
        return mrf_error_set(err, MRF_E_IO,
                             "cannot listen on %s: ports below 1024 need privileges; choose "
                             "another port with --listen ADDR:PORT",
                             la->text);
    if (e == EADDRNOTAVAIL)
        return mrf_error_set(err, MRF_E_IO,
                             "cannot listen on %s: the address is not one of this machine's",
                             la->text);
    if (e != 0)
        return mrf_error_set(err, MRF_E_IO, "cannot listen on %s: %s", la->text, strerror(e));
    return mrf_error_set(err, MRF_E_INTERNAL,
                         "cannot start the HTTPS server on %s (see the messages above); check "
                         "%s and %s in the HQ home",
                         la->text, HQ_TLS_CERT_FILE, HQ_TLS_KEY_FILE);
}

int hq_listen_tune(int fd)
{
    int one = 1;

    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

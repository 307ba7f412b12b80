/* `mrf-hq serve [--listen ADDR:PORT]`: HQ's HTTPS server (DESIGN §6), until SIGTERM or SIGINT.
 * libmicrohttpd runs a pool of worker threads (one per online CPU, 2 to 32) with GnuTLS,
 * TLS 1.2 and 1.3 only, the certificate and key from <home>/tls. Three routes: GET /v1/health
 * answers "ok"; GET /v1/order/<device id> relays the officer-signed wipe order stored for
 * that device, if any (answer_order); POST /v1/sync reads one envelope of at most ENV_MAX bytes
 * (413 past it, before reading when Content-Length says so) and hands it to hq_ingest with a store
 * handle checked out of a small pool, since an SQLite connection serves one thread at a time. A
 * request with more than one Content-Length header is refused (400, then the connection closes)
 * before any route sees it: its body's length is ambiguous. Every request leaves exactly one log
 * line on stderr with the method, the path, the status and the few fields of struct ingest_result
 * meant for logs; never a body, a header value or a key. A guard thread cuts connections past their
 * header or request deadline or below the minimum rate; libmicrohttpd caps connections per address;
 * request bodies are reserved against an overall and a per-address budget (503 busy past them). See
 * the SERVE_* bounds below. The main thread blocks the signals before any worker exists and waits
 * for them with sigwait; on the first it stops accepting, lets requests in flight finish (30 s at
 * most, or until a second signal), stops the workers and returns 0. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "hq.h"
#include "hqstore.h"
#include "mrfsync.h"
#include "serve_log.h"

#define SERVE_THREADS_MIN 2
#define SERVE_THREADS_MAX 32
#define SERVE_CONN_LIMIT 256u
#define SERVE_CONN_TIMEOUT_S 30u         /* idle seconds before a connection is closed */
#define SERVE_CONN_MEMORY (128u * 1024u) /* per connection: headers and read buffer */
#define SERVE_DRAIN_MS 30000             /* the longest wait for requests in flight */
#define SERVE_DISCARD_MAX (2u * ENV_MAX) /* body bytes swallowed past a cap before hanging up */
/* Bounds against hostile clients (docs/DECISIONS.md, "Hostile clients and builds"). A real
 * post sends bodies of about 256 KiB over 256 kbit/s with 600 ms round trips: a TLS handshake,
 * headers and such a body take about 11 s, a full ENV_MAX body about 70 s. */
#define SERVE_PER_ADDRESS_DEFAULT 16u           /* connections from one client address */
#define SERVE_HEADER_DEADLINE_S 15u             /* connect (or previous answer) to headers in */
#define SERVE_REQUEST_DEADLINE_S 120u           /* connect (or previous answer) to answer sent */
#define SERVE_MIN_RATE 1024u                    /* body bytes per second, on average, ... */
#define SERVE_RATE_GRACE_MS 10000u              /* ... once the body has had this long */
#define SERVE_SWEEP_MS 250                      /* how often deadlines and rates are checked */
#define SERVE_BODY_BUDGET (24u * 1024u * 1024u) /* body bytes held at once, in all */
#define SERVE_ADDR_BUDGET (2u * ENV_MAX)        /* body bytes held at once, per address */
#define SERVE_ADDR_SLOTS SERVE_CONN_LIMIT       /* addresses holding body bytes at once */
#define SERVE_MHD_LOG_PER_MIN 60u     /* libmicrohttpd's own lines per minute, then a summary */
#define SERVE_SUMMARY_S 60            /* refusal lines are summarised per this window */
#define SERVE_DISK_LOW (4u * ENV_MAX) /* health says disk_full below this much free space */
#define SERVE_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define SERVE_TLS_FILE_MAX (64u * 1024u)
#define LOG_METHOD_MAX 16 /* bytes of the method and path that reach the log */
#define LOG_PATH_MAX 128
#define LOG_REASON_MAX 48
#define LOG_TEXT(n) ((n)*3 + 4) /* room for n bytes percent-encoded and "..." */

/* ---- server and request state ------------------------------------------------------------ */

/* A client address, as a key: the family and its bytes. */
struct addr_key {
    int family;
    unsigned char ip[16];
};

/* One connection, from libmicrohttpd's "started" notice to its "closed" one (which comes after
 * the completion of its last request, and before its socket is closed: so the guard may shut
 * the socket down while the node is listed). Fields but fd and addr are under guard.mu. */
struct conn {
    struct conn *prev, *next;
    MHD_socket fd;
    struct addr_key addr;
    uint64_t since_ms;   /* monotonic: connection start or the previous answer's completion */
    uint64_t headers_ms; /* when the current request's headers were in; 0 before */
    uint64_t body_bytes; /* of the current request */
    int reading;         /* the current request's body is being read */
    uint64_t answer_ms;  /* when its answer was queued; 0 before */
    size_t answer_len;   /* that answer's body bytes */
    const char *cut;     /* set when the guard shut the socket down: the reason, for the log */
};

/* Body bytes reserved by one address. */
struct addr_use {
    struct addr_key addr;
    size_t bytes; /* 0: the slot is free */
};

/* The connection guard: deadlines, minimum rate and body budgets, checked by one thread. */
struct guard {
    pthread_mutex_t mu;
    struct conn *head;
    size_t body_total; /* body bytes reserved, all addresses */
    struct addr_use addrs[SERVE_ADDR_SLOTS];
    uint64_t header_deadline_ms, request_deadline_ms;
    atomic_int stop;
    pthread_t thread;
    /* libmicrohttpd's own lines, rate-limited per minute */
    uint64_t mhd_window_ms;
    unsigned mhd_lines, mhd_dropped;
};

/* Shared by all workers: read-only but for the pool, the log lock, the guard and the two
 * counters. */
struct server {
    const char *home;
    struct hq_identity id;
    struct hq_pool pool;
    pthread_mutex_t log_mu; /* one log line at a time, from any thread */
    struct logsum logsum;   /* refusal lines: rate-limited, summarised (under log_mu) */
    atomic_int in_flight;   /* requests between their first handler call and completion */
    atomic_int draining;    /* set at the first signal: answers close their connection */
    atomic_int disk_full;   /* a change set failed on a full disk, none was stored since */
    struct guard guard;
};

enum route { ROUTE_NONE, ROUTE_HEALTH, ROUTE_SYNC, ROUTE_ORDER };
#define ORDER_PREFIX "/v1/order/" /* + the device id in hex: its wipe order, if any */

/* One request, from its first access-handler call to its completion callback. */
struct request {
    struct timespec start; /* monotonic, for ms= */
    uint64_t start_wall;   /* ms since the epoch, for the log's time stamp */
    enum route route;
    int sync_post;                         /* POST /v1/sync: the one request whose body is read */
    char method[LOG_TEXT(LOG_METHOD_MAX)]; /* log-safe copies */
    char path[LOG_TEXT(LOG_PATH_MAX)];
    struct buf body;      /* POST /v1/sync only, capped at ENV_MAX */
    int too_large;        /* the body passed ENV_MAX; the rest is swallowed */
    size_t discarded;     /* bytes swallowed */
    unsigned status;      /* 0 until an answer is queued */
    int must_close;       /* the connection's framing is in doubt: the answer closes it */
    int over_budget;      /* hung up: a chunked body would have passed the body budgets */
    struct conn *conn;    /* the guard's node (outlives the request) */
    struct addr_key addr; /* the client's, for the body budget */
    size_t reserved;      /* body bytes reserved against the budgets */
    char verdict[LOG_TEXT(LOG_REASON_MAX)];
    char device[LOG_TEXT(16)];
    char post[LOG_TEXT(15)];
    int64_t ops_in, ops_applied, ops_out;
    int64_t retry_after; /* a 429 from ingest: seconds for its Retry-After header */
};

static uint64_t mono_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* Copies at most max bytes of src to dst, percent-encoding anything outside printable ASCII
 * (and spaces unless spaces), so a client cannot break a log line or forge one; "..." marks
 * a cut. */
static void log_text_sp(char *dst, size_t dstsize, const char *src, size_t max, int spaces)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, o = 0;

    if (dstsize < LOG_TEXT(max)) /* never overrun dst: shorten instead */
        max = dstsize < LOG_TEXT(0) ? 0 : (dstsize - LOG_TEXT(0)) / 3;
    for (i = 0; i < max && src[i] != '\0'; i++) {
        unsigned char c = (unsigned char)src[i];
        if ((c > 0x20 && c < 0x7f) || (spaces && c == ' ')) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '%';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    if (src[i] != '\0') {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

static void log_text(char *dst, size_t dstsize, const char *src, size_t max)
{
    log_text_sp(dst, dstsize, src, max, 0);
}

/* ---- the connection guard ---------------------------------------------------------------- */

/* libmicrohttpd 0.9.75 resets a connection's idle timeout on every byte, so a client sending
 * one byte every few seconds, or reading one, holds a slot for ever. The guard lists every
 * connection and, every SERVE_SWEEP_MS, shuts down the socket of one that is past a deadline
 * or below the minimum rate; its worker then sees the hang-up and closes it. Per-address
 * connection caps are libmicrohttpd's (MHD_OPTION_PER_IP_CONNECTION_LIMIT); body budgets are
 * here. */

/* OUT: *k, the key of sa (all zero if sa is NULL or neither IPv4 nor IPv6). */
static void addr_key_of(struct addr_key *k, const struct sockaddr *sa)
{
    memset(k, 0, sizeof *k);
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in v4;
        memcpy(&v4, sa, sizeof v4);
        k->family = AF_INET;
        memcpy(k->ip, &v4.sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 v6;
        memcpy(&v6, sa, sizeof v6);
        k->family = AF_INET6;
        memcpy(k->ip, &v6.sin6_addr, 16);
    }
}

static int addr_same(const struct addr_key *a, const struct addr_key *b)
{
    return a->family == b->family && memcmp(a->ip, b->ip, sizeof a->ip) == 0;
}

/* Reserves n more body bytes for address a. 0 if that would pass the overall budget or the
 * address's (nothing is reserved then). */
static int budget_take(struct guard *g, const struct addr_key *a, size_t n)
{
    struct addr_use *slot = NULL, *free_slot = NULL;
    size_t i;
    int ok;

    pthread_mutex_lock(&g->mu);
    for (i = 0; i < SERVE_ADDR_SLOTS; i++) {
        if (g->addrs[i].bytes == 0) {
            if (free_slot == NULL)
                free_slot = &g->addrs[i];
        } else if (addr_same(&g->addrs[i].addr, a)) {
            slot = &g->addrs[i];
            break;
        }
    }
    if (slot == NULL && free_slot != NULL) {
        slot = free_slot;
        slot->addr = *a;
    }
    ok = slot != NULL && n <= SERVE_BODY_BUDGET - g->body_total &&
         n <= SERVE_ADDR_BUDGET - slot->bytes;
    if (ok) {
        slot->bytes += n;
        g->body_total += n;
    }
    pthread_mutex_unlock(&g->mu);
    return ok;
}

/* Gives back n body bytes that address a reserved. */
static void budget_give(struct guard *g, const struct addr_key *a, size_t n)
{
    size_t i;

    if (n == 0)
        return;
    pthread_mutex_lock(&g->mu);
    for (i = 0; i < SERVE_ADDR_SLOTS; i++)
        if (g->addrs[i].bytes > 0 && addr_same(&g->addrs[i].addr, a)) {
            assert(g->addrs[i].bytes >= n && g->body_total >= n);
            g->addrs[i].bytes -= n;
            g->body_total -= n;
            break;
        }
    assert(i < SERVE_ADDR_SLOTS);
    pthread_mutex_unlock(&g->mu);
}

/* Why cn must be cut at now, or NULL. Called under g->mu. */
static const char *overdue(const struct guard *g, const struct conn *cn, uint64_t now)
{
    uint64_t t;

    if (cn->headers_ms == 0)
        return now - cn->since_ms > g->header_deadline_ms ? "header_deadline" : NULL;
    if (now - cn->since_ms > g->request_deadline_ms)
        return "request_deadline";
    t = now - cn->headers_ms;
    if (cn->reading && t > SERVE_RATE_GRACE_MS && cn->body_bytes * 1000u < SERVE_MIN_RATE * t)
        return "too_slow";
    if (cn->answer_ms != 0 &&
        now - cn->answer_ms > SERVE_RATE_GRACE_MS + cn->answer_len * 1000u / SERVE_MIN_RATE)
        return "too_slow";
    return NULL;
}

static void *guard_run(void *arg)
{
    struct server *sv = arg;
    struct guard *g = &sv->guard;

    while (!atomic_load(&g->stop)) {
        struct timespec tick = {0, SERVE_SWEEP_MS * 1000L * 1000L};
        struct conn *cn;
        uint64_t now;

        nanosleep(&tick, NULL);
        now = mono_ms();
        pthread_mutex_lock(&g->mu);
        for (cn = g->head; cn != NULL; cn = cn->next) {
            const char *why = cn->cut == NULL ? overdue(g, cn, now) : NULL;
            if (why != NULL && cn->fd != MHD_INVALID_SOCKET) {
                cn->cut = why;
                (void)shutdown(cn->fd, SHUT_RDWR); /* the fd stays open until "closed" */
            }
        }
        pthread_mutex_unlock(&g->mu);
        pthread_mutex_lock(&sv->log_mu); /* a window's summary, even once the flood is over */
        (void)logsum_flush(&sv->logsum, now, 0, stderr);
        pthread_mutex_unlock(&sv->log_mu);
    }
    return NULL;
}

/* libmicrohttpd's notices of a connection's start and close: list and unlist it. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct server *sv = cls;
    struct guard *g = &sv->guard;
    struct conn *cn;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ad =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

        cn = xcalloc(1, sizeof *cn);
        cn->fd = fd != NULL ? fd->connect_fd : MHD_INVALID_SOCKET;
        if (cn->fd != MHD_INVALID_SOCKET)
            (void)hq_listen_tune(cn->fd); /* a socket that refuses is only slower */
        addr_key_of(&cn->addr, ad != NULL ? ad->client_addr : NULL);
        cn->since_ms = mono_ms();
        pthread_mutex_lock(&g->mu);
        cn->next = g->head;
        if (g->head != NULL)
            g->head->prev = cn;
        g->head = cn;
        pthread_mutex_unlock(&g->mu);
        *socket_context = cn;
        return;
    }
    cn = *socket_context;
    if (cn == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    if (cn->prev != NULL)
        cn->prev->next = cn->next;
    else
        g->head = cn->next;
    if (cn->next != NULL)
        cn->next->prev = cn->prev;
    pthread_mutex_unlock(&g->mu);
    x_free(cn);
    *socket_context = NULL;
}

static struct request *request_new(struct MHD_Connection *c, const char *url, const char *method)
{
    struct request *rq = xcalloc(1, sizeof *rq);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    clock_gettime(CLOCK_MONOTONIC, &rq->start);
    rq->start_wall = time_now_ms();
    log_text(rq->method, sizeof rq->method, method, LOG_METHOD_MAX);
    log_text(rq->path, sizeof rq->path, url, LOG_PATH_MAX);
    if (strcmp(url, "/v1/health") == 0)
        rq->route = ROUTE_HEALTH;
    else if (strcmp(url, "/v1/sync") == 0)
        rq->route = ROUTE_SYNC;
    else if (strncmp(url, ORDER_PREFIX, strlen(ORDER_PREFIX)) == 0) {
        rq->route = ROUTE_ORDER;
        log_text(rq->path, sizeof rq->path, ORDER_PREFIX,
                 LOG_PATH_MAX); /* the id goes in device= */
    } else
        rq->route = ROUTE_NONE;
    rq->sync_post = rq->route == ROUTE_SYNC && strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    buf_init(&rq->body, ENV_MAX);
    str_copy(rq->device, "-", sizeof rq->device);
    str_copy(rq->post, "-", sizeof rq->post);
    rq->conn = ci != NULL ? ci->socket_context : NULL;
    if (rq->conn != NULL)
        rq->addr = rq->conn->addr;
    return rq;
}

static void request_free(struct server *sv, struct request *rq)
{
    budget_give(&sv->guard, &rq->addr, rq->reserved);
    buf_release(&rq->body);
    x_free(rq);
}

/* 1 if rq's line is written whatever the rate: an authenticated device's change set (taken,
 * replayed or quarantined) or a server fault. Anything a stranger can cause is a refusal,
 * rate-limited and summarised per address and reason (hq/serve_log.h). */
static int always_logged(const struct request *rq)
{
    if (rq->route == ROUTE_ORDER) /* a wipe order relayed */
        return rq->status == MHD_HTTP_OK;
    if (rq->route != ROUTE_SYNC)
        return 0;
    if (rq->status == MHD_HTTP_OK || rq->status == 422)
        return 1;
    return rq->status >= 500 && strcmp(rq->verdict, "busy") != 0;
}

/* The client address as text, for summaries ("-" if unknown). */
static const char *addr_text(const struct addr_key *k, char *out, size_t n)
{
    if (k->family == 0 || inet_ntop(k->family, k->ip, out, (socklen_t)n) == NULL)
        str_copy(out, "-", n);
    return out;
}

/* The request's line, written whole under the lock, unless it is a refusal over the rate. */
static void request_log(struct server *sv, const struct request *rq)
{
    char addr[LOGSUM_ADDR_MAX];
    struct timespec now;
    time_t secs = (time_t)(rq->start_wall / 1000);
    struct tm tm;
    char when[32];
    char line[1024];
    double ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (double)(now.tv_sec - rq->start.tv_sec) * 1000.0 +
         (double)(now.tv_nsec - rq->start.tv_nsec) / 1e6;
    gmtime_r(&secs, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(line, sizeof line,
             "mrf-hq: %s.%03uZ %s %s %u device=%s post=%s ops=%lld/%lld/%lld verdict=%s "
             "ms=%.1f\n",
             when, (unsigned)(rq->start_wall % 1000), rq->method, rq->path, rq->status, rq->device,
             rq->post, (long long)rq->ops_in, (long long)rq->ops_applied, (long long)rq->ops_out,
             rq->verdict, ms);
    pthread_mutex_lock(&sv->log_mu);
    if (always_logged(rq) || logsum_admit(&sv->logsum, addr_text(&rq->addr, addr, sizeof addr),
                                          rq->verdict, mono_ms(), stderr)) {
        fputs(line, stderr);
        fflush(stderr);
    }
    pthread_mutex_unlock(&sv->log_mu);
}

/* libmicrohttpd's own messages (bind failures, TLS setup, protocol errors, connections over
 * a limit), one line each under the same lock; they name no request content. A flood of
 * connections would make one line each: past SERVE_MHD_LOG_PER_MIN lines in a minute the
 * rest are counted, and the count is logged with the first line of a later minute. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct server *sv = cls;
    struct guard *g = &sv->guard;
    char msg[512], safe[LOG_TEXT(400)];
    size_t n;
    uint64_t now;

    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_text_sp(safe, sizeof safe, msg, 400, 1);
    now = mono_ms();
    pthread_mutex_lock(&sv->log_mu);
    if (now - g->mhd_window_ms >= 60000) {
        if (g->mhd_dropped > 0)
            fprintf(stderr,
                    "mrf-hq: serve: %u more libmicrohttpd messages in the last minute "
                    "not logged\n",
                    g->mhd_dropped);
        g->mhd_window_ms = now;
        g->mhd_lines = 0;
        g->mhd_dropped = 0;
    }
    if (g->mhd_lines < SERVE_MHD_LOG_PER_MIN) {
        g->mhd_lines++;
        fprintf(stderr, "mrf-hq: serve: %s\n", safe);
        fflush(stderr);
    } else {
        g->mhd_dropped++;
    }
    pthread_mutex_unlock(&sv->log_mu);
}

/* ---- answers ----------------------------------------------------------------------------- */

/* Queues an answer and records its status and verdict for the log. mode says whether
 * libmicrohttpd copies data (MHD_RESPMEM_MUST_COPY) or it lives forever (PERSISTENT). */
static enum MHD_Result answer(struct server *sv, struct MHD_Connection *c, struct request *rq,
                              unsigned status, const char *verdict, const char *ctype,
                              const void *data, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp;
    enum MHD_Result r = MHD_YES;

    resp = MHD_create_response_from_buffer(len, (void *)data, mode);
    if (resp == NULL)
        return MHD_NO;
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES)
        r = MHD_NO;
    if (r == MHD_YES && status == MHD_HTTP_METHOD_NOT_ALLOWED)
        r = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                    rq->route == ROUTE_SYNC ? "POST" : "GET, HEAD");
    /* While draining, a keep-alive connection must not start another request; nor may one
     * whose next request would start where a doubtful Content-Length says. */
    if (r == MHD_YES && (atomic_load(&sv->draining) || rq->must_close))
        r = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (r == MHD_YES && status == MHD_HTTP_SERVICE_UNAVAILABLE)
        r = MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "30");
    if (r == MHD_YES && status == MHD_HTTP_TOO_MANY_REQUESTS && rq->retry_after > 0) {
        char after[24];
        snprintf(after, sizeof after, "%lld", (long long)rq->retry_after);
        r = MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, after);
    }
    if (r == MHD_YES)
        r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    if (r == MHD_YES) {
        rq->status = status;
        if (rq->conn != NULL) {
            pthread_mutex_lock(&sv->guard.mu);
            rq->conn->reading = 0;
            rq->conn->answer_ms = mono_ms();
            rq->conn->answer_len = len;
            pthread_mutex_unlock(&sv->guard.mu);
        }
        log_text(rq->verdict, sizeof rq->verdict, verdict, LOG_REASON_MAX);
    }
    return r;
}

static enum MHD_Result answer_text(struct server *sv, struct MHD_Connection *c, struct request *rq,
                                   unsigned status, const char *code)
{
    static const char *const bodies[][2] = {
        {"ok", "ok\n"},
        {"not_found", "not_found\n"},
        {"no_order", "no_order\n"},
        {"method_not_allowed", "method_not_allowed\n"},
        {"too_large", "too_large\n"},
        {"store_error", "store_error\n"},
        {"duplicate_length", "duplicate_length: more than one Content-Length header\n"},
        {"busy", "busy: too many request bodies in flight; retry later\n"},
        {"disk_full", "disk_full: the last change set could not be stored: the disk is full\n"},
        {"disk_low", "disk_full: less than 8 MiB free on the disk that holds the HQ store\n"},
    };
    size_t i;

    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        if (strcmp(bodies[i][0], code) == 0)
            break;
    assert(i < sizeof bodies / sizeof bodies[0]);
    return answer(sv, c, rq, status, code, "text/plain", bodies[i][1], strlen(bodies[i][1]),
                  MHD_RESPMEM_PERSISTENT);
}

/* 1 if the Content-Length header says more than max bytes (libmicrohttpd has already refused
 * a malformed one). OUT: *len, its value if at most max, else 0 (also without the header). */
static int declared_over(struct MHD_Connection *c, size_t max, uint64_t *len)
{
    const char *s = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t v = 0;

    *len = 0;
    if (s == NULL)
        return 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > max)
            return 1;
    }
    *len = v;
    return 0;
}

/* Counts the Content-Length headers of a request, for MHD_get_connection_values (which
 * compares names without case and lists every repeated header). */
static enum MHD_Result count_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    unsigned *n = cls;

    (void)kind;
    (void)value;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        (*n)++;
    return MHD_YES;
}

/* ---- the handlers ------------------------------------------------------------------------ */

/* 1 if the request announces a body (libmicrohttpd has already refused a malformed one). */
static int has_body(struct MHD_Connection *c)
{
    const char *len =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

    return (len != NULL && strcmp(len, "0") != 0) ||
           MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
               NULL;
}

/* GET /v1/order/<device id hex>: the wipe order HQ's officer signed for that device, as it
 * was stored (200), or 404 "no_order" (also for an id that names no device, so the answer
 * says nothing about which devices exist). The order is not secret and not HQ's to judge: the
 * device checks the officer's signature. Noted as relayed the first time. */
static enum MHD_Result answer_order(struct server *sv, struct MHD_Connection *c, struct request *rq,
                                    const char *url)
{
    uint8_t device[MRF_ID], order[WIPE_ORDER_LEN];
    struct hqstore *st = NULL;
    struct mrf_error err;
    int found = 0;
    enum mrf_status rc;

    url += strlen(ORDER_PREFIX);
    if (strlen(url) != 2 * MRF_ID || hex_decode(url, device, MRF_ID) != MRF_OK)
        return answer_text(sv, c, rq, MHD_HTTP_NOT_FOUND, "not_found");
    log_text(rq->device, sizeof rq->device, url, 16);
    mrf_error_clear(&err);
    rc = hq_pool_checkout(&sv->pool, &st, &err);
    if (rc == MRF_OK) {
        rc = hqstore_wipe_order_get(st, device, order, &found, (int64_t)(time_now_ms() / 1000));
        if (rc != MRF_OK)
            str_copy(err.msg, hqstore_errmsg(st), sizeof err.msg);
        hq_pool_checkin(&sv->pool, st);
    }
    if (rc != MRF_OK) {
        pthread_mutex_lock(&sv->log_mu);
        fprintf(stderr, "mrf-hq: serve: cannot read wipe orders: %s\n", err.msg);
        pthread_mutex_unlock(&sv->log_mu);
        return answer_text(sv, c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "store_error");
    }
    if (!found)
        return answer_text(sv, c, rq, MHD_HTTP_NOT_FOUND, "no_order");
    return answer(sv, c, rq, MHD_HTTP_OK, "wipe_order", "application/octet-stream", order,
                  sizeof order, MHD_RESPMEM_MUST_COPY);
}

/* The answer to everything but POST /v1/sync. */
static enum MHD_Result answer_route(struct server *sv, struct MHD_Connection *c, struct request *rq,
                                    const char *method, const char *url)
{
    if (rq->route == ROUTE_NONE)
        return answer_text(sv, c, rq, MHD_HTTP_NOT_FOUND, "not_found");
    if (rq->route == ROUTE_ORDER && strcmp(method, MHD_HTTP_METHOD_GET) == 0)
        return answer_order(sv, c, rq, url);
    if (rq->route == ROUTE_HEALTH &&
        (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)) {
        struct statvfs fs;
        if (atomic_load(&sv->disk_full))
            return answer_text(sv, c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "disk_full");
        if (statvfs(sv->home, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize < SERVE_DISK_LOW)
            return answer_text(sv, c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "disk_low");
        return answer_text(sv, c, rq, MHD_HTTP_OK, "ok");
    }
    return answer_text(sv, c, rq, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed");
}

/* First call for a request (headers read, no body yet). A request with two Content-Length
 * headers, a body nobody wants, or one that Content-Length says is too large, is refused
 * here, unread (libmicrohttpd then closes the
 * connection); anything else is answered at the last call, so keep-alive survives. */
static enum MHD_Result on_headers(struct server *sv, struct MHD_Connection *c, struct request *rq,
                                  const char *method, const char *url)
{
    unsigned lengths = 0;
    uint64_t declared = 0;

    if (rq->conn != NULL) {
        pthread_mutex_lock(&sv->guard.mu);
        rq->conn->headers_ms = mono_ms();
        rq->conn->reading = rq->sync_post && has_body(c);
        pthread_mutex_unlock(&sv->guard.mu);
    }
    /* libmicrohttpd would believe the first; a proxy in front might believe another and
     * frame the connection differently (request smuggling). Equal ones are refused too:
     * no client of ours sends two. */
    (void)MHD_get_connection_values(c, MHD_HEADER_KIND, count_length, &lengths);
    if (lengths > 1) {
        rq->must_close = 1;
        return answer_text(sv, c, rq, MHD_HTTP_BAD_REQUEST, "duplicate_length");
    }
    if (rq->sync_post) {
        if (declared_over(c, ENV_MAX, &declared))
            return answer_text(sv, c, rq, MHD_HTTP_CONTENT_TOO_LARGE, "too_large");
        /* The whole declared body is reserved now, or refused unread: a client cannot pin
         * memory past the budgets (a chunked body reserves as it comes, in on_body). */
        if (!budget_take(&sv->guard, &rq->addr, (size_t)declared)) {
            rq->must_close = 1;
            return answer_text(sv, c, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "busy");
        }
        rq->reserved = (size_t)declared;
        return MHD_YES;
    }
    if (has_body(c))
        return answer_route(sv, c, rq, method, url); /* a body without POST is ignored */
    return MHD_YES;
}

/* One piece of the body. Returns 0 to hang up on a client that keeps sending far past the
 * cap, or whose body (chunked) would pass the budgets. */
static int on_body(struct server *sv, struct request *rq, const char *data, size_t n)
{
    if (rq->conn != NULL) {
        pthread_mutex_lock(&sv->guard.mu);
        rq->conn->body_bytes += n;
        pthread_mutex_unlock(&sv->guard.mu);
    }
    if (rq->sync_post && rq->status == 0 && !rq->too_large && rq->body.len + n > rq->reserved &&
        rq->body.len + n <= ENV_MAX) {
        size_t more = rq->body.len + n - rq->reserved;
        if (!budget_take(&sv->guard, &rq->addr, more)) {
            rq->over_budget = 1;
            return 0;
        }
        rq->reserved += more;
    }
    if (rq->sync_post && rq->status == 0 && !rq->too_large) {
        if (buf_append(&rq->body, data, n) == MRF_OK)
            return 1;
        rq->too_large = 1;
        rq->discarded = rq->body.len;
        buf_release(&rq->body);
    }
    rq->discarded += n;
    return rq->discarded <= SERVE_DISCARD_MAX;
}

/* The whole body of a POST /v1/sync is in: ingest it and answer. */
static enum MHD_Result on_sync(struct server *sv, struct MHD_Connection *c, struct request *rq)
{
    struct hqstore *st = NULL;
    struct ingest_result res;
    struct mrf_error err;
    enum mrf_status rc;
    enum MHD_Result r;
    const uint8_t *body = (const uint8_t *)(rq->body.data != NULL ? rq->body.data : "");

    if (rq->too_large)
        return answer_text(sv, c, rq, MHD_HTTP_CONTENT_TOO_LARGE, "too_large");

    mrf_error_clear(&err);
    rc = hq_pool_checkout(&sv->pool, &st, &err);
    if (rc != MRF_OK) {
        pthread_mutex_lock(&sv->log_mu);
        fprintf(stderr, "mrf-hq: serve: cannot open the HQ store for a worker: %s\n", err.msg);
        pthread_mutex_unlock(&sv->log_mu);
        return answer_text(sv, c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "store_error");
    }
    ingest_result_init(&res);
    rc = hq_ingest(st, &sv->id, body, rq->body.len, &res);
    hq_pool_checkin(&sv->pool, st);
    buf_release(&rq->body);
    budget_give(&sv->guard, &rq->addr, rq->reserved);
    rq->reserved = 0;

    if (rc != MRF_OK || res.http_status < 200 || res.http_status > 599) {
        r = answer_text(sv, c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "store_error");
    } else {
        log_text(rq->device, sizeof rq->device, res.device, 16);
        log_text(rq->post, sizeof rq->post, res.post, 15);
        rq->ops_in = res.ops_in;
        rq->ops_applied = res.ops_applied;
        rq->ops_out = res.ops_out;
        if (res.http_status == MHD_HTTP_OK)
            atomic_store(&sv->disk_full, 0);
        else if (res.http_status == MHD_HTTP_SERVICE_UNAVAILABLE)
            atomic_store(&sv->disk_full, 1); /* hq_ingest's one 503 */
        rq->retry_after = res.retry_after;
        r = answer(sv, c, rq, res.http_status, res.reason != NULL ? res.reason : "-",
                   res.http_status == 200 || res.http_status == 422 ? "application/octet-stream"
                                                                    : "text/plain",
                   res.response.data != NULL ? res.response.data : "", res.response.len,
                   MHD_RESPMEM_MUST_COPY);
    }
    ingest_result_release(&res);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    struct server *sv = cls;
    struct request *rq = *con_cls;

    (void)version;
    if (rq == NULL) {
        rq = request_new(c, url, method);
        *con_cls = rq;
        atomic_fetch_add(&sv->in_flight, 1);
        return on_headers(sv, c, rq, method, url);
    }
    if (*upload_size != 0) {
        int keep = on_body(sv, rq, upload_data, *upload_size);
        *upload_size = 0;
        return keep ? MHD_YES : MHD_NO;
    }
    if (rq->status != 0)
        return MHD_YES; /* answered at the first call */
    return rq->sync_post ? on_sync(sv, c, rq) : answer_route(sv, c, rq, method, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct server *sv = cls;
    struct request *rq = *con_cls;

    const char *cut = NULL;

    (void)c;
    if (rq == NULL)
        return;
    if (rq->conn != NULL) { /* the next request's deadlines count from now */
        pthread_mutex_lock(&sv->guard.mu);
        cut = rq->conn->cut;
        rq->conn->since_ms = mono_ms();
        rq->conn->headers_ms = 0;
        rq->conn->body_bytes = 0;
        rq->conn->reading = 0;
        rq->conn->answer_ms = 0;
        rq->conn->answer_len = 0;
        pthread_mutex_unlock(&sv->guard.mu);
    }
    if (cut != NULL && rq->status != 0) {
        log_text(rq->verdict, sizeof rq->verdict, cut, LOG_REASON_MAX); /* answer unsent */
    } else if (rq->status == 0) {
        const char *why = cut != NULL                                          ? cut
                          : rq->over_budget                                    ? "busy"
                          : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED      ? "timeout"
                          : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN      ? "shutdown"
                          : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT         ? "client_gone"
                          : toe == MHD_REQUEST_TERMINATED_READ_ERROR           ? "client_gone"
                          : rq->too_large && rq->discarded > SERVE_DISCARD_MAX ? "too_large"
                                                                               : "error";
        str_copy(rq->verdict, why, sizeof rq->verdict);
    }
    request_log(sv, rq);
    request_free(sv, rq);
    *con_cls = NULL;
    atomic_fetch_sub(&sv->in_flight, 1);
}

/* ---- the command ------------------------------------------------------------------------- */

static unsigned worker_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < SERVE_THREADS_MIN)
        n = SERVE_THREADS_MIN;
    if (n > SERVE_THREADS_MAX)
        n = SERVE_THREADS_MAX;
    return (unsigned)n;
}

/* Checks that hq.keys and tls/cert.pem are the ones this HQ was set up with: devices hold
 * HQ's public keys and the certificate's pin from their tokens and would refuse others. */
static enum mrf_status check_identity(struct cli_ctx *ctx, const struct hq_identity *id,
                                      const uint8_t *cert, size_t cert_len)
{
    char pin[TLSCERT_PIN_MAX];
    enum mrf_status rc;

    if (sodium_memcmp(id->keys->pub.sign_pk, id->cfg.hq.sign_pk, MRF_SIGN_PK) != 0 ||
        sodium_memcmp(id->keys->pub.box_pk, id->cfg.hq.box_pk, MRF_BOX_PK) != 0)
        return mrf_error_set(&ctx->err, MRF_E_STATE,
                             "%s does not hold the keys this HQ store was set up with; restore "
                             "the right %s",
                             HQ_KEYS_FILE, HQ_KEYS_FILE);
    rc = tlscert_pin((const char *)cert, cert_len, pin, &ctx->err);
    if (rc != MRF_OK)
        return rc;
    if (strcmp(pin, id->cfg.tls_pin) != 0)
        return mrf_error_set(&ctx->err, MRF_E_STATE,
                             "%s is not the certificate devices were given at enrollment; "
                             "restore the original %s and %s",
                             HQ_TLS_CERT_FILE, HQ_TLS_CERT_FILE, HQ_TLS_KEY_FILE);
    return MRF_OK;
}

static int serve_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    enum mrf_status rc = MRF_OK;
    const char *listen_s = cli_get(a, "listen");
    const char *per_addr_s = cli_get(a, "per-address");
    const char *hdl_s = cli_get(a, "header-deadline");
    const char *rql_s = cli_get(a, "request-deadline");
    const char *sum_s = cli_get(a, "summary-every");
    int64_t per_addr = SERVE_PER_ADDRESS_DEFAULT, hdl = SERVE_HEADER_DEADLINE_S,
            rql = SERVE_REQUEST_DEADLINE_S, sum = SERVE_SUMMARY_S;
    int guard_ready = 0;
    struct server sv;
    struct hq_listen la;
    struct hqstore *st = NULL;
    struct MHD_Daemon *d = NULL;
    char *p_keys = NULL, *p_cert = NULL, *p_key = NULL;
    uint8_t *cert = NULL, *key = NULL;
    size_t cert_len = 0, key_len = 0;
    unsigned threads = worker_count(), flags;
    sigset_t sigs, old_sigs;
    int pool_ready = 0, sig = 0;
    uint64_t deadline;
    MHD_socket lsock = MHD_INVALID_SOCKET;

    memset(&sv, 0, sizeof sv);
    sv.home = ctx->home;
    pthread_mutex_init(&sv.log_mu, NULL);
    atomic_init(&sv.in_flight, 0);
    atomic_init(&sv.draining, 0);
    atomic_init(&sv.disk_full, 0);
    pthread_mutex_init(&sv.guard.mu, NULL);
    atomic_init(&sv.guard.stop, 0);

    if (per_addr_s != NULL && parse_int64(per_addr_s, 1, SERVE_CONN_LIMIT, &per_addr) != MRF_OK) {
        rc = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           "--per-address must be a whole number of connections from 1 to %u",
                           SERVE_CONN_LIMIT);
        goto out;
    }
    if (hdl_s != NULL && parse_int64(hdl_s, 1, 3600, &hdl) != MRF_OK) {
        rc = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           "--header-deadline must be a whole number of seconds from 1 to 3600");
        goto out;
    }
    if (rql_s != NULL && parse_int64(rql_s, 1, 3600, &rql) != MRF_OK) {
        rc = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           "--request-deadline must be a whole number of seconds from 1 to 3600");
        goto out;
    }
    if (sum_s != NULL && parse_int64(sum_s, 1, 3600, &sum) != MRF_OK) {
        rc = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           "--summary-every must be a whole number of seconds from 1 to 3600");
        goto out;
    }
    logsum_init(&sv.logsum, (uint64_t)sum * 1000u, mono_ms());
    sv.guard.header_deadline_ms = (uint64_t)hdl * 1000u;
    sv.guard.request_deadline_ms = (uint64_t)rql * 1000u;

    if (listen_s != NULL) {
        rc = hq_listen_parse(listen_s, &la, &ctx->err);
        if (rc != MRF_OK)
            goto out;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        rc = mrf_error_set(&ctx->err, MRF_E_UNAVAILABLE,
                           "this libmicrohttpd was built without HTTPS; install one with GnuTLS");
        goto out;
    }

    rc = hqstore_open(ctx->home, HQSTORE_EXISTING, &st, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    rc = hqstore_config_get(st, &sv.id.cfg);
    if (rc != MRF_OK) {
        rc = mrf_error_set(&ctx->err, rc, "%s", hqstore_errmsg(st));
        goto out;
    }
    if (listen_s == NULL) {
        struct hq_url u;
        rc = hq_url_parse(sv.id.cfg.url, &u, &ctx->err);
        if (rc != MRF_OK)
            goto out;
        hq_listen_any(&la, (uint16_t)u.port);
    }

    p_keys = hq_path(ctx->home, HQ_KEYS_FILE);
    rc = hqkeys_load(p_keys, &sv.id.keys, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    p_cert = hq_path(ctx->home, HQ_TLS_CERT_FILE);
    p_key = hq_path(ctx->home, HQ_TLS_KEY_FILE);
    rc = file_read_all(p_cert, SERVE_TLS_FILE_MAX, &cert, &cert_len, &ctx->err);
    if (rc == MRF_OK)
        rc = file_read_all(p_key, SERVE_TLS_FILE_MAX, &key, &key_len, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    rc = check_identity(ctx, &sv.id, cert, cert_len);
    if (rc != MRF_OK)
        goto out;

    hq_pool_init(&sv.pool, ctx->home, threads);
    pool_ready = 1;
    hq_pool_give(&sv.pool, st);
    st = NULL;

    /* Workers inherit the mask: only this thread ever sees SIGTERM and SIGINT. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, &old_sigs);
    signal(SIGPIPE, SIG_IGN);

    flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC |
            MHD_USE_ERROR_LOG;
    if (la.family == AF_INET6)
        flags |= la.dual ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
    d = MHD_start_daemon(
        flags, la.port, NULL, NULL, on_request, &sv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &sv,
        MHD_OPTION_SOCK_ADDR,
        la.family == AF_INET ? (struct sockaddr *)&la.v4 : (struct sockaddr *)&la.v6,
        MHD_OPTION_HTTPS_MEM_CERT, (const char *)cert, MHD_OPTION_HTTPS_MEM_KEY, (const char *)key,
        MHD_OPTION_HTTPS_PRIORITIES, SERVE_TLS_PRIORITIES, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, SERVE_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        SERVE_CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SERVE_CONN_MEMORY,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)per_addr, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, &sv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &sv, MHD_OPTION_END);
    sodium_memzero(key, key_len); /* GnuTLS holds its own copy now */
    if (d == NULL) {
        pthread_sigmask(SIG_SETMASK, &old_sigs, NULL);
        rc = hq_listen_failed(&la, &ctx->err);
        goto out;
    }

    if (pthread_create(&sv.guard.thread, NULL, guard_run, &sv) != 0) {
        rc = mrf_error_set(&ctx->err, MRF_E_IO, "cannot start the connection guard thread");
        MHD_stop_daemon(d);
        d = NULL;
        goto out;
    }
    guard_ready = 1;

    pthread_mutex_lock(&sv.log_mu);
    fprintf(stderr, "mrf-hq: serving https://%s (%u threads)\n", la.text, threads);
    fflush(stderr);
    pthread_mutex_unlock(&sv.log_mu);

    while (sigwait(&sigs, &sig) != 0)
        ;

    /* Drain: no new connections; answers close theirs; wait for requests in flight. */
    atomic_store(&sv.draining, 1);
    lsock = MHD_quiesce_daemon(d);
    /* The socket stays open until MHD_stop_daemon, but stops listening now, so clients are
     * refused at once (and retry later) rather than wait in the backlog. */
    if (lsock != MHD_INVALID_SOCKET)
        (void)shutdown(lsock, SHUT_RDWR);
    deadline = time_now_ms() + SERVE_DRAIN_MS;
    while (atomic_load(&sv.in_flight) > 0 && time_now_ms() < deadline) {
        struct timespec tick = {0, 50 * 1000 * 1000};
        if (sigtimedwait(&sigs, NULL, &tick) > 0)
            break; /* a second signal: stop now */
    }
    if (atomic_load(&sv.in_flight) > 0) {
        pthread_mutex_lock(&sv.log_mu);
        fprintf(stderr, "mrf-hq: serve: stopping with %d request(s) unfinished\n",
                atomic_load(&sv.in_flight));
        pthread_mutex_unlock(&sv.log_mu);
    }
    MHD_stop_daemon(d);
    d = NULL;
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    /* SIGTERM and SIGINT stay blocked: a late one must not kill us before "stopped". */

out:
    if (guard_ready) {
        atomic_store(&sv.guard.stop, 1);
        pthread_join(sv.guard.thread, NULL);
    }
    if (pool_ready)
        hq_pool_release(&sv.pool);
    if (rc == MRF_OK) {
        (void)logsum_flush(&sv.logsum, mono_ms(), 1, stderr);
        fprintf(stderr, "mrf-hq: stopped\n");
        fflush(stderr);
    }
    if (key != NULL)
        sodium_memzero(key, key_len);
    x_free(key);
    x_free(cert);
    x_free(p_key);
    x_free(p_cert);
    x_free(p_keys);
    mrf_secrets_free(sv.id.keys);
    hqstore_close(st);
    pthread_mutex_destroy(&sv.guard.mu);
    pthread_mutex_destroy(&sv.log_mu);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_serve = {
    "serve",
    "[--listen ADDR:PORT] [--per-address N] [--header-deadline SECS] [--request-deadline SECS] "
    "[--summary-every SECS]",
    "run the HTTPS server for devices until SIGTERM or SIGINT, then drain and stop",
    0,
    0,
    {{"listen", 1,
      "IPV4:PORT or [IPV6]:PORT to listen on (default: every address, the port of HQ's URL)"},
     {"per-address", 1, "connections at once from one client address (default 16)"},
     {"header-deadline", 1,
      "seconds from connect, or the previous answer, to a request's headers (default 15)"},
     {"request-deadline", 1,
      "seconds from connect, or the previous answer, to a whole request answered (default 120)"},
     {"summary-every", 1,
      "seconds per window of refused requests: a few logged in full per address, the rest "
      "summarised per address and reason at its end (default 60)"},
     {NULL, 0, NULL}},
    serve_exec,
    CMD_WRITES,
};

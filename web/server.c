/* The loopback web server of both programs' faces (libmicrohttpd, one internal thread) and
 * the guards every request passes before a handler sees it, in this order: the Host header
 * (127.0.0.1:PORT or localhost:PORT, against DNS rebinding); the method (GET, HEAD, POST); the
 * secret token, from the printed URL's query (answered with a cookie and a redirect to the same
 * path without it) or from the cookie; for a POST, Origin and Sec-Fetch-Site (this origin only
 * when a browser sends them), an urlencoded body of at most WEB_BODY_MAX bytes, and the
 * session's CSRF token in its "csrf" field. A refusal is a short plain-text answer and one
 * stderr line naming the guard, never a header value or a body. Every answer carries the same
 * security headers (see security_headers). Bodies are read into guarded memory (sodium_malloc)
 * and wiped once the handler has answered; answers are wiped when libmicrohttpd frees them,
 * since a page may hold a revealed name. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>
#include <sodium.h>

#include "mrfweb.h"

#define WEB_CONN_LIMIT 64u
#define WEB_CONN_TIMEOUT_S 60u
#define WEB_TOKEN_BYTES 32
#define WEB_DRAIN_MS 2000
#define WEB_TICK_MS 250

/* Sent with every answer. No script or style but our own files, no frames, no referrer, no
 * caching anywhere (a page may show a revealed name), no sniffing, no cross-origin use. */
static const char *const security_headers[][2] = {
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
     "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
    {MHD_HTTP_HEADER_CACHE_CONTROL, "no-store"},
    {"Pragma", "no-cache"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Content-Type-Options", "nosniff"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
    {"Permissions-Policy", "camera=(), microphone=(), geolocation=()"},
};

struct web_server {
    struct web_config cfg;
    struct MHD_Daemon *d;
    uint16_t port;
    char token[2 * WEB_TOKEN_BYTES + 1];
    char csrf[2 * WEB_TOKEN_BYTES + 1];
    char cookie_name[32];
    char url[160];
    sigset_t sigs;
    atomic_int quit;
    atomic_int in_flight;
};

/* One request between its first and last callback. */
struct request {
    int answered; /* a guard answered at the headers */
    int is_post;
    int too_large;
    char *body; /* sodium_malloc(WEB_BODY_MAX + 1), POST only */
    size_t len;
};

/* A response body handed to libmicrohttpd: wiped and freed when it is done with it. */
struct owned_body {
    char *data;
    size_t len;
};

static void owned_free(void *cls)
{
    struct owned_body *o = cls;

    if (o->data)
        sodium_memzero(o->data, o->len);
    x_free(o->data);
    x_free(o);
}

static void refusal_log(const struct web_server *srv, const char *method, const char *why)
{
    fprintf(stderr, "%s: refused a %.8s request: %s\n", srv->cfg.name, method, why);
}

/* Queues an answer with the security headers. body is copied into memory wiped when freed. */
static enum MHD_Result answer(struct web_server *srv, struct MHD_Connection *c, unsigned status,
                              const char *ctype, const char *body, size_t len, const char *location,
                              int set_cookie, const char *filename)
{
    struct owned_body *o = xcalloc(1, sizeof *o);
    struct MHD_Response *r;
    enum MHD_Result ok = MHD_YES;

    o->len = len;
    o->data = xmalloc(len + 1);
    memcpy(o->data, body, len);
    r = MHD_create_response_from_buffer_with_free_callback_cls(len, o->data, owned_free, o);
    if (r == NULL) {
        owned_free(o);
        return MHD_NO;
    }
    for (size_t i = 0; ok == MHD_YES && i < sizeof security_headers / sizeof *security_headers; i++)
        ok = MHD_add_response_header(r, security_headers[i][0], security_headers[i][1]);
    if (ok == MHD_YES)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (ok == MHD_YES && location)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
    if (ok == MHD_YES && filename && filename[0]) {
        char cd[128];
        snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", filename);
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, cd);
    }
    if (ok == MHD_YES && set_cookie) {
        char cookie[160];
        snprintf(cookie, sizeof cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict",
                 srv->cookie_name, srv->token);
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
        sodium_memzero(cookie, sizeof cookie);
    }
    if (ok == MHD_YES)
        ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result refuse(struct web_server *srv, struct MHD_Connection *c, const char *method,
                              unsigned status, const char *why)
{
    char text[160];

    refusal_log(srv, method, why);
    snprintf(text, sizeof text, "refused: %s\n", why);
    return answer(srv, c, status, "text/plain; charset=utf-8", text, strlen(text), NULL, 0, NULL);
}

/* 1 if s (may be NULL) equals the secret want, compared in constant time. */
static int secret_eq(const char *s, const char *want)
{
    size_t n = strlen(want);

    return s != NULL && strlen(s) == n && sodium_memcmp(s, want, n) == 0;
}

int web_host_ok(const char *host, uint16_t port)
{
    char a[32], b[32];

    if (host == NULL)
        return 0;
    snprintf(a, sizeof a, "127.0.0.1:%u", (unsigned)port);
    snprintf(b, sizeof b, "localhost:%u", (unsigned)port);
    return strcmp(host, a) == 0 || strcasecmp(host, b) == 0;
}

/* A browser's Origin, when it sends one, must be this server's. */
static int origin_ok(const struct web_server *srv, const char *origin)
{
    char a[48], b[48];

    if (origin == NULL)
        return 1;
    snprintf(a, sizeof a, "http://127.0.0.1:%u", (unsigned)srv->port);
    snprintf(b, sizeof b, "http://localhost:%u", (unsigned)srv->port);
    return strcmp(origin, a) == 0 || strcasecmp(origin, b) == 0;
}

/* The guards that need headers only. Returns 1 and answers if the request is refused (or
 * redirected to drop the token from the URL). */
static int guard_headers(struct web_server *srv, struct MHD_Connection *c, const char *url,
                         const char *method, enum MHD_Result *r)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    const char *qtok = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    const char *ctok = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, srv->cookie_name);
    int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

    if (!web_host_ok(host, srv->port)) {
        *r = refuse(srv, c, method, MHD_HTTP_MISDIRECTED_REQUEST,
                    "the Host header is not this server's (127.0.0.1 or localhost)");
        return 1;
    }
    if (!post && strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        *r = refuse(srv, c, method, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and POST are served");
        return 1;
    }
    if (qtok != NULL) {
        if (!secret_eq(qtok, srv->token)) {
            *r = refuse(srv, c, method, MHD_HTTP_FORBIDDEN,
                        "wrong token; open the address the program printed");
            return 1;
        }
        if (!post) { /* keep the token out of the address bar and the history */
            char loc[256];
            snprintf(loc, sizeof loc, "%s", url[0] == '/' ? url : "/");
            *r = answer(srv, c, MHD_HTTP_SEE_OTHER, "text/plain; charset=utf-8", "", 0, loc, 1,
                        NULL);
            return 1;
        }
    } else if (!secret_eq(ctok, srv->token)) {
        *r = refuse(srv, c, method, MHD_HTTP_FORBIDDEN,
                    "no token; open the address the program printed");
        return 1;
    }
    if (post) {
        const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
        const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
        const char *ctype =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        /* Our Referrer-Policy (no-referrer) makes browsers send "Origin: null" with our own
         * forms; Sec-Fetch-Site, which no page can forge, then tells same-origin. */
        int same = site != NULL ? strcmp(site, "same-origin") == 0 &&
                                      (origin_ok(srv, origin) || strcmp(origin, "null") == 0)
                                : origin_ok(srv, origin);
        if (!same) {
            *r = refuse(srv, c, method, MHD_HTTP_FORBIDDEN,
                        "a change must come from this program's own page (cross-site request)");
            return 1;
        }
        if (ctype == NULL || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0) {
            *r = refuse(srv, c, method, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                        "a change is a form (application/x-www-form-urlencoded)");
            return 1;
        }
    }
    return 0;
}

const char *web_query(const struct web_request *rq, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)rq->conn, MHD_GET_ARGUMENT_KIND,
                                       name);
}

static enum MHD_Result serve_asset(struct web_server *srv, struct MHD_Connection *c,
                                   const char *name, const char *method)
{
    const struct web_asset *a = web_asset_find(name);

    if (a == NULL)
        return refuse(srv, c, method, MHD_HTTP_NOT_FOUND, "no such file");
    return answer(srv, c, MHD_HTTP_OK, a->type, (const char *)a->data, a->len, NULL, 0, NULL);
}

/* Runs the handler on a request that passed every guard. */
static enum MHD_Result dispatch(struct web_server *srv, struct MHD_Connection *c, const char *url,
                                const char *method, struct request *q)
{
    struct web_request rq;
    struct web_response resp;
    enum MHD_Result r;

    memset(&rq, 0, sizeof rq);
    rq.srv = srv;
    rq.method = method;
    rq.path = url;
    rq.post = q->is_post;
    rq.conn = c;
    if (q->is_post) {
        if (q->too_large)
            return refuse(srv, c, method, MHD_HTTP_CONTENT_TOO_LARGE,
                          "the form is larger than this program takes");
        if (web_form_parse(q->body ? q->body : (char[1]){0}, q->len, rq.fields, &rq.nfields) !=
            MRF_OK)
            return refuse(srv, c, method, MHD_HTTP_BAD_REQUEST, "the form does not parse");
        if (!secret_eq(web_field(&rq, "csrf"), srv->csrf))
            return refuse(srv, c, method, MHD_HTTP_FORBIDDEN,
                          "the form's CSRF token is missing or wrong; reload the page");
    } else if (strncmp(url, "/assets/", 8) == 0) {
        return serve_asset(srv, c, url + 8, method);
    }
    memset(&resp, 0, sizeof resp);
    buf_init(&resp.body, WEB_PAGE_MAX);
    srv->cfg.handler(srv->cfg.app, &rq, &resp);
    if (resp.location[0] != '\0')
        r = answer(srv, c, MHD_HTTP_SEE_OTHER, "text/plain; charset=utf-8", "", 0, resp.location, 0,
                   NULL);
    else
        r = answer(srv, c, resp.status ? (unsigned)resp.status : MHD_HTTP_OK,
                   resp.content_type ? resp.content_type : "text/html; charset=utf-8",
                   resp.body.data ? resp.body.data : "", resp.body.len, NULL, 0, resp.filename);
    if (resp.body.data)
        sodium_memzero(resp.body.data, resp.body.alloc);
    buf_release(&resp.body);
    sodium_memzero(&rq, sizeof rq);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    struct web_server *srv = cls;
    struct request *q = *con_cls;

    (void)version;
    if (q == NULL) {
        enum MHD_Result r = MHD_YES;
        q = xcalloc(1, sizeof *q);
        *con_cls = q;
        atomic_fetch_add(&srv->in_flight, 1);
        q->is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
        if (guard_headers(srv, c, url, method, &r)) {
            q->answered = 1;
            return r;
        }
        if (q->is_post)
            q->body = xsecure_malloc(WEB_BODY_MAX + 1);
        return MHD_YES;
    }
    if (*upload_size != 0) {
        if (!q->answered && !q->too_large) {
            if (*upload_size > WEB_BODY_MAX - q->len) {
                q->too_large = 1;
            } else {
                memcpy(q->body + q->len, upload_data, *upload_size);
                q->len += *upload_size;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->answered)
        return MHD_YES;
    q->answered = 1;
    return dispatch(srv, c, url, method, q);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct web_server *srv = cls;
    struct request *q = *con_cls;

    (void)c;
    (void)toe;
    if (q == NULL)
        return;
    if (q->body)
        sodium_free(q->body); /* wipes */
    x_free(q);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    const struct web_server *srv = cls;

    fprintf(stderr, "%s: ", srv->cfg.name);
    vfprintf(stderr, fmt, ap);
}

enum mrf_status web_start(const struct web_config *cfg, struct web_server **out,
                          struct mrf_error *err)
{
    struct web_server *srv = xcalloc(1, sizeof *srv);
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;
    uint8_t raw[WEB_TOKEN_BYTES];
    char *hex;

    *out = NULL;
    srv->cfg = *cfg;
    atomic_init(&srv->quit, 0);
    atomic_init(&srv->in_flight, 0);
    randombytes_buf(raw, sizeof raw);
    hex = hex_encode(raw, sizeof raw);
    str_copy(srv->token, hex, sizeof srv->token);
    sodium_memzero(hex, strlen(hex));
    x_free(hex);
    randombytes_buf(raw, sizeof raw);
    hex = hex_encode(raw, sizeof raw);
    str_copy(srv->csrf, hex, sizeof srv->csrf);
    x_free(hex);
    sodium_memzero(raw, sizeof raw);

    /* The handler thread inherits the mask: only web_run ever sees SIGINT and SIGTERM. */
    sigemptyset(&srv->sigs);
    sigaddset(&srv->sigs, SIGINT);
    sigaddset(&srv->sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &srv->sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(cfg->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, WEB_CONN_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, WEB_CONN_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_END);
    if (srv->d == NULL) {
        enum mrf_status st = mrf_error_set(
            err, MRF_E_IO,
            "cannot listen on 127.0.0.1:%u (%s); choose another port with %s, or leave it "
            "out for a free one",
            (unsigned)cfg->port, errno ? strerror(errno) : "in use or not allowed",
            cfg->port_option ? cfg->port_option : "--port");
        sodium_memzero(srv, sizeof *srv);
        x_free(srv);
        return st;
    }
    info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : cfg->port;
    snprintf(srv->cookie_name, sizeof srv->cookie_name, "mrf_%u", (unsigned)srv->port);
    snprintf(srv->url, sizeof srv->url, "http://127.0.0.1:%u/?token=%s", (unsigned)srv->port,
             srv->token);
    *out = srv;
    return MRF_OK;
}

const char *web_url(const struct web_server *srv)
{
    return srv->url;
}

uint16_t web_port(const struct web_server *srv)
{
    return srv->port;
}

const char *web_csrf(const struct web_server *srv)
{
    return srv->csrf;
}

void web_quit(struct web_server *srv)
{
    atomic_store(&srv->quit, 1);
}

int web_run(struct web_server *srv, void (*tick)(void *arg), void *arg)
{
    struct timespec wait = {0, WEB_TICK_MS * 1000L * 1000L};

    for (;;) {
        int sig = sigtimedwait(&srv->sigs, NULL, &wait);
        if (sig > 0)
            return sig;
        if (atomic_load(&srv->quit))
            return 0;
        if (tick)
            tick(arg);
    }
}

void web_stop(struct web_server *srv)
{
    uint64_t deadline;

    if (srv == NULL)
        return;
    /* Let the answer in flight (the Quit page) go out first. */
    deadline = time_now_ms() + WEB_DRAIN_MS;
    while (atomic_load(&srv->in_flight) > 0 && time_now_ms() < deadline) {
        struct timespec tick = {0, 20 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    MHD_stop_daemon(srv->d);
    sodium_memzero(srv, sizeof *srv);
    x_free(srv);
}

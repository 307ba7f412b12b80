/* transport — the client's HTTPS link to HQ, on libcurl. One easy handle per struct transport
 * is reused for every request, so the change sets of one sync travel over one kept-alive
 * connection. HQ's certificate is self-signed: the certificate chain and host name are not
 * checked, and the trust lies wholly in the public-key pin from the enrollment token, which
 * libcurl (OpenSSL backend) enforces whether or not peer verification is on. A request that
 * meets a broken link (connect failure, timeout, send or receive error, empty reply, TLS
 * handshake failure, HTTP 502/503/504) is tried again after an exponential backoff with full
 * jitter, within max_attempts and never past the deadline; a pin mismatch is never retried.
 * Proxies: CURLOPT_PROXY is deliberately left unset, so libcurl takes https_proxy (or
 * HTTPS_PROXY, all_proxy) and no_proxy from the environment, as embassy networks need.
 * libcurl is loaded and curl_global_init runs once, on the first transport_new (pthread_once). */
#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "mrfsync.h"

#define DEF_CONNECT_TIMEOUT_MS 15000L
#define DEF_LOW_SPEED_LIMIT 64L
#define DEF_LOW_SPEED_TIME_S 30L
#define DEF_MAX_ATTEMPTS 6
#define DEF_BACKOFF_BASE_MS 500L
#define DEF_BACKOFF_MAX_MS 30000L
#define BACKOFF_CEILING_MS 86400000L /* one delay never exceeds a day, whatever is asked */
#define PIN_PREFIX "sha256//"
#define USER_AGENT "mrf/1"

struct transport {
    CURL *curl;
    struct curl_slist *post_headers; /* Content-Type, and "Expect:" to skip 100-continue */
    char *base;                      /* the URL without trailing '/', paths are appended */
    struct transport_opts o;         /* defaults filled in; url and pin not kept (curl copies) */
    struct transport_stats stats;
    struct buf *resp; /* the caller's response buffer during a request, else NULL */
    int resp_too_big; /* the write callback stopped the transfer at resp's cap */
    char errbuf[CURL_ERROR_SIZE];
};

/* What one attempt came to. */
enum attempt_result {
    AR_DONE,   /* an HTTP answer the caller judges */
    AR_RETRY,  /* the link failed or HQ is briefly unavailable: try again */
    AR_PIN,    /* the server's key is not the pinned one */
    AR_TOOBIG, /* the response passed resp's cap */
    AR_FAIL    /* any other failure: trying again would not help */
};

/* ---- library set-up ------------------------------------------------------------------------ */

/* libcurl is loaded when the first transport is made, not when the program starts. Linked,
 * it would cost every command, recording a grant as much as a sync, the start-up of libcurl
 * and its dependencies (two TLS libraries, Kerberos, LDAP, SSH...): about 6 ms a process on
 * the benchmark machine, more than everything else `mrf grant add` does. Only sync uses it.
 * The types come from curl.h, so a mismatch with the declarations does not compile (curl's
 * own compile-time checks of setopt arguments do not reach calls through a pointer: long
 * options get long values, written 0L, 1L, (long)x below). libcurl.so.4 is libcurl's ABI
 * since 7.16 and the library libcurl4-openssl-dev builds for. */
#define CURL_LIB "libcurl.so.4"
#define CURL_FN(name, sym) __typeof__(sym) *name
static struct {
    CURL_FN(global_init, curl_global_init);
    CURL_FN(easy_init, curl_easy_init);
    CURL_FN(easy_setopt, curl_easy_setopt);
    CURL_FN(easy_perform, curl_easy_perform);
    CURL_FN(easy_getinfo, curl_easy_getinfo);
    CURL_FN(easy_cleanup, curl_easy_cleanup);
    CURL_FN(easy_strerror, curl_easy_strerror);
    CURL_FN(slist_append, curl_slist_append);
    CURL_FN(slist_free_all, curl_slist_free_all);
    CURL_FN(mem_free, curl_free);
    CURL_FN(url, curl_url);
    CURL_FN(url_cleanup, curl_url_cleanup);
    CURL_FN(url_set, curl_url_set);
    CURL_FN(url_get, curl_url_get);
} lc;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static char curl_load_error[256]; /* why libcurl could not be loaded, "" if it was */

#define LOAD(field, sym) ((lc.field = (__typeof__(lc.field))dlsym(h, sym)) != NULL)

static void curl_init_once(void)
{
    void *h = dlopen(CURL_LIB, RTLD_NOW | RTLD_LOCAL); /* kept for the process's life */

    if (h == NULL) {
        const char *why = dlerror();
        snprintf(curl_load_error, sizeof curl_load_error, "%s", why ? why : CURL_LIB);
        return;
    }
    if (!(LOAD(global_init, "curl_global_init") && LOAD(easy_init, "curl_easy_init") &&
          LOAD(easy_setopt, "curl_easy_setopt") && LOAD(easy_perform, "curl_easy_perform") &&
          LOAD(easy_getinfo, "curl_easy_getinfo") && LOAD(easy_cleanup, "curl_easy_cleanup") &&
          LOAD(easy_strerror, "curl_easy_strerror") && LOAD(slist_append, "curl_slist_append") &&
          LOAD(slist_free_all, "curl_slist_free_all") && LOAD(mem_free, "curl_free") &&
          LOAD(url, "curl_url") && LOAD(url_cleanup, "curl_url_cleanup") &&
          LOAD(url_set, "curl_url_set") && LOAD(url_get, "curl_url_get"))) {
        snprintf(curl_load_error, sizeof curl_load_error, "%s lacks a function mrf needs",
                 CURL_LIB);
        return;
    }
    curl_init_rc = lc.global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- options ------------------------------------------------------------------------------- */

static long or_default(long v, long def)
{
    return v > 0 ? v : def;
}

/* Copies o with the header's defaults for zero fields; url and pin are not kept. */
static void fill_defaults(struct transport_opts *dst, const struct transport_opts *o)
{
    *dst = *o;
    dst->url = NULL;
    dst->pin = NULL;
    dst->connect_timeout_ms = or_default(o->connect_timeout_ms, DEF_CONNECT_TIMEOUT_MS);
    dst->low_speed_limit = or_default(o->low_speed_limit, DEF_LOW_SPEED_LIMIT);
    dst->low_speed_time_s = or_default(o->low_speed_time_s, DEF_LOW_SPEED_TIME_S);
    dst->max_attempts = o->max_attempts > 0 ? o->max_attempts : DEF_MAX_ATTEMPTS;
    dst->backoff_base_ms = or_default(o->backoff_base_ms, DEF_BACKOFF_BASE_MS);
    dst->backoff_max_ms = or_default(o->backoff_max_ms, DEF_BACKOFF_MAX_MS);
    if (dst->backoff_max_ms > BACKOFF_CEILING_MS)
        dst->backoff_max_ms = BACKOFF_CEILING_MS;
}

/* MRF_OK if url parses as https://host[:port][/path]; the URL itself is not echoed. */
static enum mrf_status check_url(const char *url, struct mrf_error *err)
{
    CURLU *u = NULL;
    char *scheme = NULL;
    char *host = NULL;
    enum mrf_status st = MRF_OK;

    if (url == NULL || (u = lc.url()) == NULL)
        return mrf_error_set(err, MRF_E_INVALID, "transport: no HQ address given");
    if (lc.url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        lc.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        strcasecmp(scheme, "https") != 0 || lc.url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        st = mrf_error_set(err, MRF_E_INVALID,
                           "transport: HQ's address is not an https://host:port URL; check the "
                           "enrollment token");
    lc.mem_free(host);
    lc.mem_free(scheme);
    lc.url_cleanup(u);
    return st;
}

static enum mrf_status check_pin(const char *pin, struct mrf_error *err)
{
    if (pin == NULL || strncmp(pin, PIN_PREFIX, strlen(PIN_PREFIX)) != 0 ||
        pin[strlen(PIN_PREFIX)] == '\0')
        return mrf_error_set(err, MRF_E_INVALID,
                             "transport: the TLS pin must be sha256//<base64>; check the "
                             "enrollment token");
    return MRF_OK;
}

/* ---- callbacks ----------------------------------------------------------------------------- */

/* Appends response bytes to the caller's buffer; 0 (which aborts the transfer with
 * CURLE_WRITE_ERROR) once its cap would be passed. */
static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct transport *t = arg;
    size_t n = size * nmemb;

    if (buf_append(t->resp, p, n) != MRF_OK) {
        t->resp_too_big = 1;
        return 0;
    }
    return n;
}

/* Reports upload progress to the caller and aborts the transfer once the deadline has passed
 * (belt and braces beside CURLOPT_TIMEOUT_MS). */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct transport *t = arg;

    (void)dltotal;
    (void)dlnow;
    if (t->o.progress)
        t->o.progress(t->o.progress_arg, ulnow > 0 ? (uint64_t)ulnow : 0,
                      ultotal > 0 ? (uint64_t)ultotal : 0);
    return t->o.deadline_ms && time_now_ms() >= t->o.deadline_ms;
}

/* Counts request bytes as they leave. CURLINFO_REQUEST_SIZE plus CURLINFO_SIZE_UPLOAD_T would
 * count twice the part of a body libcurl sends in the same buffer as the headers (all of a small
 * change set); the debug stream reports each byte once. Text and TLS records are ignored. */
static int on_debug(CURL *c, curl_infotype type, char *data, size_t size, void *arg)
{
    struct transport *t = arg;

    (void)c;
    (void)data;
    if (type == CURLINFO_HEADER_OUT || type == CURLINFO_DATA_OUT)
        t->stats.bytes_sent += (int64_t)size;
    return 0;
}

/* ---- handle set-up ------------------------------------------------------------------------- */

/* Sets the options every request shares; the number of options libcurl refused. */
static int set_fixed_options(struct transport *t, const char *pin)
{
    CURL *c = t->curl;
    int bad = 0;

    bad += lc.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    /* Self-signed: no chain or name check; the pin below is the trust anchor. */
    bad += lc.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, pin) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, t->o.connect_timeout_ms) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, t->o.low_speed_limit) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, t->o.low_speed_time_s) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_ERRORBUFFER, t->errbuf) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_WRITEDATA, t) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_NOPROGRESS, 0L) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_XFERINFODATA, t) != CURLE_OK;
    /* VERBOSE only turns the debug stream on; on_debug keeps it off stderr. */
    bad += lc.easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_DEBUGDATA, t) != CURLE_OK;
    bad += lc.easy_setopt(c, CURLOPT_VERBOSE, 1L) != CURLE_OK;
    return bad;
}

/* The base URL without trailing slashes, so that base + "/v1/..." has one. */
static char *base_url(const char *url)
{
    size_t n = strlen(url);

    while (n > 0 && url[n - 1] == '/')
        n--;
    return xstrndup(url, n);
}

enum mrf_status transport_new(const struct transport_opts *o, struct transport **out,
                              struct mrf_error *err)
{
    struct transport *t = NULL;
    enum mrf_status st;

    assert(o != NULL && out != NULL);
    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    if (curl_load_error[0] != '\0')
        return mrf_error_set(err, MRF_E_INTERNAL,
                             "transport: libcurl cannot be loaded (%s); install Debian's libcurl4 "
                             "package",
                             curl_load_error);
    if (curl_init_rc != CURLE_OK)
        return mrf_error_set(err, MRF_E_INTERNAL, "transport: libcurl could not start: %s",
                             lc.easy_strerror(curl_init_rc));
    if ((st = check_url(o->url, err)) != MRF_OK || (st = check_pin(o->pin, err)) != MRF_OK)
        return st;
    t = xcalloc(1, sizeof *t);
    fill_defaults(&t->o, o);
    t->base = base_url(o->url);
    t->curl = lc.easy_init();
    t->post_headers = lc.slist_append(NULL, "Content-Type: application/octet-stream");
    if (t->post_headers)
        t->post_headers = lc.slist_append(t->post_headers, "Expect:");
    if (t->curl == NULL || t->post_headers == NULL || set_fixed_options(t, o->pin) != 0) {
        st = mrf_error_set(err, MRF_E_INTERNAL,
                           "transport: libcurl refused the HTTPS settings (is it built with "
                           "OpenSSL and pinning?)");
        goto out;
    }
    *out = t;
    t = NULL;
    st = MRF_OK;
out:
    transport_free(t);
    return st;
}

void transport_free(struct transport *t)
{
    if (t == NULL)
        return;
    lc.easy_cleanup(t->curl);
    lc.slist_free_all(t->post_headers);
    x_free(t->base);
    x_free(t);
}

void transport_get_stats(const struct transport *t, struct transport_stats *s)
{
    assert(t != NULL && s != NULL);
    *s = t->stats;
}

/* ---- one attempt --------------------------------------------------------------------------- */

static void prepare_method(struct transport *t, int post, const uint8_t *body, size_t len)
{
    if (post) {
        /* Never a NULL body: libcurl would then read the body from stdin. */
        lc.easy_setopt(t->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        lc.easy_setopt(t->curl, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        lc.easy_setopt(t->curl, CURLOPT_HTTPHEADER, t->post_headers);
    } else {
        lc.easy_setopt(t->curl, CURLOPT_HTTPGET, 1L);
        lc.easy_setopt(t->curl, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    }
}

/* Bounds the next attempt by the time left to the deadline; 0 if none is left. */
static int set_attempt_timeout(struct transport *t)
{
    long ms = 0; /* 0: no overall limit, the low-speed limit still catches a stalled link */

    if (t->o.deadline_ms) {
        uint64_t now = time_now_ms();

        if (now >= t->o.deadline_ms)
            return 0;
        ms =
            t->o.deadline_ms - now > (uint64_t)LONG_MAX ? LONG_MAX : (long)(t->o.deadline_ms - now);
    }
    lc.easy_setopt(t->curl, CURLOPT_TIMEOUT_MS, ms);
    return 1;
}

/* Adds what the last attempt cost to the stats (bytes sent are counted by on_debug). */
static void count_attempt(struct transport *t, long code)
{
    long hdr_size = 0, conns = 0;
    curl_off_t down = 0;

    lc.easy_getinfo(t->curl, CURLINFO_HEADER_SIZE, &hdr_size);
    lc.easy_getinfo(t->curl, CURLINFO_NUM_CONNECTS, &conns);
    lc.easy_getinfo(t->curl, CURLINFO_SIZE_DOWNLOAD_T, &down);
    t->stats.attempts++;
    if (code > 0)
        t->stats.requests++;
    t->stats.connects += conns;
    t->stats.bytes_received += hdr_size + down;
}

static int retryable(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_ABORTED_BY_CALLBACK: /* only the deadline aborts; the loop then stops */
    /* A TLS failure that is not the pin is a broken link or a middlebox, not an attack we
     * can tell apart: treat it as offline. */
    case CURLE_SSL_CONNECT_ERROR:
        return 1;
    default:
        return 0;
    }
}

/* "HQ answered HTTP 503 (disk_full)": the status and, when the answer is HQ's text, its
 * reason code (letters and underscores before the first ':' or newline, at most 32). */
static void answer_cause(const struct transport *t, long code, char *cause, size_t size)
{
    const char *d = t->resp->data;
    size_t n = 0;

    while (d != NULL && n < t->resp->len && n < 32 && ((d[n] >= 'a' && d[n] <= 'z') || d[n] == '_'))
        n++;
    if (n > 0 && n < t->resp->len && (d[n] == ':' || d[n] == '\n'))
        snprintf(cause, size, "HQ answered HTTP %ld (%.*s)", code, (int)n, d);
    else
        snprintf(cause, size, "HQ answered HTTP %ld", code);
}

/* Runs the transfer once; OUT: *code (0 if no answer) and, for anything but AR_DONE, the
 * cause in cause[0..size). */
static enum attempt_result attempt_once(struct transport *t, long *code, char *cause, size_t size)
{
    CURLcode rc;

    buf_reset(t->resp);
    t->resp_too_big = 0;
    t->errbuf[0] = '\0';
    *code = 0;
    rc = lc.easy_perform(t->curl);
    lc.easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, code);
    count_attempt(t, *code);
    if (rc == CURLE_OK) {
        answer_cause(t, *code, cause, size);
        return *code == 502 || *code == 503 || *code == 504 ? AR_RETRY : AR_DONE;
    }
    if (rc == CURLE_WRITE_ERROR && t->resp_too_big)
        return AR_TOOBIG;
    if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
        return AR_PIN;
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        snprintf(cause, size, "the time limit was reached");
    else
        snprintf(cause, size, "%s", t->errbuf[0] ? t->errbuf : lc.easy_strerror(rc));
    return retryable(rc) ? AR_RETRY : AR_FAIL;
}

/* ---- retries ------------------------------------------------------------------------------- */

/* The delay before retry n (1 after the first failure): uniform in [0, min(base * 2^(n-1),
 * max)] — "full jitter", so that posts knocked off line together do not return together. */
static long backoff_delay(const struct transport_opts *o, int n)
{
    long d = o->backoff_base_ms < o->backoff_max_ms ? o->backoff_base_ms : o->backoff_max_ms;

    for (int i = 1; i < n && d < o->backoff_max_ms; i++)
        d = d > o->backoff_max_ms / 2 ? o->backoff_max_ms : d * 2;
    return (long)randombytes_uniform((uint32_t)d + 1u);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Sleeps before retry n; 0 (without sleeping) if the deadline would pass first. */
static int wait_before_retry(const struct transport *t, int n)
{
    long d = backoff_delay(&t->o, n);

    if (t->o.deadline_ms && time_now_ms() + (uint64_t)d >= t->o.deadline_ms)
        return 0;
    sleep_ms(d);
    return 1;
}

/* ---- requests ------------------------------------------------------------------------------ */

/* Turns the attempt that ended the loop into the caller's status and message. */
static enum mrf_status finish(const struct transport *t, enum attempt_result ar, long code,
                              const char *path, const char *cause, long *http_status,
                              struct mrf_error *err)
{
    switch (ar) {
    case AR_DONE:
        *http_status = code;
        return MRF_OK;
    case AR_PIN:
        return mrf_error_set(err, MRF_E_REFUSED,
                             "sync: HQ's TLS key does not match the pin from the enrollment "
                             "token; the link may be intercepted or HQ's certificate changed: "
                             "ask HQ before syncing again");
    case AR_TOOBIG:
        return mrf_error_set(err, MRF_E_TOOBIG,
                             "sync: HQ's answer to %s is larger than the %zu-byte limit; the "
                             "transfer was stopped",
                             path, t->resp->cap);
    default:
        return mrf_error_set(err, MRF_E_OFFLINE,
                             "sync: talking to HQ at %s failed (%s); nothing was lost; try "
                             "again later",
                             t->base, cause);
    }
}

/* The message when every attempt failed or time ran out. */
static enum mrf_status give_up(const struct transport *t, const char *cause, int attempts,
                               int out_of_time, struct mrf_error *err)
{
    if (attempts == 0)
        return mrf_error_set(err, MRF_E_OFFLINE,
                             "sync: the time limit passed before HQ at %s could be tried; "
                             "nothing was lost; try again later",
                             t->base);
    return mrf_error_set(err, MRF_E_OFFLINE,
                         "sync: cannot reach HQ at %s: %s (%d attempt%s%s); nothing was lost; "
                         "try again later",
                         t->base, cause, attempts, attempts == 1 ? "" : "s",
                         out_of_time ? ", stopped at the time limit" : "");
}

static enum mrf_status request(struct transport *t, const char *path, int post, const uint8_t *body,
                               size_t len, struct buf *resp, long *http_status,
                               struct mrf_error *err)
{
    char cause[CURL_ERROR_SIZE + 64] = "";
    char *url = NULL;
    enum mrf_status st;
    int attempts = 0, out_of_time = 0;

    assert(t != NULL && path != NULL && path[0] == '/' && resp != NULL && http_status != NULL);
    *http_status = 0;
    url = xasprintf("%s%s", t->base, path);
    lc.easy_setopt(t->curl, CURLOPT_URL, url);
    prepare_method(t, post, body, len);
    t->resp = resp;
    while (attempts < t->o.max_attempts) {
        enum attempt_result ar;
        long code;

        if ((attempts > 0 && !wait_before_retry(t, attempts)) || !set_attempt_timeout(t)) {
            out_of_time = 1;
            break;
        }
        attempts++;
        ar = attempt_once(t, &code, cause, sizeof cause);
        if (ar != AR_RETRY) {
            st = finish(t, ar, code, path, cause, http_status, err);
            goto out;
        }
    }
    st = give_up(t, cause, attempts, out_of_time, err);
out:
    if (st != MRF_OK)
        buf_reset(resp);
    t->resp = NULL;
    x_free(url);
    return st;
}

enum mrf_status transport_post(struct transport *t, const char *path, const uint8_t *body,
                               size_t len, struct buf *resp, long *http_status,
                               struct mrf_error *err)
{
    return request(t, path, 1, body, len, resp, http_status, err);
}

enum mrf_status transport_get(struct transport *t, const char *path, struct buf *resp,
                              long *http_status, struct mrf_error *err)
{
    return request(t, path, 0, NULL, 0, resp, http_status, err);
}

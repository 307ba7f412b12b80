/* web — the loopback web server behind both programs' faces (`mrf ui`, `mrf-hq ui`): serving,
 * the guards every request passes, forms, HTML escaping and the compiled-in assets (ui/).
 *
 * A web_server listens on 127.0.0.1 only and answers a request only if its Host is
 * 127.0.0.1:PORT or localhost:PORT, and it carries the secret token (in the URL the program
 * prints, then in an HttpOnly SameSite=Strict cookie); a POST must also come from the page
 * itself (Origin, Sec-Fetch-Site) and carry the session's CSRF token in a hidden field. Every
 * answer has a strict Content-Security-Policy, Cache-Control: no-store, no framing, no referrer.
 * One thread runs every handler, one request at a time: handlers need no locks among
 * themselves. Request bodies live in guarded memory wiped after the handler returns. The
 * handler owns nothing of the request; the response's body is the server's to free. */
#ifndef MRF_WEB_H
#define MRF_WEB_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common.h"

#define WEB_BODY_MAX (64u * 1024u) /* bytes of a POST body; 413 past it */
#define WEB_FORM_MAX 48            /* fields of one form */
#define WEB_PAGE_MAX (8u * 1024u * 1024u)

struct web_server;

/* One form field, decoded; name and value point into the request's guarded body. */
struct web_field {
    const char *name;
    const char *value;
};

/* A request as a handler sees it, after every guard passed. */
struct web_request {
    struct web_server *srv;
    const char *method; /* "GET", "HEAD" or "POST" */
    const char *path;   /* without the query */
    int post;
    int nfields; /* POST: the form's fields in order (csrf included) */
    struct web_field fields[WEB_FORM_MAX];
    void *conn; /* the libmicrohttpd connection, for web_query */
};

/* What a handler answers. status 0 with location set means 303 See Other to location. */
struct web_response {
    int status;               /* default 200 */
    const char *content_type; /* default text/html; charset=utf-8 */
    struct buf body;          /* capped at WEB_PAGE_MAX */
    char location[512];       /* a path on this server, for a redirect after a POST */
    char filename[64];        /* set: the body is a download saved under this name (our own
                                 letters, digits, '-', '_' and '.': it is not escaped) */
};

typedef void (*web_handler)(void *app, struct web_request *rq, struct web_response *resp);

struct web_config {
    const char *name;    /* the program, for log lines: "mrf ui" */
    uint16_t port;       /* 0: a free one */
    web_handler handler; /* every path but /assets/ */
    void *app;
    const char *port_option; /* how the program's user picks the port, for messages;
                                NULL: "--port" */
};

/* Starts listening on 127.0.0.1 (the port given, or a free one) with one handler thread.
 * Blocks SIGINT and SIGTERM in the calling thread first (web_run waits for them), so call it
 * before starting other threads. MRF_E_IO with the reason if the port cannot be bound. */
enum mrf_status web_start(const struct web_config *cfg, struct web_server **out,
                          struct mrf_error *err);
/* The URL to open, with the token: "http://127.0.0.1:PORT/?token=...". */
const char *web_url(const struct web_server *srv);
uint16_t web_port(const struct web_server *srv);
/* The session's CSRF token (hex), for web_form_open. */
const char *web_csrf(const struct web_server *srv);
/* Blocks until SIGINT, SIGTERM or web_quit, calling tick(arg) about every 250 ms (tick may be
 * NULL). Returns the signal number, or 0 for web_quit. */
int web_run(struct web_server *srv, void (*tick)(void *arg), void *arg);
/* Asks web_run to return once the current answer is sent; safe from a handler. */
void web_quit(struct web_server *srv);
/* Stops serving (answers in flight finish first, 2 s at most) and frees srv. NULL is a no-op. */
void web_stop(struct web_server *srv);

/* ---- requests ---------------------------------------------------------------------------- */

/* The value of query parameter name, or NULL. */
const char *web_query(const struct web_request *rq, const char *name);
/* The value of POST field name (the last one given), or NULL. */
const char *web_field(const struct web_request *rq, const char *name);
/* How many POST fields are called name, and the i-th of them. */
int web_field_count(const struct web_request *rq, const char *name);
const char *web_field_nth(const struct web_request *rq, const char *name, int i);

/* Decodes an application/x-www-form-urlencoded body in place (s[0..len) is rewritten; s must
 * have room for a NUL at s[len]). MRF_E_TOOBIG past WEB_FORM_MAX fields, MRF_E_INVALID for a
 * bad escape or a field that is not UTF-8. */
enum mrf_status web_form_parse(char *s, size_t len, struct web_field *fields, int *nfields);

/* 1 if host (a Host header) is 127.0.0.1:port or localhost:port. */
int web_host_ok(const char *host, uint16_t port);

/* ---- HTML -------------------------------------------------------------------------------- */

/* Appends text escaped for HTML text and attribute values (& < > " '). NULL appends nothing. */
void web_esc(struct buf *b, const char *text);
/* Appends raw (trusted) HTML. */
void web_raw(struct buf *b, const char *html);
/* printf into the page, raw: only numbers and trusted literals, never people's text. */
void web_rawf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s percent-encoded for a URL's query or path segment. */
void web_urlenc(struct buf *b, const char *s);
/* The page's head and the start of <body>: lang, charset, viewport, title (escaped), the
 * stylesheet and the script from the assets. */
void web_page_begin(struct buf *b, const char *title, const char *body_attrs);
void web_page_end(struct buf *b);
/* <form method="post" action="ACTION"> with the hidden CSRF field; close with </form>. */
void web_form_open(struct buf *b, const struct web_server *srv, const char *action,
                   const char *attrs);

/* ---- form fields (the GOV.UK pattern: label, hint, error above the field, value as typed) -- */

#define WEB_ERRORS_MAX 12
/* The errors of one submitted form, by field id (copies). */
struct web_errors {
    int n;
    struct {
        char field[32];
        char msg[512];
    } e[WEB_ERRORS_MAX];
};
void web_errors_add(struct web_errors *e, const char *field, const char *msg);
/* The message for field, or NULL. */
const char *web_errors_get(const struct web_errors *e, const char *field);
/* "There is a problem" with a link to each field in error; nothing when e has none. */
void web_error_summary(struct buf *b, const struct web_errors *e);
/* A labelled <input> (type "text", "password", "date", ...) with hint and error; value is
 * shown as typed (never for "password"). attrs: raw extra attributes or NULL. */
void web_input(struct buf *b, const char *type, const char *id, const char *label, const char *hint,
               const char *value, const struct web_errors *e, const char *attrs);
/* The same as a <textarea>. */
void web_textarea(struct buf *b, const char *id, const char *label, const char *hint,
                  const char *value, const struct web_errors *e);
/* A labelled <select> of n options (values[i] shown as labels[i], or as the value if labels is
 * NULL), selected chosen. */
void web_select(struct buf *b, const char *id, const char *label, const char *hint,
                const char *const *values, const char *const *labels, int n, const char *selected,
                const struct web_errors *e);

/* ---- showing values (web/show.c) --------------------------------------------------------- */

/* One entry of a page's navigation. */
struct web_nav {
    const char *path, *label;
};
/* The navigation list (n entries; the one whose path is current marked aria-current), closed,
 * and the start of the page's main element. */
void web_nav(struct buf *b, const struct web_nav *nav, size_t n, const char *current);
/* A notice at the top of a page (role status): "ok" or, if warn, "warn" coloured; msg escaped. */
void web_notice(struct buf *b, int warn, const char *msg);
/* Closes the main element and writes the footer: text (trusted HTML-free prose) and the Quit
 * button (a POST to /quit) labelled quit_label; then ends the page. */
void web_footer(struct buf *b, struct web_server *srv, const char *text, const char *quit_label);

/* The string member key of o, or "" (never NULL). */
const char *web_jstr(const cJSON *o, const char *key);
/* A link target back to a page: a path on this server, or "/" for anything else. */
const char *web_safe_back(const char *back);
/* An amount with its currency ("-" for none); a status as a word with its colour tag. */
void web_money(struct buf *b, const char *amount, const char *currency);
void web_status_tag(struct buf *b, const char *status);
/* "3 minutes ago" for a Unix time in the past. */
void web_ago(char *out, size_t size, int64_t then, int64_t now);
/* A failed operation's message for a form: the command's prefix ("grant add: ") dropped,
 * filed under the field whose option ("--amount") it names, else the first field it names as
 * a word ("theme"), else under fallback. */
void web_form_error(struct web_errors *e, const char *msg, const char *const *fields, int nfields,
                    const char *fallback);

/* ---- charts (web/chart.c): horizontal bars as inline SVG, drawn by the program ------------ */

/* A chart of groups of bars, each bar labelled at its end with its figures (no legend to
 * decode). Bars are scaled to max; a bar's class (.bar-a, .bar-b, .bar-c, .bar-over in
 * ui/style.css) colours it. Usage: web_chart_begin, then web_chart_bar for each bar (a
 * non-NULL group starts a new group, its label drawn at the left), then web_chart_end. */
struct web_chart {
    struct buf *b;
    double max;
    int y;
};
void web_chart_begin(struct web_chart *c, struct buf *b, const char *id, const char *title,
                     int ngroups, int nbars, double max);
/* text: what the bar's end says (escaped); attrs: raw extra attributes for its <text> (data-*
 * for tests) or NULL. */
void web_chart_bar(struct web_chart *c, const char *group, double value, const char *cls,
                   const char *text, const char *attrs);
void web_chart_end(struct web_chart *c);

/* ---- the browser (web/browser.c) ---------------------------------------------------------- */

/* Starts xdg-open on url without waiting (its output to /dev/null); 0 if it could not be
 * started. */
int web_open_browser(const char *url);

/* ---- assets (ui/, compiled in by cmake/embed_assets.cmake) -------------------------------- */

struct web_asset {
    const char *name; /* "style.css" */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t len;
};
/* The asset called name, or NULL. */
const struct web_asset *web_asset_find(const char *name);

#endif

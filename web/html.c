/* Writing HTML safely: escaping of people's text, percent-encoding for links, the page frame
 * (head with our own stylesheet and script only) and the opening of a POST form with the
 * session's CSRF field. A page that does not fit WEB_PAGE_MAX ends the process: pages are
 * bounded by what the store holds, and a cut page could hide a refusal. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrfweb.h"

static void put(struct buf *b, const char *p, size_t n)
{
    if (buf_append(b, p, n) != MRF_OK) {
        fprintf(stderr, "web: a page outgrew %u bytes\n", (unsigned)WEB_PAGE_MAX);
        abort();
    }
}

void web_raw(struct buf *b, const char *html)
{
    put(b, html, strlen(html));
}

void web_rawf(struct buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    if ((size_t)n < sizeof small) {
        put(b, small, (size_t)n);
    } else {
        char *big = xmalloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        put(b, big, (size_t)n);
        x_free(big);
    }
}

void web_esc(struct buf *b, const char *text)
{
    const char *p = text, *run;

    if (text == NULL)
        return;
    while (*p) {
        run = p;
        while (*p && !strchr("&<>\"'", *p))
            p++;
        if (p > run)
            put(b, run, (size_t)(p - run));
        switch (*p) {
        case '&':
            web_raw(b, "&amp;");
            break;
        case '<':
            web_raw(b, "&lt;");
            break;
        case '>':
            web_raw(b, "&gt;");
            break;
        case '"':
            web_raw(b, "&quot;");
            break;
        case '\'':
            web_raw(b, "&#39;");
            break;
        default:
            continue; /* the NUL */
        }
        p++;
    }
}

void web_urlenc(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-_.~", *p)) {
            put(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            put(b, e, 3);
        }
    }
}

void web_page_begin(struct buf *b, const char *title, const char *body_attrs)
{
    web_raw(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
               "<meta name=\"referrer\" content=\"no-referrer\">\n<title>");
    web_esc(b, title);
    web_raw(b, "</title>\n<link rel=\"stylesheet\" href=\"/assets/style.css\">\n"
               "<script src=\"/assets/app.js\" defer></script>\n</head>\n<body");
    if (body_attrs) {
        web_raw(b, " ");
        web_raw(b, body_attrs);
    }
    web_raw(b, ">\n");
}

void web_page_end(struct buf *b)
{
    web_raw(b, "</body>\n</html>\n");
}

void web_form_open(struct buf *b, const struct web_server *srv, const char *action,
                   const char *attrs)
{
    web_raw(b, "<form method=\"post\" action=\"");
    web_esc(b, action);
    web_raw(b, "\"");
    if (attrs) {
        web_raw(b, " ");
        web_raw(b, attrs);
    }
    web_raw(b, ">\n<input type=\"hidden\" name=\"csrf\" value=\"");
    web_raw(b, web_csrf(srv));
    web_raw(b, "\">\n");
}

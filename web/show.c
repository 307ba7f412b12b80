/* Showing values the same way on both programs' pages: a JSON member as text, amounts with
 * their currency, a status as a word with its colour tag, "how long ago", a safe way back to a
 * page, and a rule's message filed under the form field it concerns; and the frame both
 * programs' pages share (navigation, notice, footer with Quit). */
#include <stdio.h>
#include <string.h>

#include "mrfweb.h"

const char *web_jstr(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

    return s ? s : "";
}

const char *web_safe_back(const char *back)
{
    if (back == NULL || back[0] != '/' || back[1] == '/' || back[1] == '\\' ||
        strpbrk(back, "\r\n\"<>") != NULL || strlen(back) > 200)
        return "/";
    return back;
}

void web_money(struct buf *b, const char *amount, const char *currency)
{
    web_esc(b, amount && amount[0] ? amount : "-");
    web_raw(b, "&nbsp;<span class=\"code\">");
    web_esc(b, currency);
    web_raw(b, "</span>");
}

void web_status_tag(struct buf *b, const char *status)
{
    static const char *const known[] = {"draft",     "committed",  "disbursed", "closed",
                                        "cancelled", "open",       "active",    "revoked",
                                        "accepted",  "quarantined"};
    const char *cls = "";

    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(status, known[i]) == 0)
            cls = known[i];
    web_rawf(b, "<span class=\"tag %s\">", cls);
    web_esc(b, status);
    web_raw(b, "</span>");
}

void web_ago(char *out, size_t size, int64_t then, int64_t now)
{
    int64_t d = now - then;

    if (d < 60)
        snprintf(out, size, "just now");
    else if (d < 3600)
        snprintf(out, size, "%lld minute%s ago", (long long)(d / 60), d / 60 == 1 ? "" : "s");
    else if (d < 86400 * 2)
        snprintf(out, size, "%lld hour%s ago", (long long)(d / 3600), d / 3600 == 1 ? "" : "s");
    else
        snprintf(out, size, "%lld days ago", (long long)(d / 86400));
}

void web_form_error(struct web_errors *e, const char *msg, const char *const *fields, int nfields,
                    const char *fallback)
{
    const char *colon = strstr(msg, ": ");
    const char *text = msg, *field = fallback;

    /* "grant add: ..." / "partner edit: ...": the command's name is the CLI's frame */
    if (colon && colon - msg < 16 && strchr(msg, ' ') != NULL && strchr(msg, ' ') < colon)
        text = colon + 2;
    for (const char *p = strstr(text, "--"); p && field == fallback; p = strstr(p + 2, "--"))
        for (int i = 0; i < nfields; i++) {
            size_t n = strlen(fields[i]);
            if (strncmp(p + 2, fields[i], n) == 0 &&
                !((p[2 + n] >= 'a' && p[2 + n] <= 'z') || p[2 + n] == '-'))
                field = fields[i];
        }
    /* no option named: the first field the message names as a word ("theme", "partner") */
    if (field == fallback) {
        const char *best = NULL;
        for (int k = 0; k < nfields; k++) {
            const char *p = text;
            while ((p = strstr(p, fields[k])) != NULL && p > text &&
                   ((p[-1] >= 'a' && p[-1] <= 'z') || p[-1] == '-'))
                p++;
            if (p && (best == NULL || p < best)) {
                best = p;
                field = fields[k];
            }
        }
    }
    web_errors_add(e, field, text);
}

void web_nav(struct buf *b, const struct web_nav *nav, size_t n, const char *current)
{
    for (size_t i = 0; i < n; i++)
        web_rawf(b, "<li><a href=\"%s\"%s>%s</a></li>\n", nav[i].path,
                 current && strcmp(current, nav[i].path) == 0 ? " aria-current=\"page\"" : "",
                 nav[i].label);
    web_raw(b, "</ul>\n</nav>\n<main id=\"main\">\n");
}

void web_notice(struct buf *b, int warn, const char *msg)
{
    web_raw(b, warn ? "<div class=\"notice warn\" role=\"status\" id=\"flash\">"
                    : "<div class=\"notice ok\" role=\"status\" id=\"flash\">");
    web_esc(b, msg);
    web_raw(b, "</div>\n");
}

void web_footer(struct buf *b, struct web_server *srv, const char *text, const char *quit_label)
{
    web_raw(b, "</main>\n<footer>\n<div class=\"actions\">\n<span>");
    web_esc(b, text);
    web_raw(b, "</span>\n");
    web_form_open(b, srv, "/quit", NULL);
    web_raw(b, "<button type=\"submit\" class=\"secondary\">");
    web_esc(b, quit_label);
    web_raw(b, "</button>\n</form>\n</div>\n</footer>\n");
    web_page_end(b);
}

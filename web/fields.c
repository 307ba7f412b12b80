/* Form fields in the GOV.UK pattern: a visible label above every field, a hint under it, the
 * error (in the rule's own words) above the field, the value kept as typed, and a summary of
 * the errors at the top linking to each field. A password field is never filled back in. */
#include <string.h>

#include "mrfweb.h"

void web_errors_add(struct web_errors *e, const char *field, const char *msg)
{
    if (e->n == WEB_ERRORS_MAX)
        return;
    str_copy(e->e[e->n].field, field, sizeof e->e[e->n].field);
    str_copy(e->e[e->n].msg, msg, sizeof e->e[e->n].msg);
    e->n++;
}

const char *web_errors_get(const struct web_errors *e, const char *field)
{
    for (int i = 0; e && i < e->n; i++)
        if (strcmp(e->e[i].field, field) == 0)
            return e->e[i].msg;
    return NULL;
}

void web_error_summary(struct buf *b, const struct web_errors *e)
{
    if (e == NULL || e->n == 0)
        return;
    web_raw(b, "<div class=\"error-summary\" role=\"alert\" tabindex=\"-1\" "
               "id=\"error-summary\">\n<h2>There is a problem</h2>\n<ul>\n");
    for (int i = 0; i < e->n; i++) {
        web_raw(b, "<li><a href=\"#");
        web_esc(b, e->e[i].field);
        web_raw(b, "\">");
        web_esc(b, e->e[i].msg);
        web_raw(b, "</a></li>\n");
    }
    web_raw(b, "</ul>\n</div>\n");
}

/* The label, hint and error of a field; opens its group. */
static void field_head(struct buf *b, const char *id, const char *label, const char *hint,
                       const char *error)
{
    web_raw(b, error ? "<div class=\"field field-error\">\n" : "<div class=\"field\">\n");
    web_raw(b, "<label for=\"");
    web_esc(b, id);
    web_raw(b, "\">");
    web_esc(b, label);
    web_raw(b, "</label>\n");
    if (hint) {
        web_raw(b, "<div class=\"hint\" id=\"");
        web_esc(b, id);
        web_raw(b, "-hint\">");
        web_esc(b, hint);
        web_raw(b, "</div>\n");
    }
    if (error) {
        web_raw(b, "<p class=\"error-message\" id=\"");
        web_esc(b, id);
        web_raw(b, "-error\"><span class=\"visually-hidden\">Error:</span> ");
        web_esc(b, error);
        web_raw(b, "</p>\n");
    }
}

static void described_by(struct buf *b, const char *id, const char *hint, const char *error)
{
    if (!hint && !error)
        return;
    web_raw(b, " aria-describedby=\"");
    if (hint) {
        web_esc(b, id);
        web_raw(b, "-hint");
    }
    if (error) {
        web_raw(b, hint ? " " : "");
        web_esc(b, id);
        web_raw(b, "-error");
    }
    web_raw(b, "\"");
}

void web_input(struct buf *b, const char *type, const char *id, const char *label, const char *hint,
               const char *value, const struct web_errors *e, const char *attrs)
{
    const char *error = web_errors_get(e, id);

    field_head(b, id, label, hint, error);
    web_raw(b, "<input type=\"");
    web_esc(b, type);
    web_raw(b, "\" id=\"");
    web_esc(b, id);
    web_raw(b, "\" name=\"");
    web_esc(b, id);
    web_raw(b, "\"");
    if (value && strcmp(type, "password") != 0) {
        web_raw(b, " value=\"");
        web_esc(b, value);
        web_raw(b, "\"");
    }
    described_by(b, id, hint, error);
    if (error)
        web_raw(b, " aria-invalid=\"true\"");
    if (attrs) {
        web_raw(b, " ");
        web_raw(b, attrs);
    }
    web_raw(b, ">\n</div>\n");
}

void web_textarea(struct buf *b, const char *id, const char *label, const char *hint,
                  const char *value, const struct web_errors *e)
{
    const char *error = web_errors_get(e, id);

    field_head(b, id, label, hint, error);
    web_raw(b, "<textarea rows=\"4\" id=\"");
    web_esc(b, id);
    web_raw(b, "\" name=\"");
    web_esc(b, id);
    web_raw(b, "\"");
    described_by(b, id, hint, error);
    web_raw(b, error ? " aria-invalid=\"true\">" : ">");
    web_esc(b, value);
    web_raw(b, "</textarea>\n</div>\n");
}

void web_select(struct buf *b, const char *id, const char *label, const char *hint,
                const char *const *values, const char *const *labels, int n, const char *selected,
                const struct web_errors *e)
{
    const char *error = web_errors_get(e, id);

    field_head(b, id, label, hint, error);
    web_raw(b, "<select id=\"");
    web_esc(b, id);
    web_raw(b, "\" name=\"");
    web_esc(b, id);
    web_raw(b, "\"");
    described_by(b, id, hint, error);
    web_raw(b, ">\n");
    for (int i = 0; i < n; i++) {
        web_raw(b, "<option value=\"");
        web_esc(b, values[i]);
        web_raw(b, selected && strcmp(selected, values[i]) == 0 ? "\" selected>" : "\">");
        web_esc(b, labels ? labels[i] : values[i]);
        web_raw(b, "</option>\n");
    }
    web_raw(b, "</select>\n</div>\n");
}

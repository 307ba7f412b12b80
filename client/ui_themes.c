/* The themes page: the post's focus themes per year (`mrf theme list --json`'s rows) and a form
 * that replaces one year's set through client_theme_set, as `mrf theme set` does: at most two,
 * the rule's own text where it refuses (a third theme, dropping a theme grants still use). */
#include <string.h>

#include "ui.h"

static void themes_form(struct ui_page *pg, const char *year_typed, const int checked[THEME_COUNT],
                        const struct web_errors *e)
{
    struct buf *b = pg->b;
    const char *err = web_errors_get(e, "themes");

    web_raw(b, "<h2>Choose the focus themes</h2>\n");
    web_form_open(b, pg->ui->srv, "/themes", NULL);
    web_input(b, "text", "year", "Year", "The fund year, for example 2026", year_typed, e,
              "inputmode=\"numeric\" size=\"6\"");
    web_raw(b, err ? "<div class=\"field field-error\">\n" : "<div class=\"field\">\n");
    web_raw(b,
            "<fieldset id=\"themes\" aria-describedby=\"themes-hint\">\n<legend>Themes</legend>\n"
            "<div class=\"hint\" id=\"themes-hint\">A post focuses on at most two themes a "
            "year. Saving replaces the year's themes.</div>\n");
    if (err) {
        web_raw(b, "<p class=\"error-message\" id=\"themes-error\"><span "
                   "class=\"visually-hidden\">Error:</span> ");
        web_esc(b, err);
        web_raw(b, "</p>\n");
    }
    web_raw(b, "<div class=\"checks\">\n");
    for (int t = 0; t < THEME_COUNT; t++) {
        web_rawf(b,
                 "<label for=\"theme-%s\"><input type=\"checkbox\" name=\"theme\" "
                 "id=\"theme-%s\" value=\"%s\"%s><span class=\"code\">%s</span> ",
                 theme_code(t), theme_code(t), theme_code(t), checked[t] ? " checked" : "",
                 theme_code(t));
        web_esc(b, theme_title(t));
        web_raw(b, "</label>\n");
    }
    web_raw(b, "</div>\n</fieldset>\n</div>\n<div class=\"actions\"><button type=\"submit\">"
               "Save themes</button></div>\n</form>\n");
}

static void themes_page(struct ui_page *pg, int year, const char *year_typed,
                        const int checked[THEME_COUNT], const struct web_errors *e)
{
    struct buf *b = pg->b;
    cJSON *rows = NULL, *r;

    if (client_themes_json(pg->ctx, 0, &rows) != MRF_OK) {
        ui_fail_page(pg, 500, "Themes", pg->ctx->err.msg);
        return;
    }
    ui_begin(pg, "Themes", "/themes");
    web_raw(b, "<h1>Focus themes</h1>\n");
    web_error_summary(b, e);
    web_raw(b, "<div class=\"columns\">\n<div>\n");
    themes_form(pg, year_typed, checked, e);
    web_raw(b, "</div>\n<div>\n<h2>Themes by year</h2>\n");
    if (cJSON_GetArraySize(rows) == 0) {
        web_rawf(b, "<p>No themes set yet. Choose up to two for %d with the form.</p>\n", year);
    } else {
        web_raw(b, "<table class=\"sortable\" id=\"themes-table\">\n<thead><tr><th scope=\"col\" "
                   "class=\"num\">Year</th><th scope=\"col\">Theme</th><th scope=\"col\">Title"
                   "</th></tr></thead>\n<tbody>\n");
        cJSON_ArrayForEach(r, rows) {
            web_rawf(b,
                     "<tr><td class=\"num\"><a href=\"/themes?year=%.0f\">%.0f</a></td><td "
                     "class=\"code\">",
                     cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "year")),
                     cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "year")));
            web_esc(b, web_jstr(r, "theme"));
            web_raw(b, "</td><td>");
            web_esc(b, web_jstr(r, "title"));
            web_raw(b, "</td></tr>\n");
        }
        web_raw(b, "</tbody>\n</table>\n");
    }
    web_raw(b, "</div>\n</div>\n");
    cJSON_Delete(rows);
    ui_end(pg);
}

void ui_page_themes(struct ui_page *pg)
{
    struct web_request *rq = pg->rq;
    struct web_errors e = {0};
    int checked[THEME_COUNT] = {0};
    const char *names[THEME_COUNT + 2];
    const char *year_s = rq->post ? web_field(rq, "year") : web_query(rq, "year");
    char year_buf[16];
    int year = client_this_year(), n = 0;
    enum mrf_status st = MRF_OK;

    if (year_s && year_s[0]) {
        st = year_parse(year_s, &year, &pg->ctx->err);
        if (st != MRF_OK) {
            web_form_error(&e, pg->ctx->err.msg, NULL, 0, "year");
            year = client_this_year();
        }
    } else {
        snprintf(year_buf, sizeof year_buf, "%d", year);
        year_s = year_buf;
    }
    if (!rq->post || st != MRF_OK) {
        if (!rq->post) {
            int have[THEME_COUNT], nhave = 0;
            if (client_theme_get(pg->ctx, year, have, &nhave) == MRF_OK)
                for (int i = 0; i < nhave; i++)
                    checked[have[i]] = 1;
        } else {
            pg->resp->status = 400;
        }
        themes_page(pg, year, year_s, checked, &e);
        return;
    }
    for (int i = 0; i < web_field_count(rq, "theme") && n < THEME_COUNT + 1; i++) {
        const char *t = web_field_nth(rq, "theme", i);
        int idx = theme_index(t);
        if (idx >= 0)
            checked[idx] = 1;
        names[n++] = t;
    }
    st = client_theme_set(pg->ctx, year, names, n);
    if (st != MRF_OK) {
        web_form_error(&e, pg->ctx->err.msg, NULL, 0, "themes");
        pg->resp->status = 400;
        themes_page(pg, year, year_s, checked, &e);
        return;
    }
    {
        char msg[128];
        snprintf(msg, sizeof msg, "Themes for %d: %s%s%s.", year, names[0], n > 1 ? ", " : "",
                 n > 1 ? names[1] : "");
        ui_flash(pg->ui, UI_FLASH_OK, msg);
    }
    snprintf(pg->resp->location, sizeof pg->resp->location, "/themes?year=%d", year);
}

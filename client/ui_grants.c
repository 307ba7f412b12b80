/* The grants pages: the list (`mrf grant list --json`'s rows, conflicts marked) filtered by
 * year, theme and status with totals per currency; the form that adds a grant
 * (client_grant_add); one grant with the form that changes it (client_grant_set), offering
 * only the status moves the rule allows and saying why the others are not there. An edit sends
 * only what changed. The over-allocation warning `mrf grant` prints follows a save. */
#include <string.h>

#include "ui.h"

static const char *const add_ids[] = {"partner",  "theme", "year", "amount",
                                      "currency", "start", "end",  "note"};
static const char *const set_ids[] = {"amount", "status", "start", "end", "note"};
static const char *const statuses[] = {"draft", "committed", "disbursed", "closed", "cancelled"};

static int opened(const char *v)
{
    return v != NULL && strcmp(v, "sealed") != 0 && strcmp(v, "sealed (another device)") != 0 &&
           strcmp(v, "damaged") != 0;
}

static void grant_link(struct buf *b, const char *code)
{
    web_raw(b, "<a class=\"code\" href=\"/grants/");
    web_urlenc(b, code);
    web_raw(b, "\">");
    web_esc(b, code);
    web_raw(b, "</a>");
}

/* The filter row: year (text), theme and status (selects), as a GET form. */
static void filters(struct buf *b, const char *year, const char *theme, const char *status)
{
    const char *tv[THEME_COUNT + 1] = {""}, *tl[THEME_COUNT + 1] = {"all themes"};
    const char *sv[6] = {"", "draft", "committed", "disbursed", "closed", "cancelled"};
    const char *sl[6] = {"all statuses", "draft", "committed", "disbursed", "closed", "cancelled"};

    for (int t = 0; t < THEME_COUNT; t++)
        tv[t + 1] = tl[t + 1] = theme_code(t);
    web_raw(b, "<form method=\"get\" action=\"/grants\" class=\"filters\" aria-label=\"Filter "
               "grants\">\n");
    web_input(b, "text", "year", "Year", NULL, year, NULL, "inputmode=\"numeric\" size=\"6\"");
    web_select(b, "theme", "Theme", NULL, tv, tl, THEME_COUNT + 1, theme ? theme : "", NULL);
    web_select(b, "status", "Status", NULL, sv, sl, 6, status ? status : "", NULL);
    web_raw(b, "<button type=\"submit\" class=\"secondary\">Filter</button>\n</form>\n");
}

static void list_page(struct ui_page *pg)
{
    struct buf *b = pg->b;
    const char *year_s = web_query(pg->rq, "year"), *theme = web_query(pg->rq, "theme"),
               *status = web_query(pg->rq, "status");
    int year = 0, shown = 0;
    cJSON *rows = NULL, *r, *totals = cJSON_CreateObject(), *t;

    if (year_s && year_s[0] && year_parse(year_s, &year, &pg->ctx->err) != MRF_OK) {
        ui_fail_page(pg, 400, "Grants", pg->ctx->err.msg);
        cJSON_Delete(totals);
        return;
    }
    if (client_grants_json(pg->ctx, year, NULL, 0, &rows) != MRF_OK ||
        client_grants_mark_conflicts(pg->ctx, rows) != MRF_OK) {
        ui_fail_page(pg, 500, "Grants", pg->ctx->err.msg);
        cJSON_Delete(rows);
        cJSON_Delete(totals);
        return;
    }
    ui_begin(pg, "Grants", "/grants");
    web_raw(b, "<h1>Grants</h1>\n<div class=\"actions\"><a class=\"button\" href=\"/grants/new\">"
               "Add a grant</a></div>\n");
    filters(b, year_s, theme, status);
    web_raw(b, "<table class=\"sortable\" id=\"grants-table\">\n<thead><tr><th scope=\"col\">"
               "Code</th><th scope=\"col\">Partner</th><th scope=\"col\">Theme</th><th "
               "scope=\"col\" class=\"num\">Year</th><th scope=\"col\" class=\"num\">Amount</th>"
               "<th scope=\"col\">Status</th><th scope=\"col\">Start</th><th scope=\"col\">End"
               "</th><th scope=\"col\">Conflict</th></tr></thead>\n<tbody>\n");
    cJSON_ArrayForEach(r, rows) {
        const char *cur = web_jstr(r, "currency");
        if ((theme && theme[0] && strcmp(theme, web_jstr(r, "theme")) != 0) ||
            (status && status[0] && strcmp(status, web_jstr(r, "status")) != 0))
            continue;
        shown++;
        if (strcmp(web_jstr(r, "status"), "cancelled") != 0) {
            /* totals in cents, per currency, of what is not cancelled */
            int64_t cents = 0;
            struct mrf_error ignored;
            t = cJSON_GetObjectItemCaseSensitive(totals, cur);
            if (money_parse(web_jstr(r, "amount"), &cents, &ignored) == MRF_OK) {
                if (t == NULL)
                    t = cJSON_AddNumberToObject(totals, cur, 0);
                cJSON_SetNumberValue(t, cJSON_GetNumberValue(t) + (double)cents);
            }
        }
        web_raw(b, "<tr><td>");
        grant_link(b, web_jstr(r, "code"));
        web_raw(b, "</td><td><a class=\"code\" href=\"/partners/");
        web_urlenc(b, web_jstr(r, "partner"));
        web_raw(b, "\">");
        web_esc(b, web_jstr(r, "partner"));
        web_raw(b, "</a></td><td class=\"code\">");
        web_esc(b, web_jstr(r, "theme"));
        web_rawf(b, "</td><td class=\"num\">%.0f</td><td class=\"num\">",
                 cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "year")));
        web_money(b, web_jstr(r, "amount"), cur);
        web_raw(b, "</td><td>");
        web_status_tag(b, web_jstr(r, "status"));
        web_raw(b, "</td><td>");
        web_esc(b, web_jstr(r, "start")[0] ? web_jstr(r, "start") : "-");
        web_raw(b, "</td><td>");
        web_esc(b, web_jstr(r, "end")[0] ? web_jstr(r, "end") : "-");
        web_raw(b, "</td><td>");
        if (web_jstr(r, "conflict")[0]) {
            web_raw(b, "<a class=\"tag conflict\" href=\"/conflicts\">");
            web_esc(b, web_jstr(r, "conflict"));
            web_raw(b, "</a>");
        }
        web_raw(b, "</td></tr>\n");
    }
    web_raw(b, "</tbody>\n</table>\n");
    if (shown == 0) {
        web_raw(b, "<p id=\"empty\">No grants");
        if (year)
            web_rawf(b, " for %d", year);
        web_raw(b, " yet. <a href=\"/grants/new\">Add a grant</a>.</p>\n");
    } else {
        web_rawf(b, "<p id=\"totals\">%d grant%s; total (not cancelled):", shown,
                 shown == 1 ? "" : "s");
        cJSON_ArrayForEach(t, totals) {
            char m[32];
            money_format((int64_t)cJSON_GetNumberValue(t), m);
            web_raw(b, " ");
            web_money(b, m, t->string);
        }
        web_raw(b, "</p>\n");
    }
    cJSON_Delete(rows);
    cJSON_Delete(totals);
    ui_end(pg);
}

static void add_form(struct ui_page *pg, const struct web_request *typed,
                     const struct web_errors *e)
{
    struct buf *b = pg->b;
    cJSON *ps = NULL, *p;
    const char **pv = NULL, **pl = NULL;
    char **labels = NULL;
    const char *tv[THEME_COUNT], *tl[THEME_COUNT];
    char tlabel[THEME_COUNT][96], year[8];
    int np = 0;

    if (client_partners_json(pg->ctx, NULL, 0, pg->ctx->secrets != NULL, &ps) != MRF_OK) {
        ui_fail_page(pg, 500, "Add a grant", pg->ctx->err.msg);
        return;
    }
    pv = xcalloc((size_t)cJSON_GetArraySize(ps) + 1, sizeof *pv);
    pl = xcalloc((size_t)cJSON_GetArraySize(ps) + 1, sizeof *pl);
    labels = xcalloc((size_t)cJSON_GetArraySize(ps) + 1, sizeof *labels);
    pv[np] = "";
    pl[np++] = "Choose a partner";
    cJSON_ArrayForEach(p, ps) {
        const char *name = web_jstr(p, "name");
        labels[np] = opened(name) ? xasprintf("%s %s", web_jstr(p, "code"), name)
                                  : xasprintf("%s (name sealed)", web_jstr(p, "code"));
        pv[np] = web_jstr(p, "code");
        pl[np] = labels[np];
        np++;
    }
    for (int t = 0; t < THEME_COUNT; t++) {
        snprintf(tlabel[t], sizeof tlabel[t], "%s: %s", theme_code(t), theme_title(t));
        tv[t] = theme_code(t);
        tl[t] = tlabel[t];
    }
    snprintf(year, sizeof year, "%d", client_this_year());
    ui_begin(pg, "Add a grant", "/grants");
    web_raw(b, "<h1>Add a grant</h1>\n");
    web_error_summary(b, e);
    web_form_open(b, pg->ui->srv, "/grants/new", "novalidate");
    web_select(b, "partner", "Partner",
               np == 1 ? "No partners yet: add one on the Partners page first" : NULL, pv, pl, np,
               typed ? web_field(typed, "partner") : "", e);
    web_input(b, "text", "year", "Year", "The fund year", typed ? web_field(typed, "year") : year,
              e, "inputmode=\"numeric\" size=\"6\"");
    web_select(b, "theme", "Theme", "One of the post's themes for that year", tv, tl, THEME_COUNT,
               typed ? web_field(typed, "theme") : NULL, e);
    web_input(b, "text", "amount", "Amount",
              "12500.00: no thousands separators, at most two "
              "decimals",
              typed ? web_field(typed, "amount") : NULL, e,
              "inputmode=\"decimal\" autocomplete=\"off\"");
    web_input(b, "text", "currency", "Currency", "Three letters (ISO 4217); EUR if empty",
              typed ? web_field(typed, "currency") : "EUR", e, "size=\"4\"");
    web_input(b, "text", "start", "Start date", "Optional, YYYY-MM-DD",
              typed ? web_field(typed, "start") : NULL, e, "size=\"11\"");
    web_input(b, "text", "end", "End date", "Optional, YYYY-MM-DD, not before the start",
              typed ? web_field(typed, "end") : NULL, e, "size=\"11\"");
    web_textarea(b, "note", "Note", "Optional; sealed on this laptop",
                 typed ? web_field(typed, "note") : NULL, e);
    web_raw(b, "<div class=\"actions\"><button type=\"submit\">Save grant as draft</button>"
               "<a href=\"/grants\">Cancel</a></div>\n</form>\n");
    ui_end(pg);
    for (int i = 0; i < np; i++)
        x_free(labels[i]);
    x_free(labels);
    x_free(pv);
    x_free(pl);
    cJSON_Delete(ps);
}

static void add(struct ui_page *pg)
{
    struct grant_input in;
    struct web_errors e = {0};
    char code[16], msg[512], warn[256];
    int year;

    if (!pg->rq->post) {
        add_form(pg, NULL, NULL);
        return;
    }
    memset(&in, 0, sizeof in);
    {
        const char **slots[] = {&in.partner,  &in.theme, &in.year, &in.amount,
                                &in.currency, &in.start, &in.end,  &in.note};
        for (int i = 0; i < 8; i++) {
            const char *v = web_field(pg->rq, add_ids[i]);
            *slots[i] = v && v[0] ? v : NULL;
            if (i < 4 && *slots[i] == NULL) {
                char m[96];
                snprintf(m, sizeof m, "--%s is needed", add_ids[i]);
                web_errors_add(&e, add_ids[i], m);
            }
        }
    }
    if (e.n == 0 && client_grant_add(pg->ctx, &in, code) != MRF_OK)
        web_form_error(&e, pg->ctx->err.msg, add_ids, 8, "partner");
    if (e.n > 0) {
        pg->resp->status = 400;
        add_form(pg, pg->rq, &e);
        return;
    }
    snprintf(msg, sizeof msg, "Grant %s recorded as draft.", code);
    if (year_parse(in.year, &year, &pg->ctx->err) == MRF_OK &&
        client_allocation_warning(pg->ctx, year, warn, sizeof warn)) {
        size_t n = strlen(msg);
        snprintf(msg + n, sizeof msg - n, " Warning: %s.", warn);
    }
    ui_flash(pg->ui, UI_FLASH_OK, msg);
    snprintf(pg->resp->location, sizeof pg->resp->location, "/grants/%s", code);
}

/* One grant and its edit form; typed and e after a refused save. */
static void show_page(struct ui_page *pg, const cJSON *g, const struct web_request *typed,
                      const struct web_errors *e)
{
    struct buf *b = pg->b;
    const char *code = web_jstr(g, "code"), *status = web_jstr(g, "status");
    int from = grant_status_parse(status), final = from == GS_CLOSED || from == GS_CANCELLED;
    const char *sv[GS_COUNT];
    char action[64];
    int ns = 0;
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(g, "note");

    ui_begin(pg, code, "/grants");
    web_raw(b, "<h1>Grant <span class=\"code\">");
    web_esc(b, code);
    web_raw(b, "</span></h1>\n");
    web_error_summary(b, e);
    web_raw(b, "<dl class=\"facts\">\n<dt>Partner</dt><dd><a class=\"code\" href=\"/partners/");
    web_urlenc(b, web_jstr(g, "partner"));
    web_raw(b, "\">");
    web_esc(b, web_jstr(g, "partner"));
    web_raw(b, "</a></dd>\n<dt>Theme and year</dt><dd><span class=\"code\">");
    web_esc(b, web_jstr(g, "theme"));
    web_rawf(b, "</span> %.0f</dd>\n<dt>Amount</dt><dd id=\"grant-amount\">",
             cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(g, "year")));
    web_money(b, web_jstr(g, "amount"), web_jstr(g, "currency"));
    web_raw(b, "</dd>\n<dt>Status</dt><dd id=\"grant-status\">");
    web_status_tag(b, status);
    web_raw(b, "</dd>\n<dt>Start, end</dt><dd>");
    web_esc(b, web_jstr(g, "start")[0] ? web_jstr(g, "start") : "-");
    web_raw(b, " to ");
    web_esc(b, web_jstr(g, "end")[0] ? web_jstr(g, "end") : "-");
    web_raw(b, "</dd>\n<dt>Note</dt><dd>");
    ui_sealed(b, note);
    web_raw(b, "</dd>\n");
    if (web_jstr(g, "conflict")[0]) {
        web_raw(b, "<dt>Conflict</dt><dd><a class=\"tag conflict\" href=\"/conflicts\">");
        web_esc(b, web_jstr(g, "conflict"));
        web_raw(b, "</a> HQ reported an open conflict on this grant</dd>\n");
    }
    web_raw(b, "</dl>\n<h2>Change this grant</h2>\n");
    for (int s = 0; s < GS_COUNT; s++)
        if (from < 0 || grant_status_can_move((enum grant_status)from, (enum grant_status)s))
            sv[ns++] = statuses[s];
    snprintf(action, sizeof action, "/grants/%s", code);
    web_form_open(b, pg->ui->srv, action, "novalidate");
    if (final)
        web_rawf(b, "<p class=\"notice\">This grant is %s: its amount is final.</p>\n", status);
    else
        web_input(b, "text", "amount", "Amount", "12500.00: no thousands separators",
                  typed ? web_field(typed, "amount") : web_jstr(g, "amount"), e,
                  "inputmode=\"decimal\" autocomplete=\"off\"");
    web_select(b, "status", "Status",
               "Status moves forward only: draft, committed, disbursed, closed (skipping ahead "
               "is allowed); cancelled only from draft or committed. Only the moves allowed "
               "from here are offered.",
               sv, NULL, ns, typed ? web_field(typed, "status") : status, e);
    web_input(b, "text", "start", "Start date", "YYYY-MM-DD; empty clears it",
              typed ? web_field(typed, "start") : web_jstr(g, "start"), e, "size=\"11\"");
    web_input(b, "text", "end", "End date", "YYYY-MM-DD, not before the start; empty clears it",
              typed ? web_field(typed, "end") : web_jstr(g, "end"), e, "size=\"11\"");
    if (pg->ctx->secrets && opened(cJSON_GetStringValue(note)))
        web_textarea(b, "note", "Note", "Sealed on this laptop; empty clears it",
                     typed ? web_field(typed, "note") : cJSON_GetStringValue(note), e);
    else
        web_textarea(b, "note", "Note",
                     cJSON_GetStringValue(note)
                         ? "Sealed: leave empty to keep it, type to replace it"
                         : "Optional; sealed on this laptop",
                     typed ? web_field(typed, "note") : NULL, e);
    web_raw(b, "<div class=\"actions\"><button type=\"submit\">Save changes</button><a "
               "href=\"/grants\">Back to grants</a></div>\n</form>\n");
    ui_end(pg);
}

static void one(struct ui_page *pg, const char *code)
{
    uint8_t id[MRF_ID];
    int removed, year;
    cJSON *rows = NULL, *g;
    struct grant_input in;
    struct web_errors e = {0};
    char msg[512], warn[256];

    if (client_find(pg->ctx, ST_GRANTS, code, id, &removed) != MRF_OK ||
        client_grants_json(pg->ctx, 0, id, pg->ctx->secrets != NULL, &rows) != MRF_OK ||
        client_grants_mark_conflicts(pg->ctx, rows) != MRF_OK ||
        (g = cJSON_GetArrayItem(rows, 0)) == NULL) {
        ui_fail_page(pg, 404, "No such grant", pg->ctx->err.msg);
        cJSON_Delete(rows);
        return;
    }
    if (!pg->rq->post) {
        show_page(pg, g, NULL, NULL);
        cJSON_Delete(rows);
        return;
    }
    memset(&in, 0, sizeof in);
    {
        const char **slots[] = {&in.amount, &in.status, &in.start, &in.end, &in.note};
        const char *note = web_jstr(g, "note");
        for (int i = 0; i < 5; i++) {
            const char *v = web_field(pg->rq, set_ids[i]);
            const char *now = web_jstr(g, set_ids[i]);
            if (v == NULL || strcmp(v, now) == 0)
                continue;
            if (i == 4 && v[0] == '\0' && !(pg->ctx->secrets && opened(note)))
                continue; /* a sealed note not shown, left empty: keep */
            *slots[i] = v;
        }
    }
    year = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(g, "year"));
    if (!in.amount && !in.status && !in.start && !in.end && !in.note) {
        ui_flash(pg->ui, UI_FLASH_OK, "Nothing changed.");
        snprintf(pg->resp->location, sizeof pg->resp->location, "/grants/%s", web_jstr(g, "code"));
        cJSON_Delete(rows);
        return;
    }
    if (client_grant_set(pg->ctx, code, &in) != MRF_OK) {
        web_form_error(&e, pg->ctx->err.msg, set_ids, 5, "amount");
        pg->resp->status = 400;
        show_page(pg, g, pg->rq, &e);
        cJSON_Delete(rows);
        return;
    }
    snprintf(msg, sizeof msg, "Grant %s updated.", web_jstr(g, "code"));
    if (client_allocation_warning(pg->ctx, year, warn, sizeof warn)) {
        size_t n = strlen(msg);
        snprintf(msg + n, sizeof msg - n, " Warning: %s.", warn);
    }
    ui_flash(pg->ui, UI_FLASH_OK, msg);
    snprintf(pg->resp->location, sizeof pg->resp->location, "/grants/%s", web_jstr(g, "code"));
    cJSON_Delete(rows);
}

void ui_page_grants(struct ui_page *pg, const char *rest)
{
    if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
        if (pg->rq->post)
            ui_fail_page(pg, 405, "Grants", "Use the form to add a grant.");
        else
            list_page(pg);
    } else if (strcmp(rest, "/new") == 0) {
        add(pg);
    } else if (strchr(rest + 1, '/') == NULL && strlen(rest + 1) < 24) {
        one(pg, rest + 1);
    } else {
        ui_fail_page(pg, 404, "Page not found", "There is no such page for a grant.");
    }
}

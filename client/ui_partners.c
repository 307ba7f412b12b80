/* The partners pages: the list and one partner (the objects of `mrf partner list/show --json`,
 * revealed only while the page is unlocked), and the forms that add, edit and remove one
 * through client_partner_add/edit/remove, with the same refusals as the CLI. An edit sends
 * only what changed: while locked a sealed field left empty is kept (its value cannot be
 * shown); while unlocked the form holds the opened values and an emptied one is cleared. */
#include <string.h>

#include "ui.h"

/* The form's fields: id (the CLI's option name), label, hint, kind. */
static const struct pfield {
    const char *id, *label, *hint;
    int area;
} pfields[] = {
    {"name", "Organisation's name", "Sealed on this laptop as soon as it is saved", 0},
    {"contact", "Contact person", "Optional; sealed", 0},
    {"phone", "Phone", "Optional; digits, spaces and + - ( ) . / only; sealed", 0},
    {"email", "E-mail", "Optional; like name@example.org; sealed", 0},
    {"address", "Postal address", "Optional; may span lines; sealed", 1},
    {"bank", "Bank account", "Optional; sealed", 0},
    {"note", "Note", "Optional; never put anything here HQ's officers may not read; sealed", 1},
};
#define NPF (int)(sizeof pfields / sizeof pfields[0])
static const char *const field_ids[] = {"name",    "contact", "phone", "email",
                                        "address", "bank",    "note",  "risk"};
static const char *const risks[] = {"low", "medium", "high"};

/* 1 if v is a value the listing revealed (not a sealed state or null). */
static int opened(const char *v)
{
    return v != NULL && strcmp(v, "sealed") != 0 && strcmp(v, "sealed (another device)") != 0 &&
           strcmp(v, "damaged") != 0;
}

static const char **input_slot(struct partner_input *in, const char *id)
{
    if (strcmp(id, "name") == 0)
        return &in->name;
    if (strcmp(id, "contact") == 0)
        return &in->contact;
    if (strcmp(id, "phone") == 0)
        return &in->phone;
    if (strcmp(id, "email") == 0)
        return &in->email;
    if (strcmp(id, "address") == 0)
        return &in->address;
    if (strcmp(id, "bank") == 0)
        return &in->bank;
    if (strcmp(id, "note") == 0)
        return &in->note;
    return &in->risk;
}

static void list_page(struct ui_page *pg)
{
    struct buf *b = pg->b;
    cJSON *rows = NULL, *r;

    if (client_partners_json(pg->ctx, NULL, 0, pg->ctx->secrets != NULL, &rows) != MRF_OK) {
        ui_fail_page(pg, 500, "Partners", pg->ctx->err.msg);
        return;
    }
    ui_begin(pg, "Partners", "/partners");
    web_raw(b, "<h1>Partners</h1>\n<div class=\"actions\"><a class=\"button\" "
               "href=\"/partners/new\">Add a partner</a>");
    if (pg->ctx->secrets == NULL)
        web_raw(b, "<span class=\"muted\">Names are sealed. <a "
                   "href=\"/unlock?back=/partners\">Unlock</a> to show them.</span>");
    web_raw(b, "</div>\n");
    if (cJSON_GetArraySize(rows) == 0) {
        web_raw(b, "<p id=\"empty\">No partners yet. <a href=\"/partners/new\">Add a partner</a>."
                   "</p>\n");
    } else {
        web_raw(b, "<table class=\"sortable\" id=\"partners-table\">\n<thead><tr><th "
                   "scope=\"col\">Code</th><th scope=\"col\">Name</th><th scope=\"col\">Contact"
                   "</th><th scope=\"col\">Risk</th><th scope=\"col\" class=\"num\">Grants</th>"
                   "</tr></thead>\n<tbody>\n");
        cJSON_ArrayForEach(r, rows) {
            web_raw(b, "<tr><td class=\"code\"><a href=\"/partners/");
            web_urlenc(b, web_jstr(r, "code"));
            web_raw(b, "\">");
            web_esc(b, web_jstr(r, "code"));
            web_raw(b, "</a></td><td>");
            ui_sealed(b, cJSON_GetObjectItemCaseSensitive(r, "name"));
            web_raw(b, "</td><td>");
            ui_sealed(b, cJSON_GetObjectItemCaseSensitive(r, "contact"));
            web_raw(b, "</td><td>");
            web_esc(b, web_jstr(r, "risk"));
            web_rawf(b, "</td><td class=\"num\">%.0f</td></tr>\n",
                     cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "grants")));
        }
        web_raw(b, "</tbody>\n</table>\n");
    }
    cJSON_Delete(rows);
    ui_end(pg);
}

/* The add or edit form. cur: the partner as listed (edit), typed: what was submitted. */
static void form_page(struct ui_page *pg, const char *code, const cJSON *cur,
                      const struct web_request *typed, const struct web_errors *e)
{
    struct buf *b = pg->b;
    char action[64], title[64];
    int locked = pg->ctx->secrets == NULL;

    if (code) {
        snprintf(action, sizeof action, "/partners/%s/edit", code);
        snprintf(title, sizeof title, "Edit partner %s", code);
    } else {
        str_copy(action, "/partners/new", sizeof action);
        str_copy(title, "Add a partner", sizeof title);
    }
    ui_begin(pg, title, "/partners");
    web_raw(b, "<h1>");
    web_esc(b, title);
    web_raw(b, "</h1>\n");
    web_error_summary(b, e);
    if (code && locked)
        web_raw(b, "<p class=\"notice\">The page is locked, so the sealed fields cannot be "
                   "shown: leave one empty to keep it, type to replace it. To clear a field, "
                   "<a href=\"/unlock\">unlock</a> first.</p>\n");
    web_form_open(b, pg->ui->srv, action, "novalidate");
    for (int i = 0; i < NPF; i++) {
        const struct pfield *f = &pfields[i];
        const char *v = typed ? web_field(typed, f->id) : NULL;
        const char *now = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cur, f->id));
        const char *hint = f->hint;
        if (!typed && cur && opened(now))
            v = now;
        if (code && (!opened(now) || locked) && now != NULL)
            hint = locked ? "Sealed: leave empty to keep it, type to replace it"
                          : "Cannot be opened on this laptop: leave empty to keep it";
        if (f->area)
            web_textarea(b, f->id, f->label, hint, v, e);
        else
            web_input(b, "text", f->id, f->label, hint, v, e,
                      opened(now) && v == now ? "class=\"revealed-value\" autocomplete=\"off\""
                                              : "autocomplete=\"off\"");
    }
    {
        const char *r = typed ? web_field(typed, "risk") : NULL;
        if (r == NULL)
            r = cur ? web_jstr(cur, "risk") : "medium";
        web_select(b, "risk", "Risk", "How much harm a leak of this partner's identity could do",
                   risks, NULL, 3, r, e);
    }
    web_raw(b, "<div class=\"actions\"><button type=\"submit\">Save partner</button><a href=\"");
    if (code) {
        web_raw(b, "/partners/");
        web_urlenc(b, code);
    } else {
        web_raw(b, "/partners");
    }
    web_raw(b, "\">Cancel</a></div>\n</form>\n");
    ui_end(pg);
}

static void show_page(struct ui_page *pg, const char *code, const char *error)
{
    struct buf *b = pg->b;
    uint8_t id[MRF_ID];
    int removed;
    cJSON *p = NULL, *g;
    static const char *const labels[][2] = {
        {"name", "Name"},    {"contact", "Contact"},        {"phone", "Phone"},
        {"email", "E-mail"}, {"address", "Postal address"}, {"bank", "Bank account"},
        {"note", "Note"},
    };

    if (client_find(pg->ctx, ST_PARTNERS, code, id, &removed) != MRF_OK ||
        client_partner_json(pg->ctx, id, pg->ctx->secrets != NULL, &p) != MRF_OK) {
        ui_fail_page(pg, 404, "No such partner", pg->ctx->err.msg);
        return;
    }
    if (error)
        pg->resp->status = 400;
    ui_begin(pg, web_jstr(p, "code"), "/partners");
    web_raw(b, "<h1>Partner <span class=\"code\">");
    web_esc(b, web_jstr(p, "code"));
    web_raw(b, "</span>");
    if (removed)
        web_raw(b, " <span class=\"tag cancelled\">removed</span>");
    web_raw(b, "</h1>\n");
    if (error) {
        web_raw(b, "<div class=\"error-summary\" role=\"alert\" tabindex=\"-1\" "
                   "id=\"error-summary\"><h2>There is a problem</h2><p>");
        web_esc(b, error);
        web_raw(b, "</p></div>\n");
    }
    web_raw(b, "<dl class=\"facts\">\n");
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        web_raw(b, "<dt>");
        web_esc(b, labels[i][1]);
        web_rawf(b, "</dt><dd id=\"partner-%s\">", labels[i][0]);
        ui_sealed(b, cJSON_GetObjectItemCaseSensitive(p, labels[i][0]));
        web_raw(b, "</dd>\n");
    }
    web_raw(b, "<dt>Risk</dt><dd>");
    web_esc(b, web_jstr(p, "risk"));
    web_raw(b, "</dd>\n<dt>Grants</dt><dd>");
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(p, "grant_codes")) {
        web_raw(b, "<a class=\"code\" href=\"/grants/");
        web_urlenc(b, cJSON_GetStringValue(g));
        web_raw(b, "\">");
        web_esc(b, cJSON_GetStringValue(g));
        web_raw(b, "</a> ");
    }
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "grant_codes")) == 0)
        web_raw(b, "none");
    web_raw(b, "</dd>\n</dl>\n");
    if (!removed) {
        web_raw(b, "<div class=\"actions\"><a class=\"button secondary\" href=\"/partners/");
        web_urlenc(b, web_jstr(p, "code"));
        web_raw(b, "/edit\">Edit</a>\n");
        {
            char action[64];
            snprintf(action, sizeof action, "/partners/%s/remove", web_jstr(p, "code"));
            web_form_open(b, pg->ui->srv, action, NULL);
        }
        web_raw(b, "<button type=\"submit\" class=\"warning\">Remove partner</button>\n</form>"
                   "<span class=\"muted\">Refused while it has draft, committed or disbursed "
                   "grants.</span></div>\n");
    }
    cJSON_Delete(p);
    ui_end(pg);
}

static void add(struct ui_page *pg)
{
    struct partner_input in;
    struct web_errors e = {0};
    char code[16], msg[128];

    if (!pg->rq->post) {
        form_page(pg, NULL, NULL, NULL, NULL);
        return;
    }
    memset(&in, 0, sizeof in);
    for (size_t i = 0; i < sizeof field_ids / sizeof field_ids[0]; i++) {
        const char *v = web_field(pg->rq, field_ids[i]);
        *input_slot(&in, field_ids[i]) = v && v[0] ? v : NULL;
    }
    if (client_partner_add(pg->ctx, &in, code) != MRF_OK) {
        web_form_error(&e, pg->ctx->err.msg, field_ids, 8, "name");
        pg->resp->status = 400;
        form_page(pg, NULL, NULL, pg->rq, &e);
        return;
    }
    snprintf(msg, sizeof msg, "Partner %s recorded; its identity is sealed on this laptop.", code);
    ui_flash(pg->ui, UI_FLASH_OK, msg);
    snprintf(pg->resp->location, sizeof pg->resp->location, "/partners/%s", code);
}

static void edit(struct ui_page *pg, const char *code)
{
    struct partner_input in;
    struct web_errors e = {0};
    uint8_t id[MRF_ID];
    int removed, any = 0;
    cJSON *cur = NULL;
    char msg[128];

    if (client_find(pg->ctx, ST_PARTNERS, code, id, &removed) != MRF_OK ||
        client_partner_json(pg->ctx, id, pg->ctx->secrets != NULL, &cur) != MRF_OK) {
        ui_fail_page(pg, 404, "No such partner", pg->ctx->err.msg);
        return;
    }
    if (!pg->rq->post) {
        form_page(pg, code, cur, NULL, NULL);
        cJSON_Delete(cur);
        return;
    }
    memset(&in, 0, sizeof in);
    for (size_t i = 0; i < sizeof field_ids / sizeof field_ids[0]; i++) {
        const char *v = web_field(pg->rq, field_ids[i]);
        const char *now = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cur, field_ids[i]));
        int can_show = opened(now) || strcmp(field_ids[i], "risk") == 0;
        if (v == NULL || (v[0] == '\0' && (!can_show || pg->ctx->secrets == NULL) &&
                          strcmp(field_ids[i], "risk") != 0))
            continue; /* not shown, left empty: keep */
        if (can_show && now && strcmp(v, now) == 0)
            continue; /* unchanged */
        if (now == NULL && v[0] == '\0')
            continue; /* empty and still empty */
        *input_slot(&in, field_ids[i]) = v;
        any = 1;
    }
    if (!any) {
        ui_flash(pg->ui, UI_FLASH_OK, "Nothing changed.");
        snprintf(pg->resp->location, sizeof pg->resp->location, "/partners/%s", code);
        cJSON_Delete(cur);
        return;
    }
    if (client_partner_edit(pg->ctx, code, &in) != MRF_OK) {
        web_form_error(&e, pg->ctx->err.msg, field_ids, 8, "name");
        pg->resp->status = 400;
        form_page(pg, code, cur, pg->rq, &e);
        cJSON_Delete(cur);
        return;
    }
    cJSON_Delete(cur);
    snprintf(msg, sizeof msg, "Partner %s updated.", code);
    ui_flash(pg->ui, UI_FLASH_OK, msg);
    snprintf(pg->resp->location, sizeof pg->resp->location, "/partners/%s", code);
}

void ui_page_partners(struct ui_page *pg, const char *rest)
{
    char code[24];
    const char *slash;
    size_t n;

    if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
        if (pg->rq->post)
            ui_fail_page(pg, 405, "Partners", "Use the form to add a partner.");
        else
            list_page(pg);
        return;
    }
    if (strcmp(rest, "/new") == 0) {
        add(pg);
        return;
    }
    slash = strchr(rest + 1, '/');
    n = slash ? (size_t)(slash - rest - 1) : strlen(rest + 1);
    if (n == 0 || n >= sizeof code) {
        ui_fail_page(pg, 404, "No such partner", "That is not a partner's code (PX-...).");
        return;
    }
    memcpy(code, rest + 1, n);
    code[n] = '\0';
    if (slash == NULL && !pg->rq->post) {
        show_page(pg, code, NULL);
    } else if (slash && strcmp(slash, "/edit") == 0) {
        edit(pg, code);
    } else if (slash && strcmp(slash, "/remove") == 0 && pg->rq->post) {
        if (client_partner_remove(pg->ctx, code) != MRF_OK) {
            char msg[sizeof pg->ctx->err.msg];
            str_copy(msg, pg->ctx->err.msg, sizeof msg);
            show_page(pg, code, msg);
            return;
        }
        {
            char msg[96];
            snprintf(msg, sizeof msg, "Partner %s removed.", code);
            ui_flash(pg->ui, UI_FLASH_OK, msg);
        }
        str_copy(pg->resp->location, "/partners", sizeof pg->resp->location);
    } else {
        ui_fail_page(pg, 404, "Page not found", "There is no such page for a partner.");
    }
}

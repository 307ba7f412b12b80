/* The conflict queue: the list (`mrf-hq conflicts --json`'s objects: open first, filters by
 * post, kind and state), one record (`mrf-hq conflict show --json`'s object: base, both sides,
 * the column's history) and HQ's decision (the checks and the decision of `mrf-hq resolve`,
 * hq_resolve_check + hq_resolve_commit), with the reason required and the optional HQ-only
 * note. A refusal shows the command's own message next to the field it concerns, with the form
 * kept as typed. Values are codes and amounts only: HQ holds identities and notes sealed. */
#include <stdio.h>
#include <string.h>

#include "ui.h"

static const char *const kinds[] = {"", "value", "parallel", "rule"};
static const char *const kind_labels[] = {"every kind", "value", "parallel", "rule"};
static const char *const states[] = {"open", "all"};
static const char *const state_labels[] = {"open only", "open and closed"};

/* ---- the queue ------------------------------------------------------------------------------ */

struct post_codes {
    int n;
    char code[64][16];
};

static enum mrf_status post_collect(void *arg, const struct hq_post *p)
{
    struct post_codes *pc = arg;

    if (pc->n < 64)
        str_copy(pc->code[pc->n++], p->code, sizeof pc->code[0]);
    return MRF_OK;
}

static void queue_rows(struct buf *b, const cJSON *arr, const char *kind, int open)
{
    const cJSON *o;

    cJSON_ArrayForEach(o, arr) {
        int is_open = strcmp(web_jstr(o, "state"), "open") == 0;
        if (is_open != open || (kind[0] && strcmp(web_jstr(o, "kind"), kind) != 0))
            continue;
        web_raw(b, "<tr data-id=\"");
        web_esc(b, web_jstr(o, "id"));
        web_raw(b, "\"><th scope=\"row\" class=\"code\"><a href=\"/conflicts/");
        web_urlenc(b, web_jstr(o, "id"));
        web_raw(b, "\">");
        web_esc(b, web_jstr(o, "id"));
        web_raw(b, "</a></th><td class=\"code\">");
        web_esc(b, web_jstr(o, "post"));
        web_raw(b, "</td><td>");
        web_esc(b, web_jstr(o, "kind"));
        web_raw(b, "</td><td class=\"code\">");
        web_esc(b, web_jstr(o, "rule"));
        web_raw(b, "</td><td>");
        web_esc(b, web_jstr(o, "detail"));
        web_raw(b, "</td><td>");
        web_esc(b, web_jstr(o, "opened"));
        web_raw(b, "</td><td data-k=\"state\">");
        web_status_tag(b, is_open ? "open" : "closed");
        if (web_jstr(o, "decision")[0]) {
            web_raw(b, " ");
            web_esc(b, web_jstr(o, "decision"));
        }
        web_raw(b, "</td></tr>\n");
    }
}

static void page_queue(struct hqui_page *pg)
{
    struct buf *b = pg->b;
    const char *post_q = web_query(pg->rq, "post"), *kind_q = web_query(pg->rq, "kind");
    const char *state_q = web_query(pg->rq, "state");
    struct post_codes pc;
    const char *post_vals[65], *post_labels[65];
    char post[16];
    int all = state_q && strcmp(state_q, "all") == 0, shown = 0;
    const char *kind = kind_q && (strcmp(kind_q, "value") == 0 || strcmp(kind_q, "parallel") == 0 ||
                                  strcmp(kind_q, "rule") == 0)
                           ? kind_q
                           : "";
    cJSON *arr = NULL;
    const cJSON *o;
    enum mrf_status rc;

    memset(&pc, 0, sizeof pc);
    if (post_q && post_q[0] && post_code_parse(post_q, post, &pg->err) != MRF_OK) {
        hqui_fail_page(pg, 400, "Conflicts", pg->err.msg);
        return;
    }
    rc = hqui_store(pg);
    if (rc == MRF_OK)
        rc = hqstore_post_list(pg->st, post_collect, &pc);
    if (rc == MRF_OK)
        rc = hq_conflicts_json(pg->st, &pg->cfg, post_q && post_q[0] ? post : NULL, all, &arr);
    if (rc != MRF_OK) {
        hqui_fail_page(pg, 500, "Conflicts", pg->st ? hqstore_errmsg(pg->st) : pg->err.msg);
        return;
    }
    post_vals[0] = "";
    post_labels[0] = "every post";
    for (int i = 0; i < pc.n; i++)
        post_vals[i + 1] = post_labels[i + 1] = pc.code[i];
    hqui_begin(pg, "Conflicts", "/conflicts");
    web_raw(b, "<h1>Conflicts</h1>\n<p class=\"lead\">What HQ keeps beside the merge when two "
               "laptops disagree or a fund rule does not hold. Nothing was refused or dropped; "
               "the merged state stays readable meanwhile. Open records first.</p>\n");
    web_raw(b, "<form method=\"get\" action=\"/conflicts\" class=\"filters\">\n");
    web_select(b, "post", "Post", NULL, post_vals, post_labels, pc.n + 1,
               post_q && post_q[0] ? post : "", NULL);
    web_select(b, "kind", "Kind", NULL, kinds, kind_labels, 4, kind, NULL);
    web_select(b, "state", "State", NULL, states, state_labels, 2, all ? "all" : "open", NULL);
    web_raw(b, "<button type=\"submit\" class=\"secondary\">Show</button>\n</form>\n");
    cJSON_ArrayForEach(o, arr) {
        if (!kind[0] || strcmp(web_jstr(o, "kind"), kind) == 0)
            shown++;
    }
    if (shown == 0) {
        web_raw(b, all ? "<p id=\"conflicts-none\">No conflict records here.</p>\n"
                       : "<p id=\"conflicts-none\">No open conflicts here. Choose \"open and "
                         "closed\" to see the decided ones.</p>\n");
    } else {
        web_raw(b, "<table class=\"sortable\" id=\"conflicts-table\">\n<thead><tr><th "
                   "scope=\"col\">Record</th><th scope=\"col\">Post</th><th scope=\"col\">Kind"
                   "</th><th scope=\"col\">Rule</th><th scope=\"col\">What</th><th scope=\"col\">"
                   "Opened</th><th scope=\"col\">State</th></tr></thead>\n<tbody>\n");
        queue_rows(b, arr, kind, 1);
        queue_rows(b, arr, kind, 0);
        web_raw(b, "</tbody>\n</table>\n");
    }
    cJSON_Delete(arr);
    hqui_end(pg);
}

/* ---- one record ---------------------------------------------------------------------------- */

static void side_box(struct buf *b, const char *id, const char *title, const cJSON *s,
                     const char *base)
{
    web_rawf(b, "<section id=\"%s\"><h3>", id);
    web_esc(b, title);
    web_raw(b, "</h3>\n");
    if (base != NULL) {
        web_raw(b, "<p class=\"value code\">");
        web_esc(b, base);
        web_raw(b, "</p><p class=\"muted\">the value both writers replaced</p>");
    } else if (s == NULL) {
        web_raw(b, "<p class=\"muted\">none</p>");
    } else {
        web_raw(b, "<p class=\"value code\">");
        web_esc(b, web_jstr(s, "value"));
        web_raw(b, "</p><p class=\"muted\">written by <span class=\"code\">");
        web_esc(b, web_jstr(s, "writer"));
        web_raw(b, "</span>, ");
        web_esc(b, web_jstr(s, "written"));
        web_raw(b, "<br>clock <span class=\"code\">");
        web_esc(b, web_jstr(s, "clock"));
        web_raw(b, "</span></p>");
    }
    web_raw(b, "</section>\n");
}

static void fact(struct buf *b, const char *label, const char *id, const char *value)
{
    web_raw(b, "<dt>");
    web_esc(b, label);
    web_rawf(b, "</dt><dd id=\"%s\">", id);
    web_esc(b, value);
    web_raw(b, "</dd>\n");
}

/* What the officer typed, kept for the form after a refusal. */
struct typed {
    const char *decision, *column, *value, *reason, *note;
};

static void radio(struct buf *b, const char *value, const char *label, const char *checked)
{
    web_rawf(b,
             "<label for=\"decision-%s\"><input type=\"radio\" id=\"decision-%s\" "
             "name=\"decision\" value=\"%s\"%s> ",
             value, value, value, checked && strcmp(checked, value) == 0 ? " checked" : "");
    web_esc(b, label);
    web_raw(b, "</label>\n");
}

static void resolve_form(struct hqui_page *pg, const cJSON *o, const struct typed *t,
                         const struct web_errors *e)
{
    static const char *const cols[] = {"amount", "currency", "status",
                                       "theme",  "removed",  "themes"};
    struct buf *b = pg->b;
    const char *derr = web_errors_get(e, "decision");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "a");
    const cJSON *bb = cJSON_GetObjectItemCaseSensitive(o, "b");
    char action[64], label[256];
    int value = strcmp(web_jstr(o, "kind"), "value") == 0;

    snprintf(action, sizeof action, "/conflicts/%s", web_jstr(o, "id"));
    web_raw(b, "<h2>Decide</h2>\n");
    web_form_open(b, pg->ui->srv, action, "id=\"resolve-form\" novalidate");
    web_raw(b, derr ? "<div class=\"field field-error\" id=\"decision\">\n"
                    : "<div class=\"field\" id=\"decision\">\n");
    web_raw(b, "<fieldset class=\"radios\" aria-describedby=\"decision-hint\"><legend>"
               "Decision</legend>\n<div class=\"hint\" id=\"decision-hint\">The decision is "
               "written as HQ's own change with a newer clock, so it wins on every laptop of "
               "the post at its next sync.</div>\n");
    if (derr) {
        web_raw(b, "<p class=\"error-message\" id=\"decision-error\"><span "
                   "class=\"visually-hidden\">Error:</span> ");
        web_esc(b, derr);
        web_raw(b, "</p>\n");
    }
    radio(b, "accept", "Accept: keep what the merge kept", t->decision);
    if (value && a) {
        snprintf(label, sizeof label, "Take side A (the value HQ held): %s", web_jstr(a, "value"));
        radio(b, "take_a", label, t->decision);
    }
    if (value && bb) {
        snprintf(label, sizeof label, "Take side B (the value that arrived): %s",
                 web_jstr(bb, "value"));
        radio(b, "take_b", label, t->decision);
    }
    radio(b, "set", "Set HQ's own value (below)", t->decision);
    if (!value)
        web_raw(b, "<p class=\"hint\">A rule or parallel record has no sides to take: accept it, "
                   "set a value, or fix it at its source (it closes by itself when the rule "
                   "holds).</p>\n");
    web_raw(b, "</fieldset>\n</div>\n");
    web_select(b, "column", "Column to set", "only with \"Set HQ's own value\"", cols, NULL, 6,
               t->column, e);
    web_input(b, "text", "value", "Value",
              "as in 12500.00 (amount), EUR, committed, FOE, yes/no (removed), FOE,HRD (themes)",
              t->value, e, NULL);
    web_input(b, "text", "reason", "Reason",
              "required; one line, at most 500 bytes. It travels to the post with the decision: "
              "no names or identities",
              t->reason, e, "maxlength=\"500\" size=\"80\"");
    web_input(b, "text", "note", "Note for HQ (optional)",
              "the officer's own; stays at HQ and never reaches the post", t->note, e,
              "maxlength=\"500\" size=\"80\"");
    web_raw(b, "<div class=\"actions\"><button type=\"submit\" id=\"resolve-button\">Resolve"
               "</button><a href=\"/conflicts\">Back to the queue</a></div>\n</form>\n");
}

static void page_record(struct hqui_page *pg, const char *id_in, const struct typed *t,
                        const struct web_errors *e)
{
    struct buf *b = pg->b;
    struct hq_conflict c;
    cJSON *o = NULL;
    const cJSON *h, *w;
    char id[16], title[48];
    enum mrf_status rc = shortcode_parse("C", id_in, id, &pg->err);

    if (rc != MRF_OK) {
        hqui_fail_page(pg, 404, "Conflict", pg->err.msg);
        return;
    }
    rc = hqui_store(pg);
    if (rc == MRF_OK)
        rc = hq_conflict_show_json(pg->st, &pg->cfg, id, &c, &o, &pg->err);
    if (rc != MRF_OK) {
        hqui_fail_page(pg, rc == MRF_E_INVALID ? 404 : 500, "Conflict", pg->err.msg);
        return;
    }
    snprintf(title, sizeof title, "Conflict %s", id);
    hqui_begin(pg, title, "/conflicts");
    web_raw(b, "<h1>Conflict <span class=\"code\">");
    web_esc(b, id);
    web_raw(b, "</span> ");
    web_status_tag(b, web_jstr(o, "state"));
    web_raw(b, "</h1>\n");
    web_error_summary(b, e);
    web_raw(b, "<dl class=\"facts\">\n");
    fact(b, "Post", "c-post", web_jstr(o, "post"));
    fact(b, "Kind", "c-kind", web_jstr(o, "kind"));
    web_raw(b, "<dt>Rule</dt><dd class=\"code\" id=\"c-rulename\">");
    web_esc(b, web_jstr(o, "rule"));
    web_raw(b, "</dd>\n");
    fact(b, "Rows", "c-rows", web_jstr(o, "rows"));
    fact(b, "What happened", "c-detail", web_jstr(o, "detail"));
    fact(b, "Opened", "c-opened", web_jstr(o, "opened"));
    if (web_jstr(o, "closed")[0]) {
        fact(b, "Closed", "c-closed", web_jstr(o, "closed"));
        fact(b, "Decision", "c-decision", web_jstr(o, "decision"));
        fact(b, "Reason (sent to the post)", "c-reason",
             web_jstr(o, "reason")[0] ? web_jstr(o, "reason") : "-");
        if (web_jstr(o, "note")[0])
            fact(b, "HQ's note (stays at HQ)", "c-note", web_jstr(o, "note"));
    }
    web_raw(b, "</dl>\n");
    if (cJSON_GetObjectItemCaseSensitive(o, "a") || cJSON_GetObjectItemCaseSensitive(o, "b") ||
        web_jstr(o, "base")[0]) {
        web_raw(b, "<div class=\"sides\">\n");
        side_box(b, "side-base", "Base", NULL, web_jstr(o, "base")[0] ? web_jstr(o, "base") : "-");
        side_box(b, "side-a", "Side A: the value HQ held", cJSON_GetObjectItemCaseSensitive(o, "a"),
                 NULL);
        side_box(b, "side-b", "Side B: the value that arrived",
                 cJSON_GetObjectItemCaseSensitive(o, "b"), NULL);
        web_raw(b, "</div>\n");
    }
    if (!web_jstr(o, "closed")[0])
        resolve_form(pg, o, t, e);
    h = cJSON_GetObjectItemCaseSensitive(o, "history");
    if (cJSON_GetArraySize(h) > 0) {
        web_raw(b, "<h2>The column's history</h2>\n<table id=\"history\">\n<thead><tr><th "
                   "scope=\"col\" class=\"num\">Seq</th><th scope=\"col\">Column</th><th "
                   "scope=\"col\">Value</th><th scope=\"col\">Writer</th><th scope=\"col\">Clock"
                   "</th><th scope=\"col\">Written</th></tr></thead>\n<tbody>\n");
        cJSON_ArrayForEach(w, h) {
            web_rawf(b, "<tr><td class=\"num\">%.0f</td><td class=\"code\">",
                     cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(w, "seq")));
            web_esc(b, web_jstr(w, "column"));
            web_raw(b, "</td><td class=\"code\">");
            web_esc(b, web_jstr(w, "value"));
            web_raw(b, "</td><td class=\"code\">");
            web_esc(b, web_jstr(w, "writer"));
            web_raw(b, "</td><td class=\"code\">");
            web_esc(b, web_jstr(w, "clock"));
            web_raw(b, "</td><td>");
            web_esc(b, web_jstr(w, "written"));
            web_raw(b, "</td></tr>\n");
        }
        web_raw(b, "</tbody>\n</table>\n");
    }
    cJSON_Delete(o);
    hqui_end(pg);
}

/* POST /conflicts/ID: `mrf-hq resolve ID` with what the form says. */
static void resolve(struct hqui_page *pg, const char *id)
{
    struct web_request *rq = pg->rq;
    struct typed t = {web_field(rq, "decision"), web_field(rq, "column"), web_field(rq, "value"),
                      web_field(rq, "reason"), web_field(rq, "note")};
    static const char *const fields[] = {"reason", "note"};
    struct web_errors e;
    struct hq_resolve r;
    struct hq_resolved done;
    const char *d = t.decision ? t.decision : "";
    int accept = strcmp(d, "accept") == 0, set = strcmp(d, "set") == 0;
    const char *take = strcmp(d, "take_a") == 0 ? "A" : strcmp(d, "take_b") == 0 ? "B" : NULL;
    const char *note = t.note && t.note[0] ? t.note : NULL;
    char msg[256];
    enum mrf_status rc;

    memset(&e, 0, sizeof e);
    memset(&r, 0, sizeof r);
    rc = hq_resolve_check(&r, id, accept + (take != NULL) + set, accept, take, t.reason, note,
                          &pg->err);
    if (rc == MRF_OK && r.form == HQ_SET) {
        if (t.column == NULL || t.column[0] == '\0' || t.value == NULL || t.value[0] == '\0') {
            web_errors_add(&e, t.column && t.column[0] ? "value" : "column",
                           "--set COLUMN=VALUE (e.g. --set amount=12500.00, --set themes=FOE,WGR): "
                           "choose the column and type its value");
            rc = MRF_E_INVALID;
        } else {
            str_copy(r.set_name[0], t.column, sizeof r.set_name[0]);
            r.set_value[0] = t.value;
            r.nset = 1;
        }
    }
    if (rc == MRF_OK)
        rc = hq_resolve_commit(pg->ui->home, &r, &done, &pg->err);
    if (rc != MRF_OK) {
        if (e.n == 0)
            web_form_error(&e, pg->err.msg, fields, 2, set ? "value" : "decision");
        pg->resp->status = 400;
        page_record(pg, id, &t, &e);
        return;
    }
    snprintf(msg, sizeof msg,
             "%s resolved (%s, %d value%s written); post %s's devices get the decision on "
             "their next sync",
             done.id, done.decision, done.ops, done.ops == 1 ? "" : "s", done.post);
    hqui_flash(pg->ui, HQUI_FLASH_OK, msg);
    snprintf(pg->resp->location, sizeof pg->resp->location, "/conflicts/%s", done.id);
}

void hqui_page_conflicts(struct hqui_page *pg, const char *rest)
{
    struct typed none = {NULL, NULL, NULL, NULL, NULL};

    if (rest[0] == '\0' && !pg->rq->post)
        page_queue(pg);
    else if (rest[0] == '/' && pg->rq->post)
        resolve(pg, rest + 1);
    else if (rest[0] == '/')
        page_record(pg, rest + 1, &none, NULL);
    else
        hqui_fail_page(pg, 404, "Page not found", "There is no such page.");
}

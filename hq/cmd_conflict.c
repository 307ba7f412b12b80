/* The conflict queue at HQ: `mrf-hq conflicts` lists records (open ones by default),
 * `mrf-hq conflict show ID` shows one with its base, both sides and its row's history,
 * `mrf-hq resolve ID` decides it (hq/decide.c) and `mrf-hq history` lists every write of a
 * grant or partner. Text and --json print from the same cJSON objects. Codes, values and
 * writers only: HQ holds identities and notes sealed, and shows them as "(sealed)". */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "hq.h"

/* "2026-11-30 01:23 UTC", or "" for 0. */
static void when(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    out[0] = '\0';
    if (t != 0 && gmtime_r(&tt, &tm) != NULL)
        strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm);
}

/* The writer as people see it: "HQ" for HQ's own writes, else the device's first 8 hex. */
static void writer(const uint8_t dev[MRF_ID], const uint8_t hq[MRF_ID], char out[17])
{
    char *hx;

    if (memcmp(dev, hq, MRF_ID) == 0) {
        str_copy(out, "HQ", 17);
        return;
    }
    hx = hex_encode(dev, 8);
    str_copy(out, hx, 17);
    x_free(hx);
}

static void add_time(cJSON *o, const char *key, int64_t t)
{
    char w[32];

    when(t, w);
    if (t == 0)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddStringToObject(o, key, w);
}

static cJSON *side(const struct hq_conflict *c, const char *json, const uint8_t dev[MRF_ID],
                   hlc_t clock, const uint8_t hq[MRF_ID])
{
    cJSON *o = cJSON_CreateObject();
    char v[HQC_VALUE_MAX], w[17], hx[17];

    hq_value_text(c->has_col ? c->tbl : ST_COUNT, c->has_col ? c->col : -1, json, v, sizeof v);
    writer(dev, hq, w);
    hlc_to_hex(clock, hx);
    cJSON_AddStringToObject(o, "value", v);
    cJSON_AddStringToObject(o, "writer", w);
    cJSON_AddStringToObject(o, "clock", hx);
    add_time(o, "written", (int64_t)(hlc_ms(clock) / 1000u));
    return o;
}

/* One record as an object: what `conflicts --json` lists and `conflict show` starts from. */
static cJSON *record_json(const struct hq_conflict *c, const uint8_t hq[MRF_ID])
{
    cJSON *o = cJSON_CreateObject();
    char v[HQC_VALUE_MAX];

    cJSON_AddStringToObject(o, "id", c->id);
    cJSON_AddStringToObject(o, "post", c->post);
    cJSON_AddStringToObject(o, "kind", c->kind);
    cJSON_AddStringToObject(o, "rule", c->rule);
    cJSON_AddStringToObject(o, "rows", c->rows);
    if (c->year)
        cJSON_AddNumberToObject(o, "year", c->year);
    cJSON_AddStringToObject(o, "detail", c->detail);
    add_time(o, "opened", c->opened_at);
    add_time(o, "updated", c->updated_at);
    add_time(o, "closed", c->closed_at);
    cJSON_AddStringToObject(o, "state", c->closed_at ? "closed" : "open");
    if (c->decision[0])
        cJSON_AddStringToObject(o, "decision", c->decision);
    if (c->reason[0])
        cJSON_AddStringToObject(o, "reason", c->reason);
    if (c->note[0])
        cJSON_AddStringToObject(o, "note", c->note);
    if (c->base[0]) {
        hq_value_text(c->has_col ? c->tbl : ST_COUNT, c->has_col ? c->col : -1, c->base, v,
                      sizeof v);
        cJSON_AddStringToObject(o, "base", v);
    }
    if (c->has_a)
        cJSON_AddItemToObject(o, "a", side(c, c->a_value, c->a_device, c->a_clock, hq));
    if (c->has_b)
        cJSON_AddItemToObject(o, "b", side(c, c->b_value, c->b_device, c->b_clock, hq));
    return o;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(j) ? j->valuestring : "";
}

/* Opens the store and reads HQ's configuration (for HQ's writer id). */
static enum mrf_status open_with_config(struct cli_ctx *ctx, struct hqstore **st,
                                        struct hq_config *cfg)
{
    enum mrf_status rc = hq_store_open(ctx, st);

    if (rc == MRF_OK && (rc = hqstore_config_get(*st, cfg)) != MRF_OK)
        rc = hq_store_fail(ctx, *st, rc);
    return rc;
}

/* ---- mrf-hq conflicts -------------------------------------------------------------------- */

struct list {
    cJSON *arr;
    const uint8_t *hq;
};

static enum mrf_status list_collect(void *arg, const struct hq_conflict *c)
{
    struct list *l = arg;

    cJSON_AddItemToArray(l->arr, record_json(c, l->hq));
    return MRF_OK;
}

enum mrf_status hq_conflicts_json(struct hqstore *st, const struct hq_config *cfg, const char *post,
                                  int all, cJSON **out)
{
    struct list l = {cJSON_CreateArray(), cfg->device_id};
    enum mrf_status rc = hqstore_conflict_list(st, post, all, list_collect, &l);

    *out = NULL;
    if (rc != MRF_OK) {
        cJSON_Delete(l.arr);
        return rc;
    }
    *out = l.arr;
    return MRF_OK;
}

static int conflicts_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *post_in = cli_get(a, "post");
    struct hqstore *st = NULL;
    struct hq_config cfg;
    struct list l = {NULL, NULL};
    const cJSON *o;
    char post[16];
    enum mrf_status rc = MRF_OK;

    if (post_in != NULL)
        rc = post_code_parse(post_in, post, &ctx->err);
    if (rc == MRF_OK)
        rc = open_with_config(ctx, &st, &cfg);
    if (rc != MRF_OK)
        goto out;
    rc = hq_conflicts_json(st, &cfg, post_in ? post : NULL, cli_has(a, "all"), &l.arr);
    if (rc != MRF_OK) {
        rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    if (a->json) {
        rc = hq_print_json(ctx, l.arr);
        goto out;
    }
    if (cJSON_GetArraySize(l.arr) == 0) {
        printf(cli_has(a, "all")
                   ? "no conflict records\n"
                   : "no open conflicts (mrf-hq conflicts --all lists closed ones)\n");
        goto out;
    }
    printf("%-9s  %-8s  %-8s  %-16s  %-17s  %s\n", "ID", "POST", "KIND", "RULE", "OPENED",
           cli_has(a, "all") ? "STATE" : "ROWS");
    cJSON_ArrayForEach(o, l.arr) {
        printf("%-9s  %-8s  %-8s  %-16s  %-17.17s  %s\n", str_of(o, "id"), str_of(o, "post"),
               str_of(o, "kind"), str_of(o, "rule"), str_of(o, "opened"),
               cli_has(a, "all")
                   ? (str_of(o, "decision")[0] ? str_of(o, "decision") : str_of(o, "state"))
                   : str_of(o, "rows"));
        printf("           %s\n", str_of(o, "detail"));
    }
out:
    cJSON_Delete(l.arr);
    hqstore_close(st);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_conflicts = {
    "conflicts",
    "[--post P] [--all] [--json]",
    "list the conflict queue: open records by default, every record with --all",
    0,
    0,
    {{"post", 1, "only this post"},
     {"all", 0, "closed and information-only records too"},
     {"json", 0, "print JSON"},
     {NULL, 0, NULL}},
    conflicts_exec,
    CMD_READONLY,
};

/* ---- a row's history --------------------------------------------------------------------- */

struct hist {
    cJSON *arr;
    const uint8_t *hq;
    int only_col; /* -1: every column */
};

static enum mrf_status hist_collect(void *arg, const struct hq_write *w)
{
    struct hist *h = arg;
    const struct sync_column *col = sync_column_get(w->op->tbl, w->col);
    cJSON *o;
    struct buf b;
    char v[HQC_VALUE_MAX], who[17], hx[17];

    if (h->only_col >= 0 && w->col != h->only_col)
        return MRF_OK;
    buf_init(&b, sizeof v - 1);
    if (col->kind == CK_SEALED)
        str_copy(v, w->op->v.is_null ? "(none)" : "(sealed)", sizeof v);
    else if (sync_value_to_json(&w->op->v, &b) == MRF_OK && b.data != NULL)
        hq_value_text(w->op->tbl, w->col, b.data, v, sizeof v);
    else
        str_copy(v, "?", sizeof v);
    buf_release(&b);
    writer(w->op->device, h->hq, who);
    hlc_to_hex(w->op->clock, hx);
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seq", (double)w->pseq);
    cJSON_AddStringToObject(o, "column", col->name);
    cJSON_AddStringToObject(o, "value", v);
    cJSON_AddStringToObject(o, "writer", who);
    cJSON_AddStringToObject(o, "clock", hx);
    add_time(o, "written", (int64_t)(hlc_ms(w->op->clock) / 1000u));
    cJSON_AddItemToArray(h->arr, o);
    return MRF_OK;
}

static void print_history(const cJSON *arr)
{
    const cJSON *o;

    printf("%6s  %-12s  %-18s  %-16s  %-16s  %s\n", "SEQ", "COLUMN", "VALUE", "WRITER", "CLOCK",
           "WRITTEN");
    cJSON_ArrayForEach(o, arr) {
        printf("%6d  %-12s  %-18s  %-16s  %-16s  %s\n",
               cJSON_GetObjectItemCaseSensitive(o, "seq")->valueint, str_of(o, "column"),
               str_of(o, "value"), str_of(o, "writer"), str_of(o, "clock"), str_of(o, "written"));
    }
}

/* ---- mrf-hq conflict show ---------------------------------------------------------------- */

static void print_side(const char *label, const cJSON *s)
{
    if (s == NULL)
        return;
    printf("%-9s %s  (writer %s, clock %s, %s)\n", label, str_of(s, "value"), str_of(s, "writer"),
           str_of(s, "clock"), str_of(s, "written"));
}

enum mrf_status hq_conflict_show_json(struct hqstore *st, const struct hq_config *cfg,
                                      const char *id, struct hq_conflict *c, cJSON **out,
                                      struct mrf_error *err)
{
    struct hist h = {NULL, cfg->device_id, -1};
    cJSON *o = NULL;
    enum mrf_status rc = hqstore_conflict_get(st, id, c);

    *out = NULL;
    if (rc == MRF_E_NOTFOUND)
        return mrf_error_set(err, MRF_E_INVALID,
                             "no conflict %s; see mrf-hq conflicts --all for the ids", id);
    if (rc != MRF_OK)
        return mrf_error_set(err, rc, "%s", hqstore_errmsg(st));
    o = record_json(c, cfg->device_id);
    h.arr = cJSON_AddArrayToObject(o, "history");
    h.only_col = c->has_col ? c->col : -1;
    if (c->has_col) {
        rc = hqstore_row_history(st, c->post, c->tbl, c->row_id, hist_collect, &h);
        if (rc != MRF_OK) {
            cJSON_Delete(o);
            return mrf_error_set(err, rc, "%s", hqstore_errmsg(st));
        }
    }
    *out = o;
    return MRF_OK;
}

static int conflict_show_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct hqstore *st = NULL;
    struct hq_config cfg;
    struct hq_conflict c;
    const cJSON *hist = NULL;
    cJSON *o = NULL;
    char id[16];
    enum mrf_status rc = shortcode_parse("C", a->args[0], id, &ctx->err);

    if (rc == MRF_OK)
        rc = open_with_config(ctx, &st, &cfg);
    if (rc != MRF_OK)
        goto out;
    rc = hq_conflict_show_json(st, &cfg, id, &c, &o, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    hist = cJSON_GetObjectItemCaseSensitive(o, "history");
    if (a->json) {
        rc = hq_print_json(ctx, o);
        goto out;
    }
    printf("%s  %s %s, post %s%s\n", c.id, c.kind, c.rule, c.post, c.closed_at ? "" : "  (open)");
    printf("rows      %s\n", c.rows);
    printf("what      %s\n", c.detail);
    printf("opened    %s\n", str_of(o, "opened"));
    if (c.base[0])
        printf("base      %s\n", str_of(o, "base"));
    print_side("side A", cJSON_GetObjectItemCaseSensitive(o, "a"));
    print_side("side B", cJSON_GetObjectItemCaseSensitive(o, "b"));
    if (c.closed_at) {
        printf("closed    %s: %s\n", str_of(o, "closed"), c.decision);
        printf("reason    %s\n", c.reason[0] ? c.reason : "-");
        if (c.note[0])
            printf("note      %s\n", c.note);
    } else if (strcmp(c.kind, "value") == 0) {
        printf("decide    mrf-hq resolve %s (--accept | --take A|B | --set COLUMN=VALUE) "
               "--reason TEXT\n",
               c.id);
    } else {
        printf("decide    mrf-hq resolve %s (--accept | --set COLUMN=VALUE) --reason TEXT, or "
               "fix it at the post: it closes by itself when the rule holds\n",
               c.id);
    }
    if (cJSON_GetArraySize(hist) > 0) {
        printf("\nhistory of %s:\n", c.subject);
        print_history(hist);
    }
out:
    cJSON_Delete(o);
    hqstore_close(st);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_conflict_show = {
    "conflict show",
    "ID [--json]",
    "show one conflict record: base, both sides, the rule, the column's history",
    1,
    1,
    {{"json", 0, "print JSON"}, {NULL, 0, NULL}},
    conflict_show_exec,
    CMD_READONLY,
};

/* ---- mrf-hq resolve ---------------------------------------------------------------------- */

/* Checks a text that travels to the post (reason) or stays (note): at most 500 bytes of clean
 * UTF-8, one line. */
static enum mrf_status check_text(const char *what, const char *s, struct mrf_error *err)
{
    size_t n = strlen(s);

    if (n > HQC_TEXT_MAX - 1 || !text_valid(s, n, 0))
        return mrf_error_set(err, MRF_E_INVALID,
                             "resolve: --%s is one line of at most 500 bytes of text", what);
    return MRF_OK;
}

enum mrf_status hq_resolve_check(struct hq_resolve *r, const char *id, int forms, int accept,
                                 const char *take, const char *reason, const char *note,
                                 struct mrf_error *err)
{
    enum mrf_status rc;

    if (forms != 1)
        return mrf_error_set(err, MRF_E_USAGE,
                             "give one of --accept, --take A|B or --set COLUMN=VALUE");
    if (reason == NULL || reason[0] == '\0')
        return mrf_error_set(err, MRF_E_USAGE,
                             "--reason TEXT is required: it travels to the post with the decision "
                             "(no names or identities)");
    rc = shortcode_parse("C", id, r->id, err);
    if (rc == MRF_OK)
        rc = check_text("reason", reason, err);
    if (rc == MRF_OK && note != NULL)
        rc = check_text("note", note, err);
    if (rc != MRF_OK)
        return rc;
    r->reason = reason;
    r->note = note ? note : "";
    if (accept) {
        r->form = HQ_ACCEPT;
    } else if (take != NULL) {
        r->form = HQ_TAKE;
        if ((take[0] != 'A' && take[0] != 'B' && take[0] != 'a' && take[0] != 'b') ||
            take[1] != '\0')
            return mrf_error_set(
                err, MRF_E_INVALID,
                "resolve: --take A (the value HQ held) or --take B (the value that "
                "arrived)");
        r->side = take[0] == 'a' || take[0] == 'A' ? 'A' : 'B';
    } else {
        r->form = HQ_SET;
    }
    return MRF_OK;
}

enum mrf_status hq_resolve_commit(const char *home, const struct hq_resolve *r,
                                  struct hq_resolved *done, struct mrf_error *err)
{
    struct hqstore *st = NULL;
    struct mrf_secrets *keys = NULL;
    char *kpath = hq_path(home, HQ_KEYS_FILE);
    enum mrf_status rc = hqkeys_load(kpath, &keys, err);

    if (rc == MRF_OK)
        rc = hqstore_open(home, HQSTORE_EXISTING, &st, err);
    if (rc == MRF_OK && (rc = hqstore_begin(st)) != MRF_OK)
        rc = mrf_error_set(err, rc, "%s", hqstore_errmsg(st));
    if (rc == MRF_OK)
        rc = hq_resolve(st, keys, r, done, err);
    if (rc == MRF_OK && (rc = hqstore_commit(st)) != MRF_OK)
        rc = mrf_error_set(err, rc, "%s", hqstore_errmsg(st));
    if (st != NULL)
        hqstore_rollback(st);
    hqstore_close(st);
    mrf_secrets_free(keys);
    x_free(kpath);
    return rc;
}

static int resolve_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *take = cli_get(a, "take"), *reason = cli_get(a, "reason");
    const char *note = cli_get(a, "note");
    struct hq_resolve r;
    struct hq_resolved done;
    int forms = cli_has(a, "accept") + (take != NULL) + cli_has(a, "set");
    enum mrf_status rc = MRF_OK;

    memset(&r, 0, sizeof r);
    rc = hq_resolve_check(&r, a->args[0], forms, cli_has(a, "accept"), take, reason, note,
                          &ctx->err);
    if (rc != MRF_OK)
        goto out;
    if (r.form == HQ_SET) {
        for (int i = 0; i < a->nvals; i++) {
            const char *eq;
            if (strcmp(a->val_names[i], "set") != 0)
                continue;
            eq = strchr(a->vals[i], '=');
            if (eq == NULL || eq == a->vals[i] || r.nset == HQ_RESOLVE_SETS) {
                rc = mrf_error_set(&ctx->err, MRF_E_INVALID,
                                   "resolve: --set COLUMN=VALUE (e.g. --set amount=12500.00, "
                                   "--set themes=FOE,WGR), at most %d",
                                   HQ_RESOLVE_SETS);
                goto out;
            }
            snprintf(r.set_name[r.nset], sizeof r.set_name[0], "%.*s", (int)(eq - a->vals[i]),
                     a->vals[i]);
            r.set_value[r.nset] = eq + 1;
            r.nset++;
        }
    }
    rc = hq_resolve_commit(ctx->home, &r, &done, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    printf("%s resolved (%s, %d value%s written); post %s's devices get the decision on their "
           "next sync\n",
           done.id, done.decision, done.ops, done.ops == 1 ? "" : "s", done.post);
out:
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_resolve = {
    "resolve",
    "ID (--accept | --take A|B | --set COLUMN=VALUE ...) --reason TEXT [--note TEXT]",
    "decide a conflict; the decision wins everywhere and reaches the post on its next sync",
    1,
    1,
    {{"accept", 0, "keep the merged state"},
     {"take", 1, "A (the value HQ held) or B (the value that arrived)"},
     {"set", 1, "HQ's own value: amount=, currency=, status=, theme=, removed=, themes=A,B"},
     {"reason", 1, "why (required, at most 500 bytes, travels to the post: no names)"},
     {"note", 1, "the officer's own note (stays at HQ)"},
     {NULL, 0, NULL}},
    resolve_exec,
    CMD_WRITES,
};

/* ---- mrf-hq history ---------------------------------------------------------------------- */

static int history_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *post_in = cli_get(a, "post");
    struct hqstore *st = NULL;
    struct hq_config cfg;
    struct hist h = {NULL, NULL, -1};
    enum sync_table t;
    uint8_t id[MRF_ID];
    char post[16], code[16];
    enum mrf_status rc;

    if (strcmp(a->args[0], "grant") == 0)
        t = ST_GRANTS;
    else if (strcmp(a->args[0], "partner") == 0)
        t = ST_PARTNERS;
    else {
        rc = mrf_error_set(&ctx->err, MRF_E_USAGE, "history grant CODE or history partner CODE");
        goto out;
    }
    if (post_in == NULL) {
        rc = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           "--post P is required: codes are unique within a post");
        goto out;
    }
    rc = post_code_parse(post_in, post, &ctx->err);
    if (rc == MRF_OK)
        rc = shortcode_parse(sync_table_get(t)->code_prefix, a->args[1], code, &ctx->err);
    if (rc == MRF_OK)
        rc = open_with_config(ctx, &st, &cfg);
    if (rc != MRF_OK)
        goto out;
    rc = hqstore_row_find(st, post, t, code, id);
    if (rc == MRF_E_NOTFOUND) {
        rc = mrf_error_set(&ctx->err, MRF_E_INVALID, "no %s %s in post %s", a->args[0], code, post);
        goto out;
    }
    h.arr = cJSON_CreateArray();
    h.hq = cfg.device_id;
    if (rc == MRF_OK)
        rc = hqstore_row_history(st, post, t, id, hist_collect, &h);
    if (rc != MRF_OK) {
        rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    if (a->json)
        rc = hq_print_json(ctx, h.arr);
    else
        print_history(h.arr);
out:
    cJSON_Delete(h.arr);
    hqstore_close(st);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_history = {
    "history",
    "(grant|partner) CODE --post P [--json]",
    "every write to one grant or partner: column, value, writer, clock, time (sealed stays "
    "sealed)",
    2,
    2,
    {{"post", 1, "the post the row belongs to"}, {"json", 0, "print JSON"}, {NULL, 0, NULL}},
    history_exec,
    CMD_READONLY,
};

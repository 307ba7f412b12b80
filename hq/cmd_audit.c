/* `mrf-hq audit verify [--json]` and `mrf-hq audit list [--json] [--kind K] [--post P]`.
 * verify checks HQ's audit chain end to end (hq/audit_verify.c) with HQ's own keys (hq.keys)
 * and exits 0 only if everything holds, 1 naming the first fault otherwise. list shows each
 * link: for change sets the device and size, for HQ's own acts a summary, for reveals what
 * was revealed by code and why; never an identity (a reveal's body holds none). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "hq.h"
#include "hqstore.h"

/* "2026-11-28 17:03:05" UTC. */
static void when(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL)
        str_copy(out, "-", 32);
    else
        strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

/* ---- verify ------------------------------------------------------------------------------ */

static cJSON *report_json(const struct hq_audit_report *r)
{
    cJSON *o = cJSON_CreateObject(), *head = cJSON_CreateObject();
    char hash[65];

    sodium_bin2hex(hash, sizeof hash, r->head.hash, sizeof r->head.hash);
    cJSON_AddBoolToObject(o, "holds", r->holds);
    cJSON_AddNumberToObject(o, "entries", (double)r->entries);
    cJSON_AddNumberToObject(o, "changesets", (double)r->changesets);
    cJSON_AddNumberToObject(o, "hq_entries", (double)r->hq_entries);
    cJSON_AddNumberToObject(o, "ops", (double)r->ops);
    cJSON_AddNumberToObject(head, "seq", (double)r->head.seq);
    cJSON_AddStringToObject(head, "hash", hash);
    cJSON_AddItemToObject(o, "checked_to", head);
    if (r->holds) {
        cJSON_AddNullToObject(o, "first_bad");
        cJSON_AddNullToObject(o, "problem");
    } else {
        if (r->bad_seq != 0)
            cJSON_AddNumberToObject(o, "first_bad", (double)r->bad_seq);
        else
            cJSON_AddNullToObject(o, "first_bad");
        cJSON_AddStringToObject(o, "problem", r->problem);
    }
    return o;
}

static void report_text(const struct hq_audit_report *r)
{
    char hash[65];

    sodium_bin2hex(hash, sizeof hash, r->head.hash, sizeof r->head.hash);
    printf("audit: %s\n", r->holds ? "holds" : "DOES NOT HOLD");
    printf("  entries:     %lld checked (%lld change sets, %lld of HQ's own)\n",
           (long long)r->entries, (long long)r->changesets, (long long)r->hq_entries);
    printf("  ops:         %lld replayed\n", (long long)r->ops);
    printf("  checked to:  entry %lld, chain hash %.16s\n", (long long)r->head.seq, hash);
    if (!r->holds) {
        if (r->bad_seq != 0)
            printf("  first bad:   entry %lld\n", (long long)r->bad_seq);
        printf("  problem:     %s\n", r->problem);
    }
}

static int verify_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct hqstore *st = NULL;
    struct mrf_secrets *keys = NULL;
    struct hq_audit_report rep;
    char *keys_path = hq_path(ctx->home, HQ_KEYS_FILE);
    cJSON *o = NULL;
    enum mrf_status rc;

    (void)a;
    rc = hq_store_open(ctx, &st);
    if (rc == MRF_OK)
        rc = hqkeys_load(keys_path, &keys, &ctx->err);
    if (rc == MRF_OK)
        rc = hq_audit_verify(st, keys, &rep, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    if (ctx->json) {
        o = report_json(&rep);
        rc = hq_print_json(ctx, o);
    } else {
        report_text(&rep);
    }
    if (rc == MRF_OK && fflush(stdout) != 0)
        rc = mrf_error_set(&ctx->err, MRF_E_IO, "cannot write to standard output");
    if (rc == MRF_OK && !rep.holds)
        /* DESIGN §7 has no code of its own for this; the issue fixes 1 */
        rc = mrf_error_set(&ctx->err, MRF_E_INTERNAL, "the audit does not hold: %s", rep.problem);
out:
    cJSON_Delete(o);
    mrf_secrets_free(keys);
    hqstore_close(st);
    x_free(keys_path);
    return hq_finish(ctx, rc);
}

/* ---- list -------------------------------------------------------------------------------- */

struct list_state {
    struct cli_ctx *ctx;
    const char *kind; /* --kind, or NULL */
    const char *post; /* --post (normalised), or NULL */
    int count;
    cJSON *arr; /* --json */
};

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Fills o (for --json) and line (for text) with what entry e is. */
static void describe(const struct hq_audit_entry *e, cJSON *o, char *line, size_t n)
{
    struct envelope env;
    struct mrf_error err;
    cJSON *doc = NULL;
    const cJSON *ops;
    char dev[17];

    if (!e->has_body) {
        cJSON_AddStringToObject(o, "note", "hash only (before store version 3)");
        snprintf(line, n, "hash only (before store version 3)");
        return;
    }
    if (strcmp(e->kind, "changeset") == 0) {
        if (envelope_parse(e->body, e->body_len, &env, &err) != MRF_OK) {
            cJSON_AddStringToObject(o, "note", "malformed envelope");
            snprintf(line, n, "malformed envelope (%zu bytes)", e->body_len);
            return;
        }
        sodium_bin2hex(dev, sizeof dev, env.sender, 8);
        cJSON_AddStringToObject(o, "device", dev);
        cJSON_AddNumberToObject(o, "bytes", (double)e->body_len);
        cJSON_AddBoolToObject(o, "enroll", (env.flags & ENV_F_ENROLL) != 0);
        cJSON_AddBoolToObject(o, "restamped", strstr(e->meta, "restamp") != NULL);
        snprintf(line, n, "device %s, %zu bytes%s%s", dev, e->body_len,
                 (env.flags & ENV_F_ENROLL) ? ", enrolment" : "",
                 strstr(e->meta, "restamp") != NULL ? ", clocks restamped" : "");
        return;
    }
    doc = wire_json_parse((const char *)e->body, e->body_len);
    if (doc == NULL) {
        cJSON_AddStringToObject(o, "note", "body is not JSON");
        snprintf(line, n, "body is not JSON");
        return;
    }
    if (strcmp(e->kind, "reveal") == 0) {
        const char *what = jstr(doc, "what"), *code = jstr(doc, "code"),
                   *purpose = jstr(doc, "purpose");
        cJSON_AddStringToObject(o, "what", what ? what : "?");
        if (code != NULL)
            cJSON_AddStringToObject(o, "code", code);
        cJSON_AddStringToObject(o, "purpose", purpose ? purpose : "");
        for (int i = 0; i < 2; i++) { /* the names of the fields opened, and of damaged ones */
            const char *key = i == 0 ? "fields" : "damaged";
            const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, key);
            if (cJSON_IsArray(list))
                cJSON_AddItemToObject(o, key, cJSON_Duplicate(list, 1));
        }
        snprintf(line, n, "%s%s%s, purpose: %s", what ? what : "?", code ? " " : "",
                 code ? code : "", purpose ? purpose : "");
    } else if (strcmp(e->kind, "allocate") == 0) {
        const cJSON *year = cJSON_GetObjectItemCaseSensitive(doc, "year");
        const char *amount = jstr(doc, "amount"), *cur = jstr(doc, "currency");
        ops = cJSON_GetObjectItemCaseSensitive(doc, "ops");
        cJSON_AddNumberToObject(o, "year", cJSON_IsNumber(year) ? year->valuedouble : 0);
        cJSON_AddStringToObject(o, "amount", amount ? amount : "?");
        cJSON_AddStringToObject(o, "currency", cur ? cur : "?");
        cJSON_AddNumberToObject(o, "ops", cJSON_GetArraySize(ops));
        snprintf(line, n, "%d: %s %s (%d ops)", cJSON_IsNumber(year) ? year->valueint : 0,
                 amount ? amount : "?", cur ? cur : "?", cJSON_GetArraySize(ops));
    } else {
        const char *conflict = jstr(doc, "conflict"), *decision = jstr(doc, "decision");
        ops = cJSON_GetObjectItemCaseSensitive(doc, "ops");
        if (conflict != NULL)
            cJSON_AddStringToObject(o, "conflict", conflict);
        if (decision != NULL)
            cJSON_AddStringToObject(o, "decision", decision);
        cJSON_AddNumberToObject(o, "ops", cJSON_GetArraySize(ops));
        snprintf(line, n, "%s%s%s (%d ops)", conflict ? conflict : "", decision ? " " : "",
                 decision ? decision : "", cJSON_GetArraySize(ops));
    }
    cJSON_Delete(doc);
}

static enum mrf_status list_row(void *arg, const struct hq_audit_entry *e)
{
    struct list_state *ls = arg;
    const char *kind = e->has_body ? e->kind : "legacy";
    char at[32], line[768];
    cJSON *o;

    if (ls->kind != NULL && strcmp(ls->kind, kind) != 0)
        return MRF_OK;
    if (ls->post != NULL && strcmp(ls->post, e->post) != 0)
        return MRF_OK;
    when(e->at, at);
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seq", (double)e->seq);
    cJSON_AddNumberToObject(o, "at", (double)e->at);
    cJSON_AddStringToObject(o, "kind", kind);
    if (e->post[0] != '\0')
        cJSON_AddStringToObject(o, "post", e->post);
    else
        cJSON_AddNullToObject(o, "post");
    describe(e, o, line, sizeof line);
    if (ls->arr != NULL) {
        cJSON_AddItemToArray(ls->arr, o);
    } else {
        if (ls->count == 0)
            printf("%6s  %-19s  %-9s  %-12s  %s\n", "SEQ", "TIME (UTC)", "KIND", "POST", "WHAT");
        printf("%6lld  %-19s  %-9s  %-12s  %s\n", (long long)e->seq, at, kind,
               e->post[0] ? e->post : "-", line);
        cJSON_Delete(o);
    }
    ls->count++;
    return MRF_OK;
}

static int list_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct list_state ls = {ctx, cli_get(a, "kind"), NULL, 0, NULL};
    const char *post_in = cli_get(a, "post");
    struct hqstore *st = NULL;
    char post[16];
    enum mrf_status rc = MRF_OK;

    if (ls.kind != NULL && strcmp(ls.kind, "changeset") != 0 && strcmp(ls.kind, "allocate") != 0 &&
        strcmp(ls.kind, "resolve") != 0 && strcmp(ls.kind, "reveal") != 0 &&
        strcmp(ls.kind, "legacy") != 0) {
        rc = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           "--kind is changeset, allocate, resolve, reveal or legacy");
        goto out;
    }
    if (post_in != NULL) {
        rc = post_code_parse(post_in, post, &ctx->err);
        if (rc != MRF_OK)
            goto out;
        ls.post = post;
    }
    rc = hq_store_open(ctx, &st);
    if (rc != MRF_OK)
        goto out;
    if (ctx->json)
        ls.arr = cJSON_CreateArray();
    rc = hqstore_audit_scan(st, 0, list_row, &ls);
    if (rc != MRF_OK) {
        rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    if (ctx->json)
        rc = hq_print_json(ctx, ls.arr);
    else if (ls.count == 0)
        fprintf(stderr, "no audit entries%s\n",
                ls.kind != NULL || ls.post != NULL ? " match" : " yet");
out:
    cJSON_Delete(ls.arr);
    hqstore_close(st);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_audit_verify = {
    "audit verify",
    "[--json]",
    "check the audit chain, every signature, and that replaying it gives hq.db's tables",
    0,
    0,
    {{"json", 0, "print JSON"}, {NULL, 0, NULL}},
    verify_exec,
    CMD_READONLY,
};

const struct cmd_entry hq_cmd_audit_list = {
    "audit list",
    "[--json] [--kind K] [--post P]",
    "list the audit chain: change sets, allocations, decisions, reveals (codes only)",
    0,
    0,
    {{"json", 0, "print JSON"},
     {"kind", 1, "changeset, allocate, resolve, reveal or legacy"},
     {"post", 1, "one post's entries"},
     {NULL, 0, NULL}},
    list_exec,
    CMD_READONLY,
};

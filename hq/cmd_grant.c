/* `mrf-hq grant list [--post CODE] [--year Y] [--json]`: the consolidated grants as HQ holds
 * them after merging every device's change sets — post, code, theme, year, amount, currency,
 * status — and never a partner or a note (HQ holds those sealed only). Reports by theme, post
 * and status come with `mrf-hq report`. */
#include <stdio.h>

#include <cjson/cJSON.h>

#include "hq.h"
#include "hqstore.h"
#include "mrfsync.h"

struct list_state {
    int json;
    int count;
    cJSON *arr;
};

static enum mrf_status list_row(void *arg, const struct hq_grant *g)
{
    struct list_state *ls = arg;
    char amount[32];

    money_format(g->amount_cents, amount);
    if (ls->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "post", g->post);
        cJSON_AddStringToObject(o, "code", g->code);
        cJSON_AddStringToObject(o, "theme", g->theme);
        cJSON_AddNumberToObject(o, "year", g->year);
        cJSON_AddStringToObject(o, "amount", amount);
        cJSON_AddNumberToObject(o, "amount_cents", (double)g->amount_cents);
        cJSON_AddStringToObject(o, "currency", g->currency);
        cJSON_AddStringToObject(o, "status", g->status);
        cJSON_AddBoolToObject(o, "removed", g->removed);
        cJSON_AddItemToArray(ls->arr, o);
    } else {
        if (ls->count == 0)
            printf("%-12s  %-10s  %-7s  %4s  %16s  %-3s  %s\n", "POST", "GRANT", "THEME", "YEAR",
                   "AMOUNT", "CUR", "STATUS");
        printf("%-12s  %-10s  %-7s  %4d  %16s  %-3s  %s%s\n", g->post, g->code, g->theme, g->year,
               amount, g->currency, g->status, g->removed ? " (removed)" : "");
    }
    ls->count++;
    return MRF_OK;
}

static int grant_list_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *post_in = cli_get(a, "post"), *year_in = cli_get(a, "year");
    struct list_state ls = {a->json, 0, NULL};
    struct hqstore *st = NULL;
    char post[16];
    int year = 0;
    enum mrf_status rc = MRF_OK;

    if (post_in != NULL)
        rc = post_code_parse(post_in, post, &ctx->err);
    if (rc == MRF_OK && year_in != NULL)
        rc = year_parse(year_in, &year, &ctx->err);
    if (rc == MRF_OK)
        rc = hq_store_open(ctx, &st);
    if (rc != MRF_OK)
        goto out;
    if (ls.json)
        ls.arr = cJSON_CreateArray();
    rc = hqstore_grant_list(st, post_in ? post : NULL, year, list_row, &ls);
    if (rc != MRF_OK) {
        rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    if (ls.json)
        rc = hq_print_json(ctx, ls.arr);
    else if (ls.count == 0)
        fprintf(stderr, "no grants yet; they arrive when posts sync\n");
out:
    cJSON_Delete(ls.arr);
    hqstore_close(st);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_grant_list = {
    "grant list",
    "[--post CODE] [--year Y] [--json]",
    "list the consolidated grants of all posts (no partner identities: HQ cannot open them)",
    0,
    0,
    {{"post", 1, "only this post"},
     {"year", 1, "only this year"},
     {"json", 0, "print JSON"},
     {NULL, 0, NULL}},
    grant_list_exec,
    CMD_READONLY,
};

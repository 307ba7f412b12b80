/* mrf allocation / status / conflicts: what the post has from HQ, where it stands, and what HQ
 * found in conflict. */
#include "client.h"

static int exec_allocation(struct cli_ctx *ctx, const struct cli_args *a)
{
    int year = client_this_year();
    cJSON *o = NULL, *x;
    enum mrf_status st = client_open(ctx);

    if (st == MRF_OK && a->nargs > 0)
        st = year_parse(a->args[0], &year, &ctx->err);
    if (st == MRF_OK)
        st = client_allocation_json(ctx, year, &o);
    if (st != MRF_OK)
        return out_fail("allocation", ctx, st);
    if (a->json) {
        out_json(o);
    } else {
        const char *cur = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "currency"));
        const char *al = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "allocation"));
        const char *cm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "committed"));
        const char *rm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "remaining"));
        printf("year        %d\n", year);
        printf("allocation  %s\n", al ? al : "none received from HQ yet");
        printf("committed   %s %s\n", cm, cur);
        printf("remaining   %s%s%s\n", rm ? rm : "-", rm ? " " : "", rm ? cur : "");
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(o, "other_currencies"))
        {
            printf("committed   %s %s (not counted against the allocation)\n",
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "committed")),
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "currency")));
        }
    }
    cJSON_Delete(o);
    return 0;
}

static int exec_status(struct cli_ctx *ctx, const struct cli_args *a)
{
    cJSON *o = NULL;
    enum mrf_status st = client_open(ctx);

    if (st == MRF_OK)
        st = client_status_json(ctx, &o);
    if (st != MRF_OK)
        return out_fail("status", ctx, st);
    if (a->json) {
        out_json(o);
    } else {
        const char *keys[] = {"post",          "device",  "hq",        "hq_fingerprint", "enrolled",
                              "token_expires", "pending", "last_sync", "open_conflicts"};
        const char *labels[] = {
            "post",          "device",          "HQ",        "HQ fingerprint", "enrolled",
            "token expires", "pending changes", "last sync", "open conflicts"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
            if (v == NULL)
                continue;
            if (cJSON_IsString(v))
                printf("%-16s %s\n", labels[i], v->valuestring);
            else if (cJSON_IsNumber(v))
                printf("%-16s %.0f\n", labels[i], v->valuedouble);
            else if (cJSON_IsBool(v))
                printf("%-16s %s\n", labels[i],
                       cJSON_IsTrue(v) ? "yes" : "not yet (the first sync introduces this device)");
            else
                printf("%-16s %s\n", labels[i], "never");
        }
    }
    cJSON_Delete(o);
    return 0;
}

static int exec_conflicts(struct cli_ctx *ctx, const struct cli_args *a)
{
    static const char *const keys[] = {"id", "state", "kind", "subject", "detail", "opened"};
    static const char *const heads[] = {"ID", "STATE", "KIND", "SUBJECT", "DETAIL", "OPENED"};
    cJSON *rows = NULL;
    enum mrf_status st = client_open(ctx);

    if (st == MRF_OK)
        st = client_conflicts_json(ctx, &rows);
    if (st != MRF_OK)
        return out_fail("conflicts", ctx, st);
    if (a->json)
        out_json(rows);
    else
        out_table(rows, keys, heads, 6, "no conflicts reported by HQ");
    cJSON_Delete(rows);
    return 0;
}

const struct cmd_entry cmd_allocation = {
    "allocation",
    "[YEAR] [--json]",
    "HQ's allocation for a year (default this year), committed grants and what remains",
    0,
    1,
    {{"json", 0, "print JSON"}, {NULL, 0, NULL}},
    exec_allocation,
};

const struct cmd_entry cmd_status = {
    "status",
    "[--json]",
    "this device: post, enrollment, pending changes, last sync, open conflicts",
    0,
    0,
    {{"json", 0, "print JSON"}, {NULL, 0, NULL}},
    exec_status,
};

const struct cmd_entry cmd_conflicts = {
    "conflicts",
    "[--json]",
    "conflicts HQ reported for this post",
    0,
    0,
    {{"json", 0, "print JSON"}, {NULL, 0, NULL}},
    exec_conflicts,
};

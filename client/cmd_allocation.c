/* mrf allocation [YEAR]: HQ's allocation for a year, what the post has committed against it,
 * and what remains. */
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
        printf("allocation  %s%s%s\n", al ? al : "none received from HQ yet", al ? " " : "",
               al ? cur : "");
        printf("committed   %s %s\n", cm, cur);
        printf("remaining   %s%s%s\n", rm ? rm : "-", rm ? " " : "", rm ? cur : "");
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(o, "other_currencies")) {
            printf("committed   %s %s (not counted against the allocation)\n",
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "committed")),
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "currency")));
        }
    }
    cJSON_Delete(o);
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
    CMD_READONLY,
};

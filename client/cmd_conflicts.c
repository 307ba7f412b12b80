/* mrf conflicts: the conflict records HQ sent this post (open ones; with --all, closed ones
 * too, with HQ's decision and reason). They arrive in HQ's signed answers on each sync; the
 * decisions themselves arrive as ordinary writes. */
#include "client.h"

static const char *field(const cJSON *o, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(j) ? j->valuestring : "";
}

/* One record a block: its line, then what happened and HQ's decision, indented, so a long
 * detail never widens a table past the terminal. */
static void print_records(const cJSON *rows)
{
    const cJSON *o;

    cJSON_ArrayForEach(o, rows) {
        printf("%-9s %-8s %-16s %s\n", field(o, "id"), field(o, "kind"), field(o, "rule"),
               field(o, "rows"));
        printf("          %s\n", field(o, "detail"));
        if (field(o, "decision")[0] != '\0')
            printf("          closed %s by HQ: %s%s%s\n", field(o, "closed"), field(o, "decision"),
                   field(o, "reason")[0] ? ": " : "", field(o, "reason"));
        else
            printf("          open since %s\n", field(o, "opened"));
    }
}

static int exec_conflicts(struct cli_ctx *ctx, const struct cli_args *a)
{
    int all = cli_has(a, "all");
    cJSON *rows = NULL;
    enum mrf_status st = client_open(ctx);

    if (st == MRF_OK)
        st = client_conflicts_json(ctx, all, &rows);
    if (st != MRF_OK)
        return out_fail("conflicts", ctx, st);
    if (a->json)
        out_json(rows);
    else if (cJSON_GetArraySize(rows) == 0)
        printf("%s\n", all ? "no conflicts reported by HQ"
                           : "no open conflicts ('mrf conflicts --all' shows closed ones too)");
    else
        print_records(rows);
    cJSON_Delete(rows);
    return 0;
}

const struct cmd_entry cmd_conflicts = {
    "conflicts",
    "[--all] [--json]",
    "conflicts HQ reported for this post: open ones, or all with HQ's decision and reason",
    0,
    0,
    {{"all", 0, "closed ones too, with HQ's decision, reason and when it closed them"},
     {"json", 0, "print JSON"},
     {NULL, 0, NULL}},
    exec_conflicts,
    CMD_READONLY,
};

/* mrf conflicts: the conflicts HQ reported for this post. */
#include "client.h"

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

const struct cmd_entry cmd_conflicts = {
    "conflicts",
    "[--json]",
    "conflicts HQ reported for this post",
    0,
    0,
    {{"json", 0, "print JSON"}, {NULL, 0, NULL}},
    exec_conflicts,
};

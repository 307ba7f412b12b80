/* mrf conflicts: the conflict records HQ sent this post (open ones; with --all, closed ones
 * too, with HQ's decision and reason). They arrive in HQ's signed answers on each sync; the
 * decisions themselves arrive as ordinary writes. */
#include "client.h"

static int exec_conflicts(struct cli_ctx *ctx, const struct cli_args *a)
{
    static const char *const keys[] = {"id",     "kind",   "rule",     "rows",  "detail",
                                       "opened", "closed", "decision", "reason"};
    static const char *const heads[] = {"ID",     "KIND",   "RULE",     "ROWS",  "WHAT",
                                        "OPENED", "CLOSED", "DECISION", "REASON"};
    int all = cli_has(a, "all");
    cJSON *rows = NULL;
    enum mrf_status st = client_open(ctx);

    if (st == MRF_OK)
        st = client_conflicts_json(ctx, all, &rows);
    if (st != MRF_OK)
        return out_fail("conflicts", ctx, st);
    if (a->json)
        out_json(rows);
    else
        out_table(rows, keys, heads, all ? 9 : 6,
                  all ? "no conflicts reported by HQ"
                      : "no open conflicts ('mrf conflicts --all' shows closed ones too)");
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
};

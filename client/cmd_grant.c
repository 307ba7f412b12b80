/* mrf grant add / set / list: grants to partners, in integer cents, typed as decimals. */
#include "client.h"

static void read_input(const struct cli_args *a, struct grant_input *in)
{
    in->partner = cli_get(a, "partner");
    in->theme = cli_get(a, "theme");
    in->year = cli_get(a, "year");
    in->amount = cli_get(a, "amount");
    in->currency = cli_get(a, "currency");
    in->status = cli_get(a, "status");
    in->start = cli_get(a, "start");
    in->end = cli_get(a, "end");
    in->note = cli_get(a, "note");
}

/* Warns (never refuses) when committed grants pass a known allocation: HQ decides. */
static void warn_allocation(struct cli_ctx *ctx, int year)
{
    char msg[256];

    if (client_allocation_warning(ctx, year, msg, sizeof msg))
        fprintf(stderr, "mrf: warning: %s\n", msg);
}

static int exec_grant_add(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct grant_input in;
    char code[16];
    enum mrf_status st;

    read_input(a, &in);
    if (!in.partner || !in.theme || !in.year || !in.amount) {
        mrf_error_set(&ctx->err, MRF_E_USAGE,
                      "--partner, --theme, --year and --amount are needed; 'mrf grant add "
                      "--help' shows them");
        return out_fail("grant add", ctx, MRF_E_USAGE);
    }
    st = client_open(ctx);
    if (st == MRF_OK)
        st = client_grant_add(ctx, &in, code);
    if (st != MRF_OK)
        return out_fail("grant add", ctx, st);
    printf("%s\n", code);
    return 0;
}

static int exec_grant_set(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct grant_input in;
    enum mrf_status st = client_open(ctx);
    uint8_t id[MRF_ID];
    int removed;
    cJSON *rows = NULL;

    read_input(a, &in);
    if (st == MRF_OK)
        st = client_grant_set(ctx, a->args[0], &in);
    if (st != MRF_OK)
        return out_fail("grant set", ctx, st);
    printf("%s updated\n", a->args[0]);
    if (client_find(ctx, ST_GRANTS, a->args[0], id, &removed) == MRF_OK &&
        client_grants_json(ctx, 0, id, 0, &rows) == MRF_OK) {
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rows, 0), "year");
        if (cJSON_IsNumber(y))
            warn_allocation(ctx, (int)y->valuedouble);
    }
    cJSON_Delete(rows);
    return 0;
}

static int exec_grant_list(struct cli_ctx *ctx, const struct cli_args *a)
{
    static const char *const keys[] = {"code",     "partner", "theme", "year", "amount",
                                       "currency", "status",  "start", "end",  "conflict"};
    static const char *const heads[] = {"CODE", "PARTNER", "THEME", "YEAR", "AMOUNT",
                                        "CUR",  "STATUS",  "START", "END",  "CONFLICT"};
    const char *y = cli_get(a, "year");
    int year = 0;
    cJSON *rows = NULL;
    enum mrf_status st = client_open(ctx);

    if (st == MRF_OK && y)
        st = year_parse(y, &year, &ctx->err);
    if (st == MRF_OK)
        st = client_grants_json(ctx, year, NULL, 0, &rows);
    if (st == MRF_OK)
        st = client_grants_mark_conflicts(ctx, rows);
    if (st != MRF_OK) {
        cJSON_Delete(rows);
        return out_fail("grant list", ctx, st);
    }
    if (a->json)
        out_json(rows);
    else
        out_table(rows, keys, heads, 10, "no grants; 'mrf grant add --help' shows how to add one");
    cJSON_Delete(rows);
    return 0;
}

const struct cmd_entry cmd_grant_add = {
    "grant add",
    "--partner CODE --theme T --year Y --amount A [--currency EUR] [--start DATE] [--end DATE] "
    "[--note T]",
    "record a grant (status draft); prints its code",
    0,
    0,
    {{"partner", 1, "the partner's code (PX-...)"},
     {"theme", 1, "one of the post's themes for the year"},
     {"year", 1, "the fund year"},
     {"amount", 1, "decimal amount, as 12500.00"},
     {"currency", 1, "ISO 4217 code (default EUR)"},
     {"start", 1, "start date YYYY-MM-DD"},
     {"end", 1, "end date YYYY-MM-DD"},
     {"note", 1, "free-text note (sealed)"},
     {NULL, 0, NULL}},
    exec_grant_add,
    CMD_WRITES,
};

const struct cmd_entry cmd_grant_set = {
    "grant set",
    "CODE [--amount A] [--status S] [--start D] [--end D] [--note T]",
    "change a grant; status moves forward only (draft, committed, disbursed, closed; cancelled)",
    1,
    1,
    {{"amount", 1, "decimal amount"},
     {"status", 1, "draft, committed, disbursed, closed or cancelled"},
     {"start", 1, "start date YYYY-MM-DD (empty clears)"},
     {"end", 1, "end date YYYY-MM-DD (empty clears)"},
     {"note", 1, "free-text note (sealed; empty clears)"},
     {NULL, 0, NULL}},
    exec_grant_set,
    CMD_WRITES,
};

const struct cmd_entry cmd_grant_list = {
    "grant list",
    "[--year Y] [--json]",
    "list grants; CONFLICT names an open conflict HQ reported ('mrf conflicts')",
    0,
    0,
    {{"year", 1, "only this year"}, {"json", 0, "print JSON"}, {NULL, 0, NULL}},
    exec_grant_list,
    CMD_READONLY,
};

/* mrf theme set / theme list: the post's focus themes per year (at most two). */
#include "client.h"

static int exec_theme_set(struct cli_ctx *ctx, const struct cli_args *a)
{
    int year;
    enum mrf_status st = client_open(ctx);

    if (st == MRF_OK)
        st = year_parse(a->args[0], &year, &ctx->err);
    if (st == MRF_OK)
        st = client_theme_set(ctx, year, a->args + 1, a->nargs - 1);
    if (st != MRF_OK)
        return out_fail("theme set", ctx, st);
    printf("themes for %d:", year);
    for (int i = 1; i < a->nargs; i++)
        printf(" %s", theme_code(theme_index(a->args[i])));
    printf("\n");
    return 0;
}

static int exec_theme_list(struct cli_ctx *ctx, const struct cli_args *a)
{
    static const char *const keys[] = {"year", "theme", "title"};
    static const char *const heads[] = {"YEAR", "THEME", "TITLE"};
    int year = 0;
    cJSON *rows = NULL;
    enum mrf_status st = client_open(ctx);

    if (st == MRF_OK && a->nargs > 0)
        st = year_parse(a->args[0], &year, &ctx->err);
    if (st == MRF_OK)
        st = client_themes_json(ctx, year, &rows);
    if (st != MRF_OK)
        return out_fail("theme list", ctx, st);
    if (a->json)
        out_json(rows);
    else
        out_table(rows, keys, heads, 3, "no themes set; 'mrf theme set YEAR THEME [THEME]'");
    cJSON_Delete(rows);
    return 0;
}

const struct cmd_entry cmd_theme_set = {
    "theme set",
    "YEAR THEME [THEME]",
    "replace the post's focus themes for a year (at most two of FOE WGR LGBTIQ FORB HRD ACC)",
    2,
    8,
    {{NULL, 0, NULL}},
    exec_theme_set,
    CMD_WRITES,
};

const struct cmd_entry cmd_theme_list = {
    "theme list",
    "[YEAR]",
    "list the post's themes, for one year or all",
    0,
    1,
    {{"json", 0, "print JSON"}, {NULL, 0, NULL}},
    exec_theme_list,
    CMD_READONLY,
};

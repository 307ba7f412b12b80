/* mrf export --format csv|json [--reveal]: the post's partners and grants for reporting or a
 * hand-over. Without --reveal, identities and notes stay "sealed". CSV has one row per grant,
 * with its partner's columns; a partner without grants has one row with empty grant columns. */
#include <string.h>

#include "client.h"

static void csv_field(const cJSON *v, int last)
{
    const char *s = NULL;
    char num[32];

    if (cJSON_IsString(v)) {
        s = v->valuestring;
    } else if (cJSON_IsNumber(v)) {
        snprintf(num, sizeof num, "%.0f", v->valuedouble);
        s = num;
    } else if (cJSON_IsBool(v)) {
        s = cJSON_IsTrue(v) ? "yes" : "no";
    }
    if (s) {
        /* Quote always; double inner quotes. A leading = + - @ is prefixed with ' so a
         * spreadsheet never runs a field as a formula. */
        fputc('"', stdout);
        if (strchr("=+-@", s[0]) && s[0] != '\0' && !cJSON_IsNumber(v))
            fputc('\'', stdout);
        for (const char *p = s; *p; p++) {
            if (*p == '"')
                fputc('"', stdout);
            fputc(*p, stdout);
        }
        fputc('"', stdout);
    }
    fputs(last ? "\r\n" : ",", stdout);
}

static void print_csv(const cJSON *partners, const cJSON *grants)
{
    static const char *const pk[] = {"code",  "risk",    "name", "contact", "phone",
                                     "email", "address", "bank", "note"};
    static const char *const gk[] = {"code",   "theme", "year", "amount", "currency",
                                     "status", "start", "end",  "note"};
    const cJSON *p, *g;

    fputs("partner,risk,name,contact,phone,email,address,bank,partner_note,grant,theme,year,"
          "amount,currency,status,start,end,grant_note\r\n",
          stdout);
    cJSON_ArrayForEach(p, partners)
    {
        const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "code"));
        int any = 0;
        cJSON_ArrayForEach(g, grants)
        {
            const char *pc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "partner"));
            if (!pc || !code || strcmp(pc, code) != 0)
                continue;
            any = 1;
            for (int k = 0; k < 9; k++)
                csv_field(cJSON_GetObjectItemCaseSensitive(p, pk[k]), 0);
            for (int k = 0; k < 9; k++)
                csv_field(cJSON_GetObjectItemCaseSensitive(g, gk[k]), k == 8);
        }
        if (!any) {
            for (int k = 0; k < 9; k++)
                csv_field(cJSON_GetObjectItemCaseSensitive(p, pk[k]), 0);
            for (int k = 0; k < 9; k++)
                csv_field(NULL, k == 8);
        }
    }
}

static int exec_export(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *format = cli_get(a, "format");
    int reveal = cli_has(a, "reveal");
    cJSON *partners = NULL, *grants = NULL, *themes = NULL;
    enum mrf_status st;

    if (format == NULL || (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)) {
        mrf_error_set(&ctx->err, MRF_E_USAGE, "--format is csv or json");
        return out_fail("export", ctx, MRF_E_USAGE);
    }
    st = client_open(ctx);
    if (st == MRF_OK && reveal)
        st = client_unlock(ctx);
    if (st == MRF_OK)
        st = client_partners_json(ctx, NULL, reveal, &partners);
    if (st == MRF_OK)
        st = client_grants_json(ctx, 0, NULL, reveal, &grants);
    if (st == MRF_OK)
        st = client_themes_json(ctx, 0, &themes);
    if (st != MRF_OK) {
        cJSON_Delete(partners);
        cJSON_Delete(grants);
        cJSON_Delete(themes);
        return out_fail("export", ctx, st);
    }
    if (strcmp(format, "json") == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "post", ctx->meta.post);
        cJSON_AddItemToObject(o, "themes", themes);
        cJSON_AddItemToObject(o, "partners", partners);
        cJSON_AddItemToObject(o, "grants", grants);
        out_json(o);
        cJSON_Delete(o);
    } else {
        print_csv(partners, grants);
        cJSON_Delete(partners);
        cJSON_Delete(grants);
        cJSON_Delete(themes);
    }
    return 0;
}

const struct cmd_entry cmd_export = {
    "export",
    "--format csv|json [--reveal]",
    "export partners and grants; identities stay sealed unless --reveal (passphrase)",
    0,
    0,
    {{"format", 1, "csv or json"}, {"reveal", 0, "open identities and notes"}, {NULL, 0, NULL}},
    exec_export,
};

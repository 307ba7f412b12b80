/* mrf export --format csv|json [--reveal]: the post's partners and grants for reporting or a
 * hand-over. Without --reveal, identities and notes stay "sealed". CSV has one row per grant,
 * with its partner's columns; a live partner without grants has one row with empty grant
 * columns. JSON lists every partner a grant can point to, removed ones included. */
#include <stdlib.h>
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

/* The partners by code, for one lookup per grant in O(log n): the list's items sorted by
 * (code, place in the list), so a code's first entry is the one the list gives first. Items
 * without a code are left out (no grant can name them). */
struct by_code {
    const char *code;
    size_t place;
    const cJSON *p;
    int has_grant; /* on a code's first entry: a grant names this code */
};

static int by_code_cmp(const void *a, const void *b)
{
    const struct by_code *x = a, *y = b;
    int c = strcmp(x->code, y->code);

    return c != 0 ? c : x->place < y->place ? -1 : x->place > y->place;
}

/* OUT: *n entries; caller frees (x_free). */
static struct by_code *by_code_make(const cJSON *partners, size_t *n)
{
    struct by_code *v = xmalloc(((size_t)cJSON_GetArraySize(partners) + 1) * sizeof *v);
    const cJSON *p;
    size_t place = 0;

    *n = 0;
    cJSON_ArrayForEach(p, partners) {
        const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "code"));
        if (c)
            v[(*n)++] = (struct by_code){c, place, p, 0};
        place++;
    }
    qsort(v, *n, sizeof *v, by_code_cmp);
    return v;
}

/* The first entry of code (the partner the list gives first with it), or NULL. */
static struct by_code *by_code_find(struct by_code *v, size_t n, const char *code)
{
    size_t lo = 0, hi = n;

    if (code == NULL)
        return NULL;
    while (lo < hi) { /* the first entry whose code is not below code */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(v[mid].code, code) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(v[lo].code, code) == 0 ? &v[lo] : NULL;
}

/* The CSV heading of a partner key: the key itself, but the partner's note is "partner_note"
 * beside the grant's "grant_note". */
static const char *partner_head(const char *key)
{
    return strcmp(key, "note") == 0 ? "partner_note" : key;
}

static void print_csv(const cJSON *partners, const cJSON *grants)
{
    static const char *const gk[] = {"code",   "theme", "year", "amount", "currency",
                                     "status", "start", "end",  "note"};
    const int ngk = (int)(sizeof gk / sizeof gk[0]);
    /* The partner's code and risk, then its sealed columns as sync's table names them. */
    const char *pk[2 + PARTNER_NCOLS];
    int npk = 0;
    const cJSON *p, *g;
    size_t nby;
    struct by_code *by = by_code_make(partners, &nby);

    pk[npk++] = "code";
    pk[npk++] = "risk";
    for (int c = 0; c < PARTNER_NCOLS; c++)
        if (sync_column_sealed(ST_PARTNERS, c))
            pk[npk++] = sync_table_get(ST_PARTNERS)->cols[c].name;
    fputs("partner,risk", stdout);
    for (int k = 2; k < npk; k++)
        printf(",%s", partner_head(pk[k]));
    fputs(",grant,theme,year,amount,currency,status,start,end,grant_note\r\n", stdout);
    /* Every grant, with its partner's columns (only the code if the partner's row has not
     * reached this device). */
    cJSON_ArrayForEach(g, grants) {
        const cJSON *pc = cJSON_GetObjectItemCaseSensitive(g, "partner");
        struct by_code *e = by_code_find(by, nby, cJSON_GetStringValue(pc));
        p = e ? e->p : NULL;
        if (e)
            e->has_grant = 1;
        for (int k = 0; k < npk; k++)
            csv_field(p ? cJSON_GetObjectItemCaseSensitive(p, pk[k]) : k == 0 ? pc : NULL, 0);
        for (int k = 0; k < ngk; k++)
            csv_field(cJSON_GetObjectItemCaseSensitive(g, gk[k]), k == ngk - 1);
    }
    /* Then every live partner without grants: no grant names its code (a partner whose code
     * another partner also has counts as having the grants that name the code). */
    cJSON_ArrayForEach(p, partners) {
        const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "code"));
        const struct by_code *e = by_code_find(by, nby, code);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "removed")))
            continue;
        if (e && e->has_grant)
            continue;
        for (int k = 0; k < npk; k++)
            csv_field(cJSON_GetObjectItemCaseSensitive(p, pk[k]), 0);
        for (int k = 0; k < ngk; k++)
            csv_field(NULL, k == ngk - 1);
    }
    x_free(by);
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
        st = client_partners_json(ctx, NULL, 1, reveal, &partners);
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
    CMD_READONLY,
};

/* mrf partner add / list / show / edit / remove. Identities and notes are sealed on this device
 * when recorded (no passphrase needed) and shown only with --reveal (passphrase needed). */
#include <string.h>

#include "client.h"

#define PARTNER_FIELD_OPTS                                                                         \
    {"name", 1, "the organisation's name (sealed)"}, {"contact", 1, "contact person (sealed)"},    \
        {"phone", 1, "phone number (sealed)"}, {"email", 1, "e-mail address (sealed)"},            \
        {"address", 1, "postal address (sealed)"}, {"bank", 1, "bank account (sealed)"},           \
        {"risk", 1, "low, medium or high"},                                                        \
    {                                                                                              \
        "note", 1, "free-text note (sealed)"                                                       \
    }

static void read_input(const struct cli_args *a, struct partner_input *in)
{
    in->name = cli_get(a, "name");
    in->contact = cli_get(a, "contact");
    in->phone = cli_get(a, "phone");
    in->email = cli_get(a, "email");
    in->address = cli_get(a, "address");
    in->bank = cli_get(a, "bank");
    in->note = cli_get(a, "note");
    in->risk = cli_get(a, "risk");
}

static int exec_partner_add(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct partner_input in;
    char code[16];
    enum mrf_status st = client_open(ctx);

    read_input(a, &in);
    if (st == MRF_OK)
        st = client_partner_add(ctx, &in, code);
    if (st != MRF_OK)
        return out_fail("partner add", ctx, st);
    printf("%s\n", code);
    return 0;
}

static int exec_partner_edit(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct partner_input in;
    enum mrf_status st = client_open(ctx);

    read_input(a, &in);
    if (st == MRF_OK)
        st = client_partner_edit(ctx, a->args[0], &in);
    if (st != MRF_OK)
        return out_fail("partner edit", ctx, st);
    printf("%s updated\n", a->args[0]);
    return 0;
}

static int exec_partner_remove(struct cli_ctx *ctx, const struct cli_args *a)
{
    enum mrf_status st = client_open(ctx);

    if (st == MRF_OK)
        st = client_partner_remove(ctx, a->args[0]);
    if (st != MRF_OK)
        return out_fail("partner remove", ctx, st);
    printf("%s removed\n", a->args[0]);
    return 0;
}

static int exec_partner_list(struct cli_ctx *ctx, const struct cli_args *a)
{
    static const char *const keys[] = {"code", "risk", "grants", "name"};
    static const char *const heads[] = {"CODE", "RISK", "GRANTS", "NAME"};
    int reveal = cli_has(a, "reveal");
    cJSON *rows = NULL;
    enum mrf_status st = client_open(ctx);

    if (st == MRF_OK && reveal)
        st = client_unlock(ctx);
    if (st == MRF_OK)
        st = client_partners_json(ctx, NULL, 0, reveal, &rows);
    if (st != MRF_OK)
        return out_fail("partner list", ctx, st);
    if (a->json)
        out_json(rows);
    else
        out_table(rows, keys, heads, 4, "no partners yet; 'mrf partner add --name NAME'");
    cJSON_Delete(rows);
    return 0;
}

static int exec_partner_show(struct cli_ctx *ctx, const struct cli_args *a)
{
    /* code, risk, removed, then the sealed columns as sync's table names them */
    const char *keys[3 + PARTNER_NCOLS] = {"code", "risk", "removed"};
    int nkeys = 3;
    int reveal = cli_has(a, "reveal");
    uint8_t id[MRF_ID];
    int removed;
    cJSON *p = NULL, *g;
    enum mrf_status st = client_open(ctx);

    if (st == MRF_OK)
        st = client_find(ctx, ST_PARTNERS, a->args[0], id, &removed);
    if (st == MRF_OK && reveal)
        st = client_unlock(ctx);
    if (st == MRF_OK)
        st = client_partner_json(ctx, id, reveal, &p);
    if (st != MRF_OK)
        return out_fail("partner show", ctx, st);
    if (a->json) {
        out_json(p);
    } else {
        const cJSON *mine = cJSON_GetObjectItemCaseSensitive(p, "grant_codes");
        for (int c = 0; c < PARTNER_NCOLS; c++)
            if (sync_column_sealed(ST_PARTNERS, c))
                keys[nkeys++] = sync_table_get(ST_PARTNERS)->cols[c].name;
        for (int k = 0; k < nkeys; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, keys[k]);
            if (cJSON_IsString(v))
                printf("%-8s %s\n", keys[k], v->valuestring);
            else if (cJSON_IsNumber(v))
                printf("%-8s %.0f\n", keys[k], v->valuedouble);
            else if (cJSON_IsBool(v))
                printf("%-8s %s\n", keys[k], cJSON_IsTrue(v) ? "yes" : "no");
            else
                printf("%-8s -\n", keys[k]);
        }
        printf("%-8s", "grants");
        cJSON_ArrayForEach(g, mine) {
            printf(" %s", g->valuestring);
        }
        printf("%s\n", cJSON_GetArraySize(mine) ? "" : " -");
    }
    cJSON_Delete(p);
    return 0;
}

const struct cmd_entry cmd_partner_add = {
    "partner add",
    "--name NAME [--contact N] [--phone P] [--email E] [--address A] [--bank B] [--risk R] "
    "[--note T]",
    "record an implementing partner (identity sealed on this device); prints its code",
    0,
    0,
    {PARTNER_FIELD_OPTS, {NULL, 0, NULL}},
    exec_partner_add,
    CMD_WRITES,
};

const struct cmd_entry cmd_partner_edit = {
    "partner edit",
    "CODE [--name N] [--contact N] [--phone P] [--email E] [--address A] [--bank B] [--risk R] "
    "[--note T]",
    "change a partner's fields (an empty value clears a field)",
    1,
    1,
    {PARTNER_FIELD_OPTS, {NULL, 0, NULL}},
    exec_partner_edit,
    CMD_WRITES,
};

const struct cmd_entry cmd_partner_remove = {
    "partner remove",
    "CODE",
    "remove a partner that has no open grants",
    1,
    1,
    {{NULL, 0, NULL}},
    exec_partner_remove,
    CMD_WRITES,
};

const struct cmd_entry cmd_partner_list = {
    "partner list",
    "[--reveal] [--json]",
    "list partners; identities stay sealed unless --reveal (asks for the passphrase)",
    0,
    0,
    {{"reveal", 0, "open the identities (passphrase)"}, {"json", 0, "print JSON"}, {NULL, 0, NULL}},
    exec_partner_list,
    CMD_READONLY,
};

const struct cmd_entry cmd_partner_show = {
    "partner show",
    "CODE [--reveal] [--json]",
    "show one partner; identity stays sealed unless --reveal (asks for the passphrase)",
    1,
    1,
    {{"reveal", 0, "open the identity (passphrase)"}, {"json", 0, "print JSON"}, {NULL, 0, NULL}},
    exec_partner_show,
    CMD_READONLY,
};

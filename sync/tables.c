/* The synced tables and their columns, named once: each column's SQL name, type, kind (which
 * decides the check its values pass, below) and whether concurrent writes to it are watched.
 * A column's index here is its id in the clocks table, the outbox and on the wire (the enums
 * in mrfsync.h): append only, never reorder. The same SQL table and column names exist in the
 * post store and the HQ store (tests/unit/test_schema.c holds both schemas to this table). */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "mrfsync.h"

/* Columns: name, type, kind, watched, nullable. */
static const struct sync_column theme_cols[] = {
    [THEME_YEAR] = {"year", SYNC_INT, CK_YEAR, 0, 0},
    [THEME_THEME] = {"theme", SYNC_TEXT, CK_THEME, 1, 0},
    [THEME_REMOVED] = {"removed", SYNC_INT, CK_FLAG, 1, 0},
};

static const struct sync_column partner_cols[] = {
    [PARTNER_NAME] = {"name", SYNC_BLOB, CK_SEALED, 0, 1},
    [PARTNER_CONTACT] = {"contact", SYNC_BLOB, CK_SEALED, 0, 1},
    [PARTNER_PHONE] = {"phone", SYNC_BLOB, CK_SEALED, 0, 1},
    [PARTNER_EMAIL] = {"email", SYNC_BLOB, CK_SEALED, 0, 1},
    [PARTNER_ADDRESS] = {"address", SYNC_BLOB, CK_SEALED, 0, 1},
    [PARTNER_BANK] = {"bank", SYNC_BLOB, CK_SEALED, 0, 1},
    [PARTNER_NOTE] = {"note", SYNC_BLOB, CK_SEALED, 0, 1},
    [PARTNER_RISK] = {"risk", SYNC_TEXT, CK_RISK, 0, 0},
    [PARTNER_REMOVED] = {"removed", SYNC_INT, CK_FLAG, 0, 0},
};

static const struct sync_column grant_cols[] = {
    [GRANT_PARTNER] = {"partner", SYNC_BLOB, CK_REF, 1, 0},
    [GRANT_THEME] = {"theme", SYNC_TEXT, CK_THEME, 1, 0},
    [GRANT_YEAR] = {"year", SYNC_INT, CK_YEAR, 1, 0},
    [GRANT_AMOUNT] = {"amount_cents", SYNC_INT, CK_MONEY, 1, 0},
    [GRANT_CURRENCY] = {"currency", SYNC_TEXT, CK_CURRENCY, 1, 0},
    [GRANT_STATUS] = {"status", SYNC_TEXT, CK_STATUS, 1, 0},
    [GRANT_START] = {"start_date", SYNC_TEXT, CK_DATE, 0, 1},
    [GRANT_END] = {"end_date", SYNC_TEXT, CK_DATE, 0, 1},
    [GRANT_NOTE] = {"note", SYNC_BLOB, CK_SEALED, 0, 1},
    [GRANT_REMOVED] = {"removed", SYNC_INT, CK_FLAG, 1, 0},
};

static const struct sync_column allocation_cols[] = {
    [ALLOC_YEAR] = {"year", SYNC_INT, CK_YEAR, 0, 0},
    [ALLOC_AMOUNT] = {"amount_cents", SYNC_INT, CK_MONEY, 1, 0},
    [ALLOC_CURRENCY] = {"currency", SYNC_TEXT, CK_CURRENCY, 1, 0},
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

_Static_assert(COUNT(theme_cols) == THEME_NCOLS, "enum theme_col and theme_cols disagree");
_Static_assert(COUNT(partner_cols) == PARTNER_NCOLS, "enum partner_col and partner_cols disagree");
_Static_assert(COUNT(grant_cols) == GRANT_NCOLS, "enum grant_col and grant_cols disagree");
_Static_assert(COUNT(allocation_cols) == ALLOC_NCOLS,
               "enum alloc_col and allocation_cols disagree");

static const struct sync_table_desc tables[ST_COUNT] = {
    {"themes", NULL, COUNT(theme_cols), theme_cols},
    {"partners", "PX", COUNT(partner_cols), partner_cols},
    {"grants", "G", COUNT(grant_cols), grant_cols},
    {"allocations", NULL, COUNT(allocation_cols), allocation_cols},
};

/* ---- the check of each kind -------------------------------------------------------------- */

static int year_ok(const struct sync_value *v)
{
    return v->i >= YEAR_MIN && v->i <= YEAR_MAX;
}

static int theme_ok(const struct sync_value *v)
{
    int t = theme_index(v->text);
    return t >= 0 && strcmp(theme_code(t), v->text) == 0;
}

static int money_ok(const struct sync_value *v)
{
    return v->i > 0 && v->i <= MONEY_MAX_CENTS;
}

static int currency_ok(const struct sync_value *v)
{
    char cur[4];
    return currency_parse(v->text, cur, NULL) == MRF_OK && strcmp(cur, v->text) == 0;
}

static int status_ok(const struct sync_value *v)
{
    return grant_status_parse(v->text) >= 0;
}

static int date_ok(const struct sync_value *v)
{
    return date_parse(v->text, NULL) == MRF_OK;
}

static int risk_ok(const struct sync_value *v)
{
    return risk_parse(v->text) >= 0;
}

static int ref_ok(const struct sync_value *v)
{
    return v->n == MRF_ID;
}

static int flag_ok(const struct sync_value *v)
{
    return v->i == 0 || v->i == 1;
}

/* Only the frame: what is inside is for its recipients alone (sealed_frame_check). */
static int sealed_ok(const struct sync_value *v)
{
    return sealed_frame_check(v->blob, v->n) == MRF_OK;
}

#define EMPTY "a required value is empty"

static const struct kind_rule {
    int (*ok)(const struct sync_value *v); /* judges a value that is not NULL; NULL: any passes */
    const char *refused;                   /* the reason when ok() says no */
    const char *empty;                     /* the reason for NULL in a required column */
} rules[CK_COUNT] = {
    [CK_PLAIN] = {NULL, NULL, EMPTY},
    [CK_YEAR] = {year_ok, "year out of range", EMPTY},
    [CK_THEME] = {theme_ok, "unknown theme", EMPTY},
    [CK_MONEY] = {money_ok, "amount out of range", EMPTY},
    [CK_CURRENCY] = {currency_ok, "currency is not three capital letters", EMPTY},
    [CK_STATUS] = {status_ok, "unknown grant status", EMPTY},
    [CK_DATE] = {date_ok, "not a date", EMPTY},
    [CK_RISK] = {risk_ok, "unknown risk level", EMPTY},
    [CK_REF] = {ref_ok, "partner is not a row id", EMPTY},
    [CK_FLAG] = {flag_ok, "removed must be 0 or 1", "removed must be 0 or 1"},
    [CK_SEALED] = {sealed_ok, "a sealed field is damaged", NULL}, /* may always be emptied */
};

/* ---- lookups ----------------------------------------------------------------------------- */

const struct sync_table_desc *sync_table_get(enum sync_table t)
{
    return (int)t >= 0 && t < ST_COUNT ? &tables[t] : NULL;
}

int sync_table_find(const char *name)
{
    for (int i = 0; i < ST_COUNT; i++)
        if (strcmp(tables[i].name, name) == 0)
            return i;
    return -1;
}

int sync_column_find(enum sync_table t, const char *name)
{
    const struct sync_table_desc *d = sync_table_get(t);

    if (d == NULL || name == NULL)
        return -1;
    for (int i = 0; i < d->ncols; i++)
        if (strcmp(d->cols[i].name, name) == 0)
            return i;
    return -1;
}

const struct sync_column *sync_column_get(enum sync_table t, int col)
{
    const struct sync_table_desc *d = sync_table_get(t);

    return d != NULL && col >= 0 && col < d->ncols ? &d->cols[col] : NULL;
}

int sync_column_sealed(enum sync_table t, int col)
{
    const struct sync_column *c = sync_column_get(t, col);

    return c != NULL && c->kind == CK_SEALED;
}

int sync_column_needed(enum sync_table t, int col)
{
    const struct sync_column *c = sync_column_get(t, col);

    return c != NULL && !c->nullable && c->kind != CK_FLAG;
}

const char *sync_column_check(enum sync_table t, int col, const struct sync_value *v)
{
    const struct sync_column *c = sync_column_get(t, col);
    const struct kind_rule *r;

    if (c == NULL)
        return "unknown column";
    r = &rules[c->kind];
    if (v->is_null)
        return c->nullable ? NULL : r->empty;
    if (v->type != c->type)
        return "value of the wrong type";
    return r->ok == NULL || r->ok(v) ? NULL : r->refused;
}

void sync_field_aad(enum sync_table t, const uint8_t id[MRF_ID], int col, char out[SYNC_AAD_MAX])
{
    const struct sync_column *c = sync_column_get(t, col);
    char hex[2 * MRF_ID + 1];
    int n;

    assert(c != NULL);
    sodium_bin2hex(hex, sizeof hex, id, MRF_ID);
    n = snprintf(out, SYNC_AAD_MAX, "%s/%s/%s", tables[t].name, hex, c->name);
    assert(n > 0 && n < SYNC_AAD_MAX);
    (void)n;
}

/* The synced tables and their columns. A column's index here is its id in the clocks table,
 * the outbox and on the wire: append only, never reorder. The same SQL table and column names
 * exist in the post store and the HQ store. */
#include <string.h>

#include "mrfsync.h"

static const struct sync_column theme_cols[] = {
    {"year", SYNC_INT, 0, 0},
    {"theme", SYNC_TEXT, 1, 0},
    {"removed", SYNC_INT, 1, 0},
};

static const struct sync_column partner_cols[] = {
    {"name", SYNC_BLOB, 0, 1},  {"contact", SYNC_BLOB, 0, 1}, {"phone", SYNC_BLOB, 0, 1},
    {"email", SYNC_BLOB, 0, 1}, {"address", SYNC_BLOB, 0, 1}, {"bank", SYNC_BLOB, 0, 1},
    {"note", SYNC_BLOB, 0, 1},  {"risk", SYNC_TEXT, 0, 0},    {"removed", SYNC_INT, 0, 0},
};

static const struct sync_column grant_cols[] = {
    {"partner", SYNC_BLOB, 0, 0},     {"theme", SYNC_TEXT, 1, 0},    {"year", SYNC_INT, 1, 0},
    {"amount_cents", SYNC_INT, 1, 0}, {"currency", SYNC_TEXT, 1, 0}, {"status", SYNC_TEXT, 1, 0},
    {"start_date", SYNC_TEXT, 0, 0},  {"end_date", SYNC_TEXT, 0, 0}, {"note", SYNC_BLOB, 0, 1},
    {"removed", SYNC_INT, 1, 0},
};

static const struct sync_column allocation_cols[] = {
    {"year", SYNC_INT, 0, 0},
    {"amount_cents", SYNC_INT, 1, 0},
    {"currency", SYNC_TEXT, 1, 0},
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct sync_table_desc tables[ST_COUNT] = {
    {"themes", NULL, COUNT(theme_cols), theme_cols},
    {"partners", "PX", COUNT(partner_cols), partner_cols},
    {"grants", "G", COUNT(grant_cols), grant_cols},
    {"allocations", NULL, COUNT(allocation_cols), allocation_cols},
};

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

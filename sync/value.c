/* Column values between SQLite and struct sync_value: the domain tables, the outbox and the
 * oplog store values with the column's own type (the outbox and oplog columns are untyped), so
 * every side binds and reads them the same way. */
#include "mrfsync.h"

void sync_value_bind(sqlite3_stmt *s, int idx, const struct sync_value *v)
{
    if (v->is_null)
        sqlite3_bind_null(s, idx);
    else if (v->type == SYNC_INT)
        sqlite3_bind_int64(s, idx, v->i);
    else if (v->type == SYNC_TEXT)
        sqlite3_bind_text(s, idx, v->text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_blob64(s, idx, v->blob, v->n, SQLITE_STATIC);
}

void sync_value_column(sqlite3_stmt *s, int col, enum sync_type type, struct sync_value *v)
{
    v->type = type;
    v->is_null = 0;
    v->i = 0;
    v->text = NULL;
    v->blob = NULL;
    v->n = 0;
    if (sqlite3_column_type(s, col) == SQLITE_NULL) {
        v->is_null = 1;
        return;
    }
    switch (type) {
    case SYNC_INT:
        v->i = sqlite3_column_int64(s, col);
        break;
    case SYNC_TEXT:
        v->text = (const char *)sqlite3_column_text(s, col);
        break;
    case SYNC_BLOB:
        v->blob = sqlite3_column_blob(s, col);
        v->n = (size_t)sqlite3_column_bytes(s, col);
        if (v->blob == NULL)
            v->blob = (const uint8_t *)""; /* an empty blob is a value, not NULL */
        break;
    }
}

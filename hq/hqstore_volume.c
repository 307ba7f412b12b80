/* The HQ store's volume area: the bounds HQ's operator set on what one device may send (two
 * columns of config, NULL for this build's default) and each device's current hour as ingest
 * counts it (two columns of devices), so that counting is one row read and written per change
 * set, in the ingest transaction, and survives restarts (schema/hq/004_volume.sql). The
 * statements live in stmt_sql[] beside their enum and are prepared through hqs_stmt into this
 * area's slots of the handle (hqstore_db.h). */
#include <string.h>

#include <sqlite3.h>

#include "hqstore_db.h"

enum volume_stmt { VS_LIMITS_GET, VS_LIMITS_SET, VS_WINDOW_GET, VS_WINDOW_PUT, VS_COUNT };

static const char *const stmt_sql[VS_COUNT] = {
    [VS_LIMITS_GET] = "SELECT coalesce(ops_per_changeset, 0), coalesce(ops_per_hour, 0)"
                      " FROM config WHERE id = 1",
    [VS_LIMITS_SET] = "UPDATE config SET ops_per_changeset = nullif(?1, 0),"
                      " ops_per_hour = nullif(?2, 0) WHERE id = 1",
    [VS_WINDOW_GET] = "SELECT window_start, window_ops FROM devices WHERE id = ?1",
    [VS_WINDOW_PUT] = "UPDATE devices SET window_start = ?2, window_ops = ?3 WHERE id = ?1",
};

_Static_assert(VS_COUNT <= HQS_AREA_SLOTS, "the volume area has HQS_AREA_SLOTS statements");

static sqlite3_stmt *stmt_get(struct hqstore *s, enum volume_stmt i)
{
    return hqs_stmt(s, HQS_AREA_VOLUME, (int)i, stmt_sql[i]);
}

enum mrf_status hqstore_limits_get(struct hqstore *s, struct hq_limits *l)
{
    sqlite3_stmt *st = stmt_get(s, VS_LIMITS_GET);
    int r;

    memset(l, 0, sizeof *l);
    if (st == NULL)
        return MRF_E_IO;
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        l->per_changeset = sqlite3_column_int64(st, 0);
        l->per_hour = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (r == SQLITE_DONE)
        return mrf_error_set(&s->err, MRF_E_STATE, "HQ is not initialised (no configuration)");
    return r == SQLITE_ROW ? MRF_OK : hqs_fail(s, "reading the volume bounds");
}

enum mrf_status hqstore_limits_set(struct hqstore *s, const struct hq_limits *l)
{
    sqlite3_stmt *st = stmt_get(s, VS_LIMITS_SET);

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_int64(st, 1, l->per_changeset);
    sqlite3_bind_int64(st, 2, l->per_hour);
    if (hqs_step_once(st) != SQLITE_DONE)
        return hqs_fail(s, "writing the volume bounds");
    if (sqlite3_changes(s->db) == 0)
        return mrf_error_set(&s->err, MRF_E_STATE, "HQ is not initialised (no configuration)");
    return MRF_OK;
}

enum mrf_status hqstore_window_get(struct hqstore *s, const uint8_t device[MRF_ID],
                                   struct hq_window *w)
{
    sqlite3_stmt *st = stmt_get(s, VS_WINDOW_GET);
    int r;

    memset(w, 0, sizeof *w);
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, device, MRF_ID, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        w->start = sqlite3_column_int64(st, 0);
        w->ops = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (r == SQLITE_DONE)
        return mrf_error_set(&s->err, MRF_E_NOTFOUND, "no such device");
    return r == SQLITE_ROW ? MRF_OK : hqs_fail(s, "reading a device's hour");
}

enum mrf_status hqstore_window_put(struct hqstore *s, const uint8_t device[MRF_ID],
                                   const struct hq_window *w)
{
    sqlite3_stmt *st = stmt_get(s, VS_WINDOW_PUT);

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, device, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, w->start);
    sqlite3_bind_int64(st, 3, w->ops);
    if (hqs_step_once(st) != SQLITE_DONE)
        return hqs_fail(s, "writing a device's hour");
    if (sqlite3_changes(s->db) == 0)
        return mrf_error_set(&s->err, MRF_E_NOTFOUND, "no such device");
    return MRF_OK;
}

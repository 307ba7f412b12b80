/* Opens the post and HQ stores and brings them to this binary's schema: numbered migrations,
 * each applied in its own transaction together with its PRAGMA user_version bump, so a crash
 * mid-migration leaves the store at the previous version, never between two. */
#include <string.h>

#include "schema.h"

extern const char *const schema_post_sql[];
extern const size_t schema_post_count;
extern const char *const schema_hq_sql[];
extern const size_t schema_hq_count;

static const char *const *migrations(enum schema_kind kind, size_t *n)
{
    if (kind == SCHEMA_POST) {
        *n = schema_post_count;
        return schema_post_sql;
    }
    *n = schema_hq_count;
    return schema_hq_sql;
}

int schema_latest(enum schema_kind kind)
{
    size_t n;
    migrations(kind, &n);
    return (int)n;
}

int schema_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = -1;

    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

enum mrf_status schema_migrate(sqlite3 *db, enum schema_kind kind, int target,
                               struct mrf_error *err)
{
    size_t n;
    const char *const *sql = migrations(kind, &n);
    int v = schema_version(db);

    if (v < 0)
        return mrf_error_set(err, MRF_E_IO, "store: cannot read its version: %s",
                             sqlite3_errmsg(db));
    if (v > (int)n)
        return mrf_error_set(err, MRF_E_STATE,
                             "store: version %d is newer than this program knows (%zu); "
                             "install the newer mrf",
                             v, n);
    if (target > (int)n)
        target = (int)n;
    for (int i = v; i < target; i++) {
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", i + 1);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return mrf_error_set(err, MRF_E_IO, "store: cannot begin migration %d: %s", i + 1,
                                 sqlite3_errmsg(db));
        if (sqlite3_exec(db, sql[i], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, bump, NULL, NULL, NULL) != SQLITE_OK) {
            mrf_error_set(err, MRF_E_IO, "store: migration %d failed: %s", i + 1,
                          sqlite3_errmsg(db));
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return MRF_E_IO;
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            mrf_error_set(err, MRF_E_IO, "store: cannot commit migration %d: %s", i + 1,
                          sqlite3_errmsg(db));
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return MRF_E_IO;
        }
    }
    return MRF_OK;
}

enum mrf_status schema_open(const char *path, enum schema_kind kind, sqlite3 **out,
                            struct mrf_error *err)
{
    sqlite3 *db = NULL;
    enum mrf_status st;
    int rc;

    *out = NULL;
    rc = sqlite3_open_v2(path, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        st = mrf_error_set(err, MRF_E_IO, "store: cannot open %s: %s", path,
                           db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 5000);
    /* WAL: readers never block the writer, and a crash keeps the last commit. secure_delete:
     * freed pages are zeroed, so an overwritten sealed value does not linger in the file. */
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                     "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        st = mrf_error_set(err, MRF_E_IO, "store: cannot set up %s: %s", path, sqlite3_errmsg(db));
        goto fail;
    }
    st = schema_migrate(db, kind, schema_latest(kind), err);
    if (st != MRF_OK)
        goto fail;
    *out = db;
    return MRF_OK;
fail:
    sqlite3_close_v2(db);
    return st;
}

/* schema — the SQL of the post store and of the HQ store, as numbered migrations compiled into
 * the binaries (schema/post/NNN_*.sql, schema/hq/NNN_*.sql; never edited once landed).
 *
 * schema_open() opens (creating if needed) a store file, sets WAL, foreign keys, a busy timeout
 * and secure_delete, then applies every missing migration, each in its own transaction, tracked
 * with PRAGMA user_version. A store newer than this binary is refused (MRF_E_STATE). A post
 * store runs with auto_vacuum INCREMENTAL (an older one is VACUUMed once to get it); its
 * owner runs PRAGMA incremental_vacuum when it wants freed pages returned. The returned
 * handle is owned by the caller (sqlite3_close_v2). */
#ifndef MRF_SCHEMA_H
#define MRF_SCHEMA_H

#include <sqlite3.h>

#include "common.h"

enum schema_kind { SCHEMA_POST, SCHEMA_HQ };

/* The version a store of this kind reaches with this binary. */
int schema_latest(enum schema_kind kind);

enum mrf_status schema_open(const char *path, enum schema_kind kind, sqlite3 **out,
                            struct mrf_error *err);

/* Opens an existing store of this kind for reading only, also from a read-only medium: where
 * the file and its directory can be written, read-write with PRAGMA query_only (SQLite then
 * tidies its WAL files on close as usual); elsewhere SQLITE_OPEN_READONLY, and if SQLite
 * cannot make the WAL index (-shm) there and no write-ahead log (-wal) is left, the file is
 * opened as immutable. A store at
 * another version than schema_latest is refused (MRF_E_STATE: migrating writes). The handle
 * refuses writes (PRAGMA query_only). */
enum mrf_status schema_open_readonly(const char *path, enum schema_kind kind, sqlite3 **out,
                                     struct mrf_error *err);

/* Applies migrations up to target (<= schema_latest) on an open handle. For tests. */
enum mrf_status schema_migrate(sqlite3 *db, enum schema_kind kind, int target,
                               struct mrf_error *err);

/* PRAGMA user_version of db, or -1. */
int schema_version(sqlite3 *db);

#endif

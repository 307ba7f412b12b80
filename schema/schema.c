/* Opens the post and HQ stores and brings them to this binary's schema: numbered migrations,
 * each applied in its own transaction together with its PRAGMA user_version bump, so a crash
 * mid-migration leaves the store at the previous version, never between two. */
#include <assert.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* A post store gives the pages its writes free back to the file system (docs/DECISIONS.md,
 * "Free pages of the post store"): auto_vacuum INCREMENTAL, and client_close runs
 * incremental_vacuum after a command that wrote. A store made by this binary has it from its
 * first page (the pragma schema_open runs first); an older store gets it here from a one-off
 * VACUUM, which cannot run inside a migration's transaction. A VACUUM that fails (another
 * process is writing: busy) leaves the store as it was, in use as before, and the next
 * writing open tries again; so its failure is not the open's. */
static void post_auto_vacuum(sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    int mode = -1;

    if (sqlite3_prepare_v2(db, "PRAGMA auto_vacuum", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        mode = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (mode == 0)
        (void)sqlite3_exec(db, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM", NULL, NULL, NULL);
}

/* 1 if db's file has no page yet. Only then is auto_vacuum set before anything else: on a
 * store that has pages the pragma costs a durable write of its own at every open (one more
 * fdatasync for every `mrf grant add`), and post_auto_vacuum() has already given it. */
static int new_file(sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    int pages = -1;

    if (sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        pages = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return pages == 0;
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
     * freed pages are zeroed, so an overwritten sealed value does not linger in the file.
     * auto_vacuum (post stores; before journal_mode, which writes a new file's header): see
     * post_auto_vacuum(). */
    if ((kind == SCHEMA_POST && new_file(db) &&
         sqlite3_exec(db, "PRAGMA auto_vacuum = INCREMENTAL", NULL, NULL, NULL) != SQLITE_OK) ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                     "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        st = mrf_error_set(err, MRF_E_IO, "store: cannot set up %s: %s", path, sqlite3_errmsg(db));
        goto fail;
    }
    st = schema_migrate(db, kind, schema_latest(kind), err);
    if (st != MRF_OK)
        goto fail;
    if (kind == SCHEMA_POST)
        post_auto_vacuum(db);
    *out = db;
    return MRF_OK;
fail:
    sqlite3_close_v2(db);
    return st;
}

/* "file:" URI of path with the query appended; '%', '?' and '#' are percent-encoded. Caller
 * frees (x_free). */
static char *path_uri(const char *path, const char *query)
{
    struct buf b;
    enum mrf_status st;

    buf_init(&b, strlen(path) * 3 + strlen(query) + 16);
    st = buf_puts(&b, path[0] == '/' ? "file://" : "file:");
    for (const char *p = path; st == MRF_OK && *p; p++) {
        if (*p == '%' || *p == '?' || *p == '#')
            st = buf_printf(&b, "%%%02X", (unsigned)(unsigned char)*p);
        else
            st = buf_append(&b, p, 1);
    }
    if (st == MRF_OK)
        st = buf_puts(&b, query);
    assert(st == MRF_OK); /* the cap is the worst case */
    return buf_take(&b, NULL);
}

/* Opens name with flags (plus SQLITE_OPEN_NOMUTEX), refusing writes, and reads its version.
 * OUT: *db (also on failure, for its message); returns the version or -1. */
static int open_ro(const char *name, int flags, sqlite3 **db)
{
    flags |= SQLITE_OPEN_NOMUTEX;

    if (sqlite3_open_v2(name, db, flags, NULL) != SQLITE_OK)
        return -1;
    sqlite3_extended_result_codes(*db, 1);
    sqlite3_busy_timeout(*db, 5000);
    if (sqlite3_exec(*db, "PRAGMA foreign_keys = ON; PRAGMA query_only = ON;", NULL, NULL, NULL) !=
        SQLITE_OK)
        return -1;
    return schema_version(*db);
}

enum mrf_status schema_open_readonly(const char *path, enum schema_kind kind, sqlite3 **out,
                                     struct mrf_error *err)
{
    sqlite3 *db = NULL;
    char *wal = NULL, *uri = NULL, *dir = xstrdup(path), *slash = strrchr(dir, '/');
    struct stat sb;
    enum mrf_status st = MRF_OK;
    int v, latest = schema_latest(kind);

    *out = NULL;
    if (slash != NULL)
        slash[slash == dir ? 1 : 0] = '\0';
    /* Where the home can be written, a read-write handle with query_only: SQLite keeps its WAL
     * files as for any other command and removes them on close, which a read-only handle
     * would leave behind. */
    if (access(path, W_OK) == 0 && access(slash != NULL ? dir : ".", W_OK) == 0)
        v = open_ro(path, SQLITE_OPEN_READWRITE, &db);
    else
        v = open_ro(path, SQLITE_OPEN_READONLY, &db);
    if (v < 0) {
        /* A WAL store in a directory we cannot write: SQLite cannot make the -shm index. With
         * no -wal left (or an empty one), everything committed is in the main file, and nobody
         * can write the directory to change that, so reading it as immutable is exact. */
        wal = xasprintf("%s-wal", path);
        if (stat(wal, &sb) == 0 && sb.st_size > 0) {
            st = mrf_error_set(err, MRF_E_STATE,
                               "store: cannot read %s here (%s): its write-ahead log %s needs "
                               "a writable directory; run any command once where the home can "
                               "be written, then try again",
                               path, db ? sqlite3_errmsg(db) : "cannot open", wal);
            goto out;
        }
        sqlite3_close_v2(db);
        db = NULL;
        uri = path_uri(path, "?immutable=1");
        v = open_ro(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, &db);
    }
    if (v < 0) {
        st = mrf_error_set(err, MRF_E_IO, "store: cannot read %s: %s", path,
                           db ? sqlite3_errmsg(db) : "cannot open");
        goto out;
    }
    if (v > latest)
        st = mrf_error_set(err, MRF_E_STATE,
                           "store: version %d is newer than this program knows (%d); install "
                           "the newer mrf",
                           v, latest);
    else if (v < latest)
        st = mrf_error_set(err, MRF_E_STATE,
                           "store: %s is at version %d and this program needs %d; run a command "
                           "that writes (from a writable home) once to upgrade it",
                           path, v, latest);
out:
    if (st == MRF_OK) {
        *out = db;
        db = NULL;
    }
    sqlite3_close_v2(db);
    x_free(uri);
    x_free(wal);
    x_free(dir);
    return st;
}

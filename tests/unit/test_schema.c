/* Check suite for schema/: migrations from empty and from every earlier version, refusal of a
 * store newer than the binary, the pragmas every store runs with, both stores' synced
 * tables against sync's column table, and the post store's conflict records and audit head
 * against what HQ sends (struct cs_conflict, struct audit_head). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "mrfsync.h"
#include "schema.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    testutil_tmpdir(dir, sizeof dir, "schema");
    snprintf(path, sizeof path, "%s/store.db", dir);
}

static void teardown(void)
{
    testutil_rmtree(dir);
}

static int table_exists(sqlite3 *db, const char *name)
{
    sqlite3_stmt *s = NULL;
    int found;
    ck_assert_int_eq(
        sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = ?1", -1, &s, NULL),
        SQLITE_OK);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return found;
}

static int pragma_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int v = -1;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void check_empty_to_latest(enum schema_kind kind, const char *const *tables)
{
    sqlite3 *db = NULL;
    struct mrf_error err = {0};

    ck_assert_int_ge(schema_latest(kind), 1);
    ck_assert_int_eq(schema_open(path, kind, &db, &err), MRF_OK);
    ck_assert_int_eq(schema_version(db), schema_latest(kind));
    for (const char *const *t = tables; *t; t++)
        ck_assert_msg(table_exists(db, *t), "table %s missing", *t);
    sqlite3_close_v2(db);
}

START_TEST(post_empty_to_latest)
{
    static const char *const tables[] = {
        "meta",        "themes",      "partners",          "grants",   "allocations",
        "clocks",      "outbox",      "conflicts",         "postkeys", "postkey_hq",
        "keyring_out", "device_list", "keyring_rewrapped", NULL};
    check_empty_to_latest(SCHEMA_POST, tables);
}
END_TEST

START_TEST(hq_empty_to_latest)
{
    static const char *const tables[] = {
        "posts",      "devices",       "enrollments", "received",       "oplog",       "conflicts",
        "audit",      "themes",        "partners",    "grants",         "allocations", "clocks",
        "clock_skew", "audit_entries", "postkeys",    "postkey_grants", NULL};
    check_empty_to_latest(SCHEMA_HQ, tables);
}
END_TEST

/* A store left at each earlier version by an older binary opens and reaches the latest. */
static void check_every_version(enum schema_kind kind)
{
    for (int v = 0; v < schema_latest(kind); v++) {
        sqlite3 *db = NULL;
        struct mrf_error err = {0};

        teardown();
        setup();
        ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
        ck_assert_int_eq(schema_migrate(db, kind, v, &err), MRF_OK);
        ck_assert_int_eq(schema_version(db), v);
        sqlite3_close_v2(db);
        db = NULL;
        ck_assert_int_eq(schema_open(path, kind, &db, &err), MRF_OK);
        ck_assert_int_eq(schema_version(db), schema_latest(kind));
        sqlite3_close_v2(db);
    }
}

static int64_t one(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* HQ store 1 -> 2 with rows in it: every domain row and clock keeps its post (clocks learn it
 * from their row), and each post's oplog entries are numbered 1, 2, 3... in HQ's order. */
START_TEST(hq_v2_keeps_rows_and_numbers_each_post)
{
    sqlite3 *db = NULL;
    struct mrf_error err = {0};

    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(schema_migrate(db, SCHEMA_HQ, 1, &err), MRF_OK);
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "INSERT INTO grants(id, post, code, amount_cents) VALUES "
                     "  (x'01010101010101010101010101010101', 'NAI', 'G-AAAAAA', 5),"
                     "  (x'02020202020202020202020202020202', 'GVA', 'G-BBBBBB', 7);"
                     "INSERT INTO themes(id, post, year, theme) VALUES "
                     "  (x'03030303030303030303030303030303', 'GVA', 2026, 'HRD');"
                     "INSERT INTO clocks(tbl, id, col, clock, device) VALUES "
                     "  (2, x'01010101010101010101010101010101', 3, 10, x'aa'),"
                     "  (2, x'02020202020202020202020202020202', 3, -5, x'bb'),"
                     "  (0, x'03030303030303030303030303030303', 1, 12, x'bb');"
                     "INSERT INTO oplog(post, tbl, id, col, value, clock, device) VALUES "
                     "  ('NAI', 2, x'01010101010101010101010101010101', 3, 5, 10, x'aa'),"
                     "  ('GVA', 2, x'02020202020202020202020202020202', 3, 7, -5, x'bb'),"
                     "  ('GVA', 0, x'03030303030303030303030303030303', 1, 'HRD', 12, x'bb'),"
                     "  ('NAI', 2, x'01010101010101010101010101010101', 3, 6, 11, x'aa');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close_v2(db);
    db = NULL;
    ck_assert_int_eq(schema_open(path, SCHEMA_HQ, &db, &err), MRF_OK);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM grants"), 2);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM clocks WHERE post = 'NAI' AND clock = 10"), 1);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM clocks WHERE post = 'GVA' AND clock = -5"), 1);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM clocks WHERE post = 'GVA' AND tbl = 0"), 1);
    ck_assert_int_eq(one(db, "SELECT pseq FROM oplog WHERE seq = 1"), 1);
    ck_assert_int_eq(one(db, "SELECT pseq FROM oplog WHERE seq = 2"), 1);
    ck_assert_int_eq(one(db, "SELECT pseq FROM oplog WHERE seq = 3"), 2);
    ck_assert_int_eq(one(db, "SELECT max(pseq) FROM oplog WHERE post = 'NAI'"), 2);
    ck_assert_int_eq(one(db, "SELECT max(pseq) FROM oplog WHERE post = 'GVA'"), 2);
    ck_assert_int_eq(one(db, "SELECT pseq FROM oplog WHERE seq = 4"), 2);
    /* (post, id) is the key now: another post may hold the same id */
    ck_assert_int_eq(sqlite3_exec(db,
                                  "INSERT INTO grants(id, post, code) VALUES "
                                  "(x'01010101010101010101010101010101', 'GVA', 'G-AAAAAA')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_ne(sqlite3_exec(db,
                                  "INSERT INTO grants(id, post, code) VALUES "
                                  "(x'01010101010101010101010101010101', 'GVA', 'G-AAAAAA')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close_v2(db);
}
END_TEST

/* HQ store 3 -> 4: the volume bounds start unset (this build's defaults), every device's hour
 * empty; a bound is a positive count or nothing. */
START_TEST(hq_v4_bounds_unset_and_hours_empty)
{
    sqlite3 *db = NULL;
    struct mrf_error err = {0};

    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(schema_migrate(db, SCHEMA_HQ, 3, &err), MRF_OK);
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "INSERT INTO config(id, url, tls_pin, sign_pk, box_pk, escrow_pk, created_at,"
                     " device_id) VALUES (1, 'https://hq:1', 'sha256//A', zeroblob(32),"
                     " zeroblob(32), zeroblob(32), 1, zeroblob(16));"
                     "INSERT INTO posts(code, kind, created_at) VALUES ('NAI', 'bilateral', 1);"
                     "INSERT INTO devices(id, post, sign_pk, box_pk, enrolled_at) VALUES"
                     " (zeroblob(16), 'NAI', zeroblob(32), zeroblob(32), 1);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close_v2(db);
    db = NULL;
    ck_assert_int_eq(schema_open(path, SCHEMA_HQ, &db, &err), MRF_OK);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM config WHERE ops_per_changeset IS NULL AND"
                             " ops_per_hour IS NULL"),
                     1);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM devices WHERE window_start = 0 AND"
                             " window_ops = 0"),
                     1);
    ck_assert_int_ne(sqlite3_exec(db, "UPDATE config SET ops_per_hour = 0", NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "UPDATE config SET ops_per_hour = 5", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close_v2(db);
}
END_TEST

/* Post store 2 -> 3: clocks take the device's post, and the cursor starts again (the post's
 * own sequence at HQ replaces HQ's global one). */
START_TEST(post_v3_clocks_take_the_post_and_cursor_restarts)
{
    sqlite3 *db = NULL;
    struct mrf_error err = {0};

    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(schema_migrate(db, SCHEMA_POST, 2, &err), MRF_OK);
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "INSERT INTO meta(id, post, device_id, sign_pk, box_pk, hq_url, hq_tls_pin, "
                     "hq_sign_pk, hq_box_pk, escrow_pk, token_id, token_expires, created_at, "
                     "hq_cursor) VALUES (1, 'NAI', zeroblob(16), zeroblob(32), zeroblob(32), 'u', "
                     "'p', zeroblob(32), zeroblob(32), zeroblob(32), zeroblob(16), 0, 0, 149);"
                     "INSERT INTO clocks(tbl, id, col, clock, device) VALUES "
                     "  (2, x'01', 3, 10, x'aa'), (2, x'01', 5, 11, x'aa');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close_v2(db);
    db = NULL;
    ck_assert_int_eq(schema_open(path, SCHEMA_POST, &db, &err), MRF_OK);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM clocks WHERE post = 'NAI'"), 2);
    ck_assert_int_eq(one(db, "SELECT hq_cursor FROM meta"), 0);
    sqlite3_close_v2(db);
}
END_TEST

/* 1 if table has a column of that name and declared type. */
static int has_column(sqlite3 *db, const char *table, const char *name, const char *type)
{
    sqlite3_stmt *s = NULL;
    char sql[96];
    int found = 0;

    snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    while (!found && sqlite3_step(s) == SQLITE_ROW)
        found = strcmp((const char *)sqlite3_column_text(s, 1), name) == 0 &&
                strcmp((const char *)sqlite3_column_text(s, 2), type) == 0;
    sqlite3_finalize(s);
    return found;
}

/* Post store 3 -> 4: the conflicts table holds every member of a record HQ sends (struct
 * cs_conflict) and when it arrived; meta gains the conflict cursor (0) and the audit head
 * (none); the device's other state is kept. */
START_TEST(post_v4_conflict_records_and_audit_head)
{
    static const struct {
        const char *table, *name, *type;
    } cols[] = {
        {"conflicts", "id", "TEXT"},
        {"conflicts", "kind", "TEXT"},
        {"conflicts", "rule", "TEXT"},
        {"conflicts", "rows", "TEXT"},
        {"conflicts", "detail", "TEXT"},
        {"conflicts", "year", "INTEGER"},
        {"conflicts", "base", "TEXT"},
        {"conflicts", "a", "TEXT"},
        {"conflicts", "b", "TEXT"},
        {"conflicts", "opened_at", "INTEGER"},
        {"conflicts", "closed_at", "INTEGER"},
        {"conflicts", "decision", "TEXT"},
        {"conflicts", "reason", "TEXT"},
        {"conflicts", "cseq", "INTEGER"},
        {"conflicts", "received_at", "INTEGER"},
        {"meta", "conflict_cursor", "INTEGER"},
        {"meta", "audit_seq", "INTEGER"},
        {"meta", "audit_hash", "BLOB"},
        {"meta", "audit_sig", "BLOB"},
        {"meta", "audit_at", "INTEGER"},
    };
    sqlite3 *db = NULL;
    struct mrf_error err = {0};

    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(schema_migrate(db, SCHEMA_POST, 3, &err), MRF_OK);
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "INSERT INTO meta(id, post, device_id, sign_pk, box_pk, hq_url, hq_tls_pin, "
                     "hq_sign_pk, hq_box_pk, escrow_pk, token_id, token_expires, created_at, "
                     "hq_cursor) VALUES (1, 'NAI', zeroblob(16), zeroblob(32), zeroblob(32), 'u', "
                     "'p', zeroblob(32), zeroblob(32), zeroblob(32), zeroblob(16), 0, 0, 149);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close_v2(db);
    db = NULL;
    ck_assert_int_eq(schema_open(path, SCHEMA_POST, &db, &err), MRF_OK);
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        ck_assert_msg(has_column(db, cols[i].table, cols[i].name, cols[i].type), "%s.%s %s missing",
                      cols[i].table, cols[i].name, cols[i].type);
    ck_assert_int_eq(one(db, "SELECT hq_cursor FROM meta"), 149);
    ck_assert_int_eq(one(db, "SELECT conflict_cursor FROM meta"), 0);
    ck_assert_int_eq(one(db, "SELECT audit_seq IS NULL FROM meta"), 1);
    /* a hash or signature of the wrong length is refused by the store itself */
    ck_assert_int_ne(
        sqlite3_exec(db, "UPDATE meta SET audit_hash = zeroblob(31)", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_ne(sqlite3_exec(db, "UPDATE meta SET audit_sig = zeroblob(32)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close_v2(db);
}
END_TEST

/* Post store version 7 (the key ring): a store from before keeps its device and rows and starts
 * with an empty ring (its first sync makes or waits for the post key); HQ's list is one row. */
START_TEST(post_v7_keyring_starts_empty)
{
    sqlite3 *db = NULL;
    struct mrf_error err = {0};

    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(schema_migrate(db, SCHEMA_POST, 5, &err), MRF_OK);
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "INSERT INTO meta(id, post, device_id, sign_pk, box_pk, hq_url, hq_tls_pin, "
                     "hq_sign_pk, hq_box_pk, escrow_pk, token_id, token_expires, created_at, "
                     "hq_cursor) VALUES (1, 'NAI', zeroblob(16), zeroblob(32), zeroblob(32), 'u', "
                     "'p', zeroblob(32), zeroblob(32), zeroblob(32), zeroblob(16), 0, 0, 7);"
                     "INSERT INTO partners(id, post, code, name) VALUES (zeroblob(16), 'NAI', "
                     "'PX-000000', x'01');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close_v2(db);
    db = NULL;
    ck_assert_int_eq(schema_open(path, SCHEMA_POST, &db, &err), MRF_OK);
    ck_assert_int_eq(one(db, "SELECT hq_cursor FROM meta"), 7);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM partners"), 1);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM postkeys"), 0);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM postkey_hq"), 0);
    ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO device_list VALUES (1, x'00', zeroblob(64), 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_ne(sqlite3_exec(db, "INSERT INTO device_list VALUES (2, x'00', zeroblob(64), 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close_v2(db);
}
END_TEST

START_TEST(post_every_earlier_version)
{
    check_every_version(SCHEMA_POST);
}
END_TEST

START_TEST(hq_every_earlier_version)
{
    check_every_version(SCHEMA_HQ);
}
END_TEST

START_TEST(reopen_is_idempotent)
{
    sqlite3 *db = NULL;
    struct mrf_error err = {0};

    ck_assert_int_eq(schema_open(path, SCHEMA_POST, &db, &err), MRF_OK);
    sqlite3_close_v2(db);
    ck_assert_int_eq(schema_open(path, SCHEMA_POST, &db, &err), MRF_OK);
    ck_assert_int_eq(schema_version(db), schema_latest(SCHEMA_POST));
    sqlite3_close_v2(db);
}
END_TEST

START_TEST(newer_store_refused)
{
    sqlite3 *db = NULL;
    struct mrf_error err = {0};
    char sql[64];

    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", schema_latest(SCHEMA_POST) + 1);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close_v2(db);
    db = NULL;
    ck_assert_int_eq(schema_open(path, SCHEMA_POST, &db, &err), MRF_E_STATE);
    ck_assert_ptr_null(db);
    ck_assert_ptr_nonnull(strstr(err.msg, "newer"));
}
END_TEST

START_TEST(pragmas_set)
{
    sqlite3 *db = NULL;
    struct mrf_error err = {0};
    sqlite3_stmt *s = NULL;

    ck_assert_int_eq(schema_open(path, SCHEMA_POST, &db, &err), MRF_OK);
    ck_assert_int_eq(pragma_int(db, "PRAGMA foreign_keys"), 1);
    ck_assert_int_eq(pragma_int(db, "PRAGMA secure_delete"), 1);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close_v2(db);
}
END_TEST

/* A post store runs with auto_vacuum INCREMENTAL: a new one from its first page, one made by
 * an older binary (version 7, auto_vacuum NONE, rows in it) after the one-off VACUUM of its
 * first writing open, rows kept. HQ's store is left as it was. */
START_TEST(post_store_auto_vacuum)
{
    sqlite3 *db = NULL;
    struct mrf_error err = {0};

    ck_assert_int_eq(schema_open(path, SCHEMA_POST, &db, &err), MRF_OK);
    ck_assert_int_eq(pragma_int(db, "PRAGMA auto_vacuum"), 2);
    sqlite3_close_v2(db);
    teardown();
    setup();
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(schema_migrate(db, SCHEMA_POST, 7, &err), MRF_OK);
    ck_assert_int_eq(sqlite3_exec(db,
                                  "INSERT INTO partners(id, post, code) VALUES (zeroblob(16), "
                                  "'NAI', 'PX-000000')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(pragma_int(db, "PRAGMA auto_vacuum"), 0);
    sqlite3_close_v2(db);
    db = NULL;
    ck_assert_int_eq(schema_open(path, SCHEMA_POST, &db, &err), MRF_OK);
    ck_assert_int_eq(pragma_int(db, "PRAGMA auto_vacuum"), 2);
    ck_assert_int_eq(pragma_int(db, "SELECT count(*) FROM partners"), 1);
    ck_assert_int_eq(schema_version(db), schema_latest(SCHEMA_POST));
    sqlite3_close_v2(db);
    teardown();
    setup();
    ck_assert_int_eq(schema_open(path, SCHEMA_HQ, &db, &err), MRF_OK);
    ck_assert_int_eq(pragma_int(db, "PRAGMA auto_vacuum"), 0);
    sqlite3_close_v2(db);
}
END_TEST

/* The outbox keeps values as written: text that looks like a number stays text. */
START_TEST(outbox_value_untyped)
{
    sqlite3 *db = NULL;
    struct mrf_error err = {0};

    ck_assert_int_eq(schema_open(path, SCHEMA_POST, &db, &err), MRF_OK);
    ck_assert_int_eq(sqlite3_exec(db,
                                  "INSERT INTO outbox(tbl, id, col, value, clock) "
                                  "VALUES (1, x'00', 1, '0012', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(pragma_int(db, "SELECT typeof(value) = 'text' FROM outbox"), 1);
    sqlite3_close_v2(db);
}
END_TEST

/* The declared SQL type of a column of each sync type. */
static const char *sql_type(enum sync_type t)
{
    switch (t) {
    case SYNC_INT:
        return "INTEGER";
    case SYNC_TEXT:
        return "TEXT";
    case SYNC_BLOB:
        return "BLOB";
    }
    return "?";
}

/* Table t of the store at db has every column of sync's column table, each declared with the
 * SQL type of its sync type; its other columns are bookkeeping (id, post, code). */
static void check_table_columns(sqlite3 *db, const char *store, enum sync_table t)
{
    const struct sync_table_desc *d = sync_table_get(t);
    int seen[32] = {0};
    sqlite3_stmt *s = NULL;
    char sql[64];
    int rows = 0;

    ck_assert_int_le(d->ncols, (int)(sizeof seen / sizeof seen[0]));
    snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", d->name);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 1);
        const char *type = (const char *)sqlite3_column_text(s, 2);
        int c = sync_column_find(t, name);
        rows++;
        if (c < 0) {
            int k = -1, end = 0;
            /* HQ's rows hold column K's clock cK and writer wK (store version 10), and their
             * number rn (version 11) */
            if (strcmp(store, "hq") == 0 && (name[0] == 'c' || name[0] == 'w'))
                sscanf(name + 1, "%d%n", &k, &end);
            ck_assert_msg(
                strcmp(name, "id") == 0 || strcmp(name, "post") == 0 || strcmp(name, "code") == 0 ||
                    (strcmp(store, "hq") == 0 && strcmp(name, "rn") == 0 &&
                     strcmp(type, "INTEGER") == 0) ||
                    (k >= 0 && k < d->ncols && name[1 + end] == '\0' &&
                     strcmp(type, "INTEGER") == 0),
                "%s store: %s.%s is neither synced nor bookkeeping", store, d->name, name);
            continue;
        }
        ck_assert_msg(strcmp(type, sql_type(d->cols[c].type)) == 0,
                      "%s store: %s.%s is %s, its column table says %s", store, d->name, name, type,
                      sql_type(d->cols[c].type));
        seen[c] = 1;
    }
    sqlite3_finalize(s);
    ck_assert_msg(rows > 0, "%s store: no table %s", store, d->name);
    for (int c = 0; c < d->ncols; c++)
        ck_assert_msg(seen[c], "%s store: %s has no column %s", store, d->name, d->cols[c].name);
}

START_TEST(synced_tables_match_column_table)
{
    static const struct {
        enum schema_kind kind;
        const char *name;
    } stores[] = {{SCHEMA_POST, "post"}, {SCHEMA_HQ, "hq"}};

    for (size_t i = 0; i < sizeof stores / sizeof stores[0]; i++) {
        sqlite3 *db = NULL;
        struct mrf_error err = {0};
        char p[160];

        snprintf(p, sizeof p, "%s/%s.db", dir, stores[i].name);
        ck_assert_int_eq(schema_open(p, stores[i].kind, &db, &err), MRF_OK);
        for (int t = 0; t < ST_COUNT; t++)
            check_table_columns(db, stores[i].name, (enum sync_table)t);
        sqlite3_close_v2(db);
    }
}
END_TEST

/* Every clock a store held before clocks were packed per row (post store 7, HQ store 6), as
 * the per-column table listed them. */
#define CLOCKS_LISTED                                                                              \
    "SELECT group_concat(line, ';') FROM (SELECT post || ',' || tbl || ',' || hex(id) || ',' || "  \
    "col || ',' || clock || ',' || hex(device) AS line FROM clocks ORDER BY post, tbl, id, col)"

static char *clocks_listed(sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    char *out;

    ck_assert_int_eq(sqlite3_prepare_v2(db, CLOCKS_LISTED, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    out = xstrdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
}

/* Fills the version-v store of kind with clocks of every column of every table, for two posts,
 * three writers (one of them 1 byte long, as hand-made test data has) and clocks of both signs,
 * migrates it to the latest and checks every clock is still there, exactly; then that the
 * view writes through (insert, update, delete) and the merge's table holds one entry per row. */
static void check_clocks_survive(enum schema_kind kind, int v)
{
    sqlite3 *db = NULL;
    struct mrf_error err = {0};
    char sql[256], *before, *after;
    int64_t n = 0;

    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(schema_migrate(db, kind, v, &err), MRF_OK);
    ck_assert_int_eq(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    for (int t = 0; t < ST_COUNT; t++) {
        const struct sync_table_desc *d = sync_table_get((enum sync_table)t);
        for (int row = 0; row < 3; row++) {
            /* HQ's clocks move into their rows (version 10): every clock has its row, as the
             * merge leaves it */
            snprintf(
                sql, sizeof sql,
                "INSERT INTO %s(post, id%s) VALUES ('%s', x'%02x%02x0000000000000000000000000000'"
                "%s)",
                d->name, d->code_prefix ? ", code" : "", row == 2 ? "GVA" : "NAI", t, row,
                d->code_prefix ? ", 'X'" : "");
            if (kind == SCHEMA_HQ)
                ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s",
                              sqlite3_errmsg(db));
            for (int c = 0; c < d->ncols; c++, n++) {
                snprintf(sql, sizeof sql,
                         "INSERT INTO clocks(post, tbl, id, col, clock, device) VALUES "
                         "('%s', %d, x'%02x%02x0000000000000000000000000000', %d, %lld, %s)",
                         row == 2 ? "GVA" : "NAI", t, t, row, c,
                         (long long)((n % 2 ? -1 : 1) * (1000000007LL * n + 1)),
                         row == 0 ? "x'aa'"
                         : n % 3  ? "zeroblob(16)"
                                  : "x'0102030405060708090a0b0c0d0e0f10'");
                ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s",
                              sqlite3_errmsg(db));
            }
        }
    }
    ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    before = clocks_listed(db);
    sqlite3_close_v2(db);
    db = NULL;

    ck_assert_int_eq(schema_open(path, kind, &db, &err), MRF_OK);
    after = clocks_listed(db);
    ck_assert_str_eq(after, before);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM clocks"), n);
    if (kind == SCHEMA_POST)
        ck_assert_int_eq(one(db, "SELECT count(*) FROM clock_rows"), 3 * ST_COUNT);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM writers"), 3);

    /* written through the view: a new writer, a changed clock, a removed column */
    ck_assert_int_eq(sqlite3_exec(db,
                                  "UPDATE clocks SET clock = -7, device = x'ffff' WHERE "
                                  "post = 'GVA' AND tbl = 2 AND col = 3;"
                                  "DELETE FROM clocks WHERE post = 'GVA' AND tbl = 0;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(one(db, "SELECT clock FROM clocks WHERE post = 'GVA' AND tbl = 2 AND "
                             "col = 3 AND device = x'ffff'"),
                     -7);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM clocks WHERE post = 'GVA' AND tbl = 0"), 0);
    if (kind == SCHEMA_POST)
        ck_assert_int_eq(one(db, "SELECT count(*) FROM clock_rows WHERE post = 'GVA' AND tbl = 0"),
                         0);
    else
        ck_assert_int_eq(one(db, "SELECT count(*) FROM themes WHERE post = 'GVA' AND (c0 IS NOT "
                                 "NULL OR c1 IS NOT NULL OR c2 IS NOT NULL)"),
                         0);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM clocks"), n - 3);
    ck_assert_int_ne(sqlite3_exec(db,
                                  "INSERT INTO clocks(post, tbl, id, col, clock, device) "
                                  "VALUES ('NAI', 2, x'01', 10, 1, x'aa')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close_v2(db);
    x_free(before);
    x_free(after);
}

START_TEST(post_v7_clocks_survive_packing)
{
    check_clocks_survive(SCHEMA_POST, 7);
}
END_TEST

START_TEST(hq_v6_clocks_survive_packing)
{
    check_clocks_survive(SCHEMA_HQ, 6);
}
END_TEST

/* clock_rows (a device's store) or the row itself (HQ's, version 10) holds a clock and a
 * writer for every column of every synced table. */
START_TEST(clock_rows_hold_every_column)
{
    static const enum schema_kind kinds[] = {SCHEMA_POST, SCHEMA_HQ};

    for (int i = 0; i < 2; i++) {
        sqlite3 *db = NULL;
        struct mrf_error err = {0};
        char p[160], name[16];

        snprintf(p, sizeof p, "%s/%d.db", dir, i);
        ck_assert_int_eq(schema_open(p, kinds[i], &db, &err), MRF_OK);
        for (int t = 0; t < ST_COUNT; t++) {
            const struct sync_table_desc *d = sync_table_get((enum sync_table)t);
            const char *in = kinds[i] == SCHEMA_POST ? "clock_rows" : d->name;
            snprintf(name, sizeof name, "c%d", d->ncols - 1);
            ck_assert_msg(has_column(db, in, name, "INTEGER"), "%s %s", in, name);
            snprintf(name, sizeof name, "w%d", d->ncols - 1);
            ck_assert_msg(has_column(db, in, name, "INTEGER"), "%s %s", in, name);
        }
        sqlite3_close_v2(db);
    }
}
END_TEST

/* Leaves the store at path at HQ version `from` holding what `sql` writes, then checks that
 * migration from + 1 refuses it with a message that starts with `what` and says the store
 * stays at version `from`, and leaves it so, with `rows` rows in `table`; then runs `fix` on
 * it. The caller opens it again to see it migrate. */
static void refused_then_fixed(int from, const char *sql, const char *what, const char *table,
                               int rows, const char *fix)
{
    sqlite3 *db = NULL;
    struct mrf_error err = {0};
    char q[96];

    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(schema_migrate(db, SCHEMA_HQ, from, &err), MRF_OK);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close_v2(db);
    db = NULL;
    ck_assert_int_ne(schema_open(path, SCHEMA_HQ, &db, &err), MRF_OK);
    snprintf(q, sizeof q, "stays at version %d", from);
    ck_assert_msg(strstr(err.msg, what) != NULL && strstr(err.msg, q) != NULL, "%s", err.msg);
    sqlite3_close_v2(db);
    db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(one(db, "PRAGMA user_version"), from);
    snprintf(q, sizeof q, "SELECT count(*) FROM %s", table);
    ck_assert_int_eq(one(db, q), rows);
    ck_assert_int_eq(sqlite3_exec(db, fix, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close_v2(db);
}

/* HQ store 9 -> 10 moves each clock into its row: a clock entry without its row (which the
 * merge never leaves) would be lost, so the migration refuses the store and leaves it as it
 * was, at version 9 with the entry. With the stray entry gone, the same store migrates and its
 * grant keeps its clock. */
START_TEST(hq_v10_refuses_a_clock_without_its_row)
{
    sqlite3 *db = NULL;
    struct mrf_error err = {0};

    refused_then_fixed(9,
                       "INSERT INTO grants(post, id, code) VALUES ('NAI', zeroblob(16), "
                       "'G-AAAAAA'); INSERT INTO writers(device) VALUES (zeroblob(16));"
                       "INSERT INTO clock_rows(post, tbl, id, c3, w3) VALUES ('NAI', 2, "
                       "zeroblob(16), 5, 1), ('NAI', 2, x'01', 6, 1)",
                       "migration 10 failed: clock_rows holds clocks of rows this store does not "
                       "have",
                       "clock_rows", 2, "DELETE FROM clock_rows WHERE id = x'01'");
    ck_assert_int_eq(schema_open(path, SCHEMA_HQ, &db, &err), MRF_OK);
    ck_assert_int_eq(one(db, "SELECT c3 FROM grants WHERE id = zeroblob(16)"), 5);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM clocks"), 1);
    sqlite3_close_v2(db);
}
END_TEST

/* HQ store 10 -> 11 names each op's row by its number: an op without its row (which the
 * merge never leaves) would be lost, so the migration refuses the store and leaves it as it
 * was, at version 10 with the op. With GVA's row there, the same store migrates and both ops
 * name their rows. */
START_TEST(hq_v11_refuses_an_op_without_its_row)
{
    sqlite3 *db = NULL;
    struct mrf_error err = {0};

    refused_then_fixed(10,
                       "INSERT INTO grants(post, id, code) VALUES ('NAI', zeroblob(16), "
                       "'G-AAAAAA'); INSERT INTO writers(device) VALUES (zeroblob(16));"
                       "INSERT INTO oplog_rows(post, pseq, seq, tbl, id, col, value, clock, w) "
                       "VALUES ('NAI', 1, 1, 2, zeroblob(16), 3, 5, 5, 1), "
                       "('GVA', 1, 2, 2, zeroblob(16), 3, 6, 6, 1)",
                       "migration 11 failed: oplog_rows holds ops of rows this store does not "
                       "have",
                       "oplog_rows", 2,
                       "INSERT INTO grants(post, id, code) VALUES ('GVA', zeroblob(16), "
                       "'G-AAAAAA')");
    ck_assert_int_eq(schema_open(path, SCHEMA_HQ, &db, &err), MRF_OK);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM oplog WHERE id = zeroblob(16)"), 2);
    ck_assert_int_eq(one(db, "SELECT value FROM oplog WHERE post = 'GVA' AND pseq = 1"), 6);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM oplog_runs"), 2);
    sqlite3_close_v2(db);
}
END_TEST

#define ID1 "x'00000000000000000000000000000001'"
#define ID2 "x'00000000000000000000000000000002'"
#define ID3 "x'00000000000000000000000000000003'"

/* HQ store 7 -> 8: every oplog entry keeps its sequence numbers, value, clock and writer (now
 * a number in writers), and the global sequence goes on from where it stood, even past rows
 * deleted at its end. */
/* And 10 -> 11, which keys the oplog by seq, keeps the posts' sequences in runs and names each
 * op's row by number: the same listing, a gap in it (seq 5) and all. */
START_TEST(hq_v8_oplog_keeps_every_op)
{
    static const char *const listed =
        "SELECT group_concat(line, ';') FROM (SELECT seq || ',' || post || ',' || tbl || ',' "
        "|| hex(id) || ',' || col || ',' || quote(value) || ',' || clock || ',' || hex(device) "
        "|| ',' || pseq AS line FROM oplog ORDER BY seq)";
    sqlite3 *db = NULL;
    struct mrf_error err = {0};
    char *before, *after;
    sqlite3_stmt *st = NULL;

    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(schema_migrate(db, SCHEMA_HQ, 7, &err), MRF_OK);
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "INSERT INTO writers(device) VALUES (x'0102030405060708090a0b0c0d0e0f10');"
                     "INSERT INTO grants(post, id, code) VALUES ('NAI', " ID1 ", 'G-AAAAAA'),"
                     "  ('GVA', " ID2 ", 'G-AAAAAB');"
                     "INSERT INTO themes(post, id) VALUES ('GVA', " ID3 ");"
                     "INSERT INTO oplog(post, tbl, id, col, value, clock, device, pseq) VALUES "
                     "  ('NAI', 2, " ID1 ", 3, 5, 10, x'0102030405060708090a0b0c0d0e0f10', 1),"
                     "  ('GVA', 2, " ID2 ", 3, 'seven', -5, zeroblob(16), 1),"
                     "  ('GVA', 0, " ID3 ", 1, x'beef', 12, zeroblob(16), 2),"
                     "  ('NAI', 2, " ID1 ", 4, NULL, 11, x'aa', 2),"
                     "  ('NAI', 2, " ID1 ", 5, 1, 13, x'aa', 3);"
                     "DELETE FROM oplog WHERE seq = 5;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, listed, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    before = xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close_v2(db);
    db = NULL;

    ck_assert_int_eq(schema_open(path, SCHEMA_HQ, &db, &err), MRF_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, listed, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    after = xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    ck_assert_str_eq(after, before);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM writers"), 3);
    ck_assert_int_eq(sqlite3_exec(db,
                                  "INSERT INTO oplog_ops(seq, tbl, r, col, value, clock, w) "
                                  "VALUES ((SELECT last + 1 FROM oplog_seq), 2, (SELECT rn FROM "
                                  "grants WHERE post = 'NAI' AND id = " ID1 "), 6, 0, 14, 1); "
                                  "INSERT INTO oplog_runs(seq, post, pseq, n) VALUES ((SELECT "
                                  "last + 1 FROM oplog_seq), 'NAI', 4, 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(one(db, "SELECT max(seq) FROM oplog"), 6); /* not 5 again */
    ck_assert_int_eq(one(db, "SELECT count(*) FROM oplog WHERE post = 'NAI' AND id = " ID1), 3);
    sqlite3_close_v2(db);
    x_free(before);
    x_free(after);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("schema");
    TCase *tc = tcase_create("migrations");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, post_empty_to_latest);
    tcase_add_test(tc, hq_empty_to_latest);
    tcase_add_test(tc, post_every_earlier_version);
    tcase_add_test(tc, post_v7_keyring_starts_empty);
    tcase_add_test(tc, hq_every_earlier_version);
    tcase_add_test(tc, hq_v2_keeps_rows_and_numbers_each_post);
    tcase_add_test(tc, hq_v4_bounds_unset_and_hours_empty);
    tcase_add_test(tc, post_v3_clocks_take_the_post_and_cursor_restarts);
    tcase_add_test(tc, post_v4_conflict_records_and_audit_head);
    tcase_add_test(tc, reopen_is_idempotent);
    tcase_add_test(tc, newer_store_refused);
    tcase_add_test(tc, pragmas_set);
    tcase_add_test(tc, post_store_auto_vacuum);
    tcase_add_test(tc, outbox_value_untyped);
    tcase_add_test(tc, synced_tables_match_column_table);
    tcase_add_test(tc, post_v7_clocks_survive_packing);
    tcase_add_test(tc, hq_v6_clocks_survive_packing);
    tcase_add_test(tc, clock_rows_hold_every_column);
    tcase_add_test(tc, hq_v8_oplog_keeps_every_op);
    tcase_add_test(tc, hq_v10_refuses_a_clock_without_its_row);
    tcase_add_test(tc, hq_v11_refuses_an_op_without_its_row);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

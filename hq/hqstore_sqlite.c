/* The HQ store on embedded SQLite: opening, configuration, posts, devices, enrollments,
 * change sets and the oplog. Every statement lives in stmt_sql[] beside its enum, is prepared
 * on first use, reset when fetched and finalized on close (as SQLite's FTS5 storage does). The
 * other areas (conflicts, audit, report) have files of their own, hqstore_*.c, that share the
 * handle through hqstore_db.h; together they are the only files of mrf-hq that hold SQL. The
 * schema itself comes from schema/hq/NNN_*.sql through schema_open(). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "hqstore_db.h"
#include "schema.h"

enum hq_stmt {
    HQS_BEGIN,
    HQS_COMMIT,
    HQS_ROLLBACK,
    HQS_CONFIG_INIT,
    HQS_CONFIG_GET,
    HQS_POST_ADD,
    HQS_POST_GET,
    HQS_POST_LIST,
    HQS_ENROLL_ADD,
    HQS_ENROLL_GET,
    HQS_ENROLL_USE,
    HQS_DEVICE_ADD,
    HQS_DEVICE_GET,
    HQS_DEVICE_FIND,
    HQS_DEVICE_SEEN,
    HQS_DEVICE_REVOKE,
    HQS_DEVICE_LIST,
    HQS_RECEIVED_GET,
    HQS_RECEIVED_PUT,
    HQS_OPLOG_PUT,
    HQS_OPLOG_RUN_PUT,
    HQS_OPLOG_LAST,
    HQS_OPLOG_SCAN,
    HQS_OPLOG_PSEQ_AT,
    HQS_OPLOG_SEQ_GET,
    HQS_OPLOG_SEQ_SAVE,
    HQS_SKEW_PUT,
    HQS_SKEW_GET,
    HQS_CLOCK_GET,
    HQS_CLOCK_SAVE,
    HQS_GRANT_LIST,
    HQS_GRANT_LIST_POST,
    HQS_COUNT
};

#define POST_COLUMNS                                                                               \
    "SELECT p.code, p.kind, p.country IS NOT NULL,"                                                \
    " (SELECT count(*) FROM devices d WHERE d.post = p.code AND d.status = 'active'),"             \
    " p.created_at FROM posts p"

#define DEVICE_COLUMNS                                                                             \
    "SELECT id, post, sign_pk, box_pk, status = 'revoked', enrolled_at, coalesce(revoked_at, 0),"  \
    " coalesce(last_seen, 0) FROM devices"

#define GRANT_COLUMNS                                                                              \
    "SELECT post, code, coalesce(theme, ''), coalesce(year, 0), coalesce(amount_cents, 0),"        \
    " coalesce(currency, ''), coalesce(status, ''), removed FROM grants"

/* a post's ops after its sequence number ?2 up to ?3 (hqstore_oplog_scan) */
#define OPLOG_FROM_CURSOR HQS_OPLOG_RANGE("?1", "?2", "?3")

static const char *const stmt_sql[HQS_COUNT] = {
    [HQS_BEGIN] = "BEGIN IMMEDIATE",
    [HQS_COMMIT] = "COMMIT",
    [HQS_ROLLBACK] = "ROLLBACK",
    [HQS_CONFIG_INIT] = "INSERT INTO config (id, url, tls_pin, sign_pk, box_pk, escrow_pk,"
                        " created_at, clock, device_id) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [HQS_CONFIG_GET] = "SELECT url, tls_pin, sign_pk, box_pk, escrow_pk, created_at, clock,"
                       " device_id FROM config WHERE id = 1",
    [HQS_POST_ADD] = "INSERT INTO posts (code, kind, country, created_at) VALUES (?1, ?2, ?3, ?4)",
    [HQS_POST_GET] = POST_COLUMNS " WHERE p.code = ?1",
    [HQS_POST_LIST] = POST_COLUMNS " ORDER BY p.code",
    [HQS_ENROLL_ADD] = "INSERT INTO enrollments (token_id, post, secret_hash, expires,"
                       " created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    [HQS_ENROLL_GET] = "SELECT post, secret_hash, expires, created_at, coalesce(used_at, 0),"
                       " device_id FROM enrollments WHERE token_id = ?1",
    [HQS_ENROLL_USE] = "UPDATE enrollments SET used_at = ?3, device_id = ?2"
                       " WHERE token_id = ?1 AND used_at IS NULL",
    [HQS_DEVICE_ADD] = "INSERT INTO devices (id, post, sign_pk, box_pk, status, enrolled_at)"
                       " VALUES (?1, ?2, ?3, ?4, 'active', ?5)",
    [HQS_DEVICE_GET] = DEVICE_COLUMNS " WHERE id = ?1",
    [HQS_DEVICE_FIND] = DEVICE_COLUMNS " WHERE hex(id) LIKE upper(?1) || '%' LIMIT 2",
    [HQS_DEVICE_SEEN] = "UPDATE devices SET last_seen = ?2 WHERE id = ?1",
    [HQS_DEVICE_REVOKE] = "UPDATE devices SET status = 'revoked', revoked_at = ?2"
                          " WHERE id = ?1 AND status = 'active'",
    [HQS_DEVICE_LIST] = DEVICE_COLUMNS " ORDER BY post, enrolled_at, id",
    [HQS_RECEIVED_GET] = "SELECT device, post, verdict, coalesce(ack, '') FROM received"
                         " WHERE id = ?1",
    [HQS_RECEIVED_PUT] = "INSERT INTO received (id, device, post, verdict, ack, received_at)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* ?7: the writer's number, as the merge that applied the op numbered it (sync/merge.c) */
    [HQS_OPLOG_PUT] = "INSERT INTO oplog_ops (seq, tbl, r, col, value, clock, w)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* the open run, again as it grows if the transaction reads the oplog meanwhile */
    [HQS_OPLOG_RUN_PUT] = "INSERT INTO oplog_runs (seq, post, pseq, n) VALUES (?1, ?2, ?3, ?4)"
                          " ON CONFLICT (seq) DO UPDATE SET n = excluded.n",
    /* the post's last run: one step from the end of oplog_runs_post */
    [HQS_OPLOG_LAST] = "SELECT seq, pseq, n FROM oplog_runs WHERE post = ?1 ORDER BY pseq DESC"
                       " LIMIT 1",
    [HQS_OPLOG_SCAN] =
        "SELECT r.pseq + o.seq - r.seq, o.tbl, " HQS_OP_ROW_ID ", o.col, o.value, o.clock,"
        " (SELECT device FROM writers WHERE n = o.w), o.seq " OPLOG_FROM_CURSOR
        " ORDER BY r.pseq, o.seq",
    /* pseq and seq grow together within a post: walk back from the post's newest run */
    [HQS_OPLOG_PSEQ_AT] = "SELECT pseq + min(n, ?2 - seq + 1) - 1 FROM oplog_runs"
                          " WHERE post = ?1 AND seq <= ?2 ORDER BY pseq DESC LIMIT 1",
    [HQS_OPLOG_SEQ_GET] = "SELECT last FROM oplog_seq WHERE id = 1",
    [HQS_OPLOG_SEQ_SAVE] = "UPDATE oplog_seq SET last = ?1 WHERE id = 1",
    [HQS_SKEW_PUT] = "INSERT INTO clock_skew (changeset, device, post, ops, max_clock, above,"
                     " restamped, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [HQS_SKEW_GET] = "SELECT device, post, ops, max_clock, above, restamped, at FROM clock_skew"
                     " WHERE changeset = ?1",
    [HQS_CLOCK_GET] = "SELECT clock FROM config WHERE id = 1",
    [HQS_CLOCK_SAVE] = "UPDATE config SET clock = ?1 WHERE id = 1",
    [HQS_GRANT_LIST] = GRANT_COLUMNS " WHERE ?2 = 0 OR year = ?2 ORDER BY post, year, code",
    /* one post's: by its key (post first), never a walk through every post's grants */
    [HQS_GRANT_LIST_POST] = GRANT_COLUMNS " WHERE post = ?1 AND (?2 = 0 OR year = ?2)"
                                          " ORDER BY year, code",
};

_Static_assert(HQS_COUNT <= 64, "struct hqstore holds 64 statements");

/* Sets the handle's error from SQLite's last message. */
enum mrf_status hqs_fail(struct hqstore *s, const char *what)
{
    hqs_note_full(s);
    if (s->full)
        return mrf_error_set(&s->err, MRF_E_IO,
                             "HQ store: %s: the disk is full (%s); free space on the disk "
                             "that holds the HQ store",
                             what, sqlite3_errmsg(s->db));
    return mrf_error_set(&s->err, MRF_E_IO, "HQ store: %s: %s", what, sqlite3_errmsg(s->db));
}

void hqs_note_full(struct hqstore *s)
{
    if ((sqlite3_extended_errcode(s->db) & 0xff) == SQLITE_FULL)
        s->full = 1;
}

int hqstore_disk_full(const struct hqstore *s)
{
    return s->full;
}

/* The statement i, prepared if needed, reset and with bindings cleared. NULL on failure
 * (message on s). */
static sqlite3_stmt *stmt_get(struct hqstore *s, enum hq_stmt i)
{
    if (s->stmt[i] == NULL) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                               NULL) != SQLITE_OK) {
            hqs_fail(s, "prepare");
            return NULL;
        }
    } else {
        sqlite3_reset(s->stmt[i]);
        sqlite3_clear_bindings(s->stmt[i]);
    }
    return s->stmt[i];
}

sqlite3_stmt *hqs_stmt(struct hqstore *s, enum hqs_area area, int i, const char *sql)
{
    sqlite3_stmt **slot = &s->area[area][i];

    if (*slot == NULL) {
        if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) !=
            SQLITE_OK) {
            hqs_fail(s, "prepare");
            return NULL;
        }
    } else {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
    }
    return *slot;
}

struct merge *hqs_merge(struct hqstore *s)
{
    if (s->merge == NULL && merge_new(s->db, &s->merge, &s->err) != MRF_OK)
        return NULL;
    return s->merge;
}

/* Copies a blob column of exactly n bytes; 0 if its size differs. */
int hqs_column_blob(sqlite3_stmt *st, int col, uint8_t *out, size_t n)
{
    const void *p = sqlite3_column_blob(st, col);

    if (p == NULL || (size_t)sqlite3_column_bytes(st, col) != n)
        return 0;
    memcpy(out, p, n);
    return 1;
}

void hqs_column_text(sqlite3_stmt *st, int col, char *out, size_t n)
{
    const unsigned char *p = sqlite3_column_text(st, col);

    str_copy(out, p ? (const char *)p : "", n);
}

/* Steps a statement that returns no rows and resets it. Returns SQLITE_DONE or the extended
 * error code, read before the reset. */
int hqs_step_once(sqlite3_stmt *st)
{
    int r = sqlite3_step(st);

    if (r != SQLITE_DONE && r != SQLITE_ROW)
        r = sqlite3_extended_errcode(sqlite3_db_handle(st));
    sqlite3_reset(st);
    return r;
}

/* The page cache of one handle, in KiB: a 64th of the machine's memory, at least SQLite's
 * default 2 MiB and at most 32 MiB (docs/DECISIONS.md, "HQ's page cache", and "HQ at scale is
 * the fund's shape" for why not more). Row ids are random, so a change set writes pages all
 * over its post's part of the id keys; with SQLite's default 2 MiB, a store past a few
 * hundred thousand ops reads most of those pages from the file again for every change set.
 * A larger cache costs CPU at every commit instead: SQLite walks the cache's whole hash table
 * when a commit follows a page split, so that walk grows with the pages cached. The cache
 * holds only pages read, so a small store costs no more memory than before; the server's
 * pool has a handle per worker thread, which bounds the total at 32 x 32 MiB. */
#define HQ_WAL_PAGES 16384 /* 64 MiB of 4 KiB pages */

static long cache_kib(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    long long kib = pages > 0 && size > 0 ? (long long)pages * size / 1024 / 64 : 0;

    if (kib < 2048)
        kib = 2048;
    if (kib > 32 * 1024)
        kib = 32 * 1024;
    return (long)kib;
}

enum mrf_status hqstore_open(const char *home, enum hqstore_mode mode, struct hqstore **out,
                             struct mrf_error *err)
{
    char cache[128];

    enum mrf_status rc = MRF_OK;
    struct hqstore *s = NULL;
    char *path = NULL;
    struct stat sb;

    *out = NULL;
    path = xasprintf("%s/%s", home, HQSTORE_FILE);
    if (mode != HQSTORE_CREATE && stat(path, &sb) != 0) {
        if (errno == ENOENT)
            rc = mrf_error_set(err, MRF_E_STATE,
                               "HQ is not initialised in %s; run mrf-hq init --url "
                               "https://HOST:PORT first (or give --home)",
                               home);
        else
            rc = mrf_error_set(err, MRF_E_IO, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    s = xcalloc(1, sizeof *s);
    s->gseq_last = -1;
    if (mode == HQSTORE_READONLY)
        rc = schema_open_readonly(path, SCHEMA_HQ, &s->db, err);
    else
        rc = schema_open(path, SCHEMA_HQ, &s->db, err);
    if (rc != MRF_OK)
        goto out;
    /* The write-ahead log is copied into the store every HQ_WAL_PAGES pages rather than
     * SQLite's 1,000 (docs/DECISIONS.md, "HQ's page cache"): pages that change sets write
     * again and again are copied once per checkpoint. */
    snprintf(cache, sizeof cache, "PRAGMA cache_size = -%ld; PRAGMA wal_autocheckpoint = %d",
             cache_kib(), HQ_WAL_PAGES);
    if (sqlite3_exec(s->db, cache, NULL, NULL, NULL) != SQLITE_OK) {
        rc = mrf_error_set(err, MRF_E_IO, "HQ store: cannot size its page cache: %s",
                           sqlite3_errmsg(s->db));
        goto out;
    }
    *out = s;
    s = NULL;
out:
    hqstore_close(s);
    x_free(path);
    return rc;
}

void hqstore_close(struct hqstore *s)
{
    int i;

    if (s == NULL)
        return;
    if (s->in_tx)
        hqstore_rollback(s);
    for (i = 0; i < HQS_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    for (int a = 0; a < HQS_AREA_COUNT; a++)
        for (i = 0; i < HQS_AREA_SLOTS; i++)
            sqlite3_finalize(s->area[a][i]);
    merge_free(s->merge);
    sqlite3_close_v2(s->db);
    x_free(s);
}

const char *hqstore_errmsg(const struct hqstore *s)
{
    return s->err.msg;
}

/* Runs a statement that returns no rows. */
static enum mrf_status exec_simple(struct hqstore *s, enum hq_stmt i, const char *what)
{
    sqlite3_stmt *st = stmt_get(s, i);
    int r;

    if (st == NULL)
        return MRF_E_IO;
    r = hqs_step_once(st);
    if (r != SQLITE_DONE)
        return hqs_fail(s, what);
    return MRF_OK;
}

enum mrf_status hqstore_begin(struct hqstore *s)
{
    enum mrf_status rc;

    s->full = 0;
    rc = exec_simple(s, HQS_BEGIN, "begin");
    s->seq_post[0] = '\0';
    s->gseq_last = -1;
    s->run_n = 0;
    if (s->merge != NULL) /* other handles may have written since its last transaction */
        merge_forget(s->merge);
    if (rc == MRF_OK)
        s->in_tx = 1;
    return rc;
}

enum mrf_status hqstore_commit(struct hqstore *s)
{
    enum mrf_status rc = MRF_OK;
    sqlite3_stmt *st;

    rc = hqs_oplog_flush(s);
    if (rc != MRF_OK)
        return rc;
    if (s->in_tx && s->gseq_last >= 0) { /* the global sequence, once per transaction */
        st = stmt_get(s, HQS_OPLOG_SEQ_SAVE);
        if (st == NULL)
            return MRF_E_IO;
        sqlite3_bind_int64(st, 1, s->gseq_last);
        if (hqs_step_once(st) != SQLITE_DONE)
            return hqs_fail(s, "saving the oplog's sequence");
    }
    rc = exec_simple(s, HQS_COMMIT, "commit");
    s->seq_post[0] = '\0';
    s->gseq_last = -1;
    s->run_n = 0;
    if (rc == MRF_OK)
        s->in_tx = 0;
    return rc;
}

void hqstore_rollback(struct hqstore *s)
{
    if (!s->in_tx && sqlite3_get_autocommit(s->db))
        return;
    hqs_note_full(s);
    /* SQLite rolls back by itself on some errors (a full disk, I/O errors): a ROLLBACK then
     * fails with "no transaction is active", and must not replace the message that says why. */
    if (!sqlite3_get_autocommit(s->db)) {
        struct mrf_error keep = s->err;
        (void)exec_simple(s, HQS_ROLLBACK, "rollback");
        s->err = keep;
    }
    s->in_tx = 0;
    s->seq_post[0] = '\0';
    s->gseq_last = -1;
    s->run_n = 0;
    if (s->merge != NULL)
        merge_forget(s->merge);
}

enum mrf_status hqstore_config_init(struct hqstore *s, const struct hq_config *c)
{
    sqlite3_stmt *st = stmt_get(s, HQS_CONFIG_INIT);
    int r;

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, c->url, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->tls_pin, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, c->hq.sign_pk, sizeof c->hq.sign_pk, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, c->hq.box_pk, sizeof c->hq.box_pk, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, c->escrow_pk, sizeof c->escrow_pk, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, c->created_at);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)c->clock);
    sqlite3_bind_blob(st, 8, c->device_id, sizeof c->device_id, SQLITE_STATIC);
    r = hqs_step_once(st);
    if (r == SQLITE_CONSTRAINT_PRIMARYKEY)
        return mrf_error_set(&s->err, MRF_E_STATE, "HQ store: HQ is already configured");
    if (r != SQLITE_DONE)
        return hqs_fail(s, "writing the configuration");
    return MRF_OK;
}

enum mrf_status hqstore_config_get(struct hqstore *s, struct hq_config *c)
{
    enum mrf_status rc = MRF_OK;
    sqlite3_stmt *st = stmt_get(s, HQS_CONFIG_GET);
    int r;

    memset(c, 0, sizeof *c);
    if (st == NULL)
        return MRF_E_IO;
    r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        rc = mrf_error_set(&s->err, MRF_E_STATE,
                           "HQ is not initialised; run mrf-hq init --url https://HOST:PORT");
        goto out;
    }
    if (r != SQLITE_ROW) {
        rc = hqs_fail(s, "reading the configuration");
        goto out;
    }
    hqs_column_text(st, 0, c->url, sizeof c->url);
    hqs_column_text(st, 1, c->tls_pin, sizeof c->tls_pin);
    if (!hqs_column_blob(st, 2, c->hq.sign_pk, sizeof c->hq.sign_pk) ||
        !hqs_column_blob(st, 3, c->hq.box_pk, sizeof c->hq.box_pk) ||
        !hqs_column_blob(st, 4, c->escrow_pk, sizeof c->escrow_pk) ||
        !hqs_column_blob(st, 7, c->device_id, sizeof c->device_id)) {
        rc = mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: the configuration is damaged");
        goto out;
    }
    c->created_at = sqlite3_column_int64(st, 5);
    c->clock = (uint64_t)sqlite3_column_int64(st, 6);
out:
    sqlite3_reset(st);
    if (rc != MRF_OK)
        memset(c, 0, sizeof *c);
    return rc;
}

enum mrf_status hqstore_post_add(struct hqstore *s, const char *code, const char *kind,
                                 const uint8_t *country, size_t country_len, int64_t now)
{
    sqlite3_stmt *st = stmt_get(s, HQS_POST_ADD);
    int r;

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    if (country != NULL)
        sqlite3_bind_blob64(st, 3, country, country_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    r = hqs_step_once(st);
    if ((r & 0xff) == SQLITE_CONSTRAINT) {
        if (r == SQLITE_CONSTRAINT_PRIMARYKEY || r == SQLITE_CONSTRAINT_UNIQUE)
            return mrf_error_set(&s->err, MRF_E_RULE,
                                 "post %s exists already; see mrf-hq post list", code);
        return mrf_error_set(&s->err, MRF_E_INVALID,
                             "post %s: kind must be bilateral or multilateral", code);
    }
    if (r != SQLITE_DONE)
        return hqs_fail(s, "adding a post");
    return MRF_OK;
}

/* Reads the row st is on into *p. */
static void post_row(sqlite3_stmt *st, struct hq_post *p)
{
    memset(p, 0, sizeof *p);
    hqs_column_text(st, 0, p->code, sizeof p->code);
    hqs_column_text(st, 1, p->kind, sizeof p->kind);
    p->country_sealed = sqlite3_column_int(st, 2) != 0;
    p->devices = sqlite3_column_int64(st, 3);
    p->created_at = sqlite3_column_int64(st, 4);
}

enum mrf_status hqstore_post_get(struct hqstore *s, const char *code, struct hq_post *p)
{
    enum mrf_status rc = MRF_OK;
    sqlite3_stmt *st = stmt_get(s, HQS_POST_GET);
    int r;

    memset(p, 0, sizeof *p);
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        post_row(st, p);
    else if (r == SQLITE_DONE)
        rc = mrf_error_set(&s->err, MRF_E_NOTFOUND, "no post %s", code);
    else
        rc = hqs_fail(s, "reading a post");
    sqlite3_reset(st);
    return rc;
}

enum mrf_status hqstore_post_list(struct hqstore *s, hqstore_post_fn fn, void *arg)
{
    enum mrf_status rc = MRF_OK;
    sqlite3_stmt *st = stmt_get(s, HQS_POST_LIST);
    struct hq_post p;
    int r;

    if (st == NULL)
        return MRF_E_IO;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        post_row(st, &p);
        rc = fn(arg, &p);
        if (rc != MRF_OK)
            goto out;
    }
    if (r != SQLITE_DONE)
        rc = hqs_fail(s, "listing posts");
out:
    sqlite3_reset(st);
    return rc;
}

enum mrf_status hqstore_enrollment_add(struct hqstore *s, const struct hq_enrollment *e)
{
    sqlite3_stmt *st = stmt_get(s, HQS_ENROLL_ADD);
    int r;

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, e->token_id, sizeof e->token_id, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, e->post, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, e->secret_hash, sizeof e->secret_hash, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, e->expires);
    sqlite3_bind_int64(st, 5, e->created_at);
    r = hqs_step_once(st);
    if (r == SQLITE_CONSTRAINT_FOREIGNKEY)
        return mrf_error_set(&s->err, MRF_E_NOTFOUND, "no post %s", e->post);
    if (r != SQLITE_DONE)
        return hqs_fail(s, "storing the enrollment");
    return MRF_OK;
}

enum mrf_status hqstore_enrollment_get(struct hqstore *s, const uint8_t token_id[MRF_ID],
                                       struct hq_enrollment *e)
{
    enum mrf_status rc = MRF_OK;
    sqlite3_stmt *st = stmt_get(s, HQS_ENROLL_GET);
    int r;

    memset(e, 0, sizeof *e);
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, token_id, MRF_ID, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        rc = mrf_error_set(&s->err, MRF_E_NOTFOUND, "no such enrollment token");
        goto out;
    }
    if (r != SQLITE_ROW) {
        rc = hqs_fail(s, "reading an enrollment");
        goto out;
    }
    memcpy(e->token_id, token_id, MRF_ID);
    hqs_column_text(st, 0, e->post, sizeof e->post);
    if (!hqs_column_blob(st, 1, e->secret_hash, sizeof e->secret_hash)) {
        rc = mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: an enrollment is damaged");
        goto out;
    }
    e->expires = sqlite3_column_int64(st, 2);
    e->created_at = sqlite3_column_int64(st, 3);
    e->used_at = sqlite3_column_int64(st, 4);
    if (e->used_at != 0 && !hqs_column_blob(st, 5, e->device, MRF_ID)) {
        rc = mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: an enrollment is damaged");
        goto out;
    }
out:
    sqlite3_reset(st);
    if (rc != MRF_OK)
        memset(e, 0, sizeof *e);
    return rc;
}

enum mrf_status hqstore_enrollment_use(struct hqstore *s, const uint8_t token_id[MRF_ID],
                                       const uint8_t device_id[MRF_ID], int64_t now)
{
    sqlite3_stmt *st = stmt_get(s, HQS_ENROLL_USE);

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, token_id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, device_id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    if (hqs_step_once(st) != SQLITE_DONE)
        return hqs_fail(s, "marking an enrollment used");
    if (sqlite3_changes(s->db) != 1)
        return mrf_error_set(&s->err, MRF_E_STATE, "token_used");
    return MRF_OK;
}

/* ---- devices ----------------------------------------------------------------------------- */

static int device_row(sqlite3_stmt *st, struct hq_device *d)
{
    memset(d, 0, sizeof *d);
    if (!hqs_column_blob(st, 0, d->id, MRF_ID) ||
        !hqs_column_blob(st, 2, d->keys.sign_pk, MRF_SIGN_PK) ||
        !hqs_column_blob(st, 3, d->keys.box_pk, MRF_BOX_PK))
        return 0;
    hqs_column_text(st, 1, d->post, sizeof d->post);
    d->revoked = sqlite3_column_int(st, 4) != 0;
    d->enrolled_at = sqlite3_column_int64(st, 5);
    d->revoked_at = sqlite3_column_int64(st, 6);
    d->last_seen = sqlite3_column_int64(st, 7);
    return 1;
}

enum mrf_status hqstore_device_add(struct hqstore *s, const struct hq_device *d)
{
    sqlite3_stmt *st = stmt_get(s, HQS_DEVICE_ADD);
    int r;

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, d->id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, d->post, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, d->keys.sign_pk, MRF_SIGN_PK, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, d->keys.box_pk, MRF_BOX_PK, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, d->enrolled_at);
    r = hqs_step_once(st);
    if (r == SQLITE_CONSTRAINT_PRIMARYKEY)
        return mrf_error_set(&s->err, MRF_E_RULE, "device_exists");
    if (r != SQLITE_DONE)
        return hqs_fail(s, "adding a device");
    return MRF_OK;
}

/* Runs a device query bound to one text or id and reads its first row. */
static enum mrf_status device_query(struct hqstore *s, sqlite3_stmt *st, struct hq_device *d,
                                    int expect_one)
{
    enum mrf_status rc = MRF_OK;
    int r = sqlite3_step(st);

    if (r == SQLITE_DONE)
        rc = mrf_error_set(&s->err, MRF_E_NOTFOUND, "no such device");
    else if (r != SQLITE_ROW)
        rc = hqs_fail(s, "reading a device");
    else if (!device_row(st, d))
        rc = mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: a device row is damaged");
    else if (expect_one && sqlite3_step(st) == SQLITE_ROW)
        rc = mrf_error_set(&s->err, MRF_E_RULE,
                           "several devices start with these digits; give more of the id");
    sqlite3_reset(st);
    if (rc != MRF_OK)
        memset(d, 0, sizeof *d);
    return rc;
}

enum mrf_status hqstore_device_get(struct hqstore *s, const uint8_t id[MRF_ID], struct hq_device *d)
{
    sqlite3_stmt *st = stmt_get(s, HQS_DEVICE_GET);

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, id, MRF_ID, SQLITE_STATIC);
    return device_query(s, st, d, 0);
}

enum mrf_status hqstore_device_find(struct hqstore *s, const char *hex_prefix, struct hq_device *d)
{
    sqlite3_stmt *st;
    size_t n = strlen(hex_prefix);

    if (n < 8 || n > 2 * MRF_ID || strspn(hex_prefix, "0123456789abcdefABCDEF") != n)
        return mrf_error_set(&s->err, MRF_E_INVALID,
                             "a device is named by 8 to 32 hex digits of its id, as mrf-hq "
                             "device list shows it");
    st = stmt_get(s, HQS_DEVICE_FIND);
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, hex_prefix, -1, SQLITE_STATIC);
    return device_query(s, st, d, 1);
}

enum mrf_status hqstore_device_seen(struct hqstore *s, const uint8_t id[MRF_ID], int64_t now)
{
    sqlite3_stmt *st = stmt_get(s, HQS_DEVICE_SEEN);

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    return hqs_step_once(st) == SQLITE_DONE ? MRF_OK : hqs_fail(s, "updating a device");
}

enum mrf_status hqstore_device_revoke(struct hqstore *s, const uint8_t id[MRF_ID], int64_t now)
{
    sqlite3_stmt *st = stmt_get(s, HQS_DEVICE_REVOKE);

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    if (hqs_step_once(st) != SQLITE_DONE)
        return hqs_fail(s, "revoking a device");
    if (sqlite3_changes(s->db) != 1)
        return mrf_error_set(&s->err, MRF_E_STATE, "the device is revoked already");
    return MRF_OK;
}

enum mrf_status hqstore_device_list(struct hqstore *s, hqstore_device_fn fn, void *arg)
{
    enum mrf_status rc = MRF_OK;
    sqlite3_stmt *st = stmt_get(s, HQS_DEVICE_LIST);
    struct hq_device d;
    int r;

    if (st == NULL)
        return MRF_E_IO;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (!device_row(st, &d)) {
            rc = mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: a device row is damaged");
            goto out;
        }
        rc = fn(arg, &d);
        if (rc != MRF_OK)
            goto out;
    }
    if (r != SQLITE_DONE)
        rc = hqs_fail(s, "listing devices");
out:
    sqlite3_reset(st);
    return rc;
}

/* ---- change sets ------------------------------------------------------------------------- */

enum mrf_status hqstore_received_get(struct hqstore *s, const uint8_t id[MRF_ID],
                                     struct hq_received *rec)
{
    enum mrf_status rc = MRF_OK;
    sqlite3_stmt *st = stmt_get(s, HQS_RECEIVED_GET);
    int r;

    memset(rec, 0, sizeof *rec);
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, id, MRF_ID, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_DONE)
        rc = mrf_error_set(&s->err, MRF_E_NOTFOUND, "change set not seen");
    else if (r != SQLITE_ROW)
        rc = hqs_fail(s, "reading a received change set");
    else if (!hqs_column_blob(st, 0, rec->device, MRF_ID))
        rc = mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: a received row is damaged");
    else {
        hqs_column_text(st, 1, rec->post, sizeof rec->post);
        hqs_column_text(st, 2, rec->verdict, sizeof rec->verdict);
        hqs_column_text(st, 3, rec->reason, sizeof rec->reason);
    }
    sqlite3_reset(st);
    return rc;
}

enum mrf_status hqstore_received_put(struct hqstore *s, const uint8_t id[MRF_ID],
                                     const struct hq_received *rec, int64_t now)
{
    sqlite3_stmt *st = stmt_get(s, HQS_RECEIVED_PUT);
    int r;

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, rec->device, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, rec->post, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, rec->verdict, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, rec->reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, now);
    r = hqs_step_once(st);
    if (r == SQLITE_CONSTRAINT_PRIMARYKEY)
        return mrf_error_set(&s->err, MRF_E_STATE, "change set recorded already");
    return r == SQLITE_DONE ? MRF_OK : hqs_fail(s, "recording a change set");
}

enum mrf_status hqstore_apply(struct hqstore *s, const char *post, const struct sync_op *op,
                              int *applied)
{
    struct merge_prior prior;

    return hqstore_apply_prior(s, post, op, 0, applied, &prior);
}

enum mrf_status hqstore_apply_prior(struct hqstore *s, const char *post, const struct sync_op *op,
                                    int64_t known, int *applied, struct merge_prior *prior)
{
    enum merge_outcome outcome;
    enum mrf_status rc;
    sqlite3_stmt *st;
    sqlite3_int64 writer = 0;
    int r;

    *applied = 0;
    if (hqs_merge(s) == NULL)
        return MRF_E_IO;
    rc = merge_apply_prior(s->merge, post, op, known, &outcome, prior, &s->err);
    if (rc == MRF_E_IO)
        hqs_note_full(s);
    if (rc != MRF_OK || outcome != MERGE_APPLIED)
        return rc;
    if (prior->row <= 0) /* the merge numbers every row of HQ's store it applies an op to */
        return mrf_error_set(&s->err, MRF_E_INTERNAL, "HQ store: an applied op has no row number");
    if (!s->in_tx || strcmp(s->seq_post, post) != 0) {
        /* the post's last number, once per post and transaction (BEGIN IMMEDIATE: no other
         * writer can take a number meanwhile), from its last run, which becomes the open run
         * (unchanged: its ops go on it if they follow it); the open run written first */
        rc = hqs_oplog_flush(s);
        if (rc != MRF_OK)
            return rc;
        st = stmt_get(s, HQS_OPLOG_LAST);
        if (st == NULL)
            return MRF_E_IO;
        sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
        r = sqlite3_step(st);
        s->run_n = 0;
        s->seq_last = 0;
        if (r == SQLITE_ROW) {
            str_copy(s->run_post, post, sizeof s->run_post);
            s->run_seq = sqlite3_column_int64(st, 0);
            s->run_pseq = sqlite3_column_int64(st, 1);
            s->run_n = sqlite3_column_int64(st, 2);
            s->run_dirty = 0;
            s->seq_last = s->run_pseq + s->run_n - 1;
        }
        sqlite3_reset(st);
        if (r != SQLITE_ROW && r != SQLITE_DONE)
            return hqs_fail(s, "reading the oplog");
        str_copy(s->seq_post, post, sizeof s->seq_post);
    }
    if (!s->in_tx || s->gseq_last < 0) {
        st = stmt_get(s, HQS_OPLOG_SEQ_GET);
        if (st == NULL)
            return MRF_E_IO;
        if (sqlite3_step(st) != SQLITE_ROW) {
            rc = hqs_fail(s, "reading the oplog's sequence");
            sqlite3_reset(st);
            return rc;
        }
        s->gseq_last = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    rc = merge_writer(s->merge, op->device, &writer, &s->err);
    if (rc != MRF_OK)
        return rc;
    st = stmt_get(s, HQS_OPLOG_PUT);
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_int64(st, 1, s->gseq_last + 1);
    sqlite3_bind_int(st, 2, (int)op->tbl);
    sqlite3_bind_int64(st, 3, prior->row);
    sqlite3_bind_int(st, 4, op->col);
    sync_value_bind(st, 5, &op->v);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)op->clock);
    sqlite3_bind_int64(st, 7, writer);
    if (hqs_step_once(st) != SQLITE_DONE)
        return hqs_fail(s, "appending to the oplog");
    s->seq_last++;
    s->gseq_last++;
    /* the op goes on the open run if it follows its last op in both sequences */
    if (s->run_n > 0 && strcmp(s->run_post, post) == 0 && s->run_seq + s->run_n == s->gseq_last &&
        s->run_pseq + s->run_n == s->seq_last) {
        s->run_n++;
        s->run_dirty = 1;
    } else {
        rc = hqs_oplog_flush(s);
        if (rc != MRF_OK)
            return rc;
        str_copy(s->run_post, post, sizeof s->run_post);
        s->run_seq = s->gseq_last;
        s->run_pseq = s->seq_last;
        s->run_n = 1;
        s->run_dirty = 1;
    }
    if (!s->in_tx) { /* no commit of ours to write them: now */
        rc = hqs_oplog_flush(s);
        if (rc != MRF_OK)
            return rc;
        s->run_n = 0;
        st = stmt_get(s, HQS_OPLOG_SEQ_SAVE);
        if (st == NULL)
            return MRF_E_IO;
        sqlite3_bind_int64(st, 1, s->gseq_last);
        if (hqs_step_once(st) != SQLITE_DONE)
            return hqs_fail(s, "saving the oplog's sequence");
        s->gseq_last = -1;
    }
    *applied = 1;
    return MRF_OK;
}

enum mrf_status hqs_oplog_flush(struct hqstore *s)
{
    sqlite3_stmt *st;

    if (s->run_n == 0 || !s->run_dirty)
        return MRF_OK;
    st = stmt_get(s, HQS_OPLOG_RUN_PUT);
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_int64(st, 1, s->run_seq);
    sqlite3_bind_text(st, 2, s->run_post, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, s->run_pseq);
    sqlite3_bind_int64(st, 4, s->run_n);
    if (hqs_step_once(st) != SQLITE_DONE)
        return hqs_fail(s, "appending to the oplog");
    s->run_dirty = 0;
    return MRF_OK;
}

/* Reads the oplog row st is on into *op (values point into st's row). 0 if damaged. */
static int oplog_row(sqlite3_stmt *st, struct sync_op *op)
{
    const struct sync_table_desc *d;
    int t = sqlite3_column_int(st, 1);

    memset(op, 0, sizeof *op);
    d = sync_table_get((enum sync_table)t);
    if (d == NULL || !hqs_column_blob(st, 2, op->id, MRF_ID) ||
        !hqs_column_blob(st, 6, op->device, MRF_ID))
        return 0;
    op->tbl = (enum sync_table)t;
    op->col = sqlite3_column_int(st, 3);
    if (op->col < 0 || op->col >= d->ncols)
        return 0;
    op->clock = (hlc_t)sqlite3_column_int64(st, 5);
    sync_value_column(st, 4, d->cols[op->col].type, &op->v);
    return 1;
}

int64_t hqstore_oplog_last(const struct hqstore *s)
{
    return s->seq_post[0] != '\0' ? s->seq_last : 0;
}

enum mrf_status hqstore_oplog_scan(struct hqstore *s, const char *post, int64_t after, int64_t upto,
                                   hqstore_oplog_fn fn, void *arg)
{
    enum mrf_status rc = MRF_OK;
    sqlite3_stmt *st;
    struct sync_op op;
    int r;

    if (hqs_oplog_flush(s) != MRF_OK || (st = stmt_get(s, HQS_OPLOG_SCAN)) == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int64(st, 3, upto);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (!oplog_row(st, &op)) {
            rc = mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: an oplog row is damaged");
            goto out;
        }
        rc = fn(arg, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 7), &op);
        if (rc != MRF_OK)
            goto out;
    }
    if (r != SQLITE_DONE)
        rc = hqs_fail(s, "reading the oplog");
out:
    sqlite3_reset(st);
    return rc;
}

enum mrf_status hqstore_oplog_pseq_at(struct hqstore *s, const char *post, int64_t seq,
                                      int64_t *pseq)
{
    sqlite3_stmt *st;
    int r;

    *pseq = 0;
    if (hqs_oplog_flush(s) != MRF_OK || (st = stmt_get(s, HQS_OPLOG_PSEQ_AT)) == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, seq);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *pseq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return r == SQLITE_ROW || r == SQLITE_DONE ? MRF_OK : hqs_fail(s, "reading the oplog");
}

enum mrf_status hqstore_skew_put(struct hqstore *s, const struct hq_skew *k)
{
    sqlite3_stmt *st = stmt_get(s, HQS_SKEW_PUT);
    int r;

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, k->changeset, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, k->device, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, k->post, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, k->ops);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)k->max_clock);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)k->above);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)k->restamped);
    sqlite3_bind_int64(st, 8, k->at);
    r = hqs_step_once(st);
    if (r == SQLITE_CONSTRAINT_PRIMARYKEY)
        return mrf_error_set(&s->err, MRF_E_STATE, "change set recorded already");
    return r == SQLITE_DONE ? MRF_OK : hqs_fail(s, "recording a skewed clock");
}

enum mrf_status hqstore_skew_get(struct hqstore *s, const uint8_t changeset[MRF_ID],
                                 struct hq_skew *k)
{
    enum mrf_status rc = MRF_OK;
    sqlite3_stmt *st = stmt_get(s, HQS_SKEW_GET);
    int r;

    memset(k, 0, sizeof *k);
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, changeset, MRF_ID, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_DONE)
        rc = mrf_error_set(&s->err, MRF_E_NOTFOUND, "no skewed clock in this change set");
    else if (r != SQLITE_ROW)
        rc = hqs_fail(s, "reading a skewed clock");
    else if (!hqs_column_blob(st, 0, k->device, MRF_ID))
        rc = mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: a clock_skew row is damaged");
    else {
        memcpy(k->changeset, changeset, MRF_ID);
        hqs_column_text(st, 1, k->post, sizeof k->post);
        k->ops = sqlite3_column_int64(st, 2);
        k->max_clock = (uint64_t)sqlite3_column_int64(st, 3);
        k->above = (uint64_t)sqlite3_column_int64(st, 4);
        k->restamped = (uint64_t)sqlite3_column_int64(st, 5);
        k->at = sqlite3_column_int64(st, 6);
    }
    sqlite3_reset(st);
    return rc;
}

enum mrf_status hqstore_clock_get(struct hqstore *s, uint64_t *clock)
{
    sqlite3_stmt *st = stmt_get(s, HQS_CLOCK_GET);
    int r;

    *clock = 0;
    if (st == NULL)
        return MRF_E_IO;
    r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *clock = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return r == SQLITE_ROW ? MRF_OK : hqs_fail(s, "reading HQ's clock");
}

enum mrf_status hqstore_clock_save(struct hqstore *s, uint64_t clock)
{
    sqlite3_stmt *st = stmt_get(s, HQS_CLOCK_SAVE);

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)clock);
    return hqs_step_once(st) == SQLITE_DONE ? MRF_OK : hqs_fail(s, "saving HQ's clock");
}

enum mrf_status hqstore_grant_list(struct hqstore *s, const char *post, int year,
                                   hqstore_grant_fn fn, void *arg)
{
    enum mrf_status rc = MRF_OK;
    sqlite3_stmt *st = stmt_get(s, post != NULL ? HQS_GRANT_LIST_POST : HQS_GRANT_LIST);
    struct hq_grant g;
    int r;

    if (st == NULL)
        return MRF_E_IO;
    if (post != NULL)
        sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, year);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&g, 0, sizeof g);
        hqs_column_text(st, 0, g.post, sizeof g.post);
        hqs_column_text(st, 1, g.code, sizeof g.code);
        hqs_column_text(st, 2, g.theme, sizeof g.theme);
        g.year = sqlite3_column_int(st, 3);
        g.amount_cents = sqlite3_column_int64(st, 4);
        hqs_column_text(st, 5, g.currency, sizeof g.currency);
        hqs_column_text(st, 6, g.status, sizeof g.status);
        g.removed = sqlite3_column_int(st, 7) != 0;
        rc = fn(arg, &g);
        if (rc != MRF_OK)
            goto out;
    }
    if (r != SQLITE_DONE)
        rc = hqs_fail(s, "listing grants");
out:
    sqlite3_reset(st);
    return rc;
}

/* The HQ store on embedded SQLite: the only file of mrf-hq that holds SQL. Every statement
 * lives in stmt_sql[] beside its enum, is prepared on first use, reset when fetched and
 * finalized on close (as SQLite's FTS5 storage does). The schema itself comes from
 * schema/hq/NNN_*.sql through schema_open(). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "hq.h"
#include "hqstore.h"
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
    HQS_COUNT
};

#define POST_COLUMNS                                                                               \
    "SELECT p.code, p.kind, p.country IS NOT NULL,"                                                \
    " (SELECT count(*) FROM devices d WHERE d.post = p.code AND d.status = 'active'),"             \
    " p.created_at FROM posts p"

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
    [HQS_ENROLL_GET] = "SELECT post, secret_hash, expires, created_at, coalesce(used_at, 0)"
                       " FROM enrollments WHERE token_id = ?1",
};

struct hqstore {
    sqlite3 *db;
    sqlite3_stmt *stmt[HQS_COUNT]; /* NULL until first used */
    int in_tx;                     /* a hqstore_begin is open */
    struct mrf_error err;
};

/* Sets the handle's error from SQLite's last message. */
static enum mrf_status db_fail(struct hqstore *s, const char *what)
{
    return mrf_error_set(&s->err, MRF_E_IO, "HQ store: %s: %s", what, sqlite3_errmsg(s->db));
}

/* The statement i, prepared if needed, reset and with bindings cleared. NULL on failure
 * (message on s). */
static sqlite3_stmt *stmt_get(struct hqstore *s, enum hq_stmt i)
{
    if (s->stmt[i] == NULL) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                               NULL) != SQLITE_OK) {
            db_fail(s, "prepare");
            return NULL;
        }
    } else {
        sqlite3_reset(s->stmt[i]);
        sqlite3_clear_bindings(s->stmt[i]);
    }
    return s->stmt[i];
}

/* Copies a blob column of exactly n bytes; 0 if its size differs. */
static int column_blob(sqlite3_stmt *st, int col, uint8_t *out, size_t n)
{
    const void *p = sqlite3_column_blob(st, col);

    if (p == NULL || (size_t)sqlite3_column_bytes(st, col) != n)
        return 0;
    memcpy(out, p, n);
    return 1;
}

static void column_text(sqlite3_stmt *st, int col, char *out, size_t n)
{
    const unsigned char *p = sqlite3_column_text(st, col);

    str_copy(out, p ? (const char *)p : "", n);
}

/* Steps a statement that returns no rows and resets it. Returns SQLITE_DONE or the extended
 * error code, read before the reset. */
static int step_once(sqlite3_stmt *st)
{
    int r = sqlite3_step(st);

    if (r != SQLITE_DONE && r != SQLITE_ROW)
        r = sqlite3_extended_errcode(sqlite3_db_handle(st));
    sqlite3_reset(st);
    return r;
}

enum mrf_status hqstore_open(const char *home, enum hqstore_mode mode, struct hqstore **out,
                             struct mrf_error *err)
{
    enum mrf_status rc = MRF_OK;
    struct hqstore *s = NULL;
    char *path = NULL;
    struct stat sb;

    *out = NULL;
    path = hq_path(home, HQ_DB_FILE);
    if (mode == HQSTORE_EXISTING && stat(path, &sb) != 0) {
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
    rc = schema_open(path, SCHEMA_HQ, &s->db, err);
    if (rc != MRF_OK)
        goto out;
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
    r = step_once(st);
    if (r != SQLITE_DONE)
        return db_fail(s, what);
    return MRF_OK;
}

enum mrf_status hqstore_begin(struct hqstore *s)
{
    enum mrf_status rc = exec_simple(s, HQS_BEGIN, "begin");

    if (rc == MRF_OK)
        s->in_tx = 1;
    return rc;
}

enum mrf_status hqstore_commit(struct hqstore *s)
{
    enum mrf_status rc = exec_simple(s, HQS_COMMIT, "commit");

    if (rc == MRF_OK)
        s->in_tx = 0;
    return rc;
}

void hqstore_rollback(struct hqstore *s)
{
    if (!s->in_tx && sqlite3_get_autocommit(s->db))
        return;
    (void)exec_simple(s, HQS_ROLLBACK, "rollback");
    s->in_tx = 0;
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
    r = step_once(st);
    if (r == SQLITE_CONSTRAINT_PRIMARYKEY)
        return mrf_error_set(&s->err, MRF_E_STATE, "HQ store: HQ is already configured");
    if (r != SQLITE_DONE)
        return db_fail(s, "writing the configuration");
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
        rc = db_fail(s, "reading the configuration");
        goto out;
    }
    column_text(st, 0, c->url, sizeof c->url);
    column_text(st, 1, c->tls_pin, sizeof c->tls_pin);
    if (!column_blob(st, 2, c->hq.sign_pk, sizeof c->hq.sign_pk) ||
        !column_blob(st, 3, c->hq.box_pk, sizeof c->hq.box_pk) ||
        !column_blob(st, 4, c->escrow_pk, sizeof c->escrow_pk) ||
        !column_blob(st, 7, c->device_id, sizeof c->device_id)) {
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
    r = step_once(st);
    if ((r & 0xff) == SQLITE_CONSTRAINT) {
        if (r == SQLITE_CONSTRAINT_PRIMARYKEY || r == SQLITE_CONSTRAINT_UNIQUE)
            return mrf_error_set(&s->err, MRF_E_RULE,
                                 "post %s exists already; see mrf-hq post list", code);
        return mrf_error_set(&s->err, MRF_E_INVALID,
                             "post %s: kind must be bilateral or multilateral", code);
    }
    if (r != SQLITE_DONE)
        return db_fail(s, "adding a post");
    return MRF_OK;
}

/* Reads the row st is on into *p. */
static void post_row(sqlite3_stmt *st, struct hq_post *p)
{
    memset(p, 0, sizeof *p);
    column_text(st, 0, p->code, sizeof p->code);
    column_text(st, 1, p->kind, sizeof p->kind);
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
        rc = db_fail(s, "reading a post");
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
        rc = db_fail(s, "listing posts");
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
    r = step_once(st);
    if (r == SQLITE_CONSTRAINT_FOREIGNKEY)
        return mrf_error_set(&s->err, MRF_E_NOTFOUND, "no post %s", e->post);
    if (r != SQLITE_DONE)
        return db_fail(s, "storing the enrollment");
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
        rc = db_fail(s, "reading an enrollment");
        goto out;
    }
    memcpy(e->token_id, token_id, MRF_ID);
    column_text(st, 0, e->post, sizeof e->post);
    if (!column_blob(st, 1, e->secret_hash, sizeof e->secret_hash)) {
        rc = mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: an enrollment is damaged");
        goto out;
    }
    e->expires = sqlite3_column_int64(st, 2);
    e->created_at = sqlite3_column_int64(st, 3);
    e->used_at = sqlite3_column_int64(st, 4);
out:
    sqlite3_reset(st);
    if (rc != MRF_OK)
        memset(e, 0, sizeof *e);
    return rc;
}

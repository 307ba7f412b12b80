/* What the Check suites of HQ's ingest, audit and conflict queue share: a real HQ store in a
 * private temporary directory with HQ's configuration, keys and the posts NAI and GVA, and
 * devices with enrollment tokens of their own, as mrf-hq init, post add and enroll would make
 * them. Header-only, for tests alone (include after testutil.h). */
#ifndef MRF_HQTEST_H
#define MRF_HQTEST_H

#include <string.h>
#include <time.h>

#include "hq.h"
#include "hqstore.h"
#include "hqstore_db.h" /* the store's SQLite handle: its statements' plans */
#include "mrfcrypto.h"
#include "mrfsync.h"

/* A device of a post, enrolled by its first change set (enroll), with what it has pulled
 * (cursor) and its last clock. */
struct hqtest_device {
    struct mrf_secrets *keys;
    uint8_t id[MRF_ID];
    char post[16];
    uint8_t token_id[MRF_ID];
    uint8_t secret[MRF_SECRET];
    int enroll;     /* its next change set is its first: send ENV_F_ENROLL and the secret */
    int64_t cursor; /* sent in the request: what it had pulled */
    hlc_t clock;    /* last clock written */
    /* of its request bodies: 2 (the per-op form these suites write with op_to_json), or 1 for a
     * device of the first release; version 3 bodies are written with changeset_writer_put */
    int version;
};

/* Writes (t, id, col) = v of post, by device at clock, through the store's merge and oplog
 * (hqstore_apply_prior, told the row's number known, 0 if none), which must apply it; OUT:
 * *prior what the column held. */
static inline void hqtest_put_known(struct hqstore *store, const char *post, enum sync_table t,
                                    const uint8_t id[MRF_ID], int col, struct sync_value v,
                                    hlc_t clock, const uint8_t device[MRF_ID], int64_t known,
                                    struct merge_prior *prior)
{
    struct sync_op op;
    int applied = 0;

    memset(&op, 0, sizeof op);
    op.tbl = t;
    memcpy(op.id, id, MRF_ID);
    op.col = col;
    op.v = v;
    op.clock = clock;
    memcpy(op.device, device, MRF_ID);
    ck_assert_msg(hqstore_apply_prior(store, post, &op, known, &applied, prior) == MRF_OK, "%s",
                  hqstore_errmsg(store));
    ck_assert_int_eq(applied, 1);
}

/* The same, as hqstore_apply writes it (no row number known). */
static inline void hqtest_put(struct hqstore *store, const char *post, enum sync_table t,
                              const uint8_t id[MRF_ID], int col, struct sync_value v, hlc_t clock,
                              const uint8_t device[MRF_ID])
{
    struct merge_prior prior;

    hqtest_put_known(store, post, t, id, col, v, clock, device, 0, &prior);
}

/* Makes /tmp/mrf-<name>-XXXXXX into home (64 bytes) with an initialised HQ store, open in
 * *store, HQ's identity in *ident, and the posts NAI and GVA; dbpath (128 bytes) gets the
 * store's file. */
static inline void hqtest_setup(const char *name, char home[64], char dbpath[128],
                                struct hqstore **store, struct hq_identity *ident)
{
    struct mrf_error err = {0};
    struct hq_config c;

    testutil_tmpdir(home, 64, name);
    snprintf(dbpath, 128, "%s/%s", home, HQ_DB_FILE);
    ck_assert_msg(hqstore_open(home, HQSTORE_CREATE, store, &err) == MRF_OK, "%s", err.msg);
    mrf_secrets_new(&ident->keys);
    memset(&c, 0, sizeof c);
    str_copy(c.url, "https://hq.example.org:8443", sizeof c.url);
    str_copy(c.tls_pin, "sha256//AAAA", sizeof c.tls_pin);
    c.hq = ident->keys->pub;
    mrf_random(c.escrow_pk, sizeof c.escrow_pk);
    mrf_random(c.device_id, sizeof c.device_id);
    c.created_at = (int64_t)time(NULL);
    ck_assert_int_eq(hqstore_config_init(*store, &c), MRF_OK);
    ck_assert_int_eq(hqstore_config_get(*store, &ident->cfg), MRF_OK);
    ck_assert_int_eq(hqstore_post_add(*store, "NAI", "bilateral", NULL, 0, 1), MRF_OK);
    ck_assert_int_eq(hqstore_post_add(*store, "GVA", "multilateral", NULL, 0, 1), MRF_OK);
}

/* Every statement a test made HQ prepare (on db, its store's handle) reads its tables
 * through an index: no SCAN but of the small tables (a row per post, device, writer, key
 * epoch...), and no walk of a post's whole oplog through its key's first column, except the
 * reads that are walks by design, each named here with why. SQLite, with no statistics,
 * chose such walks for four statements of ingest (docs/DECISIONS.md, "A theme's history
 * through its own index"); hqtest_teardown checks every test's statements. */
static inline void hqtest_assert_plans(sqlite3 *db)
{
    static const char
        *const small[] = {"devices",     "posts",          "writers",  "config",
                          "officer",     "officer_tokens", "postkeys", "enrollments",
                          "wipe_orders", "audit", /* its last link: ORDER BY its key, LIMIT 1 */
                          "CONSTANT"};
    static const char *const walks[] = {
        /* the post's last run: one step from the end of oplog_runs_post */
        "FROM oplog_runs WHERE post = ?1 ORDER BY pseq DESC",
        /* a version-1 cursor: from the post's last run back to it, what its pull reads anyway */
        "FROM oplog_runs WHERE post = ?1 AND seq <= ?2",
        /* audit verify: every row of each domain table */
        "FROM themes ORDER BY post, id",
        "FROM partners ORDER BY post, id",
        "FROM grants ORDER BY post, id",
        "FROM allocations ORDER BY post, id",
        "FROM clocks ORDER BY post, id, tbl, col", /* and every clock */
        /* the operator's list of records, every post's or one's: its rows are the work */
        "FROM conflicts WHERE (?1 IS NULL OR post = ?1) AND (?2 OR closed_at IS NULL)",
        /* the open records of every post, counted through their index */
        "FROM conflicts INDEXED BY conflicts_open WHERE closed_at IS NULL",
    };

    for (sqlite3_stmt *q = sqlite3_next_stmt(db, NULL); q != NULL; q = sqlite3_next_stmt(db, q)) {
        const char *text = sqlite3_sql(q);
        sqlite3_stmt *plan = NULL;
        char *sql;
        int walk = 0;

        if (text == NULL || strncmp(text, "EXPLAIN", 7) == 0)
            continue;
        for (size_t w = 0; w < sizeof walks / sizeof walks[0]; w++)
            walk |= strstr(text, walks[w]) != NULL;
        sql = xasprintf("EXPLAIN QUERY PLAN %s", text);
        if (sqlite3_prepare_v2(db, sql, -1, &plan, NULL) != SQLITE_OK) {
            x_free(sql); /* a statement of several (a script): not one of the store's */
            continue;
        }
        while (!walk && sqlite3_step(plan) == SQLITE_ROW) {
            const char *d = (const char *)sqlite3_column_text(plan, 3);
            int ok = strncmp(d, "SCAN ", 5) != 0 || strstr(d, " CONSTANT ROWS") != NULL;
            for (size_t k = 0; !ok && k < sizeof small / sizeof small[0]; k++) {
                size_t n = strlen(small[k]);
                ok = strncmp(d + 5, small[k], n) == 0 && (d[5 + n] == ' ' || d[5 + n] == '\0');
            }
            ck_assert_msg(ok, "%s: %s", text, d);
            ck_assert_msg(strstr(d, "oplog_runs_post (post=?)") == NULL, "%s: %s", text, d);
            /* a row named by its number is found by it, not by its (post, id) key */
            ck_assert_msg(strstr(text, "WHERE rn = ?") == NULL || strncmp(d, "SEARCH ", 7) != 0 ||
                              strstr(d, "INTEGER PRIMARY KEY (rowid=?)") != NULL,
                          "%s: %s", text, d);
        }
        sqlite3_finalize(plan);
        x_free(sql);
    }
}

static inline void hqtest_teardown(const char *home, struct hqstore **store,
                                   struct hq_identity *ident)
{
    if (*store != NULL)
        hqtest_assert_plans((*store)->db);
    hqstore_close(*store);
    *store = NULL;
    mrf_secrets_free(ident->keys);
    ident->keys = NULL;
    testutil_rmtree(home);
}

/* Stores an enrollment for post expiring at expires; OUT: its token id and secret. */
static inline void hqtest_enrollment(struct hqstore *s, const char *post, int64_t expires,
                                     uint8_t token_id[MRF_ID], uint8_t secret[MRF_SECRET])
{
    struct hq_enrollment e;

    memset(&e, 0, sizeof e);
    mrf_random(token_id, MRF_ID);
    mrf_random(secret, MRF_SECRET);
    memcpy(e.token_id, token_id, MRF_ID);
    str_copy(e.post, post, sizeof e.post);
    mrf_hash(e.secret_hash, sizeof e.secret_hash, secret, MRF_SECRET, NULL, 0);
    e.expires = expires;
    e.created_at = (int64_t)time(NULL);
    ck_assert_int_eq(hqstore_enrollment_add(s, &e), MRF_OK);
}

/* A new device of post with a fresh token valid for a day; free with hqtest_device_free. */
static inline void hqtest_device_new(struct hqstore *s, struct hqtest_device *d, const char *post)
{
    memset(d, 0, sizeof *d);
    mrf_secrets_new(&d->keys);
    mrf_random(d->id, MRF_ID);
    str_copy(d->post, post, sizeof d->post);
    hqtest_enrollment(s, post, (int64_t)time(NULL) + 86400, d->token_id, d->secret);
    d->enroll = 1;
    d->clock = hlc_make(time_now_ms(), 0);
    d->version = 2;
}

static inline void hqtest_device_free(struct hqtest_device *d)
{
    mrf_secrets_free(d->keys);
    d->keys = NULL;
}

#endif

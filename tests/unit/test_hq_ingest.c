/* Check suite for HQ's ingest of change sets (hq/ingest.c), in process, on a real HQ home in a
 * temporary directory set up piece by piece as `mrf-hq init`, `post add` and `enroll` would.
 * Devices are key pairs with an id and (for their first change set) a token; their request
 * envelopes are sealed here around ops written by op_to_json. Every check reads the outcome
 * (HTTP status and reason), opens the sealed response where there is one, and counts rows of
 * the HQ store through a separate read-only connection to prove what was, or was not,
 * applied. One test case per behaviour. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "testutil.h"
#include "hqtest.h"
#include "common.h"
#include "hq.h"
#include "hqstore.h"
#include "hqstore_db.h" /* disk_full_answers_503: the handle's SQLite connection */
#include "ingest_steps.h"
#include "mrfcrypto.h"
#include "mrfsync.h"

static char home[64], dbpath[128];
static struct hqstore *store;
static struct hq_identity ident;

static void setup(void)
{
    hqtest_setup("ingest", home, dbpath, &store, &ident);
}

static void teardown(void)
{
    hqtest_teardown(home, &store, &ident);
}

/* ---- devices and their requests ---------------------------------------------------------- */

/* Stores an enrollment for post expiring at expires; OUT: its token id and secret. */
static void enrollment_new(const char *post, int64_t expires, uint8_t token_id[MRF_ID],
                           uint8_t secret[MRF_SECRET])
{
    hqtest_enrollment(store, post, expires, token_id, secret);
}

/* A new device of post with a fresh token valid for a day. */
static void device_new(struct hqtest_device *d, const char *post)
{
    hqtest_device_new(store, d, post);
}

static void device_free(struct hqtest_device *d)
{
    hqtest_device_free(d);
}

/* Appends one op of d (request form) with the given clock to ops, comma-separated. */
static void add_op_at(struct hqtest_device *d, struct buf *ops, enum sync_table t,
                      const uint8_t id[MRF_ID], int col, const struct sync_value *v, hlc_t clock)
{
    struct sync_op op;

    memset(&op, 0, sizeof op);
    op.tbl = t;
    memcpy(op.id, id, MRF_ID);
    op.col = col;
    op.v = *v;
    op.clock = clock;
    memcpy(op.device, d->id, MRF_ID);
    if (ops->len > 0)
        ck_assert_int_eq(buf_puts(ops, ","), MRF_OK);
    ck_assert_int_eq(op_to_json(&op, 0, ops), MRF_OK);
}

/* The same, at d's next clock. */
static void add_op(struct hqtest_device *d, struct buf *ops, enum sync_table t,
                   const uint8_t id[MRF_ID], int col, const struct sync_value *v)
{
    add_op_at(d, ops, t, id, col, v, ++d->clock);
}

static void add_int(struct hqtest_device *d, struct buf *ops, enum sync_table t, const uint8_t *id,
                    int col, int64_t i)
{
    struct sync_value v = {.type = SYNC_INT, .i = i};
    add_op(d, ops, t, id, col, &v);
}

static void add_text(struct hqtest_device *d, struct buf *ops, enum sync_table t, const uint8_t *id,
                     int col, const char *s)
{
    struct sync_value v = {.type = SYNC_TEXT, .text = s};
    add_op(d, ops, t, id, col, &v);
}

/* The six ops of a new grant (columns as in sync/tables.c). */
static void grant_ops(struct hqtest_device *d, struct buf *ops, const uint8_t gid[MRF_ID],
                      const char *theme, const char *status, int64_t amount)
{
    uint8_t partner[MRF_ID];
    struct sync_value v = {.type = SYNC_BLOB, .blob = partner, .n = MRF_ID};

    mrf_random(partner, sizeof partner);
    add_op(d, ops, ST_GRANTS, gid, 0, &v);
    add_text(d, ops, ST_GRANTS, gid, 1, theme);
    add_int(d, ops, ST_GRANTS, gid, 2, 2026);
    add_int(d, ops, ST_GRANTS, gid, 3, amount);
    add_text(d, ops, ST_GRANTS, gid, 4, "EUR");
    add_text(d, ops, ST_GRANTS, gid, 5, status);
}

/* Seals a request of d claiming post around ops (JSON list items); OUT: cs, the change set
 * id; env (initialised here, cap ENV_MAX). */
static void seal_request(const struct hqtest_device *d, const char *post, const char *ops,
                         uint8_t cs[MRF_ID], struct buf *env)
{
    struct envelope h;
    struct buf json;
    struct mrf_error err = {0};
    char *sec = b64url_encode(d->secret, MRF_SECRET);

    memset(&h, 0, sizeof h);
    h.kind = ENV_REQUEST;
    memcpy(h.sender, d->id, MRF_ID);
    mrf_random(cs, MRF_ID);
    memcpy(h.changeset, cs, MRF_ID);
    str_copy(h.post, post, sizeof h.post);
    if (d->enroll) {
        h.flags = ENV_F_ENROLL;
        memcpy(h.token_id, d->token_id, MRF_ID);
        h.keys = d->keys->pub;
    }
    buf_init(&json, WIRE_JSON_MAX);
    if (d->enroll)
        ck_assert_int_eq(buf_printf(&json,
                                    "{\"v\":%d,\"cursor\":%lld,\"enroll\":{\"secret\":\"%s\"},"
                                    "\"ops\":[",
                                    d->version, (long long)d->cursor, sec),
                         MRF_OK);
    else
        ck_assert_int_eq(buf_printf(&json, "{\"v\":%d,\"cursor\":%lld,\"ops\":[", d->version,
                                    (long long)d->cursor),
                         MRF_OK);
    ck_assert_int_eq(buf_puts(&json, ops), MRF_OK);
    ck_assert_int_eq(buf_puts(&json, "]}"), MRF_OK);
    buf_init(env, ENV_MAX);
    ck_assert_msg(envelope_seal(&h, json.data, json.len, d->keys, ident.cfg.hq.box_pk, env, &err) ==
                      MRF_OK,
                  "%s", err.msg);
    x_free(sec);
    buf_release(&json);
}

/* Hands body to hq_ingest on the fixture's store; r is initialised here. */
static unsigned ingest_on(struct hqstore *s, const void *body, size_t len, struct ingest_result *r)
{
    ingest_result_init(r);
    ck_assert_int_eq(hq_ingest(s, &ident, body, len, r), MRF_OK);
    return r->http_status;
}

static unsigned ingest(const struct buf *env, struct ingest_result *r)
{
    return ingest_on(store, env->data, env->len, r);
}

/* Opens r's sealed response as d; checks kind, sender, change set and ack id. Returns the
 * parsed JSON (cJSON_Delete). */
static cJSON *open_response(const struct hqtest_device *d, const struct ingest_result *r,
                            const uint8_t cs[MRF_ID])
{
    struct envelope h;
    struct mrf_error err = {0};
    char *json = NULL, *hx = hex_encode(cs, MRF_ID);
    size_t len = 0;
    cJSON *doc;
    const cJSON *ack;

    ck_assert_msg(envelope_parse((const uint8_t *)r->response.data, r->response.len, &h, &err) ==
                      MRF_OK,
                  "%s", err.msg);
    ck_assert_int_eq(h.kind, ENV_RESPONSE);
    ck_assert_uint_eq(h.flags, 0);
    ck_assert_mem_eq(h.sender, ident.cfg.device_id, MRF_ID);
    ck_assert_mem_eq(h.changeset, cs, MRF_ID);
    ck_assert_str_eq(h.post, d->post);
    ck_assert_msg(envelope_open(&h, ident.cfg.hq.sign_pk, ident.cfg.hq.box_pk, d->keys->box_sk,
                                &json, &len, &err) == MRF_OK,
                  "%s", err.msg);
    doc = cJSON_ParseWithLength(json, len);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(doc, "v")->valueint, d->version);
    ack = cJSON_GetObjectItemCaseSensitive(doc, "ack");
    ck_assert(cJSON_IsObject(ack));
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(ack, "id")->valuestring, hx);
    ck_assert(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "ops")));
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(doc, "cursor")));
    ck_assert(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(doc, "more")));
    x_free(json);
    x_free(hx);
    return doc;
}

static const char *ack_str(const cJSON *doc, const char *key)
{
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "ack"), key);
    return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static int64_t resp_cursor(const cJSON *doc)
{
    return (int64_t)cJSON_GetObjectItemCaseSensitive(doc, "cursor")->valuedouble;
}

static int resp_more(const cJSON *doc)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "more"));
}

/* ---- what the store holds, read through its own read-only connection --------------------- */

static int64_t count(const char *sql)
{
    sqlite3 *ro = NULL;
    sqlite3_stmt *s = NULL;
    int64_t v = -1;

    ck_assert_int_eq(sqlite3_open_v2(dbpath, &ro, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_msg(sqlite3_prepare_v2(ro, sql, -1, &s, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(ro));
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close_v2(ro);
    return v;
}

struct counts {
    int64_t grants, partners, oplog, received, audit, devices, used, clocks;
};

static struct counts snap(void)
{
    struct counts c;

    c.grants = count("SELECT count(*) FROM grants");
    c.partners = count("SELECT count(*) FROM partners");
    c.oplog = count("SELECT count(*) FROM oplog");
    c.received = count("SELECT count(*) FROM received");
    c.audit = count("SELECT count(*) FROM audit");
    c.devices = count("SELECT count(*) FROM devices");
    c.used = count("SELECT count(*) FROM enrollments WHERE used_at IS NOT NULL");
    c.clocks = count("SELECT count(*) FROM clocks");
    return c;
}

#define ck_assert_counts_eq(a, b)                                                                  \
    do {                                                                                           \
        struct counts a_ = (a), b_ = (b);                                                          \
        ck_assert_int_eq(a_.grants, b_.grants);                                                    \
        ck_assert_int_eq(a_.partners, b_.partners);                                                \
        ck_assert_int_eq(a_.oplog, b_.oplog);                                                      \
        ck_assert_int_eq(a_.received, b_.received);                                                \
        ck_assert_int_eq(a_.audit, b_.audit);                                                      \
        ck_assert_int_eq(a_.devices, b_.devices);                                                  \
        ck_assert_int_eq(a_.used, b_.used);                                                        \
        ck_assert_int_eq(a_.clocks, b_.clocks);                                                    \
    } while (0)

/* Enrolls d with one new grant; asserts 200 accepted. OUT: gid (may be NULL). */
static void enroll_with_grant(struct hqtest_device *d, uint8_t gid_out[MRF_ID])
{
    struct buf ops, env;
    struct ingest_result r;
    uint8_t cs[MRF_ID], gid[MRF_ID];

    mrf_random(gid, sizeof gid);
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(d, &ops, gid, "FOE", "draft", 1250000);
    seal_request(d, d->post, ops.data, cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    ck_assert_str_eq(r.reason, "accepted");
    d->enroll = 0;
    if (gid_out != NULL)
        memcpy(gid_out, gid, MRF_ID);
    ingest_result_release(&r);
    buf_release(&env);
    buf_release(&ops);
}

/* Asserts a refusal: status, reason, the reason as the body, and nothing changed. */
static void expect_refusal(const struct buf *env, unsigned status, const char *reason)
{
    struct counts before = snap();
    struct ingest_result r;
    char *body = xasprintf("%s\n", reason);

    ck_assert_uint_eq(ingest(env, &r), status);
    ck_assert_str_eq(r.reason, reason);
    ck_assert_str_eq(r.response.data, body);
    ck_assert_counts_eq(snap(), before);
    x_free(body);
    ingest_result_release(&r);
}

/* d sends one new grant claiming post: HQ must refuse it with status and reason, applying
 * nothing. */
static void expect_grant_refused(struct hqtest_device *d, const char *post, unsigned status,
                                 const char *reason)
{
    struct buf ops, env;
    uint8_t cs[MRF_ID], gid[MRF_ID];

    mrf_random(gid, sizeof gid);
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(d, &ops, gid, "FOE", "draft", 100);
    seal_request(d, post, ops.data, cs, &env);
    expect_refusal(&env, status, reason);
    buf_release(&env);
    buf_release(&ops);
}

/* ---- accepted change sets ---------------------------------------------------------------- */

static enum mrf_status find_device(void *arg, const struct hq_device *d)
{
    const struct hqtest_device *want = arg;

    if (memcmp(d->id, want->id, MRF_ID) == 0 && strcmp(d->post, want->post) == 0 &&
        memcmp(&d->keys, &want->keys->pub, sizeof d->keys) == 0 && !d->revoked)
        return MRF_E_STATE; /* found: stop */
    return MRF_OK;
}

START_TEST(first_changeset_enrolls_and_applies)
{
    struct hqtest_device d;
    struct buf ops, env;
    struct ingest_result r;
    struct hq_enrollment e;
    struct hq_received rec;
    uint8_t cs[MRF_ID], gid[MRF_ID];
    cJSON *doc;

    device_new(&d, "NAI");
    mrf_random(gid, sizeof gid);
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(&d, &ops, gid, "FOE", "draft", 1250000);
    seal_request(&d, "NAI", ops.data, cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    ck_assert_str_eq(r.reason, "accepted");
    ck_assert_str_eq(r.post, "NAI");
    ck_assert_int_eq(r.ops_in, 6);
    ck_assert_int_eq(r.ops_applied, 6);
    ck_assert_int_eq(r.ops_out, 0);

    ck_assert_int_eq(hqstore_device_list(store, find_device, &d), MRF_E_STATE);
    ck_assert_int_eq(hqstore_enrollment_get(store, d.token_id, &e), MRF_OK);
    ck_assert_int_ne(e.used_at, 0);
    ck_assert_int_eq(count("SELECT count(*) FROM grants WHERE post = 'NAI' AND theme = 'FOE' AND "
                           "year = 2026 AND amount_cents = 1250000 AND currency = 'EUR' AND "
                           "status = 'draft' AND code LIKE 'G-%'"),
                     1);
    ck_assert_int_eq(count("SELECT count(*) FROM oplog WHERE post = 'NAI'"), 6);
    ck_assert_int_eq(count("SELECT count(*) FROM audit"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM received"), 1);
    ck_assert_int_eq(hqstore_received_get(store, cs, &rec), MRF_OK);
    ck_assert_str_eq(rec.verdict, "accepted");
    ck_assert_mem_eq(rec.device, d.id, MRF_ID);

    doc = open_response(&d, &r, cs);
    ck_assert_str_eq(ack_str(doc, "verdict"), "accepted");
    /* its own ops are never echoed, but the cursor passes them */
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "ops")), 0);
    ck_assert_int_eq(resp_cursor(doc), count("SELECT max(seq) FROM oplog"));
    ck_assert(!resp_more(doc));
    cJSON_Delete(doc);
    ingest_result_release(&r);
    buf_release(&env);
    buf_release(&ops);
    device_free(&d);
}
END_TEST

START_TEST(replay_applies_nothing_and_repeats_ack)
{
    struct hqtest_device d;
    struct buf ops, env;
    struct ingest_result r;
    struct counts before;
    uint8_t cs[MRF_ID], gid[MRF_ID];
    cJSON *doc;

    device_new(&d, "NAI");
    mrf_random(gid, sizeof gid);
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(&d, &ops, gid, "FOE", "draft", 1250000);
    seal_request(&d, "NAI", ops.data, cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    ingest_result_release(&r);
    before = snap();

    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(ingest(&env, &r), 200);
        ck_assert_str_eq(r.reason, "replay");
        ck_assert_int_eq(r.ops_applied, 0);
        ck_assert_counts_eq(snap(), before);
        doc = open_response(&d, &r, cs);
        ck_assert_str_eq(ack_str(doc, "verdict"), "accepted");
        cJSON_Delete(doc);
        ingest_result_release(&r);
    }
    buf_release(&env);
    buf_release(&ops);
    device_free(&d);
}
END_TEST

/* A fresh device's pull pages through its post's oplog; each page must cost what the page
 * holds, not what the device has still to pull. HQ once looked up every row written since
 * the device's cursor for every change set, one without ops included: each page of a fresh
 * device's pull read the post's whole oplog past its cursor, so a pull grew with the square of
 * the oplog (bench/hqscale.sh: 4.3x per op at 100k ops). Counted in SQLite VM instructions
 * (a progress handler on HQ's handle), which the machine's load does not move: the first page
 * of a pull, as full at 15,000 ops in the oplog as at 3,000, costs about the same. */
static int count_ticks(void *arg)
{
    ++*(long *)arg;
    return 0;
}

/* d records `grants` new grants in one change set; their ids into ids[] if not NULL. */
static void load_grants_ids(struct hqtest_device *d, int grants, uint8_t (*ids)[MRF_ID])
{
    struct buf ops, env;
    struct ingest_result r;
    uint8_t cs[MRF_ID], gid[MRF_ID];

    buf_init(&ops, WIRE_JSON_MAX);
    for (int i = 0; i < grants; i++) {
        mrf_random(gid, sizeof gid);
        if (ids != NULL)
            memcpy(ids[i], gid, MRF_ID);
        grant_ops(d, &ops, gid, "HRD", "draft", 100000 + i);
    }
    seal_request(d, d->post, ops.data, cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    ck_assert_str_eq(r.reason, "accepted");
    ingest_result_release(&r);
    buf_release(&env);
    buf_release(&ops);
}

static void load_grants(struct hqtest_device *d, int grants)
{
    load_grants_ids(d, grants, NULL);
}

/* The VM instructions (in hundreds) of a fresh device's first change set: its first page. */
static long first_page_ticks(void)
{
    struct hqtest_device b;
    struct buf env;
    struct ingest_result r;
    uint8_t cs[MRF_ID];
    cJSON *doc;
    long ticks = 0;

    device_new(&b, "NAI");
    seal_request(&b, "NAI", "", cs, &env);
    sqlite3_progress_handler(store->db, 100, count_ticks, &ticks);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    sqlite3_progress_handler(store->db, 0, NULL, NULL);
    doc = open_response(&b, &r, cs);
    ck_assert(resp_more(doc)); /* a full page: the device has more to pull */
    cJSON_Delete(doc);
    ingest_result_release(&r);
    buf_release(&env);
    device_free(&b);
    return ticks;
}

START_TEST(pull_page_costs_its_page_not_the_oplog)
{
    struct hqtest_device a;
    long small, large;

    device_new(&a, "NAI");
    enroll_with_grant(&a, NULL);
    load_grants(&a, 500); /* 3,000 ops: more than a version-2 page */
    small = first_page_ticks();
    load_grants(&a, 1000);
    load_grants(&a, 1000); /* 15,000 ops */
    large = first_page_ticks();
    ck_assert_msg(large * 2 < small * 3, "first page: %ld at 3,000 ops, %ld at 15,000", small,
                  large);
    device_free(&a);
}
END_TEST

/* SQLite's counter `what` (SQLITE_STMTSTATUS_VM_STEP: instructions; _RUN: runs) of the
 * statement of store whose text holds `sql`, since the last call for it (reading resets it). */
static long stmt_count(const char *sql, int what)
{
    for (sqlite3_stmt *q = sqlite3_next_stmt(store->db, NULL); q != NULL;
         q = sqlite3_next_stmt(store->db, q))
        if (sqlite3_sql(q) != NULL && strstr(sqlite3_sql(q), sql) != NULL)
            return sqlite3_stmt_status(q, what, 1);
    ck_abort_msg("no statement holds %s", sql);
    return -1;
}

/* The runs of the statement holding `sql` since the last call for it; 0 if it was never
 * prepared. */
static long stmt_runs(const char *sql)
{
    for (sqlite3_stmt *q = sqlite3_next_stmt(store->db, NULL); q != NULL;
         q = sqlite3_next_stmt(store->db, q))
        if (sqlite3_sql(q) != NULL && strstr(sqlite3_sql(q), sql) != NULL)
            return sqlite3_stmt_status(q, SQLITE_STMTSTATUS_RUN, 1);
    return 0;
}

static long stmt_steps(const char *sql)
{
    return stmt_count(sql, SQLITE_STMTSTATUS_VM_STEP);
}

static long changeset_ticks(struct hqtest_device *d, const char *ops);

/* An edit of a grant HQ holds finds the grant by its (post, id) key once: the check that new
 * rows are whole reads its year and number (the edit lacks the columns a new row needs) and
 * hands them to the conflict checks, which read it twice before (hq_touch_facts), and to the
 * merge, which then reads the column's clock and writes the value by the row's number: each
 * was another descent of the random (post, id) index per op (docs/DECISIONS.md, "One
 * descent of the id index per op"). */
START_TEST(edited_row_read_once)
{
    static const char year[] =
        "SELECT coalesce(year, 0), rn FROM grants WHERE post = ?1 AND id = ?2";
    static const char clock_by_key[] = "SELECT c3, w3, rn FROM grants WHERE post = ?1 AND id = ?3";
    static const char clock_by_rn[] = "SELECT c3, w3, rn FROM grants WHERE rn = ?4";
    struct hqtest_device a;
    uint8_t(*ids)[MRF_ID] = xcalloc(100, MRF_ID);
    struct buf ops;

    device_new(&a, "NAI");
    enroll_with_grant(&a, NULL);
    load_grants_ids(&a, 100, ids);
    buf_init(&ops, WIRE_JSON_MAX);
    for (int i = 0; i < 100; i++)
        add_int(&a, &ops, ST_GRANTS, ids[i], 3, 777000 + i);
    stmt_count(year, SQLITE_STMTSTATUS_RUN);
    stmt_runs(clock_by_key);
    stmt_runs(clock_by_rn);
    a.cursor = count("SELECT max(pseq) FROM oplog WHERE post = 'NAI'");
    changeset_ticks(&a, ops.data);
    ck_assert_int_eq(stmt_count(year, SQLITE_STMTSTATUS_RUN), 100);
    ck_assert_int_eq(stmt_runs(clock_by_key), 0);
    ck_assert_int_eq(stmt_runs(clock_by_rn), 100);
    ck_assert_int_eq(
        count("SELECT count(*) FROM grants WHERE amount_cents BETWEEN 777000 AND 777099"), 100);
    buf_release(&ops);
    x_free(ids);
    device_free(&a);
}
END_TEST

/* A device's answer passes its own ops without reading them: a change set of 3,000 ops makes
 * the answer's scan of the oplog read what others wrote (b's six ops), not those 3,000, which
 * are never echoed; its cursor still passes them. */
START_TEST(answer_passes_own_ops_unread)
{
    static const char scan[] = "r.seq + min(?3 - r.pseq, r.n - 1)";
    struct hqtest_device a, b;
    struct buf ops, env;
    struct ingest_result r;
    uint8_t cs[MRF_ID], gid[MRF_ID];
    cJSON *doc;
    long steps;

    device_new(&a, "NAI");
    device_new(&b, "NAI");
    enroll_with_grant(&a, NULL);
    enroll_with_grant(&b, NULL);
    a.cursor = 6; /* a has its own six ops, not b's */
    buf_init(&ops, WIRE_JSON_MAX);
    for (int i = 0; i < 500; i++) {
        mrf_random(gid, sizeof gid);
        grant_ops(&a, &ops, gid, "FOE", "draft", 100000 + i);
    }
    seal_request(&a, "NAI", ops.data, cs, &env);
    stmt_steps(scan);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    steps = stmt_steps(scan);
    ck_assert_msg(steps < 1000, "the answer's scan ran %ld instructions", steps);
    doc = open_response(&a, &r, cs);
    ck_assert_str_eq(ack_str(doc, "verdict"), "accepted");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "ops")), 6);
    ck_assert_int_eq(resp_cursor(doc), count("SELECT max(pseq) FROM oplog WHERE post = 'NAI'"));
    ck_assert_int_eq(resp_cursor(doc), 3012); /* ("more" follows the grants' 500 rule records) */
    cJSON_Delete(doc);
    ingest_result_release(&r);
    buf_release(&env);
    buf_release(&ops);
    device_free(&a);
    device_free(&b);
}
END_TEST

/* The VM instructions (in hundreds) HQ runs to take d's change set of ops (accepted). */
static long changeset_ticks(struct hqtest_device *d, const char *ops)
{
    struct buf env;
    struct ingest_result r;
    uint8_t cs[MRF_ID];
    long ticks = 0;

    seal_request(d, d->post, ops, cs, &env);
    sqlite3_progress_handler(store->db, 100, count_ticks, &ticks);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    sqlite3_progress_handler(store->db, 0, NULL, NULL);
    ck_assert_str_eq(r.reason, "accepted");
    ingest_result_release(&r);
    buf_release(&env);
    return ticks;
}

/* The same for a change set of d that edits the amounts of the grants ids[0..n), which
 * another device wrote and d has not pulled. */
static long edit_ticks(struct hqtest_device *d, uint8_t (*ids)[MRF_ID], int n)
{
    struct buf ops;
    long ticks;

    buf_init(&ops, WIRE_JSON_MAX);
    for (int i = 0; i < n; i++)
        add_int(d, &ops, ST_GRANTS, ids[i], 3, 777000 + i);
    ticks = changeset_ticks(d, ops.data);
    buf_release(&ops);
    return ticks;
}

static enum mrf_status count_unseen(void *arg, enum sync_table t, const uint8_t id[MRF_ID], int col,
                                    hlc_t clock, const uint8_t device[MRF_ID])
{
    (void)t, (void)id, (void)col, (void)clock, (void)device;
    ++*(long *)arg;
    return MRF_OK;
}

/* The writes a sender had not seen, read within the post's `window` newest: what one change
 * set makes HQ read is bounded whatever cursor its sender claims (here 0, 15,000 ops
 * behind), and read as a range, not found by reading everything. */
START_TEST(unseen_writes_read_within_the_window)
{
    struct hqtest_device a, b;
    long n = 0, all = 0, ticks_window = 0, ticks_all = 0;

    device_new(&a, "NAI");
    device_new(&b, "NAI");
    enroll_with_grant(&a, NULL);
    load_grants(&a, 500);
    load_grants(&a, 1000);
    load_grants(&a, 1000); /* 15,006 ops by a */
    sqlite3_progress_handler(store->db, 100, count_ticks, &ticks_window);
    ck_assert_int_eq(hqstore_writes_since(store, "NAI", 0, 3000, b.id, count_unseen, &n), MRF_OK);
    sqlite3_progress_handler(store->db, 100, count_ticks, &ticks_all);
    ck_assert_int_eq(hqstore_writes_since(store, "NAI", 0, 0, b.id, count_unseen, &all), MRF_OK);
    sqlite3_progress_handler(store->db, 0, NULL, NULL);
    ck_assert_int_eq(n, 3000);
    ck_assert_int_eq(all, count("SELECT count(*) FROM oplog WHERE post = 'NAI'"));
    ck_assert_msg(ticks_window * 3 < ticks_all, "3,000 of 15,006: %ld, all: %ld", ticks_window,
                  ticks_all);
    n = 0; /* a cursor inside the window starts there */
    ck_assert_int_eq(hqstore_writes_since(store, "NAI", all - 10, 3000, b.id, count_unseen, &n),
                     MRF_OK);
    ck_assert_int_eq(n, 10);
    n = 0; /* its own writes are not what it had not seen */
    ck_assert_int_eq(hqstore_writes_since(store, "NAI", 0, 0, a.id, count_unseen, &n), MRF_OK);
    ck_assert_int_eq(n, 0);
    device_free(&a);
    device_free(&b);
}
END_TEST

/* A device that has pulled nothing edits grants another device wrote, 15,000 ops behind: HQ
 * finds what it had not seen in one read of the backlog, not one per row, and the value each
 * edit replaced through the index on clocks. 100 edits cost little more than 20 (a read of the
 * backlog per row: 5x; docs/DECISIONS.md, "What a sender had not seen, read once"), and each
 * edited row gets its records: the concurrent edit, and the other columns written. */
START_TEST(unseen_writes_read_once_per_changeset)
{
    struct hqtest_device a, b;
    uint8_t(*ids)[MRF_ID] = xcalloc(2500, MRF_ID);
    long small, large;

    device_new(&a, "NAI");
    device_new(&b, "NAI");
    enroll_with_grant(&a, NULL);
    enroll_with_grant(&b, NULL); /* b's cursor stays 0: it pulls nothing */
    load_grants_ids(&a, 500, ids);
    load_grants_ids(&a, 1000, ids + 500);
    load_grants_ids(&a, 1000, ids + 1500); /* 15,000 ops b has not seen */
    small = edit_ticks(&b, ids, 20);
    large = edit_ticks(&b, ids + 100, 100);
    ck_assert_msg(large < 2 * small, "behind 15,000 ops: %ld for 20 edits, %ld for 100", small,
                  large);
    ck_assert_int_eq(count("SELECT count(*) FROM conflicts WHERE post = 'NAI' AND rule = "
                           "'other_columns'"),
                     120);
    /* the value each edit replaced, found by its clock: a's amounts were 100000 + i */
    ck_assert_int_eq(count("SELECT count(*) FROM conflicts WHERE post = 'NAI' AND rule = "
                           "'concurrent_edit' AND b_value = '777000' AND a_value IN ('100000', "
                           "'100100')"),
                     2);
    ck_assert_int_eq(count("SELECT count(*) FROM conflicts WHERE post = 'NAI' AND rule = "
                           "'concurrent_edit'"),
                     120);
    x_free(ids);
    device_free(&a);
    device_free(&b);
}
END_TEST

/* The same for a change set of d, at the head of its post's sequence, that chooses (removed 0) or
 * drops (1) theme `theme` for 2027, a year without grants (the fund's rules then have none to
 * check). */
static long theme_ticks(struct hqtest_device *d, const char *theme, int removed)
{
    struct buf ops;
    uint8_t id[MRF_ID];
    long ticks;

    row_id_derive(id, "themes", d->post, 2027, theme);
    buf_init(&ops, WIRE_JSON_MAX);
    add_int(d, &ops, ST_THEMES, id, 0, 2027);
    add_text(d, &ops, ST_THEMES, id, 1, theme);
    add_int(d, &ops, ST_THEMES, id, 2, removed);
    d->cursor = count("SELECT max(pseq) FROM oplog WHERE post = 'NAI'");
    ticks = changeset_ticks(d, ops.data);
    buf_release(&ops);
    return ticks;
}

/* A device that has pulled everything changes its post's themes: HQ reads the themes'
 * history, not the post's whole oplog (docs/DECISIONS.md, "A theme's history through its own
 * index"): about the same cost with 3,000 ops in the oplog as with 15,000 (a scan of the
 * oplog per theme row: 4x). */
START_TEST(theme_change_costs_the_same_whatever_the_oplog)
{
    struct hqtest_device a;
    long small, large;

    device_new(&a, "NAI");
    enroll_with_grant(&a, NULL);
    theme_ticks(&a, "FOE", 0);
    theme_ticks(&a, "WGR", 0);
    load_grants(&a, 500); /* 3,000 ops */
    small = theme_ticks(&a, "WGR", 1);
    load_grants(&a, 1000);
    load_grants(&a, 1000); /* 15,000 */
    large = theme_ticks(&a, "WGR", 0);
    ck_assert_msg(large * 2 < small * 3, "a theme changed: %ld at 3,000 ops, %ld at 15,000", small,
                  large);
    ck_assert_int_eq(count("SELECT count(*) FROM themes WHERE post = 'NAI' AND year = 2027 AND "
                           "removed = 0"),
                     2);
    device_free(&a);
}
END_TEST

START_TEST(second_device_pulls_first_devices_ops)
{
    struct hqtest_device a, b;
    struct buf ops, env;
    struct ingest_result r;
    uint8_t cs[MRF_ID], gid[MRF_ID];
    char *a_hex, *b_hex;
    const cJSON *it;
    cJSON *doc;
    int n = 0;

    device_new(&a, "NAI");
    device_new(&b, "NAI");
    enroll_with_grant(&a, NULL);
    a_hex = hex_encode(a.id, MRF_ID);
    b_hex = hex_encode(b.id, MRF_ID);

    mrf_random(gid, sizeof gid);
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(&b, &ops, gid, "HRD", "committed", 500000);
    seal_request(&b, "NAI", ops.data, cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    ck_assert_str_eq(r.reason, "accepted");
    ck_assert_int_eq(r.ops_out, 6);
    doc = open_response(&b, &r, cs);
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "ops")) {
        struct sync_op op;
        struct mrf_error err = {0};
        ck_assert_msg(op_from_json(it, 1, ident.cfg.device_id, &op, &err) == MRF_OK, "%s", err.msg);
        ck_assert_mem_eq(op.device, a.id, MRF_ID);
        ck_assert_str_eq(cJSON_GetArrayItem(it, 5)->valuestring, a_hex);
        sync_op_release(&op);
        n++;
    }
    ck_assert_int_eq(n, 6);
    ck_assert_int_eq(resp_cursor(doc), 12);
    ck_assert(!resp_more(doc));
    cJSON_Delete(doc);
    ingest_result_release(&r);
    buf_release(&env);

    /* and a then pulls b's ops, not its own */
    buf_reset(&ops);
    seal_request(&a, "NAI", "", cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    doc = open_response(&a, &r, cs);
    n = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "ops")) {
        ck_assert_str_eq(cJSON_GetArrayItem(it, 5)->valuestring, b_hex);
        n++;
    }
    ck_assert_int_eq(n, 6);
    cJSON_Delete(doc);
    ingest_result_release(&r);
    buf_release(&env);
    buf_release(&ops);
    x_free(a_hex);
    x_free(b_hex);
    device_free(&a);
    device_free(&b);
}
END_TEST

#define BIG_BLOB (2 + 8 * 80 + 24 + 256 * 32 + 16) /* the largest sealed field */
#define BIG_SETS 4
#define BIG_OPS 20

/* n random bytes in the frame of a sealed field (sealed_frame_check): HQ cannot tell them from a
 * real one, which is all a test of paging needs. n = 2 + 8 slots of 80 + 24 + k * 32 + 16. */
static void frame_random(uint8_t *blob, size_t n)
{
    mrf_random(blob, n);
    blob[0] = 1;
    blob[1] = 8;
    ck_assert_int_eq(sealed_frame_check(blob, n), MRF_OK);
}

START_TEST(pages_until_everything_pulled_once)
{
    struct hqtest_device a, b;
    struct buf ops, env;
    struct ingest_result r;
    uint8_t cs[MRF_ID], pid[MRF_ID];
    uint8_t *blob = xmalloc(BIG_BLOB);
    struct sync_value v = {.type = SYNC_BLOB, .blob = blob, .n = BIG_BLOB};
    int64_t total, pages = 0, got = 0, first_cursor = -1;
    unsigned char *seen;
    cJSON *doc;

    device_new(&a, "NAI");
    device_new(&b, "NAI");
    enroll_with_grant(&a, NULL);
    enroll_with_grant(&b, NULL);
    b.cursor = 0; /* b has pulled nothing yet: its enrollment response is ignored */
    buf_init(&ops, WIRE_JSON_MAX);
    for (int s = 0; s < BIG_SETS; s++) {
        buf_reset(&ops);
        for (int k = 0; k < BIG_OPS; k++) {
            mrf_random(pid, sizeof pid);
            frame_random(blob, BIG_BLOB);
            add_op(&a, &ops, ST_PARTNERS, pid, 0, &v);
            add_text(&a, &ops, ST_PARTNERS, pid, 7, "high");
        }
        seal_request(&a, "NAI", ops.data, cs, &env);
        ck_assert_uint_eq(ingest(&env, &r), 200);
        ck_assert_int_eq(r.ops_applied, 2 * BIG_OPS);
        ingest_result_release(&r);
        buf_release(&env);
    }
    total = count("SELECT count(*) FROM oplog WHERE device = (SELECT device FROM oplog "
                  "WHERE seq = 1)");
    ck_assert_int_eq(total, 6 + 2 * BIG_SETS * BIG_OPS);
    /* random blobs: their zstd size is theirs, over two pages' worth */
    ck_assert_int_gt(count("SELECT sum(length(value)) FROM oplog"), 2 * CHANGESET_WIRE_TARGET);
    seen = xcalloc((size_t)count("SELECT max(seq) FROM oplog") + 1, 1);

    for (;;) {
        const cJSON *it;
        int64_t cur;

        seal_request(&b, "NAI", "", cs, &env);
        ck_assert_uint_eq(ingest(&env, &r), 200);
        doc = open_response(&b, &r, cs);
        {
            /* b is a version-2 device: its pages are cut at 256 KiB of JSON as before, far
             * below the 1 MiB it decompresses */
            char *txt = cJSON_PrintUnformatted(doc);
            ck_assert_uint_le(strlen(txt), CHANGESET_TARGET_V2 + 64 * 1024);
            x_free(txt);
        }
        cur = resp_cursor(doc);
        ck_assert_int_ge(cur, b.cursor);
        if (pages == 0) {
            first_cursor = cur;
            ck_assert(resp_more(doc));
            ck_assert_int_gt(cur, 0);
        }
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "ops")) {
            struct sync_op op;
            char sql[256];
            char *idh, *clk;
            int64_t seq;

            ck_assert_int_eq(op_from_json(it, 1, ident.cfg.device_id, &op, NULL), MRF_OK);
            ck_assert_mem_eq(op.device, a.id, MRF_ID);
            idh = hex_encode(op.id, MRF_ID);
            clk = xasprintf("%lld", (long long)op.clock);
            snprintf(sql, sizeof sql,
                     "SELECT seq FROM oplog WHERE id = x'%s' AND col = %d AND clock = %s", idh,
                     op.col, clk);
            seq = count(sql);
            ck_assert_int_gt(seq, b.cursor);
            ck_assert_int_le(seq, cur);
            ck_assert_msg(!seen[seq], "op %lld sent twice", (long long)seq);
            seen[seq] = 1;
            got++;
            x_free(idh);
            x_free(clk);
            sync_op_release(&op);
        }
        b.cursor = cur;
        pages++;
        ck_assert_int_lt(pages, 50);
        if (!resp_more(doc)) {
            cJSON_Delete(doc);
            ingest_result_release(&r);
            buf_release(&env);
            break;
        }
        cJSON_Delete(doc);
        ingest_result_release(&r);
        buf_release(&env);
    }
    ck_assert_int_gt(pages, 2);
    ck_assert_int_lt(first_cursor, count("SELECT max(seq) FROM oplog"));
    ck_assert_int_eq(got, total);
    ck_assert_int_eq(b.cursor, count("SELECT max(seq) FROM oplog"));
    x_free(seen);
    x_free(blob);
    buf_release(&ops);
    device_free(&a);
    device_free(&b);
}
END_TEST

/* ---- refusals ---------------------------------------------------------------------------- */

START_TEST(token_used_by_another_device)
{
    struct hqtest_device a, c;
    struct hq_device dv;

    device_new(&a, "NAI");
    enroll_with_grant(&a, NULL);
    device_new(&c, "NAI");
    memcpy(c.token_id, a.token_id, MRF_ID);
    memcpy(c.secret, a.secret, MRF_SECRET);
    expect_grant_refused(&c, "NAI", 403, "token_used");
    ck_assert_int_eq(hqstore_device_get(store, c.id, &dv), MRF_E_NOTFOUND);
    device_free(&a);
    device_free(&c);
}
END_TEST

START_TEST(token_expired)
{
    struct hqtest_device d;

    device_new(&d, "NAI");
    enrollment_new("NAI", (int64_t)time(NULL) - 60, d.token_id, d.secret);
    expect_grant_refused(&d, "NAI", 403, "token_expired");
    device_free(&d);
}
END_TEST

START_TEST(bad_token)
{
    struct hqtest_device d;
    struct buf ops, env;
    uint8_t cs[MRF_ID], gid[MRF_ID];

    device_new(&d, "NAI");
    mrf_random(gid, sizeof gid);
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(&d, &ops, gid, "FOE", "draft", 100);
    /* a wrong secret */
    d.secret[0] ^= 1;
    seal_request(&d, "NAI", ops.data, cs, &env);
    expect_refusal(&env, 403, "bad_token");
    buf_release(&env);
    d.secret[0] ^= 1;
    /* an unknown token id with the right secret */
    d.token_id[0] ^= 1;
    seal_request(&d, "NAI", ops.data, cs, &env);
    expect_refusal(&env, 403, "bad_token");
    buf_release(&env);
    d.token_id[0] ^= 1;
    /* and the token itself still works */
    seal_request(&d, "NAI", ops.data, cs, &env);
    {
        struct ingest_result r;
        ck_assert_uint_eq(ingest(&env, &r), 200);
        ingest_result_release(&r);
    }
    buf_release(&env);
    buf_release(&ops);
    device_free(&d);
}
END_TEST

START_TEST(wrong_post)
{
    struct hqtest_device d, e;

    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    expect_grant_refused(&d, "GVA", 403, "wrong_post");
    /* a new device whose NAI token is used for GVA */
    device_new(&e, "NAI");
    expect_grant_refused(&e, "GVA", 403, "wrong_post");
    device_free(&d);
    device_free(&e);
}
END_TEST

START_TEST(unknown_device)
{
    struct hqtest_device d;

    device_new(&d, "NAI");
    d.enroll = 0;
    expect_grant_refused(&d, "NAI", 401, "unknown_device");
    device_free(&d);
}
END_TEST

START_TEST(device_revoked)
{
    struct hqtest_device d;

    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    ck_assert_int_eq(hqstore_device_revoke(store, d.id, (int64_t)time(NULL)), MRF_OK);
    expect_grant_refused(&d, "NAI", 403, "device_revoked");
    device_free(&d);
}
END_TEST

START_TEST(known_device_with_other_keys_refused)
{
    struct hqtest_device d, impostor;
    struct buf ops, env;
    uint8_t cs[MRF_ID];

    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    device_new(&impostor, "NAI");
    memcpy(impostor.id, d.id, MRF_ID);
    buf_init(&ops, WIRE_JSON_MAX);
    seal_request(&impostor, "NAI", "", cs, &env);
    expect_refusal(&env, 403, "device_exists");
    buf_release(&env);
    buf_release(&ops);
    device_free(&d);
    device_free(&impostor);
}
END_TEST

START_TEST(changeset_id_of_another_device_refused)
{
    struct hqtest_device a, b;
    struct buf env;
    struct envelope h;
    uint8_t cs[MRF_ID];
    struct ingest_result r;
    struct mrf_error err = {0};
    const char *json = "{\"v\":2,\"cursor\":0,\"ops\":[]}";

    device_new(&a, "NAI");
    device_new(&b, "NAI");
    enroll_with_grant(&a, NULL);
    enroll_with_grant(&b, NULL);
    seal_request(&a, "NAI", "", cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    ingest_result_release(&r);
    buf_release(&env);
    /* b reuses a's change set id */
    memset(&h, 0, sizeof h);
    h.kind = ENV_REQUEST;
    memcpy(h.sender, b.id, MRF_ID);
    memcpy(h.changeset, cs, MRF_ID);
    str_copy(h.post, "NAI", sizeof h.post);
    buf_init(&env, ENV_MAX);
    ck_assert_int_eq(envelope_seal(&h, json, strlen(json), b.keys, ident.cfg.hq.box_pk, &env, &err),
                     MRF_OK);
    expect_refusal(&env, 409, "changeset_reused");
    buf_release(&env);
    device_free(&a);
    device_free(&b);
}
END_TEST

START_TEST(tampered_envelope_refused)
{
    struct hqtest_device d;
    struct buf ops, env;
    uint8_t cs[MRF_ID], gid[MRF_ID];
    struct ingest_result r;
    struct counts before;
    uint8_t *p;
    size_t ct_len;

    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    mrf_random(gid, sizeof gid);
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(&d, &ops, gid, "WGR", "draft", 777);
    seal_request(&d, "NAI", ops.data, cs, &env);
    ct_len = env.len - ENV_HEADER - MRF_SIG;
    size_t pos[] = {0,
                    4,
                    5,
                    6,
                    7,
                    8,
                    23,
                    24,
                    39,
                    40,
                    42,
                    55,
                    56,
                    79,
                    80,
                    83,
                    ENV_HEADER,
                    ENV_HEADER + ct_len / 2,
                    ENV_HEADER + ct_len - 1,
                    env.len - MRF_SIG,
                    env.len - MRF_SIG / 2,
                    env.len - 1};
    before = snap();
    p = xmalloc(env.len);
    for (size_t k = 0; k < sizeof pos / sizeof pos[0]; k++) {
        memcpy(p, env.data, env.len);
        p[pos[k]] ^= 0x04;
        ck_assert_uint_ge(ingest_on(store, p, env.len, &r), 400);
        ck_assert_msg(r.http_status < 500, "byte %zu: %u %s", pos[k], r.http_status, r.reason);
        ck_assert_counts_eq(snap(), before);
        ingest_result_release(&r);
    }
    /* the untouched envelope is still new to HQ */
    ck_assert_uint_eq(ingest(&env, &r), 200);
    ck_assert_str_eq(r.reason, "accepted");
    ck_assert_int_eq(r.ops_applied, 6);
    ingest_result_release(&r);
    x_free(p);
    buf_release(&env);
    buf_release(&ops);
    device_free(&d);
}
END_TEST

START_TEST(garbage_and_empty_body_refused)
{
    uint8_t junk[1000];
    struct ingest_result r;
    struct counts before = snap();

    mrf_random(junk, sizeof junk);
    ck_assert_uint_eq(ingest_on(store, junk, sizeof junk, &r), 400);
    ck_assert_str_eq(r.reason, "bad_envelope");
    ingest_result_release(&r);
    memcpy(junk, "MRFE", 4);
    ck_assert_uint_eq(ingest_on(store, junk, sizeof junk, &r), 400);
    ingest_result_release(&r);
    ck_assert_uint_eq(ingest_on(store, junk, 0, &r), 400);
    ck_assert_str_eq(r.reason, "bad_envelope");
    ingest_result_release(&r);
    ck_assert_uint_eq(ingest_on(store, "", 0, &r), 400);
    ingest_result_release(&r);
    ck_assert_counts_eq(snap(), before);
}
END_TEST

START_TEST(body_over_env_max_refused)
{
    struct hqtest_device d;
    struct buf env;
    uint8_t cs[MRF_ID], *big;
    struct ingest_result r;

    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    seal_request(&d, "NAI", "", cs, &env);
    big = xcalloc(ENV_MAX + 1, 1);
    memcpy(big, env.data, env.len);
    ck_assert_uint_eq(ingest_on(store, big, ENV_MAX + 1, &r), 413);
    ck_assert_str_eq(r.reason, "too_large");
    ingest_result_release(&r);
    x_free(big);
    buf_release(&env);
    device_free(&d);
}
END_TEST

/* A body of more values than either side parses (WIRE_JSON_NODES), a few KB sealed: refused
 * as bad_json before cJSON builds it, nothing stored. */
START_TEST(body_over_value_bound_refused)
{
    struct hqtest_device d;
    struct buf env, ops;
    uint8_t cs[MRF_ID];
    struct ingest_result r;
    struct counts before;

    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    before = snap();
    buf_init(&ops, WIRE_JSON_MAX);
    ck_assert_int_eq(buf_puts(&ops, "0"), MRF_OK);
    for (unsigned i = 0; i < WIRE_JSON_NODES; i++)
        ck_assert_int_eq(buf_puts(&ops, ",0"), MRF_OK);
    seal_request(&d, "NAI", ops.data, cs, &env);
    ck_assert_uint_lt(env.len, 64 * 1024);
    ck_assert_uint_eq(ingest(&env, &r), 400);
    ck_assert_str_eq(r.reason, "bad_json");
    ingest_result_release(&r);
    ck_assert_counts_eq(snap(), before);
    buf_release(&env);
    buf_release(&ops);
    device_free(&d);
}
END_TEST

/* A response envelope (kind 2) posted to HQ is refused. */
START_TEST(response_kind_refused)
{
    struct hqtest_device d;
    struct buf env;
    uint8_t cs[MRF_ID];

    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    seal_request(&d, "NAI", "", cs, &env);
    env.data[5] = ENV_RESPONSE;
    expect_refusal(&env, 400, "bad_envelope");
    buf_release(&env);
    device_free(&d);
}
END_TEST

/* ---- content quarantine ------------------------------------------------------------------ */

/* Sends ops from d (already enrolled): expects 422 quarantined with ack reason starting with
 * why, nothing applied, the change set recorded as quarantined; the same again on a retry. */
static void expect_quarantine(struct hqtest_device *d, const char *ops, const char *why)
{
    struct buf env;
    struct ingest_result r;
    struct counts before = snap(), after;
    struct hq_received rec;
    uint8_t cs[MRF_ID];
    char first_reason[256];
    cJSON *doc;

    seal_request(d, d->post, ops, cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 422);
    ck_assert_str_eq(r.reason, "quarantined");
    ck_assert_int_eq(r.ops_applied, 0);
    doc = open_response(d, &r, cs);
    ck_assert_str_eq(ack_str(doc, "verdict"), "quarantined");
    ck_assert_msg(strncmp(ack_str(doc, "reason"), why, strlen(why)) == 0, "reason %s",
                  ack_str(doc, "reason"));
    str_copy(first_reason, ack_str(doc, "reason"), sizeof first_reason);
    cJSON_Delete(doc);
    ingest_result_release(&r);
    after = snap();
    ck_assert_int_eq(after.grants, before.grants);
    ck_assert_int_eq(after.partners, before.partners);
    ck_assert_int_eq(after.oplog, before.oplog);
    ck_assert_int_eq(after.audit, before.audit);
    ck_assert_int_eq(after.clocks, before.clocks);
    ck_assert_int_eq(after.received, before.received + 1);
    ck_assert_int_eq(hqstore_received_get(store, cs, &rec), MRF_OK);
    ck_assert_str_eq(rec.verdict, "quarantined");
    ck_assert_str_eq(rec.reason, first_reason);

    /* a retry: the same answer, still nothing applied */
    ck_assert_uint_eq(ingest(&env, &r), 422);
    ck_assert_str_eq(r.reason, "quarantined");
    doc = open_response(d, &r, cs);
    ck_assert_str_eq(ack_str(doc, "verdict"), "quarantined");
    ck_assert_str_eq(ack_str(doc, "reason"), first_reason);
    cJSON_Delete(doc);
    ingest_result_release(&r);
    ck_assert_counts_eq(snap(), after);
    buf_release(&env);
}

/* A good change set of d is accepted. */
static void expect_accepted(struct hqtest_device *d)
{
    struct buf ops, env;
    struct ingest_result r;
    uint8_t cs[MRF_ID], gid[MRF_ID];
    int64_t grants = count("SELECT count(*) FROM grants");

    mrf_random(gid, sizeof gid);
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(d, &ops, gid, "ACC", "committed", 42);
    seal_request(d, d->post, ops.data, cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    ck_assert_str_eq(r.reason, "accepted");
    ck_assert_int_eq(count("SELECT count(*) FROM grants"), grants + 1);
    ingest_result_release(&r);
    buf_release(&env);
    buf_release(&ops);
}

/* A disk that fills mid-change-set (SQLite's max_page_count on the ingest's connection gives
 * SQLITE_FULL exactly as a full disk does): 503 disk_full, the message says the disk is full
 * (not "cannot rollback"), nothing is stored; once there is room, the same envelope is
 * taken. */
START_TEST(disk_full_answers_503_and_stores_nothing)
{
    struct hqtest_device d;
    struct buf ops, env;
    struct ingest_result r;
    uint8_t cs[MRF_ID], gid[MRF_ID];
    struct counts before;
    char sql[64];

    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    buf_init(&ops, WIRE_JSON_MAX);
    for (int i = 0; i < 60; i++) {
        mrf_random(gid, sizeof gid);
        grant_ops(&d, &ops, gid, "FOE", "draft", 1000 + i);
    }
    seal_request(&d, "NAI", ops.data, cs, &env);
    before = snap();
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld",
             (long long)count("PRAGMA page_count"));
    ck_assert_int_eq(sqlite3_exec(store->db, sql, NULL, NULL, NULL), SQLITE_OK);

    ck_assert_msg(ingest(&env, &r) == 503, "%u %s", r.http_status, r.reason);
    ck_assert_str_eq(r.reason, "disk_full");
    ck_assert_ptr_nonnull(strstr(r.response.data, "disk_full"));
    ck_assert_int_eq(hqstore_disk_full(store), 1);
    ck_assert_msg(strstr(hqstore_errmsg(store), "disk is full") != NULL, "%s",
                  hqstore_errmsg(store));
    ck_assert_counts_eq(snap(), before);
    ingest_result_release(&r);

    ck_assert_int_eq(
        sqlite3_exec(store->db, "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    ck_assert_str_eq(r.reason, "accepted");
    ck_assert_int_eq(hqstore_disk_full(store), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM grants"), before.grants + 60);
    ingest_result_release(&r);
    buf_release(&env);
    buf_release(&ops);
    device_free(&d);
}
END_TEST
/* ops of d (already enrolled) are accepted, every one applied. */
static void expect_accepted_ops(struct hqtest_device *d, const char *ops)
{
    struct buf env;
    struct ingest_result r;
    uint8_t cs[MRF_ID];

    seal_request(d, d->post, ops, cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    ck_assert_str_eq(r.reason, "accepted");
    ck_assert_int_eq(r.ops_applied, r.ops_in);
    ingest_result_release(&r);
    buf_release(&env);
}

START_TEST(quarantine_allocation_from_device)
{
    struct hqtest_device d;
    struct buf ops;
    uint8_t gid[MRF_ID], aid[MRF_ID];

    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    mrf_random(gid, sizeof gid);
    row_id_derive(aid, "allocations", "NAI", 2026, NULL);
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(&d, &ops, gid, "FOE", "draft", 100); /* good ops first: not applied either */
    add_int(&d, &ops, ST_ALLOCATIONS, aid, 1, 99900000);
    expect_quarantine(&d, ops.data, "allocations are written by HQ only");
    ck_assert_int_eq(count("SELECT count(*) FROM allocations"), 0);
    expect_accepted(&d);
    buf_release(&ops);
    device_free(&d);
}
END_TEST

START_TEST(quarantine_unknown_grant_status)
{
    struct hqtest_device d;
    struct buf ops;
    uint8_t gid[MRF_ID];

    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    mrf_random(gid, sizeof gid);
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(&d, &ops, gid, "FOE", "approved", 100);
    expect_quarantine(&d, ops.data, "unknown grant status");
    expect_accepted(&d);
    buf_release(&ops);
    device_free(&d);
}
END_TEST

START_TEST(quarantine_unknown_theme)
{
    struct hqtest_device d;
    struct buf ops;
    uint8_t gid[MRF_ID];

    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    mrf_random(gid, sizeof gid);
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(&d, &ops, gid, "XYZ", "draft", 100);
    expect_quarantine(&d, ops.data, "unknown theme");
    buf_reset(&ops);
    grant_ops(&d, &ops, gid, "foe", "draft", 100); /* codes travel in capitals */
    expect_quarantine(&d, ops.data, "unknown theme");
    expect_accepted(&d);
    buf_release(&ops);
    device_free(&d);
}
END_TEST

START_TEST(quarantine_damaged_sealed_field)
{
    struct hqtest_device d;
    struct buf ops;
    uint8_t gid[MRF_ID], pid[MRF_ID], pk[MRF_BOX_PK];
    uint8_t *good = NULL, *bad;
    size_t n = 0;
    char why[64];
    struct sync_value v = {.type = SYNC_BLOB};

    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    mrf_random(gid, sizeof gid);
    mrf_random(pid, sizeof pid);
    mrf_random(pk, sizeof pk);
    ck_assert_int_eq(sealed_seal(&good, &n, "Amina Yusuf", 11, "partners/x/name",
                                 (const uint8_t(*)[MRF_BOX_PK])pk, 1),
                     MRF_OK);
    bad = xmalloc(n + 1);
    memcpy(bad, good, n);
    bad[n] = 0; /* one byte trailing */
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(&d, &ops, gid, "FOE", "draft", 100); /* good ops first: not applied either */
    v.blob = good;
    v.n = n;
    add_op(&d, &ops, ST_PARTNERS, pid, PARTNER_NAME, &v); /* op 7: a real sealed field */
    v.blob = bad;
    v.n = n + 1;
    add_op(&d, &ops, ST_PARTNERS, pid, PARTNER_PHONE, &v); /* op 8 */
    snprintf(why, sizeof why, "a sealed field is damaged (op 8)");
    expect_quarantine(&d, ops.data, why);
    ck_assert_int_eq(count("SELECT count(*) FROM partners"), 0);
    /* a grant's note too, and a blob of another version */
    buf_reset(&ops);
    bad[0] = 2;
    v.n = n;
    add_op(&d, &ops, ST_GRANTS, gid, GRANT_NOTE, &v);
    expect_quarantine(&d, ops.data, "a sealed field is damaged (op 1)");
    expect_accepted(&d);
    x_free(bad);
    x_free(good);
    buf_release(&ops);
    device_free(&d);
}
END_TEST

START_TEST(quarantine_malformed_op)
{
    struct hqtest_device d;
    struct buf ops;
    uint8_t gid[MRF_ID];

    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    mrf_random(gid, sizeof gid);
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(&d, &ops, gid, "FOE", "draft", 100);
    ck_assert_int_eq(buf_puts(&ops, ",[2,\"00\",3,1,\"0000000000000001\"]"), MRF_OK);
    expect_quarantine(&d, ops.data, "bad_op");
    expect_accepted(&d);
    buf_release(&ops);
    device_free(&d);
}
END_TEST

/* ---- rows belong to their post, clocks are bounded -------------------------------------- */

/* The answer d gets for ops: status, verdict and reason, as one line. */
static void answer_of(struct hqtest_device *d, const char *ops, char *out, size_t n)
{
    struct buf env;
    struct ingest_result r;
    uint8_t cs[MRF_ID];
    cJSON *doc;

    seal_request(d, d->post, ops, cs, &env);
    ingest(&env, &r);
    doc = open_response(d, &r, cs);
    snprintf(out, n, "%u %s %s ops %lld applied %lld", r.http_status, ack_str(doc, "verdict"),
             ack_str(doc, "reason"), (long long)r.ops_in, (long long)r.ops_applied);
    cJSON_Delete(doc);
    ingest_result_release(&r);
    buf_release(&env);
}

/* The answer to one orphan amount of grant id: a row the sender's post does not hold. */
static void orphan_answer(const uint8_t id[MRF_ID], char *out, size_t n)
{
    char code[16];

    shortcode_make("G", id, code);
    snprintf(out, n,
             "422 quarantined a new row must carry its required columns: grants %s has no "
             "partner ops 1 applied 0",
             code);
}

/* A GVA device writing ids NAI uses (a random grant id, a derived theme id) gets its own rows
 * of those ids, the same answer as for ids nobody uses, and NAI's rows do not change. */
START_TEST(rows_of_another_post_stay_apart)
{
    struct hqtest_device n, g;
    struct buf ops;
    uint8_t gid[MRF_ID], fresh[MRF_ID], theme[MRF_ID];
    char sql[256], known[160], unknown[160], want[160];
    char *hx;

    device_new(&n, "NAI");
    enroll_with_grant(&n, gid);
    hx = hex_encode(gid, MRF_ID);
    device_new(&g, "GVA");
    enroll_with_grant(&g, NULL);
    /* g writes an amount alone to NAI's grant id, then to an id nobody uses: neither is a row
     * of GVA's, both answers say so alike */
    mrf_random(fresh, sizeof fresh);
    buf_init(&ops, WIRE_JSON_MAX);
    add_int(&g, &ops, ST_GRANTS, gid, 3, 1);
    answer_of(&g, ops.data, known, sizeof known);
    orphan_answer(gid, want, sizeof want);
    ck_assert_str_eq(known, want);
    buf_reset(&ops);
    add_int(&g, &ops, ST_GRANTS, fresh, 3, 1);
    answer_of(&g, ops.data, unknown, sizeof unknown);
    orphan_answer(fresh, want, sizeof want);
    ck_assert_str_eq(unknown, want);
    /* ... and a whole grant of either id is taken alike */
    buf_reset(&ops);
    grant_ops(&g, &ops, gid, "FOE", "draft", 1);
    answer_of(&g, ops.data, known, sizeof known);
    buf_reset(&ops);
    grant_ops(&g, &ops, fresh, "FOE", "draft", 1);
    answer_of(&g, ops.data, unknown, sizeof unknown);
    ck_assert_str_eq(known, unknown);
    ck_assert_str_eq(known, "200 accepted  ops 6 applied 6");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM grants WHERE id = x'%s' AND post = 'NAI' AND "
             "amount_cents = 1250000",
             hx);
    ck_assert_int_eq(count(sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM grants WHERE id = x'%s' AND post = 'GVA' AND amount_cents = 1",
             hx);
    ck_assert_int_eq(count(sql), 1);
    /* a theme id derived for NAI, written first by GVA, and NAI choosing that theme after */
    row_id_derive(theme, "themes", "NAI", 2026, "HRD");
    buf_reset(&ops);
    add_int(&g, &ops, ST_THEMES, theme, 0, 2026);
    add_text(&g, &ops, ST_THEMES, theme, 1, "HRD");
    answer_of(&g, ops.data, known, sizeof known);
    ck_assert_str_eq(known, "200 accepted  ops 2 applied 2");
    buf_reset(&ops);
    add_int(&n, &ops, ST_THEMES, theme, 0, 2026);
    add_text(&n, &ops, ST_THEMES, theme, 1, "HRD");
    add_int(&n, &ops, ST_THEMES, theme, 2, 0);
    answer_of(&n, ops.data, known, sizeof known);
    ck_assert_str_eq(known, "200 accepted  ops 3 applied 3");
    ck_assert_int_eq(count("SELECT count(*) FROM themes WHERE post = 'NAI' AND theme = 'HRD'"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM themes WHERE post = 'GVA' AND theme = 'HRD'"), 1);
    x_free(hx);
    buf_release(&ops);
    device_free(&n);
    device_free(&g);
}
END_TEST

/* The ops of d's answer to a change set of no ops sent with cursor; OUT: *at, the answer's
 * cursor. */
static int answer_at(struct hqtest_device *d, int64_t cursor, int64_t *at)
{
    struct buf env;
    struct ingest_result r;
    uint8_t cs[MRF_ID];
    cJSON *doc;
    int ops;

    d->enroll = 0;
    d->cursor = cursor;
    seal_request(d, d->post, "", cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    doc = open_response(d, &r, cs);
    ops = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "ops"));
    *at = resp_cursor(doc);
    cJSON_Delete(doc);
    ingest_result_release(&r);
    buf_release(&env);
    return ops;
}

/* Each post pulls from its own sequence: a cursor counts the post's own ops only, whatever
 * other posts write; a device of the first release keeps HQ's global sequence. */
START_TEST(cursor_counts_own_post_only)
{
    struct hqtest_device n, n2, g, old;
    struct buf ops, env;
    struct ingest_result r;
    uint8_t cs[MRF_ID], gid[MRF_ID];
    cJSON *doc;
    int64_t at;

    device_new(&n, "NAI");
    enroll_with_grant(&n, NULL);
    device_new(&g, "GVA");
    for (int i = 0; i < 5; i++) {
        if (i > 0)
            g.enroll = 0;
        enroll_with_grant(&g, NULL);
    }
    device_new(&n2, "NAI");
    enroll_with_grant(&n2, NULL);
    /* n pulls: n2's six ops; its cursor is NAI's count, not HQ's */
    buf_init(&ops, WIRE_JSON_MAX);
    seal_request(&n, "NAI", "", cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    doc = open_response(&n, &r, cs);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "ops")), 6);
    ck_assert_int_eq(resp_cursor(doc), 12);
    ck_assert_int_eq(count("SELECT count(*) FROM oplog WHERE post = 'NAI'"), 12);
    ck_assert_int_eq(count("SELECT max(seq) FROM oplog"), 42);
    cJSON_Delete(doc);
    ingest_result_release(&r);
    buf_release(&env);
    /* a version-1 device of NAI: the same ops, with HQ's global cursor, in version 1 */
    device_new(&old, "NAI");
    old.version = 1;
    mrf_random(gid, sizeof gid);
    grant_ops(&old, &ops, gid, "FOE", "draft", 700);
    seal_request(&old, "NAI", ops.data, cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    doc = open_response(&old, &r, cs);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "ops")), 12);
    ck_assert_int_eq(resp_cursor(doc), 48);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(doc, "time"));
    cJSON_Delete(doc);
    ingest_result_release(&r);
    buf_release(&env);
    /* ... and from the middle: after NAI's first grant (global 6) come n2's and its own */
    old.enroll = 0;
    old.cursor = 6;
    seal_request(&old, "NAI", "", cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    doc = open_response(&old, &r, cs);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "ops")), 6);
    ck_assert_int_eq(resp_cursor(doc), 48);
    cJSON_Delete(doc);
    ingest_result_release(&r);
    buf_release(&env);
    /* cursors inside a run of ops (NAI's first change set is one: global 1-6, its 1-6) and
     * past the post's end, as a device may send them: the rest of the run and what follows,
     * or nothing */
    ck_assert_int_eq(answer_at(&old, 3, &at), 9); /* NAI's 4-12; its own 13-18 are not sent */
    ck_assert_int_eq(at, 48);
    ck_assert_int_eq(answer_at(&n, 3, &at), 12); /* n2's and old's: 7-18 */
    ck_assert_int_eq(at, 18);
    ck_assert_int_eq(answer_at(&n, 9007199254740991LL, &at), 0);
    ck_assert_int_eq(at, 9007199254740991LL);
    buf_release(&ops);
    device_free(&n);
    device_free(&n2);
    device_free(&g);
    device_free(&old);
}
END_TEST

/* HQ's clock and every column clock, read unsigned. */
static uint64_t hq_clock_now(void)
{
    uint64_t c = 0;
    ck_assert_int_eq(hqstore_clock_get(store, &c), MRF_OK);
    return c;
}

/* One integer op of d with an explicit clock. */
static void add_int_at(struct hqtest_device *d, struct buf *ops, enum sync_table t,
                       const uint8_t *id, int col, int64_t i, hlc_t clock)
{
    struct sync_value v = {.type = SYNC_INT, .i = i};
    add_op_at(d, ops, t, id, col, &v, clock);
}

/* A clock more than a day ahead of HQ's (a wrong date, or forged: 2^63 - 1, 2^64 - 256) never
 * wins by being ahead: HQ applies the op at a clock of its own, says so in the answer (the same
 * on a retry), records who sent it, and its own clock stays within a day of its wall clock; a
 * later ordinary write by another device wins. */
START_TEST(clock_ahead_is_restamped)
{
    static const hlc_t forged[] = {0, UINT64_C(0x7fffffffffffffff), UINT64_C(0xffffffffffffff00)};
    struct hqtest_device a, b;
    uint8_t gid[MRF_ID], cs[MRF_ID];
    struct buf ops, env;
    struct ingest_result r, r2;
    struct hq_skew k;
    cJSON *doc;
    const cJSON *rs;
    char sql[256], tohex[17], *hx;
    hlc_t to, ahead;

    device_new(&a, "NAI");
    enroll_with_grant(&a, gid);
    device_new(&b, "NAI");
    enroll_with_grant(&b, NULL);
    hx = hex_encode(gid, MRF_ID);
    buf_init(&ops, WIRE_JSON_MAX);
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        /* 5000 years ahead, then the forged ones */
        ahead = forged[i] ? forged[i] : hlc_make(time_now_ms() + UINT64_C(157680000000000), 0);
        buf_reset(&ops);
        add_int_at(&a, &ops, ST_GRANTS, gid, 3, 100 + (int64_t)i, ahead);
        seal_request(&a, "NAI", ops.data, cs, &env);
        ck_assert_uint_eq(ingest(&env, &r), 200);
        ck_assert_int_eq(r.ops_applied, 1);
        doc = open_response(&a, &r, cs);
        rs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "ack"),
                                              "restamp");
        ck_assert_ptr_nonnull(rs);
        ck_assert_int_eq(hlc_from_hex(cJSON_GetObjectItemCaseSensitive(rs, "to")->valuestring, &to),
                         MRF_OK);
        hlc_to_hex(to, tohex);
        ck_assert_uint_le(to, hlc_bound(time_now_ms()));
        ck_assert_uint_le(hq_clock_now(), hlc_bound(time_now_ms()));
        cJSON_Delete(doc);
        /* the column holds the amount at HQ's clock, written by a */
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM clocks WHERE post = 'NAI' AND id = x'%s' AND col = 3 AND "
                 "clock = %lld",
                 hx, (long long)to);
        ck_assert_int_eq(count(sql), 1);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM oplog WHERE id = x'%s' AND col = 3 AND value = %d AND "
                 "clock = %lld",
                 hx, 100 + (int)i, (long long)to);
        ck_assert_int_eq(count(sql), 1);
        ck_assert_int_eq(hqstore_skew_get(store, cs, &k), MRF_OK);
        ck_assert_mem_eq(k.device, a.id, MRF_ID);
        ck_assert_uint_eq(k.max_clock, ahead);
        ck_assert_uint_eq(k.restamped, to);
        /* a retry gets the same acknowledgement, restamp included */
        ck_assert_uint_eq(ingest(&env, &r2), 200);
        ck_assert_str_eq(r2.reason, "replay");
        doc = open_response(&a, &r2, cs);
        rs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "ack"),
                                              "restamp");
        ck_assert_ptr_nonnull(rs);
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(rs, "to")->valuestring, tohex);
        cJSON_Delete(doc);
        ingest_result_release(&r);
        ingest_result_release(&r2);
        buf_release(&env);
        /* b, later, with an ordinary clock: wins */
        buf_reset(&ops);
        add_int_at(&b, &ops, ST_GRANTS, gid, 3, 900 + (int64_t)i,
                   hlc_max(hq_clock_now(), b.clock) + 1);
        seal_request(&b, "NAI", ops.data, cs, &env);
        ck_assert_uint_eq(ingest(&env, &r), 200);
        ck_assert_int_eq(r.ops_applied, 1);
        ingest_result_release(&r);
        buf_release(&env);
        snprintf(sql, sizeof sql,
                 "SELECT amount_cents FROM grants WHERE post = 'NAI' AND id = x'%s'", hx);
        ck_assert_int_eq(count(sql), 900 + (int64_t)i);
    }
    ck_assert_int_eq(count("SELECT count(*) FROM clock_skew"), 3);
    x_free(hx);
    buf_release(&ops);
    device_free(&a);
    device_free(&b);
}
END_TEST

/* ---- two store handles, as the server's pool has ---------------------------------------- */

/* A row the first handle created, then written by another handle: the first handle's merge
 * reads the column's clock again in its next transaction, so an older write of that column
 * loses (sync/merge.c remembers a row it created only within the transaction). */
START_TEST(row_created_then_written_by_another_handle)
{
    struct hqtest_device a, b;
    struct buf ops, env;
    struct ingest_result r;
    struct hqstore *other = NULL;
    struct mrf_error err = {0};
    struct sync_value later = {.type = SYNC_TEXT, .text = "2026-03-01"},
                      older = {.type = SYNC_TEXT, .text = "2026-01-01"};
    uint8_t cs[MRF_ID], gid[MRF_ID], bgid[MRF_ID];

    ck_assert_int_eq(hqstore_open(home, HQSTORE_EXISTING, &other, &err), MRF_OK);
    mrf_random(bgid, sizeof bgid);
    device_new(&a, "NAI");
    device_new(&b, "NAI");
    enroll_with_grant(&a, gid); /* the fixture's handle creates the grant */
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(&b, &ops, bgid, "FOE", "draft", 5);
    add_op_at(&b, &ops, ST_GRANTS, gid, GRANT_START, &later, a.clock + 1000);
    seal_request(&b, "NAI", ops.data, cs, &env);
    ck_assert_uint_eq(ingest_on(other, env.data, env.len, &r), 200);
    ingest_result_release(&r);
    buf_release(&env);
    buf_reset(&ops);
    add_op_at(&a, &ops, ST_GRANTS, gid, GRANT_START, &older, a.clock + 1);
    seal_request(&a, "NAI", ops.data, cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    ck_assert_int_eq(r.ops_applied, 0);
    ingest_result_release(&r);
    ck_assert_int_eq(count("SELECT count(*) FROM grants WHERE start_date = '2026-03-01'"), 1);
    buf_release(&env);
    buf_release(&ops);
    hqstore_close(other);
    device_free(&a);
    device_free(&b);
}
END_TEST

/* Two connections to hq.db, as the server's pool (or a CLI command beside it) has: a merge
 * statement left on a row after COMMIT would keep a stale WAL snapshot on the first, and its
 * next BEGIN IMMEDIATE would fail with SQLITE_BUSY_SNAPSHOT once the second has committed. */
START_TEST(two_handles_interleave)
{
    struct hqtest_device a, b;
    struct buf ops, env;
    struct ingest_result r;
    struct hqstore *other = NULL;
    struct mrf_error err = {0};
    uint8_t cs[MRF_ID], gid[MRF_ID], bgid[MRF_ID];

    ck_assert_int_eq(hqstore_open(home, HQSTORE_EXISTING, &other, &err), MRF_OK);
    mrf_random(bgid, sizeof bgid);
    device_new(&a, "NAI");
    device_new(&b, "NAI");
    enroll_with_grant(&a, gid);
    /* a overwrites an existing column through the fixture's handle */
    buf_init(&ops, WIRE_JSON_MAX);
    add_int(&a, &ops, ST_GRANTS, gid, 3, 2000000);
    seal_request(&a, "NAI", ops.data, cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    ingest_result_release(&r);
    buf_release(&env);
    /* b enrolls through the other handle */
    buf_reset(&ops);
    grant_ops(&b, &ops, bgid, "FOE", "draft", 5);
    seal_request(&b, "NAI", ops.data, cs, &env);
    ck_assert_uint_eq(ingest_on(other, env.data, env.len, &r), 200);
    ingest_result_release(&r);
    buf_release(&env);
    /* a again through the first handle */
    buf_reset(&ops);
    add_int(&a, &ops, ST_GRANTS, gid, 3, 3000000);
    seal_request(&a, "NAI", ops.data, cs, &env);
    ingest_result_init(&r);
    ck_assert_msg(hq_ingest(store, &ident, (const uint8_t *)env.data, env.len, &r) == MRF_OK,
                  "the first handle cannot write after the second committed: %s",
                  hqstore_errmsg(store));
    ck_assert_uint_eq(r.http_status, 200);
    ingest_result_release(&r);
    buf_release(&env);
    buf_release(&ops);
    hqstore_close(other);
    device_free(&a);
    device_free(&b);
}
END_TEST

/* ---- two first syncs of one device at once --------------------------------------------------
 * Two workers ingest a new device's first two requests: the late one reads the store (the
 * device is unknown, so it is enrolling) on its own handle, the early one's ingest runs to its
 * commit on the fixture's handle, then the late one writes. */

/* The first step of env's ingest on handle s: asserted to leave a request to write. */
static struct ingest *read_on(struct hqstore *s, const struct buf *env, struct ingest_result *r)
{
    struct ingest *in = NULL;

    ingest_result_init(r);
    ck_assert_int_eq(hq_ingest_read(s, &ident, (const uint8_t *)env->data, env->len, r, &in),
                     MRF_OK);
    ck_assert_ptr_nonnull(in);
    return in;
}

/* The second step of in; asserts there is an answer (never a 500) and returns its status. */
static unsigned write_late(struct ingest *in, struct ingest_result *r)
{
    enum mrf_status rc = hq_ingest_write(in);

    hq_ingest_free(in);
    ck_assert_msg(rc == MRF_OK, "no answer (HTTP 500): %s", mrf_status_str(rc));
    return r->http_status;
}

static struct hqstore *second_handle(void)
{
    struct hqstore *other = NULL;
    struct mrf_error err = {0};

    ck_assert_msg(hqstore_open(home, HQSTORE_EXISTING, &other, &err) == MRF_OK, "%s", err.msg);
    return other;
}

START_TEST(first_syncs_race_both_accepted)
{
    struct hqtest_device d;
    struct buf ops, pull, env;
    struct ingest_result early, late;
    struct hqstore *other = second_handle();
    struct ingest *in;
    uint8_t cs_pull[MRF_ID], cs[MRF_ID], gid[MRF_ID];
    cJSON *doc;

    device_new(&d, "NAI");
    mrf_random(gid, sizeof gid);
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(&d, &ops, gid, "FOE", "draft", 1250000);
    seal_request(&d, "NAI", "", cs_pull, &pull); /* a pull: the other sync froze the ops */
    seal_request(&d, "NAI", ops.data, cs, &env);

    in = read_on(other, &env, &late);
    ck_assert_uint_eq(ingest(&pull, &early), 200);
    ck_assert_str_eq(early.reason, "accepted");
    ck_assert_uint_eq(write_late(in, &late), 200);
    ck_assert_str_eq(late.reason, "accepted");
    ck_assert_int_eq(late.ops_applied, 6);
    doc = open_response(&d, &late, cs);
    ck_assert_str_eq(ack_str(doc, "verdict"), "accepted");
    cJSON_Delete(doc);

    ck_assert_int_eq(count("SELECT count(*) FROM devices"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM enrollments WHERE used_at IS NOT NULL"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM received WHERE verdict = 'accepted'"), 2);
    ck_assert_int_eq(count("SELECT count(*) FROM oplog"), 6);
    ck_assert_int_eq(count("SELECT count(*) FROM grants"), 1);
    ingest_result_release(&early);
    ingest_result_release(&late);
    buf_release(&env);
    buf_release(&pull);
    buf_release(&ops);
    hqstore_close(other);
    device_free(&d);
}
END_TEST

START_TEST(same_first_changeset_twice_at_once_replays)
{
    struct hqtest_device d;
    struct buf ops, env;
    struct ingest_result early, late;
    struct hqstore *other = second_handle();
    struct ingest *in;
    struct counts after_early;
    uint8_t cs[MRF_ID], gid[MRF_ID];
    cJSON *doc;

    device_new(&d, "NAI");
    mrf_random(gid, sizeof gid);
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(&d, &ops, gid, "FOE", "draft", 1250000);
    seal_request(&d, "NAI", ops.data, cs, &env);

    in = read_on(other, &env, &late);
    ck_assert_uint_eq(ingest(&env, &early), 200);
    ck_assert_str_eq(early.reason, "accepted");
    after_early = snap();
    ck_assert_uint_eq(write_late(in, &late), 200);
    ck_assert_str_eq(late.reason, "replay");
    ck_assert_int_eq(late.ops_applied, 0);
    ck_assert_counts_eq(snap(), after_early);
    doc = open_response(&d, &late, cs);
    ck_assert_str_eq(ack_str(doc, "verdict"), "accepted");
    cJSON_Delete(doc);
    ck_assert_int_eq(count("SELECT count(*) FROM oplog"), 6);
    ingest_result_release(&early);
    ingest_result_release(&late);
    buf_release(&env);
    buf_release(&ops);
    hqstore_close(other);
    device_free(&d);
}
END_TEST

START_TEST(enrollment_race_with_other_keys_refused)
{
    struct hqtest_device d, impostor;
    struct buf env, fake;
    struct ingest_result early, late;
    struct hqstore *other = second_handle();
    struct ingest *in;
    struct counts after_early;
    uint8_t cs[MRF_ID], fake_cs[MRF_ID];

    device_new(&d, "NAI");
    device_new(&impostor, "NAI"); /* d's id and token, its own keys */
    memcpy(impostor.id, d.id, MRF_ID);
    memcpy(impostor.token_id, d.token_id, MRF_ID);
    memcpy(impostor.secret, d.secret, MRF_SECRET);
    seal_request(&d, "NAI", "", cs, &env);
    seal_request(&impostor, "NAI", "", fake_cs, &fake);

    in = read_on(other, &fake, &late);
    ck_assert_uint_eq(ingest(&env, &early), 200);
    after_early = snap();
    ck_assert_uint_eq(write_late(in, &late), 403);
    ck_assert_str_eq(late.reason, "device_exists");
    ck_assert_str_eq(late.response.data, "device_exists\n");
    ck_assert_counts_eq(snap(), after_early);
    ingest_result_release(&early);
    ingest_result_release(&late);
    buf_release(&env);
    buf_release(&fake);
    hqstore_close(other);
    device_free(&d);
    device_free(&impostor);
}
END_TEST

START_TEST(enrollment_race_token_used_by_another_device)
{
    struct hqtest_device a, c;
    struct buf env, other_env;
    struct ingest_result early, late;
    struct hqstore *other = second_handle();
    struct ingest *in;
    struct counts after_early;
    struct hq_device dv;
    uint8_t cs[MRF_ID], other_cs[MRF_ID];

    device_new(&a, "NAI");
    device_new(&c, "NAI"); /* a's token, its own id and keys */
    memcpy(c.token_id, a.token_id, MRF_ID);
    memcpy(c.secret, a.secret, MRF_SECRET);
    seal_request(&a, "NAI", "", cs, &env);
    seal_request(&c, "NAI", "", other_cs, &other_env);

    in = read_on(other, &other_env, &late);
    ck_assert_uint_eq(ingest(&env, &early), 200);
    after_early = snap();
    ck_assert_uint_eq(write_late(in, &late), 403);
    ck_assert_str_eq(late.reason, "token_used");
    ck_assert_counts_eq(snap(), after_early);
    ck_assert_int_eq(hqstore_device_get(store, c.id, &dv), MRF_E_NOTFOUND);
    ingest_result_release(&early);
    ingest_result_release(&late);
    buf_release(&env);
    buf_release(&other_env);
    hqstore_close(other);
    device_free(&a);
    device_free(&c);
}
END_TEST

/* A box pair for a post key. */
struct recip {
    uint8_t pk[MRF_BOX_PK];
    uint8_t *sk;
};
static void recip_init(struct recip *r)
{
    r->sk = xsecure_malloc(MRF_BOX_SK);
    mrf_box_keypair(r->pk, r->sk);
}
static void recip_release(struct recip *r)
{
    sodium_free(r->sk);
    r->sk = NULL;
}

/* ---- a post's key ring ------------------------------------------------------------------- */

/* Sends d a change set of ops followed by the key ring members (',"keyring":{...}'); asserts
 * 200 and returns the opened answer (cJSON_Delete). The members ride behind the ops list
 * (seal_request closes it with "]}"): an unknown trailing "x" list, which HQ ignores. */
static cJSON *send_keyring(struct hqtest_device *d, const char *ops, const char *members)
{
    struct buf body, env;
    struct ingest_result r;
    uint8_t cs[MRF_ID];
    cJSON *doc;

    buf_init(&body, WIRE_JSON_MAX);
    ck_assert_int_eq(buf_printf(&body, "%s]%s,\"x\":[", ops, members), MRF_OK);
    seal_request(d, d->post, body.data, cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    d->enroll = 0;
    doc = open_response(d, &r, cs);
    ingest_result_release(&r);
    buf_release(&env);
    buf_release(&body);
    return doc;
}

static void ann_make(struct postkey_ann *a, const struct hqtest_device *d, uint32_t epoch,
                     const uint8_t pk[MRF_BOX_PK])
{
    memset(a, 0, sizeof *a);
    str_copy(a->post, d->post, sizeof a->post);
    a->epoch = epoch;
    memcpy(a->pk, pk, MRF_BOX_PK);
    memcpy(a->creator, d->id, MRF_ID);
    postkey_ann_sign(a, d->keys->sign_sk);
}

static void grant_make(struct postkey_grant *g, const struct hqtest_device *from,
                       const struct hqtest_device *to, uint32_t epoch, const uint8_t pk[MRF_BOX_PK],
                       const uint8_t *sk)
{
    memset(g, 0, sizeof *g);
    str_copy(g->post, from->post, sizeof g->post);
    g->epoch = epoch;
    memcpy(g->pk, pk, MRF_BOX_PK);
    memcpy(g->target, to->id, MRF_ID);
    memcpy(g->target_box_pk, to->keys->pub.box_pk, MRF_BOX_PK);
    memcpy(g->approver, from->id, MRF_ID);
    ck_assert_int_eq(postkey_wrap(g->wrapped, sk, to->keys->pub.box_pk), MRF_OK);
    postkey_grant_sign(g, from->keys->sign_sk);
}

/* ',"keyring":{"keys":[a?],"grants":[g?]}' */
static char *members(const struct postkey_ann *a, const struct postkey_grant *g)
{
    struct buf b;

    buf_init(&b, WIRE_JSON_MAX);
    ck_assert_int_eq(buf_puts(&b, ",\"keyring\":{\"keys\":["), MRF_OK);
    if (a != NULL)
        ck_assert_int_eq(keyring_ann_to_json(a, &b), MRF_OK);
    ck_assert_int_eq(buf_puts(&b, "],\"grants\":["), MRF_OK);
    if (g != NULL)
        ck_assert_int_eq(keyring_grant_to_json(g, &b), MRF_OK);
    ck_assert_int_eq(buf_puts(&b, "]}"), MRF_OK);
    return buf_take(&b, NULL);
}

/* The device list of an answer, verified with HQ's key. */
static void answer_devices(const cJSON *doc, struct keyring_devices *l)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(doc, "keyring");
    const char *dv = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "devices"));
    const char *ds = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "dsig"));
    uint8_t *p = NULL, *sig = NULL;
    size_t n = 0, sn = 0;

    ck_assert_ptr_nonnull(dv);
    ck_assert_ptr_nonnull(ds);
    ck_assert_int_eq(b64url_decode(dv, strlen(dv), &p, &n), MRF_OK);
    ck_assert_int_eq(b64url_decode(ds, strlen(ds), &sig, &sn), MRF_OK);
    ck_assert_uint_eq(sn, MRF_SIG);
    ck_assert_int_eq(mrf_verify(sig, p, n, ident.cfg.hq.sign_pk), MRF_OK);
    ck_assert_int_eq(keyring_devices_decode(p, n, l), MRF_OK);
    x_free(p);
    x_free(sig);
}

static int list_len(const cJSON *doc, const char *name)
{
    return cJSON_GetArraySize(keyring_member(doc, name));
}

/* HQ keeps the first announcement of an epoch and the grants of holders to active devices of
 * the same post, relays a grant to its target only, and ignores everything else: another
 * device's first key, a statement signed by someone else than its sender, a grant from a
 * device that holds nothing, to a device of another post, under another box key, of another
 * key than the epoch's, and a rotation by a non-holder. A field sealed to three recipients
 * passes the frame check. */
START_TEST(keyring_relayed_never_read)
{
    struct hqtest_device a, b, x;
    struct recip k1, k2, kb;
    struct postkey_ann ann, bad_ann;
    struct postkey_grant g, bad;
    struct keyring_devices *l = xcalloc(1, sizeof *l);
    struct buf ops;
    struct sync_value v = {.type = SYNC_BLOB};
    uint8_t pid[MRF_ID], pks[3][MRF_BOX_PK], *blob = NULL;
    size_t n = 0;
    char *m;
    cJSON *doc;

    device_new(&a, "NAI");
    device_new(&b, "NAI");
    device_new(&x, "GVA");
    enroll_with_grant(&b, NULL);
    enroll_with_grant(&x, NULL);
    recip_init(&k1);
    recip_init(&k2);
    recip_init(&kb);

    /* a enrolls with its key and a partner sealed to three recipients */
    memcpy(pks[0], a.keys->pub.box_pk, MRF_BOX_PK);
    memcpy(pks[1], ident.cfg.escrow_pk, MRF_BOX_PK);
    memcpy(pks[2], k1.pk, MRF_BOX_PK);
    mrf_random(pid, sizeof pid);
    ck_assert_int_eq(sealed_seal(&blob, &n, "Amina Yusuf", 11, "partners/x/name",
                                 (const uint8_t(*)[MRF_BOX_PK])pks, 3),
                     MRF_OK);
    buf_init(&ops, WIRE_JSON_MAX);
    v.blob = blob;
    v.n = n;
    add_op(&a, &ops, ST_PARTNERS, pid, PARTNER_NAME, &v);
    add_text(&a, &ops, ST_PARTNERS, pid, PARTNER_RISK, "high"); /* a new row is whole */
    ann_make(&ann, &a, 1, k1.pk);
    m = members(&ann, NULL);
    doc = send_keyring(&a, ops.data, m);
    x_free(m);
    ck_assert_str_eq(ack_str(doc, "verdict"), "accepted");
    ck_assert_int_eq(count("SELECT count(*) FROM partners"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM postkeys WHERE post = 'NAI' AND epoch = 1"), 1);
    ck_assert_int_eq(list_len(doc, "keys"), 1);
    answer_devices(doc, l);
    ck_assert_str_eq(l->post, "NAI");
    ck_assert_uint_eq(l->epoch, 1);
    ck_assert_int_eq(l->n, 2);
    ck_assert(keyring_devices_find(l, a.id)->holds);
    ck_assert(!keyring_devices_find(l, b.id)->holds);
    ck_assert_ptr_null(keyring_devices_find(l, x.id));
    cJSON_Delete(doc);

    /* b's own first key loses; a statement b signs in a's name is ignored */
    ann_make(&bad_ann, &b, 1, kb.pk);
    m = members(&bad_ann, NULL);
    cJSON_Delete(send_keyring(&b, "", m));
    x_free(m);
    memcpy(bad_ann.creator, a.id, MRF_ID);
    m = members(&bad_ann, NULL);
    cJSON_Delete(send_keyring(&b, "", m));
    x_free(m);
    ck_assert_int_eq(count("SELECT count(*) FROM postkeys WHERE post = 'NAI'"), 1);

    /* grants HQ ignores */
    grant_make(&bad, &b, &b, 1, k1.pk, k1.sk); /* b holds nothing */
    m = members(NULL, &bad);
    cJSON_Delete(send_keyring(&b, "", m));
    x_free(m);
    grant_make(&bad, &a, &x, 1, k1.pk, k1.sk); /* to another post */
    m = members(NULL, &bad);
    cJSON_Delete(send_keyring(&a, "", m));
    x_free(m);
    grant_make(&bad, &a, &b, 1, k1.pk, k1.sk);
    memcpy(bad.target_box_pk, x.keys->pub.box_pk, MRF_BOX_PK); /* another box key */
    postkey_grant_sign(&bad, a.keys->sign_sk);
    m = members(NULL, &bad);
    cJSON_Delete(send_keyring(&a, "", m));
    x_free(m);
    grant_make(&bad, &a, &b, 1, kb.pk, kb.sk); /* not the epoch's key */
    m = members(NULL, &bad);
    cJSON_Delete(send_keyring(&a, "", m));
    x_free(m);
    grant_make(&bad, &a, &b, 1, k1.pk, k1.sk);
    bad.sig[0] ^= 1; /* not a's signature */
    m = members(NULL, &bad);
    cJSON_Delete(send_keyring(&a, "", m));
    x_free(m);
    grant_make(&bad, &x, &x, 1, k1.pk, k1.sk); /* GVA has no key: NAI's is not GVA's */
    m = members(NULL, &bad);
    cJSON_Delete(send_keyring(&x, "", m));
    x_free(m);
    ck_assert_int_eq(count("SELECT count(*) FROM postkey_grants"), 0);

    /* a real approval reaches b, and b only */
    grant_make(&g, &a, &b, 1, k1.pk, k1.sk);
    m = members(NULL, &g);
    doc = send_keyring(&a, "", m);
    x_free(m);
    ck_assert_int_eq(count("SELECT count(*) FROM postkey_grants"), 1);
    ck_assert_int_eq(list_len(doc, "grants"), 0);
    cJSON_Delete(doc);
    doc = send_keyring(&b, "", "");
    ck_assert_int_eq(list_len(doc, "grants"), 1);
    ck_assert_int_eq(
        keyring_grant_from_json(cJSON_GetArrayItem(keyring_member(doc, "grants"), 0), "NAI", &bad),
        MRF_OK);
    ck_assert_mem_eq(bad.wrapped, g.wrapped, MRF_WRAP);
    answer_devices(doc, l);
    ck_assert(keyring_devices_find(l, b.id)->holds);
    cJSON_Delete(doc);
    doc = send_keyring(&x, "", "");
    ck_assert_int_eq(list_len(doc, "keys"), 0);
    ck_assert_int_eq(list_len(doc, "grants"), 0);
    cJSON_Delete(doc);

    /* rotation: by a holder of epoch 1, not by a non-holder of epoch 2 */
    ann_make(&ann, &a, 2, k2.pk);
    m = members(&ann, NULL);
    cJSON_Delete(send_keyring(&a, "", m));
    x_free(m);
    ck_assert_int_eq(count("SELECT count(*) FROM postkeys WHERE post = 'NAI' AND epoch = 2"), 1);
    ann_make(&bad_ann, &b, 3, kb.pk);
    m = members(&bad_ann, NULL);
    cJSON_Delete(send_keyring(&b, "", m));
    x_free(m);
    ck_assert_int_eq(count("SELECT count(*) FROM postkeys WHERE post = 'NAI' AND epoch = 3"), 0);
    /* the post's key material at HQ: public keys and sealed wraps, never a secret */
    ck_assert_int_eq(count("SELECT count(*) FROM postkey_grants WHERE length(wrapped) = 80"), 1);

    x_free(blob);
    x_free(l);
    buf_release(&ops);
    recip_release(&kb);
    recip_release(&k2);
    recip_release(&k1);
    device_free(&x);
    device_free(&b);
    device_free(&a);
}
END_TEST

/* A device of this release sends version 3 (row-shaped ops); HQ applies them as the per-op
 * form's and answers in version 3, while a device still on version 2 pulls the same ops in
 * version 2, and a version-3 device pulls them row-shaped, writers by index. */
START_TEST(version3_request_applied_and_answered_in_kind)
{
    struct hqtest_device a, old, b;
    struct buf ops, env;
    struct ingest_result r;
    struct cs_writer w;
    struct cs_reader rd;
    struct sync_op op;
    struct mrf_error err = {0};
    uint8_t cs[MRF_ID], gid[MRF_ID], partner[MRF_ID];
    cJSON *doc;
    int n = 0;

    device_new(&a, "NAI");
    a.version = 3;
    mrf_random(gid, sizeof gid);
    mrf_random(partner, sizeof partner);
    buf_init(&ops, WIRE_JSON_MAX);
    changeset_writer_init(&w, 3, 0);
    for (int col = 0; col <= GRANT_STATUS; col++) {
        memset(&op, 0, sizeof op);
        op.tbl = ST_GRANTS;
        memcpy(op.id, gid, MRF_ID);
        op.col = col;
        op.v.type = sync_table_get(ST_GRANTS)->cols[col].type;
        op.v.blob = partner;
        op.v.n = MRF_ID;
        op.v.text = col == GRANT_THEME ? "FOE" : col == GRANT_CURRENCY ? "EUR" : "draft";
        op.v.i = col == GRANT_YEAR ? 2026 : 1250000;
        op.clock = ++a.clock;
        ck_assert_int_eq(changeset_writer_put(&w, &ops, &op), MRF_OK);
    }
    {
        /* one row entry for the six columns: the row id is written once */
        char *hx = hex_encode(gid, MRF_ID);
        ck_assert_ptr_nonnull(strstr(ops.data, hx));
        ck_assert_ptr_null(strstr(strstr(ops.data, hx) + 1, hx));
        x_free(hx);
    }
    seal_request(&a, "NAI", ops.data, cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    ck_assert_str_eq(r.reason, "accepted");
    ck_assert_int_eq(r.ops_applied, 6);
    doc = open_response(&a, &r, cs); /* "v" is 3: checked there */
    cJSON_Delete(doc);
    ingest_result_release(&r);
    buf_release(&env);
    ck_assert_int_eq(count("SELECT count(*) FROM grants WHERE amount_cents = 1250000 AND "
                           "theme = 'FOE' AND year = 2026 AND status = 'draft'"),
                     1);

    /* a version-2 device pulls them per op, in version 2 */
    device_new(&old, "NAI");
    seal_request(&old, "NAI", "", cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    doc = open_response(&old, &r, cs);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "ops")), 6);
    cJSON_Delete(doc);
    ingest_result_release(&r);
    buf_release(&env);

    /* a version-3 device pulls them in one row entry, read back as the six ops */
    device_new(&b, "NAI");
    b.version = 3;
    seal_request(&b, "NAI", "", cs, &env);
    ck_assert_uint_eq(ingest(&env, &r), 200);
    doc = open_response(&b, &r, cs);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "ops")), 1);
    changeset_reader_init(&rd, cJSON_GetObjectItemCaseSensitive(doc, "ops"), 3, 1, NULL);
    while (changeset_reader_next(&rd, &op, &err) == MRF_OK) {
        ck_assert_mem_eq(op.id, gid, MRF_ID);
        ck_assert_mem_eq(op.device, a.id, MRF_ID);
        ck_assert_int_eq(op.col, n);
        sync_op_release(&op);
        n++;
    }
    ck_assert_int_eq(n, 6);
    cJSON_Delete(doc);
    ingest_result_release(&r);
    buf_release(&env);
    buf_release(&ops);
    device_free(&a);
    device_free(&old);
    device_free(&b);
}
END_TEST

/* A malformed version-3 op quarantines its change set with the reader's message. */
START_TEST(version3_malformed_quarantined)
{
    struct hqtest_device a;

    device_new(&a, "NAI");
    enroll_with_grant(&a, NULL); /* in version 2 */
    a.version = 3;
    expect_quarantine(&a, "[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,100,0]]",
                      "bad_op: clock is not");
    expect_quarantine(&a, "[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,100,\"0000000000000001\"],7]",
                      "bad_op: not a column entry");
    device_free(&a);
}
END_TEST

/* ---- volume bounds per device, and rows that can never be valid -------------------------- */

/* HQ's operator's bounds, straight into the store (0: the default). `mrf-hq limits set`
 * never puts the per-change-set bound below CHANGESET_OPS_MAX; the store takes any, so these
 * tests stay small. */
static void set_limits(int64_t per_changeset, int64_t per_hour)
{
    struct hq_limits l = {per_changeset, per_hour};
    ck_assert_int_eq(hqstore_limits_set(store, &l), MRF_OK);
}

/* d's hour, as HQ counts it, began an hour earlier than it did: it is over. */
static void hour_passes(const struct hqtest_device *d)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;

    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "UPDATE devices SET window_start = window_start - 3600"
                                        " WHERE id = ?1",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(s, 1, d->id, MRF_ID, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
    ck_assert_int_eq(sqlite3_changes(db), 1);
    sqlite3_finalize(s);
    sqlite3_close_v2(db);
}

/* The ops d's hour holds, as HQ counts them. */
static int64_t window_ops(const struct hqtest_device *d)
{
    char sql[128], *hx = hex_encode(d->id, MRF_ID);

    snprintf(sql, sizeof sql, "SELECT window_ops FROM devices WHERE id = x'%s'", hx);
    x_free(hx);
    return count(sql);
}

/* A new grant of d, sealed: OUT env (the caller releases it). */
static void grant_env(struct hqtest_device *d, struct buf *env)
{
    struct buf ops;
    uint8_t cs[MRF_ID], gid[MRF_ID];

    mrf_random(gid, sizeof gid);
    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(d, &ops, gid, "FOE", "draft", 500);
    seal_request(d, d->post, ops.data, cs, env);
    buf_release(&ops);
}

/* env is refused for d's volume with status and reason, the refusal's body starts with
 * body, and nothing changed. OUT: *retry_after (if not NULL), the 429's Retry-After. */
static void expect_over(const struct buf *env, unsigned status, const char *reason,
                        const char *body, int64_t *retry_after)
{
    struct counts before = snap();
    struct ingest_result r;

    ck_assert_uint_eq(ingest(env, &r), status);
    ck_assert_str_eq(r.reason, reason);
    ck_assert_msg(strncmp(r.response.data, body, strlen(body)) == 0, "body %s", r.response.data);
    ck_assert_int_eq(r.ops_applied, 0);
    ck_assert_counts_eq(snap(), before);
    if (retry_after != NULL)
        *retry_after = r.retry_after;
    ingest_result_release(&r);
}

static void expect_status(const struct buf *env, unsigned status, const char *reason)
{
    struct ingest_result r;

    ck_assert_uint_eq(ingest(env, &r), status);
    ck_assert_str_eq(r.reason, reason);
    ingest_result_release(&r);
}

/* A change set over the per-change-set bound is refused as a whole (413), nothing applied and
 * nothing recorded, so the same change set is taken once the bound is raised. */
START_TEST(changeset_over_bound_refused_whole)
{
    struct hqtest_device d;
    struct buf env;

    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    set_limits(3, 0);
    grant_env(&d, &env);
    expect_over(&env, 413, "over_changeset_bound", "over_changeset_bound\nbound=3\nused=6\nops=6\n",
                NULL);
    ck_assert_int_eq(window_ops(&d), 6);
    set_limits(0, 0); /* the default again */
    expect_status(&env, 200, "accepted");
    buf_release(&env);
    device_free(&d);
}
END_TEST

/* Over the hourly bound: 429 with the bound, what the hour holds and when it ends; nothing
 * applied or counted; another device of the post is not held back; pulls still go; the same
 * change set is taken once the device's hour is over. */
START_TEST(hourly_bound_refuses_until_the_hour_is_over)
{
    struct hqtest_device a, b;
    struct buf env, pull, ops;
    uint8_t cs[MRF_ID], gid[MRF_ID];
    int64_t after = 0;

    set_limits(0, 10);
    device_new(&a, "NAI");
    enroll_with_grant(&a, NULL);
    grant_env(&a, &env);
    expect_over(&env, 429, "over_hourly_bound",
                "over_hourly_bound\nbound=10\nused=6\nops=6\nretry_after=", &after);
    ck_assert_msg(after > 0 && after <= HQ_WINDOW_S, "retry after %lld", (long long)after);
    ck_assert_int_eq(window_ops(&a), 6);
    seal_request(&a, a.post, "", cs, &pull);
    expect_status(&pull, 200, "accepted");

    device_new(&b, "NAI");
    enroll_with_grant(&b, gid);
    buf_init(&ops, WIRE_JSON_MAX);
    add_int(&b, &ops, ST_GRANTS, gid, 3, 900); /* 6 + 1: within b's own hour */
    expect_accepted_ops(&b, ops.data);

    hour_passes(&a);
    expect_status(&env, 200, "accepted");
    ck_assert_int_eq(window_ops(&a), 6);
    buf_release(&ops);
    buf_release(&pull);
    buf_release(&env);
    device_free(&a);
    device_free(&b);
}
END_TEST

/* The device's hour is kept in the store: a restart forgets nothing. The operator's setting
 * changes the bound from the next change set on. */
START_TEST(bound_survives_restart_and_setting_raises_it)
{
    struct hqtest_device d;
    struct buf env;
    struct mrf_error err = {0};

    set_limits(0, 10);
    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    grant_env(&d, &env);
    expect_over(&env, 429, "over_hourly_bound", "over_hourly_bound\nbound=10\n", NULL);
    hqstore_close(store);
    ck_assert_msg(hqstore_open(home, HQSTORE_EXISTING, &store, &err) == MRF_OK, "%s", err.msg);
    expect_over(&env, 429, "over_hourly_bound", "over_hourly_bound\nbound=10\nused=6\n", NULL);
    set_limits(0, 12);
    expect_status(&env, 200, "accepted");
    buf_release(&env);
    device_free(&d);
}
END_TEST

/* A change set within the per-change-set bound that finds the device's hour empty is taken
 * even when it alone is over the hourly bound: nothing a device may send waits for ever. */
START_TEST(empty_hour_takes_one_changeset)
{
    struct hqtest_device d;
    struct buf env;

    set_limits(0, 2);
    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL); /* 6 ops into an empty hour */
    grant_env(&d, &env);
    expect_over(&env, 429, "over_hourly_bound", "over_hourly_bound\nbound=2\nused=6\nops=6\n",
                NULL);
    hour_passes(&d);
    expect_status(&env, 200, "accepted");
    buf_release(&env);
    device_free(&d);
}
END_TEST

/* Columns of a row HQ does not hold for the post, without the columns such a row cannot be
 * without, can never form a valid row: the change set is quarantined as a whole, with the
 * table, the row's code and the first column missing; a version-1 device gets the same. */
START_TEST(quarantine_columns_of_a_row_nobody_created)
{
    struct hqtest_device d, old;
    struct buf ops;
    uint8_t gid[MRF_ID], pid[MRF_ID], tid[MRF_ID], name[2 + 8 * 80 + 24 + 32 + 16];
    struct sync_value blob = {.type = SYNC_BLOB, .blob = name, .n = sizeof name};
    char code[16], why[128], *hx;

    device_new(&d, "NAI");
    enroll_with_grant(&d, NULL);
    buf_init(&ops, WIRE_JSON_MAX);
    mrf_random(gid, sizeof gid);
    add_int(&d, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 100);
    add_text(&d, &ops, ST_GRANTS, gid, GRANT_STATUS, "draft");
    shortcode_make("G", gid, code);
    snprintf(why, sizeof why, "a new row must carry its required columns: grants %s has no partner",
             code);
    expect_quarantine(&d, ops.data, why);

    /* a whole grant beside it is not taken either */
    buf_reset(&ops);
    grant_ops(&d, &ops, gid, "FOE", "draft", 100);
    add_int(&d, &ops, ST_GRANTS, gid, GRANT_REMOVED, 0);
    mrf_random(pid, sizeof pid);
    frame_random(name, sizeof name);
    add_op(&d, &ops, ST_PARTNERS, pid, PARTNER_NAME, &blob);
    shortcode_make("PX", pid, code);
    snprintf(why, sizeof why, "a new row must carry its required columns: partners %s has no risk",
             code);
    expect_quarantine(&d, ops.data, why);

    /* a removal alone of a theme nobody chose */
    buf_reset(&ops);
    row_id_derive(tid, "themes", "NAI", 2027, "ACC");
    add_int(&d, &ops, ST_THEMES, tid, THEME_REMOVED, 1);
    hx = hex_encode(tid, 4);
    snprintf(why, sizeof why, "a new row must carry its required columns: themes %s has no year",
             hx);
    expect_quarantine(&d, ops.data, why);

    device_new(&old, "NAI");
    old.version = 1;
    enroll_with_grant(&old, NULL);
    buf_reset(&ops);
    add_int(&old, &ops, ST_GRANTS, gid, GRANT_YEAR, 2026);
    expect_quarantine(&old, ops.data, "a new row must carry its required columns: grants");
    expect_accepted(&d);
    x_free(hx);
    buf_release(&ops);
    device_free(&d);
    device_free(&old);
}
END_TEST

/* What devices send is taken however they split it: a new row's creating writes in any order
 * among other rows' writes, later edits and removals in later change sets (also of removed
 * rows), another device's edits of a row it pulled, and a set-aside write to a theme row that
 * the post's other device created. */
START_TEST(rows_split_as_devices_split_them_taken)
{
    struct hqtest_device a, b;
    struct buf ops;
    uint8_t gid[MRF_ID], pid[MRF_ID], tid[MRF_ID], name[2 + 8 * 80 + 24 + 32 + 16];
    struct sync_value blob = {.type = SYNC_BLOB, .blob = name, .n = sizeof name};
    struct sync_value ref = {.type = SYNC_BLOB, .blob = pid, .n = MRF_ID};

    device_new(&a, "NAI");
    enroll_with_grant(&a, NULL);
    mrf_random(gid, sizeof gid);
    mrf_random(pid, sizeof pid);
    frame_random(name, sizeof name);
    row_id_derive(tid, "themes", "NAI", 2026, "FOE");
    buf_init(&ops, WIRE_JSON_MAX);
    /* the grant's writes in reverse, the partner's and the theme's between them */
    add_int(&a, &ops, ST_GRANTS, gid, GRANT_REMOVED, 0);
    add_text(&a, &ops, ST_GRANTS, gid, GRANT_STATUS, "draft");
    add_text(&a, &ops, ST_PARTNERS, pid, PARTNER_RISK, "high");
    add_text(&a, &ops, ST_GRANTS, gid, GRANT_CURRENCY, "EUR");
    add_int(&a, &ops, ST_THEMES, tid, THEME_YEAR, 2026);
    add_int(&a, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 700);
    add_op(&a, &ops, ST_PARTNERS, pid, PARTNER_NAME, &blob);
    add_int(&a, &ops, ST_GRANTS, gid, GRANT_YEAR, 2026);
    add_text(&a, &ops, ST_THEMES, tid, THEME_THEME, "FOE");
    add_text(&a, &ops, ST_GRANTS, gid, GRANT_THEME, "FOE");
    add_int(&a, &ops, ST_THEMES, tid, THEME_REMOVED, 0);
    add_op(&a, &ops, ST_GRANTS, gid, GRANT_PARTNER, &ref);
    expect_accepted_ops(&a, ops.data);
    /* later: an edit, a removal, then an edit of the removed partner */
    buf_reset(&ops);
    add_int(&a, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 800);
    add_int(&a, &ops, ST_PARTNERS, pid, PARTNER_REMOVED, 1);
    expect_accepted_ops(&a, ops.data);
    buf_reset(&ops);
    add_text(&a, &ops, ST_PARTNERS, pid, PARTNER_RISK, "low");
    expect_accepted_ops(&a, ops.data);
    /* the post's other device edits the grant and drops the theme it pulled */
    device_new(&b, "NAI");
    enroll_with_grant(&b, NULL);
    buf_reset(&ops);
    add_text(&b, &ops, ST_GRANTS, gid, GRANT_STATUS, "committed");
    add_int(&b, &ops, ST_THEMES, tid, THEME_REMOVED, 1);
    expect_accepted_ops(&b, ops.data);
    ck_assert_int_eq(count("SELECT count(*) FROM received WHERE verdict = 'quarantined'"), 0);
    buf_release(&ops);
    device_free(&a);
    device_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ingest");
    TCase *ok = tcase_create("accepted");
    TCase *no = tcase_create("refused");
    TCase *q = tcase_create("quarantine");
    TCase *pool = tcase_create("handles");
    TCase *race = tcase_create("enrollment race");
    TCase *vol = tcase_create("volume");
    TCase *all[] = {ok, no, q, pool, race, vol};

    if (mrfcrypto_init() != MRF_OK)
        return EXIT_FAILURE;
    log_set(stderr, LOG_ERROR);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        tcase_add_checked_fixture(all[i], setup, teardown);
        tcase_set_timeout(all[i], 120);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(ok, first_changeset_enrolls_and_applies);
    tcase_add_test(ok, version3_request_applied_and_answered_in_kind);
    tcase_add_test(ok, version3_malformed_quarantined);
    tcase_add_test(ok, body_over_value_bound_refused);
    tcase_add_test(ok, replay_applies_nothing_and_repeats_ack);
    tcase_add_test(ok, pull_page_costs_its_page_not_the_oplog);
    tcase_add_test(ok, answer_passes_own_ops_unread);
    tcase_add_test(ok, edited_row_read_once);
    tcase_add_test(ok, unseen_writes_read_once_per_changeset);
    tcase_add_test(ok, unseen_writes_read_within_the_window);
    tcase_add_test(ok, theme_change_costs_the_same_whatever_the_oplog);
    tcase_add_test(ok, second_device_pulls_first_devices_ops);
    tcase_add_test(ok, pages_until_everything_pulled_once);
    tcase_add_test(no, token_used_by_another_device);
    tcase_add_test(no, token_expired);
    tcase_add_test(no, bad_token);
    tcase_add_test(no, wrong_post);
    tcase_add_test(no, unknown_device);
    tcase_add_test(no, device_revoked);
    tcase_add_test(no, known_device_with_other_keys_refused);
    tcase_add_test(no, changeset_id_of_another_device_refused);
    tcase_add_test(no, tampered_envelope_refused);
    tcase_add_test(no, garbage_and_empty_body_refused);
    tcase_add_test(no, body_over_env_max_refused);
    tcase_add_test(no, response_kind_refused);
    tcase_add_test(no, disk_full_answers_503_and_stores_nothing);
    tcase_add_test(q, quarantine_allocation_from_device);
    tcase_add_test(q, quarantine_unknown_grant_status);
    tcase_add_test(q, quarantine_unknown_theme);
    tcase_add_test(q, quarantine_malformed_op);
    tcase_add_test(q, quarantine_damaged_sealed_field);
    tcase_add_test(q, rows_of_another_post_stay_apart);
    tcase_add_test(q, cursor_counts_own_post_only);
    tcase_add_test(q, clock_ahead_is_restamped);
    tcase_add_test(ok, keyring_relayed_never_read);
    tcase_add_test(pool, two_handles_interleave);
    tcase_add_test(pool, row_created_then_written_by_another_handle);
    tcase_add_test(race, first_syncs_race_both_accepted);
    tcase_add_test(race, same_first_changeset_twice_at_once_replays);
    tcase_add_test(race, enrollment_race_with_other_keys_refused);
    tcase_add_test(race, enrollment_race_token_used_by_another_device);
    tcase_add_test(vol, changeset_over_bound_refused_whole);
    tcase_add_test(vol, hourly_bound_refuses_until_the_hour_is_over);
    tcase_add_test(vol, bound_survives_restart_and_setting_raises_it);
    tcase_add_test(vol, empty_hour_takes_one_changeset);
    tcase_add_test(q, quarantine_columns_of_a_row_nobody_created);
    tcase_add_test(q, rows_split_as_devices_split_them_taken);
    return testutil_run(s);
}

/* Check suite for HQ's audit chain (hq/audit.c, hq/audit_verify.c, hq/hqstore_audit.c), in
 * process, on a real HQ store in a temporary directory. Change sets reach the chain through
 * real hq_ingest calls (devices are key pairs sealing request envelopes here), HQ's own ops
 * through hq_audit_ops_body and hqstore_apply as `mrf-hq allocate` writes them. Faults are
 * made through a separate SQLite connection that drops the append-only triggers and changes
 * one byte, as an attacker with the file would; verify must name the entry. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>
#include <sqlite3.h>

#include "testutil.h"
#include "hqtest.h"
#include "common.h"
#include "hq.h"
#include "hqstore.h"
#include "mrfcrypto.h"
#include "mrfsync.h"

static char home[64], dbpath[128];
static struct hqstore *store;
static struct hq_identity ident;

static void setup(void)
{
    hqtest_setup("audit", home, dbpath, &store, &ident);
}

static void teardown(void)
{
    hqtest_teardown(home, &store, &ident);
}

/* ---- devices and their change sets --------------------------------------------------------- */

static void device_new(struct hqtest_device *d, const char *post)
{
    hqtest_device_new(store, d, post);
}

static void device_free(struct hqtest_device *d)
{
    hqtest_device_free(d);
}

static void add_op(struct hqtest_device *d, struct buf *ops, enum sync_table t, const uint8_t *id,
                   int col, const struct sync_value *v, hlc_t clock)
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

/* A new grant of amount; with ahead, its amount carries a clock a week ahead (restamped). */
static void grant_ops(struct hqtest_device *d, struct buf *ops, int64_t amount, int ahead)
{
    uint8_t gid[MRF_ID], partner[MRF_ID];
    struct sync_value v = {.type = SYNC_BLOB, .blob = partner, .n = MRF_ID};

    mrf_random(gid, sizeof gid);
    mrf_random(partner, sizeof partner);
    add_op(d, ops, ST_GRANTS, gid, GRANT_PARTNER, &v, ++d->clock);
    v = (struct sync_value){.type = SYNC_TEXT, .text = "FOE"};
    add_op(d, ops, ST_GRANTS, gid, GRANT_THEME, &v, ++d->clock);
    v = (struct sync_value){.type = SYNC_INT, .i = 2026};
    add_op(d, ops, ST_GRANTS, gid, GRANT_YEAR, &v, ++d->clock);
    v = (struct sync_value){.type = SYNC_INT, .i = amount};
    add_op(d, ops, ST_GRANTS, gid, GRANT_AMOUNT, &v,
           ahead ? hlc_make(time_now_ms() + 7u * 86400000u, 0) : ++d->clock);
    v = (struct sync_value){.type = SYNC_TEXT, .text = "EUR"};
    add_op(d, ops, ST_GRANTS, gid, GRANT_CURRENCY, &v, ++d->clock);
    v = (struct sync_value){.type = SYNC_TEXT, .text = "draft"};
    add_op(d, ops, ST_GRANTS, gid, GRANT_STATUS, &v, ++d->clock);
}

/* d sends one change set holding ops; asserts it is accepted. */
static void send_cs(struct hqtest_device *d, const char *ops)
{
    struct envelope h;
    struct buf json, env;
    struct ingest_result r;
    struct mrf_error err = {0};
    char *sec = b64url_encode(d->secret, MRF_SECRET);

    memset(&h, 0, sizeof h);
    h.kind = ENV_REQUEST;
    memcpy(h.sender, d->id, MRF_ID);
    mrf_random(h.changeset, MRF_ID);
    str_copy(h.post, d->post, sizeof h.post);
    buf_init(&json, WIRE_JSON_MAX);
    if (d->enroll) {
        h.flags = ENV_F_ENROLL;
        memcpy(h.token_id, d->token_id, MRF_ID);
        h.keys = d->keys->pub;
        ck_assert_int_eq(
            buf_printf(&json, "{\"v\":2,\"cursor\":0,\"enroll\":{\"secret\":\"%s\"},", sec),
            MRF_OK);
    } else {
        ck_assert_int_eq(buf_puts(&json, "{\"v\":2,\"cursor\":0,"), MRF_OK);
    }
    ck_assert_int_eq(buf_printf(&json, "\"ops\":[%s]}", ops), MRF_OK);
    buf_init(&env, ENV_MAX);
    ck_assert_msg(
        envelope_seal(&h, json.data, json.len, d->keys, ident.cfg.hq.box_pk, &env, &err) == MRF_OK,
        "%s", err.msg);
    ingest_result_init(&r);
    ck_assert_int_eq(hq_ingest(store, &ident, (const uint8_t *)env.data, env.len, &r), MRF_OK);
    ck_assert_msg(r.http_status == 200, "ingest: %u %s", r.http_status, r.reason);
    d->enroll = 0;
    ingest_result_release(&r);
    buf_release(&env);
    buf_release(&json);
    x_free(sec);
}

static void send_grant(struct hqtest_device *d, int64_t amount, int ahead)
{
    struct buf ops;

    buf_init(&ops, WIRE_JSON_MAX);
    grant_ops(d, &ops, amount, ahead);
    send_cs(d, ops.data);
    buf_release(&ops);
}

/* HQ allocates amount to post for 2026 as `mrf-hq allocate` does: three ops, one entry. */
static void allocate(const char *post, int64_t amount)
{
    struct sync_op ops[3];
    struct buf body;
    uint8_t id[MRF_ID];
    hlc_t clock;
    int applied;

    row_id_derive(id, "allocations", post, 2026, NULL);
    ck_assert_int_eq(hqstore_begin(store), MRF_OK);
    ck_assert_int_eq(hqstore_clock_get(store, &clock), MRF_OK);
    memset(ops, 0, sizeof ops);
    for (int i = 0; i < 3; i++) {
        ops[i].tbl = ST_ALLOCATIONS;
        memcpy(ops[i].id, id, MRF_ID);
        ops[i].col = i;
        clock = hlc_tick_bounded(clock, time_now_ms());
        ops[i].clock = clock;
        memcpy(ops[i].device, ident.cfg.device_id, MRF_ID);
    }
    ops[0].v = (struct sync_value){.type = SYNC_INT, .i = 2026};
    ops[1].v = (struct sync_value){.type = SYNC_INT, .i = amount};
    ops[2].v = (struct sync_value){.type = SYNC_TEXT, .text = "EUR"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(hqstore_apply(store, post, &ops[i], &applied), MRF_OK);
        ck_assert_int_eq(applied, 1);
    }
    buf_init(&body, WIRE_JSON_MAX);
    ck_assert_int_eq(hq_audit_ops_body(&body, post, "\"year\":2026", ops, 3), MRF_OK);
    ck_assert_int_eq(hq_audit_append(store, ident.keys, "allocate", post, "{}",
                                     (const uint8_t *)body.data, body.len, 1, NULL),
                     MRF_OK);
    ck_assert_int_eq(hqstore_clock_save(store, clock), MRF_OK);
    ck_assert_int_eq(hqstore_commit(store), MRF_OK);
    buf_release(&body);
}

/* A store with 8 entries: two devices of two posts (enrolment and later change sets, one
 * restamped), an allocation, a reveal. */
static void build_history(void)
{
    struct hqtest_device a, b;
    const char *reveal = "{\"v\":1,\"what\":\"post\",\"post\":\"NAI\",\"purpose\":\"test\"}";

    device_new(&a, "NAI");
    device_new(&b, "GVA");
    send_grant(&a, 100000, 0); /* 1 */
    send_grant(&b, 200000, 0); /* 2 */
    send_grant(&a, 300000, 0); /* 3 */
    send_grant(&a, 400000, 1); /* 4: restamped */
    allocate("NAI", 5000000);  /* 5 */
    send_grant(&b, 500000, 0); /* 6 */
    ck_assert_int_eq(hqstore_begin(store), MRF_OK);
    ck_assert_int_eq(hq_audit_append(store, ident.keys, "reveal", "NAI", "{}",
                                     (const uint8_t *)reveal, strlen(reveal), 2, NULL),
                     MRF_OK); /* 7 */
    ck_assert_int_eq(hqstore_commit(store), MRF_OK);
    send_grant(&b, 600000, 0); /* 8 */
    device_free(&a);
    device_free(&b);
}

/* ---- faults, made as an attacker with the file would --------------------------------------- */

static void sql(const char *q)
{
    sqlite3 *db = NULL;
    char *msg = NULL;

    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db, q, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", q, msg);
    sqlite3_close_v2(db);
}

/* Flips one bit of byte `at` of blob column col of table's row seq. */
static void flip(const char *table, const char *col, int64_t seq, int at)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    uint8_t *v;
    int n;
    char *q;

    sql("DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_entries_no_update");
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    q = xasprintf("SELECT %s FROM %s WHERE seq = %lld", col, table, (long long)seq);
    ck_assert_int_eq(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    x_free(q);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_bytes(st, 0);
    ck_assert_int_gt(n, at);
    v = xmalloc((size_t)n);
    memcpy(v, sqlite3_column_blob(st, 0), (size_t)n);
    sqlite3_finalize(st);
    v[at] ^= 1;
    q = xasprintf("UPDATE %s SET %s = ?1 WHERE seq = %lld", table, col, (long long)seq);
    ck_assert_int_eq(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    x_free(q);
    sqlite3_bind_blob(st, 1, v, n, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close_v2(db);
    x_free(v);
}

static int64_t count_restamped(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;

    ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM audit_entries WHERE meta LIKE"
                                        " '{\"restamp\":{\"above\":\"%\",\"to\":\"%\"}}'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close_v2(db);
    return n;
}

static void verify(struct hq_audit_report *rep)
{
    struct mrf_error err = {0};

    ck_assert_msg(hq_audit_verify(store, ident.keys, rep, &err) == MRF_OK, "%s", err.msg);
}

static void expect_bad(int64_t seq, const char *words)
{
    struct hq_audit_report rep;
    char want[64];

    verify(&rep);
    ck_assert_msg(!rep.holds, "verify holds, want entry %lld named", (long long)seq);
    ck_assert_int_eq(rep.bad_seq, seq);
    snprintf(want, sizeof want, "audit entry %lld", (long long)seq);
    ck_assert_msg(strstr(rep.problem, want) == rep.problem, "%s", rep.problem);
    ck_assert_msg(strstr(rep.problem, words) != NULL, "want \"%s\" in: %s", words, rep.problem);
}

/* ---- the chain --------------------------------------------------------------------------- */

struct seen {
    int n;
    struct hq_audit_entry e[8];
    char meta[8][64];
    uint8_t body[8][128];
};

static enum mrf_status collect(void *arg, const struct hq_audit_entry *e)
{
    struct seen *s = arg;

    ck_assert_int_lt(s->n, 8);
    s->e[s->n] = *e;
    str_copy(s->meta[s->n], e->meta, sizeof s->meta[0]);
    ck_assert_uint_le(e->body_len, sizeof s->body[0]);
    memcpy(s->body[s->n], e->body, e->body_len);
    s->e[s->n].meta = s->meta[s->n];
    s->e[s->n].body = s->body[s->n];
    s->n++;
    return MRF_OK;
}

START_TEST(append_scan_chain)
{
    static const char *const bodies[] = {"one", "{\"two\":2}", "three"};
    static const char *const kinds[] = {"changeset", "allocate", "reveal"};
    struct audit_head head, last;
    struct seen s;
    uint8_t zero[32] = {0}, h[32], both[64];
    int64_t seq;

    ck_assert_int_eq(hq_audit_head(store, ident.keys, &head), MRF_OK);
    ck_assert_int_eq(head.seq, 0);
    ck_assert_mem_eq(head.hash, zero, 32);
    /* outside a transaction: refused, nothing written */
    ck_assert_int_eq(
        hq_audit_append(store, ident.keys, "reveal", "NAI", "{}", (const uint8_t *)"x", 1, 5, NULL),
        MRF_E_STATE);
    ck_assert_int_eq(hqstore_audit_last(store, &seq, h), MRF_OK);
    ck_assert_int_eq(seq, 0);

    ck_assert_int_eq(hqstore_begin(store), MRF_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(
            hq_audit_append(store, ident.keys, kinds[i], "NAI", i == 0 ? "{\"restamp\":{}}" : "{}",
                            (const uint8_t *)bodies[i], strlen(bodies[i]), 100 + i, &last),
            MRF_OK);
    ck_assert_int_eq(hqstore_commit(store), MRF_OK);

    memset(&s, 0, sizeof s);
    ck_assert_int_eq(hqstore_audit_scan(store, 0, collect, &s), MRF_OK);
    ck_assert_int_eq(s.n, 3);
    for (int i = 0; i < 3; i++) {
        const struct hq_audit_entry *e = &s.e[i];
        ck_assert_int_eq(e->seq, i + 1);
        ck_assert_int_eq(e->at, 100 + i);
        ck_assert_str_eq(e->kind, kinds[i]);
        ck_assert_str_eq(e->post, "NAI");
        ck_assert(e->has_body);
        ck_assert_str_eq(e->meta, i == 0 ? "{\"restamp\":{}}" : "{}");
        ck_assert_uint_eq(e->body_len, strlen(bodies[i]));
        ck_assert_mem_eq(e->body, bodies[i], e->body_len);
        mrf_hash(h, 32, e->body, e->body_len, NULL, 0);
        ck_assert_mem_eq(e->envelope_hash, h, 32);
        ck_assert_mem_eq(e->prev_hash, i == 0 ? zero : s.e[i - 1].chain_hash, 32);
        memcpy(both, e->prev_hash, 32);
        memcpy(both + 32, h, 32);
        mrf_hash(h, 32, both, 64, NULL, 0);
        ck_assert_mem_eq(e->chain_hash, h, 32);
    }
    /* the head: the last link, signed */
    ck_assert_int_eq(hq_audit_head(store, ident.keys, &head), MRF_OK);
    ck_assert_int_eq(head.seq, 3);
    ck_assert_mem_eq(head.hash, s.e[2].chain_hash, 32);
    ck_assert_mem_eq(last.hash, head.hash, 32);
    ck_assert_int_eq(audit_head_verify(&head, ident.keys->pub.sign_pk), MRF_OK);
    /* after seq 2: only the third */
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(hqstore_audit_scan(store, 2, collect, &s), MRF_OK);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.e[0].seq, 3);
    /* append-only */
    {
        sqlite3 *db = NULL;
        ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
        ck_assert_int_ne(sqlite3_exec(db, "UPDATE audit_entries SET post = 'GVA'", 0, 0, 0),
                         SQLITE_OK);
        ck_assert_int_ne(sqlite3_exec(db, "DELETE FROM audit_entries", 0, 0, 0), SQLITE_OK);
        sqlite3_close_v2(db);
    }
}
END_TEST

START_TEST(entry_signatures)
{
    struct mrf_secrets *other = NULL;
    struct hq_audit_entry e;
    struct seen s;

    ck_assert_int_eq(hqstore_begin(store), MRF_OK);
    ck_assert_int_eq(hq_audit_append(store, ident.keys, "reveal", "NAI", "{}",
                                     (const uint8_t *)"body", 4, 7, NULL),
                     MRF_OK);
    ck_assert_int_eq(hq_audit_append(store, ident.keys, "allocate", NULL, "{}",
                                     (const uint8_t *)"b2", 2, 8, NULL),
                     MRF_OK);
    ck_assert_int_eq(hqstore_commit(store), MRF_OK);
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(hqstore_audit_scan(store, 0, collect, &s), MRF_OK);
    ck_assert_int_eq(s.n, 2);
    ck_assert_str_eq(s.e[1].post, "");
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(hq_audit_entry_verify(&s.e[i], ident.keys->pub.sign_pk), MRF_OK);
    /* another key; and every signed field, changed, breaks it */
    mrf_secrets_new(&other);
    ck_assert_int_eq(hq_audit_entry_verify(&s.e[0], other->pub.sign_pk), MRF_E_AUTH);
    mrf_secrets_free(other);
    e = s.e[0];
    e.seq = 9;
    ck_assert_int_eq(hq_audit_entry_verify(&e, ident.keys->pub.sign_pk), MRF_E_AUTH);
    e = s.e[0];
    e.at++;
    ck_assert_int_eq(hq_audit_entry_verify(&e, ident.keys->pub.sign_pk), MRF_E_AUTH);
    e = s.e[0];
    str_copy(e.kind, "resolve", sizeof e.kind);
    ck_assert_int_eq(hq_audit_entry_verify(&e, ident.keys->pub.sign_pk), MRF_E_AUTH);
    e = s.e[0];
    str_copy(e.post, "GVA", sizeof e.post);
    ck_assert_int_eq(hq_audit_entry_verify(&e, ident.keys->pub.sign_pk), MRF_E_AUTH);
    e = s.e[0];
    e.meta = "{ }";
    ck_assert_int_eq(hq_audit_entry_verify(&e, ident.keys->pub.sign_pk), MRF_E_AUTH);
    e = s.e[0];
    e.chain_hash[31] ^= 1;
    ck_assert_int_eq(hq_audit_entry_verify(&e, ident.keys->pub.sign_pk), MRF_E_AUTH);
}
END_TEST

START_TEST(ops_body_replays)
{
    struct sync_op op, back;
    struct buf b;
    struct mrf_error err;
    cJSON *doc;
    const cJSON *ops;

    memset(&op, 0, sizeof op);
    op.tbl = ST_ALLOCATIONS;
    mrf_random(op.id, MRF_ID);
    op.col = ALLOC_AMOUNT;
    op.v = (struct sync_value){.type = SYNC_INT, .i = 123456};
    op.clock = hlc_make(time_now_ms(), 3);
    memcpy(op.device, ident.cfg.device_id, MRF_ID);
    buf_init(&b, WIRE_JSON_MAX);
    ck_assert_int_eq(
        hq_audit_ops_body(&b, "NAI", "\"conflict\":\"C-7K2M9Q\",\"decision\":\"set\"", &op, 1),
        MRF_OK);
    doc = wire_json_parse(b.data, b.len);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(doc, "v")->valueint, 1);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(doc, "post")->valuestring, "NAI");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(doc, "decision")->valuestring, "set");
    ops = cJSON_GetObjectItemCaseSensitive(doc, "ops");
    ck_assert_int_eq(cJSON_GetArraySize(ops), 1);
    ck_assert_int_eq(op_from_json(cJSON_GetArrayItem(ops, 0), 1, NULL, &back, &err), MRF_OK);
    ck_assert_int_eq(back.tbl, op.tbl);
    ck_assert_mem_eq(back.id, op.id, MRF_ID);
    ck_assert_int_eq(back.col, op.col);
    ck_assert_int_eq(back.v.i, op.v.i);
    ck_assert_uint_eq(back.clock, op.clock);
    ck_assert_mem_eq(back.device, op.device, MRF_ID);
    sync_op_release(&back);
    cJSON_Delete(doc);
    /* no fields, no ops */
    ck_assert_int_eq(hq_audit_ops_body(&b, "GVA", "", NULL, 0), MRF_OK);
    ck_assert_str_eq(b.data, "{\"v\":1,\"post\":\"GVA\",\"ops\":[]}");
    buf_release(&b);
}
END_TEST

/* ---- verify ------------------------------------------------------------------------------ */

START_TEST(verify_holds_after_ingest)
{
    struct hq_audit_report rep;

    verify(&rep); /* an empty chain holds */
    ck_assert_msg(rep.holds, "%s", rep.problem);
    ck_assert_int_eq(rep.entries, 0);
    build_history();
    ck_assert_int_eq(count_restamped(), 1);
    verify(&rep);
    ck_assert_msg(rep.holds, "%s", rep.problem);
    ck_assert_int_eq(rep.entries, 8);
    ck_assert_int_eq(rep.changesets, 6);
    ck_assert_int_eq(rep.hq_entries, 2);
    ck_assert_int_eq(rep.ops, 6 * 6 + 3);
    ck_assert_int_eq(rep.bad_seq, 0);
    ck_assert_str_eq(rep.problem, "");
    ck_assert_int_eq(rep.head.seq, 8);
    ck_assert_int_eq(audit_head_verify(&rep.head, ident.keys->pub.sign_pk), MRF_OK);
}
END_TEST

START_TEST(verify_names_flipped_envelope_byte)
{
    build_history();
    flip("audit_entries", "body", 3, 100);
    expect_bad(3, "stored envelope does not match its hash");
}
END_TEST

START_TEST(verify_names_flipped_hq_body_byte)
{
    build_history();
    flip("audit_entries", "body", 5, 10);
    expect_bad(5, "stored body does not match its hash");
}
END_TEST

START_TEST(verify_names_flipped_signature)
{
    build_history();
    flip("audit_entries", "sig", 6, 20);
    expect_bad(6, "signature");
}
END_TEST

START_TEST(verify_names_flipped_chain_hash)
{
    build_history();
    flip("audit", "chain_hash", 4, 0);
    expect_bad(4, "chain hash");
}
END_TEST

START_TEST(verify_names_flipped_meta)
{
    build_history();
    sql("DROP TRIGGER audit_entries_no_update;"
        "UPDATE audit_entries SET meta = replace(meta, '\"to\"', '\"tO\"') WHERE seq = 4");
    expect_bad(4, "signature");
}
END_TEST

START_TEST(verify_names_deleted_entry)
{
    build_history();
    sql("DROP TRIGGER audit_no_delete; DROP TRIGGER audit_entries_no_delete;"
        "DELETE FROM audit WHERE seq = 5; DELETE FROM audit_entries WHERE seq = 5");
    expect_bad(6, "skips from entry 4 to 6");
}
END_TEST

START_TEST(verify_names_entry_without_link)
{
    build_history();
    sql("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 8");
    expect_bad(8, "link is missing");
}
END_TEST

START_TEST(verify_names_changed_table_row)
{
    struct hq_audit_report rep;

    build_history();
    sql("UPDATE grants SET amount_cents = amount_cents + 1 WHERE amount_cents = 300000");
    verify(&rep);
    ck_assert(!rep.holds);
    ck_assert_int_eq(rep.bad_seq, 0);
    ck_assert_msg(strstr(rep.problem, "grants: post NAI, grants G-") != NULL &&
                      strstr(rep.problem, "amount_cents") != NULL,
                  "%s", rep.problem);
    sql("UPDATE grants SET amount_cents = amount_cents - 1 WHERE amount_cents = 300001;"
        "DELETE FROM clocks WHERE tbl = 3");
    verify(&rep);
    ck_assert(!rep.holds);
    ck_assert_msg(strstr(rep.problem, "clocks: post NAI, clock of allocations") != NULL, "%s",
                  rep.problem);
}
END_TEST

START_TEST(verify_refuses_legacy_link)
{
    uint8_t h[32] = {1}, chain[32], both[64] = {0};
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    /* a hash-only link as ingest wrote it before store version 3, then a new entry */
    memcpy(both + 32, h, 32);
    mrf_hash(chain, 32, both, 64, NULL, 0);
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "INSERT INTO audit (envelope_hash, prev_hash, chain_hash,"
                                        " at) VALUES (?1, zeroblob(32), ?2, 1)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, chain, 32, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close_v2(db);
    allocate("NAI", 100);
    expect_bad(1, "cannot be replayed");
}
END_TEST

START_TEST(verify_refuses_other_keys)
{
    struct hq_audit_report rep;
    struct mrf_secrets *real = ident.keys;

    build_history();
    mrf_secrets_new(&ident.keys);
    verify(&rep);
    ck_assert(!rep.holds);
    ck_assert_msg(strstr(rep.problem, "hq.keys") != NULL, "%s", rep.problem);
    mrf_secrets_free(ident.keys);
    ident.keys = real;
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hq_audit");
    TCase *chain = tcase_create("chain");
    TCase *ver = tcase_create("verify");
    TCase *all[] = {chain, ver};

    if (mrfcrypto_init() != MRF_OK)
        return EXIT_FAILURE;
    log_set(stderr, LOG_ERROR);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        tcase_add_checked_fixture(all[i], setup, teardown);
        tcase_set_timeout(all[i], 120);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(chain, append_scan_chain);
    tcase_add_test(chain, entry_signatures);
    tcase_add_test(chain, ops_body_replays);
    tcase_add_test(ver, verify_holds_after_ingest);
    tcase_add_test(ver, verify_names_flipped_envelope_byte);
    tcase_add_test(ver, verify_names_flipped_hq_body_byte);
    tcase_add_test(ver, verify_names_flipped_signature);
    tcase_add_test(ver, verify_names_flipped_chain_hash);
    tcase_add_test(ver, verify_names_flipped_meta);
    tcase_add_test(ver, verify_names_deleted_entry);
    tcase_add_test(ver, verify_names_entry_without_link);
    tcase_add_test(ver, verify_names_changed_table_row);
    tcase_add_test(ver, verify_refuses_legacy_link);
    tcase_add_test(ver, verify_refuses_other_keys);
    return testutil_run(s);
}

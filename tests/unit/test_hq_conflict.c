/* Check suite for HQ's conflict queue: detection (hq/conflict.c), the records
 * (hq/hqstore_conflict.c) and HQ's decisions (hq/decide.c), in process, on a real HQ store in a
 * temporary directory. Devices send sealed change sets through hq_ingest, so every record is
 * found the way the server finds it: inside the change set's transaction, beside the merge.
 * HQ's own writes (an allocation) are HQ ops followed by hq_conflict_recheck, as `mrf-hq
 * allocate` does; decisions go through hq_resolve in a transaction, as `mrf-hq resolve` does.
 * A device's cursor (what it had pulled) is set by hand: that is what makes writes concurrent.
 * One test case per behaviour. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

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

/* ---- devices ----------------------------------------------------------------------------- */

/* Three devices of NAI, one of GVA; enrolled by their first change set. */
static struct hqtest_device A, B, C, G;

static void device_new(struct hqtest_device *d, const char *post)
{
    hqtest_device_new(store, d, post);
}

static void setup(void)
{
    hqtest_setup("conflict", home, dbpath, &store, &ident);
    device_new(&A, "NAI");
    device_new(&B, "NAI");
    device_new(&C, "NAI");
    device_new(&G, "GVA");
}

static void teardown(void)
{
    mrf_secrets_free(A.keys);
    mrf_secrets_free(B.keys);
    mrf_secrets_free(C.keys);
    mrf_secrets_free(G.keys);
    hqtest_teardown(home, &store, &ident);
}

/* ---- what HQ holds ----------------------------------------------------------------------- */

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

/* The post's last sequence number: a device that pulled everything has it as its cursor. */
static int64_t post_seq(const char *post)
{
    char sql[128];

    snprintf(sql, sizeof sql, "SELECT coalesce(max(pseq), 0) FROM oplog WHERE post = '%s'", post);
    return count(sql);
}

/* The device pulled everything there is; its clock moves past HQ's. */
static void pull(struct hqtest_device *d)
{
    hlc_t hq = 0;

    d->cursor = post_seq(d->post);
    ck_assert_int_eq(hqstore_clock_get(store, &hq), MRF_OK);
    d->clock = hlc_max(d->clock, hq);
}

static int64_t audit_seq(void)
{
    int64_t seq = 0;
    uint8_t hash[32];

    ck_assert_int_eq(hqstore_audit_last(store, &seq, hash), MRF_OK);
    return seq;
}

/* A grant's column: its clock and writer at HQ. */
static hlc_t col_clock(const uint8_t gid[MRF_ID], int col, uint8_t dev[MRF_ID])
{
    hlc_t c = 0;
    uint8_t d[MRF_ID];
    int found = 0;

    ck_assert_int_eq(hqstore_column_clock(store, "NAI", ST_GRANTS, gid, col, &c, d, &found),
                     MRF_OK);
    ck_assert(found);
    if (dev != NULL)
        memcpy(dev, d, MRF_ID);
    return c;
}

static int64_t grant_int(const uint8_t gid[MRF_ID], const char *col)
{
    char sql[256], *hx = hex_encode(gid, MRF_ID);
    int64_t v;

    snprintf(sql, sizeof sql, "SELECT %s FROM grants WHERE post = 'NAI' AND id = x'%s'", col, hx);
    v = count(sql);
    x_free(hx);
    return v;
}

static void grant_text(const uint8_t gid[MRF_ID], const char *col, char *out, size_t n)
{
    char sql[256], *hx = hex_encode(gid, MRF_ID);
    sqlite3 *ro = NULL;
    sqlite3_stmt *s = NULL;

    snprintf(sql, sizeof sql, "SELECT %s FROM grants WHERE post = 'NAI' AND id = x'%s'", col, hx);
    ck_assert_int_eq(sqlite3_open_v2(dbpath, &ro, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(ro, sql, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    str_copy(out, (const char *)sqlite3_column_text(s, 0), n);
    sqlite3_finalize(s);
    sqlite3_close_v2(ro);
    x_free(hx);
}

/* The live themes of NAI for year, "FOE WGR" (theme order). */
static void live_themes(int year, char *out, size_t n)
{
    char sql[256];
    sqlite3 *ro = NULL;
    sqlite3_stmt *s = NULL;

    out[0] = '\0';
    snprintf(sql, sizeof sql,
             "SELECT coalesce(group_concat(theme, ' '), '') FROM (SELECT theme FROM themes WHERE "
             "post = 'NAI' AND year = %d AND removed = 0 ORDER BY theme)",
             year);
    ck_assert_int_eq(sqlite3_open_v2(dbpath, &ro, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(ro, sql, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    str_copy(out, (const char *)sqlite3_column_text(s, 0), n);
    sqlite3_finalize(s);
    sqlite3_close_v2(ro);
}

/* ---- the records ------------------------------------------------------------------------- */

#define MAX_RECS 512
struct recs {
    int n;
    struct hq_conflict v[MAX_RECS];
};

static enum mrf_status recs_add(void *arg, const struct hq_conflict *c)
{
    struct recs *r = arg;

    ck_assert_int_lt(r->n, MAX_RECS);
    r->v[r->n++] = *c;
    return MRF_OK;
}

/* Every record of post (open and closed). Caller frees. */
static struct recs *all_recs(const char *post)
{
    struct recs *r = xcalloc(1, sizeof *r);

    ck_assert_int_eq(hqstore_conflict_list(store, post, 1, recs_add, r), MRF_OK);
    return r;
}

/* How many records of post have rule (and subject, if not NULL), open (1) or closed (0); OUT:
 * the last of them in *out (if not NULL). */
static int recs_of(const char *post, const char *rule, const char *subject, int open,
                   struct hq_conflict *out)
{
    struct recs *r = all_recs(post);
    int n = 0;

    for (int i = 0; i < r->n; i++) {
        const struct hq_conflict *c = &r->v[i];
        if (strcmp(c->rule, rule) != 0 || (subject != NULL && strcmp(c->subject, subject) != 0) ||
            (c->closed_at == 0) != open)
            continue;
        n++;
        if (out != NULL)
            *out = *c;
    }
    x_free(r);
    return n;
}

static int64_t open_count(const char *post)
{
    int64_t n = -1;

    ck_assert_int_eq(hqstore_conflict_count_open(store, post, &n), MRF_OK);
    return n;
}

static int64_t last_cseq(const char *post)
{
    char sql[128];

    snprintf(sql, sizeof sql, "SELECT coalesce(max(cseq), 0) FROM conflicts WHERE post = '%s'",
             post);
    return count(sql);
}

static void rec_get(const char *id, struct hq_conflict *c)
{
    ck_assert_int_eq(hqstore_conflict_get(store, id, c), MRF_OK);
}

/* ---- change sets ------------------------------------------------------------------------- */

/* A previous write an op names (what the device had when it wrote). */
struct prev {
    hlc_t clock;
    uint8_t device[MRF_ID];
};

/* HQ's current write of a grant's column, as a device that had pulled it would name it. */
static struct prev prev_now(const uint8_t gid[MRF_ID], int col)
{
    struct prev p;

    p.clock = col_clock(gid, col, p.device);
    return p;
}

/* Appends one op of d at clock, naming prev (if not NULL) as the write it replaces. */
static void put_at(struct hqtest_device *d, struct buf *ops, enum sync_table t,
                   const uint8_t id[MRF_ID], int col, const struct sync_value *v, hlc_t clock,
                   const struct prev *prev)
{
    struct sync_op op;

    memset(&op, 0, sizeof op);
    op.tbl = t;
    memcpy(op.id, id, MRF_ID);
    op.col = col;
    op.v = *v;
    op.clock = clock;
    memcpy(op.device, d->id, MRF_ID);
    if (prev != NULL) {
        op.prev_clock = prev->clock;
        op.has_prev_device = 1;
        memcpy(op.prev_device, prev->device, MRF_ID);
    }
    if (ops->len > 0)
        ck_assert_int_eq(buf_puts(ops, ","), MRF_OK);
    ck_assert_int_eq(op_to_json(&op, 0, ops), MRF_OK);
}

static void put_int(struct hqtest_device *d, struct buf *ops, enum sync_table t, const uint8_t *id,
                    int col, int64_t i, const struct prev *prev)
{
    struct sync_value v = {.type = SYNC_INT, .i = i};
    put_at(d, ops, t, id, col, &v, ++d->clock, prev);
}

static void put_text(struct hqtest_device *d, struct buf *ops, enum sync_table t, const uint8_t *id,
                     int col, const char *s, const struct prev *prev)
{
    struct sync_value v = {.type = SYNC_TEXT, .text = s};
    put_at(d, ops, t, id, col, &v, ++d->clock, prev);
}

/* The ops of a new grant of NAI on partner (a random id if NULL). */
static void grant_ops(struct hqtest_device *d, struct buf *ops, const uint8_t gid[MRF_ID],
                      const uint8_t *partner, const char *theme, int year, int64_t amount,
                      const char *status)
{
    uint8_t p[MRF_ID];
    struct sync_value v = {.type = SYNC_BLOB, .blob = p, .n = MRF_ID};

    if (partner != NULL)
        memcpy(p, partner, MRF_ID);
    else
        mrf_random(p, sizeof p);
    put_at(d, ops, ST_GRANTS, gid, GRANT_PARTNER, &v, ++d->clock, NULL);
    put_text(d, ops, ST_GRANTS, gid, GRANT_THEME, theme, NULL);
    put_int(d, ops, ST_GRANTS, gid, GRANT_YEAR, year, NULL);
    put_int(d, ops, ST_GRANTS, gid, GRANT_AMOUNT, amount, NULL);
    put_text(d, ops, ST_GRANTS, gid, GRANT_CURRENCY, "EUR", NULL);
    put_text(d, ops, ST_GRANTS, gid, GRANT_STATUS, status, NULL);
}

/* The ops of a partner row (risk and removal flag; its sealed fields are not needed here). */
static void partner_ops(struct hqtest_device *d, struct buf *ops, const uint8_t pid[MRF_ID],
                        int removed)
{
    put_text(d, ops, ST_PARTNERS, pid, PARTNER_RISK, "medium", NULL);
    put_int(d, ops, ST_PARTNERS, pid, PARTNER_REMOVED, removed, NULL);
}

/* A theme of NAI for year, live or removed (its row id is derived, as devices derive it). */
static void theme_op(struct hqtest_device *d, struct buf *ops, int year, const char *theme,
                     int removed)
{
    uint8_t id[MRF_ID];

    row_id_derive(id, "themes", "NAI", year, theme);
    put_int(d, ops, ST_THEMES, id, THEME_YEAR, year, NULL);
    put_text(d, ops, ST_THEMES, id, THEME_THEME, theme, NULL);
    put_int(d, ops, ST_THEMES, id, THEME_REMOVED, removed, NULL);
}

/* Sends ops (JSON list items, may be empty) as one change set of d; HQ must accept it.
 * Returns the ops applied; ops is reset. */
static int64_t send_cs(struct hqtest_device *d, struct buf *ops)
{
    struct envelope h;
    struct buf json, env;
    struct ingest_result r;
    struct mrf_error err = {0};
    char *sec = b64url_encode(d->secret, MRF_SECRET);
    int64_t applied;

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
        ck_assert_int_eq(buf_printf(&json,
                                    "{\"v\":%d,\"cursor\":%lld,\"enroll\":{\"secret\":\"%s\"},"
                                    "\"ops\":[",
                                    d->version, (long long)d->cursor, sec),
                         MRF_OK);
    } else {
        ck_assert_int_eq(buf_printf(&json, "{\"v\":%d,\"cursor\":%lld,\"ops\":[", d->version,
                                    (long long)d->cursor),
                         MRF_OK);
    }
    ck_assert_int_eq(buf_puts(&json, ops->data ? ops->data : ""), MRF_OK);
    ck_assert_int_eq(buf_puts(&json, "]}"), MRF_OK);
    buf_init(&env, ENV_MAX);
    ck_assert_msg(
        envelope_seal(&h, json.data, json.len, d->keys, ident.cfg.hq.box_pk, &env, &err) == MRF_OK,
        "%s", err.msg);
    ingest_result_init(&r);
    ck_assert_msg(hq_ingest(store, &ident, (const uint8_t *)env.data, env.len, &r) == MRF_OK, "%s",
                  hqstore_errmsg(store));
    ck_assert_msg(r.http_status == 200 && strcmp(r.reason, "accepted") == 0, "%u %s", r.http_status,
                  r.reason);
    applied = r.ops_applied;
    d->enroll = 0;
    ingest_result_release(&r);
    buf_release(&env);
    buf_release(&json);
    x_free(sec);
    buf_reset(ops);
    return applied;
}

/* The scene most cases start from: A chooses FOE and WGR for 2026 and records grant gid (FOE,
 * 2026, 12500.00, draft); B and C enroll; everyone has pulled everything. No record. */
static void scene(uint8_t gid[MRF_ID], char code[16])
{
    struct buf ops;

    mrf_random(gid, MRF_ID);
    shortcode_make("G", gid, code);
    buf_init(&ops, WIRE_JSON_MAX);
    theme_op(&A, &ops, 2026, "FOE", 0);
    theme_op(&A, &ops, 2026, "WGR", 0);
    grant_ops(&A, &ops, gid, NULL, "FOE", 2026, 1250000, "draft");
    ck_assert_int_eq(send_cs(&A, &ops), 12);
    ck_assert_int_eq(send_cs(&B, &ops), 0);
    ck_assert_int_eq(send_cs(&C, &ops), 0);
    pull(&A);
    pull(&B);
    pull(&C);
    ck_assert_int_eq(count("SELECT count(*) FROM conflicts"), 0);
    buf_release(&ops);
}

/* ---- HQ's own writes and decisions ------------------------------------------------------- */

/* `mrf-hq allocate NAI year amount`: HQ's ops, then the year's rules re-checked. */
static void allocate(int year, int64_t cents)
{
    struct hq_config cfg;
    struct sync_op op;
    uint8_t id[MRF_ID];
    hlc_t clock;
    int applied;
    int64_t now = (int64_t)(time_now_ms() / 1000u);
    const struct {
        int col;
        struct sync_value v;
    } cols[] = {{ALLOC_YEAR, {.type = SYNC_INT, .i = year}},
                {ALLOC_AMOUNT, {.type = SYNC_INT, .i = cents}},
                {ALLOC_CURRENCY, {.type = SYNC_TEXT, .text = "EUR"}}};

    ck_assert_int_eq(hqstore_begin(store), MRF_OK);
    ck_assert_int_eq(hqstore_config_get(store, &cfg), MRF_OK);
    row_id_derive(id, "allocations", "NAI", year, NULL);
    clock = cfg.clock;
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        memset(&op, 0, sizeof op);
        op.tbl = ST_ALLOCATIONS;
        memcpy(op.id, id, MRF_ID);
        op.col = cols[i].col;
        op.v = cols[i].v;
        clock = hlc_tick_bounded(clock, time_now_ms());
        op.clock = clock;
        memcpy(op.device, cfg.device_id, MRF_ID);
        ck_assert_int_eq(hqstore_apply(store, "NAI", &op, &applied), MRF_OK);
        ck_assert_int_eq(applied, 1);
    }
    ck_assert_int_eq(hqstore_clock_save(store, clock), MRF_OK);
    ck_assert_int_eq(hq_conflict_recheck(store, "NAI", year, now), MRF_OK);
    ck_assert_int_eq(hqstore_commit(store), MRF_OK);
}

/* A decision on id, as `mrf-hq resolve` makes it: one transaction, committed if it succeeds.
 * set: "NAME=VALUE" for HQ_SET (else NULL). OUT: *ops, the ops written (may be NULL). A
 * refusal is rolled back by the caller's transaction, but must have written nothing even
 * inside it: checked here, before the rollback, for the record, grant gid (if not NULL) and
 * the audit chain. */
static enum mrf_status resolve(const char *id, enum hq_resolve_form form, char side,
                               const char *set, const uint8_t *gid, int *ops, struct mrf_error *err)
{
    struct hq_resolve r;
    struct hq_resolved out;
    struct hq_conflict before, after;
    char name[32];
    hlc_t amount_clock = 0;
    int64_t audit = audit_seq();
    enum mrf_status rc;

    memset(&r, 0, sizeof r);
    str_copy(r.id, id, sizeof r.id);
    r.form = form;
    r.side = side;
    r.reason = "decided in the test";
    r.note = "";
    if (set != NULL) {
        const char *eq = strchr(set, '=');
        ck_assert_ptr_nonnull(eq);
        snprintf(name, sizeof name, "%.*s", (int)(eq - set), set);
        str_copy(r.set_name[0], name, sizeof r.set_name[0]);
        r.set_value[0] = eq + 1;
        r.nset = 1;
    }
    memset(err, 0, sizeof *err);
    rec_get(id, &before);
    if (gid != NULL)
        amount_clock = col_clock(gid, GRANT_AMOUNT, NULL);
    ck_assert_int_eq(hqstore_begin(store), MRF_OK);
    rc = hq_resolve(store, ident.keys, &r, &out, err);
    if (rc == MRF_OK) {
        ck_assert_str_eq(out.id, id);
        ck_assert_str_eq(out.post, before.post);
        if (ops != NULL)
            *ops = out.ops;
        ck_assert_int_eq(hqstore_commit(store), MRF_OK);
        ck_assert_int_eq(audit_seq(), audit + 1);
        return rc;
    }
    /* nothing written, even inside the transaction */
    rec_get(id, &after);
    ck_assert_int_eq(after.closed_at, before.closed_at);
    ck_assert_int_eq(after.cseq, before.cseq);
    ck_assert_str_eq(after.decision, before.decision);
    if (gid != NULL)
        ck_assert_uint_eq(col_clock(gid, GRANT_AMOUNT, NULL), amount_clock);
    ck_assert_int_eq(audit_seq(), audit);
    hqstore_rollback(store);
    return rc;
}

/* ---- value records ----------------------------------------------------------------------- */

/* The value record of the integration test, in small: A and B change one amount while both
 * are offline, A's write reaching HQ first. B's write has the later clock (the merge keeps B)
 * if b_wins, else the earlier one (a device whose clock is behind: the merge keeps A). From
 * there on, scene + this is the start of the decision cases. */
static void concurrent_amounts(const uint8_t gid[MRF_ID], const char *code, int b_wins,
                               struct hq_conflict *rec)
{
    struct buf ops;
    struct prev base = prev_now(gid, GRANT_AMOUNT);
    char subject[64];
    uint8_t dev[MRF_ID];
    hlc_t a_clock, b_clock;

    buf_init(&ops, WIRE_JSON_MAX);
    put_int(&A, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 1200000, &base);
    ck_assert_int_eq(send_cs(&A, &ops), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM conflicts"), 0);
    a_clock = col_clock(gid, GRANT_AMOUNT, NULL);
    B.clock = b_wins ? hlc_max(B.clock, a_clock) : base.clock;
    put_int(&B, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 1300000, &base);
    b_clock = B.clock;
    ck_assert_int_eq(send_cs(&B, &ops), b_wins ? 1 : 0); /* a losing write is kept in the record */
    snprintf(subject, sizeof subject, "%s amount_cents", code);
    ck_assert_int_eq(recs_of("NAI", "concurrent_edit", NULL, 1, rec), 1);
    ck_assert_int_eq(open_count("NAI"), 1);
    ck_assert_str_eq(rec->kind, "value");
    ck_assert_str_eq(rec->subject, subject);
    ck_assert_str_eq(rec->rows, code);
    ck_assert_int_eq(rec->year, 2026);
    ck_assert_int_eq(rec->has_col, 1);
    ck_assert_int_eq(rec->tbl, ST_GRANTS);
    ck_assert_mem_eq(rec->row_id, gid, MRF_ID);
    ck_assert_int_eq(rec->col, GRANT_AMOUNT);
    ck_assert_str_eq(rec->base, "1250000");
    ck_assert_int_eq(rec->has_a, 1);
    ck_assert_str_eq(rec->a_value, "1200000");
    ck_assert_mem_eq(rec->a_device, A.id, MRF_ID);
    ck_assert_uint_eq(rec->a_clock, a_clock);
    ck_assert_int_eq(rec->has_b, 1);
    ck_assert_str_eq(rec->b_value, "1300000");
    ck_assert_mem_eq(rec->b_device, B.id, MRF_ID);
    ck_assert_uint_eq(rec->b_clock, b_clock);
    ck_assert_int_eq(rec->closed_at, 0);
    ck_assert_str_eq(rec->decision, "");
    ck_assert_msg(strstr(rec->detail, b_wins ? "keeps B" : "keeps A") != NULL, "%s", rec->detail);
    /* the merge kept the later write */
    ck_assert_int_eq(grant_int(gid, "amount_cents"), b_wins ? 1300000 : 1200000);
    ck_assert_uint_eq(col_clock(gid, GRANT_AMOUNT, dev), b_wins ? b_clock : a_clock);
    ck_assert_mem_eq(dev, b_wins ? B.id : A.id, MRF_ID);
    buf_release(&ops);
}

/* Two devices write one amount, each naming a previous write HQ no longer holds: one value
 * record with the replaced value, both sides, writers and clocks. A third concurrent write
 * while it is open updates the same record: one open, same id, a newer cseq. */
START_TEST(value_record_opens_once_and_updates)
{
    uint8_t gid[MRF_ID];
    char code[16];
    struct hq_conflict rec, again;
    struct buf ops;
    struct prev base;

    scene(gid, code);
    base = prev_now(gid, GRANT_AMOUNT);
    concurrent_amounts(gid, code, 1, &rec);
    ck_assert_int_gt(rec.cseq, 0);

    buf_init(&ops, WIRE_JSON_MAX);
    C.clock = hlc_max(C.clock, rec.b_clock);
    put_int(&C, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 1400000, &base);
    ck_assert_int_eq(send_cs(&C, &ops), 1);
    ck_assert_int_eq(recs_of("NAI", "concurrent_edit", NULL, 1, &again), 1);
    ck_assert_int_eq(recs_of("NAI", "concurrent_edit", NULL, 0, NULL), 0);
    ck_assert_int_eq(open_count("NAI"), 1);
    ck_assert_str_eq(again.id, rec.id);
    ck_assert_int_gt(again.cseq, rec.cseq);
    ck_assert_int_eq(again.opened_at, rec.opened_at);
    /* A is now what HQ held when C's write arrived (B's), B the write that arrived */
    ck_assert_str_eq(again.a_value, "1300000");
    ck_assert_mem_eq(again.a_device, B.id, MRF_ID);
    ck_assert_uint_eq(again.a_clock, rec.b_clock);
    ck_assert_str_eq(again.b_value, "1400000");
    ck_assert_mem_eq(again.b_device, C.id, MRF_ID);
    ck_assert_str_eq(again.base, "1250000");
    buf_release(&ops);
}
END_TEST

/* A write naming HQ's current write as the one it replaces is sequential, not concurrent:
 * nothing is opened or changed. */
START_TEST(value_prev_matches_opens_nothing)
{
    uint8_t gid[MRF_ID];
    char code[16];
    struct buf ops;
    struct prev cur;

    scene(gid, code);
    buf_init(&ops, WIRE_JSON_MAX);
    cur = prev_now(gid, GRANT_AMOUNT);
    put_int(&B, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 1300000, &cur);
    ck_assert_int_eq(send_cs(&B, &ops), 1);
    pull(&A);
    cur = prev_now(gid, GRANT_AMOUNT);
    A.clock = hlc_max(A.clock, cur.clock);
    put_int(&A, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 1400000, &cur);
    ck_assert_int_eq(send_cs(&A, &ops), 1);
    ck_assert_int_eq(grant_int(gid, "amount_cents"), 1400000);
    ck_assert_int_eq(count("SELECT count(*) FROM conflicts"), 0);
    buf_release(&ops);
}
END_TEST

/* One device overwriting its own write, even naming an old previous write, is no conflict. */
START_TEST(value_same_writer_opens_nothing)
{
    uint8_t gid[MRF_ID];
    char code[16];
    struct buf ops;
    struct prev old;

    scene(gid, code);
    buf_init(&ops, WIRE_JSON_MAX);
    old = prev_now(gid, GRANT_AMOUNT);
    put_int(&A, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 1300000, &old);
    ck_assert_int_eq(send_cs(&A, &ops), 1);
    put_int(&A, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 1400000, &old); /* stale prev, same writer */
    ck_assert_int_eq(send_cs(&A, &ops), 1);
    put_int(&A, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 1500000, NULL); /* no prev at all */
    ck_assert_int_eq(send_cs(&A, &ops), 1);
    ck_assert_int_eq(grant_int(gid, "amount_cents"), 1500000);
    ck_assert_int_eq(count("SELECT count(*) FROM conflicts"), 0);
    buf_release(&ops);
}
END_TEST

/* Two devices writing the same value concurrently: a parallel record, closed at once with
 * decision "info", never counted as open. */
START_TEST(value_same_value_is_parallel_and_closed)
{
    uint8_t gid[MRF_ID];
    char code[16], subject[64];
    struct buf ops;
    struct prev base;
    struct hq_conflict rec;

    scene(gid, code);
    buf_init(&ops, WIRE_JSON_MAX);
    base = prev_now(gid, GRANT_AMOUNT);
    put_int(&A, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 800000, &base);
    ck_assert_int_eq(send_cs(&A, &ops), 1);
    put_int(&B, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 800000, &base);
    send_cs(&B, &ops);
    snprintf(subject, sizeof subject, "%s amount_cents", code);
    ck_assert_int_eq(recs_of("NAI", "same_value", subject, 0, &rec), 1);
    ck_assert_int_eq(recs_of("NAI", "same_value", NULL, 1, NULL), 0);
    ck_assert_int_eq(recs_of("NAI", "concurrent_edit", NULL, 1, NULL), 0);
    ck_assert_str_eq(rec.kind, "parallel");
    ck_assert_str_eq(rec.decision, "info");
    ck_assert_int_ne(rec.closed_at, 0);
    ck_assert_str_eq(rec.a_value, "800000");
    ck_assert_str_eq(rec.b_value, "800000");
    ck_assert_str_eq(rec.base, "1250000");
    ck_assert_int_eq(open_count("NAI"), 0);
    ck_assert_int_eq(open_count(NULL), 0);
    buf_release(&ops);
}
END_TEST

/* The converge seed 446966289, in small: two pairs on one amount, n3/n1 both writing 51819.91
 * and n2/n1 both writing 36486.19. C (far ahead: HQ restamps it) writes X first; B (a real
 * clock, so it loses to C's restamped write) had written X too, in a change set frozen by an
 * interrupted sync, and then Y, after it. B's next sync sends the frozen X first: concurrent
 * and equal, a same_value record only. Its answer brings C's X, which beats B's pending Y, so
 * B sets Y aside and sends it in the same sync: it had not seen C's X and differs from it, so
 * HQ opens the value record, about B's Y and not about B's X. A (far ahead too) then writes Y,
 * having seen neither: the same record, updated. The sync that brought B's X touched a value
 * record, but that record is another write's, which its sides say. */
START_TEST(value_record_names_the_write_that_differs)
{
    uint8_t gid[MRF_ID];
    char code[16], subject[64];
    struct buf ops;
    struct prev base, b_x;
    struct hq_conflict same, rec, again;
    struct sync_value x = {.type = SYNC_INT, .i = 5181991}, y = {.type = SYNC_INT, .i = 3648619};
    hlc_t ahead = hlc_bound(time_now_ms()) + hlc_make(3600000, 0), c_clock, b_y;

    scene(gid, code);
    snprintf(subject, sizeof subject, "%s amount_cents", code);
    buf_init(&ops, WIRE_JSON_MAX);
    base = prev_now(gid, GRANT_AMOUNT);
    /* B's two writes, both before it pulls anything: X, frozen; then Y, naming its own X */
    B.clock = base.clock;
    b_x.clock = ++B.clock;
    memcpy(b_x.device, B.id, MRF_ID);
    b_y = ++B.clock;
    /* C's X, sequential to the base, restamped to HQ's clock: past both of B's */
    put_at(&C, &ops, ST_GRANTS, gid, GRANT_AMOUNT, &x, ahead, &base);
    ck_assert_int_eq(send_cs(&C, &ops), 1);
    c_clock = col_clock(gid, GRANT_AMOUNT, NULL);
    ck_assert_uint_gt(c_clock, b_y);
    ck_assert_int_eq(recs_of("NAI", "concurrent_edit", NULL, 1, NULL), 0);
    ck_assert_int_eq(recs_of("NAI", "same_value", NULL, 0, NULL), 0);

    /* B's frozen X: concurrent with C's X, equal: parallel and closed, no value record */
    put_at(&B, &ops, ST_GRANTS, gid, GRANT_AMOUNT, &x, b_x.clock, &base);
    ck_assert_int_eq(send_cs(&B, &ops), 0);
    ck_assert_int_eq(recs_of("NAI", "same_value", subject, 0, &same), 1);
    ck_assert_str_eq(same.a_value, "5181991");
    ck_assert_mem_eq(same.a_device, C.id, MRF_ID);
    ck_assert_str_eq(same.b_value, "5181991");
    ck_assert_mem_eq(same.b_device, B.id, MRF_ID);
    ck_assert_uint_eq(same.b_clock, b_x.clock);
    ck_assert_int_eq(recs_of("NAI", "concurrent_edit", NULL, 1, NULL), 0);
    ck_assert_int_eq(recs_of("NAI", "concurrent_edit", NULL, 0, NULL), 0);

    /* B's Y, set aside after the pull: it replaced B's own X, not C's: a value record */
    put_at(&B, &ops, ST_GRANTS, gid, GRANT_AMOUNT, &y, b_y, &b_x);
    ck_assert_int_eq(send_cs(&B, &ops), 0); /* it loses to C's X, and is kept in the record */
    ck_assert_int_eq(recs_of("NAI", "concurrent_edit", subject, 1, &rec), 1);
    ck_assert_str_eq(rec.kind, "value");
    ck_assert_str_eq(rec.a_value, "5181991");
    ck_assert_mem_eq(rec.a_device, C.id, MRF_ID);
    ck_assert_uint_eq(rec.a_clock, c_clock);
    ck_assert_str_eq(rec.b_value, "3648619");
    ck_assert_mem_eq(rec.b_device, B.id, MRF_ID);
    ck_assert_uint_eq(rec.b_clock, b_y);
    ck_assert_msg(strstr(rec.detail, "keeps A") != NULL, "%s", rec.detail);
    ck_assert_int_eq(recs_of("NAI", "same_value", NULL, 0, NULL), 1);
    ck_assert_int_eq(grant_int(gid, "amount_cents"), 5181991);

    /* A's Y, far ahead too (restamped past C's), naming the base: the same record, updated */
    put_at(&A, &ops, ST_GRANTS, gid, GRANT_AMOUNT, &y, ahead, &base);
    ck_assert_int_eq(send_cs(&A, &ops), 1);
    ck_assert_int_eq(recs_of("NAI", "concurrent_edit", subject, 1, &again), 1);
    ck_assert_int_eq(recs_of("NAI", "concurrent_edit", NULL, 0, NULL), 0);
    ck_assert_str_eq(again.id, rec.id);
    ck_assert_int_gt(again.cseq, rec.cseq);
    ck_assert_str_eq(again.a_value, "5181991");
    ck_assert_mem_eq(again.a_device, C.id, MRF_ID);
    ck_assert_str_eq(again.b_value, "3648619");
    ck_assert_mem_eq(again.b_device, A.id, MRF_ID);
    ck_assert_str_eq(again.base, "1250000");
    ck_assert_msg(strstr(again.detail, "keeps B") != NULL, "%s", again.detail);
    ck_assert_int_eq(recs_of("NAI", "same_value", NULL, 0, NULL), 1);
    ck_assert_int_eq(grant_int(gid, "amount_cents"), 3648619);
    buf_release(&ops);
}
END_TEST

/* The converge seed 1522648303, in small: A and B change one amount offline, B's clock behind.
 * B's write reaches HQ first and loses the merge to the write HQ holds (A's own earlier one):
 * a value record keeps it. A's write then names that earlier write of its own, which HQ still
 * holds: sequential, so nothing is opened or changed, though A never saw B's write. It could
 * not have: a write that lost was never HQ's value, and no device pulls it. Their concurrency
 * is in the record B's arrival opened. */
START_TEST(value_lost_write_stays_in_its_record)
{
    uint8_t gid[MRF_ID];
    char code[16], subject[64];
    struct buf ops;
    struct prev base, a_own;
    struct hq_conflict rec, after;

    scene(gid, code);
    snprintf(subject, sizeof subject, "%s amount_cents", code);
    buf_init(&ops, WIRE_JSON_MAX);
    base = prev_now(gid, GRANT_AMOUNT);
    /* A's own earlier write, which B never pulls */
    put_int(&A, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 644852, &base);
    ck_assert_int_eq(send_cs(&A, &ops), 1);
    a_own = prev_now(gid, GRANT_AMOUNT);
    /* B, a year behind, names the base: concurrent, and it loses */
    B.clock = base.clock;
    put_int(&B, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 1550912, &base);
    ck_assert_int_eq(send_cs(&B, &ops), 0);
    ck_assert_int_eq(recs_of("NAI", "concurrent_edit", subject, 1, &rec), 1);
    ck_assert_str_eq(rec.a_value, "644852");
    ck_assert_mem_eq(rec.a_device, A.id, MRF_ID);
    ck_assert_str_eq(rec.b_value, "1550912");
    ck_assert_mem_eq(rec.b_device, B.id, MRF_ID);
    ck_assert_msg(strstr(rec.detail, "keeps A") != NULL, "%s", rec.detail);
    /* A's next write, made without pulling, names its own write HQ holds: sequential */
    put_int(&A, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 2525813, &a_own);
    ck_assert_int_eq(send_cs(&A, &ops), 1);
    ck_assert_int_eq(grant_int(gid, "amount_cents"), 2525813);
    rec_get(rec.id, &after);
    ck_assert_int_eq(after.cseq, rec.cseq);
    ck_assert_int_eq(after.closed_at, 0);
    ck_assert_int_eq(recs_of("NAI", "concurrent_edit", NULL, 1, NULL), 1);
    ck_assert_int_eq(recs_of("NAI", "concurrent_edit", NULL, 0, NULL), 0);
    ck_assert_int_eq(recs_of("NAI", "same_value", NULL, 0, NULL), 0);
    buf_release(&ops);
}
END_TEST

/* ---- parallel: other columns ------------------------------------------------------------- */

/* B writes the amount while A wrote the end date after B's cursor: one closed parallel record.
 * Had B pulled A's write first, none. */
START_TEST(parallel_other_columns)
{
    uint8_t gid[MRF_ID];
    char code[16];
    struct buf ops;
    struct prev amount;
    struct hq_conflict rec;
    int64_t before;

    scene(gid, code);
    buf_init(&ops, WIRE_JSON_MAX);
    put_text(&A, &ops, ST_GRANTS, gid, GRANT_END, "2026-12-31", NULL);
    ck_assert_int_eq(send_cs(&A, &ops), 1);
    amount = prev_now(gid, GRANT_AMOUNT);
    B.clock = hlc_max(B.clock, A.clock);
    put_int(&B, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 810000, &amount);
    ck_assert_int_eq(send_cs(&B, &ops), 1); /* B's cursor is before A's end date */
    ck_assert_int_eq(recs_of("NAI", "other_columns", code, 0, &rec), 1);
    ck_assert_int_eq(recs_of("NAI", "other_columns", NULL, 1, NULL), 0);
    ck_assert_str_eq(rec.kind, "parallel");
    ck_assert_str_eq(rec.decision, "info");
    ck_assert_int_ne(rec.closed_at, 0);
    ck_assert_mem_eq(rec.a_device, A.id, MRF_ID);
    ck_assert_mem_eq(rec.b_device, B.id, MRF_ID);
    ck_assert_msg(strstr(rec.detail, "end_date") != NULL && strstr(rec.detail, "amount_cents"),
                  "%s", rec.detail);
    ck_assert_int_eq(open_count("NAI"), 0);

    /* after a pull, the same kind of edit is sequential */
    pull(&A);
    put_text(&A, &ops, ST_GRANTS, gid, GRANT_END, "2026-11-30", NULL);
    ck_assert_int_eq(send_cs(&A, &ops), 1);
    pull(&B);
    before = last_cseq("NAI");
    amount = prev_now(gid, GRANT_AMOUNT);
    put_int(&B, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 820000, &amount);
    ck_assert_int_eq(send_cs(&B, &ops), 1);
    ck_assert_int_eq(last_cseq("NAI"), before);
    ck_assert_int_eq(recs_of("NAI", "other_columns", NULL, 0, NULL), 1);
    buf_release(&ops);
}
END_TEST

/* ---- theme sets -------------------------------------------------------------------------- */

/* A chooses FOE and WGR for 2027 while B, offline, chooses HRD: a value record with both
 * sets, and a rule record for three themes that closes by itself once one is dropped. Returns
 * with A and B having pulled everything. OUT: the two records. */
static void concurrent_theme_sets(struct hq_conflict *set, struct hq_conflict *over)
{
    struct buf ops;
    char live[64];
    int64_t cseq = last_cseq("NAI"), open = open_count("NAI");

    buf_init(&ops, WIRE_JSON_MAX);
    theme_op(&A, &ops, 2027, "FOE", 0);
    theme_op(&A, &ops, 2027, "WGR", 0);
    ck_assert_int_eq(send_cs(&A, &ops), 6);
    ck_assert_int_eq(last_cseq("NAI"), cseq);
    B.clock = hlc_max(B.clock, A.clock);
    theme_op(&B, &ops, 2027, "HRD", 0);
    ck_assert_int_eq(send_cs(&B, &ops), 3); /* B had not pulled A's themes */
    live_themes(2027, live, sizeof live);
    ck_assert_str_eq(live, "FOE HRD WGR");
    ck_assert_int_eq(recs_of("NAI", "theme_set", "themes 2027", 1, set), 1);
    ck_assert_str_eq(set->kind, "value");
    ck_assert_int_eq(set->year, 2027);
    ck_assert_str_eq(set->base, "\"\"");
    ck_assert_str_eq(set->a_value, "\"FOE WGR\"");
    ck_assert_mem_eq(set->a_device, A.id, MRF_ID);
    /* B's side is the set B chose, not the merged state (that is what the merge keeps) */
    ck_assert_str_eq(set->b_value, "\"HRD\"");
    ck_assert_mem_eq(set->b_device, B.id, MRF_ID);
    ck_assert_int_eq(recs_of("NAI", "themes_over_two", "themes 2027", 1, over), 1);
    ck_assert_str_eq(over->kind, "rule");
    ck_assert_int_eq(over->year, 2027);
    ck_assert_msg(strstr(over->rows, "FOE HRD WGR") != NULL, "%s", over->rows);
    ck_assert_int_eq(open_count("NAI"), open + 2);
    pull(&A);
    pull(&B);
    buf_release(&ops);
}

START_TEST(theme_set_and_over_two)
{
    struct hq_conflict set, over, c;
    struct buf ops;

    concurrent_theme_sets(&set, &over);
    buf_init(&ops, WIRE_JSON_MAX);
    /* a change set that leaves three themes does not duplicate the rule record */
    theme_op(&A, &ops, 2027, "HRD", 0);
    send_cs(&A, &ops);
    ck_assert_int_eq(recs_of("NAI", "themes_over_two", NULL, 1, &c), 1);
    ck_assert_str_eq(c.id, over.id);
    /* dropping one: the rule holds again, and the record says so */
    pull(&A);
    theme_op(&A, &ops, 2027, "WGR", 1);
    send_cs(&A, &ops);
    rec_get(over.id, &c);
    ck_assert_int_ne(c.closed_at, 0);
    ck_assert_str_eq(c.decision, "auto");
    ck_assert_msg(strstr(c.reason, "at most two themes") != NULL, "%s", c.reason);
    ck_assert_int_gt(c.cseq, over.cseq);
    ck_assert_int_eq(recs_of("NAI", "themes_over_two", NULL, 1, NULL), 0);
    /* the value record stays for HQ to decide */
    rec_get(set.id, &c);
    ck_assert_int_eq(c.closed_at, 0);
    buf_release(&ops);
}
END_TEST

/* A sender's set counts its own earlier change sets it had not pulled back: B chooses HRD,
 * then adds ACC in a second change set with the same old cursor; B's side is both. */
START_TEST(theme_set_counts_senders_own_writes)
{
    struct hq_conflict rec, c;
    struct buf ops;

    buf_init(&ops, WIRE_JSON_MAX);
    theme_op(&A, &ops, 2028, "FOE", 0);
    send_cs(&A, &ops);
    B.clock = hlc_max(B.clock, A.clock);
    theme_op(&B, &ops, 2028, "HRD", 0);
    send_cs(&B, &ops);
    ck_assert_int_eq(recs_of("NAI", "theme_set", "themes 2028", 1, &rec), 1);
    ck_assert_str_eq(rec.a_value, "\"FOE\"");
    ck_assert_str_eq(rec.b_value, "\"HRD\"");
    theme_op(&B, &ops, 2028, "ACC", 0);
    send_cs(&B, &ops);
    ck_assert_int_eq(recs_of("NAI", "theme_set", NULL, 1, &c), 1);
    ck_assert_str_eq(c.id, rec.id);
    ck_assert_str_eq(c.a_value, "\"FOE HRD\"");
    ck_assert_str_eq(c.b_value, "\"ACC HRD\"");
    ck_assert_str_eq(c.base, "\"\"");
    ck_assert_int_eq(recs_of("NAI", "themes_over_two", "themes 2028", 1, NULL), 1);
    buf_release(&ops);
}
END_TEST

/* ---- rule records ------------------------------------------------------------------------ */

/* A grant whose theme is not one of its year's: opens once, is updated (not duplicated) when
 * the grant moves to another theme that is not chosen either, closes by itself when its
 * theme is chosen. */
START_TEST(rule_theme_not_chosen)
{
    uint8_t gid[MRF_ID], g2[MRF_ID];
    char code[16], subject[64];
    struct buf ops;
    struct hq_conflict rec, c;

    scene(gid, code);
    buf_init(&ops, WIRE_JSON_MAX);
    mrf_random(g2, sizeof g2);
    shortcode_make("G", g2, code);
    snprintf(subject, sizeof subject, "%s theme", code);
    grant_ops(&B, &ops, g2, NULL, "HRD", 2026, 100000, "draft");
    send_cs(&B, &ops);
    ck_assert_int_eq(recs_of("NAI", "theme_not_chosen", NULL, 1, &rec), 1);
    ck_assert_str_eq(rec.subject, subject);
    ck_assert_str_eq(rec.kind, "rule");
    ck_assert_str_eq(rec.rows, code);
    ck_assert_int_eq(rec.year, 2026);
    ck_assert_msg(strstr(rec.detail, "HRD") != NULL, "%s", rec.detail);
    /* another theme that is not chosen either: the same record, told so */
    pull(&B);
    put_text(&B, &ops, ST_GRANTS, g2, GRANT_THEME, "ACC", NULL);
    send_cs(&B, &ops);
    ck_assert_int_eq(recs_of("NAI", "theme_not_chosen", NULL, 1, &c), 1);
    ck_assert_int_eq(recs_of("NAI", "theme_not_chosen", NULL, 0, NULL), 0);
    ck_assert_str_eq(c.id, rec.id);
    ck_assert_int_gt(c.cseq, rec.cseq);
    ck_assert_msg(strstr(c.detail, "ACC") != NULL, "%s", c.detail);
    /* an unrelated change set leaves it as it is */
    pull(&A);
    rec = c;
    put_int(&A, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 1250100, NULL);
    send_cs(&A, &ops);
    rec_get(rec.id, &c);
    ck_assert_int_eq(c.cseq, rec.cseq);
    /* the post drops WGR and chooses ACC for 2026: the rule holds again */
    pull(&A);
    theme_op(&A, &ops, 2026, "WGR", 1);
    theme_op(&A, &ops, 2026, "ACC", 0);
    send_cs(&A, &ops);
    rec_get(rec.id, &c);
    ck_assert_int_ne(c.closed_at, 0);
    ck_assert_str_eq(c.decision, "auto");
    ck_assert_msg(strstr(c.reason, "one of the year's themes") != NULL, "%s", c.reason);
    ck_assert_int_eq(open_count("NAI"), 0);
    buf_release(&ops);
}
END_TEST

/* A live grant on a partner another device removed: opens once, stays one record when the
 * removal is written again, closes by itself when the grant is cancelled. */
START_TEST(rule_removed_partner)
{
    uint8_t gid[MRF_ID], pid[MRF_ID], g2[MRF_ID];
    char code[16], gcode[16], pcode[16], rows[64];
    struct buf ops;
    struct hq_conflict rec, c;

    scene(gid, code);
    buf_init(&ops, WIRE_JSON_MAX);
    mrf_random(pid, sizeof pid);
    mrf_random(g2, sizeof g2);
    shortcode_make("PX", pid, pcode);
    shortcode_make("G", g2, gcode);
    partner_ops(&A, &ops, pid, 0);
    grant_ops(&A, &ops, g2, pid, "FOE", 2026, 5000, "committed");
    send_cs(&A, &ops);
    ck_assert_int_eq(count("SELECT count(*) FROM conflicts"), 0);
    pull(&B);
    put_int(&B, &ops, ST_PARTNERS, pid, PARTNER_REMOVED, 1, NULL);
    send_cs(&B, &ops);
    snprintf(rows, sizeof rows, "%s %s", gcode, pcode);
    ck_assert_int_eq(recs_of("NAI", "removed_partner", NULL, 1, &rec), 1);
    ck_assert_str_eq(rec.kind, "rule");
    ck_assert_str_eq(rec.rows, rows);
    ck_assert_int_eq(rec.year, 2026);
    /* the removal again, from another device: still the one record */
    pull(&C);
    put_int(&C, &ops, ST_PARTNERS, pid, PARTNER_REMOVED, 1, NULL);
    send_cs(&C, &ops);
    ck_assert_int_eq(recs_of("NAI", "removed_partner", NULL, 1, &c), 1);
    ck_assert_int_eq(recs_of("NAI", "removed_partner", NULL, 0, NULL), 0);
    ck_assert_str_eq(c.id, rec.id);
    /* the grant is cancelled: no longer live, the rule holds */
    pull(&A);
    put_text(&A, &ops, ST_GRANTS, g2, GRANT_STATUS, "cancelled", NULL);
    send_cs(&A, &ops);
    rec_get(rec.id, &c);
    ck_assert_int_ne(c.closed_at, 0);
    ck_assert_str_eq(c.decision, "auto");
    ck_assert_msg(strstr(c.reason, "no longer live") != NULL, "%s", c.reason);
    ck_assert_int_eq(open_count("NAI"), 0);
    buf_release(&ops);
}
END_TEST

/* Committed above HQ's allocation: HQ's own write opens it (through the recheck), a device
 * committing more updates it, HQ raising the allocation closes it. */
START_TEST(rule_over_allocation)
{
    uint8_t gid[MRF_ID];
    char code[16];
    struct buf ops;
    struct hq_conflict rec, c;

    scene(gid, code);
    buf_init(&ops, WIRE_JSON_MAX);
    put_text(&A, &ops, ST_GRANTS, gid, GRANT_STATUS, "committed", NULL);
    send_cs(&A, &ops);
    allocate(2026, 100000); /* 1000.00 against 12500.00 committed */
    ck_assert_int_eq(recs_of("NAI", "over_allocation", "allocation 2026 EUR", 1, &rec), 1);
    ck_assert_str_eq(rec.kind, "rule");
    ck_assert_int_eq(rec.year, 2026);
    ck_assert_msg(strstr(rec.detail, "12500.00") && strstr(rec.detail, "1000.00"), "%s",
                  rec.detail);
    /* the same allocation again: nothing new */
    allocate(2026, 100000);
    rec_get(rec.id, &c);
    ck_assert_int_eq(c.cseq, rec.cseq);
    /* a device commits more: the same record, with the new total */
    pull(&A);
    put_int(&A, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 1300000, NULL);
    send_cs(&A, &ops);
    ck_assert_int_eq(recs_of("NAI", "over_allocation", NULL, 1, &c), 1);
    ck_assert_int_eq(recs_of("NAI", "over_allocation", NULL, 0, NULL), 0);
    ck_assert_str_eq(c.id, rec.id);
    ck_assert_int_gt(c.cseq, rec.cseq);
    ck_assert_msg(strstr(c.detail, "13000.00") != NULL, "%s", c.detail);
    /* HQ raises it */
    allocate(2026, 9000000);
    rec_get(rec.id, &c);
    ck_assert_int_ne(c.closed_at, 0);
    ck_assert_str_eq(c.decision, "auto");
    ck_assert_msg(strstr(c.reason, "within the allocation") != NULL, "%s", c.reason);
    ck_assert_int_eq(open_count("NAI"), 0);
    buf_release(&ops);
}
END_TEST

/* A winning write moving a grant from disbursed back to draft: a rule record; another move
 * backwards updates it; moving forward again to where it had been closes it by itself. */
START_TEST(rule_status_backwards)
{
    uint8_t gid[MRF_ID];
    char code[16], subject[64], status[16];
    struct buf ops;
    struct prev cur;
    struct hq_conflict rec, c;

    scene(gid, code);
    buf_init(&ops, WIRE_JSON_MAX);
    put_text(&A, &ops, ST_GRANTS, gid, GRANT_STATUS, "disbursed", NULL);
    send_cs(&A, &ops);
    ck_assert_int_eq(count("SELECT count(*) FROM conflicts"), 0);
    pull(&B);
    cur = prev_now(gid, GRANT_STATUS); /* sequential: B had seen disbursed */
    put_text(&B, &ops, ST_GRANTS, gid, GRANT_STATUS, "draft", &cur);
    send_cs(&B, &ops);
    grant_text(gid, "status", status, sizeof status);
    ck_assert_str_eq(status, "draft");
    snprintf(subject, sizeof subject, "%s status", code);
    ck_assert_int_eq(recs_of("NAI", "status_backwards", NULL, 1, &rec), 1);
    ck_assert_int_eq(open_count("NAI"), 1);
    ck_assert_str_eq(rec.kind, "rule");
    ck_assert_str_eq(rec.subject, subject);
    ck_assert_str_eq(rec.a_value, "\"disbursed\"");
    ck_assert_str_eq(rec.b_value, "\"draft\"");
    ck_assert_mem_eq(rec.b_device, B.id, MRF_ID);
    /* forward to committed: still below disbursed, still open */
    pull(&B);
    put_text(&B, &ops, ST_GRANTS, gid, GRANT_STATUS, "committed", NULL);
    send_cs(&B, &ops);
    ck_assert_int_eq(recs_of("NAI", "status_backwards", NULL, 1, &c), 1);
    ck_assert_str_eq(c.id, rec.id);
    /* back to draft again: the same record, updated */
    put_text(&B, &ops, ST_GRANTS, gid, GRANT_STATUS, "draft", NULL);
    send_cs(&B, &ops);
    ck_assert_int_eq(recs_of("NAI", "status_backwards", NULL, 1, &c), 1);
    ck_assert_int_eq(recs_of("NAI", "status_backwards", NULL, 0, NULL), 0);
    ck_assert_str_eq(c.id, rec.id);
    ck_assert_int_gt(c.cseq, rec.cseq);
    /* committed is still below disbursed, where the grant had been: still open */
    put_text(&B, &ops, ST_GRANTS, gid, GRANT_STATUS, "committed", NULL);
    send_cs(&B, &ops);
    rec_get(rec.id, &c);
    ck_assert_msg(c.closed_at == 0, "closed at committed: %s (%s)", c.reason, c.a_value);
    /* where it had been: the rule holds again */
    put_text(&B, &ops, ST_GRANTS, gid, GRANT_STATUS, "disbursed", NULL);
    send_cs(&B, &ops);
    rec_get(rec.id, &c);
    ck_assert_int_ne(c.closed_at, 0);
    ck_assert_str_eq(c.decision, "auto");
    ck_assert_msg(strstr(c.reason, "where it had been") != NULL, "%s", c.reason);
    ck_assert_int_eq(open_count("NAI"), 0);
    buf_release(&ops);
}
END_TEST

/* A change set with a clock more than a day ahead: a rule record naming the device; another
 * such change set updates it; the device's next change set with sane clocks closes it. */
START_TEST(rule_clock_ahead)
{
    uint8_t gid[MRF_ID];
    char code[16], subject[64], *hx;
    struct buf ops;
    struct sync_value v = {.type = SYNC_INT, .i = 1260000};
    struct hq_conflict rec, c;
    struct prev cur;
    hlc_t ahead = hlc_bound(time_now_ms()) + hlc_make(3600000, 0);

    scene(gid, code);
    buf_init(&ops, WIRE_JSON_MAX);
    put_at(&B, &ops, ST_GRANTS, gid, GRANT_END,
           &(struct sync_value){.type = SYNC_TEXT, .text = "2026-10-01"}, ahead, NULL);
    send_cs(&B, &ops);
    hx = hex_encode(B.id, 8);
    snprintf(subject, sizeof subject, "device %s", hx);
    x_free(hx);
    ck_assert_int_eq(recs_of("NAI", "clock_ahead", NULL, 1, &rec), 1);
    ck_assert_str_eq(rec.subject, subject);
    ck_assert_str_eq(rec.kind, "rule");
    ck_assert_mem_eq(rec.b_device, B.id, MRF_ID);
    ck_assert_uint_eq(rec.b_clock, ahead);
    ck_assert_int_eq(open_count("NAI"), 1);
    /* again, further ahead: the same record */
    put_at(&B, &ops, ST_GRANTS, gid, GRANT_END,
           &(struct sync_value){.type = SYNC_TEXT, .text = "2026-10-02"}, ahead + 5, NULL);
    send_cs(&B, &ops);
    ck_assert_int_eq(recs_of("NAI", "clock_ahead", NULL, 1, &c), 1);
    ck_assert_int_eq(recs_of("NAI", "clock_ahead", NULL, 0, NULL), 0);
    ck_assert_str_eq(c.id, rec.id);
    ck_assert_int_gt(c.cseq, rec.cseq);
    ck_assert_uint_eq(c.b_clock, ahead + 5);
    /* another device's sane change set does not close B's record */
    pull(&A);
    put_int(&A, &ops, ST_GRANTS, gid, GRANT_AMOUNT, 1250500, NULL);
    send_cs(&A, &ops);
    rec_get(rec.id, &c);
    ck_assert_int_eq(c.closed_at, 0);
    /* B's date is fixed */
    pull(&B);
    B.clock = hlc_max(hlc_make(time_now_ms(), 0), B.clock);
    ck_assert_uint_le(B.clock, hlc_bound(time_now_ms()));
    cur = prev_now(gid, GRANT_AMOUNT);
    put_at(&B, &ops, ST_GRANTS, gid, GRANT_AMOUNT, &v, ++B.clock, &cur);
    send_cs(&B, &ops);
    rec_get(rec.id, &c);
    ck_assert_int_ne(c.closed_at, 0);
    ck_assert_str_eq(c.decision, "auto");
    ck_assert_msg(strstr(c.reason, "within a day") != NULL, "%s", c.reason);
    ck_assert_int_eq(open_count("NAI"), 0);
    buf_release(&ops);
}
END_TEST

/* ---- posts apart ------------------------------------------------------------------------- */

static enum mrf_status count_fn(void *arg, const struct hq_conflict *c)
{
    (void)c;
    (*(int *)arg)++;
    return MRF_OK;
}

/* NAI's records are never listed, scanned, counted or checked for GVA, and the other way
 * round; each post numbers its own record changes. */
START_TEST(records_stay_with_their_post)
{
    uint8_t gid[MRF_ID], g2[MRF_ID];
    char code[16];
    struct hq_conflict rec;
    struct buf ops;
    int n = 0;

    scene(gid, code);
    concurrent_amounts(gid, code, 1, &rec);
    ck_assert_int_ge(last_cseq("NAI"), 1);
    ck_assert_int_eq(hqstore_conflict_list(store, "GVA", 1, count_fn, &n), MRF_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(hqstore_conflict_scan(store, "GVA", 0, count_fn, &n), MRF_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(hqstore_conflict_open_rules(store, "GVA", "theme_not_chosen", 0, count_fn, &n),
                     MRF_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(open_count("GVA"), 0);
    ck_assert_int_eq(hqstore_conflict_scan(store, "NAI", 0, count_fn, &n), MRF_OK);
    ck_assert_int_eq(n, 1);

    /* GVA's own record (a grant whose theme GVA never chose) is GVA's alone */
    buf_init(&ops, WIRE_JSON_MAX);
    mrf_random(g2, sizeof g2);
    grant_ops(&G, &ops, g2, NULL, "HRD", 2026, 100, "draft");
    send_cs(&G, &ops);
    n = 0;
    ck_assert_int_eq(hqstore_conflict_scan(store, "GVA", 0, count_fn, &n), MRF_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(last_cseq("GVA"), 1);
    ck_assert_int_eq(open_count("GVA"), 1);
    ck_assert_int_eq(open_count("NAI"), 1);
    ck_assert_int_eq(open_count(NULL), 2);
    ck_assert_int_eq(recs_of("NAI", "theme_not_chosen", NULL, 1, NULL), 0);
    n = 0;
    ck_assert_int_eq(hqstore_conflict_list(store, "NAI", 1, count_fn, &n), MRF_OK);
    ck_assert_int_eq(n, 1);
    buf_release(&ops);
}
END_TEST

/* ---- HQ's decisions ---------------------------------------------------------------------- */

/* After a decision on a column: HQ wrote it, at a clock past both sides and within HQ's own. */
static void decided_by_hq(const uint8_t gid[MRF_ID], int col, const struct hq_conflict *rec)
{
    uint8_t dev[MRF_ID];
    hlc_t c = col_clock(gid, col, dev), hq = 0;

    ck_assert_mem_eq(dev, ident.cfg.device_id, MRF_ID);
    ck_assert_uint_gt(c, rec->a_clock);
    ck_assert_uint_gt(c, rec->b_clock);
    ck_assert_int_eq(hqstore_clock_get(store, &hq), MRF_OK);
    ck_assert_uint_ge(hq, c);
}

static void expect_closed(const char *id, const char *decision)
{
    struct hq_conflict c;

    rec_get(id, &c);
    ck_assert_int_ne(c.closed_at, 0);
    ck_assert_str_eq(c.decision, decision);
    ck_assert_str_eq(c.reason, "decided in the test");
}

START_TEST(resolve_accept_value)
{
    uint8_t gid[MRF_ID];
    char code[16];
    struct hq_conflict rec;
    struct mrf_error err;
    int ops = -1;

    scene(gid, code);
    concurrent_amounts(gid, code, 1, &rec);
    ck_assert_msg(resolve(rec.id, HQ_ACCEPT, 0, NULL, gid, &ops, &err) == MRF_OK, "%s", err.msg);
    ck_assert_int_eq(ops, 1);
    ck_assert_int_eq(grant_int(gid, "amount_cents"), 1300000); /* the merged value, again */
    decided_by_hq(gid, GRANT_AMOUNT, &rec);
    expect_closed(rec.id, "accept");
    ck_assert_int_eq(open_count("NAI"), 0);
}
END_TEST

START_TEST(resolve_accept_rule_writes_nothing)
{
    uint8_t gid[MRF_ID];
    char code[16], status[16];
    struct buf ops;
    struct prev cur;
    struct hq_conflict rec;
    struct mrf_error err;
    int64_t seq;
    int n = -1;

    scene(gid, code);
    buf_init(&ops, WIRE_JSON_MAX);
    put_text(&A, &ops, ST_GRANTS, gid, GRANT_STATUS, "disbursed", NULL);
    send_cs(&A, &ops);
    pull(&B);
    cur = prev_now(gid, GRANT_STATUS);
    put_text(&B, &ops, ST_GRANTS, gid, GRANT_STATUS, "draft", &cur);
    send_cs(&B, &ops);
    ck_assert_int_eq(recs_of("NAI", "status_backwards", NULL, 1, &rec), 1);
    seq = post_seq("NAI");
    ck_assert_msg(resolve(rec.id, HQ_ACCEPT, 0, NULL, gid, &n, &err) == MRF_OK, "%s", err.msg);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(post_seq("NAI"), seq);
    grant_text(gid, "status", status, sizeof status);
    ck_assert_str_eq(status, "draft");
    expect_closed(rec.id, "accept");
    ck_assert_int_eq(open_count("NAI"), 0);
    buf_release(&ops);
}
END_TEST

/* --accept on a rule record whose rule still fails keeps the state as it stands: the recheck
 * of the decision, and later change sets, do not open the same record again; a change in what
 * breaks the rule (a fourth theme) is news and opens a new one. */
START_TEST(resolve_accept_rule_stays_accepted)
{
    struct hq_conflict set, over, c;
    struct buf ops;
    struct mrf_error err;
    int n = -1;

    concurrent_theme_sets(&set, &over);
    ck_assert_msg(resolve(over.id, HQ_ACCEPT, 0, NULL, NULL, &n, &err) == MRF_OK, "%s", err.msg);
    ck_assert_int_eq(n, 0);
    expect_closed(over.id, "accept");
    ck_assert_int_eq(recs_of("NAI", "themes_over_two", NULL, 1, NULL), 0);
    /* a change set touching the year again, same three themes: still accepted */
    buf_init(&ops, WIRE_JSON_MAX);
    theme_op(&A, &ops, 2027, "HRD", 0);
    send_cs(&A, &ops);
    ck_assert_int_eq(recs_of("NAI", "themes_over_two", NULL, 1, NULL), 0);
    /* a fourth theme: a new record */
    pull(&A);
    theme_op(&A, &ops, 2027, "ACC", 0);
    send_cs(&A, &ops);
    ck_assert_int_eq(recs_of("NAI", "themes_over_two", NULL, 1, &c), 1);
    ck_assert_str_ne(c.id, over.id);
    ck_assert_msg(strstr(c.rows, "ACC") != NULL, "%s", c.rows);
    buf_release(&ops);
}
END_TEST

/* --take A where the merge kept B: the column ends with A's value, at a clock of HQ's past both. */
START_TEST(resolve_take_a)
{
    uint8_t gid[MRF_ID];
    char code[16];
    struct hq_conflict rec;
    struct mrf_error err;
    int n = -1;

    scene(gid, code);
    concurrent_amounts(gid, code, 1, &rec);
    ck_assert_msg(resolve(rec.id, HQ_TAKE, 'A', NULL, gid, &n, &err) == MRF_OK, "%s", err.msg);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(grant_int(gid, "amount_cents"), 1200000);
    decided_by_hq(gid, GRANT_AMOUNT, &rec);
    expect_closed(rec.id, "take_a");
    ck_assert_int_eq(open_count("NAI"), 0);
}
END_TEST

/* --take B where the merge kept A (B's clock was behind): the column ends with B's value. */
START_TEST(resolve_take_b)
{
    uint8_t gid[MRF_ID];
    char code[16];
    struct hq_conflict rec;
    struct mrf_error err;
    int n = -1;

    scene(gid, code);
    concurrent_amounts(gid, code, 0, &rec);
    ck_assert_msg(resolve(rec.id, HQ_TAKE, 'B', NULL, gid, &n, &err) == MRF_OK, "%s", err.msg);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(grant_int(gid, "amount_cents"), 1300000);
    decided_by_hq(gid, GRANT_AMOUNT, &rec);
    expect_closed(rec.id, "take_b");
    ck_assert_int_eq(open_count("NAI"), 0);
}
END_TEST

START_TEST(resolve_set_amount)
{
    uint8_t gid[MRF_ID];
    char code[16];
    struct hq_conflict rec;
    struct mrf_error err;
    int n = -1;

    scene(gid, code);
    concurrent_amounts(gid, code, 1, &rec);
    ck_assert_msg(resolve(rec.id, HQ_SET, 0, "amount=7777.00", gid, &n, &err) == MRF_OK, "%s",
                  err.msg);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(grant_int(gid, "amount_cents"), 777700);
    decided_by_hq(gid, GRANT_AMOUNT, &rec);
    expect_closed(rec.id, "set");
}
END_TEST

/* --set themes on the theme set record: the year holds exactly those, and the over-two rule
 * record closes by itself in the same decision (the year's rules are re-checked). */
START_TEST(resolve_set_themes_rechecks)
{
    struct hq_conflict set, over, c;
    struct mrf_error err;
    char live[64];
    int n = -1;

    concurrent_theme_sets(&set, &over);
    ck_assert_msg(resolve(set.id, HQ_SET, 0, "themes=FOE,WGR", NULL, &n, &err) == MRF_OK, "%s",
                  err.msg);
    ck_assert_int_ge(n, 1);
    live_themes(2027, live, sizeof live);
    ck_assert_str_eq(live, "FOE WGR");
    expect_closed(set.id, "set");
    rec_get(over.id, &c);
    ck_assert_int_ne(c.closed_at, 0);
    ck_assert_str_eq(c.decision, "auto");
    ck_assert_int_eq(open_count("NAI"), 0);
}
END_TEST

/* --take B on a theme set record writes the set B chose. */
START_TEST(resolve_take_b_theme_set)
{
    struct hq_conflict set, over, c;
    struct mrf_error err;
    char live[64];
    int n = -1;

    concurrent_theme_sets(&set, &over);
    ck_assert_msg(resolve(set.id, HQ_TAKE, 'B', NULL, NULL, &n, &err) == MRF_OK, "%s", err.msg);
    live_themes(2027, live, sizeof live);
    ck_assert_str_eq(live, "HRD");
    expect_closed(set.id, "take_b");
    rec_get(over.id, &c);
    ck_assert_str_eq(c.decision, "auto");
    ck_assert_int_eq(open_count("NAI"), 0);
}
END_TEST

/* Every refusal: the status says why, and nothing was written (checked inside the
 * transaction by resolve()). */
START_TEST(resolve_refusals_write_nothing)
{
    uint8_t gid[MRF_ID];
    char code[16];
    struct hq_conflict rec, set, over, c;
    struct mrf_error err;

    scene(gid, code);
    concurrent_amounts(gid, code, 1, &rec);
    ck_assert_int_eq(resolve(rec.id, HQ_SET, 0, "amount=12,5", gid, NULL, &err), MRF_E_INVALID);
    ck_assert_int_eq(resolve(rec.id, HQ_SET, 0, "amount=-5", gid, NULL, &err), MRF_E_INVALID);
    ck_assert_int_eq(resolve(rec.id, HQ_SET, 0, "colour=red", gid, NULL, &err), MRF_E_INVALID);
    ck_assert_msg(strstr(err.msg, "colour") != NULL, "%s", err.msg);
    ck_assert_int_eq(resolve(rec.id, HQ_SET, 0, "status=paid", gid, NULL, &err), MRF_E_INVALID);
    ck_assert_int_eq(resolve(rec.id, HQ_SET, 0, "theme=XYZ", gid, NULL, &err), MRF_E_INVALID);
    ck_assert_int_eq(resolve(rec.id, HQ_SET, 0, "theme=HRD", gid, NULL, &err), MRF_E_RULE);
    ck_assert_int_eq(grant_int(gid, "amount_cents"), 1300000);
    /* decided once; then closed */
    ck_assert_int_eq(resolve(rec.id, HQ_TAKE, 'A', NULL, gid, NULL, &err), MRF_OK);
    ck_assert_int_eq(resolve(rec.id, HQ_ACCEPT, 0, NULL, gid, NULL, &err), MRF_E_RULE);
    ck_assert_int_eq(resolve(rec.id, HQ_TAKE, 'B', NULL, gid, NULL, &err), MRF_E_RULE);
    rec_get(rec.id, &c);
    ck_assert_str_eq(c.decision, "take_a");
    ck_assert_int_eq(grant_int(gid, "amount_cents"), 1200000);
    /* an unknown record */
    ck_assert_int_eq(count("SELECT count(*) FROM conflicts WHERE id = 'C-ZZZZZZ'"), 0);

    pull(&A);
    pull(&B);
    concurrent_theme_sets(&set, &over);
    /* a rule record has no sides; a third theme is refused; a rule set on a value it lacks */
    ck_assert_int_eq(resolve(over.id, HQ_TAKE, 'A', NULL, NULL, NULL, &err), MRF_E_RULE);
    ck_assert_int_eq(resolve(over.id, HQ_SET, 0, "themes=FOE,WGR,HRD", NULL, NULL, &err),
                     MRF_E_RULE);
    ck_assert_int_eq(resolve(set.id, HQ_SET, 0, "themes=FOE,WGR,HRD", NULL, NULL, &err),
                     MRF_E_RULE);
    ck_assert_int_eq(resolve(set.id, HQ_SET, 0, "themes=FOE,NOPE", NULL, NULL, &err),
                     MRF_E_INVALID);
    ck_assert_int_eq(open_count("NAI"), 2);
}
END_TEST

START_TEST(resolve_unknown_record)
{
    struct hq_resolve r;
    struct hq_resolved out;
    struct mrf_error err = {0};
    int64_t audit = audit_seq();

    memset(&r, 0, sizeof r);
    str_copy(r.id, "C-ZZZZZZ", sizeof r.id);
    r.form = HQ_ACCEPT;
    r.reason = "x";
    r.note = "";
    ck_assert_int_eq(hqstore_begin(store), MRF_OK);
    ck_assert_int_eq(hq_resolve(store, ident.keys, &r, &out, &err), MRF_E_INVALID);
    ck_assert_int_eq(audit_seq(), audit);
    hqstore_rollback(store);
}
END_TEST

/* ---- detection never stops ingest, and costs what the change set touched ----------------- */

/* 60 grants written concurrently by two devices, with statuses moved backwards on the way:
 * the change set is accepted, every op applied, and a record kept for each grant. */
START_TEST(many_concurrent_writes_all_applied)
{
    enum { N = 60 };
    uint8_t gid[N][MRF_ID];
    struct buf ops;
    int64_t applied;

    buf_init(&ops, 4 * WIRE_JSON_MAX);
    theme_op(&A, &ops, 2026, "FOE", 0);
    for (int i = 0; i < N; i++) {
        mrf_random(gid[i], MRF_ID);
        grant_ops(&A, &ops, gid[i], NULL, "FOE", 2026, 1000 + i, "disbursed");
    }
    ck_assert_int_eq(send_cs(&A, &ops), 3 + 6 * N);
    ck_assert_int_eq(send_cs(&B, &ops), 0);
    /* B had pulled nothing: every write of B is concurrent with A's */
    B.clock = hlc_max(B.clock, A.clock);
    for (int i = 0; i < N; i++) {
        put_int(&B, &ops, ST_GRANTS, gid[i], GRANT_AMOUNT, 5000 + i, NULL);
        put_text(&B, &ops, ST_GRANTS, gid[i], GRANT_STATUS, "draft", NULL);
        put_text(&B, &ops, ST_GRANTS, gid[i], GRANT_END, "2026-12-31", NULL);
    }
    applied = send_cs(&B, &ops);
    ck_assert_int_eq(applied, 3 * N);
    ck_assert_int_eq(count("SELECT count(*) FROM grants WHERE post = 'NAI' AND status = 'draft' "
                           "AND amount_cents >= 5000"),
                     N);
    ck_assert_int_eq(recs_of("NAI", "concurrent_edit", NULL, 1, NULL), 2 * N);
    ck_assert_int_eq(recs_of("NAI", "status_backwards", NULL, 1, NULL), N);
    ck_assert_int_eq(recs_of("NAI", "other_columns", NULL, 0, NULL), N);
    buf_release(&ops);
}
END_TEST

/* Grants that all break theme_not_chosen, then a change set editing only their amounts: their
 * records are not rewritten (the amount changes none of the rules they break). */
START_TEST(amount_edits_leave_rule_records_alone)
{
    enum { N = 40 };
    uint8_t gid[N][MRF_ID];
    struct buf ops;
    struct recs *before, *after;

    buf_init(&ops, 4 * WIRE_JSON_MAX);
    theme_op(&A, &ops, 2026, "FOE", 0);
    for (int i = 0; i < N; i++) {
        mrf_random(gid[i], MRF_ID);
        grant_ops(&A, &ops, gid[i], NULL, "HRD", 2026, 1000 + i, "draft");
    }
    send_cs(&A, &ops);
    ck_assert_int_eq(recs_of("NAI", "theme_not_chosen", NULL, 1, NULL), N);
    before = all_recs("NAI");
    pull(&A);
    for (int i = 0; i < N; i++)
        put_int(&A, &ops, ST_GRANTS, gid[i], GRANT_AMOUNT, 9000 + i, NULL);
    ck_assert_int_eq(send_cs(&A, &ops), N);
    after = all_recs("NAI");
    ck_assert_int_eq(after->n, before->n);
    for (int i = 0; i < before->n; i++) {
        ck_assert_str_eq(after->v[i].id, before->v[i].id);
        ck_assert_int_eq(after->v[i].cseq, before->v[i].cseq);
        ck_assert_int_eq(after->v[i].closed_at, 0);
    }
    ck_assert_int_eq(count("SELECT count(*) FROM grants WHERE post = 'NAI' AND amount_cents >= "
                           "9000"),
                     N);
    x_free(before);
    x_free(after);
    buf_release(&ops);
}
END_TEST

/* A grant is found by its short code through the (post, id) key, in the range of ids the
 * code stands for: at both ends of the id space, with two grants whose ids share the code's
 * 30 bits (both match; the first by id is taken), and not for another post or a code that
 * is not one. */
START_TEST(grant_found_by_code_through_its_key)
{
    static const uint8_t ids[4][MRF_ID] = {
        {0x00, 0x00, 0x00, 0x00, 9}, /* code G-000000 */
        {0xff, 0xff, 0xff, 0xff, 9}, /* code G-ZZZZZZ: the last range */
        {0x12, 0x34, 0x56, 0x78, 1}, /* these two share a code */
        {0x12, 0x34, 0x56, 0x7b, 2},
    };
    static const char *const status[4] = {"draft", "approved", "active", "closed"};
    char code[16], st[16];
    uint8_t got[MRF_ID];
    int applied;

    ck_assert_int_eq(hqstore_begin(store), MRF_OK);
    for (int i = 0; i < 4; i++) {
        struct sync_op op = {.tbl = ST_GRANTS, .col = GRANT_STATUS, .clock = 100 + (hlc_t)i};

        memcpy(op.id, ids[i], MRF_ID);
        memcpy(op.device, A.id, MRF_ID);
        op.v = (struct sync_value){.type = SYNC_TEXT, .text = status[i]};
        ck_assert_int_eq(hqstore_apply(store, "NAI", &op, &applied), MRF_OK);
        ck_assert_int_eq(applied, 1);
    }
    ck_assert_int_eq(hqstore_commit(store), MRF_OK);
    ck_assert_int_eq(count("SELECT count(*) FROM sqlite_master WHERE name = 'grants_code'"), 0);

    for (int i = 0; i < 3; i++) {
        shortcode_make("G", ids[i], code);
        ck_assert_int_eq(hqstore_row_find(store, "NAI", ST_GRANTS, code, got), MRF_OK);
        ck_assert_msg(memcmp(got, ids[i], MRF_ID) == 0, "%s", code);
        ck_assert_int_eq(hqstore_grant_status(store, "NAI", code, st), MRF_OK);
        ck_assert_str_eq(st, status[i]);
        ck_assert_int_eq(hqstore_row_find(store, "GVA", ST_GRANTS, code, got), MRF_E_NOTFOUND);
    }
    shortcode_make("G", ids[3], code);
    ck_assert_int_eq(hqstore_row_find(store, "NAI", ST_GRANTS, code, got), MRF_OK);
    ck_assert_int_eq(memcmp(got, ids[2], MRF_ID), 0);
    ck_assert_str_eq(code, "G-28T5CY");
    ck_assert_int_eq(hqstore_row_find(store, "NAI", ST_GRANTS, "G-28T5CZ", got), MRF_E_NOTFOUND);
    ck_assert_int_eq(hqstore_row_find(store, "NAI", ST_GRANTS, "G-28T5CU", got), MRF_E_NOTFOUND);
    ck_assert_int_eq(hqstore_row_find(store, "NAI", ST_GRANTS, "G-28T5C", got), MRF_E_NOTFOUND);
    ck_assert_int_eq(hqstore_grant_status(store, "NAI", "G-28T5CU", st), MRF_OK);
    ck_assert_str_eq(st, "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hq_conflict");
    TCase *value = tcase_create("value");
    TCase *theme = tcase_create("themes");
    TCase *rule = tcase_create("rules");
    TCase *decide = tcase_create("decide");
    TCase *cost = tcase_create("ingest");
    TCase *all[] = {value, theme, rule, decide, cost};

    if (mrfcrypto_init() != MRF_OK)
        return EXIT_FAILURE;
    log_set(stderr, LOG_ERROR);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        tcase_add_checked_fixture(all[i], setup, teardown);
        tcase_set_timeout(all[i], 120);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(value, value_record_opens_once_and_updates);
    tcase_add_test(value, value_prev_matches_opens_nothing);
    tcase_add_test(value, value_same_writer_opens_nothing);
    tcase_add_test(value, value_same_value_is_parallel_and_closed);
    tcase_add_test(value, value_record_names_the_write_that_differs);
    tcase_add_test(value, value_lost_write_stays_in_its_record);
    tcase_add_test(value, parallel_other_columns);
    tcase_add_test(value, records_stay_with_their_post);
    tcase_add_test(theme, theme_set_and_over_two);
    tcase_add_test(theme, theme_set_counts_senders_own_writes);
    tcase_add_test(rule, rule_theme_not_chosen);
    tcase_add_test(rule, rule_removed_partner);
    tcase_add_test(rule, rule_over_allocation);
    tcase_add_test(rule, rule_status_backwards);
    tcase_add_test(rule, rule_clock_ahead);
    tcase_add_test(decide, resolve_accept_value);
    tcase_add_test(decide, grant_found_by_code_through_its_key);
    tcase_add_test(decide, resolve_accept_rule_writes_nothing);
    tcase_add_test(decide, resolve_accept_rule_stays_accepted);
    tcase_add_test(decide, resolve_take_a);
    tcase_add_test(decide, resolve_take_b);
    tcase_add_test(decide, resolve_set_amount);
    tcase_add_test(decide, resolve_set_themes_rechecks);
    tcase_add_test(decide, resolve_take_b_theme_set);
    tcase_add_test(decide, resolve_refusals_write_nothing);
    tcase_add_test(decide, resolve_unknown_record);
    tcase_add_test(cost, many_concurrent_writes_all_applied);
    tcase_add_test(cost, amount_edits_leave_rule_records_alone);
    return testutil_run(s);
}

/* Check suite for the post's side of HQ's conflict records and audit head (client/sync.c,
 * client/query.c): answers written with sync/changeset.c's writers, as HQ writes them, are
 * applied through client_sync_answer on a real store set up from a real token. Records are
 * kept at their newest version and move the conflict cursor; an audit head is kept only if HQ
 * signed it and it is not behind the one kept; a record that does not read refuses the whole
 * answer. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "client.h"

static char dir[64];
static struct cli_ctx ctx;
static struct mrf_secrets *hq;
static char grant_code[16];

static void setup(void)
{
    struct enroll_token t;
    struct mrf_error err = {0};
    uint8_t escrow_sk[MRF_BOX_SK];
    struct partner_input p = {.name = "Partner"};
    struct grant_input g = {.theme = "HRD", .year = "2026", .amount = "12500"};
    const char *themes[] = {"HRD"};
    char *token = NULL, pcode[16];

    ck_assert_int_eq(mrfcrypto_init(), MRF_OK);
    testutil_tmpdir(dir, sizeof dir, "conflicts");
    memset(&t, 0, sizeof t);
    mrf_secrets_new(&hq);
    t.version = 1;
    str_copy(t.url, "https://127.0.0.1:8443", sizeof t.url);
    str_copy(t.tls_pin, "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", sizeof t.tls_pin);
    t.hq = hq->pub;
    mrf_box_keypair(t.escrow_pk, escrow_sk);
    str_copy(t.post, "NAI", sizeof t.post);
    mrf_random(t.token_id, MRF_ID);
    mrf_random(t.secret, MRF_SECRET);
    t.expires = (int64_t)time(NULL) + 3600;
    ck_assert_int_eq(token_encode(&t, hq->sign_sk, &token, &err), MRF_OK);
    client_init(&ctx, dir);
    ck_assert_msg(client_setup(&ctx, token, "correct horse", (int64_t)time(NULL)) == MRF_OK, "%s",
                  ctx.err.msg);
    x_free(token);
    ck_assert_int_eq(client_theme_set(&ctx, 2026, themes, 1), MRF_OK);
    ck_assert_int_eq(client_partner_add(&ctx, &p, pcode), MRF_OK);
    g.partner = pcode;
    ck_assert_msg(client_grant_add(&ctx, &g, grant_code) == MRF_OK, "%s", ctx.err.msg);
}

static void teardown(void)
{
    client_close(&ctx);
    mrf_secrets_free(hq);
    testutil_rmtree(dir);
}

static int64_t one_int(const char *sql)
{
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    ck_assert_int_eq(sqlite3_prepare_v2(ctx.db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* An open value record on this post's grant. */
static void open_record(struct cs_conflict *c, const char *id, int64_t cseq)
{
    memset(c, 0, sizeof *c);
    str_copy(c->id, id, sizeof c->id);
    str_copy(c->kind, "value", sizeof c->kind);
    str_copy(c->rule, "concurrent_edit", sizeof c->rule);
    snprintf(c->rows, sizeof c->rows, "%s", grant_code);
    snprintf(c->detail, sizeof c->detail, "%s amount: two devices changed it", grant_code);
    c->year = 2026;
    str_copy(c->base, "12500.00", sizeof c->base);
    str_copy(c->a, "13000.00", sizeof c->a);
    str_copy(c->b, "14000.00", sizeof c->b);
    c->opened = 1796000000;
    c->cseq = cseq;
}

static void head_of(struct audit_head *h, int64_t seq, uint8_t fill, const uint8_t *sign_sk)
{
    memset(h, 0, sizeof *h);
    h->seq = seq;
    memset(h->hash, fill, sizeof h->hash);
    audit_head_sign(h, sign_sk);
}

/* Writes HQ's answer to change set cs: one pulled allocation op if with_op, the audit head h
 * (if not NULL), records c[0..n) with ccursor (none if n < 0), and raw (if not NULL) appended
 * to the records as it is. */
static void answer(struct buf *b, const uint8_t cs[MRF_ID], int with_op, const struct audit_head *h,
                   const struct cs_conflict *c, int n, int64_t ccursor, const char *raw)
{
    struct cs_ack ack;
    int64_t k = 0;

    memset(&ack, 0, sizeof ack);
    memcpy(ack.id, cs, MRF_ID);
    ck_assert_int_eq(changeset_answer_begin(b, 2, &ack, time_now_ms()), MRF_OK);
    if (with_op) {
        struct sync_op op;
        memset(&op, 0, sizeof op);
        op.tbl = ST_ALLOCATIONS;
        row_id_derive(op.id, "allocations", "NAI", 2026, NULL);
        op.col = ALLOC_AMOUNT;
        op.v.type = SYNC_INT;
        op.v.i = 8000000;
        op.clock = hlc_make(time_now_ms(), 1);
        memset(op.device, 0xee, MRF_ID);
        ck_assert_int_eq(changeset_put_op(b, &k, &op, 1), MRF_OK);
    }
    ck_assert_int_eq(changeset_answer_ops_end(b, with_op ? 1 : 0), MRF_OK);
    if (h)
        ck_assert_int_eq(changeset_answer_audit(b, h), MRF_OK);
    if (n >= 0) {
        k = 0;
        ck_assert_int_eq(changeset_answer_conflicts_begin(b), MRF_OK);
        for (int i = 0; i < n; i++)
            ck_assert_int_eq(changeset_put_conflict(b, &k, &c[i]), MRF_OK);
        if (raw)
            ck_assert_int_eq(buf_puts(b, raw), MRF_OK);
        ck_assert_int_eq(changeset_answer_conflicts_end(b, ccursor), MRF_OK);
    }
    ck_assert_int_eq(changeset_answer_end(b, 0), MRF_OK);
}

/* Applies an answer for a fresh change set id. */
static enum mrf_status apply(const struct buf *b, struct sync_summary *sum)
{
    uint8_t cs[MRF_ID];
    struct buf again;
    enum mrf_status st;

    /* the answer names its change set: rewrite it for a fresh id */
    mrf_random(cs, MRF_ID);
    buf_init(&again, WIRE_JSON_MAX);
    {
        char *hex = hex_encode(cs, MRF_ID);
        const char *at = strstr(b->data, "\"id\":\"") + 6;
        ck_assert_int_eq(buf_append(&again, b->data, (size_t)(at - b->data)), MRF_OK);
        ck_assert_int_eq(buf_puts(&again, hex), MRF_OK);
        ck_assert_int_eq(buf_puts(&again, at + 2 * MRF_ID), MRF_OK);
        x_free(hex);
    }
    memset(sum, 0, sizeof *sum);
    st = client_sync_answer(&ctx, cs, again.data, again.len, sum);
    buf_release(&again);
    return st;
}

static const cJSON *member(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

START_TEST(records_stored_cursor_moves_and_grant_marked)
{
    struct cs_conflict c[2];
    struct audit_head h;
    struct sync_summary sum;
    struct buf b;
    cJSON *rows = NULL, *st = NULL;
    const uint8_t zero[MRF_ID] = {0};

    open_record(&c[0], "C-7K2M9Q", 4);
    open_record(&c[1], "C-0ABCDE", 5);
    str_copy(c[1].kind, "parallel", sizeof c[1].kind);
    str_copy(c[1].rule, "same_value", sizeof c[1].rule);
    str_copy(c[1].rows, "G-ZZZZZZ", sizeof c[1].rows); /* another grant */
    c[1].closed = 1796000001;
    str_copy(c[1].decision, "info", sizeof c[1].decision);
    head_of(&h, 7, 0xab, hq->sign_sk);
    buf_init(&b, WIRE_JSON_MAX);
    answer(&b, zero, 1, &h, c, 2, 5, NULL);
    ck_assert_msg(apply(&b, &sum) == MRF_OK, "%s", ctx.err.msg);
    ck_assert_int_eq(sum.records, 2);
    ck_assert_str_eq(sum.audit_warning, "");
    ck_assert_int_eq(one_int("SELECT count(*) FROM conflicts"), 2);
    ck_assert_int_eq(one_int("SELECT conflict_cursor FROM meta"), 5);
    ck_assert_int_eq(ctx.meta.conflict_cursor, 5);
    ck_assert_int_eq(one_int("SELECT audit_seq FROM meta"), 7);
    ck_assert_int_eq(one_int("SELECT count(*) FROM allocations"), 1);

    /* conflicts: open ones, or all */
    ck_assert_int_eq(client_conflicts_json(&ctx, 0, &rows), MRF_OK);
    ck_assert_int_eq(cJSON_GetArraySize(rows), 1);
    ck_assert_str_eq(member(cJSON_GetArrayItem(rows, 0), "id")->valuestring, "C-7K2M9Q");
    ck_assert_str_eq(member(cJSON_GetArrayItem(rows, 0), "b")->valuestring, "14000.00");
    ck_assert(cJSON_IsNull(member(cJSON_GetArrayItem(rows, 0), "decision")));
    cJSON_Delete(rows);
    ck_assert_int_eq(client_conflicts_json(&ctx, 1, &rows), MRF_OK);
    ck_assert_int_eq(cJSON_GetArraySize(rows), 2);
    ck_assert_str_eq(member(cJSON_GetArrayItem(rows, 1), "decision")->valuestring, "info");
    ck_assert_str_eq(member(cJSON_GetArrayItem(rows, 1), "state")->valuestring, "closed");
    cJSON_Delete(rows);

    /* status counts the open one and shows the head */
    ck_assert_int_eq(client_status_json(&ctx, &st), MRF_OK);
    ck_assert_int_eq((int)member(st, "open_conflicts")->valuedouble, 1);
    ck_assert_int_eq((int)member(member(st, "audit_head"), "seq")->valuedouble, 7);
    ck_assert_str_eq(member(member(st, "audit_head"), "hash")->valuestring,
                     "abababababababababababababababababababababababababababababababab");
    ck_assert(cJSON_IsString(member(member(st, "audit_head"), "received")));
    cJSON_Delete(st);

    /* grant list marks the grant the open record names */
    ck_assert_int_eq(client_grants_json(&ctx, 0, NULL, 0, &rows), MRF_OK);
    ck_assert_int_eq(client_grants_mark_conflicts(&ctx, rows), MRF_OK);
    ck_assert_str_eq(member(cJSON_GetArrayItem(rows, 0), "conflict")->valuestring, "C-7K2M9Q");
    cJSON_Delete(rows);

    /* HQ closes it: the record is updated, the mark goes */
    c[0].closed = 1796003600;
    c[0].cseq = 6;
    str_copy(c[0].decision, "take_b", sizeof c[0].decision);
    str_copy(c[0].reason, "the board approved 14000", sizeof c[0].reason);
    answer(&b, zero, 0, NULL, c, 1, 6, NULL);
    ck_assert_msg(apply(&b, &sum) == MRF_OK, "%s", ctx.err.msg);
    ck_assert_int_eq(one_int("SELECT count(*) FROM conflicts WHERE closed_at IS NULL"), 0);
    ck_assert_int_eq(one_int("SELECT conflict_cursor FROM meta"), 6);
    ck_assert_int_eq(client_grants_json(&ctx, 0, NULL, 0, &rows), MRF_OK);
    ck_assert_int_eq(client_grants_mark_conflicts(&ctx, rows), MRF_OK);
    ck_assert(cJSON_IsNull(member(cJSON_GetArrayItem(rows, 0), "conflict")));
    cJSON_Delete(rows);

    /* an older version of a record never replaces a newer one; the cursor never goes back */
    open_record(&c[0], "C-7K2M9Q", 4);
    answer(&b, zero, 0, NULL, c, 1, 4, NULL);
    ck_assert_msg(apply(&b, &sum) == MRF_OK, "%s", ctx.err.msg);
    ck_assert_int_eq(one_int("SELECT count(*) FROM conflicts WHERE closed_at IS NULL"), 0);
    ck_assert_int_eq(one_int("SELECT conflict_cursor FROM meta"), 6);
    /* an answer without records leaves them and the cursor alone */
    answer(&b, zero, 0, NULL, NULL, -1, 0, NULL);
    ck_assert_msg(apply(&b, &sum) == MRF_OK, "%s", ctx.err.msg);
    ck_assert_int_eq(one_int("SELECT count(*) FROM conflicts"), 2);
    ck_assert_int_eq(one_int("SELECT conflict_cursor FROM meta"), 6);
    buf_release(&b);
}
END_TEST

/* A head HQ did not sign (another key) is not kept; the rest of the answer is. */
START_TEST(head_with_bad_signature_not_stored)
{
    struct mrf_secrets *other = NULL;
    struct cs_conflict c;
    struct audit_head h;
    struct sync_summary sum;
    struct buf b;
    cJSON *st = NULL;
    const uint8_t zero[MRF_ID] = {0};

    mrf_secrets_new(&other);
    head_of(&h, 7, 0xab, other->sign_sk);
    open_record(&c, "C-7K2M9Q", 1);
    buf_init(&b, WIRE_JSON_MAX);
    answer(&b, zero, 0, &h, &c, 1, 1, NULL);
    ck_assert_msg(apply(&b, &sum) == MRF_OK, "%s", ctx.err.msg);
    ck_assert_ptr_nonnull(strstr(sum.audit_warning, "did not verify"));
    ck_assert_int_eq(one_int("SELECT count(*) FROM meta WHERE audit_seq IS NULL"), 1);
    ck_assert_int_eq(one_int("SELECT count(*) FROM conflicts"), 1);
    ck_assert_int_eq(client_status_json(&ctx, &st), MRF_OK);
    ck_assert(cJSON_IsNull(member(st, "audit_head")));
    cJSON_Delete(st);

    /* a good head after it is kept; a tampered copy of a good one is not */
    head_of(&h, 8, 0xcd, hq->sign_sk);
    h.hash[0] ^= 1;
    answer(&b, zero, 0, &h, NULL, -1, 0, NULL);
    ck_assert_int_eq(apply(&b, &sum), MRF_OK);
    ck_assert_str_ne(sum.audit_warning, "");
    ck_assert_int_eq(one_int("SELECT count(*) FROM meta WHERE audit_seq IS NULL"), 1);
    h.hash[0] ^= 1;
    answer(&b, zero, 0, &h, NULL, -1, 0, NULL);
    ck_assert_int_eq(apply(&b, &sum), MRF_OK);
    ck_assert_str_eq(sum.audit_warning, "");
    ck_assert_int_eq(one_int("SELECT audit_seq FROM meta"), 8);
    buf_release(&b);
    mrf_secrets_free(other);
}
END_TEST

/* A head behind the kept one is not kept; the same head again is; the same sequence with
 * another hash is not (HQ signing two histories: the first is the proof). */
START_TEST(head_lower_seq_not_stored)
{
    struct audit_head h;
    struct sync_summary sum;
    struct buf b;
    const uint8_t zero[MRF_ID] = {0};

    buf_init(&b, WIRE_JSON_MAX);
    head_of(&h, 10, 0x10, hq->sign_sk);
    answer(&b, zero, 0, &h, NULL, -1, 0, NULL);
    ck_assert_int_eq(apply(&b, &sum), MRF_OK);
    ck_assert_int_eq(one_int("SELECT audit_seq FROM meta"), 10);

    head_of(&h, 9, 0x09, hq->sign_sk);
    answer(&b, zero, 0, &h, NULL, -1, 0, NULL);
    ck_assert_int_eq(apply(&b, &sum), MRF_OK);
    ck_assert_ptr_nonnull(strstr(sum.audit_warning, "behind"));
    ck_assert_int_eq(one_int("SELECT audit_seq FROM meta"), 10);
    ck_assert_int_eq(one_int("SELECT hex(substr(audit_hash, 1, 1)) = '10' FROM meta"), 1);

    head_of(&h, 10, 0x10, hq->sign_sk);
    answer(&b, zero, 0, &h, NULL, -1, 0, NULL);
    ck_assert_int_eq(apply(&b, &sum), MRF_OK);
    ck_assert_str_eq(sum.audit_warning, "");

    head_of(&h, 10, 0x11, hq->sign_sk);
    answer(&b, zero, 0, &h, NULL, -1, 0, NULL);
    ck_assert_int_eq(apply(&b, &sum), MRF_OK);
    ck_assert_ptr_nonnull(strstr(sum.audit_warning, "another chain hash"));
    ck_assert_int_eq(one_int("SELECT hex(substr(audit_hash, 1, 1)) = '10' FROM meta"), 1);

    head_of(&h, 11, 0x11, hq->sign_sk);
    answer(&b, zero, 0, &h, NULL, -1, 0, NULL);
    ck_assert_int_eq(apply(&b, &sum), MRF_OK);
    ck_assert_int_eq(one_int("SELECT audit_seq FROM meta"), 11);
    buf_release(&b);
}
END_TEST

/* One record that does not read refuses the whole answer: no op, record, cursor or head. */
START_TEST(bad_record_refuses_whole_answer)
{
    struct cs_conflict c;
    struct audit_head h;
    struct sync_summary sum;
    struct buf b;
    const uint8_t zero[MRF_ID] = {0};
    int64_t cursor = one_int("SELECT hq_cursor FROM meta");

    open_record(&c, "C-7K2M9Q", 1);
    head_of(&h, 3, 0x33, hq->sign_sk);
    buf_init(&b, WIRE_JSON_MAX);
    answer(&b, zero, 1, &h, &c, 1, 2, ",{\"id\":\"C-0ABCDE\",\"kind\":\"value\"}");
    ck_assert_int_eq(apply(&b, &sum), MRF_E_REFUSED);
    ck_assert_ptr_nonnull(strstr(ctx.err.msg, "nothing was applied"));
    ck_assert_int_eq(one_int("SELECT count(*) FROM conflicts"), 0);
    ck_assert_int_eq(one_int("SELECT count(*) FROM allocations"), 0);
    ck_assert_int_eq(one_int("SELECT conflict_cursor FROM meta"), 0);
    ck_assert_int_eq(one_int("SELECT count(*) FROM meta WHERE audit_seq IS NULL"), 1);
    ck_assert_int_eq(one_int("SELECT hq_cursor FROM meta"), cursor);
    ck_assert_int_eq(ctx.meta.conflict_cursor, 0);
    buf_release(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client_conflicts");
    TCase *tc = tcase_create("records");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, records_stored_cursor_moves_and_grant_marked);
    tcase_add_test(tc, head_with_bad_signature_not_stored);
    tcase_add_test(tc, head_lower_seq_not_stored);
    tcase_add_test(tc, bad_record_refuses_whole_answer);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

/* Check suite for client/: the post's rules through the client API on a real store set up from
 * a real enrollment token — themes per year, partner fields and sealing, grant rules, status
 * moves, and that every refusal leaves the store exactly as it was. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "client.h"

static char dir[64];
static struct cli_ctx ctx;
static uint8_t escrow_pk[MRF_BOX_PK];
static uint8_t *escrow_sk;

static void make_token(char **out, int64_t expires)
{
    struct enroll_token t;
    struct mrf_secrets *hq = NULL;
    struct mrf_error err = {0};

    memset(&t, 0, sizeof t);
    mrf_secrets_new(&hq);
    t.version = 1;
    str_copy(t.url, "https://127.0.0.1:8443", sizeof t.url);
    str_copy(t.tls_pin, "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", sizeof t.tls_pin);
    t.hq = hq->pub;
    memcpy(t.escrow_pk, escrow_pk, MRF_BOX_PK);
    str_copy(t.post, "NAI", sizeof t.post);
    mrf_random(t.token_id, MRF_ID);
    mrf_random(t.secret, MRF_SECRET);
    t.expires = expires;
    ck_assert_int_eq(token_encode(&t, hq->sign_sk, out, &err), MRF_OK);
    mrf_secrets_free(hq);
}

static void setup(void)
{
    char *token = NULL;

    ck_assert_int_eq(mrfcrypto_init(), MRF_OK);
    testutil_tmpdir(dir, sizeof dir, "client");
    escrow_sk = malloc(MRF_BOX_SK);
    mrf_box_keypair(escrow_pk, escrow_sk);
    make_token(&token, (int64_t)time(NULL) + 3600);
    client_init(&ctx, dir);
    ck_assert_msg(client_setup(&ctx, token, "correct horse", (int64_t)time(NULL)) == MRF_OK, "%s",
                  ctx.err.msg);
    x_free(token);
}

static void teardown(void)
{
    client_close(&ctx);
    free(escrow_sk);
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

/* Everything a refusal must leave untouched. */
static int64_t fingerprint_store(void)
{
    return one_int("SELECT (SELECT count(*) FROM outbox) * 1000000 + "
                   "(SELECT total(clock) FROM outbox) % 1000000 + "
                   "(SELECT count(*) FROM grants) * 1000 + (SELECT count(*) FROM partners)");
}

static void themes(int year, const char *a, const char *b)
{
    const char *t[2] = {a, b};
    ck_assert_msg(client_theme_set(&ctx, year, t, b ? 2 : 1) == MRF_OK, "%s", ctx.err.msg);
}

static void partner(char code[16], const char *name)
{
    struct partner_input in = {.name = name};
    ck_assert_msg(client_partner_add(&ctx, &in, code) == MRF_OK, "%s", ctx.err.msg);
}

static enum mrf_status grant(char code[16], const char *p, const char *theme, const char *amount)
{
    struct grant_input in = {.partner = p, .theme = theme, .year = "2026", .amount = amount};
    return client_grant_add(&ctx, &in, code);
}

START_TEST(setup_refuses_twice_and_expired)
{
    char *token = NULL;
    struct cli_ctx other;

    make_token(&token, (int64_t)time(NULL) + 3600);
    ck_assert_int_eq(client_setup(&ctx, token, "correct horse", (int64_t)time(NULL)), MRF_E_STATE);
    x_free(token);

    make_token(&token, (int64_t)time(NULL) - 1);
    client_init(&other, "/tmp/mrf-client-never-created");
    ck_assert_int_eq(client_setup(&other, token, "correct horse", (int64_t)time(NULL)),
                     MRF_E_REFUSED);
    ck_assert_int_ne(access("/tmp/mrf-client-never-created", F_OK), 0);
    x_free(token);

    make_token(&token, (int64_t)time(NULL) + 3600);
    ck_assert_int_eq(client_setup(&other, token, "short", (int64_t)time(NULL)), MRF_E_INVALID);
    ck_assert_int_ne(access("/tmp/mrf-client-never-created/keystore", F_OK), 0);
    x_free(token);
}
END_TEST

START_TEST(theme_rules)
{
    const char *three[] = {"HRD", "FOE", "ACC"};
    const char *dup[] = {"HRD", "hrd"};
    const char *bad[] = {"XYZ"};
    int got[THEME_COUNT], n;
    int64_t before;

    themes(2026, "HRD", "FOE");
    before = fingerprint_store();
    ck_assert_int_eq(client_theme_set(&ctx, 2026, three, 3), MRF_E_RULE);
    ck_assert_ptr_nonnull(strstr(ctx.err.msg, "at most two"));
    ck_assert_int_eq(client_theme_set(&ctx, 2026, dup, 2), MRF_E_INVALID);
    ck_assert_int_eq(client_theme_set(&ctx, 2026, bad, 1), MRF_E_INVALID);
    ck_assert_int_eq(fingerprint_store(), before);
    themes(2026, "ACC", NULL);
    ck_assert_int_eq(client_theme_get(&ctx, 2026, got, &n), MRF_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(theme_code(got[0]), "ACC");
    /* re-choosing a theme that was dropped revives the same row */
    themes(2026, "HRD", "ACC");
    ck_assert_int_eq(one_int("SELECT count(*) FROM themes WHERE year = 2026"), 3);
    ck_assert_int_eq(one_int("SELECT count(*) FROM themes WHERE year = 2026 AND removed = 0"), 2);
}
END_TEST

START_TEST(theme_drop_used_refused)
{
    char p[16], g[16];
    int64_t before;

    themes(2026, "HRD", "FOE");
    partner(p, "Alpha");
    ck_assert_int_eq(grant(g, p, "HRD", "100"), MRF_OK);
    before = fingerprint_store();
    themes(2026, "HRD", "ACC"); /* FOE unused: fine */
    before = fingerprint_store();
    {
        const char *t[] = {"ACC"};
        ck_assert_int_eq(client_theme_set(&ctx, 2026, t, 1), MRF_E_RULE);
        ck_assert_ptr_nonnull(strstr(ctx.err.msg, g));
    }
    ck_assert_int_eq(fingerprint_store(), before);
}
END_TEST

START_TEST(partner_sealed_and_revealed)
{
    struct partner_input in = {.name = "Marigold Collective",
                               .phone = "+254 711 928374",
                               .note = "line one\nline two",
                               .risk = "HIGH"};
    char code[16];
    uint8_t id[MRF_ID];
    int removed;
    char *plain = NULL;
    cJSON *rows = NULL;
    char *dump;

    ck_assert_int_eq(client_partner_add(&ctx, &in, code), MRF_OK);
    ck_assert_int_eq(strncmp(code, "PX-", 3), 0);
    ck_assert_int_eq(client_find(&ctx, ST_PARTNERS, code, id, &removed), MRF_OK);
    /* listing without reveal shows no identity */
    ck_assert_int_eq(client_partners_json(&ctx, NULL, 0, 0, &rows), MRF_OK);
    dump = cJSON_PrintUnformatted(rows);
    ck_assert_ptr_null(strstr(dump, "Marigold"));
    ck_assert_ptr_nonnull(strstr(dump, "\"risk\":\"high\""));
    cJSON_free(dump);
    cJSON_Delete(rows);
    /* the device opens its own fields */
    setenv("MRF_PASSPHRASE", "correct horse", 1);
    ck_assert_int_eq(client_unlock(&ctx), MRF_OK);
    ck_assert_int_eq(client_reveal(&ctx, ST_PARTNERS, id, PARTNER_NAME, &plain), MRF_OK);
    ck_assert_str_eq(plain, "Marigold Collective");
    sealed_plain_free(plain);
    ck_assert_int_eq(client_reveal(&ctx, ST_PARTNERS, id, PARTNER_EMAIL, &plain), MRF_OK);
    ck_assert_ptr_null(plain);
    /* and so does HQ's escrow key, with the same binding */
    {
        sqlite3_stmt *s = NULL;
        char aad[96], *hex = hex_encode(id, MRF_ID);
        size_t len;
        snprintf(aad, sizeof aad, "partners/%s/phone", hex);
        x_free(hex);
        ck_assert_int_eq(sqlite3_prepare_v2(ctx.db, "SELECT phone FROM partners", -1, &s, NULL),
                         SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
        ck_assert_int_eq(sealed_open(&plain, &len, sqlite3_column_blob(s, 0),
                                     (size_t)sqlite3_column_bytes(s, 0), aad, escrow_pk, escrow_sk),
                         MRF_OK);
        ck_assert_str_eq(plain, "+254 711 928374");
        sealed_plain_free(plain);
        sqlite3_finalize(s);
    }
}
END_TEST

START_TEST(wrong_passphrase)
{
    setenv("MRF_PASSPHRASE", "wrong horse", 1);
    ck_assert_int_eq(client_unlock(&ctx), MRF_E_PASSPHRASE);
    ck_assert_ptr_null(ctx.secrets);
    ck_assert_ptr_null(strstr(ctx.err.msg, "wrong horse"));
}
END_TEST

START_TEST(partner_field_rules)
{
    char code[16], longname[CAP_NAME + 2];
    int64_t before = fingerprint_store();
    struct partner_input none = {0};
    struct partner_input ctl = {.name = "bad\x01name"};
    struct partner_input mail = {.name = "A", .email = "not-an-email"};
    struct partner_input phone = {.name = "A", .phone = "call me"};
    struct partner_input risk = {.name = "A", .risk = "extreme"};
    struct partner_input big = {.name = longname};
    struct partner_input utf = {.name = "A", .address = "\xc3\x28"};

    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_int_eq(client_partner_add(&ctx, &none, code), MRF_E_INVALID);
    ck_assert_int_eq(client_partner_add(&ctx, &ctl, code), MRF_E_INVALID);
    ck_assert_int_eq(client_partner_add(&ctx, &mail, code), MRF_E_INVALID);
    ck_assert_int_eq(client_partner_add(&ctx, &phone, code), MRF_E_INVALID);
    ck_assert_int_eq(client_partner_add(&ctx, &risk, code), MRF_E_INVALID);
    ck_assert_int_eq(client_partner_add(&ctx, &big, code), MRF_E_TOOBIG);
    ck_assert_ptr_null(strstr(ctx.err.msg, "xxxx"));
    ck_assert_int_eq(client_partner_add(&ctx, &utf, code), MRF_E_INVALID);
    ck_assert_int_eq(fingerprint_store(), before);
}
END_TEST

START_TEST(partner_edit_and_remove)
{
    char p[16], g[16];
    struct partner_input edit = {.risk = "low", .note = ""};
    struct partner_input empty_name = {.name = ""};
    struct partner_input nothing = {0};
    struct grant_input cancel = {.status = "cancelled"};

    themes(2026, "HRD", NULL);
    partner(p, "Beta");
    ck_assert_int_eq(client_partner_edit(&ctx, p, &edit), MRF_OK);
    ck_assert_int_eq(one_int("SELECT risk = 'low' AND note IS NULL FROM partners"), 1);
    ck_assert_int_eq(client_partner_edit(&ctx, p, &empty_name), MRF_E_INVALID);
    ck_assert_int_eq(client_partner_edit(&ctx, p, &nothing), MRF_E_USAGE);
    ck_assert_int_eq(client_partner_edit(&ctx, "PX-000000", &edit), MRF_E_NOTFOUND);
    ck_assert_int_eq(client_partner_edit(&ctx, "PX-12", &edit), MRF_E_INVALID);
    ck_assert_int_eq(grant(g, p, "HRD", "10"), MRF_OK);
    ck_assert_int_eq(client_partner_remove(&ctx, p), MRF_E_RULE);
    ck_assert_int_eq(client_grant_set(&ctx, g, &cancel), MRF_OK);
    ck_assert_int_eq(client_partner_remove(&ctx, p), MRF_OK);
    ck_assert_int_eq(client_partner_remove(&ctx, p), MRF_E_RULE);
    ck_assert_int_eq(grant(g, p, "HRD", "10"), MRF_E_RULE);
    ck_assert_ptr_nonnull(strstr(ctx.err.msg, "removed"));
}
END_TEST

START_TEST(grant_rules)
{
    char p[16], g[16];
    struct grant_input in;
    int64_t before;

    partner(p, "Gamma");
    ck_assert_int_eq(grant(g, p, "HRD", "10"), MRF_E_RULE); /* no themes for 2026 */
    ck_assert_ptr_nonnull(strstr(ctx.err.msg, "theme set"));
    themes(2026, "HRD", "FOE");
    before = fingerprint_store();
    ck_assert_int_eq(grant(g, p, "WGR", "10"), MRF_E_RULE);
    ck_assert_int_eq(grant(g, p, "NOPE", "10"), MRF_E_INVALID);
    ck_assert_int_eq(grant(g, p, "HRD", "10.001"), MRF_E_INVALID);
    ck_assert_int_eq(grant(g, p, "HRD", "0"), MRF_E_INVALID);
    ck_assert_int_eq(grant(g, "PX-000000", "HRD", "10"), MRF_E_NOTFOUND);
    memset(&in, 0, sizeof in);
    in = (struct grant_input){.partner = p,
                              .theme = "HRD",
                              .year = "2026",
                              .amount = "5",
                              .start = "2026-06-01",
                              .end = "2026-05-31"};
    ck_assert_int_eq(client_grant_add(&ctx, &in, g), MRF_E_RULE);
    in.end = "2026-06-31";
    ck_assert_int_eq(client_grant_add(&ctx, &in, g), MRF_E_INVALID);
    in.end = "2026-06-30";
    in.currency = "eu";
    ck_assert_int_eq(client_grant_add(&ctx, &in, g), MRF_E_INVALID);
    ck_assert_int_eq(fingerprint_store(), before);
    in.currency = "usd";
    ck_assert_int_eq(client_grant_add(&ctx, &in, g), MRF_OK);
    ck_assert_int_eq(one_int("SELECT currency = 'USD' AND status = 'draft' AND "
                             "amount_cents = 500 FROM grants"),
                     1);
}
END_TEST

START_TEST(grant_status_moves)
{
    char p[16], g[16];
    struct grant_input s = {0};
    int64_t before;

    themes(2026, "HRD", NULL);
    partner(p, "Delta");
    ck_assert_int_eq(grant(g, p, "HRD", "100"), MRF_OK);
    s.status = "committed";
    ck_assert_int_eq(client_grant_set(&ctx, g, &s), MRF_OK);
    s.status = "draft";
    ck_assert_int_eq(client_grant_set(&ctx, g, &s), MRF_E_RULE);
    s.status = "disbursed";
    ck_assert_int_eq(client_grant_set(&ctx, g, &s), MRF_OK);
    s.status = "cancelled";
    ck_assert_int_eq(client_grant_set(&ctx, g, &s), MRF_E_RULE);
    s.status = "closed";
    ck_assert_int_eq(client_grant_set(&ctx, g, &s), MRF_OK);
    before = fingerprint_store();
    s = (struct grant_input){.amount = "50"};
    ck_assert_int_eq(client_grant_set(&ctx, g, &s), MRF_E_RULE);
    s = (struct grant_input){.status = "bogus"};
    ck_assert_int_eq(client_grant_set(&ctx, g, &s), MRF_E_INVALID);
    s = (struct grant_input){0};
    ck_assert_int_eq(client_grant_set(&ctx, g, &s), MRF_E_USAGE);
    ck_assert_int_eq(fingerprint_store(), before);
}
END_TEST

START_TEST(allocation_sums_committed)
{
    char p[16], g1[16], g2[16], g3[16];
    struct grant_input commit = {.status = "committed"};
    cJSON *o = NULL;

    themes(2026, "HRD", NULL);
    partner(p, "Eps");
    ck_assert_int_eq(grant(g1, p, "HRD", "100.25"), MRF_OK);
    ck_assert_int_eq(grant(g2, p, "HRD", "200.50"), MRF_OK);
    ck_assert_int_eq(grant(g3, p, "HRD", "999"), MRF_OK); /* stays draft */
    ck_assert_int_eq(client_grant_set(&ctx, g1, &commit), MRF_OK);
    ck_assert_int_eq(client_grant_set(&ctx, g2, &commit), MRF_OK);
    ck_assert_int_eq(client_allocation_json(&ctx, 2026, &o), MRF_OK);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "committed")),
                     "300.75");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "allocation")));
    cJSON_Delete(o);
    /* an allocation from HQ (arrives by sync) gives the remainder */
    ck_assert_int_eq(sqlite3_exec(ctx.db,
                                  "INSERT INTO allocations(id, post, year, amount_cents, currency) "
                                  "VALUES (zeroblob(16), 'NAI', 2026, 100000, 'EUR')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(client_allocation_json(&ctx, 2026, &o), MRF_OK);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "remaining")),
                     "699.25");
    cJSON_Delete(o);
}
END_TEST

START_TEST(writes_are_captured_and_coalesced)
{
    char p[16], g[16];
    struct grant_input s = {0};
    int64_t before;
    char amount[16];

    themes(2026, "HRD", NULL);
    partner(p, "Zeta");
    ck_assert_int_eq(grant(g, p, "HRD", "1"), MRF_OK);
    before = one_int("SELECT count(*) FROM outbox");
    for (int i = 2; i < 7; i++) {
        snprintf(amount, sizeof amount, "%d", i);
        s.amount = amount;
        ck_assert_int_eq(client_grant_set(&ctx, g, &s), MRF_OK);
    }
    ck_assert_int_eq(one_int("SELECT count(*) FROM outbox"), before);
    ck_assert_int_eq(one_int("SELECT value FROM outbox WHERE tbl = 2 AND col = 3"), 600);
}
END_TEST

/* A sync cuts the outbox into change sets without splitting one row's writes: HQ takes a
 * row it does not have only with its required columns in the same change set. With a target
 * of one byte, the first change set is exactly the first row's writes (HQ is not there, so
 * the change set stays frozen in the outbox; until HQ has answered, a sync freezes that one
 * change set only, the rest stays pending). */
START_TEST(cut_keeps_a_rows_writes_together)
{
    struct sync_opts o = {.timeout_s = 1, .changeset_target = 1};
    struct sync_summary sum;
    char p[16], g[16];

    themes(2026, "HRD", NULL);
    partner(p, "Zeta");
    ck_assert_int_eq(grant(g, p, "HRD", "1"), MRF_OK);
    ck_assert_msg(client_unlock_with(&ctx, "correct horse") == MRF_OK, "%s", ctx.err.msg);
    ck_assert_int_ne(client_sync(&ctx, &o, &sum), MRF_OK); /* no HQ */
    ck_assert_int_eq(one_int("SELECT count(*) FROM outbox WHERE changeset IS NOT NULL"), 3);
    ck_assert_int_eq(one_int("SELECT count(*) FROM outbox f JOIN outbox p ON p.tbl = f.tbl AND "
                             "p.id = f.id WHERE f.changeset IS NOT NULL AND p.changeset IS NULL"),
                     0);
}
END_TEST

static int count_commit(void *arg)
{
    (*(int *)arg)++;
    return 0; /* the commit goes on */
}

static enum mrf_status count_envelope(void *arg, const uint8_t *env, size_t len)
{
    (void)env;
    (void)len;
    (*(int *)arg)++;
    return MRF_OK;
}

/* Many change sets are frozen in one transaction (client/sync.c freeze()): freezing an entry
 * takes it out of outbox_pending, keyed by random row ids, so one commit per change set would
 * write most of that index's pages once per change set. Here 30,000 pending entries (more
 * than three change sets of CHANGESET_OPS_MAX) and a pouch's requests for three change sets:
 * three are frozen, by one commit, and the rest stays pending. */
START_TEST(many_change_sets_frozen_by_one_commit)
{
    struct pouch_out_summary out = {0};
    int commits = 0, envelopes = 0;

    ck_assert_int_eq(sqlite3_exec(ctx.db,
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                                  "WHERE i < 30000) INSERT INTO outbox(tbl, id, col, value, clock) "
                                  "SELECT 2, randomblob(16), 3, i, i FROM n",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_msg(client_unlock_with(&ctx, "correct horse") == MRF_OK, "%s", ctx.err.msg);
    sqlite3_commit_hook(ctx.db, count_commit, &commits);
    ck_assert_msg(client_sync_requests(&ctx, 3, 0, count_envelope, &envelopes, &out) == MRF_OK,
                  "%s", ctx.err.msg);
    sqlite3_commit_hook(ctx.db, NULL, NULL);
    ck_assert_int_eq(commits, 1);
    ck_assert_int_eq(envelopes, 3);
    ck_assert_int_eq(out.changesets, 3);
    ck_assert_int_eq(
        one_int("SELECT count(DISTINCT changeset) FROM outbox WHERE changeset IS NOT NULL"), 3);
    ck_assert_int_eq(one_int("SELECT count(*) FROM outbox WHERE changeset IS NOT NULL"), out.ops);
    ck_assert_int_eq(one_int("SELECT count(*) FROM outbox WHERE changeset IS NULL"),
                     30000 - out.ops);
    ck_assert_int_gt(30000 - out.ops, 0);
    /* the change sets take the oldest entries, in order: no pending entry is older */
    ck_assert_int_eq(one_int("SELECT count(*) FROM outbox p WHERE p.changeset IS NULL AND p.seq < "
                             "(SELECT max(seq) FROM outbox WHERE changeset IS NOT NULL)"),
                     0);
}
END_TEST

/* Every outbox statement that names frozen entries finds them through outbox_frozen (post store
 * version 8), and the two that name one pending entry through outbox_pending: none scans the
 * outbox, so a sync's cost per change set does not grow with the entries still pending. */
START_TEST(outbox_statements_use_their_index)
{
    static const struct {
        enum client_sql q;
        const char *index;
    } want[] = {
        {CQ_OUTBOX_FROZEN_NEXT, "outbox_frozen"}, {CQ_OUTBOX_FROZEN_LIST, "outbox_frozen"},
        {CQ_OUTBOX_OF, "outbox_frozen"},          {CQ_OUTBOX_ACK, "outbox_frozen"},
        {CQ_OUTBOX_SEEN, "outbox_frozen"},        {CQ_QUARANTINE_PUT, "outbox_frozen"},
        {CQ_OUTBOX_SET_ASIDE, "outbox_pending"},  {CQ_OUTBOX_RESTAMP_PREV, "outbox_pending"},
    };

    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        sqlite3_stmt *q = client_stmt(&ctx, want[i].q), *plan = NULL;
        char *sql;
        int uses = 0;

        ck_assert_msg(q != NULL, "statement %d: %s", (int)want[i].q, ctx.err.msg);
        sql = xasprintf("EXPLAIN QUERY PLAN %s", sqlite3_sql(q));
        ck_assert_int_eq(sqlite3_prepare_v2(ctx.db, sql, -1, &plan, NULL), SQLITE_OK);
        while (sqlite3_step(plan) == SQLITE_ROW) {
            const char *d = (const char *)sqlite3_column_text(plan, 3);
            ck_assert_msg(strncmp(d, "SCAN outbox", 11) != 0, "%s: %s", sqlite3_sql(q), d);
            uses |= strstr(d, want[i].index) != NULL;
        }
        ck_assert_msg(uses, "%s does not use %s", sqlite3_sql(q), want[i].index);
        sqlite3_finalize(plan);
        x_free(sql);
    }
}
END_TEST

/* A command that wrote gives the pages it freed back when it closes the store (auto_vacuum
 * INCREMENTAL): here an outbox of 2,000 entries, then acknowledged. */
START_TEST(close_returns_free_pages)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;

    ck_assert_int_eq(one_int("PRAGMA auto_vacuum"), 2);
    ck_assert_int_eq(sqlite3_exec(ctx.db,
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                                  "WHERE i < 2000) INSERT INTO outbox(tbl, id, col, value, clock, "
                                  "changeset) SELECT 2, randomblob(16), 3, randomblob(400), i, "
                                  "x'00' FROM n; DELETE FROM outbox WHERE changeset = x'00'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_gt(one_int("PRAGMA freelist_count"), 100);
    client_close(&ctx);
    ck_assert_int_eq(sqlite3_open_v2(ctx.store_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA freelist_count", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(s, 0), 0);
    sqlite3_finalize(s);
    sqlite3_close_v2(db);
    ck_assert_msg(client_open(&ctx) == MRF_OK, "%s", ctx.err.msg);
}
END_TEST

/* grant list names, beside each grant, the first open conflict record (in opened order) whose
 * rows name its code as a whole word: not a code it is the start of, not a closed record. */
START_TEST(grants_marked_with_their_first_open_conflict)
{
    char p[16], g1[16], g2[16], g3[16], *sql;
    cJSON *rows = NULL, *o;

    themes(2026, "HRD", NULL);
    partner(p, "Zeta");
    ck_assert_int_eq(grant(g1, p, "HRD", "1"), MRF_OK);
    ck_assert_int_eq(grant(g2, p, "HRD", "2"), MRF_OK);
    ck_assert_int_eq(grant(g3, p, "HRD", "3"), MRF_OK);
    sql = xasprintf("INSERT INTO conflicts(id, kind, rule, rows, detail, opened_at, closed_at, "
                    "cseq, received_at) VALUES "
                    "('C-1', 'value', 'r', '%sX %s-2', 'd', 1, NULL, 1, 1), "
                    "('C-2', 'value', 'r', '%s', 'd', 2, 5, 2, 2), "
                    "('C-3', 'value', 'r', '%s, %s', 'd', 3, NULL, 3, 3), "
                    "('C-4', 'value', 'r', '%s', 'd', 4, NULL, 4, 4)",
                    g1, g1, g2, p, g2, g1);
    ck_assert_int_eq(sqlite3_exec(ctx.db, sql, NULL, NULL, NULL), SQLITE_OK);
    x_free(sql);
    ck_assert_int_eq(client_grants_json(&ctx, 0, NULL, 0, &rows), MRF_OK);
    ck_assert_int_eq(client_grants_mark_conflicts(&ctx, rows), MRF_OK);
    cJSON_ArrayForEach(o, rows) {
        const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "code"));
        const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "conflict"));
        if (strcmp(code, g1) == 0)
            ck_assert_str_eq(c ? c : "none", "C-4");
        else if (strcmp(code, g2) == 0)
            ck_assert_str_eq(c ? c : "none", "C-3");
        else
            ck_assert_ptr_null(c);
    }
    cJSON_Delete(rows);
}
END_TEST

/* Fault injection: fails the Nth row write (to grants, clock_rows, writers or outbox) of an
 * operation, for every N until the operation succeeds, and checks that each failure leaves the
 * store exactly as it was (the same idea as SQLite's own fault tests, with a TEMP trigger as the
 * hook). */
static void arm_fault(int n)
{
    char sql[1024];
    static const char *const tables[] = {"grants", "clock_rows", "writers", "outbox"};
    static const char *const ops[] = {"INSERT", "UPDATE"};

    ck_assert_int_eq(sqlite3_exec(ctx.db,
                                  "CREATE TEMP TABLE IF NOT EXISTS fault(left INTEGER);"
                                  "DELETE FROM fault;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    snprintf(sql, sizeof sql, "INSERT INTO fault VALUES (%d)", n);
    ck_assert_int_eq(sqlite3_exec(ctx.db, sql, NULL, NULL, NULL), SQLITE_OK);
    for (int t = 0; t < 4; t++)
        for (int o = 0; o < 2; o++) {
            snprintf(sql, sizeof sql,
                     "CREATE TEMP TRIGGER IF NOT EXISTS fault_%s_%s BEFORE %s ON main.%s "
                     "BEGIN UPDATE fault SET left = left - 1; "
                     "SELECT RAISE(ABORT, 'injected fault') WHERE (SELECT left FROM fault) = 0; "
                     "END",
                     tables[t], ops[o], ops[o], tables[t]);
            ck_assert_int_eq(sqlite3_exec(ctx.db, sql, NULL, NULL, NULL), SQLITE_OK);
        }
}

START_TEST(fault_injection_rolls_back)
{
    char p[16], g[16];
    int n, failures = 0;
    enum mrf_status st = MRF_E_IO;
    struct grant_input set = {.amount = "77", .status = "committed", .start = "2026-01-01"};

    themes(2026, "HRD", NULL);
    partner(p, "Fault");
    for (n = 1; n < 200 && st != MRF_OK; n++) {
        int64_t before = fingerprint_store();
        arm_fault(n);
        st = grant(g, p, "HRD", "100");
        if (st != MRF_OK) {
            failures++;
            ck_assert_int_eq(st, MRF_E_IO);
            ck_assert_int_eq(fingerprint_store(), before);
            ck_assert_str_eq(g, "");
        }
    }
    ck_assert_int_eq(st, MRF_OK);
    /* a new grant writes 1 row + 7 columns, each with its clock and outbox entry */
    ck_assert_int_ge(failures, 20);
    st = MRF_E_IO;
    for (n = 1; n < 200 && st != MRF_OK; n++) {
        int64_t before = fingerprint_store();
        int64_t amount = one_int("SELECT amount_cents FROM grants");
        arm_fault(n);
        st = client_grant_set(&ctx, g, &set);
        if (st != MRF_OK) {
            ck_assert_int_eq(fingerprint_store(), before);
            ck_assert_int_eq(one_int("SELECT amount_cents FROM grants"), amount);
            ck_assert_int_eq(one_int("SELECT status = 'draft' FROM grants"), 1);
        }
    }
    ck_assert_int_eq(st, MRF_OK);
    ck_assert_int_eq(one_int("SELECT amount_cents = 7700 AND status = 'committed' FROM grants"), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client");
    TCase *tc = tcase_create("rules");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, setup_refuses_twice_and_expired);
    tcase_add_test(tc, theme_rules);
    tcase_add_test(tc, theme_drop_used_refused);
    tcase_add_test(tc, partner_sealed_and_revealed);
    tcase_add_test(tc, wrong_passphrase);
    tcase_add_test(tc, partner_field_rules);
    tcase_add_test(tc, partner_edit_and_remove);
    tcase_add_test(tc, grant_rules);
    tcase_add_test(tc, grant_status_moves);
    tcase_add_test(tc, allocation_sums_committed);
    tcase_add_test(tc, writes_are_captured_and_coalesced);
    tcase_add_test(tc, fault_injection_rolls_back);
    tcase_add_test(tc, cut_keeps_a_rows_writes_together);
    tcase_add_test(tc, many_change_sets_frozen_by_one_commit);
    tcase_add_test(tc, outbox_statements_use_their_index);
    tcase_add_test(tc, close_returns_free_pages);
    tcase_add_test(tc, grants_marked_with_their_first_open_conflict);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

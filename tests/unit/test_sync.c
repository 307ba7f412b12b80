/* Check suite for sync/: the domain rules (money, dates, themes, status, codes), the column
 * table (wire ids, kinds, the check of every kind, the sealed fields' binding), hybrid logical
 * clocks, and change capture on a real post store (one outbox entry per column write, coalescing
 * of pending writes, frozen entries untouched, rollback leaving nothing). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "mrfsync.h"
#include "schema.h"

/* ---- domain ------------------------------------------------------------------------------ */

START_TEST(money_valid)
{
    static const struct {
        const char *in;
        int64_t cents;
    } cases[] = {{"12500", 1250000},
                 {"12500.5", 1250050},
                 {"12500.50", 1250050},
                 {"0.01", 1},
                 {"1000000000.00", MONEY_MAX_CENTS},
                 {"007.10", 710}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t c = -1;
        ck_assert_msg(money_parse(cases[i].in, &c, NULL) == MRF_OK, "%s", cases[i].in);
        ck_assert_int_eq(c, cases[i].cents);
    }
}
END_TEST

START_TEST(money_invalid)
{
    static const char *const bad[] = {"",
                                      "0",
                                      "0.00",
                                      "-5",
                                      "+5",
                                      "1.234",
                                      "1,000",
                                      "abc",
                                      "1e5",
                                      "1.",
                                      ".5",
                                      " 1",
                                      "1 ",
                                      "1000000000.01",
                                      "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t c = 7;
        struct mrf_error err = {0};
        ck_assert_msg(money_parse(bad[i], &c, &err) == MRF_E_INVALID, "accepted '%s'", bad[i]);
        ck_assert_int_eq(c, 0);
        ck_assert_int_gt(strlen(err.msg), 10);
    }
}
END_TEST

START_TEST(money_format_cases)
{
    char out[32];
    money_format(1250050, out);
    ck_assert_str_eq(out, "12500.50");
    money_format(5, out);
    ck_assert_str_eq(out, "0.05");
    money_format(-1250, out);
    ck_assert_str_eq(out, "-12.50");
    money_format(INT64_MIN, out);
    ck_assert_str_eq(out, "-92233720368547758.08");
}
END_TEST

START_TEST(dates)
{
    ck_assert_int_eq(date_parse("2026-03-31", NULL), MRF_OK);
    ck_assert_int_eq(date_parse("2028-02-29", NULL), MRF_OK);
    ck_assert_int_eq(date_parse("2000-02-29", NULL), MRF_OK);
    ck_assert_int_eq(date_parse("2100-02-29", NULL), MRF_E_INVALID);
    ck_assert_int_eq(date_parse("2026-02-29", NULL), MRF_E_INVALID);
    ck_assert_int_eq(date_parse("2026-04-31", NULL), MRF_E_INVALID);
    ck_assert_int_eq(date_parse("2026-13-01", NULL), MRF_E_INVALID);
    ck_assert_int_eq(date_parse("2026-00-10", NULL), MRF_E_INVALID);
    ck_assert_int_eq(date_parse("26-01-01", NULL), MRF_E_INVALID);
    ck_assert_int_eq(date_parse("2026/01/01", NULL), MRF_E_INVALID);
    ck_assert_int_eq(date_parse("2026-1-01x", NULL), MRF_E_INVALID);
}
END_TEST

START_TEST(themes_and_years)
{
    int y;
    ck_assert_int_eq(theme_index("HRD"), 4);
    ck_assert_int_eq(theme_index("lgbtiq"), 2);
    ck_assert_int_eq(theme_index("XYZ"), -1);
    ck_assert_int_eq(theme_index(NULL), -1);
    ck_assert_str_eq(theme_code(5), "ACC");
    ck_assert_int_eq(year_parse("2026", &y, NULL), MRF_OK);
    ck_assert_int_eq(y, 2026);
    ck_assert_int_eq(year_parse("1999", &y, NULL), MRF_E_INVALID);
    ck_assert_int_eq(year_parse("2101", &y, NULL), MRF_E_INVALID);
    ck_assert_int_eq(year_parse("20x6", &y, NULL), MRF_E_INVALID);
}
END_TEST

START_TEST(status_forward_only)
{
    ck_assert(grant_status_can_move(GS_DRAFT, GS_COMMITTED));
    ck_assert(grant_status_can_move(GS_COMMITTED, GS_DISBURSED));
    ck_assert(grant_status_can_move(GS_DISBURSED, GS_CLOSED));
    ck_assert(grant_status_can_move(GS_DRAFT, GS_CANCELLED));
    ck_assert(grant_status_can_move(GS_COMMITTED, GS_CANCELLED));
    ck_assert(grant_status_can_move(GS_CLOSED, GS_CLOSED));
    ck_assert(!grant_status_can_move(GS_COMMITTED, GS_DRAFT));
    ck_assert(!grant_status_can_move(GS_CLOSED, GS_DISBURSED));
    ck_assert(!grant_status_can_move(GS_DISBURSED, GS_CANCELLED));
    ck_assert(!grant_status_can_move(GS_CANCELLED, GS_DRAFT));
    ck_assert(!grant_status_can_move(GS_CANCELLED, GS_COMMITTED));
    ck_assert_int_eq(grant_status_parse("Committed"), GS_COMMITTED);
    ck_assert_int_eq(grant_status_parse("done"), -1);
}
END_TEST

START_TEST(codes)
{
    uint8_t id[MRF_ID] = {0xff, 0xff, 0xff, 0xff};
    char code[16], norm[16];

    shortcode_make("PX", id, code);
    ck_assert_str_eq(code, "PX-ZZZZZZ");
    memset(id, 0, sizeof id);
    shortcode_make("G", id, code);
    ck_assert_str_eq(code, "G-000000");
    ck_assert_int_eq(shortcode_parse("G", "g-o0il1z", norm, NULL), MRF_OK);
    ck_assert_str_eq(norm, "G-00111Z");
    ck_assert_int_eq(shortcode_parse("G", "PX-000000", norm, NULL), MRF_E_INVALID);
    ck_assert_int_eq(shortcode_parse("G", "G-0000", norm, NULL), MRF_E_INVALID);
    ck_assert_int_eq(shortcode_parse("G", "G-00000U", norm, NULL), MRF_E_INVALID);
    ck_assert_int_eq(post_code_parse("nai", norm, NULL), MRF_OK);
    ck_assert_str_eq(norm, "NAI");
    ck_assert_int_eq(post_code_parse("1AB", norm, NULL), MRF_E_INVALID);
    ck_assert_int_eq(post_code_parse("A", norm, NULL), MRF_E_INVALID);
    ck_assert_int_eq(post_code_parse("ABCDEFGHIJKLM", norm, NULL), MRF_E_INVALID);
    ck_assert_int_eq(post_code_parse("A B", norm, NULL), MRF_E_INVALID);
}
END_TEST

START_TEST(derived_ids)
{
    uint8_t a[MRF_ID], b[MRF_ID], c[MRF_ID];
    row_id_derive(a, "themes", "NAI", 2026, "HRD");
    row_id_derive(b, "themes", "NAI", 2026, "HRD");
    row_id_derive(c, "themes", "NAI", 2027, "HRD");
    ck_assert_mem_eq(a, b, MRF_ID);
    ck_assert(memcmp(a, c, MRF_ID) != 0);
}
END_TEST

/* ---- clocks ------------------------------------------------------------------------------ */

START_TEST(hlc_monotonic)
{
    hlc_t c = hlc_tick(0, 1000);
    hlc_t d = hlc_tick(c, 1000); /* same millisecond */
    hlc_t e = hlc_tick(d, 10);   /* wall clock went backwards */
    ck_assert_uint_gt(d, c);
    ck_assert_uint_gt(e, d);
    ck_assert_uint_eq(hlc_ms(e), 1000);
    ck_assert_uint_eq(hlc_ms(hlc_tick(e, 2000)), 2000);
}
END_TEST

START_TEST(hlc_receive)
{
    hlc_t remote = hlc_make(5000, 7);
    hlc_t c = hlc_recv(hlc_make(1000, 0), remote, 2000);
    ck_assert_uint_gt(c, remote);
    ck_assert_uint_gt(hlc_recv(c, hlc_make(10, 0), 20), c);
}
END_TEST

/* Clocks are unsigned and saturate: a date thousands of years ahead, or a clock at the top,
 * never wraps round to a small value. */
START_TEST(hlc_saturates)
{
    uint64_t far = UINT64_C(1) << 50; /* ms past 48 bits: ~35,000 years */
    hlc_t top = hlc_make(far, 0);

    ck_assert_uint_eq(hlc_ms(top), (UINT64_C(1) << 48) - 1);
    ck_assert_uint_eq(hlc_tick(HLC_MAX, 1000), HLC_MAX);
    ck_assert_uint_eq(hlc_tick(HLC_MAX - 1, 1000), HLC_MAX);
    ck_assert_uint_eq(hlc_recv(5, HLC_MAX, 1000), HLC_MAX);
    /* above 2^63 is later, not negative */
    ck_assert_int_gt(
        hlc_cmp(UINT64_C(0x8000000000000000), NULL, UINT64_C(0x7fffffffffffffff), NULL), 0);
    ck_assert_uint_eq(hlc_max(UINT64_C(0xffffffffffffff00), 5), UINT64_C(0xffffffffffffff00));
}
END_TEST

/* The bound HQ takes clocks as they are up to: its wall clock and a day; HQ's own next clock
 * never runs past it, even from a stored clock that did. */
START_TEST(hlc_bound_and_bounded_tick)
{
    uint64_t now = 1796000000000ULL;
    hlc_t bound = hlc_bound(now);

    ck_assert_uint_eq(hlc_ms(bound), now + HLC_AHEAD_MAX_MS);
    ck_assert_uint_gt(bound, hlc_make(now + HLC_AHEAD_MAX_MS, 0));
    ck_assert_uint_lt(bound, hlc_make(now + HLC_AHEAD_MAX_MS + 1, 0));
    ck_assert_uint_eq(hlc_tick_bounded(0, now), hlc_make(now, 0));
    ck_assert_uint_le(hlc_tick_bounded(HLC_MAX, now), bound + 1);
    ck_assert_uint_le(hlc_tick_bounded(UINT64_C(0x7fffffffffffffff), now), bound + 1);
    ck_assert_uint_gt(hlc_tick_bounded(hlc_make(now + 5, 3), now), hlc_make(now + 5, 3));
}
END_TEST

START_TEST(hlc_order_and_hex)
{
    uint8_t d1[MRF_ID] = {1}, d2[MRF_ID] = {2};
    char hex[17];
    hlc_t back;
    hlc_t big = hlc_make((1ULL << 47) + 3, 65535);

    ck_assert_int_lt(hlc_cmp(5, d2, 6, d1), 0);
    ck_assert_int_lt(hlc_cmp(5, d1, 5, d2), 0);
    ck_assert_int_eq(hlc_cmp(5, d1, 5, d1), 0);
    hlc_to_hex(big, hex);
    ck_assert_int_eq(strlen(hex), 16);
    ck_assert_int_eq(hlc_from_hex(hex, &back), MRF_OK);
    ck_assert_uint_eq(back, big);
    ck_assert_int_eq(hlc_from_hex("00000000000000zz", &back), MRF_E_INVALID);
    ck_assert_int_eq(hlc_from_hex("0123", &back), MRF_E_INVALID);
    ck_assert_int_eq(hlc_from_hex("00000000000000AB", &back), MRF_E_INVALID);
}
END_TEST

/* ---- capture ----------------------------------------------------------------------------- */

static char dir[64], path[128];
static sqlite3 *db;
static struct capture *cap;
static const uint8_t device[MRF_ID] = {0xd0, 0x0d};

static void cap_setup(void)
{
    struct mrf_error err = {0};
    sqlite3_stmt *s = NULL;
    uint8_t k32[32] = {0};

    testutil_tmpdir(dir, sizeof dir, "sync");
    snprintf(path, sizeof path, "%s/post.db", dir);
    ck_assert_int_eq(schema_open(path, SCHEMA_POST, &db, &err), MRF_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "INSERT INTO meta(id, post, device_id, sign_pk, box_pk, "
                                        "hq_url, hq_tls_pin, hq_sign_pk, hq_box_pk, escrow_pk, "
                                        "token_id, token_expires, created_at) VALUES (1, 'NAI', "
                                        "?1, ?2, ?2, 'https://x:1', 'pin', ?2, ?2, ?2, ?1, 0, 0)",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(s, 1, device, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, k32, 32, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    ck_assert_int_eq(capture_new(db, &cap, &err), MRF_OK);
}

static void cap_teardown(void)
{
    capture_free(cap);
    sqlite3_close_v2(db);
    testutil_rmtree(dir);
}

static int64_t one_int(const char *sql)
{
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void new_grant(uint8_t id[MRF_ID], int64_t amount)
{
    memset(id, 0, MRF_ID);
    id[0] = 0x42;
    id[15] = (uint8_t)amount;
    ck_assert_int_eq(capture_begin(cap), MRF_OK);
    ck_assert_int_eq(capture_row(cap, ST_GRANTS, id), MRF_OK);
    ck_assert_int_eq(capture_set_int(cap, ST_GRANTS, id, 3, amount), MRF_OK);
    ck_assert_int_eq(capture_set_text(cap, ST_GRANTS, id, 5, "draft"), MRF_OK);
    ck_assert_int_eq(capture_commit(cap), MRF_OK);
}

START_TEST(capture_writes_value_clock_outbox)
{
    uint8_t id[MRF_ID];
    int64_t pending;

    new_grant(id, 100);
    ck_assert_int_eq(one_int("SELECT amount_cents FROM grants"), 100);
    ck_assert_int_eq(one_int("SELECT count(*) FROM clocks"), 2);
    ck_assert_int_eq(one_int("SELECT count(*) FROM outbox"), 2);
    ck_assert_int_eq(capture_pending(db, &pending, NULL), MRF_OK);
    ck_assert_int_eq(pending, 2);
    /* the row got its short code, and the meta clock is the newest column clock */
    ck_assert_int_eq(one_int("SELECT count(*) FROM grants WHERE code LIKE 'G-%'"), 1);
    ck_assert_int_eq(one_int("SELECT clock FROM meta"), one_int("SELECT max(clock) FROM clocks"));
    ck_assert_int_eq(one_int("SELECT count(*) FROM outbox WHERE prev_clock = 0"), 2);
}
END_TEST

START_TEST(capture_coalesces_pending)
{
    uint8_t id[MRF_ID];
    int64_t first_clock;

    new_grant(id, 1);
    first_clock = one_int("SELECT clock FROM outbox WHERE col = 3");
    for (int i = 2; i <= 6; i++) {
        ck_assert_int_eq(capture_begin(cap), MRF_OK);
        ck_assert_int_eq(capture_set_int(cap, ST_GRANTS, id, 3, i * 100), MRF_OK);
        ck_assert_int_eq(capture_commit(cap), MRF_OK);
    }
    ck_assert_int_eq(one_int("SELECT count(*) FROM outbox WHERE col = 3"), 1);
    ck_assert_int_eq(one_int("SELECT value FROM outbox WHERE col = 3"), 600);
    ck_assert_int_gt(one_int("SELECT clock FROM outbox WHERE col = 3"), first_clock);
    /* it still replaces what HQ last saw: nothing (the row is new) */
    ck_assert_int_eq(one_int("SELECT prev_clock FROM outbox WHERE col = 3"), 0);
}
END_TEST

START_TEST(capture_frozen_not_coalesced)
{
    uint8_t id[MRF_ID];
    int64_t sent_clock;

    new_grant(id, 1);
    sent_clock = one_int("SELECT clock FROM outbox WHERE col = 3");
    ck_assert_int_eq(sqlite3_exec(db, "UPDATE outbox SET changeset = x'01'", NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(capture_begin(cap), MRF_OK);
    ck_assert_int_eq(capture_set_int(cap, ST_GRANTS, id, 3, 999), MRF_OK);
    ck_assert_int_eq(capture_commit(cap), MRF_OK);
    ck_assert_int_eq(one_int("SELECT count(*) FROM outbox WHERE col = 3"), 2);
    ck_assert_int_eq(one_int("SELECT value FROM outbox WHERE col = 3 AND changeset = x'01'"), 1);
    /* the new write names the clock of the value it replaced */
    ck_assert_int_eq(one_int("SELECT prev_clock FROM outbox WHERE col = 3 AND changeset IS NULL"),
                     sent_clock);
}
END_TEST

START_TEST(capture_rollback_leaves_nothing)
{
    uint8_t id[MRF_ID] = {9};
    int64_t clock_before = one_int("SELECT clock FROM meta");

    ck_assert_int_eq(capture_begin(cap), MRF_OK);
    ck_assert_int_eq(capture_row(cap, ST_GRANTS, id), MRF_OK);
    ck_assert_int_eq(capture_set_int(cap, ST_GRANTS, id, 3, 5), MRF_OK);
    capture_rollback(cap);
    ck_assert_int_eq(one_int("SELECT count(*) FROM grants"), 0);
    ck_assert_int_eq(one_int("SELECT count(*) FROM outbox"), 0);
    ck_assert_int_eq(one_int("SELECT count(*) FROM clocks"), 0);
    ck_assert_int_eq(one_int("SELECT clock FROM meta"), clock_before);
}
END_TEST

START_TEST(capture_refuses_misuse)
{
    uint8_t id[MRF_ID] = {9};

    /* outside a transaction */
    ck_assert_int_eq(capture_set_int(cap, ST_GRANTS, id, 3, 5), MRF_E_INTERNAL);
    ck_assert_int_eq(capture_begin(cap), MRF_OK);
    /* a row that does not exist is created, as a pulled op would create it */
    ck_assert_int_eq(capture_set_int(cap, ST_GRANTS, id, 3, 5), MRF_OK);
    ck_assert_int_eq(one_int("SELECT count(*) FROM grants WHERE code LIKE 'G-%'"), 1);
    ck_assert_int_eq(capture_row(cap, ST_GRANTS, id), MRF_OK);
    /* a wrong type, a column out of range */
    ck_assert_int_eq(capture_set_text(cap, ST_GRANTS, id, 3, "5"), MRF_E_INTERNAL);
    ck_assert_int_eq(capture_set_int(cap, ST_GRANTS, id, 99, 5), MRF_E_INTERNAL);
    capture_rollback(cap);
    ck_assert_int_eq(one_int("SELECT count(*) FROM outbox"), 0);
}
END_TEST

/* A column written by another device with a clock far ahead (HQ sends none such, but a store
 * from before clocks were bounded may hold one) never refuses a local edit: the new clock goes
 * past it. Only this device's own clock at its very end does, with a message saying why. */
START_TEST(capture_never_refused_by_another_clock)
{
    uint8_t id[MRF_ID];

    new_grant(id, 1);
    ck_assert_int_eq(sqlite3_exec(db,
                                  "UPDATE clocks SET clock = -256, device = x'ffff' WHERE col = 3",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(capture_begin(cap), MRF_OK);
    ck_assert_int_eq(capture_set_int(cap, ST_GRANTS, id, 3, 2), MRF_OK);
    ck_assert_int_eq(capture_commit(cap), MRF_OK);
    ck_assert_int_eq(one_int("SELECT amount_cents FROM grants"), 2);
    /* past the far clock, read as unsigned (the pending entry still names what HQ last saw) */
    ck_assert_int_eq(one_int("SELECT clock FROM clocks WHERE col = 3"), -255);
    ck_assert_int_eq(one_int("SELECT clock FROM outbox WHERE col = 3"), -255);
    ck_assert_int_eq(one_int("SELECT prev_clock FROM outbox WHERE col = 3"), 0);
    /* the other column still edits at an ordinary tick */
    ck_assert_int_eq(capture_begin(cap), MRF_OK);
    ck_assert_int_eq(capture_set_text(cap, ST_GRANTS, id, 5, "committed"), MRF_OK);
    ck_assert_int_eq(capture_commit(cap), MRF_OK);
    /* at the very end of the clock: refused, said plainly, nothing written */
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "UPDATE clocks SET clock = -1, device = x'ffffffffffffffffffffffff"
                     "ffffffff' WHERE col = 3",
                     NULL, NULL, NULL),
        SQLITE_OK);
    ck_assert_int_eq(capture_begin(cap), MRF_OK);
    ck_assert_int_eq(capture_set_int(cap, ST_GRANTS, id, 3, 3), MRF_E_STATE);
    ck_assert_ptr_nonnull(strstr(capture_errmsg(cap), "set the right date"));
    capture_rollback(cap);
    ck_assert_int_eq(one_int("SELECT amount_cents FROM grants"), 2);
}
END_TEST

START_TEST(capture_clock_survives_reopen)
{
    uint8_t id[MRF_ID];
    int64_t before;
    struct mrf_error err = {0};

    new_grant(id, 1);
    before = one_int("SELECT max(clock) FROM clocks");
    /* the wall clock is far ahead of nothing here; a new handle continues from the store */
    capture_free(cap);
    ck_assert_int_eq(capture_new(db, &cap, &err), MRF_OK);
    ck_assert_int_eq(capture_begin(cap), MRF_OK);
    ck_assert_int_eq(
        sqlite3_exec(db, "UPDATE meta SET clock = clock + 1000000000000", NULL, NULL, NULL),
        SQLITE_OK);
    capture_rollback(cap);
    ck_assert_int_eq(
        sqlite3_exec(db, "UPDATE meta SET clock = clock + 1000000000000", NULL, NULL, NULL),
        SQLITE_OK);
    ck_assert_int_eq(capture_begin(cap), MRF_OK);
    ck_assert_int_eq(capture_set_int(cap, ST_GRANTS, id, 3, 7), MRF_OK);
    ck_assert_int_eq(capture_commit(cap), MRF_OK);
    ck_assert_int_gt(one_int("SELECT clock FROM clocks WHERE col = 3"), before + 1000000000000);
}
END_TEST

START_TEST(tables_described)
{
    ck_assert_int_eq(sync_table_find("grants"), ST_GRANTS);
    ck_assert_int_eq(sync_table_find("nope"), -1);
    ck_assert_int_eq(sync_column_find(ST_GRANTS, "amount_cents"), GRANT_AMOUNT);
    ck_assert_int_eq(sync_column_find(ST_PARTNERS, "name"), PARTNER_NAME);
    ck_assert(sync_column_sealed(ST_PARTNERS, PARTNER_NAME));
    ck_assert(!sync_column_sealed(ST_PARTNERS, PARTNER_RISK));
    ck_assert(!sync_column_sealed(ST_PARTNERS, PARTNER_NCOLS));
    ck_assert(sync_table_get(ST_GRANTS)->cols[GRANT_AMOUNT].watched);
    ck_assert_ptr_null(sync_column_get(ST_GRANTS, -1));
    ck_assert_ptr_null(sync_column_get(ST_GRANTS, GRANT_NCOLS));
    ck_assert_ptr_null(sync_column_get(ST_COUNT, 0));
}
END_TEST

/* Every column is described; the sealed ones are blobs that may be emptied; the wire ids the
 * enums give are the ones already on the wire and in every store. */
START_TEST(column_table_whole)
{
    static const int ncols[ST_COUNT] = {THEME_NCOLS, PARTNER_NCOLS, GRANT_NCOLS, ALLOC_NCOLS};
    static const char *const sealed[] = {"name",    "contact", "phone", "email",
                                         "address", "bank",    "note"};
    int nsealed = 0;

    for (int t = 0; t < ST_COUNT; t++) {
        const struct sync_table_desc *d = sync_table_get((enum sync_table)t);
        ck_assert_int_eq(d->ncols, ncols[t]);
        for (int c = 0; c < d->ncols; c++) {
            const struct sync_column *col = &d->cols[c];
            ck_assert_ptr_nonnull(col->name);
            ck_assert_int_eq(sync_column_find((enum sync_table)t, col->name), c);
            ck_assert(col->kind < CK_COUNT);
            if (col->kind == CK_SEALED) {
                ck_assert_int_eq(col->type, SYNC_BLOB);
                ck_assert(col->nullable);
                ck_assert(!col->watched);
            }
        }
    }
    for (int c = 0; c < PARTNER_NCOLS; c++)
        if (sync_column_sealed(ST_PARTNERS, c))
            ck_assert_str_eq(sync_table_get(ST_PARTNERS)->cols[c].name, sealed[nsealed++]);
    ck_assert_int_eq(nsealed, 7);
    ck_assert(sync_column_sealed(ST_GRANTS, GRANT_NOTE));
    ck_assert_int_eq(GRANT_REMOVED, 9);
    ck_assert_int_eq(PARTNER_REMOVED, 8);
    ck_assert_int_eq(THEME_REMOVED, 2);
    ck_assert_int_eq(ALLOC_CURRENCY, 2);
}
END_TEST

/* Which columns HQ watches for concurrent writes (issue 9 adds the grant's partner). */
START_TEST(column_watched)
{
    static const struct {
        enum sync_table t;
        int col;
    } watched[] = {{ST_THEMES, THEME_THEME},       {ST_THEMES, THEME_REMOVED},
                   {ST_GRANTS, GRANT_THEME},       {ST_GRANTS, GRANT_YEAR},
                   {ST_GRANTS, GRANT_AMOUNT},      {ST_GRANTS, GRANT_CURRENCY},
                   {ST_GRANTS, GRANT_STATUS},      {ST_GRANTS, GRANT_REMOVED},
                   {ST_ALLOCATIONS, ALLOC_AMOUNT}, {ST_ALLOCATIONS, ALLOC_CURRENCY},
                   {ST_GRANTS, GRANT_PARTNER}};
    int n = 0;

    for (size_t i = 0; i < sizeof watched / sizeof watched[0]; i++)
        ck_assert(sync_column_get(watched[i].t, watched[i].col)->watched);
    for (int t = 0; t < ST_COUNT; t++)
        for (int c = 0; c < sync_table_get((enum sync_table)t)->ncols; c++)
            n += sync_column_get((enum sync_table)t, c)->watched != 0;
    ck_assert_int_eq(n, (int)(sizeof watched / sizeof watched[0]));
}
END_TEST

static const uint8_t a_row_id[MRF_ID + 1] = {1, 2, 3};

#define INT(x)                                                                                     \
    {                                                                                              \
        .type = SYNC_INT, .i = (x)                                                                 \
    }
#define TEXT(x)                                                                                    \
    {                                                                                              \
        .type = SYNC_TEXT, .text = (x)                                                             \
    }
#define BLOB(x)                                                                                    \
    {                                                                                              \
        .type = SYNC_BLOB, .blob = a_row_id, .n = (x)                                              \
    }
#define NUL(x)                                                                                     \
    {                                                                                              \
        .type = (x), .is_null = 1                                                                  \
    }

/* The boundary values of every kind of column, accepted (NULL) or refused with HQ's reason. */
START_TEST(column_checks)
{
    static const struct {
        enum sync_table t;
        int col;
        struct sync_value v;
        const char *why;
    } cases[] = {
        {ST_THEMES, THEME_YEAR, INT(1999), "year out of range"},
        {ST_THEMES, THEME_YEAR, INT(2000), NULL},
        {ST_GRANTS, GRANT_YEAR, INT(2100), NULL},
        {ST_GRANTS, GRANT_YEAR, INT(2101), "year out of range"},
        {ST_GRANTS, GRANT_AMOUNT, INT(0), "amount out of range"},
        {ST_GRANTS, GRANT_AMOUNT, INT(-1), "amount out of range"},
        {ST_GRANTS, GRANT_AMOUNT, INT(1), NULL},
        {ST_GRANTS, GRANT_AMOUNT, INT(MONEY_MAX_CENTS), NULL},
        {ST_GRANTS, GRANT_AMOUNT, INT(MONEY_MAX_CENTS + 1), "amount out of range"},
        {ST_GRANTS, GRANT_THEME, TEXT("HRD"), NULL},
        {ST_GRANTS, GRANT_THEME, TEXT("hrd"), "unknown theme"},
        {ST_THEMES, THEME_THEME, TEXT("XYZ"), "unknown theme"},
        {ST_THEMES, THEME_THEME, TEXT("LGBTIQ"), NULL},
        {ST_GRANTS, GRANT_CURRENCY, TEXT("EUR"), NULL},
        {ST_GRANTS, GRANT_CURRENCY, TEXT("eur"), "currency is not three capital letters"},
        {ST_GRANTS, GRANT_CURRENCY, TEXT("EU"), "currency is not three capital letters"},
        {ST_GRANTS, GRANT_CURRENCY, TEXT("EURO"), "currency is not three capital letters"},
        {ST_GRANTS, GRANT_STATUS, TEXT("draft"), NULL},
        {ST_GRANTS, GRANT_STATUS, TEXT("cancelled"), NULL},
        {ST_GRANTS, GRANT_STATUS, TEXT("paid"), "unknown grant status"},
        {ST_GRANTS, GRANT_START, TEXT("2026-02-29"), "not a date"},
        {ST_GRANTS, GRANT_START, TEXT("2028-02-29"), NULL},
        {ST_GRANTS, GRANT_END, TEXT("2026-13-01"), "not a date"},
        {ST_GRANTS, GRANT_END, TEXT("2026-12-31"), NULL},
        {ST_PARTNERS, PARTNER_RISK, TEXT("low"), NULL},
        {ST_PARTNERS, PARTNER_RISK, TEXT("high"), NULL},
        {ST_PARTNERS, PARTNER_RISK, TEXT("extreme"), "unknown risk level"},
        {ST_GRANTS, GRANT_PARTNER, BLOB(MRF_ID), NULL},
        {ST_GRANTS, GRANT_PARTNER, BLOB(MRF_ID - 1), "partner is not a row id"},
        {ST_GRANTS, GRANT_PARTNER, BLOB(MRF_ID + 1), "partner is not a row id"},
        {ST_THEMES, THEME_REMOVED, INT(0), NULL},
        {ST_PARTNERS, PARTNER_REMOVED, INT(1), NULL},
        {ST_GRANTS, GRANT_REMOVED, INT(2), "removed must be 0 or 1"},
        {ST_GRANTS, GRANT_REMOVED, INT(-1), "removed must be 0 or 1"},
        {ST_GRANTS, GRANT_REMOVED, NUL(SYNC_INT), "removed must be 0 or 1"},
        /* NULL: only where a column may be emptied */
        {ST_GRANTS, GRANT_START, NUL(SYNC_TEXT), NULL},
        {ST_GRANTS, GRANT_END, NUL(SYNC_TEXT), NULL},
        {ST_GRANTS, GRANT_YEAR, NUL(SYNC_INT), "a required value is empty"},
        {ST_GRANTS, GRANT_PARTNER, NUL(SYNC_BLOB), "a required value is empty"},
        {ST_PARTNERS, PARTNER_RISK, NUL(SYNC_TEXT), "a required value is empty"},
        {ST_THEMES, THEME_THEME, NUL(SYNC_TEXT), "a required value is empty"},
        /* sealed: never looked into, only the frame is checked (test_crypto), and may be
         * emptied */
        {ST_PARTNERS, PARTNER_NAME, BLOB(3), "a sealed field is damaged"},
        {ST_PARTNERS, PARTNER_NOTE, NUL(SYNC_BLOB), NULL},
        {ST_GRANTS, GRANT_NOTE, BLOB(1), "a sealed field is damaged"},
        {ST_GRANTS, GRANT_NOTE, TEXT("x"), "value of the wrong type"},
        /* allocations are checked like any table: who writes them is HQ's rule */
        {ST_ALLOCATIONS, ALLOC_YEAR, INT(2026), NULL},
        {ST_ALLOCATIONS, ALLOC_AMOUNT, INT(0), "amount out of range"},
        {ST_ALLOCATIONS, ALLOC_CURRENCY, TEXT("USD"), NULL},
        /* what op_from_json already refuses */
        {ST_GRANTS, GRANT_YEAR, TEXT("2026"), "value of the wrong type"},
        {ST_GRANTS, GRANT_NCOLS, INT(0), "unknown column"},
        {ST_GRANTS, -1, INT(0), "unknown column"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = sync_column_check(cases[i].t, cases[i].col, &cases[i].v);
        if (cases[i].why == NULL)
            ck_assert_msg(why == NULL, "case %zu refused: %s", i, why);
        else
            ck_assert_msg(why != NULL && strcmp(why, cases[i].why) == 0,
                          "case %zu: got %s, want %s", i, why ? why : "(accepted)", cases[i].why);
    }
}
END_TEST

/* The associated data of a sealed field: the bytes every sealed field was written with. */
START_TEST(field_aad_bytes)
{
    static const uint8_t id[MRF_ID] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                       0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    char aad[SYNC_AAD_MAX];

    sync_field_aad(ST_PARTNERS, id, PARTNER_NAME, aad);
    ck_assert_str_eq(aad, "partners/00112233445566778899aabbccddeeff/name");
    sync_field_aad(ST_PARTNERS, id, PARTNER_BANK, aad);
    ck_assert_str_eq(aad, "partners/00112233445566778899aabbccddeeff/bank");
    sync_field_aad(ST_GRANTS, id, GRANT_NOTE, aad);
    ck_assert_str_eq(aad, "grants/00112233445566778899aabbccddeeff/note");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sync");
    TCase *dom = tcase_create("domain");
    TCase *clk = tcase_create("clocks");
    TCase *cp = tcase_create("capture");

    tcase_add_test(dom, money_valid);
    tcase_add_test(dom, money_invalid);
    tcase_add_test(dom, money_format_cases);
    tcase_add_test(dom, dates);
    tcase_add_test(dom, themes_and_years);
    tcase_add_test(dom, status_forward_only);
    tcase_add_test(dom, codes);
    tcase_add_test(dom, derived_ids);
    tcase_add_test(dom, tables_described);
    tcase_add_test(dom, column_table_whole);
    tcase_add_test(dom, column_watched);
    tcase_add_test(dom, column_checks);
    tcase_add_test(dom, field_aad_bytes);
    tcase_add_test(clk, hlc_monotonic);
    tcase_add_test(clk, hlc_receive);
    tcase_add_test(clk, hlc_order_and_hex);
    tcase_add_test(clk, hlc_saturates);
    tcase_add_test(clk, hlc_bound_and_bounded_tick);
    tcase_add_checked_fixture(cp, cap_setup, cap_teardown);
    tcase_add_test(cp, capture_writes_value_clock_outbox);
    tcase_add_test(cp, capture_coalesces_pending);
    tcase_add_test(cp, capture_frozen_not_coalesced);
    tcase_add_test(cp, capture_rollback_leaves_nothing);
    tcase_add_test(cp, capture_refuses_misuse);
    tcase_add_test(cp, capture_clock_survives_reopen);
    tcase_add_test(cp, capture_never_refused_by_another_clock);
    suite_add_tcase(s, dom);
    suite_add_tcase(s, clk);
    suite_add_tcase(s, cp);
    return testutil_run(s);
}

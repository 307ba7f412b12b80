/* Fills a device's outbox with N column writes quickly, for the sync memory benchmark: new
 * grants of the device's first partner, the seven columns `mrf grant add` writes, each with
 * its row, its column clock and its pending outbox entry, exactly as capture leaves them, in
 * one transaction. Going through `mrf grant add` 14,000 times would take minutes and measure
 * nothing more. The device must have been set up with `mrf init` and `mrf partner add`.
 * Grants are whole (HQ quarantines a new row without its required columns): when N is not a
 * multiple of seven, the last N mod 7 writes set the start date of the first grants, as
 * `mrf grant set --start` would.
 *
 * usage: bench_outbox POST_DB N */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchdb.h"
#include "common.h"
#include "mrfcrypto.h"
#include "mrfsync.h"

int main(int argc, char **argv)
{
    static const int cols[] = {GRANT_PARTNER,  GRANT_THEME,  GRANT_YEAR,    GRANT_AMOUNT,
                               GRANT_CURRENCY, GRANT_STATUS, GRANT_REMOVED, GRANT_START};
    char post[16], code[16];
    uint8_t device[MRF_ID], partner[MRF_ID], gid[MRF_ID], first[7][MRF_ID];
    sqlite3_stmt *q, *row, *clock[GRANT_NCOLS] = {NULL}, *out, *start;
    hlc_t c;
    long n, whole;

    if (argc != 3 || (n = atol(argv[2])) < 49)
        return fprintf(stderr, "usage: bench_outbox POST_DB N (at least 49)\n"), 2;
    if (sqlite3_open_v2(argv[1], &bench_db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        bench_db_die(argv[1]);
    sqlite3_busy_timeout(bench_db, 5000);
    q = bench_db_prepare(
        "SELECT meta.post, meta.device_id, meta.clock, partners.id FROM meta, partners "
        "LIMIT 1");
    if (sqlite3_step(q) != SQLITE_ROW)
        bench_db_die("the device needs mrf init and one partner");
    str_copy(post, (const char *)sqlite3_column_text(q, 0), sizeof post);
    memcpy(device, sqlite3_column_blob(q, 1), MRF_ID);
    c = (hlc_t)sqlite3_column_int64(q, 2);
    memcpy(partner, sqlite3_column_blob(q, 3), MRF_ID);
    sqlite3_finalize(q);
    if (c < hlc_make(time_now_ms(), 0))
        c = hlc_make(time_now_ms(), 0);

    row = bench_db_prepare(
        "INSERT INTO grants(id, post, code, partner, theme, year, amount_cents, "
        "currency, status, removed) VALUES (?1, ?2, ?3, ?4, 'HRD', 2026, ?5, 'EUR', "
        "'draft', 0)");
    /* the column's clock and writer in its row's clock entry, as the merge writes them */
    q = bench_db_prepare("INSERT INTO writers(device) VALUES (?1) ON CONFLICT DO NOTHING");
    sqlite3_bind_blob(q, 1, device, MRF_ID, SQLITE_STATIC);
    bench_db_step(q, "writer");
    sqlite3_finalize(q);
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
        char sql[200];

        snprintf(sql, sizeof sql,
                 "INSERT INTO clock_rows(tbl, id, c%d, w%d, post) VALUES (?1, ?2, ?4, "
                 "(SELECT n FROM writers WHERE device = ?5), ?6) ON CONFLICT(post, tbl, id) "
                 "DO UPDATE SET c%d = excluded.c%d, w%d = excluded.w%d",
                 cols[k], cols[k], cols[k], cols[k], cols[k], cols[k]);
        clock[cols[k]] = bench_db_prepare(sql);
    }
    out = bench_db_prepare(
        "INSERT INTO outbox(tbl, id, col, value, clock) VALUES (?1, ?2, ?3, ?4, ?5)");
    start = bench_db_prepare("UPDATE grants SET start_date = '2026-01-01' WHERE id = ?1");
    whole = n - n % 7;
    if (sqlite3_exec(bench_db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        bench_db_die("begin");
    for (long i = 0; i < n; i++) {
        int k = i < whole ? (int)(i % 7) : 7;
        int64_t amount = 100000 + 100 * (i % 977);

        if (k == 7) { /* past the whole grants: a start date of one of the first */
            memcpy(gid, first[i - whole], MRF_ID);
            sqlite3_bind_blob(start, 1, gid, MRF_ID, SQLITE_STATIC);
            bench_db_step(start, "start date");
        }
        if (k == 0) {
            mrf_random(gid, sizeof gid);
            if (i / 7 < 7)
                memcpy(first[i / 7], gid, MRF_ID);
            shortcode_make("G", gid, code);
            sqlite3_bind_blob(row, 1, gid, MRF_ID, SQLITE_STATIC);
            sqlite3_bind_text(row, 2, post, -1, SQLITE_STATIC);
            sqlite3_bind_text(row, 3, code, -1, SQLITE_STATIC);
            sqlite3_bind_blob(row, 4, partner, MRF_ID, SQLITE_STATIC);
            sqlite3_bind_int64(row, 5, amount);
            bench_db_step(row, "grant row");
        }
        c++;
        sqlite3_bind_int(clock[cols[k]], 1, ST_GRANTS);
        sqlite3_bind_blob(clock[cols[k]], 2, gid, MRF_ID, SQLITE_STATIC);
        sqlite3_bind_int64(clock[cols[k]], 4, (sqlite3_int64)c);
        sqlite3_bind_blob(clock[cols[k]], 5, device, MRF_ID, SQLITE_STATIC);
        sqlite3_bind_text(clock[cols[k]], 6, post, -1, SQLITE_STATIC);
        bench_db_step(clock[cols[k]], "clock");
        sqlite3_bind_int(out, 1, ST_GRANTS);
        sqlite3_bind_blob(out, 2, gid, MRF_ID, SQLITE_STATIC);
        sqlite3_bind_int(out, 3, cols[k]);
        switch (cols[k]) {
        case GRANT_PARTNER:
            sqlite3_bind_blob(out, 4, partner, MRF_ID, SQLITE_STATIC);
            break;
        case GRANT_THEME:
            sqlite3_bind_text(out, 4, "HRD", -1, SQLITE_STATIC);
            break;
        case GRANT_YEAR:
            sqlite3_bind_int(out, 4, 2026);
            break;
        case GRANT_AMOUNT:
            sqlite3_bind_int64(out, 4, amount);
            break;
        case GRANT_CURRENCY:
            sqlite3_bind_text(out, 4, "EUR", -1, SQLITE_STATIC);
            break;
        case GRANT_STATUS:
            sqlite3_bind_text(out, 4, "draft", -1, SQLITE_STATIC);
            break;
        case GRANT_START:
            sqlite3_bind_text(out, 4, "2026-01-01", -1, SQLITE_STATIC);
            break;
        default:
            sqlite3_bind_int(out, 4, 0);
        }
        sqlite3_bind_int64(out, 5, (sqlite3_int64)c);
        bench_db_step(out, "outbox");
    }
    q = bench_db_prepare("UPDATE meta SET clock = ?1");
    sqlite3_bind_int64(q, 1, (sqlite3_int64)c);
    bench_db_step(q, "clock");
    sqlite3_finalize(q);
    if (sqlite3_exec(bench_db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        bench_db_die("commit");
    sqlite3_finalize(row);
    for (int k = 0; k < GRANT_NCOLS; k++)
        sqlite3_finalize(clock[k]);
    sqlite3_finalize(out);
    sqlite3_finalize(start);
    sqlite3_close(bench_db);
    printf("outbox_filled=%ld\n", n);
    return 0;
}

/* The device's own costs, for bench/device.sh: a sync timed inside the process (so the
 * passphrase's fixed Argon2id cost is not spread over the ops), and a post store filled fast
 * with rows for the listings and the export.
 *
 * usage: bench_device sync HOME
 *   Does what `mrf sync` does (open, unlock with MRF_PASSPHRASE, sync, close) and prints the
 *   sync's wall time and this process's CPU time during it (HQ's work on the same machine is
 *   in the wall time, not in the CPU time), then the close's wall time (it returns the pages
 *   the acknowledged outbox freed: client_close), and the summary's counts.
 * usage: bench_device fill HOME GRANTS PARTNERS CONFLICTS
 *   Writes PARTNERS partners and GRANTS grants (and CONFLICTS conflict records, one open in
 *   ten) straight into the store, as capture leaves the rows (no clocks or outbox entries: the
 *   listings do not read them). Every partner's name is sealed as `mrf partner add --name`
 *   seals it (to this device, HQ's escrow key and the post key: client_ring_recipients), so
 *   `--reveal` opens each one as it would; one partner in ten has no grant, one in fifty is
 *   removed, one grant in twenty is removed. Grants go to the partners round robin. One
 *   transaction. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "benchdb.h"
#include "stats.h"

static int sync_main(const char *home)
{
    struct cli_ctx ctx;
    struct sync_opts o = {0};
    struct sync_summary sum;
    enum mrf_status st;
    double t0, c0, t1, c1, t2;

    if (mrfcrypto_init() != MRF_OK)
        return fprintf(stderr, "bench_device: cannot initialise libsodium\n"), 1;
    client_init(&ctx, home);
    st = client_open(&ctx);
    if (st == MRF_OK)
        st = client_unlock(&ctx);
    t0 = now_ms();
    c0 = cpu_ms();
    if (st == MRF_OK)
        st = client_sync(&ctx, &o, &sum);
    t1 = now_ms();
    c1 = cpu_ms();
    if (st != MRF_OK) {
        fprintf(stderr, "bench_device: sync: %s\n", ctx.err.msg);
        client_close(&ctx);
        return 1;
    }
    client_close(&ctx);
    t2 = now_ms();
    printf("sync_ms=%.1f\nsync_cpu_ms=%.1f\nclose_ms=%.1f\n", t1 - t0, c1 - c0, t2 - t1);
    printf("sent=%lld\nchangesets=%lld\nrequests=%lld\n", (long long)sum.p.ops_sent,
           (long long)sum.p.changesets, (long long)sum.requests);
    return 0;
}

static int fill_main(const char *home, long grants, long partners, long conflicts)
{
    static const char *const status[] = {"draft", "committed", "disbursed", "closed"};
    struct cli_ctx ctx;
    sqlite3_stmt *p, *g, *c;
    char code[16], name[64], aad[SYNC_AAD_MAX];
    uint8_t(*pid)[MRF_ID], gid[MRF_ID], keys[3][MRF_BOX_PK];
    int nkeys;
    long with_grants;

    if (mrfcrypto_init() != MRF_OK)
        return fprintf(stderr, "bench_device: cannot initialise libsodium\n"), 1;
    client_init(&ctx, home);
    if (client_open(&ctx) != MRF_OK || client_ring_recipients(&ctx, keys, &nkeys) != MRF_OK) {
        fprintf(stderr, "bench_device: %s\n", ctx.err.msg);
        return 1;
    }
    bench_db = ctx.db;
    pid = xmalloc((size_t)(partners > 0 ? partners : 1) * sizeof *pid);
    p = bench_db_prepare("INSERT INTO partners(id, post, code, name, risk, removed) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    g = bench_db_prepare("INSERT INTO grants(id, post, code, partner, theme, year, amount_cents, "
                         "currency, status, start_date, removed) VALUES (?1, ?2, ?3, ?4, 'HRD', "
                         "?5, ?6, 'EUR', ?7, '2026-01-01', ?8)");
    c = bench_db_prepare(
        "INSERT INTO conflicts(id, kind, rule, rows, detail, year, opened_at, closed_at, "
        "decision, cseq, received_at) VALUES (?1, 'value', 'amount', ?2, 'bench', 2026, "
        "?3, ?4, ?5, ?3, ?3)");
    if (sqlite3_exec(bench_db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        bench_db_die("begin");
    for (long i = 0; i < partners; i++) {
        mrf_random(pid[i], MRF_ID);
        shortcode_make("P", pid[i], code);
        sqlite3_bind_blob(p, 1, pid[i], MRF_ID, SQLITE_STATIC);
        sqlite3_bind_text(p, 2, ctx.meta.post, -1, SQLITE_STATIC);
        sqlite3_bind_text(p, 3, code, -1, SQLITE_TRANSIENT);
        uint8_t *blob = NULL;
        size_t bloblen = 0;
        snprintf(name, sizeof name, "Bench Partner %ld", i);
        sync_field_aad(ST_PARTNERS, pid[i], PARTNER_NAME, aad);
        if (sealed_seal(&blob, &bloblen, name, strlen(name), aad,
                        (const uint8_t(*)[MRF_BOX_PK])keys, nkeys) != MRF_OK)
            bench_db_die("seal");
        sqlite3_bind_blob(p, 4, blob, (int)bloblen, SQLITE_TRANSIENT);
        x_free(blob);
        sqlite3_bind_text(p, 5, i % 3 ? "low" : "high", -1, SQLITE_STATIC);
        sqlite3_bind_int(p, 6, i % 50 == 49);
        bench_db_step(p, "partner");
    }
    /* the last tenth of the partners gets no grant */
    with_grants = partners - partners / 10;
    for (long i = 0; i < grants; i++) {
        mrf_random(gid, MRF_ID);
        shortcode_make("G", gid, code);
        sqlite3_bind_blob(g, 1, gid, MRF_ID, SQLITE_STATIC);
        sqlite3_bind_text(g, 2, ctx.meta.post, -1, SQLITE_STATIC);
        sqlite3_bind_text(g, 3, code, -1, SQLITE_TRANSIENT);
        if (with_grants > 0)
            sqlite3_bind_blob(g, 4, pid[i % with_grants], MRF_ID, SQLITE_STATIC);
        else
            sqlite3_bind_null(g, 4);
        sqlite3_bind_int(g, 5, 2025 + (int)(i % 2));
        sqlite3_bind_int64(g, 6, 100000 + 100 * (i % 977));
        sqlite3_bind_text(g, 7, status[i % 4], -1, SQLITE_STATIC);
        sqlite3_bind_int(g, 8, i % 20 == 19);
        bench_db_step(g, "grant");
        if (i < conflicts) {
            char cid[32];
            snprintf(cid, sizeof cid, "C-%06ld", i);
            sqlite3_bind_text(c, 1, cid, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(c, 2, code, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(c, 3, 1700000000 + i);
            if (i % 10 == 0) {
                sqlite3_bind_null(c, 4);
                sqlite3_bind_null(c, 5);
            } else {
                sqlite3_bind_int64(c, 4, 1700000000 + i + 60);
                sqlite3_bind_text(c, 5, "a", -1, SQLITE_STATIC);
            }
            bench_db_step(c, "conflict");
        }
    }
    if (sqlite3_exec(bench_db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        bench_db_die("commit");
    sqlite3_finalize(p);
    sqlite3_finalize(g);
    sqlite3_finalize(c);
    client_close(&ctx);
    x_free(pid);
    printf("filled_grants=%ld\nfilled_partners=%ld\nfilled_conflicts=%ld\n", grants, partners,
           conflicts < grants ? conflicts : grants);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "sync") == 0)
        return sync_main(argv[2]);
    if (argc == 6 && strcmp(argv[1], "fill") == 0)
        return fill_main(argv[2], atol(argv[3]), atol(argv[4]), atol(argv[5]));
    fprintf(stderr, "usage: bench_device sync HOME | fill HOME GRANTS PARTNERS CONFLICTS\n");
    return 2;
}

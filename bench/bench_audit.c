/* Measures `mrf-hq audit verify` per 1,000 change sets, in process: hq_audit_verify() walks
 * the chain (hashes, HQ's signature on every entry), opens every stored envelope (the device's
 * Ed25519 signature, X25519 + XChaCha20-Poly1305, zstd), replays every op into a scratch store
 * in one transaction and compares the domain tables with hq.db's. The change sets are what a
 * post sends day to day: one new grant each (its seven column writes), ingested here through
 * hq_ingest() from one device, so the chain is exactly what the server would have written.
 *
 * Beside it, two references on the same envelopes: the time hq_ingest() took to accept them
 * (one durable transaction per change set), and the floor no verification can beat, the raw
 * envelope_open() of every envelope (signature check, decryption, decompression) with nothing
 * stored. Verify is timed three times; the median is printed. Figures, never pass/fail; it
 * fails only if verify does not hold.
 *
 * usage: bench_audit HQ_HOME POST CHANGESETS
 *   HQ_HOME made by `mrf-hq init` with POST added and nothing ingested; a device is added. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "hq.h"
#include "hqstore.h"
#include "mrfcrypto.h"
#include "mrfsync.h"
#include "benchhq.h"
#include "stats.h"

#define GRANT_COLS 7
#define RUNS 3

static const int grant_cols[GRANT_COLS] = {GRANT_PARTNER,  GRANT_THEME,  GRANT_YEAR,   GRANT_AMOUNT,
                                           GRANT_CURRENCY, GRANT_STATUS, GRANT_REMOVED};

/* One new grant of device d as a sealed request; env is reset first. */
static void seal_grant(const struct mrf_secrets *d, const uint8_t dev_id[MRF_ID], const char *post,
                       const uint8_t partner[MRF_ID], hlc_t *clock, int64_t amount,
                       const struct hq_config *cfg, struct buf *json, struct buf *env)
{
    struct envelope h;
    struct mrf_error err = {0};
    struct sync_op op;
    uint8_t gid[MRF_ID];

    mrf_random(gid, sizeof gid);
    buf_reset(json);
    if (buf_puts(json, "{\"v\":2,\"cursor\":0,\"ops\":[") != MRF_OK)
        bench_die("request", "too large");
    for (int i = 0; i < GRANT_COLS; i++) {
        memset(&op, 0, sizeof op);
        op.tbl = ST_GRANTS;
        memcpy(op.id, gid, MRF_ID);
        op.col = grant_cols[i];
        op.clock = ++*clock;
        memcpy(op.device, dev_id, MRF_ID);
        switch (op.col) {
        case GRANT_PARTNER:
            op.v = (struct sync_value){.type = SYNC_BLOB, .blob = partner, .n = MRF_ID};
            break;
        case GRANT_THEME:
            op.v = (struct sync_value){.type = SYNC_TEXT, .text = "FOE"};
            break;
        case GRANT_YEAR:
            op.v = (struct sync_value){.type = SYNC_INT, .i = 2026};
            break;
        case GRANT_AMOUNT:
            op.v = (struct sync_value){.type = SYNC_INT, .i = amount};
            break;
        case GRANT_CURRENCY:
            op.v = (struct sync_value){.type = SYNC_TEXT, .text = "EUR"};
            break;
        case GRANT_STATUS:
            op.v = (struct sync_value){.type = SYNC_TEXT, .text = "draft"};
            break;
        default:
            op.v = (struct sync_value){.type = SYNC_INT, .i = 0};
        }
        if ((i > 0 && buf_puts(json, ",") != MRF_OK) || op_to_json(&op, 0, json) != MRF_OK)
            bench_die("request", "too large");
    }
    if (buf_puts(json, "]}") != MRF_OK)
        bench_die("request", "too large");
    memset(&h, 0, sizeof h);
    h.kind = ENV_REQUEST;
    memcpy(h.sender, dev_id, MRF_ID);
    mrf_random(h.changeset, MRF_ID);
    str_copy(h.post, post, sizeof h.post);
    if (envelope_seal(&h, json->data, json->len, d, cfg->hq.box_pk, env, &err) != MRF_OK)
        bench_die("seal", err.msg);
}

int main(int argc, char **argv)
{
    struct mrf_error err = {0};
    struct hqstore *s = NULL;
    struct hq_identity id = {0};
    struct hq_device hd;
    struct mrf_secrets *dev = NULL;
    struct hq_audit_report rep;
    struct buf json, env;
    uint8_t **envs, partner[MRF_ID];
    size_t *lens;
    hlc_t clock;
    double t0, ingest_ms = 0, floor_ms, verify[RUNS], per;
    int sets;

    if (argc != 4 || (sets = atoi(argv[3])) < 1)
        bench_die("usage", "bench_audit HQ_HOME POST CHANGESETS(>=1)");
    log_set(stderr, LOG_ERROR);
    bench_hq_open(argv[1], &s, &id);

    mrf_secrets_new(&dev);
    memset(&hd, 0, sizeof hd);
    mrf_random(hd.id, MRF_ID);
    str_copy(hd.post, argv[2], sizeof hd.post);
    hd.keys = dev->pub;
    hd.enrolled_at = (int64_t)time(NULL);
    if (hqstore_device_add(s, &hd) != MRF_OK)
        bench_die("device", hqstore_errmsg(s));
    mrf_random(partner, sizeof partner);
    clock = hlc_make(time_now_ms(), 0);

    /* the chain: every change set through the real ingest */
    envs = xcalloc((size_t)sets, sizeof *envs);
    lens = xcalloc((size_t)sets, sizeof *lens);
    buf_init(&json, WIRE_JSON_MAX);
    buf_init(&env, ENV_MAX);
    for (int i = 0; i < sets; i++) {
        struct ingest_result r;
        seal_grant(dev, hd.id, hd.post, partner, &clock, 100 + i, &id.cfg, &json, &env);
        envs[i] = xmalloc(env.len);
        memcpy(envs[i], env.data, env.len);
        lens[i] = env.len;
        ingest_result_init(&r);
        t0 = now_ms();
        if (hq_ingest(s, &id, envs[i], lens[i], &r) != MRF_OK || r.http_status != 200)
            bench_die("ingest", r.reason);
        ingest_ms += now_ms() - t0;
        ingest_result_release(&r);
    }

    /* the floor: open every envelope, store nothing */
    t0 = now_ms();
    for (int i = 0; i < sets; i++) {
        struct envelope h;
        char *plain = NULL;
        size_t n = 0;
        if (envelope_parse(envs[i], lens[i], &h, &err) != MRF_OK ||
            envelope_open(&h, dev->pub.sign_pk, dev->pub.box_pk, id.keys->box_sk, &plain, &n,
                          &err) != MRF_OK)
            bench_die("open", err.msg);
        x_free(plain);
    }
    floor_ms = now_ms() - t0;

    for (int r = 0; r < RUNS; r++) {
        t0 = now_ms();
        if (hq_audit_verify(s, id.keys, &rep, &err) != MRF_OK)
            bench_die("verify", err.msg);
        verify[r] = now_ms() - t0;
        if (!rep.holds || rep.changesets != sets)
            bench_die("verify", rep.problem[0] ? rep.problem : "not every change set was replayed");
    }
    per = median(verify, RUNS) * 1000.0 / sets;

    printf("audit_changesets=%d\naudit_ops_per_changeset=%d\n", sets, GRANT_COLS);
    printf("audit_verify_ms_per_1000=%.1f\n", per);
    printf("audit_ingest_ms_per_1000=%.1f\n", ingest_ms * 1000.0 / sets);
    printf("audit_open_floor_ms_per_1000=%.1f\n", floor_ms * 1000.0 / sets);
    printf("audit_ratio_to_open_floor=%.2f\n", per / (floor_ms * 1000.0 / sets));
    printf("audit_ratio_to_ingest=%.2f\n", per / (ingest_ms * 1000.0 / sets));

    for (int i = 0; i < sets; i++)
        x_free(envs[i]);
    x_free(envs);
    x_free(lens);
    buf_release(&json);
    buf_release(&env);
    hqstore_close(s);
    mrf_secrets_free(dev);
    mrf_secrets_free(id.keys);
    return 0;
}

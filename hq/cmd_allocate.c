/* `mrf-hq allocate CODE YEAR AMOUNT [--currency EUR]`: HQ sets a post's allocation for a
 * year. The allocation row's id is derived from post and year, so allocating again replaces
 * the amount. It is written as HQ's own ops (HQ's writer id, HQ's clock) through the same
 * merge the devices' ops go through and appended to the oplog, so it reaches the post's
 * devices on their next sync; `mrf allocation` there shows allocation, committed, remaining.
 * The three ops are also appended to HQ's audit chain as one "allocate" entry signed by HQ, in
 * the same transaction, so `mrf-hq audit verify` can replay them. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hq.h"
#include "hqstore.h"
#include "mrfsync.h"

/* Writes one allocation column as an HQ op. OUT: *op, the op written (for the audit entry;
 * its value points where v's does). */
static enum mrf_status put(struct hqstore *st, const char *post, const struct hq_config *cfg,
                           hlc_t *clock, const uint8_t id[MRF_ID], enum alloc_col col,
                           const struct sync_value *v, struct sync_op *op)
{
    int applied;
    enum mrf_status rc;

    memset(op, 0, sizeof *op);
    op->tbl = ST_ALLOCATIONS;
    memcpy(op->id, id, MRF_ID);
    op->col = col;
    op->v = *v;
    *clock = hlc_tick_bounded(*clock, time_now_ms());
    op->clock = *clock;
    memcpy(op->device, cfg->device_id, MRF_ID);
    rc = hqstore_apply(st, post, op, &applied);
    if (rc == MRF_OK && !applied) /* only a store from before clocks were bounded */
        return MRF_E_STATE;
    return rc;
}

enum mrf_status hq_allocate(const char *home, const char *post_in, const char *year_in,
                            const char *amount_in, const char *currency_in,
                            struct hq_allocated *done, struct mrf_error *err)
{
    struct hqstore *st = NULL;
    struct hq_config cfg;
    struct hq_post p;
    char post[16], currency[4], shown[32];
    int year;
    int64_t cents;
    uint8_t id[MRF_ID];
    hlc_t clock;
    struct sync_value v;
    struct sync_op ops[3];
    struct mrf_secrets *keys = NULL;
    struct buf body;
    char *keys_path = NULL, fields[96];
    enum mrf_status rc;

    buf_init(&body, WIRE_JSON_MAX);
    memset(done, 0, sizeof *done);

    rc = post_code_parse(post_in, post, err);
    if (rc == MRF_OK)
        rc = year_parse(year_in, &year, err);
    if (rc == MRF_OK)
        rc = money_parse(amount_in, &cents, err);
    if (rc == MRF_OK)
        rc = currency_parse(currency_in ? currency_in : "EUR", currency, err);
    if (rc != MRF_OK)
        goto out;
    /* HQ signs the audit entry of what it writes */
    keys_path = hq_path(home, HQ_KEYS_FILE);
    rc = hqkeys_load(keys_path, &keys, err);
    if (rc != MRF_OK)
        goto out;
    rc = hqstore_open(home, HQSTORE_EXISTING, &st, err);
    if (rc != MRF_OK)
        goto out;
    rc = hqstore_begin(st);
    if (rc == MRF_OK)
        rc = hqstore_config_get(st, &cfg);
    if (rc == MRF_OK)
        rc = hqstore_post_get(st, post, &p);
    if (rc == MRF_E_NOTFOUND) {
        rc = mrf_error_set(err, rc, "no post %s; see mrf-hq post list", post);
        goto out;
    }
    if (rc != MRF_OK) {
        rc = mrf_error_set(err, rc, "%s", hqstore_errmsg(st));
        goto out;
    }
    row_id_derive(id, "allocations", post, year, NULL);
    clock = cfg.clock;
    memset(&v, 0, sizeof v);
    v.type = SYNC_INT;
    v.i = year;
    rc = put(st, post, &cfg, &clock, id, ALLOC_YEAR, &v, &ops[0]);
    v.i = cents;
    if (rc == MRF_OK)
        rc = put(st, post, &cfg, &clock, id, ALLOC_AMOUNT, &v, &ops[1]);
    v.type = SYNC_TEXT;
    v.text = currency;
    if (rc == MRF_OK)
        rc = put(st, post, &cfg, &clock, id, ALLOC_CURRENCY, &v, &ops[2]);
    if (rc == MRF_E_STATE) {
        rc = mrf_error_set(err, rc,
                           "allocate: the allocation of %s for %d holds a write with a clock "
                           "ahead of HQ's own, so this one would not win; nothing was changed "
                           "(see docs/DECISIONS.md, \"Clocks\")",
                           post, year);
        goto out;
    }
    money_format(cents, shown);
    snprintf(fields, sizeof fields, "\"year\":%d,\"amount\":\"%s\",\"currency\":\"%s\"", year,
             shown, currency);
    if (rc == MRF_OK)
        rc = hq_audit_ops_body(&body, post, fields, ops, 3);
    if (rc == MRF_OK)
        rc = hq_audit_append(st, keys, "allocate", post, "{}", (const uint8_t *)body.data, body.len,
                             (int64_t)(time_now_ms() / 1000u), NULL);
    if (rc == MRF_OK)
        rc = hqstore_clock_save(st, clock);
    if (rc == MRF_OK) /* an over-allocation record closes, or opens, with the new amount */
        rc = hq_conflict_recheck(st, post, year, (int64_t)(time_now_ms() / 1000u));
    if (rc == MRF_OK)
        rc = hqstore_commit(st);
    if (rc != MRF_OK) {
        rc = mrf_error_set(err, rc, "%s", hqstore_errmsg(st));
        goto out;
    }
    str_copy(done->post, post, sizeof done->post);
    done->year = year;
    str_copy(done->amount, shown, sizeof done->amount);
    str_copy(done->currency, currency, sizeof done->currency);
out:
    if (st != NULL)
        hqstore_rollback(st);
    hqstore_close(st);
    mrf_secrets_free(keys);
    x_free(keys_path);
    buf_release(&body);
    return rc;
}

static int allocate_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct hq_allocated done;
    enum mrf_status rc = hq_allocate(ctx->home, a->args[0], a->args[1], a->args[2],
                                     cli_get(a, "currency"), &done, &ctx->err);

    if (rc == MRF_OK)
        printf("allocated %s %s to %d for %s; it reaches the post's devices on their next sync\n",
               done.amount, done.currency, done.year, done.post);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_allocate = {
    "allocate",
    "CODE YEAR AMOUNT [--currency EUR]",
    "set a post's allocation for a year (replaces an earlier one); devices get it on sync",
    3,
    3,
    {{"currency", 1, "ISO 4217 code, default EUR"}, {NULL, 0, NULL}},
    allocate_exec,
    CMD_WRITES,
};

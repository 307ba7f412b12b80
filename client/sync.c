/* The device's side of a sync (DESIGN §6): cut the outbox into bounded change sets, send each
 * as a sealed, signed envelope over one kept-alive HTTPS connection, verify HQ's sealed answer
 * and, in one local transaction, drop the acknowledged entries (or move them to the
 * quarantine with HQ's reason), merge the ops HQ sent with the same merge HQ runs, and move
 * the cursor; the same transaction keeps the conflict records HQ sent (newest version of each)
 * with their cursor, and HQ's audit head if it carries HQ's signature and is not behind the one
 * kept. An entry cut into a change set is frozen (outbox.changeset) until that
 * transaction, so a cut link or a killed process resends the same change set id, which HQ
 * answers without applying twice. Once HQ has answered, many change sets are frozen by one
 * transaction (freeze()), then sent oldest first. When HQ applied some of this device's writes at a
 * clock of its own (their clocks were more than a day ahead of HQ's: a wrong date), the same
 * transaction takes that clock for them, so this device orders them as everyone else does.
 * The JSON is written and read by sync/changeset.c. */
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "client.h"

#define SYNC_TIMEOUT_DEFAULT 300
#define REQUEST_SLACK 1024 /* room around the ops for the rest of the request JSON */
/* ops past which one freeze() cuts no further change set: it holds the store's write lock,
 * which a capture in another process waits 5 s for (schema_open's busy timeout); 32,000 (and
 * the change set that crosses it: 40,000 in all) took 0.3 to 0.6 s at 700,000 pending
 * (bench/device.sh) */
#define FREEZE_OPS_MAX (4 * CHANGESET_OPS_MAX)

struct sync_run {
    struct cli_ctx *ctx;
    const struct sync_opts *o;
    struct sync_summary *sum;
    struct transport *t;
    struct merge *merge;
    size_t target;
    struct buf json;       /* request or response JSON */
    struct buf env;        /* request envelope */
    struct buf resp;       /* response envelope */
    uint8_t cs[MRF_ID];    /* the change set in flight */
    uint8_t aside[MRF_ID]; /* the change set pending writes a pull beat are set aside into */
    int have_aside;        /* aside is chosen (one per answer) */
    int64_t cs_ops;
    int more;             /* HQ has more ops for us */
    int by_pouch;         /* the answer came in a reply pouch: it may be old, or applied before */
    int64_t fresh;        /* pulled ops of this answer that were new here (won the merge) */
    int64_t keyring_upto; /* the last queued key ring grant the request in flight carries */
};

static enum mrf_status exec_stmt(struct cli_ctx *ctx, enum client_sql which, const char *what)
{
    sqlite3_stmt *s = client_stmt(ctx, which);

    if (s == NULL)
        return MRF_E_IO;
    if (sqlite3_step(s) != SQLITE_DONE)
        return client_db_fail(ctx, what);
    return MRF_OK;
}

static void rollback(struct cli_ctx *ctx)
{
    if (!sqlite3_get_autocommit(ctx->db))
        (void)exec_stmt(ctx, CQ_ROLLBACK, "rollback");
}

/* Reads an outbox row (tbl, id, col, value, clock, prev_clock, prev_device, seq) as an op of
 * this device; values point into the statement's row. 0 if the row is damaged. */
static int outbox_op(sqlite3_stmt *s, const uint8_t device[MRF_ID], struct sync_op *op)
{
    const struct sync_table_desc *d = sync_table_get((enum sync_table)sqlite3_column_int(s, 0));

    memset(op, 0, sizeof *op);
    if (d == NULL || sqlite3_column_bytes(s, 1) != MRF_ID)
        return 0;
    op->tbl = (enum sync_table)sqlite3_column_int(s, 0);
    memcpy(op->id, sqlite3_column_blob(s, 1), MRF_ID);
    op->col = sqlite3_column_int(s, 2);
    if (op->col < 0 || op->col >= d->ncols)
        return 0;
    sync_value_column(s, 3, d->cols[op->col].type, &op->v);
    op->clock = (hlc_t)sqlite3_column_int64(s, 4);
    op->prev_clock = (hlc_t)sqlite3_column_int64(s, 5);
    if (sqlite3_column_bytes(s, 6) == MRF_ID) {
        memcpy(op->prev_device, sqlite3_column_blob(s, 6), MRF_ID);
        op->has_prev_device = 1;
    }
    memcpy(op->device, device, MRF_ID);
    return 1;
}

/* ---- choosing the next change set ------------------------------------------------------- */

/* The change set of the first row statement q gives (NULL: none), if any: *found. */
static enum mrf_status frozen_id(struct sync_run *r, enum client_sql q, int *found)
{
    sqlite3_stmt *s = client_stmt(r->ctx, q);
    int rc;

    *found = 0;
    if (s == NULL)
        return MRF_E_IO;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == MRF_ID) {
        memcpy(r->cs, sqlite3_column_blob(s, 0), MRF_ID);
        *found = 1;
    } else if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        return client_db_fail(r->ctx, "cannot read the outbox");
    }
    sqlite3_reset(s);
    return MRF_OK;
}

/* The oldest frozen change set, if any: *found. A freeze takes the oldest pending entries,
 * so the oldest entry of the outbox is mostly frozen when any is, and then names it; else
 * (the entries a pull set aside, younger than some pending ones) outbox_frozen does. */
static enum mrf_status next_frozen(struct sync_run *r, int *found)
{
    enum mrf_status st = frozen_id(r, CQ_OUTBOX_OLDEST, found);

    if (st == MRF_OK && !*found)
        st = frozen_id(r, CQ_OUTBOX_FROZEN_NEXT, found);
    return st;
}

/* Freezes the oldest entries pending after seq *after into a new change set r->cs, inside
 * the caller's transaction, up to CHANGESET_WIRE_TARGET of zstd (estimated as they are
 * written), the target size of JSON and CHANGESET_OPS_MAX ops. A run of consecutive entries
 * of one row is never split: a new row's creating writes are one transaction's, so they are
 * consecutive, and HQ takes a row it does not have only with its required columns in the same
 * change set. A run alone over the target still goes whole (a row has at most ten columns).
 * OUT: *after the last seq frozen, *ops how many; *found 0 if nothing is pending after it. */
static enum mrf_status cut(struct sync_run *r, int64_t *after, int64_t *ops, int *found)
{
    struct cli_ctx *ctx = r->ctx;
    sqlite3_stmt *s;
    struct sync_op op;
    struct cs_writer w;
    struct cs_mark run_mark;
    struct wire_meter *meter = wire_meter_new();
    int64_t last = -1, seen = -1, run_last = -1;
    int rc, run_tbl = -1;
    uint8_t run_id[MRF_ID];
    enum mrf_status st = MRF_OK;

    *found = 0;
    *ops = 0;
    buf_reset(&r->json);
    changeset_writer_init(&w, WIRE_VERSION, 0);
    changeset_writer_mark(&w, &r->json, &run_mark);
    s = client_stmt(ctx, CQ_OUTBOX_PENDING);
    if (s == NULL) {
        st = MRF_E_IO;
        goto out;
    }
    sqlite3_bind_int64(s, 1, *after);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (!outbox_op(s, ctx->meta.device_id, &op)) {
            st = mrf_error_set(&ctx->err, MRF_E_IO, "store: an outbox entry is damaged");
            goto out;
        }
        /* one change set holds writes that had seen the same: its "seen" is then exact */
        if (seen >= 0 && sqlite3_column_int64(s, 8) != seen)
            break;
        seen = sqlite3_column_int64(s, 8);
        if ((int)op.tbl != run_tbl || memcmp(op.id, run_id, MRF_ID) != 0) {
            run_tbl = (int)op.tbl; /* a new run: where the change set ends without it */
            memcpy(run_id, op.id, MRF_ID);
            changeset_writer_mark(&w, &r->json, &run_mark);
            run_last = last;
        }
        if (changeset_writer_put(&w, &r->json, &op) != MRF_OK ||
            (run_mark.n > 0 && (r->json.len > r->target || w.n > CHANGESET_OPS_MAX ||
                                wire_meter_update(meter, &r->json) > CHANGESET_WIRE_TARGET))) {
            if (run_mark.n > 0) { /* the run goes whole into the next change set */
                changeset_writer_rewind(&w, &r->json, &run_mark);
                last = run_last;
            }
            break;
        }
        last = sqlite3_column_int64(s, 7);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        st = client_db_fail(ctx, "cannot read the outbox");
        goto out;
    }
    sqlite3_reset(s);
    if (w.n == 0)
        goto out;
    mrf_random(r->cs, MRF_ID);
    s = client_stmt(ctx, CQ_OUTBOX_FREEZE);
    if (s == NULL) {
        st = MRF_E_IO;
        goto out;
    }
    sqlite3_bind_blob(s, 1, r->cs, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, last);
    sqlite3_bind_int64(s, 3, *after);
    if (sqlite3_step(s) != SQLITE_DONE) {
        st = client_db_fail(ctx, "cannot cut a change set");
        goto out;
    }
    *ops = sqlite3_changes(ctx->db);
    *after = last;
    *found = 1;
out:
    if (s != NULL)
        sqlite3_reset(s);
    wire_meter_free(meter);
    return st;
}

/* Cuts up to max_sets change sets (cut()) in one transaction, and no more once FREEZE_OPS_MAX
 * ops are frozen. Freezing an entry takes it out of outbox_pending, an index keyed by random
 * row ids: past a few thousand entries, each op of a change set dirties a page of its own, and
 * a commit writes every page it dirtied. One commit for many change sets writes each page
 * once (docs/DECISIONS.md, "One freeze for many change sets"). OUT: *n, how many were cut. */
static enum mrf_status freeze(struct sync_run *r, int max_sets, int *n)
{
    struct cli_ctx *ctx = r->ctx;
    int64_t after = INT64_MIN, frozen = 0, ops;
    int found = 1;
    enum mrf_status st = exec_stmt(ctx, CQ_BEGIN, "cannot begin a transaction");

    *n = 0;
    while (st == MRF_OK && found && *n < max_sets && frozen < FREEZE_OPS_MAX) {
        st = cut(r, &after, &ops, &found);
        *n += found;
        frozen += ops;
    }
    if (st == MRF_OK && *n > 0)
        st = exec_stmt(ctx, CQ_COMMIT, "cannot commit");
    if (st != MRF_OK)
        *n = 0;
    if (st != MRF_OK || *n == 0)
        rollback(ctx);
    return st;
}

/* ---- the request ------------------------------------------------------------------------- */

/* The request JSON for change set r->cs (its frozen entries; none for a pull). */
static enum mrf_status build_request(struct sync_run *r, int with_ops)
{
    struct cli_ctx *ctx = r->ctx;
    int64_t seen = ctx->meta.hq_cursor;
    sqlite3_stmt *s = NULL;
    struct sync_op op;
    struct cs_writer w;
    int rc;
    enum mrf_status st;

    r->cs_ops = 0;
    changeset_writer_init(&w, WIRE_VERSION, 0);
    if (with_ops) { /* what the least informed of its writes had pulled when it was made */
        s = client_stmt(ctx, CQ_OUTBOX_SEEN);
        if (s == NULL)
            return MRF_E_IO;
        sqlite3_bind_blob(s, 1, r->cs, MRF_ID, SQLITE_STATIC);
        rc = sqlite3_step(s);
        seen = rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL
                   ? sqlite3_column_int64(s, 0)
                   : seen;
        sqlite3_reset(s);
        if (rc != SQLITE_ROW)
            return client_db_fail(ctx, "cannot read the outbox");
    }
    st = changeset_request_begin(&r->json, WIRE_VERSION, ctx->meta.hq_cursor,
                                 ctx->meta.conflict_cursor, seen,
                                 ctx->meta.enrolled_at == 0 ? ctx->secrets->enroll_secret : NULL);
    if (st == MRF_OK && with_ops) {
        s = client_stmt(ctx, CQ_OUTBOX_OF);
        if (s == NULL)
            return MRF_E_IO;
        sqlite3_bind_blob(s, 1, r->cs, MRF_ID, SQLITE_STATIC);
        while (st == MRF_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            if (!outbox_op(s, ctx->meta.device_id, &op))
                st = mrf_error_set(&ctx->err, MRF_E_IO, "store: an outbox entry is damaged");
            else
                st = changeset_writer_put(&w, &r->json, &op);
        }
        r->cs_ops = w.n;
        sqlite3_reset(s);
    }
    if (st == MRF_OK) { /* the post's key ring: what this device signed for it */
        struct buf members;
        buf_init(&members, CHANGESET_TARGET);
        st = client_ring_request(ctx, &members, &r->keyring_upto);
        if (st == MRF_OK)
            st = changeset_request_end_with(&r->json, members.len ? members.data : "");
        buf_release(&members);
    }
    if (st == MRF_E_TOOBIG)
        return mrf_error_set(&ctx->err, st, "a change set is over %u bytes", WIRE_JSON_MAX);
    return st;
}

static enum mrf_status seal_request(struct sync_run *r)
{
    struct cli_ctx *ctx = r->ctx;
    struct envelope h;
    enum mrf_status st;

    memset(&h, 0, sizeof h);
    h.kind = ENV_REQUEST;
    memcpy(h.sender, ctx->meta.device_id, MRF_ID);
    memcpy(h.changeset, r->cs, MRF_ID);
    str_copy(h.post, ctx->meta.post, sizeof h.post);
    if (ctx->meta.enrolled_at == 0) {
        h.flags = ENV_F_ENROLL;
        memcpy(h.token_id, ctx->meta.token_id, MRF_ID);
        h.keys = ctx->secrets->pub;
    }
    st = envelope_seal(&h, r->json.data, r->json.len, ctx->secrets, ctx->meta.hq_box_pk, &r->env,
                       &ctx->err);
    /* the request JSON may hold the enrollment secret */
    sodium_memzero(r->json.data, r->json.len);
    buf_reset(&r->json);
    return st;
}

/* ---- HQ's answer ------------------------------------------------------------------------- */

/* What a refusal's reason code means for the person at the device. */
static enum mrf_status refused(struct sync_run *r, long http, const char *reason)
{
    static const struct {
        const char *code, *text;
    } known[] = {
        {"device_revoked", "HQ has revoked this device, so it can no longer sync; ask HQ how "
                           "to hand over what it holds ('mrf export --format json' writes it "
                           "out)"},
        {"unknown_device", "HQ does not know this device (was HQ restored from a backup?); "
                           "ask HQ"},
        {"token_used", "the enrollment token was used already; ask HQ for a new one and "
                       "adopt it with 'mrf init --token NEW'"},
        {"token_expired", "the enrollment token expired before this device's first sync; ask "
                          "HQ for a new one and adopt it with 'mrf init --token NEW'"},
        {"bad_token", "HQ does not recognise this device's enrollment token; ask HQ for a new "
                      "one and adopt it with 'mrf init --token NEW'"},
        {"wrong_post", "HQ says this device does not belong to the post it signs for"},
        {"bad_signature", "HQ could not verify this device's signature"},
        {"device_exists", "HQ knows this device id with other keys"},
    };
    const char *text = "HQ refused the change set";

    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(reason, known[i].code) == 0)
            text = known[i].text;
    return mrf_error_set(&r->ctx->err, MRF_E_REFUSED,
                         "%s (HTTP %ld, %s); nothing was lost: your changes stay in the outbox",
                         text, http, reason);
}

/* The count on line "KEY=N" of a refusal's body (lines after the reason code); -1 if absent. */
static int64_t refusal_field(const struct buf *body, const char *key)
{
    char want[32], num[24];
    const char *p;
    size_t i = 0;
    int64_t v;

    snprintf(want, sizeof want, "\n%s=", key);
    p = body->data != NULL ? strstr(body->data, want) : NULL;
    if (p == NULL)
        return -1;
    for (p += strlen(want); i < sizeof num - 1 && p[i] >= '0' && p[i] <= '9'; i++)
        num[i] = p[i];
    num[i] = '\0';
    return parse_int64(num, 0, INT64_MAX, &v) == MRF_OK ? v : -1;
}

/* HQ's volume bounds per device (docs/DECISIONS.md, "Volume bounds per device"): HQ took
 * nothing of the change set, which stays frozen in the outbox as it is. Over the hourly bound
 * is "later" (exit 4): the same change set goes through once the device's hour is over. Over
 * the per-change-set bound only HQ's operator can help (exit 5): this program never cuts more
 * than CHANGESET_OPS_MAX ops, which HQ's bound is never below. */
static enum mrf_status over_bound(struct sync_run *r, long http, const char *reason)
{
    struct mrf_error *err = &r->ctx->err;
    int64_t bound = refusal_field(&r->resp, "bound"), used = refusal_field(&r->resp, "used");
    int64_t ops = refusal_field(&r->resp, "ops"), after = refusal_field(&r->resp, "retry_after");
    char at[24] = "its hour is over";
    time_t t;
    struct tm tm;

    if (strcmp(reason, "over_changeset_bound") == 0)
        return mrf_error_set(err, MRF_E_REFUSED,
                             "HQ takes at most %lld changes in one change set from a device and "
                             "this one holds %lld (HTTP %ld, %s); nothing was lost: your changes "
                             "stay in the outbox. HQ's operator can raise the bound with "
                             "'mrf-hq limits set --per-changeset N'",
                             (long long)bound, (long long)ops, http, reason);
    if (after >= 0 && after <= 7 * 86400) {
        t = time(NULL) + (time_t)after;
        if (gmtime_r(&t, &tm) != NULL)
            strftime(at, sizeof at, "%H:%M UTC", &tm);
    }
    return mrf_error_set(err, MRF_E_OFFLINE,
                         "HQ takes at most %lld changes an hour from one device and this device "
                         "has sent %lld this hour, so HQ took none of the next %lld (HTTP %ld, "
                         "%s); it takes them after %s (in about %lld min): nothing was lost, "
                         "your changes stay in the outbox, run 'mrf sync' again then. If the "
                         "post needs more, HQ's operator can raise the bound with "
                         "'mrf-hq limits set --per-hour N'",
                         (long long)bound, (long long)used, (long long)ops, http, reason, at,
                         (long long)((after + 59) / 60));
}

/* Opens and checks HQ's sealed answer into r->json. */
static enum mrf_status open_response(struct sync_run *r)
{
    struct cli_ctx *ctx = r->ctx;
    struct envelope h;
    struct mrf_error err;
    char *json = NULL;
    size_t len = 0;

    if (envelope_parse((const uint8_t *)r->resp.data, r->resp.len, &h, &err) != MRF_OK ||
        h.kind != ENV_RESPONSE || memcmp(h.changeset, r->cs, MRF_ID) != 0 ||
        strcmp(h.post, ctx->meta.post) != 0 ||
        envelope_open(&h, ctx->meta.hq_sign_pk, ctx->meta.hq_box_pk, ctx->secrets->box_sk, &json,
                      &len, &err) != MRF_OK)
        return mrf_error_set(&ctx->err, MRF_E_REFUSED,
                             "HQ's answer did not verify against HQ's key from the token; "
                             "nothing was applied and your changes stay in the outbox");
    buf_reset(&r->json);
    if (buf_append(&r->json, json, len) != MRF_OK) {
        x_free(json);
        return mrf_error_set(&ctx->err, MRF_E_TOOBIG, "HQ's answer is too large");
    }
    x_free(json);
    return MRF_OK;
}

/* Merges one pulled op. A pending local write it beats is never dropped: it is set aside, as
 * it is (its previous clock and what it had seen), into a change set of its own that goes
 * next, so HQ keeps it in a conflict record beside the write that won; a later local edit of
 * the column is a new write that has seen the pulled one. Folds the op's clock into *clock if
 * it is within bound (HQ sends no clock past its own bound; this keeps a device safe from one
 * that did). */
static enum mrf_status pull_op(struct sync_run *r, const struct sync_op *op, hlc_t bound,
                               hlc_t *clock)
{
    struct cli_ctx *ctx = r->ctx;
    enum merge_outcome out;
    sqlite3_stmt *s;
    enum mrf_status st = merge_apply(r->merge, ctx->meta.post, op, &out, &ctx->err);

    if (st != MRF_OK)
        return st == MRF_E_RULE ? mrf_error_set(&ctx->err, MRF_E_IO,
                                                "HQ sent a row this store holds for another post")
                                : st;
    if (op->clock <= bound)
        *clock = hlc_max(*clock, op->clock);
    if (out != MERGE_APPLIED)
        return MRF_OK;
    r->fresh++;
    if (!r->have_aside) {
        mrf_random(r->aside, MRF_ID);
        r->have_aside = 1;
    }
    s = client_stmt(ctx, CQ_OUTBOX_SET_ASIDE);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_int(s, 1, (int)op->tbl);
    sqlite3_bind_blob(s, 2, op->id, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, op->col);
    sqlite3_bind_blob(s, 4, r->aside, MRF_ID, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        return client_db_fail(ctx, "cannot update the outbox");
    return MRF_OK;
}

/* One write of this device that HQ applied at its own clock. */
struct restamped {
    enum sync_table tbl;
    uint8_t id[MRF_ID];
    int col;
    hlc_t clock;
};

/* HQ applied this change set's writes with a clock past ack->restamp_above at
 * ack->restamp_to: their columns take that clock here too (if no later write replaced them),
 * and a pending write to the same column names it as the value it replaces. */
static enum mrf_status take_restamp(struct sync_run *r, const struct cs_ack *ack)
{
    struct cli_ctx *ctx = r->ctx;
    struct restamped *list = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *s = client_stmt(ctx, CQ_OUTBOX_OF);
    struct sync_op op;
    enum mrf_status st = MRF_OK;
    int rc, changed;

    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(s, 1, r->cs, MRF_ID, SQLITE_STATIC);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (!outbox_op(s, ctx->meta.device_id, &op)) {
            st = mrf_error_set(&ctx->err, MRF_E_IO, "store: an outbox entry is damaged");
            break;
        }
        if (op.clock <= ack->restamp_above)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            list = xrealloc(list, cap * sizeof *list);
        }
        list[n].tbl = op.tbl;
        memcpy(list[n].id, op.id, MRF_ID);
        list[n].col = op.col;
        list[n].clock = op.clock;
        n++;
    }
    if (st == MRF_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        st = client_db_fail(ctx, "cannot read the outbox");
    sqlite3_reset(s);
    for (size_t i = 0; st == MRF_OK && i < n; i++) {
        st =
            merge_restamp(r->merge, ctx->meta.post, list[i].tbl, list[i].id, list[i].col,
                          list[i].clock, ctx->meta.device_id, ack->restamp_to, &changed, &ctx->err);
        if (st != MRF_OK)
            break;
        s = client_stmt(ctx, CQ_OUTBOX_RESTAMP_PREV);
        if (s == NULL) {
            st = MRF_E_IO;
            break;
        }
        sqlite3_bind_int(s, 1, (int)list[i].tbl);
        sqlite3_bind_blob(s, 2, list[i].id, MRF_ID, SQLITE_STATIC);
        sqlite3_bind_int(s, 3, list[i].col);
        sqlite3_bind_int64(s, 4, (sqlite3_int64)list[i].clock);
        sqlite3_bind_int64(s, 5, (sqlite3_int64)ack->restamp_to);
        sqlite3_bind_blob(s, 6, ctx->meta.device_id, MRF_ID, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            st = client_db_fail(ctx, "cannot update the outbox");
    }
    x_free(list);
    return st;
}

/* The device clock after this answer, computed in C (clocks are unsigned). A clock past HQ's
 * bound is this device's own wrong date at work: once HQ has given its writes a clock of its
 * own, the device starts again from that one (it keeps running ahead only while the date
 * stays wrong). */
static enum mrf_status next_clock(struct sync_run *r, const struct cs_answer *a, int acked,
                                  hlc_t pulled, hlc_t *out)
{
    sqlite3_stmt *s = client_stmt(r->ctx, CQ_CLOCK_GET);
    hlc_t mine;

    if (s == NULL)
        return MRF_E_IO;
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return client_db_fail(r->ctx, "cannot read the device clock");
    }
    mine = (hlc_t)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (a->ack.restamped && acked && mine > a->ack.restamp_above)
        mine = a->ack.restamp_to;
    *out = hlc_max(mine, pulled);
    return MRF_OK;
}

/* Upserts each conflict record of the answer (newest version kept) and moves the conflict
 * cursor; inside apply_response's transaction. A record that does not read refuses the whole
 * answer, as an op that does not read does. */
static enum mrf_status take_records(struct sync_run *r, const struct cs_answer *a, int64_t now,
                                    int64_t *taken)
{
    struct cli_ctx *ctx = r->ctx;
    const cJSON *item;
    struct cs_conflict c;
    struct mrf_error err;
    sqlite3_stmt *s;

    *taken = 0;
    if (a->conflicts == NULL)
        return MRF_OK;
    cJSON_ArrayForEach(item, a->conflicts) {
        if (changeset_conflict_parse(item, &c, &err) != MRF_OK)
            return mrf_error_set(&ctx->err, MRF_E_REFUSED, "%s; nothing was applied", err.msg);
        s = client_stmt(ctx, CQ_CONFLICT_PUT);
        if (s == NULL)
            return MRF_E_IO;
        sqlite3_bind_text(s, 1, c.id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, c.kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, c.rule, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, c.rows, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, c.detail, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 6, c.year);
        sqlite3_bind_text(s, 7, c.base, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 8, c.a, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 9, c.b, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 10, c.opened);
        if (c.closed != 0) {
            sqlite3_bind_int64(s, 11, c.closed);
            sqlite3_bind_text(s, 12, c.decision, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 13, c.reason, -1, SQLITE_STATIC);
        }
        sqlite3_bind_int64(s, 14, c.cseq);
        sqlite3_bind_int64(s, 15, now);
        if (sqlite3_step(s) != SQLITE_DONE)
            return client_db_fail(ctx, "cannot store a conflict record");
        if (sqlite3_changes(ctx->db) > 0) {
            *taken += 1;
            r->sum->decided += c.closed != 0;
        }
    }
    s = client_stmt(ctx, CQ_CONFLICT_CURSOR);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_int64(s, 1, a->ccursor);
    if (sqlite3_step(s) != SQLITE_DONE)
        return client_db_fail(ctx, "cannot save the conflict cursor");
    return MRF_OK;
}

/* Notes, once per sync, why an audit head was not kept. Sequence numbers only: nothing in a
 * head is secret, but nothing more is needed to act on it. */
static void head_warning(struct sync_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void head_warning(struct sync_run *r, const char *fmt, ...)
{
    va_list ap;

    if (r->sum->audit_warning[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(r->sum->audit_warning, sizeof r->sum->audit_warning, fmt, ap);
    va_end(ap);
}

/* Keeps HQ's audit head if its signature is HQ's (the key from the token) and it is not
 * behind the one kept; inside apply_response's transaction. A head that fails either test is
 * not an error of the sync: the device keeps the older proof and says so. The same sequence
 * with another hash would be HQ signing two histories: the first one is kept as the proof. */
static enum mrf_status take_audit_head(struct sync_run *r, const struct cs_answer *a, int64_t now)
{
    struct cli_ctx *ctx = r->ctx;
    const struct audit_head *h = &a->audit;
    sqlite3_stmt *s;
    int64_t kept = -1;
    int same_hash = 0, rc;

    if (!a->has_audit)
        return MRF_OK;
    if (audit_head_verify(h, ctx->meta.hq_sign_pk) != MRF_OK) {
        head_warning(r,
                     "HQ's audit head #%lld did not verify against HQ's key from the token; "
                     "the one this device holds stays",
                     (long long)h->seq);
        return MRF_OK;
    }
    s = client_stmt(ctx, CQ_AUDIT_HEAD_GET);
    if (s == NULL)
        return MRF_E_IO;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        kept = sqlite3_column_int64(s, 0);
        same_hash = sqlite3_column_bytes(s, 1) == (int)sizeof h->hash &&
                    memcmp(sqlite3_column_blob(s, 1), h->hash, sizeof h->hash) == 0;
    } else if (rc != SQLITE_DONE) {
        return client_db_fail(ctx, "cannot read the audit head");
    }
    sqlite3_reset(s);
    if (h->seq < kept && r->by_pouch) /* an older reply pouch: nothing to tell */
        return MRF_OK;
    if (h->seq < kept) {
        head_warning(r,
                     "HQ's audit head #%lld is behind the one this device holds (#%lld); kept "
                     "that one: tell HQ (was HQ restored from a backup?)",
                     (long long)h->seq, (long long)kept);
        return MRF_OK;
    }
    if (h->seq == kept && !same_hash) {
        head_warning(r,
                     "HQ signed another chain hash for audit head #%lld than the one this "
                     "device holds; kept that one as proof: tell HQ",
                     (long long)h->seq);
        return MRF_OK;
    }
    s = client_stmt(ctx, CQ_AUDIT_HEAD_PUT);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_int64(s, 1, h->seq);
    sqlite3_bind_blob(s, 2, h->hash, sizeof h->hash, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, h->sig, sizeof h->sig, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now);
    if (sqlite3_step(s) != SQLITE_DONE)
        return client_db_fail(ctx, "cannot save the audit head");
    return MRF_OK;
}

/* Acknowledgement (or quarantine) of the change set, pulled ops, conflict records, HQ's audit
 * head and the new cursors: one local transaction. */
static enum mrf_status apply_response(struct sync_run *r, const struct cs_answer *a)
{
    struct cli_ctx *ctx = r->ctx;
    struct cs_reader reader;
    hlc_t pulled = 0, clock = 0;
    hlc_t bound = hlc_bound(a->hq_time_ms);
    uint64_t now_ms = time_now_ms();
    int64_t now = (int64_t)(now_ms / 1000u), pulled_n = 0, records = 0, acked = 0, sent;
    sqlite3_stmt *s;
    struct sync_op op;
    enum mrf_status st;

    if (memcmp(a->ack.id, r->cs, MRF_ID) != 0)
        return mrf_error_set(&ctx->err, MRF_E_REFUSED,
                             "HQ's answer is for another change set; nothing was applied");
    st = exec_stmt(ctx, CQ_BEGIN, "cannot begin a transaction");
    if (st != MRF_OK)
        return st;
    if (a->ack.quarantined) {
        s = client_stmt(ctx, CQ_QUARANTINE_PUT);
        if (s == NULL) {
            st = MRF_E_IO;
            goto out;
        }
        sqlite3_bind_blob(s, 1, r->cs, MRF_ID, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, a->ack.reason[0] ? a->ack.reason : "refused", -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, now);
        if (sqlite3_step(s) != SQLITE_DONE) {
            st = client_db_fail(ctx, "cannot quarantine a change set");
            goto out;
        }
    } else if (a->ack.restamped) {
        st = take_restamp(r, &a->ack);
        if (st != MRF_OK)
            goto out;
    }
    s = client_stmt(ctx, CQ_OUTBOX_ACK);
    if (s == NULL) {
        st = MRF_E_IO;
        goto out;
    }
    sqlite3_bind_blob(s, 1, r->cs, MRF_ID, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) {
        st = client_db_fail(ctx, "cannot clear acknowledged changes");
        goto out;
    }
    acked = sqlite3_changes(ctx->db);
    merge_forget(r->merge);
    r->fresh = 0;
    changeset_reader_init(&reader, a->ops, a->version, 1, NULL);
    for (;;) {
        struct mrf_error err;
        enum mrf_status got = changeset_reader_next(&reader, &op, &err);
        if (got == MRF_E_NOTFOUND)
            break;
        if (got != MRF_OK) {
            st = mrf_error_set(&ctx->err, MRF_E_REFUSED,
                               "HQ sent an op this device cannot "
                               "read; nothing was applied");
            goto out;
        }
        st = pull_op(r, &op, bound, &pulled);
        sync_op_release(&op);
        if (st != MRF_OK)
            goto out;
        pulled_n++;
    }
    st = take_records(r, a, now, &records);
    if (st == MRF_OK)
        st = take_audit_head(r, a, now);
    if (st == MRF_OK)
        st = client_ring_answer(ctx, a->doc, r->keyring_upto);
    if (st == MRF_OK)
        st = next_clock(r, a, acked > 0, pulled, &clock);
    if (st != MRF_OK)
        goto out;
    s = client_stmt(ctx, CQ_SYNC_DONE);
    if (s == NULL) {
        st = MRF_E_IO;
        goto out;
    }
    sqlite3_bind_int64(s, 1, a->cursor);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)clock);
    sqlite3_bind_int64(s, 3, now);
    if (!r->by_pouch) /* a reply pouch's time is as old as its journey */
        sqlite3_bind_int64(s, 4, (int64_t)(now_ms - a->hq_time_ms));
    if (sqlite3_step(s) != SQLITE_DONE) {
        st = client_db_fail(ctx, "cannot save the sync state");
        goto out;
    }
    st = exec_stmt(ctx, CQ_COMMIT, "cannot commit");
out:
    if (st != MRF_OK) {
        rollback(ctx);
        merge_forget(r->merge);
        return st;
    }
    if (ctx->meta.hq_cursor < a->cursor)
        ctx->meta.hq_cursor = a->cursor;
    if (a->conflicts != NULL && ctx->meta.conflict_cursor < a->ccursor)
        ctx->meta.conflict_cursor = a->ccursor;
    r->sum->records += records;
    if (ctx->meta.enrolled_at == 0)
        ctx->meta.enrolled_at = now;
    if (!r->by_pouch) {
        ctx->meta.has_skew = 1;
        ctx->meta.hq_skew_ms = (int64_t)(now_ms - a->hq_time_ms);
    }
    r->more = a->more;
    r->sum->more = a->more;
    r->sum->p.ops_pulled += pulled_n;
    r->sum->pulled_new += r->fresh;
    sent = r->by_pouch ? acked : r->cs_ops; /* a pouch's answer may find its entries gone */
    if (a->ack.quarantined && sent > 0) {
        r->sum->quarantined++;
        str_copy(r->sum->quarantine_reason, a->ack.reason, sizeof r->sum->quarantine_reason);
    } else {
        r->sum->p.ops_sent += sent;
    }
    if (sent > 0)
        r->sum->p.changesets++;
    return MRF_OK;
}

/* Reads the verified answer in r->json and applies it. */
static enum mrf_status take_answer(struct sync_run *r)
{
    struct mrf_error err;
    struct cs_answer a;
    enum mrf_status st;

    r->have_aside = 0;
    if (changeset_answer_parse(r->json.data, r->json.len, &a, &err) == MRF_OK)
        st = apply_response(r, &a);
    else
        st = mrf_error_set(&r->ctx->err, MRF_E_REFUSED,
                           "%s; nothing was applied (is HQ running an older mrf-hq?)", err.msg);
    changeset_answer_release(&a);
    return st;
}

/* Sends the change set r->cs and applies HQ's answer. */
static enum mrf_status exchange(struct sync_run *r, int with_ops)
{
    struct cli_ctx *ctx = r->ctx;
    struct transport_stats ts;
    long http = 0;
    enum mrf_status st = build_request(r, with_ops);

    if (st == MRF_OK)
        st = seal_request(r);
    if (st != MRF_OK)
        return st;
    st = transport_post(r->t, "/v1/sync", (const uint8_t *)r->env.data, r->env.len, &r->resp, &http,
                        &ctx->err);
    transport_get_stats(r->t, &ts);
    r->sum->p.bytes_up = ts.bytes_sent;
    r->sum->p.bytes_down = ts.bytes_received;
    r->sum->requests = ts.requests;
    r->sum->connects = ts.connects;
    if (st != MRF_OK)
        return st;
    if (http >= 500)
        return mrf_error_set(&ctx->err, MRF_E_OFFLINE,
                             "HQ could not process the change set (HTTP %ld); nothing was lost: "
                             "try again later, and tell HQ if it keeps happening",
                             http);
    if (http != 200 && http != 422) {
        char reason[64];
        size_t n = r->resp.len < sizeof reason - 1 ? r->resp.len : sizeof reason - 1;
        memcpy(reason, r->resp.data, n);
        reason[n] = '\0';
        reason[strcspn(reason, "\r\n")] = '\0';
        if (!text_valid(reason, strlen(reason), 0))
            str_copy(reason, "unreadable", sizeof reason);
        if (strcmp(reason, "over_hourly_bound") == 0 || strcmp(reason, "over_changeset_bound") == 0)
            return over_bound(r, http, reason);
        return refused(r, http, reason);
    }
    st = open_response(r);
    if (st == MRF_OK)
        st = take_answer(r);
    if (st == MRF_OK && r->o->progress)
        r->o->progress(r->o->progress_arg, &r->sum->p);
    return st;
}

static enum mrf_status run(struct sync_run *r)
{
    int found, made, pulled = 0;
    enum mrf_status st;

    for (;;) {
        st = next_frozen(r, &found);
        if (st == MRF_OK && !found) {
            /* one change set until HQ has answered: a device that cannot reach HQ keeps the
             * rest pending, where a later edit of a column still replaces its write */
            st = freeze(r, pulled ? INT_MAX : 1, &made);
            if (st == MRF_OK && made > 0)
                continue; /* sent oldest first */
        }
        if (st != MRF_OK)
            return st;
        if (!found) {
            if (pulled && !r->more)
                return MRF_OK;
            mrf_random(r->cs, MRF_ID); /* nothing to send: a pull */
        }
        st = exchange(r, found);
        if (st != MRF_OK)
            return st;
        pulled = 1;
    }
}

/* client_sync_answer and client_sync_answer_pouch. */
static enum mrf_status answer(struct cli_ctx *ctx, const uint8_t cs[MRF_ID], const char *json,
                              size_t len, struct sync_summary *sum, int by_pouch)
{
    static const struct sync_opts none;
    struct sync_run r;
    enum mrf_status st;

    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.o = &none;
    r.sum = sum;
    r.by_pouch = by_pouch;
    memcpy(r.cs, cs, MRF_ID);
    buf_init(&r.json, WIRE_JSON_MAX);
    st = buf_append(&r.json, json, len);
    if (st != MRF_OK)
        st = mrf_error_set(&ctx->err, MRF_E_TOOBIG, "HQ's answer is too large");
    if (st == MRF_OK)
        st = merge_new(ctx->db, &r.merge, &ctx->err);
    if (st == MRF_OK)
        st = take_answer(&r);
    merge_free(r.merge);
    buf_release(&r.json);
    return st;
}

enum mrf_status client_sync_answer(struct cli_ctx *ctx, const uint8_t cs[MRF_ID], const char *json,
                                   size_t len, struct sync_summary *sum)
{
    return answer(ctx, cs, json, len, sum, 0);
}

enum mrf_status client_sync_answer_pouch(struct cli_ctx *ctx, const uint8_t cs[MRF_ID],
                                         const char *json, size_t len, struct sync_summary *sum)
{
    return answer(ctx, cs, json, len, sum, 1);
}

/* The ids of up to max frozen change sets, oldest first. OUT: *n. */
static enum mrf_status frozen_list(struct sync_run *r, int max, uint8_t ids[][MRF_ID], int *n)
{
    sqlite3_stmt *s = client_stmt(r->ctx, CQ_OUTBOX_FROZEN_LIST);
    int rc;

    *n = 0;
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_int(s, 1, max);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < max)
        if (sqlite3_column_bytes(s, 0) == MRF_ID)
            memcpy(ids[(*n)++], sqlite3_column_blob(s, 0), MRF_ID);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return client_db_fail(r->ctx, "cannot read the outbox");
    return MRF_OK;
}

enum mrf_status client_sync_requests(struct cli_ctx *ctx, int max, int pulls,
                                     client_envelope_fn put, void *arg,
                                     struct pouch_out_summary *out)
{
    static const struct sync_opts none;
    struct sync_summary sum;
    struct sync_run r;
    uint8_t(*ids)[MRF_ID] = xcalloc((size_t)max + 1, MRF_ID);
    int n = 0, made = 1;
    int64_t total = 0;
    enum mrf_status st;

    memset(&r, 0, sizeof r);
    memset(&sum, 0, sizeof sum);
    r.ctx = ctx;
    r.o = &none;
    r.sum = &sum;
    r.target = CHANGESET_TARGET;
    buf_init(&r.json, WIRE_JSON_MAX);
    buf_init(&r.env, ENV_MAX);
    st = frozen_list(&r, max, ids, &n);
    while (st == MRF_OK && made > 0 && n < max) {
        st = freeze(&r, max - n, &made);
        n += made;
    }
    if (st == MRF_OK)
        st = frozen_list(&r, max, ids, &n);
    for (int i = 0; st == MRF_OK && i < n + pulls; i++) {
        if (i < n)
            memcpy(r.cs, ids[i], MRF_ID);
        else
            mrf_random(r.cs, MRF_ID); /* a pull, as client_sync sends one */
        st = build_request(&r, i < n);
        if (st == MRF_OK)
            st = seal_request(&r);
        if (st == MRF_OK)
            st = put(arg, (const uint8_t *)r.env.data, r.env.len);
        if (st == MRF_OK && i < n) {
            out->changesets++;
            out->ops += r.cs_ops;
        } else if (st == MRF_OK) {
            out->pulls++;
        }
    }
    if (st == MRF_OK)
        st = capture_pending(ctx->db, &total, &ctx->err);
    if (st == MRF_OK)
        out->left = total - out->ops;
    sodium_memzero(r.json.data, r.json.len);
    buf_release(&r.json);
    buf_release(&r.env);
    x_free(ids);
    return st;
}

enum mrf_status client_sync(struct cli_ctx *ctx, const struct sync_opts *o,
                            struct sync_summary *sum)
{
    struct sync_run r;
    struct transport_opts to;
    int timeout = o->timeout_s > 0 ? o->timeout_s : SYNC_TIMEOUT_DEFAULT;
    enum mrf_status st;

    memset(sum, 0, sizeof *sum);
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.o = o;
    r.sum = sum;
    r.target = o->changeset_target ? o->changeset_target : CHANGESET_TARGET;
    buf_init(&r.json, WIRE_JSON_MAX);
    buf_init(&r.env, ENV_MAX);
    buf_init(&r.resp, ENV_MAX);
    st = capture_pending(ctx->db, &sum->p.ops_total, &ctx->err);
    if (st != MRF_OK)
        goto out;
    memset(&to, 0, sizeof to);
    to.url = ctx->meta.hq_url;
    to.pin = ctx->meta.hq_tls_pin;
    to.deadline_ms = time_now_ms() + (uint64_t)timeout * 1000u;
    st = transport_new(&to, &r.t, &ctx->err);
    if (st == MRF_OK)
        st = merge_new(ctx->db, &r.merge, &ctx->err);
    if (st == MRF_OK)
        st = run(&r);
out:
    merge_free(r.merge);
    transport_free(r.t);
    sodium_memzero(r.json.data, r.json.len);
    buf_release(&r.json);
    buf_release(&r.env);
    buf_release(&r.resp);
    return st;
}

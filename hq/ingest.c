/* Ingest of one change set (POST /v1/sync): authenticate the envelope against an active device
 * of the post it names (or complete a new device's enrollment with the token's secret), open
 * it, check every op, bound its clocks, apply the ops with the per-column merge to the
 * sender's post, append them to the oplog, record the change set id and extend the audit
 * chain — all in one transaction — and answer with a sealed, signed acknowledgement and the
 * next page of the post's ops the device has not seen. A refusal applies nothing; a change set
 * whose content HQ will not take is recorded as quarantined (so a retry gets the same answer)
 * and applies nothing either. Before a new change set is read, the device's volume bounds
 * (hq/volume.c) may refuse it for now, unrecorded, so the same change set is taken later;
 * content includes new rows that lack a column no row can be without (hq/rowcheck.c).
 *
 * Clocks: an op whose clock is more than a day ahead of HQ's wall clock (hlc_bound) is applied
 * at a clock HQ gives it (its next own clock), so a device with a wrong date or a forged clock
 * never wins by being ahead and never drags HQ's clock along; the acknowledgement tells the
 * device (restamp), and clock_skew keeps who sent it. The change set's body is read and the
 * answer written by sync/changeset.c. */
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "hq.h"
#include "ingest_steps.h"
#include "mrfsync.h"

/* Everything one ingest needs along the way. */
struct ingest {
    struct hqstore *s;
    const struct hq_identity *id;
    struct ingest_result *r;
    struct envelope env;
    struct hq_device dev; /* the sender (known, or being enrolled) */
    int enrolling;        /* a new device's first change set */
    struct hq_enrollment enrollment;
    struct cs_request req; /* the opened change set */
    int64_t cursor;        /* the device's cursor, in the post's own sequence */
    char quarantine[128];  /* why the content is refused, "" if it is not */
    char detail[160];      /* lines a refusal's body adds after its reason code, or "" */
    hlc_t max_clock;       /* newest clock taken as it is, so HQ's own clock moves past it */
    struct cs_ack ack;     /* the acknowledgement, restamp included */
    struct hq_skew skew;   /* the change set's clock_skew record, if ack.restamped */
    int64_t now;
    uint64_t now_ms;
    const uint8_t *body; /* the envelope exactly as received, for the audit chain */
    size_t body_len;
    struct buf json;      /* the answer, before it is sealed */
    int64_t page_cursor;  /* where the answer's page of ops ends (the request's terms) */
    int64_t page_ccursor; /* ... and its page of conflict records */
    int page_more;        /* HQ has more for the device than the answer holds */
    /* the post's sequence numbers of the ops this change set applied, first and last (0: none):
     * one run, since nothing else appends to the post's oplog in the transaction meanwhile */
    int64_t own_first, own_last;
};

void ingest_result_init(struct ingest_result *r)
{
    memset(r, 0, sizeof *r);
    r->reason = "-";
    str_copy(r->device, "-", sizeof r->device);
    str_copy(r->post, "-", sizeof r->post);
    buf_init(&r->response, ENV_MAX);
}

void ingest_result_release(struct ingest_result *r)
{
    buf_release(&r->response);
}

/* Answers with a refusal: status and reason code, as text, and the refusal's detail lines if
 * it has any. Always MRF_OK (there is an answer). */
static enum mrf_status refuse(struct ingest *in, unsigned status, const char *reason)
{
    in->r->http_status = status;
    in->r->reason = reason;
    buf_reset(&in->r->response);
    (void)buf_printf(&in->r->response, "%s\n%s", reason, in->detail);
    return MRF_OK;
}

/* ---- authentication ---------------------------------------------------------------------- */

/* May known device d send this request? MRF_E_REFUSED (403) with the reason if not. */
static enum mrf_status check_known(const struct ingest *in, const struct hq_device *d,
                                   const char **reason)
{
    if ((in->env.flags & ENV_F_ENROLL) &&
        sodium_memcmp(&d->keys, &in->env.keys, sizeof d->keys) != 0)
        return *reason = "device_exists", MRF_E_REFUSED;
    if (d->revoked)
        return *reason = "device_revoked", MRF_E_REFUSED;
    if (strcmp(d->post, in->env.post) != 0)
        return *reason = "wrong_post", MRF_E_REFUSED;
    return MRF_OK;
}

/* Finds who signed: a known device of this post, or a new one with a valid token. */
static enum mrf_status authenticate(struct ingest *in, const char **reason, unsigned *status)
{
    struct hq_device *d = &in->dev;
    enum mrf_status rc = hqstore_device_get(in->s, in->env.sender, d);

    *status = 403;
    if (rc == MRF_E_NOTFOUND && (in->env.flags & ENV_F_ENROLL)) {
        rc = hqstore_enrollment_get(in->s, in->env.token_id, &in->enrollment);
        if (rc == MRF_E_NOTFOUND)
            return *reason = "bad_token", MRF_E_REFUSED;
        if (rc != MRF_OK)
            return rc;
        if (strcmp(in->enrollment.post, in->env.post) != 0)
            return *reason = "wrong_post", MRF_E_REFUSED;
        memset(d, 0, sizeof *d);
        memcpy(d->id, in->env.sender, MRF_ID);
        str_copy(d->post, in->env.post, sizeof d->post);
        d->keys = in->env.keys;
        d->enrolled_at = in->now;
        in->enrolling = 1;
        return MRF_OK;
    }
    if (rc == MRF_E_NOTFOUND) {
        *status = 401;
        return *reason = "unknown_device", MRF_E_REFUSED;
    }
    if (rc != MRF_OK)
        return rc;
    return check_known(in, d, reason);
}

/* A new device proves it holds the token: the secret travels inside the sealed body. */
static const char *check_enroll_secret(struct ingest *in)
{
    uint8_t h[32];

    if (!in->req.has_enroll || !in->req.secret_ok)
        return "bad_token";
    mrf_hash(h, sizeof h, in->req.secret, MRF_SECRET, NULL, 0);
    if (sodium_memcmp(h, in->enrollment.secret_hash, sizeof h) != 0)
        return "bad_token";
    if (in->enrollment.used_at != 0)
        return "token_used";
    if (in->enrollment.expires <= in->now)
        return "token_expired";
    return NULL;
}

/* ---- content ----------------------------------------------------------------------------- */

/* The fund's rules for one value a device sent; NULL if it may be applied, else the reason.
 * Which columns hold what, and their checks, are sync's column table (sync_column_check);
 * who may write a table is HQ's rule, here. */
static const char *check_value(const struct sync_op *op)
{
    if (op->tbl == ST_ALLOCATIONS)
        return "allocations are written by HQ only";
    return sync_column_check(op->tbl, op->col, &op->v);
}

/* Parses and checks every op; sets in->quarantine on the first that is refused. *ops gets
 * the parsed ops (caller releases). */
static void parse_ops(struct ingest *in, struct sync_op **ops, int *nops)
{
    struct cs_reader reader;
    struct mrf_error err;
    const char *why;
    enum mrf_status st;
    int64_t n;
    int i;

    *ops = NULL;
    *nops = 0;
    if (in->req.ops == NULL) {
        str_copy(in->quarantine, "ops is not a list", sizeof in->quarantine);
        return;
    }
    n = changeset_ops_count(in->req.ops, in->req.version);
    *ops = xcalloc((size_t)n + 1, sizeof **ops);
    changeset_reader_init(&reader, in->req.ops, in->req.version, 0, in->dev.id);
    for (i = 0; i < n; i++) {
        st = changeset_reader_next(&reader, &(*ops)[i], &err);
        if (st == MRF_E_NOTFOUND)
            break;
        if (st != MRF_OK) {
            str_copy(in->quarantine, err.msg, sizeof in->quarantine);
            break;
        }
        *nops = i + 1;
        why = check_value(&(*ops)[i]);
        if (why != NULL) {
            snprintf(in->quarantine, sizeof in->quarantine, "%s (op %d)", why, i + 1);
            break;
        }
    }
    in->r->ops_in = (int)n;
}

/* HQ's volume bounds per device (hq/volume.c), before anything of a new change set is read:
 * MRF_E_REFUSED, 413 over the per-change-set bound or 429 over the hourly one, with the bound,
 * the device's hour so far, the change set's ops and when the hour ends in the refusal's
 * detail lines. Otherwise the change set's ops count into the device's hour. */
static enum mrf_status admit(struct ingest *in, const char **reason, unsigned *status)
{
    struct hq_volume v;
    int64_t nops = changeset_ops_count(in->req.ops, in->req.version);
    enum mrf_status rc = hq_volume_admit(in->s, in->dev.id, nops, in->now, &v);

    if (rc != MRF_OK || v.over == NULL)
        return rc;
    in->r->ops_in = nops;
    in->r->retry_after = v.retry_after;
    *reason = v.over;
    *status = strcmp(v.over, "over_hourly_bound") == 0 ? 429 : 413;
    snprintf(in->detail, sizeof in->detail, "bound=%lld\nused=%lld\nops=%lld\nretry_after=%lld\n",
             (long long)v.bound, (long long)v.used, (long long)v.ops, (long long)v.retry_after);
    return MRF_E_REFUSED;
}

/* Applies every op past the bound (more than a day ahead of HQ's wall clock) at HQ's next
 * clock instead, records the change set in clock_skew and fills the acknowledgement's
 * restamp. Folds the other ops' clocks into in->max_clock. */
static enum mrf_status bound_clocks(struct ingest *in, struct sync_op *ops, int nops)
{
    struct hq_skew k;
    hlc_t bound = hlc_bound(in->now_ms), hq_clock;
    enum mrf_status rc;

    memset(&k, 0, sizeof k);
    for (int i = 0; i < nops; i++) {
        if (ops[i].clock <= bound) {
            in->max_clock = hlc_max(in->max_clock, ops[i].clock);
            continue;
        }
        k.ops++;
        k.max_clock = hlc_max(k.max_clock, ops[i].clock);
    }
    if (k.ops == 0)
        return MRF_OK;
    rc = hqstore_clock_get(in->s, &hq_clock);
    if (rc != MRF_OK)
        return rc;
    /* past HQ's clock and past every clock of the change set that was taken as it is */
    k.restamped = hlc_tick_bounded(hlc_max(hq_clock, in->max_clock), in->now_ms);
    k.above = bound;
    for (int i = 0; i < nops; i++)
        if (ops[i].clock > bound)
            ops[i].clock = k.restamped;
    in->max_clock = hlc_max(in->max_clock, k.restamped);
    memcpy(k.changeset, in->env.changeset, MRF_ID);
    memcpy(k.device, in->dev.id, MRF_ID);
    str_copy(k.post, in->dev.post, sizeof k.post);
    k.at = in->now;
    in->ack.restamped = 1;
    in->ack.restamp_above = k.above;
    in->ack.restamp_to = k.restamped;
    in->skew = k;
    return hqstore_skew_put(in->s, &k);
}

/* Applies every op to the sender's post. Rows are keyed by (post, id): an op whose id another
 * post also uses lands in the sender's own row, so the answer never depends on other posts.
 * The conflict checks (hq/conflict.c) run beside the merge, in the same transaction: they
 * record what they find and never stop an op. */
static enum mrf_status apply_ops(struct ingest *in, const struct sync_op *ops, int nops,
                                 const struct hq_row_fact *facts, int nfacts)
{
    struct hq_touch *t;
    struct merge_prior prior;
    int64_t cursor = in->req.seen; /* what the writes had seen (v2; the cursor if not told) */
    enum mrf_status rc = MRF_OK;
    int64_t rn;
    int applied;

    if (in->req.version < 2) /* a version-1 cursor is HQ's global sequence */
        rc = hqstore_oplog_pseq_at(in->s, in->dev.post, in->cursor, &cursor);
    if (rc != MRF_OK)
        return rc;
    t = hq_touch_new(in->dev.post, in->dev.id, cursor);
    hq_touch_facts(t, facts, nfacts);
    in->own_first = in->own_last = 0; /* this transaction's run only */
    for (int i = 0; rc == MRF_OK && i < nops; i++) {
        rc = hq_conflict_before(in->s, t, &ops[i], &rn);
        if (rc == MRF_OK)
            rc = hqstore_apply_prior(in->s, in->dev.post, &ops[i], rn, &applied, &prior);
        if (rc == MRF_E_RULE)
            rc = MRF_E_INTERNAL;
        if (rc == MRF_OK)
            rc = hq_conflict_op(in->s, t, &ops[i], &prior, in->now);
        if (rc == MRF_OK && applied) {
            in->r->ops_applied++;
            in->own_last = hqstore_oplog_last(in->s);
            if (in->own_first == 0)
                in->own_first = in->own_last;
        }
    }
    if (rc == MRF_OK)
        rc = hq_conflict_after(in->s, t, in->ack.restamped ? &in->skew : NULL, in->now);
    hq_touch_free(t);
    return rc;
}

/* ---- the answer -------------------------------------------------------------------------- */

/* A page of the post's ops, cut by its estimated size on the wire (CHANGESET_WIRE_TARGET of
 * zstd), its JSON (CHANGESET_TARGET) and its ops (CHANGESET_PAGE_OPS); for a version-1 or -2
 * request at CHANGESET_TARGET_V2 of JSON, as its device reads it. */
struct page {
    struct ingest *in;
    struct buf *json;
    int64_t cursor; /* in the request's terms: the post's sequence (v2) or HQ's (v1) */
    int more;
    struct cs_writer w; /* of the request's version, answer form */
    struct wire_meter *meter;
};

/* 1 once the page holds what one answer may (see struct page). */
static int page_full(struct page *p)
{
    if (p->in->req.version < 3)
        return p->json->len >= CHANGESET_TARGET_V2;
    return p->json->len >= CHANGESET_TARGET || p->w.n >= CHANGESET_PAGE_OPS ||
           (p->w.n > 0 && wire_meter_update(p->meter, p->json) >= CHANGESET_WIRE_TARGET);
}

static enum mrf_status page_op(void *arg, int64_t pseq, int64_t seq, const struct sync_op *op)
{
    struct page *p = arg;

    if (page_full(p)) {
        p->more = 1;
        return MRF_E_TOOBIG; /* page full: stop here */
    }
    if (memcmp(op->device, p->in->dev.id, MRF_ID) != 0 &&
        changeset_writer_put(&p->w, p->json, op) != MRF_OK) {
        p->more = 1;
        return MRF_E_TOOBIG;
    }
    p->cursor =
        p->in->req.version >= 2 ? pseq : seq; /* own ops are skipped, never echoed, but passed */
    return MRF_OK;
}

/* A page of the post's conflict records after the device's conflict cursor. */
struct records {
    struct buf *json;
    int64_t ccursor; /* the record sequence the page reaches */
    int64_t count;
    int more;
};

static enum mrf_status page_record(void *arg, const struct hq_conflict *c)
{
    struct records *p = arg;
    struct cs_conflict pub;

    hq_conflict_public(c, &pub);
    if (changeset_put_conflict(p->json, &p->count, &pub) != MRF_OK) {
        p->more = 1;
        return MRF_E_TOOBIG; /* page full: stop here */
    }
    p->ccursor = c->cseq;
    return MRF_OK;
}

/* Builds the answer JSON: the acknowledgement, a page of the post's ops after the device's
 * cursor, written by others, and in version 2 HQ's signed audit head (read after this change
 * set's own link, so it covers it) and a page of the post's conflict records after the
 * device's conflict cursor. */
static enum mrf_status build_response(struct ingest *in, struct buf *json)
{
    struct page p = {in, json, in->cursor, 0, {0}, NULL};
    struct records rec = {json, in->req.ccursor, 0, 0};
    struct audit_head head;
    int64_t after = in->cursor;
    enum mrf_status rc;

    memcpy(in->ack.id, in->env.changeset, MRF_ID);
    rc = changeset_answer_begin(json, in->req.version, &in->ack, in->now_ms);
    if (rc == MRF_OK && in->req.version < 2)
        rc = hqstore_oplog_pseq_at(in->s, in->dev.post, in->cursor, &after);
    if (rc != MRF_OK)
        return rc;
    changeset_writer_init(&p.w, in->req.version, 1);
    p.meter = wire_meter_new();
    /* the sender's own ops, just appended, are passed without being read: never echoed, they
     * would cost a read of each for nothing (a change set's answer read its own 8,000) */
    if (in->req.version >= 2 && in->own_first > after) {
        rc = hqstore_oplog_scan(in->s, in->dev.post, after, in->own_first - 1, page_op, &p);
        if (rc == MRF_OK) {
            p.cursor = in->own_last;
            rc = hqstore_oplog_scan(in->s, in->dev.post, in->own_last, INT64_MAX, page_op, &p);
        }
    } else {
        rc = hqstore_oplog_scan(in->s, in->dev.post, after, INT64_MAX, page_op, &p);
    }
    wire_meter_free(p.meter);
    if (rc != MRF_OK && rc != MRF_E_TOOBIG)
        return rc;
    in->r->ops_out = (int)p.w.n;
    rc = changeset_answer_ops_end(json, p.cursor);
    if (rc == MRF_OK && in->req.version >= 2) {
        rc = hq_audit_head(in->s, in->id->keys, &head);
        if (rc == MRF_OK)
            rc = changeset_answer_audit(json, &head);
        if (rc == MRF_OK)
            rc = changeset_answer_conflicts_begin(json);
        if (rc == MRF_OK)
            rc = hqstore_conflict_scan(in->s, in->dev.post, in->req.ccursor, page_record, &rec);
        if (rc == MRF_E_TOOBIG)
            rc = MRF_OK;
        if (rc == MRF_OK)
            rc = changeset_answer_conflicts_end(json, rec.ccursor);
        if (rc == MRF_OK)
            rc = hq_keyring_answer(in->s, in->id->keys, &in->dev, json);
    }
    in->page_cursor = p.cursor;
    in->page_ccursor = rec.ccursor;
    in->page_more = p.more || rec.more;
    return rc == MRF_OK ? changeset_answer_end(json, in->page_more) : rc;
}

/* ---- one transaction --------------------------------------------------------------------- */

/* The acknowledgement HQ gave change set id before, for a retry or a replay; MRF_E_REFUSED
 * (409) if another device sent that id. */
static enum mrf_status replay(struct ingest *in, const struct hq_received *rec, const char **reason,
                              unsigned *status)
{
    struct hq_skew k;
    enum mrf_status rc;

    if (memcmp(rec->device, in->dev.id, MRF_ID) != 0) {
        *status = 409;
        return *reason = "changeset_reused", MRF_E_REFUSED;
    }
    in->r->reason = "replay";
    in->ack.quarantined = strcmp(rec->verdict, "accepted") != 0;
    str_copy(in->ack.reason, rec->reason, sizeof in->ack.reason);
    rc = hqstore_skew_get(in->s, in->env.changeset, &k);
    if (rc == MRF_E_NOTFOUND)
        return MRF_OK;
    if (rc != MRF_OK)
        return rc;
    in->ack.restamped = 1;
    in->ack.restamp_above = k.above;
    in->ack.restamp_to = k.restamped;
    return MRF_OK;
}

/* Checks, bounds and applies a change set not seen before, and records it. */
static enum mrf_status take(struct ingest *in)
{
    struct hq_received rec;
    struct sync_op *ops = NULL;
    struct hq_row_fact *facts = NULL;
    int nops = 0, nfacts = 0;
    hlc_t hq_clock;
    enum mrf_status rc = MRF_OK;

    parse_ops(in, &ops, &nops);
    if (in->quarantine[0] == '\0')
        rc = hq_rows_check(in->s, in->dev.post, ops, nops, in->quarantine, sizeof in->quarantine,
                           &facts, &nfacts);
    if (rc != MRF_OK)
        goto out;
    if (in->quarantine[0] == '\0') {
        rc = bound_clocks(in, ops, nops);
        if (rc == MRF_OK)
            rc = apply_ops(in, ops, nops, facts, nfacts);
        if (rc != MRF_OK)
            goto out;
    } else {
        in->r->ops_applied = 0;
    }
    in->ack.quarantined = in->quarantine[0] != '\0';
    str_copy(in->ack.reason, in->quarantine, sizeof in->ack.reason);
    memset(&rec, 0, sizeof rec);
    memcpy(rec.device, in->dev.id, MRF_ID);
    str_copy(rec.post, in->dev.post, sizeof rec.post);
    str_copy(rec.verdict, in->ack.quarantined ? "quarantined" : "accepted", sizeof rec.verdict);
    str_copy(rec.reason, in->quarantine, sizeof rec.reason);
    rc = hqstore_received_put(in->s, in->env.changeset, &rec, in->now);
    if (rc == MRF_OK && !in->ack.quarantined) {
        char meta[96] = "{}", above[17], to[17];
        if (in->ack.restamped) {
            hlc_to_hex(in->ack.restamp_above, above);
            hlc_to_hex(in->ack.restamp_to, to);
            snprintf(meta, sizeof meta, "{\"restamp\":{\"above\":\"%s\",\"to\":\"%s\"}}", above,
                     to);
        }
        rc = hq_audit_append(in->s, in->id->keys, "changeset", in->dev.post, meta, in->body,
                             in->body_len, in->now, NULL);
    }
    if (rc == MRF_OK && !in->ack.quarantined && in->max_clock != 0) {
        /* HQ's clock moves past every clock it took as it is (all within the bound) */
        rc = hqstore_clock_get(in->s, &hq_clock);
        if (rc == MRF_OK && in->max_clock > hq_clock)
            rc = hqstore_clock_save(in->s, in->max_clock);
    }
out:
    for (int i = 0; i < nops; i++)
        sync_op_release(&ops[i]);
    x_free(ops);
    x_free(facts);
    return rc;
}

/* A new device's enrollment, inside the write transaction, against what other requests
 * committed since authenticate read the store: two first syncs of one device may run at once,
 * and the other one may have enrolled it meanwhile. If it did (the device stored with exactly
 * these keys, the token used by it), this request goes on as that known device's: its change
 * set is taken or replayed by id like any other. Anyone else is refused (403) as authenticate
 * would refuse them now. */
static enum mrf_status enroll(struct ingest *in, const char **reason)
{
    struct hq_device d;
    struct hq_enrollment e;
    enum mrf_status rc = hqstore_device_get(in->s, in->dev.id, &d);

    if (rc == MRF_E_NOTFOUND) {
        rc = hqstore_device_add(in->s, &in->dev);
        if (rc == MRF_OK)
            rc = hqstore_enrollment_use(in->s, in->env.token_id, in->dev.id, in->now);
        /* someone else just did it: what a store that lets writers interleave would say */
        if (rc == MRF_E_RULE)
            return *reason = "device_exists", MRF_E_REFUSED;
        if (rc == MRF_E_STATE)
            return *reason = "token_used", MRF_E_REFUSED;
        return rc;
    }
    if (rc == MRF_OK)
        rc = hqstore_enrollment_get(in->s, in->env.token_id, &e);
    if (rc == MRF_E_NOTFOUND)
        return *reason = "bad_token", MRF_E_REFUSED;
    if (rc != MRF_OK)
        return rc;
    if (sodium_memcmp(&d.keys, &in->env.keys, sizeof d.keys) != 0 || e.used_at == 0 ||
        memcmp(e.device, d.id, MRF_ID) != 0)
        return *reason = "device_exists", MRF_E_REFUSED;
    rc = check_known(in, &d, reason);
    if (rc == MRF_OK) {
        in->dev = d;
        in->enrolling = 0;
    }
    return rc;
}

/* One run of the write transaction. A refusal is MRF_E_REFUSED with *reason and *status;
 * MRF_E_STATE if another writer recorded the same change set id in between. */
static enum mrf_status write_once(struct ingest *in, const char **reason, unsigned *status)
{
    struct hq_received rec;
    enum mrf_status rc = hqstore_begin(in->s);

    if (rc != MRF_OK)
        return rc;
    if (in->enrolling) {
        *status = 403;
        rc = enroll(in, reason);
        if (rc != MRF_OK)
            goto out;
    }
    rc = hqstore_received_get(in->s, in->env.changeset, &rec);
    if (rc == MRF_OK)
        rc = replay(in, &rec, reason, status);
    else if (rc == MRF_E_NOTFOUND && (rc = admit(in, reason, status)) == MRF_OK)
        rc = take(in);
    if (rc == MRF_OK) /* the post's key ring: HQ relays what the device signed */
        rc = hq_keyring_take(in->s, &in->dev, in->req.doc, in->now);
    if (rc == MRF_OK)
        rc = hqstore_device_seen(in->s, in->dev.id, in->now);
    if (rc == MRF_OK)
        rc = build_response(in, &in->json);
    if (rc == MRF_OK)
        rc = hqstore_commit(in->s);
out:
    if (rc != MRF_OK)
        hqstore_rollback(in->s);
    return rc;
}

/* The write transaction, and its answer in in->json. A store that does not serialise writers
 * (SQLite's BEGIN IMMEDIATE does) may let another request record the same change set id
 * between our read of it and our write: the transaction then runs once more, from a clean
 * answer, and reads it (a replay, or changeset_reused), so a retry never turns into a 500. */
static enum mrf_status write_tx(struct ingest *in, const char **reason, unsigned *status)
{
    enum mrf_status rc = write_once(in, reason, status);

    if (rc == MRF_E_STATE) {
        in->quarantine[0] = '\0';
        in->detail[0] = '\0';
        in->max_clock = 0;
        memset(&in->ack, 0, sizeof in->ack);
        memset(&in->skew, 0, sizeof in->skew);
        in->r->ops_applied = 0;
        in->r->ops_out = 0;
        in->r->reason = "-";
        buf_reset(&in->json);
        rc = write_once(in, reason, status);
        if (rc == MRF_E_STATE)
            rc = MRF_E_INTERNAL;
    }
    return rc;
}

/* ---- the whole ingest -------------------------------------------------------------------- */

static enum mrf_status open_body(struct ingest *in, const char **reason, unsigned *status)
{
    struct mrf_error err;
    char *json = NULL;
    size_t len = 0;
    enum mrf_status rc;

    rc = envelope_open(&in->env, in->dev.keys.sign_pk, in->dev.keys.box_pk, in->id->keys->box_sk,
                       &json, &len, &err);
    if (rc != MRF_OK) {
        *status = rc == MRF_E_AUTH ? 401 : rc == MRF_E_TOOBIG ? 413 : 400;
        *reason = rc == MRF_E_AUTH     ? "bad_signature"
                  : rc == MRF_E_TOOBIG ? "too_large"
                                       : "bad_compression";
        return MRF_E_REFUSED;
    }
    rc = changeset_request_parse(json, len, &in->req, &err);
    sodium_memzero(json, len); /* may hold an enrollment secret */
    x_free(json);
    if (rc != MRF_OK) {
        *status = 400;
        *reason = strcmp(err.msg, "bad_version") == 0  ? "bad_version"
                  : strcmp(err.msg, "bad_cursor") == 0 ? "bad_cursor"
                                                       : "bad_json";
        return MRF_E_REFUSED;
    }
    in->cursor = in->req.cursor;
    return MRF_OK;
}

/* Reads the envelope, finds who signed it and opens it: everything before the write
 * transaction. On a refusal r holds the answer and in is freed (*out NULL). */
enum mrf_status hq_ingest_read(struct hqstore *s, const struct hq_identity *id, const uint8_t *body,
                               size_t len, struct ingest_result *r, struct ingest **out)
{
    struct ingest *in = xcalloc(1, sizeof *in);
    struct mrf_error err;
    const char *reason = NULL;
    unsigned status = 400;
    enum mrf_status rc;

    *out = NULL;
    in->s = s;
    in->id = id;
    in->r = r;
    in->now_ms = time_now_ms();
    in->now = (int64_t)(in->now_ms / 1000u);
    in->body = body;
    in->body_len = len;
    buf_init(&in->json, WIRE_JSON_MAX);

    rc = envelope_parse(body, len, &in->env, &err);
    if (rc != MRF_OK) {
        rc = refuse(in, rc == MRF_E_TOOBIG ? 413 : 400,
                    rc == MRF_E_TOOBIG ? "too_large" : "bad_envelope");
        goto out;
    }
    str_copy(r->post, in->env.post, sizeof r->post);
    {
        char *hx = hex_encode(in->env.sender, 8);
        str_copy(r->device, hx, sizeof r->device);
        x_free(hx);
    }
    if (in->env.kind != ENV_REQUEST) {
        rc = refuse(in, 400, "bad_envelope");
        goto out;
    }
    rc = authenticate(in, &reason, &status);
    if (rc == MRF_OK)
        rc = open_body(in, &reason, &status);
    if (rc == MRF_OK && in->enrolling && (reason = check_enroll_secret(in)) != NULL) {
        status = 403;
        rc = MRF_E_REFUSED;
    }
    if (rc == MRF_E_REFUSED) {
        rc = refuse(in, status, reason);
        goto out;
    }
    if (rc == MRF_OK) {
        *out = in;
        in = NULL;
    }
out:
    hq_ingest_free(in);
    return rc;
}

/* Runs the write transaction and seals the answer. */
enum mrf_status hq_ingest_write(struct ingest *in)
{
    struct ingest_result *r = in->r;
    struct mrf_error err;
    struct envelope out;
    const char *reason = "store_error";
    unsigned status = 500;
    enum mrf_status rc;

    rc = write_tx(in, &reason, &status);
    if (rc == MRF_E_REFUSED)
        return refuse(in, status, reason);
    if (rc != MRF_OK && hqstore_disk_full(in->s)) {
        /* Nothing was stored; the device keeps its change set and sends it again. */
        log_msg(LOG_ERROR,
                "ingest: HQ's disk is full: the change set of device %s (post %s) was not "
                "stored; the device keeps it and retries. Free space on the disk that holds "
                "the HQ store (GET /v1/health says disk_full until a change set is stored)",
                r->device, r->post);
        refuse(in, 503, "disk_full");
        buf_reset(&r->response);
        (void)buf_printf(&r->response,
                         "disk_full: HQ cannot store change sets now; nothing is lost, the "
                         "device sends it again later\n");
        return MRF_OK;
    }
    if (rc != MRF_OK) {
        log_msg(LOG_ERROR, "ingest: the change set of device %s (post %s) was not stored: %s",
                r->device, r->post, hqstore_errmsg(in->s));
        return rc;
    }

    memset(&out, 0, sizeof out);
    out.kind = ENV_RESPONSE;
    memcpy(out.sender, in->id->cfg.device_id, MRF_ID);
    memcpy(out.changeset, in->env.changeset, MRF_ID);
    str_copy(out.post, in->dev.post, sizeof out.post);
    rc = envelope_seal(&out, in->json.data, in->json.len, in->id->keys, in->dev.keys.box_pk,
                       &r->response, &err);
    if (rc != MRF_OK) {
        log_msg(LOG_ERROR, "ingest: cannot seal a response: %s", err.msg);
        return rc;
    }
    if (!in->ack.quarantined) {
        r->http_status = 200;
        if (strcmp(r->reason, "replay") != 0)
            r->reason = "accepted";
    } else {
        r->http_status = 422;
        r->reason = "quarantined";
    }
    return MRF_OK;
}

void hq_ingest_free(struct ingest *in)
{
    if (in == NULL)
        return;
    changeset_request_release(&in->req);
    buf_release(&in->json);
    sodium_memzero(in, sizeof *in);
    x_free(in);
}

enum mrf_status hq_ingest(struct hqstore *s, const struct hq_identity *id, const uint8_t *body,
                          size_t len, struct ingest_result *r)
{
    struct ingest *in = NULL;
    enum mrf_status rc = hq_ingest_read(s, id, body, len, r, &in);

    if (rc == MRF_OK && in != NULL)
        rc = hq_ingest_write(in);
    hq_ingest_free(in);
    return rc;
}

void hq_ingest_answer_after(struct ingest *in, int64_t cursor, int64_t ccursor)
{
    if (in->req.version < 2)
        return;
    if (cursor > in->cursor)
        in->cursor = cursor;
    if (ccursor > in->req.ccursor)
        in->req.ccursor = ccursor;
}

int hq_ingest_has_ops(const struct ingest *in)
{
    return in->req.ops != NULL && cJSON_GetArraySize(in->req.ops) > 0;
}

void hq_ingest_page_end(const struct ingest *in, int64_t *cursor, int64_t *ccursor, int *more)
{
    *cursor = in->page_cursor;
    *ccursor = in->page_ccursor;
    *more = in->page_more;
}

/* Ingest of one change set (POST /v1/sync): authenticate the envelope against an active device
 * of the post it names (or complete a new device's enrollment with the token's secret), open
 * it, check every op, apply the ops with the per-column merge, append them to the oplog,
 * record the change set id and extend the audit chain — all in one transaction — and answer
 * with a sealed, signed acknowledgement and the next page of the post's ops the device has not
 * seen. A refusal applies nothing; a change set whose content HQ will not take is recorded as
 * quarantined (so a retry gets the same answer) and applies nothing either. */
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "hq.h"
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
    cJSON *doc;           /* the opened change set */
    int64_t cursor;       /* the device's oplog cursor */
    char quarantine[128]; /* why the content is refused, "" if it is not */
    hlc_t max_clock;      /* newest clock seen, so HQ's own clock moves past it */
    int64_t now;
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

/* Answers with a refusal: status and reason code, as text. Always MRF_OK (there is an answer). */
static enum mrf_status refuse(struct ingest *in, unsigned status, const char *reason)
{
    in->r->http_status = status;
    in->r->reason = reason;
    buf_reset(&in->r->response);
    (void)buf_printf(&in->r->response, "%s\n", reason);
    return MRF_OK;
}

/* ---- authentication ---------------------------------------------------------------------- */

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
    if ((in->env.flags & ENV_F_ENROLL) &&
        sodium_memcmp(&d->keys, &in->env.keys, sizeof d->keys) != 0)
        return *reason = "device_exists", MRF_E_REFUSED;
    if (d->revoked)
        return *reason = "device_revoked", MRF_E_REFUSED;
    if (strcmp(d->post, in->env.post) != 0)
        return *reason = "wrong_post", MRF_E_REFUSED;
    return MRF_OK;
}

/* A new device proves it holds the token: the secret travels inside the sealed body. */
static const char *check_enroll_secret(struct ingest *in)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(in->doc, "enroll");
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(e, "secret");
    uint8_t *raw = NULL;
    size_t n = 0;
    uint8_t h[32];
    int ok;

    if (!cJSON_IsString(sec) ||
        b64url_decode(sec->valuestring, strlen(sec->valuestring), &raw, &n) != MRF_OK)
        return "bad_token";
    ok = n == MRF_SECRET;
    if (ok)
        mrf_hash(h, sizeof h, raw, n, NULL, 0);
    sodium_memzero(raw, n);
    x_free(raw);
    if (!ok || sodium_memcmp(h, in->enrollment.secret_hash, sizeof h) != 0)
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
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(in->doc, "ops");
    const cJSON *item;
    struct mrf_error err;
    const char *why;
    int n, i;

    *ops = NULL;
    *nops = 0;
    if (!cJSON_IsArray(arr)) {
        str_copy(in->quarantine, "ops is not a list", sizeof in->quarantine);
        return;
    }
    n = cJSON_GetArraySize(arr);
    *ops = xcalloc((size_t)n + 1, sizeof **ops);
    i = 0;
    /* Walked, not indexed: cJSON_GetArrayItem walks the list from its head every time. */
    cJSON_ArrayForEach(item, arr) {
        if (op_from_json(item, 0, in->dev.id, &(*ops)[i], &err) != MRF_OK) {
            str_copy(in->quarantine, err.msg, sizeof in->quarantine);
            break;
        }
        *nops = i + 1;
        why = check_value(&(*ops)[i]);
        if (why != NULL) {
            snprintf(in->quarantine, sizeof in->quarantine, "%s (op %d)", why, i + 1);
            break;
        }
        if ((*ops)[i].clock > in->max_clock)
            in->max_clock = (*ops)[i].clock;
        i++;
    }
    in->r->ops_in = n;
}

/* Applies every op; MRF_E_RULE (with in->quarantine set) if one names a row of another
 * post. */
static enum mrf_status apply_ops(struct ingest *in, const struct sync_op *ops, int nops)
{
    int applied;

    for (int i = 0; i < nops; i++) {
        enum mrf_status rc = hqstore_apply(in->s, in->dev.post, &ops[i], &applied);
        if (rc == MRF_E_RULE) {
            snprintf(in->quarantine, sizeof in->quarantine, "a row of another post (op %d)", i + 1);
            return rc;
        }
        if (rc != MRF_OK)
            return rc;
        in->r->ops_applied += applied;
    }
    return MRF_OK;
}

/* ---- the answer -------------------------------------------------------------------------- */

struct page {
    struct ingest *in;
    struct buf *json;
    int64_t cursor;
    int more;
    int count;
};

static enum mrf_status page_op(void *arg, int64_t seq, const struct sync_op *op)
{
    struct page *p = arg;

    if (p->json->len >= CHANGESET_TARGET) {
        p->more = 1;
        return MRF_E_TOOBIG; /* page full: stop here */
    }
    if (memcmp(op->device, p->in->dev.id, MRF_ID) != 0) {
        if (p->count > 0 && buf_puts(p->json, ",") != MRF_OK)
            return MRF_E_TOOBIG;
        if (op_to_json(op, 1, p->json) != MRF_OK) {
            p->more = 1;
            return MRF_E_TOOBIG;
        }
        p->count++;
    }
    p->cursor = seq; /* own ops are skipped, never echoed, but passed */
    return MRF_OK;
}

/* Builds the response JSON: the acknowledgement and a page of the post's ops after the
 * device's cursor, written by others. */
static enum mrf_status build_response(struct ingest *in, const char *verdict, const char *reason,
                                      struct buf *json)
{
    struct page p = {in, json, in->cursor, 0, 0};
    char *cid = hex_encode(in->env.changeset, MRF_ID);
    cJSON *ack = cJSON_CreateObject();
    char *ack_text;
    enum mrf_status rc;

    cJSON_AddStringToObject(ack, "id", cid);
    cJSON_AddStringToObject(ack, "verdict", verdict);
    cJSON_AddStringToObject(ack, "reason", reason);
    ack_text = cJSON_PrintUnformatted(ack);
    rc = buf_printf(json, "{\"v\":%d,\"ack\":%s,\"ops\":[", WIRE_VERSION, ack_text);
    cJSON_free(ack_text);
    cJSON_Delete(ack);
    x_free(cid);
    if (rc != MRF_OK)
        return rc;
    rc = hqstore_oplog_scan(in->s, in->dev.post, in->cursor, page_op, &p);
    if (rc != MRF_OK && rc != MRF_E_TOOBIG)
        return rc;
    in->r->ops_out = p.count;
    return buf_printf(json, "],\"cursor\":%lld,\"more\":%s}", (long long)p.cursor,
                      p.more ? "true" : "false");
}

/* ---- one transaction --------------------------------------------------------------------- */

static enum mrf_status write_tx(struct ingest *in, struct buf *json, const char **verdict,
                                const char **reason, int force_quarantine)
{
    struct hq_received rec;
    struct sync_op *ops = NULL;
    int nops = 0;
    uint8_t h[32];
    enum mrf_status rc = hqstore_begin(in->s);

    if (rc != MRF_OK)
        return rc;
    if (in->enrolling) {
        rc = hqstore_device_add(in->s, &in->dev);
        if (rc == MRF_OK)
            rc = hqstore_enrollment_use(in->s, in->env.token_id, in->dev.id, in->now);
        if (rc != MRF_OK)
            goto out;
    }
    rc = hqstore_received_get(in->s, in->env.changeset, &rec);
    if (rc == MRF_OK) {
        if (memcmp(rec.device, in->dev.id, MRF_ID) != 0) {
            rc = MRF_E_REFUSED;
            goto out;
        }
        in->r->reason = "replay";
        *verdict = strcmp(rec.verdict, "accepted") == 0 ? "accepted" : "quarantined";
        str_copy(in->quarantine, rec.reason, sizeof in->quarantine);
        *reason = in->quarantine;
    } else if (rc == MRF_E_NOTFOUND) {
        if (!force_quarantine) {
            parse_ops(in, &ops, &nops);
            if (in->quarantine[0] == '\0') {
                rc = apply_ops(in, ops, nops);
                if (rc != MRF_OK)
                    goto out;
            }
        }
        *verdict = in->quarantine[0] ? "quarantined" : "accepted";
        *reason = in->quarantine;
        memset(&rec, 0, sizeof rec);
        memcpy(rec.device, in->dev.id, MRF_ID);
        str_copy(rec.post, in->dev.post, sizeof rec.post);
        str_copy(rec.verdict, *verdict, sizeof rec.verdict);
        str_copy(rec.reason, *reason, sizeof rec.reason);
        rc = hqstore_received_put(in->s, in->env.changeset, &rec, in->now);
        if (rc == MRF_OK && in->quarantine[0] == '\0') {
            envelope_hash(&in->env, h);
            rc = hqstore_audit_append(in->s, h, in->now);
        }
        if (rc == MRF_OK && in->max_clock != 0)
            rc = hqstore_clock_save(in->s, in->max_clock);
        if (rc != MRF_OK)
            goto out;
    } else {
        goto out;
    }
    rc = hqstore_device_seen(in->s, in->dev.id, in->now);
    if (rc == MRF_OK)
        rc = build_response(in, *verdict, *reason, json);
    if (rc == MRF_OK)
        rc = hqstore_commit(in->s);
out:
    if (rc != MRF_OK)
        hqstore_rollback(in->s);
    for (int i = 0; i < nops; i++)
        sync_op_release(&ops[i]);
    x_free(ops);
    return rc;
}

/* ---- the whole ingest -------------------------------------------------------------------- */

/* The parsed body's copy of an enrollment secret, wiped before the tree is freed (the
 * plaintext it came from is wiped in open_body). */
static void wipe_secret(cJSON *doc)
{
    cJSON *sec =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "enroll"), "secret");

    if (cJSON_IsString(sec) && sec->valuestring != NULL)
        sodium_memzero(sec->valuestring, strlen(sec->valuestring));
}

static enum mrf_status open_body(struct ingest *in, const char **reason, unsigned *status)
{
    struct mrf_error err;
    const cJSON *v, *cur;
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
    in->doc = wire_json_parse(json, len);
    sodium_memzero(json, len); /* may hold an enrollment secret */
    x_free(json);
    *status = 400;
    v = cJSON_GetObjectItemCaseSensitive(in->doc, "v");
    cur = cJSON_GetObjectItemCaseSensitive(in->doc, "cursor");
    if (in->doc == NULL || !cJSON_IsObject(in->doc))
        return *reason = "bad_json", MRF_E_REFUSED;
    if (!cJSON_IsNumber(v) || v->valueint != WIRE_VERSION)
        return *reason = "bad_version", MRF_E_REFUSED;
    if (!cJSON_IsNumber(cur) || cur->valuedouble < 0 || cur->valuedouble > 9007199254740992.0)
        return *reason = "bad_cursor", MRF_E_REFUSED;
    in->cursor = (int64_t)cur->valuedouble;
    return MRF_OK;
}

enum mrf_status hq_ingest(struct hqstore *s, const struct hq_identity *id, const uint8_t *body,
                          size_t len, struct ingest_result *r)
{
    struct ingest in;
    struct mrf_error err;
    const char *reason = NULL, *verdict = "accepted", *ack_reason = "";
    unsigned status = 400;
    struct buf json;
    struct envelope out;
    enum mrf_status rc;

    memset(&in, 0, sizeof in);
    in.s = s;
    in.id = id;
    in.r = r;
    in.now = (int64_t)time(NULL);
    buf_init(&json, WIRE_JSON_MAX);

    rc = envelope_parse(body, len, &in.env, &err);
    if (rc != MRF_OK) {
        rc = refuse(&in, rc == MRF_E_TOOBIG ? 413 : 400,
                    rc == MRF_E_TOOBIG ? "too_large" : "bad_envelope");
        goto out;
    }
    str_copy(r->post, in.env.post, sizeof r->post);
    {
        char *hx = hex_encode(in.env.sender, 8);
        str_copy(r->device, hx, sizeof r->device);
        x_free(hx);
    }
    if (in.env.kind != ENV_REQUEST) {
        rc = refuse(&in, 400, "bad_envelope");
        goto out;
    }
    rc = authenticate(&in, &reason, &status);
    if (rc == MRF_OK)
        rc = open_body(&in, &reason, &status);
    if (rc == MRF_OK && in.enrolling && (reason = check_enroll_secret(&in)) != NULL) {
        status = 403;
        rc = MRF_E_REFUSED;
    }
    if (rc == MRF_E_REFUSED) {
        rc = refuse(&in, status, reason);
        goto out;
    }
    if (rc != MRF_OK)
        goto out;

    rc = write_tx(&in, &json, &verdict, &ack_reason, 0);
    if (rc == MRF_E_RULE) {
        /* a row of another post: nothing applied; record the quarantine alone */
        char why[128];
        str_copy(why, in.quarantine, sizeof why);
        buf_reset(&json);
        r->ops_applied = 0;
        str_copy(in.quarantine, why, sizeof in.quarantine);
        rc = write_tx(&in, &json, &verdict, &ack_reason, 1);
    }
    if (rc == MRF_E_REFUSED) {
        rc = refuse(&in, 409, "changeset_reused");
        goto out;
    }
    if (rc == MRF_E_STATE) {
        rc = refuse(&in, 403, "token_used");
        goto out;
    }
    if (rc != MRF_OK) {
        log_msg(LOG_ERROR, "ingest: %s", hqstore_errmsg(s));
        goto out;
    }

    memset(&out, 0, sizeof out);
    out.kind = ENV_RESPONSE;
    memcpy(out.sender, id->cfg.device_id, MRF_ID);
    memcpy(out.changeset, in.env.changeset, MRF_ID);
    str_copy(out.post, in.dev.post, sizeof out.post);
    rc = envelope_seal(&out, json.data, json.len, id->keys, in.dev.keys.box_pk, &r->response, &err);
    if (rc != MRF_OK) {
        log_msg(LOG_ERROR, "ingest: cannot seal a response: %s", err.msg);
        goto out;
    }
    if (strcmp(verdict, "accepted") == 0) {
        r->http_status = 200;
        if (strcmp(r->reason, "replay") != 0)
            r->reason = "accepted";
    } else {
        r->http_status = 422;
        r->reason = "quarantined";
    }
out:
    wipe_secret(in.doc);
    cJSON_Delete(in.doc);
    buf_release(&json);
    return rc;
}

/* `mrf-hq audit verify`'s engine: walks HQ's audit chain link by link (sequence, links, the
 * body's hash, the chain hash, HQ's signature), replays every entry into a scratch store
 * (change sets after checking their device's signature and opening them with HQ's box key,
 * HQ's own ops as written) and compares the scratch store's domain tables with hq.db's. The
 * first fault is named: the entry by sequence, kind, post and device, or the table and row by
 * post and short code. Nothing revealed or decrypted leaves this file; decrypted change sets
 * are wiped once parsed (they may hold an enrollment secret). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "hq.h"

/* Everything one verification carries along. */
struct verify {
    struct hqstore *s;       /* hq.db, read only */
    struct hqstore *scratch; /* the replay */
    const struct mrf_secrets *keys;
    struct hq_config cfg;
    struct hq_audit_report *rep;
    int64_t last_seq;
    uint8_t last_hash[32];
    int bad; /* a fault was recorded in rep; the scan stops */
};

/* How people name an entry: "audit entry 17 (changeset from post NAI, device abcd1234)". */
static void entry_label(const struct hq_audit_entry *e, char *out, size_t n)
{
    struct envelope env;
    struct mrf_error err;
    char dev[17] = "?";

    if (!e->has_body) {
        snprintf(out, n, "audit entry %lld", (long long)e->seq);
        return;
    }
    if (strcmp(e->kind, "changeset") == 0) {
        if (envelope_parse(e->body, e->body_len, &env, &err) == MRF_OK)
            sodium_bin2hex(dev, sizeof dev, env.sender, 8);
        snprintf(out, n, "audit entry %lld (changeset from post %s, device %s)", (long long)e->seq,
                 e->post[0] ? e->post : "?", dev);
    } else {
        snprintf(out, n, "audit entry %lld (%s%s%s)", (long long)e->seq, e->kind,
                 e->post[0] ? ", post " : "", e->post);
    }
}

/* Records the first fault, at entry e, and stops the scan. */
static enum mrf_status bad(struct verify *v, const struct hq_audit_entry *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum mrf_status bad(struct verify *v, const struct hq_audit_entry *e, const char *fmt, ...)
{
    char label[128], what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    entry_label(e, label, sizeof label);
    snprintf(v->rep->problem, sizeof v->rep->problem, "%s: %s", label, what);
    v->rep->bad_seq = e->seq;
    v->bad = 1;
    return MRF_E_AUTH; /* stops the scan; hq_audit_verify knows it by v->bad */
}

/* Applies op to the scratch store for post; a refusal is a fault of entry e. */
static enum mrf_status apply(struct verify *v, const struct hq_audit_entry *e, const char *post,
                             const struct sync_op *op, int i)
{
    int applied;
    enum mrf_status rc = hqstore_apply(v->scratch, post, op, &applied);

    if (rc == MRF_E_RULE)
        return bad(v, e, "op %d cannot be replayed (%s)", i, hqstore_errmsg(v->scratch));
    if (rc != MRF_OK)
        return rc;
    v->rep->ops++;
    return MRF_OK;
}

/* The restamp of a change set's meta: OUT: *on, and the bound and HQ's clock. */
static int read_restamp(const char *meta, int *on, hlc_t *above, hlc_t *to)
{
    cJSON *doc = wire_json_parse(meta, strlen(meta));
    const cJSON *r, *a, *t;
    int ok = doc != NULL && cJSON_IsObject(doc);

    *on = 0;
    if (ok) {
        r = cJSON_GetObjectItemCaseSensitive(doc, "restamp");
        if (r != NULL) {
            a = cJSON_GetObjectItemCaseSensitive(r, "above");
            t = cJSON_GetObjectItemCaseSensitive(r, "to");
            ok = cJSON_IsString(a) && cJSON_IsString(t) &&
                 hlc_from_hex(a->valuestring, above) == MRF_OK &&
                 hlc_from_hex(t->valuestring, to) == MRF_OK;
            *on = ok;
        }
    }
    cJSON_Delete(doc);
    return ok;
}

/* A change set: the device's signature, HQ's box key, the ops as ingest applied them. */
static enum mrf_status replay_changeset(struct verify *v, const struct hq_audit_entry *e)
{
    struct envelope env;
    struct hq_device dev;
    struct mrf_pubkeys pk;
    struct cs_request req;
    struct mrf_error err;
    struct sync_op op;
    struct cs_reader reader;
    char *json = NULL;
    size_t len = 0;
    hlc_t above = 0, to = 0;
    int restamp, i = 0;
    enum mrf_status rc;

    memset(&req, 0, sizeof req);
    if (!read_restamp(e->meta, &restamp, &above, &to))
        return bad(v, e, "its meta is not a restamp record");
    if (envelope_parse(e->body, e->body_len, &env, &err) != MRF_OK || env.kind != ENV_REQUEST)
        return bad(v, e, "the stored envelope is malformed");
    if (strcmp(env.post, e->post) != 0)
        return bad(v, e, "the envelope names post %s, the entry post %s", env.post, e->post);
    if (env.flags & ENV_F_ENROLL) {
        pk = env.keys; /* a device's first change set introduces its keys */
    } else {
        rc = hqstore_device_get(v->s, env.sender, &dev);
        if (rc == MRF_E_NOTFOUND)
            return bad(v, e, "its device is not in hq.db's devices");
        if (rc != MRF_OK)
            return rc;
        pk = dev.keys;
    }
    rc = envelope_open(&env, pk.sign_pk, pk.box_pk, v->keys->box_sk, &json, &len, &err);
    if (rc != MRF_OK)
        return bad(v, e, "%s",
                   strcmp(err.msg, "bad_signature") == 0
                       ? "the device's signature over the stored envelope does not verify"
                       : "the stored envelope does not open with HQ's box key");
    rc = changeset_request_parse(json, len, &req, &err);
    sodium_memzero(json, len);
    x_free(json);
    if (rc != MRF_OK) {
        rc = bad(v, e, "the change set inside is not a request (%s)", err.msg);
        goto out;
    }
    if (req.ops == NULL) {
        rc = bad(v, e, "the change set inside has no list of ops");
        goto out;
    }
    changeset_reader_init(&reader, req.ops, req.version, 0, env.sender);
    for (;;) {
        i++;
        rc = changeset_reader_next(&reader, &op, &err);
        if (rc == MRF_E_NOTFOUND) {
            rc = MRF_OK;
            break;
        }
        if (rc != MRF_OK) {
            rc = bad(v, e, "op %d does not parse (%s)", i, err.msg);
            goto out;
        }
        if (restamp && op.clock > above)
            op.clock = to;
        rc = apply(v, e, env.post, &op, i);
        sync_op_release(&op);
        if (rc != MRF_OK)
            goto out;
    }
    v->rep->changesets++;
out:
    changeset_request_release(&req);
    return rc;
}

/* An entry of HQ's own that wrote ops (allocate, resolve): {"v":1,"post":..,"ops":[...]}. */
static enum mrf_status replay_hq_ops(struct verify *v, const struct hq_audit_entry *e)
{
    cJSON *doc = wire_json_parse((const char *)e->body, e->body_len);
    const cJSON *post, *ops, *item;
    struct mrf_error err;
    struct sync_op op;
    enum mrf_status rc = MRF_OK;
    int i = 0;

    if (doc == NULL)
        return bad(v, e, "its body is not JSON");
    post = cJSON_GetObjectItemCaseSensitive(doc, "post");
    ops = cJSON_GetObjectItemCaseSensitive(doc, "ops");
    if (!cJSON_IsString(post) || strcmp(post->valuestring, e->post) != 0 || !cJSON_IsArray(ops)) {
        rc = bad(v, e, "its body does not name the entry's post and its ops");
        goto out;
    }
    cJSON_ArrayForEach(item, ops) {
        i++;
        rc = op_from_json(item, 1, v->cfg.device_id, &op, &err);
        if (rc != MRF_OK) {
            rc = bad(v, e, "op %d does not parse (%s)", i, err.msg);
            goto out;
        }
        rc = apply(v, e, e->post, &op, i);
        sync_op_release(&op);
        if (rc != MRF_OK)
            goto out;
    }
out:
    cJSON_Delete(doc);
    return rc;
}

static enum mrf_status check_entry(void *arg, const struct hq_audit_entry *e)
{
    struct verify *v = arg;
    uint8_t h[32], both[64];

    v->rep->entries++;
    if (e->seq != v->last_seq + 1)
        return bad(v, e, "the chain skips from entry %lld to %lld: links were removed",
                   (long long)v->last_seq, (long long)e->seq);
    if (sodium_memcmp(e->prev_hash, v->last_hash, 32) != 0)
        return bad(v, e, "its previous hash is not the chain hash of entry %lld",
                   (long long)v->last_seq);
    if (!e->has_body)
        return bad(v, e,
                   "it has no stored body (a link written before store version 3, or its entry "
                   "was removed); the chain cannot be replayed");
    mrf_hash(h, sizeof h, e->body, e->body_len, NULL, 0);
    if (sodium_memcmp(h, e->envelope_hash, 32) != 0)
        return bad(v, e, "the stored %s does not match its hash",
                   strcmp(e->kind, "changeset") == 0 ? "envelope" : "body");
    memcpy(both, e->prev_hash, 32);
    memcpy(both + 32, e->envelope_hash, 32);
    mrf_hash(h, sizeof h, both, sizeof both, NULL, 0);
    if (sodium_memcmp(h, e->chain_hash, 32) != 0)
        return bad(v, e, "its chain hash is not the hash of the previous link and its body");
    if (hq_audit_entry_verify(e, v->keys->pub.sign_pk) != MRF_OK)
        return bad(v, e, "HQ's signature over the entry does not verify");
    v->last_seq = e->seq;
    memcpy(v->last_hash, e->chain_hash, 32);
    if (strcmp(e->kind, "changeset") == 0)
        return replay_changeset(v, e);
    v->rep->hq_entries++;
    if (strcmp(e->kind, "allocate") == 0 || strcmp(e->kind, "resolve") == 0)
        return replay_hq_ops(v, e);
    if (strcmp(e->kind, "reveal") == 0)
        return MRF_OK; /* changes nothing */
    return bad(v, e, "unknown kind");
}

/* Removes the scratch store and its directory. */
static void scratch_remove(const char *dir)
{
    static const char *const leaves[] = {HQSTORE_FILE "-wal", HQSTORE_FILE "-shm", HQSTORE_FILE};
    char *p;

    for (size_t i = 0; i < sizeof leaves / sizeof leaves[0]; i++) {
        p = hq_path(dir, leaves[i]);
        unlink(p);
        x_free(p);
    }
    rmdir(dir);
}

enum mrf_status hq_audit_verify(struct hqstore *s, const struct mrf_secrets *keys,
                                struct hq_audit_report *rep, struct mrf_error *err)
{
    struct verify v;
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL;
    int made = 0, same = 1;
    int64_t orphan = 0;
    char where[512];
    enum mrf_status rc;

    memset(rep, 0, sizeof *rep);
    memset(&v, 0, sizeof v);
    v.s = s;
    v.keys = keys;
    v.rep = rep;
    rc = hqstore_config_get(s, &v.cfg);
    if (rc != MRF_OK) {
        rc = mrf_error_set(err, rc, "%s", hqstore_errmsg(s));
        goto out;
    }
    if (sodium_memcmp(v.cfg.hq.sign_pk, keys->pub.sign_pk, MRF_SIGN_PK) != 0) {
        snprintf(rep->problem, sizeof rep->problem,
                 "hq.keys is not this HQ's key pair: its signing key differs from the one in "
                 "hq.db's configuration, so no entry can be checked");
        goto out;
    }
    dir = xasprintf("%s/mrf-audit-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        rc = mrf_error_set(err, MRF_E_IO, "cannot make a scratch directory in %s: %s",
                           tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp", strerror(errno));
        goto out;
    }
    made = 1;
    rc = hqstore_open(dir, HQSTORE_CREATE, &v.scratch, err);
    if (rc == MRF_OK && (rc = hqstore_begin(v.scratch)) != MRF_OK)
        mrf_error_set(err, rc, "%s", hqstore_errmsg(v.scratch));
    if (rc != MRF_OK)
        goto out;

    rc = hqstore_audit_scan(s, 0, check_entry, &v);
    if (v.bad) {
        rc = MRF_OK;
        goto out;
    }
    if (rc == MRF_OK)
        rc = hqstore_audit_orphan(s, &orphan);
    if (rc != MRF_OK) {
        /* the failing handle is the one with a message */
        rc = mrf_error_set(err, rc, "%s",
                           hqstore_errmsg(s)[0] != '\0' ? hqstore_errmsg(s)
                                                        : hqstore_errmsg(v.scratch));
        goto out;
    }
    if (orphan != 0) {
        snprintf(rep->problem, sizeof rep->problem,
                 "audit entry %lld: its entry is stored but its link is missing from the chain",
                 (long long)orphan);
        rep->bad_seq = orphan;
        goto out;
    }
    rc = hqstore_domain_compare(s, v.scratch, &same, where, sizeof where);
    if (rc != MRF_OK) {
        rc = mrf_error_set(err, rc, "%s", hqstore_errmsg(s));
        goto out;
    }
    if (!same) {
        snprintf(rep->problem, sizeof rep->problem,
                 "replaying all %lld entries does not give hq.db's tables: %s",
                 (long long)rep->entries, where);
        goto out;
    }
    rep->holds = 1;
out:
    rep->head.seq = v.last_seq;
    memcpy(rep->head.hash, v.last_hash, sizeof rep->head.hash);
    audit_head_sign(&rep->head, keys->sign_sk);
    if (v.scratch != NULL) {
        hqstore_rollback(v.scratch);
        hqstore_close(v.scratch);
    }
    if (made)
        scratch_remove(dir);
    x_free(dir);
    if (rc != MRF_OK)
        rep->holds = 0;
    return rc;
}

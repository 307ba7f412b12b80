/* The device's side of a sync by pouch (DECISIONS.md, "Sync by pouch"): writing a pouch of the
 * frozen change sets and pull requests exactly as `mrf sync` would send them, and applying
 * HQ's reply pouch. Both lean on client/sync.c: the outbox is cut and frozen there, the
 * requests built and sealed there, and each answer applied there in one local transaction
 * (client_sync_answer_pouch), so a change set leaves the outbox only when its acknowledgement
 * arrives, by whichever road comes first, and an answer applied twice, late or after a sync
 * moves nothing back. A reply is read whole before anything is applied: it must open with this
 * device's key, carry HQ's signature and name this device, and every answer in it must open
 * with HQ's keys and read. */
#include <string.h>

#include <sodium.h>

#include "client.h"

/* The envelopes collected for a pouch: copies, since client_sync_requests lends its buffer. */
struct collect {
    struct pouch *p;
    uint8_t *env[POUCH_ENVELOPES_MAX];
    struct mrf_error *err;
};

static enum mrf_status collect_one(void *arg, const uint8_t *env, size_t len)
{
    struct collect *c = arg;
    int i = c->p->n;
    enum mrf_status st;

    if (i >= POUCH_ENVELOPES_MAX)
        return mrf_error_set(c->err, MRF_E_TOOBIG, "a pouch holds at most %d envelopes",
                             POUCH_ENVELOPES_MAX);
    c->env[i] = xmalloc(len);
    memcpy(c->env[i], env, len);
    st = pouch_add(c->p, c->env[i], len, c->err);
    if (st != MRF_OK) {
        x_free(c->env[i]);
        c->env[i] = NULL;
    }
    return st;
}

enum mrf_status client_pouch_out(struct cli_ctx *ctx, struct buf *out, struct pouch_out_summary *s)
{
    struct pouch p;
    struct collect c;
    enum mrf_status st;

    memset(s, 0, sizeof *s);
    memset(&c, 0, sizeof c);
    pouch_init(&p, POUCH_REQUEST);
    memcpy(p.device, ctx->meta.device_id, MRF_ID);
    str_copy(p.post, ctx->meta.post, sizeof p.post);
    c.p = &p;
    c.err = &ctx->err;
    st = client_sync_requests(ctx, POUCH_CHANGESETS, POUCH_PULLS, collect_one, &c, s);
    if (st == MRF_OK)
        st = pouch_write(&p, ctx->secrets->sign_sk, ctx->meta.hq_box_pk, out, &ctx->err);
    if (st == MRF_OK)
        s->bytes = out->len;
    for (int i = 0; i < POUCH_ENVELOPES_MAX; i++)
        x_free(c.env[i]);
    return st;
}

/* One answer of the reply, opened and read. */
struct opened {
    uint8_t cs[MRF_ID];
    char *json;
    size_t len;
};

/* Opens answer i of the reply with HQ's keys and checks that it reads. */
static enum mrf_status open_answer(struct cli_ctx *ctx, const struct pouch *p, int i,
                                   struct opened *o)
{
    struct envelope h;
    struct cs_answer a;
    struct mrf_error err;
    enum mrf_status st;

    if (envelope_parse(p->env[i], p->env_len[i], &h, &err) != MRF_OK || h.kind != ENV_RESPONSE ||
        strcmp(h.post, ctx->meta.post) != 0 ||
        envelope_open(&h, ctx->meta.hq_sign_pk, ctx->meta.hq_box_pk, ctx->secrets->box_sk, &o->json,
                      &o->len, &err) != MRF_OK)
        return mrf_error_set(&ctx->err, MRF_E_AUTH,
                             "pouch in: answer %d of the reply does not verify against HQ's key "
                             "from the token; nothing was applied: ask HQ for a new reply",
                             i + 1);
    memcpy(o->cs, h.changeset, MRF_ID);
    st = changeset_answer_parse(o->json, o->len, &a, &err);
    if (st == MRF_OK && memcmp(a.ack.id, o->cs, MRF_ID) != 0)
        st = mrf_error_set(&err, MRF_E_INVALID, "it acknowledges another change set");
    changeset_answer_release(&a);
    if (st != MRF_OK)
        return mrf_error_set(&ctx->err, MRF_E_INVALID,
                             "pouch in: answer %d of the reply does not read (%s); nothing was "
                             "applied (is HQ running an older mrf-hq?)",
                             i + 1, err.msg);
    return MRF_OK;
}

enum mrf_status client_pouch_in(struct cli_ctx *ctx, const uint8_t *data, size_t n,
                                struct sync_summary *sum, int *answers)
{
    struct pouch p;
    struct opened o[POUCH_ENVELOPES_MAX];
    enum mrf_status st;

    memset(sum, 0, sizeof *sum);
    memset(o, 0, sizeof o);
    *answers = 0;
    st = pouch_read(data, n, POUCH_REPLY, ctx->secrets->pub.box_pk, ctx->secrets->box_sk, &p,
                    &ctx->err);
    if (st != MRF_OK)
        return st;
    if (sodium_memcmp(p.signer_pk, ctx->meta.hq_sign_pk, MRF_SIGN_PK) != 0) {
        st = mrf_error_set(&ctx->err, MRF_E_AUTH,
                           "pouch in: this reply is not signed by HQ's key from the token; "
                           "nothing was applied: ask HQ for a new reply");
        goto out;
    }
    if (memcmp(p.device, ctx->meta.device_id, MRF_ID) != 0 || strcmp(p.post, ctx->meta.post)) {
        st = mrf_error_set(&ctx->err, MRF_E_AUTH,
                           "pouch in: this reply is for another device; nothing was applied: "
                           "take the reply made for this device");
        goto out;
    }
    for (int i = 0; st == MRF_OK && i < p.n; i++)
        st = open_answer(ctx, &p, i, &o[i]);
    for (int i = 0; st == MRF_OK && i < p.n; i++) {
        st = client_sync_answer_pouch(ctx, o[i].cs, o[i].json, o[i].len, sum);
        if (st == MRF_OK)
            *answers += 1;
    }
out:
    for (int i = 0; i < POUCH_ENVELOPES_MAX; i++) {
        if (o[i].json != NULL)
            sodium_memzero(o[i].json, o[i].len);
        x_free(o[i].json);
    }
    pouch_release(&p);
    return st;
}

/* HQ's side of a sync by pouch (`mrf-hq pouch in`): opens a device's pouch (sync/pouch.c),
 * checks that the device it names signed it, and gives each envelope inside to hq_ingest's
 * two steps exactly as the server would — same checks, same dedup by change set id, same
 * audit link — then seals the answers into a reply pouch for that device alone. Nothing here
 * ingests anything itself. All the envelopes are first read and authenticated without writing
 * (a refusal of any one refuses the pouch whole, with nothing ingested); then each is taken in
 * its own transaction, as over the network. The device sealed every request at the cursors it
 * held when it wrote the pouch, so each answer's pages start where the previous answer's
 * ended (what the device's next request would have asked), and pulls (requests without ops)
 * are answered only while HQ has more to send. Any failure after the first write leaves no
 * reply: what HQ took is in its store, and the same pouch or a sync of the same change sets
 * later gets the same acknowledgements without applying anything twice. */
#include <string.h>

#include <sodium.h>

#include "hq.h"
#include "ingest_steps.h"

/* Every envelope is a request of the device the pouch names; that device (or, for a device
 * enrolling with this pouch, the keys its first envelope introduces) signed the pouch. */
static enum mrf_status check_sender(struct hqstore *s, const struct pouch *p,
                                    struct hq_pouch_result *res, struct mrf_error *err)
{
    struct envelope h, first;
    struct hq_device d;
    enum mrf_status rc;

    memset(&first, 0, sizeof first);
    if (p->n == 0)
        return mrf_error_set(err, MRF_E_INVALID,
                             "pouch: it holds no envelope; ask the post for a new pouch "
                             "('mrf pouch out FILE')");
    for (int i = 0; i < p->n; i++) {
        struct mrf_error e;
        if (envelope_parse(p->env[i], p->env_len[i], &h, &e) != MRF_OK || h.kind != ENV_REQUEST ||
            memcmp(h.sender, p->device, MRF_ID) != 0 || strcmp(h.post, p->post) != 0)
            return mrf_error_set(err, MRF_E_INVALID,
                                 "pouch: envelope %d is not a request of the device the pouch "
                                 "names; nothing was ingested",
                                 i + 1);
        if (i == 0)
            first = h;
    }
    rc = hqstore_device_get(s, p->device, &d);
    if (rc == MRF_E_NOTFOUND && (first.flags & ENV_F_ENROLL)) {
        d.keys = first.keys;
        rc = MRF_OK;
    } else if (rc == MRF_E_NOTFOUND) {
        res->refused = "unknown_device";
        return mrf_error_set(err, MRF_E_REFUSED,
                             "pouch: HQ does not know device %s (unknown_device); nothing was "
                             "ingested",
                             res->device);
    }
    if (rc != MRF_OK)
        return mrf_error_set(err, rc, "%s", hqstore_errmsg(s));
    if (sodium_memcmp(d.keys.sign_pk, p->signer_pk, MRF_SIGN_PK) != 0)
        return mrf_error_set(err, MRF_E_AUTH,
                             "pouch: it is not signed by device %s, which it names; nothing was "
                             "ingested: ask the post for a new pouch",
                             res->device);
    return MRF_OK;
}

/* The refusal of one envelope as the device's sync would report it. */
static enum mrf_status refusal(const struct ingest_result *r, int i, struct hq_pouch_result *res,
                               int ingested, struct mrf_error *err)
{
    res->refused = r->reason;
    return mrf_error_set(err, r->http_status >= 500 ? MRF_E_OFFLINE : MRF_E_REFUSED,
                         "pouch: envelope %d refused (HTTP %u, %s); %s", i + 1, r->http_status,
                         r->reason,
                         ingested ? "no reply was written: run it again later, what HQ took is "
                                    "answered again and never applied twice"
                                  : "nothing was ingested and no reply was written");
}

/* Reads and authenticates every envelope, writing nothing. */
static enum mrf_status check_all(struct hqstore *s, const struct hq_identity *id,
                                 const struct pouch *p, struct hq_pouch_result *res,
                                 struct mrf_error *err)
{
    enum mrf_status rc = MRF_OK;

    for (int i = 0; rc == MRF_OK && i < p->n; i++) {
        struct ingest_result r;
        struct ingest *in = NULL;

        ingest_result_init(&r);
        rc = hq_ingest_read(s, id, p->env[i], p->env_len[i], &r, &in);
        if (rc != MRF_OK)
            rc = mrf_error_set(err, rc, "pouch: envelope %d could not be read: %s", i + 1,
                               hqstore_errmsg(s));
        else if (in == NULL)
            rc = refusal(&r, i, res, 0, err);
        hq_ingest_free(in);
        ingest_result_release(&r);
    }
    return rc;
}

/* Takes envelope i and adds its answer to reply; *skip if it is a pull HQ need not answer. */
static enum mrf_status take_one(struct hqstore *s, const struct hq_identity *id,
                                const struct pouch *p, int i, struct ingest_result *r,
                                struct pouch *reply, int64_t cursors[2], int *answered,
                                struct hq_pouch_result *res, struct mrf_error *err)
{
    struct ingest *in = NULL;
    int ops, more;
    enum mrf_status rc = hq_ingest_read(s, id, p->env[i], p->env_len[i], r, &in);

    if (rc != MRF_OK) {
        rc = mrf_error_set(err, rc, "pouch: envelope %d could not be read: %s", i + 1,
                           hqstore_errmsg(s));
        goto out;
    }
    if (in == NULL) {
        rc = refusal(r, i, res, *answered, err);
        goto out;
    }
    ops = hq_ingest_has_ops(in);
    if ((!ops && *answered && !res->more) || pouch_room(reply) < ENV_MAX + 4) {
        if (ops) /* the reply is full: it stays frozen on the device */
            res->left_out++;
        goto out;
    }
    if (*answered)
        hq_ingest_answer_after(in, cursors[0], cursors[1]);
    rc = hq_ingest_write(in);
    if (rc != MRF_OK) {
        rc = mrf_error_set(err, rc,
                           "pouch: envelope %d could not be stored: %s; no reply was written: "
                           "run it again, nothing is applied twice",
                           i + 1, hqstore_errmsg(s));
        goto out;
    }
    if (r->http_status != 200 && r->http_status != 422) {
        rc = refusal(r, i, res, 1, err);
        goto out;
    }
    hq_ingest_page_end(in, &cursors[0], &cursors[1], &more);
    res->more = more;
    *answered = 1;
    if (!ops)
        res->pulls++;
    else if (r->http_status == 422)
        res->quarantined++;
    else if (strcmp(r->reason, "replay") == 0)
        res->replayed++;
    else
        res->accepted++;
    res->ops_in += r->ops_in;
    res->ops_applied += r->ops_applied;
    res->ops_out += r->ops_out;
    rc = pouch_add(reply, (const uint8_t *)r->response.data, r->response.len, err);
out:
    hq_ingest_free(in);
    return rc;
}

enum mrf_status hq_pouch_in(struct hqstore *s, const struct hq_identity *id, const uint8_t *data,
                            size_t n, struct buf *reply, struct hq_pouch_result *res,
                            struct mrf_error *err)
{
    struct pouch p, out;
    struct ingest_result *results = NULL;
    struct hq_device d;
    int64_t cursors[2] = {0, 0};
    int answered = 0, taken = 0;
    enum mrf_status rc;
    char *hx;

    memset(res, 0, sizeof *res);
    res->refused = "";
    str_copy(res->device, "-", sizeof res->device);
    rc = pouch_read(data, n, POUCH_REQUEST, id->cfg.hq.box_pk, id->keys->box_sk, &p, err);
    if (rc != MRF_OK)
        return rc;
    hx = hex_encode(p.device, 8);
    str_copy(res->device, hx, sizeof res->device);
    x_free(hx);
    str_copy(res->post, p.post, sizeof res->post);
    res->envelopes = p.n;
    rc = check_sender(s, &p, res, err);
    if (rc == MRF_OK)
        rc = check_all(s, id, &p, res, err);
    if (rc != MRF_OK)
        goto out;

    pouch_init(&out, POUCH_REPLY);
    memcpy(out.reply_to, p.id, MRF_ID);
    memcpy(out.device, p.device, MRF_ID);
    str_copy(out.post, p.post, sizeof out.post);
    results = xcalloc((size_t)p.n, sizeof *results);
    for (int i = 0; i < p.n; i++)
        ingest_result_init(&results[i]);
    for (taken = 0; rc == MRF_OK && taken < p.n; taken++)
        rc = take_one(s, id, &p, taken, &results[taken], &out, cursors, &answered, res, err);
    if (rc != MRF_OK)
        goto out;
    res->more = res->more || res->left_out > 0;
    rc = hqstore_device_get(s, p.device, &d);
    if (rc != MRF_OK) {
        rc = mrf_error_set(err, rc, "pouch: the device is not in the store: %s", hqstore_errmsg(s));
        goto out;
    }
    rc = pouch_write(&out, id->keys->sign_sk, d.keys.box_pk, reply, err);
out:
    for (int i = 0; results != NULL && i < p.n; i++)
        ingest_result_release(&results[i]);
    x_free(results);
    pouch_release(&p);
    return rc;
}

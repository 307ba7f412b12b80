/* HQ's side of a post's key ring: HQ relays, never reads. From a device's change set it keeps
 * the post key announcements and grants that device signed, after checking what HQ can check
 * without any secret: the signature is the sender's own, an epoch's first announcement stays
 * (a second "first" device loses the race and adopts the kept one once approved), a rotation
 * (epoch n + 1) comes from a holder of epoch n, a grant wraps the epoch's announced key, comes
 * from a holder and goes to an active device of the same post under that device's own box
 * key. An item that fails is ignored, never a reason to refuse the change set: its device
 * learns from the answer what HQ kept. Each version-2 answer carries the post's announcements,
 * the grants for the device asking (a grant is relayed to its target only), and the list of
 * the post's devices with their keys and whether they hold the current post key, signed with
 * HQ's key (sync/keyring.c writes both). */
#include <string.h>

#include <sodium.h>

#include "hq.h"
#include "mrfsync.h"

/* 1 if device dev may announce a: its own statement, epoch 1 or a rotation by a holder of the
 * post's latest epoch. */
static enum mrf_status ann_ok(struct hqstore *s, const struct hq_device *dev,
                              const struct postkey_ann *a, int *ok)
{
    uint32_t latest;
    enum mrf_status rc;

    *ok = 0;
    if (memcmp(a->creator, dev->id, MRF_ID) != 0 ||
        postkey_ann_verify(a, dev->keys.sign_pk) != MRF_OK)
        return MRF_OK;
    if (a->epoch == 1) {
        *ok = 1;
        return MRF_OK;
    }
    rc = hqstore_postkey_latest(s, dev->post, &latest);
    if (rc == MRF_OK && latest + 1 == a->epoch)
        rc = hqstore_postgrant_holds(s, dev->post, latest, dev->id, ok);
    return rc;
}

/* 1 if device dev may hand on g: its own signature, from a holder of g's epoch, of the key HQ
 * kept for that epoch, to an active device of the post under that device's box key. */
static enum mrf_status grant_ok(struct hqstore *s, const struct hq_device *dev,
                                const struct postkey_grant *g, int *ok)
{
    struct postkey_ann a;
    struct hq_device t;
    enum mrf_status rc;

    *ok = 0;
    if (memcmp(g->approver, dev->id, MRF_ID) != 0 ||
        postkey_grant_verify(g, dev->keys.sign_pk) != MRF_OK)
        return MRF_OK;
    rc = hqstore_postkey_get(s, dev->post, g->epoch, &a);
    if (rc == MRF_E_NOTFOUND || (rc == MRF_OK && sodium_memcmp(a.pk, g->pk, MRF_BOX_PK) != 0))
        return MRF_OK;
    if (rc == MRF_OK)
        rc = hqstore_device_get(s, g->target, &t);
    if (rc == MRF_E_NOTFOUND)
        return MRF_OK;
    if (rc != MRF_OK)
        return rc;
    if (t.revoked || strcmp(t.post, dev->post) != 0 ||
        memcmp(t.keys.box_pk, g->target_box_pk, MRF_BOX_PK) != 0)
        return MRF_OK;
    return hqstore_postgrant_holds(s, dev->post, g->epoch, dev->id, ok);
}

enum mrf_status hq_keyring_take(struct hqstore *s, const struct hq_device *dev, const cJSON *doc,
                                int64_t now)
{
    const cJSON *item;
    struct postkey_ann a;
    struct postkey_grant g;
    enum mrf_status rc = MRF_OK;
    int ok, stored;

    /* announcements first: a rotation sends its new key and its grants together */
    cJSON_ArrayForEach(item, keyring_member(doc, "keys")) {
        if (keyring_ann_from_json(item, dev->post, &a) != MRF_OK)
            continue;
        rc = ann_ok(s, dev, &a, &ok);
        if (rc == MRF_OK && ok)
            rc = hqstore_postkey_put(s, &a, now, &stored);
        if (rc != MRF_OK)
            return rc;
    }
    cJSON_ArrayForEach(item, keyring_member(doc, "grants")) {
        if (keyring_grant_from_json(item, dev->post, &g) != MRF_OK)
            continue;
        rc = grant_ok(s, dev, &g, &ok);
        if (rc == MRF_OK && ok)
            rc = hqstore_postgrant_put(s, &g, now, &stored);
        sodium_memzero(&g, sizeof g);
        if (rc != MRF_OK)
            return rc;
    }
    return MRF_OK;
}

/* ---- the answer ---------------------------------------------------------------------------- */

/* Items written into an answer, the latest KEYRING_MAX_ITEMS of each list. */
struct items {
    struct buf *json;
    struct buf tmp[KEYRING_MAX_ITEMS]; /* a ring of the latest items' JSON */
    int n;
};

static enum mrf_status keep_ann(void *arg, const struct postkey_ann *a)
{
    struct items *it = arg;
    struct buf *b = &it->tmp[it->n++ % KEYRING_MAX_ITEMS];

    buf_reset(b);
    return keyring_ann_to_json(a, b);
}

static enum mrf_status keep_grant(void *arg, const struct postkey_grant *g)
{
    struct items *it = arg;
    struct buf *b = &it->tmp[it->n++ % KEYRING_MAX_ITEMS];

    buf_reset(b);
    return keyring_grant_to_json(g, b);
}

/* Writes "name":[...] from the ring of kept items, oldest first. */
static enum mrf_status put_items(struct items *it, const char *name)
{
    int first = it->n > KEYRING_MAX_ITEMS ? it->n - KEYRING_MAX_ITEMS : 0;
    enum mrf_status rc = buf_printf(it->json, "\"%s\":[", name);

    for (int i = first; rc == MRF_OK && i < it->n; i++) {
        const struct buf *b = &it->tmp[i % KEYRING_MAX_ITEMS];
        if (i > first)
            rc = buf_puts(it->json, ",");
        if (rc == MRF_OK)
            rc = buf_append(it->json, b->data, b->len);
    }
    return rc == MRF_OK ? buf_puts(it->json, "]") : rc;
}

/* The post's devices for the signed list. */
struct devlist {
    struct hqstore *s;
    struct keyring_devices *l;
};

static enum mrf_status add_device(void *arg, const struct hq_device *d)
{
    struct devlist *dl = arg;
    struct keyring_device *e;
    enum mrf_status rc = MRF_OK;

    if (strcmp(d->post, dl->l->post) != 0 || dl->l->n >= KEYRING_MAX_DEVICES)
        return MRF_OK;
    e = &dl->l->d[dl->l->n++];
    memcpy(e->id, d->id, MRF_ID);
    e->keys = d->keys;
    e->revoked = d->revoked;
    e->holds = 0;
    return rc;
}

enum mrf_status hq_keyring_devices(struct hqstore *s, const char *post, struct keyring_devices *l)
{
    struct devlist dl = {s, l};
    enum mrf_status rc;

    memset(l, 0, sizeof *l);
    str_copy(l->post, post, sizeof l->post);
    rc = hqstore_postkey_latest(s, post, &l->epoch);
    if (rc == MRF_OK)
        rc = hqstore_device_list(s, add_device, &dl);
    for (int i = 0; rc == MRF_OK && l->epoch > 0 && i < l->n; i++)
        rc = hqstore_postgrant_holds(s, post, l->epoch, l->d[i].id, &l->d[i].holds);
    return rc;
}

enum mrf_status hq_keyring_answer(struct hqstore *s, const struct mrf_secrets *keys,
                                  const struct hq_device *dev, struct buf *json)
{
    struct items *it = xcalloc(1, sizeof *it);
    struct keyring_devices *l = xcalloc(1, sizeof *l);
    struct buf payload;
    uint8_t sig[MRF_SIG];
    char *b64 = NULL;
    enum mrf_status rc;

    it->json = json;
    for (int i = 0; i < KEYRING_MAX_ITEMS; i++)
        buf_init(&it->tmp[i], 4096);
    buf_init(&payload, 64 + (size_t)KEYRING_MAX_DEVICES * 96);
    rc = buf_puts(json, ",\"keyring\":{");
    if (rc == MRF_OK)
        rc = hqstore_postkey_scan(s, dev->post, keep_ann, it);
    if (rc == MRF_OK)
        rc = put_items(it, "keys");
    it->n = 0;
    if (rc == MRF_OK)
        rc = buf_puts(json, ",");
    if (rc == MRF_OK)
        rc = hqstore_postgrant_scan(s, dev->post, dev->id, keep_grant, it);
    if (rc == MRF_OK)
        rc = put_items(it, "grants");
    if (rc == MRF_OK)
        rc = hq_keyring_devices(s, dev->post, l);
    if (rc == MRF_OK)
        rc = keyring_devices_encode(l, &payload);
    if (rc == MRF_OK) {
        mrf_sign(sig, (const uint8_t *)payload.data, payload.len, keys->sign_sk);
        b64 = b64url_encode((const uint8_t *)payload.data, payload.len);
        rc = buf_printf(json, ",\"devices\":\"%s\"", b64);
        x_free(b64);
        b64 = b64url_encode(sig, sizeof sig);
        if (rc == MRF_OK)
            rc = buf_printf(json, ",\"dsig\":\"%s\"}", b64);
        x_free(b64);
    }
    for (int i = 0; i < KEYRING_MAX_ITEMS; i++)
        buf_release(&it->tmp[i]);
    buf_release(&payload);
    x_free(it);
    x_free(l);
    return rc;
}

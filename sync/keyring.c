/* keyring — a post's key ring as it travels: the JSON of post key announcements and grants
 * (crypto/postkey.c signs and verifies them) inside a change set's "keyring" member, and HQ's
 * signed list of a post's devices. Both sides write and read them here and nowhere else.
 *
 *   ANN   {"epoch":N,"pk":"<b64url>","creator":"<hex>","sig":"<b64url>"}
 *   GRANT {"epoch":N,"pk":"<b64url>","target":"<hex>","tbox":"<b64url>","approver":"<hex>",
 *          "wrapped":"<b64url>","proof":"<b64url>","sig":"<b64url>"}
 * The post of both is the envelope's (it is part of what is signed, not of the JSON).
 *
 * The device list is a fixed binary layout, so what HQ signs is exactly what a device keeps
 * and verifies again whenever it shows it (integers big-endian):
 *   "mrf-devices-v1" | post[16] | u32 epoch | u32 n | n * (id[16] | sign_pk[32] | box_pk[32]
 *   | u8 flags)   flags: 1 revoked, 2 holds the post key of the epoch
 * In an answer it travels base64url in "devices" with HQ's Ed25519 signature in "dsig". */
#include <string.h>

#include "mrfsync.h"

#define DEV_DOMAIN "mrf-devices-v1"
#define DEV_HEAD (sizeof DEV_DOMAIN - 1 + 16 + 4 + 4)
#define DEV_ENTRY (MRF_ID + MRF_SIGN_PK + MRF_BOX_PK + 1)

static enum mrf_status put_b64(struct buf *b, const char *key, const uint8_t *p, size_t n,
                               int comma)
{
    char *s = b64url_encode(p, n);
    enum mrf_status st = buf_printf(b, "%s\"%s\":\"%s\"", comma ? "," : "", key, s);

    x_free(s);
    return st;
}

static enum mrf_status put_hex(struct buf *b, const char *key, const uint8_t *p, size_t n)
{
    char *s = hex_encode(p, n);
    enum mrf_status st = buf_printf(b, ",\"%s\":\"%s\"", key, s);

    x_free(s);
    return st;
}

enum mrf_status keyring_ann_to_json(const struct postkey_ann *a, struct buf *b)
{
    enum mrf_status st = buf_printf(b, "{\"epoch\":%lu", (unsigned long)a->epoch);

    if (st == MRF_OK)
        st = put_b64(b, "pk", a->pk, MRF_BOX_PK, 1);
    if (st == MRF_OK)
        st = put_hex(b, "creator", a->creator, MRF_ID);
    if (st == MRF_OK)
        st = put_b64(b, "sig", a->sig, MRF_SIG, 1);
    return st == MRF_OK ? buf_puts(b, "}") : st;
}

enum mrf_status keyring_grant_to_json(const struct postkey_grant *g, struct buf *b)
{
    enum mrf_status st = buf_printf(b, "{\"epoch\":%lu", (unsigned long)g->epoch);

    if (st == MRF_OK)
        st = put_b64(b, "pk", g->pk, MRF_BOX_PK, 1);
    if (st == MRF_OK)
        st = put_hex(b, "target", g->target, MRF_ID);
    if (st == MRF_OK)
        st = put_b64(b, "tbox", g->target_box_pk, MRF_BOX_PK, 1);
    if (st == MRF_OK)
        st = put_hex(b, "approver", g->approver, MRF_ID);
    if (st == MRF_OK)
        st = put_b64(b, "wrapped", g->wrapped, MRF_WRAP, 1);
    if (st == MRF_OK)
        st = put_b64(b, "proof", g->proof, MRF_PROOF, 1);
    if (st == MRF_OK)
        st = put_b64(b, "sig", g->sig, MRF_SIG, 1);
    return st == MRF_OK ? buf_puts(b, "}") : st;
}

/* Member key of o as exactly n bytes of base64url: 1 if it is. */
static int get_b64(const cJSON *o, const char *key, uint8_t *out, size_t n)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    uint8_t *raw = NULL;
    size_t len = 0;
    int ok;

    if (!cJSON_IsString(j) || strlen(j->valuestring) > 2 * n + 4 ||
        b64url_decode(j->valuestring, strlen(j->valuestring), &raw, &len) != MRF_OK)
        return 0;
    ok = len == n;
    if (ok)
        memcpy(out, raw, n);
    x_free(raw);
    return ok;
}

static int get_hex(const cJSON *o, const char *key, uint8_t *out, size_t n)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(j) && strlen(j->valuestring) == 2 * n &&
           hex_decode(j->valuestring, out, n) == MRF_OK;
}

static int get_epoch(const cJSON *o, uint32_t *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, "epoch");

    if (!cJSON_IsNumber(j) || j->valuedouble < 1 || j->valuedouble > KEYRING_EPOCH_MAX ||
        j->valuedouble != (double)(uint32_t)j->valuedouble)
        return 0;
    *out = (uint32_t)j->valuedouble;
    return 1;
}

enum mrf_status keyring_ann_from_json(const cJSON *j, const char *post, struct postkey_ann *a)
{
    memset(a, 0, sizeof *a);
    str_copy(a->post, post, sizeof a->post);
    if (!cJSON_IsObject(j) || !get_epoch(j, &a->epoch) || !get_b64(j, "pk", a->pk, MRF_BOX_PK) ||
        !get_hex(j, "creator", a->creator, MRF_ID) || !get_b64(j, "sig", a->sig, MRF_SIG)) {
        memset(a, 0, sizeof *a);
        return MRF_E_INVALID;
    }
    return MRF_OK;
}

enum mrf_status keyring_grant_from_json(const cJSON *j, const char *post, struct postkey_grant *g)
{
    memset(g, 0, sizeof *g);
    str_copy(g->post, post, sizeof g->post);
    if (!cJSON_IsObject(j) || !get_epoch(j, &g->epoch) || !get_b64(j, "pk", g->pk, MRF_BOX_PK) ||
        !get_hex(j, "target", g->target, MRF_ID) ||
        !get_b64(j, "tbox", g->target_box_pk, MRF_BOX_PK) ||
        !get_hex(j, "approver", g->approver, MRF_ID) ||
        !get_b64(j, "wrapped", g->wrapped, MRF_WRAP) || !get_b64(j, "proof", g->proof, MRF_PROOF) ||
        !get_b64(j, "sig", g->sig, MRF_SIG)) {
        memset(g, 0, sizeof *g);
        return MRF_E_INVALID;
    }
    return MRF_OK;
}

const cJSON *keyring_member(const cJSON *doc, const char *list)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(doc, "keyring");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(k, list);

    if (!cJSON_IsArray(l) || cJSON_GetArraySize(l) > KEYRING_MAX_ITEMS)
        return NULL;
    return l;
}

/* ---- HQ's device list ---------------------------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

enum mrf_status keyring_devices_encode(const struct keyring_devices *l, struct buf *out)
{
    uint8_t head[DEV_HEAD], e[DEV_ENTRY];
    char post[16] = {0};
    enum mrf_status st;

    if (l->n < 0 || l->n > KEYRING_MAX_DEVICES)
        return MRF_E_TOOBIG;
    buf_reset(out);
    memcpy(head, DEV_DOMAIN, sizeof DEV_DOMAIN - 1);
    memcpy(post, l->post, strnlen(l->post, sizeof post));
    memcpy(head + sizeof DEV_DOMAIN - 1, post, sizeof post);
    put_u32(head + sizeof DEV_DOMAIN - 1 + 16, l->epoch);
    put_u32(head + sizeof DEV_DOMAIN - 1 + 20, (uint32_t)l->n);
    st = buf_append(out, head, sizeof head);
    for (int i = 0; st == MRF_OK && i < l->n; i++) {
        memcpy(e, l->d[i].id, MRF_ID);
        memcpy(e + MRF_ID, l->d[i].keys.sign_pk, MRF_SIGN_PK);
        memcpy(e + MRF_ID + MRF_SIGN_PK, l->d[i].keys.box_pk, MRF_BOX_PK);
        e[DEV_ENTRY - 1] = (uint8_t)((l->d[i].revoked ? 1 : 0) | (l->d[i].holds ? 2 : 0));
        st = buf_append(out, e, sizeof e);
    }
    return st;
}

enum mrf_status keyring_devices_decode(const uint8_t *p, size_t n, struct keyring_devices *l)
{
    uint32_t count;

    memset(l, 0, sizeof *l);
    if (n < DEV_HEAD || memcmp(p, DEV_DOMAIN, sizeof DEV_DOMAIN - 1) != 0)
        return MRF_E_INVALID;
    count = get_u32(p + sizeof DEV_DOMAIN - 1 + 20);
    if (count > KEYRING_MAX_DEVICES || n != DEV_HEAD + (size_t)count * DEV_ENTRY ||
        p[sizeof DEV_DOMAIN - 1 + 15] != '\0')
        return MRF_E_INVALID;
    memcpy(l->post, p + sizeof DEV_DOMAIN - 1, 16);
    l->epoch = get_u32(p + sizeof DEV_DOMAIN - 1 + 16);
    l->n = (int)count;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = p + DEV_HEAD + (size_t)i * DEV_ENTRY;
        memcpy(l->d[i].id, e, MRF_ID);
        memcpy(l->d[i].keys.sign_pk, e + MRF_ID, MRF_SIGN_PK);
        memcpy(l->d[i].keys.box_pk, e + MRF_ID + MRF_SIGN_PK, MRF_BOX_PK);
        if (e[DEV_ENTRY - 1] & ~3u) {
            memset(l, 0, sizeof *l);
            return MRF_E_INVALID;
        }
        l->d[i].revoked = (e[DEV_ENTRY - 1] & 1) != 0;
        l->d[i].holds = (e[DEV_ENTRY - 1] & 2) != 0;
    }
    return MRF_OK;
}

const struct keyring_device *keyring_devices_find(const struct keyring_devices *l,
                                                  const uint8_t id[MRF_ID])
{
    for (int i = 0; i < l->n; i++)
        if (memcmp(l->d[i].id, id, MRF_ID) == 0)
            return &l->d[i];
    return NULL;
}

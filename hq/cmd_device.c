/* `mrf-hq device list` and `mrf-hq device revoke DEVICE [--wipe --officer-key FILE]`. Devices
 * enrol themselves with their first change set; HQ lists them by post with a short id (the
 * first 8 bytes in hex, which is also what the server's log shows) and revokes one by enough
 * of its id to be unique. A revoked device's next sync is refused (exit 5 on the device); what
 * it sent before stays. With --wipe the officer key (brought to this machine, its passphrase
 * typed here) signs a wipe order for the device (sync/order.c), stored with the revocation in
 * one transaction; the server relays it and the device obeys it on its next sync. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "hq.h"
#include "hqstore.h"

struct list_state {
    int json;
    int count;
    cJSON *arr;
};

/* "2026-11-28 17:03" UTC, or "-" for 0. */
static void when(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0 || gmtime_r(&tt, &tm) == NULL)
        str_copy(out, "-", 32);
    else
        strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
}

cJSON *hq_device_json(const struct hq_device *d)
{
    cJSON *o = cJSON_CreateObject();
    char *id = hex_encode(d->id, MRF_ID);
    char fp[48];

    mrf_fingerprint(d->keys.sign_pk, sizeof d->keys.sign_pk, fp);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "post", d->post);
    cJSON_AddStringToObject(o, "status", d->revoked ? "revoked" : "active");
    cJSON_AddStringToObject(o, "key", fp);
    cJSON_AddNumberToObject(o, "enrolled_at", (double)d->enrolled_at);
    cJSON_AddNumberToObject(o, "last_seen", (double)d->last_seen);
    x_free(id);
    return o;
}

static enum mrf_status list_row(void *arg, const struct hq_device *d)
{
    struct list_state *ls = arg;
    char *id = hex_encode(d->id, MRF_ID);
    char enrolled[32], seen[32];
    char fp[48];

    mrf_fingerprint(d->keys.sign_pk, sizeof d->keys.sign_pk, fp);
    when(d->enrolled_at, enrolled);
    when(d->last_seen, seen);
    if (ls->json) {
        cJSON_AddItemToArray(ls->arr, hq_device_json(d));
    } else {
        if (ls->count == 0)
            printf("%-16s  %-12s  %-7s  %-16s  %-16s  %s\n", "DEVICE", "POST", "STATUS", "ENROLLED",
                   "LAST SYNC", "KEY");
        printf("%.16s  %-12s  %-7s  %-16s  %-16s  %s\n", id, d->post,
               d->revoked ? "revoked" : "active", enrolled, seen, fp);
    }
    ls->count++;
    x_free(id);
    return MRF_OK;
}

static int device_list_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct list_state ls = {a->json, 0, NULL};
    struct hqstore *st = NULL;
    enum mrf_status rc = hq_store_open(ctx, &st);

    if (rc != MRF_OK)
        goto out;
    if (ls.json)
        ls.arr = cJSON_CreateArray();
    rc = hqstore_device_list(st, list_row, &ls);
    if (rc != MRF_OK) {
        rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    if (ls.json)
        rc = hq_print_json(ctx, ls.arr);
    else if (ls.count == 0)
        fprintf(stderr, "no devices yet; a device appears after its first mrf sync with a token "
                        "from mrf-hq enroll\n");
out:
    cJSON_Delete(ls.arr);
    hqstore_close(st);
    return hq_finish(ctx, rc);
}

/* With --wipe: signs the wipe order for d with the officer's secret key and stores it, in the
 * caller's transaction. OUT: *checkable, whether d's token
 * carried the officer key (else the device cannot check the order and will not obey it). */
static enum mrf_status store_wipe_order(struct cli_ctx *ctx, struct hqstore *st,
                                        const struct hq_device *d, const uint8_t *officer_sk,
                                        int *checkable)
{
    uint8_t order[WIPE_ORDER_LEN], nonce[16], pk[MRF_SIGN_PK];
    struct wipe_order back;
    int64_t now = (int64_t)time(NULL);
    int has = 0;
    enum mrf_status rc;

    mrf_random(nonce, sizeof nonce);
    wipe_order_make(order, d->id, d->post, now, nonce, officer_sk);
    rc = hqstore_officer_get(st, pk, &has);
    /* What devices will check, checked here first. */
    if (rc == MRF_OK &&
        wipe_order_check(order, sizeof order, pk, d->id, d->post, &back, &ctx->err) != MRF_OK)
        rc = mrf_error_set(&ctx->err, MRF_E_INTERNAL, "the order just signed does not verify");
    if (rc == MRF_OK)
        rc = hqstore_device_has_officer(st, d->id, checkable);
    if (rc == MRF_OK)
        rc = hqstore_wipe_order_put(st, d->id, d->post, order, now, now);
    return rc;
}

/* Revoke without --wipe, as the dashboard does it (hq/ui_posts.c). The command's own path
 * below does the same inside its transaction, with the wipe order when asked. */
enum mrf_status hq_device_revoke(struct hqstore *st, const char *prefix, struct hq_device *d,
                                 struct mrf_error *err)
{
    enum mrf_status rc = hqstore_device_find(st, prefix, d);

    if (rc == MRF_E_NOTFOUND)
        return mrf_error_set(err, rc, "no device %s; see mrf-hq device list", prefix);
    if (rc == MRF_OK)
        rc = hqstore_device_revoke(st, d->id, (int64_t)time(NULL));
    if (rc != MRF_OK)
        return mrf_error_set(err, rc, "%s", hqstore_errmsg(st));
    return MRF_OK;
}

static int device_revoke_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct hqstore *st = NULL;
    struct hq_device d;
    const char *key_path = cli_get(a, "officer-key");
    int wipe = cli_has(a, "wipe"), checkable = 0, was_revoked = 0;
    uint8_t *officer_sk = NULL;
    char *id = NULL;
    enum mrf_status rc = MRF_OK;

    if (wipe != (key_path != NULL)) {
        rc = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           wipe ? "--wipe needs --officer-key FILE: the order is signed with "
                                  "HQ's offline officer key (officer-OFFLINE.key)"
                                : "--officer-key goes with --wipe");
        goto out;
    }
    rc = hq_store_open(ctx, &st);
    if (rc != MRF_OK)
        goto out;
    rc = hqstore_device_find(st, a->args[0], &d);
    if (rc == MRF_E_NOTFOUND) {
        rc = mrf_error_set(&ctx->err, rc, "no device %s; see mrf-hq device list", a->args[0]);
        goto out;
    }
    if (rc != MRF_OK) {
        rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    if (wipe) {
        rc = hq_officer_load(st, key_path, &officer_sk, &ctx->err);
        if (rc != MRF_OK)
            goto out;
    }
    was_revoked = d.revoked;
    rc = hqstore_begin(st);
    if (rc == MRF_OK && !(wipe && was_revoked)) /* an order for a revoked device is fine */
        rc = hqstore_device_revoke(st, d.id, (int64_t)time(NULL));
    if (rc == MRF_OK && wipe)
        rc = store_wipe_order(ctx, st, &d, officer_sk, &checkable);
    if (rc == MRF_OK)
        rc = hqstore_commit(st);
    if (rc != MRF_OK) {
        hqstore_rollback(st);
        if (ctx->err.msg[0] == '\0' || rc != MRF_E_INTERNAL)
            rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    id = hex_encode(d.id, MRF_ID);
    if (!wipe)
        printf("revoked device %.16s of post %s; its next sync is refused\n", id, d.post);
    else if (checkable)
        printf("%s device %.16s of post %s and stored a wipe order signed by the officer key: "
               "on its next mrf sync, before it asks for its passphrase, the device destroys "
               "its keys and store. What it synced stays here.\n",
               was_revoked ? "kept revoked" : "revoked", id, d.post);
    else
        printf("%s device %.16s of post %s and stored a wipe order, but this device enrolled "
               "with a token without the officer key: it cannot check the order and will not "
               "obey it, only be refused at its next sync. Have the post run 'mrf wipe --yes' "
               "on it if it is still in reach.\n",
               was_revoked ? "kept revoked" : "revoked", id, d.post);
out:
    if (officer_sk != NULL)
        sodium_free(officer_sk);
    x_free(id);
    hqstore_close(st);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_device_list = {
    "device list",
    "[--json]",
    "list enrolled devices: id, post, status, enrolled, last sync, key fingerprint",
    0,
    0,
    {{"json", 0, "print JSON"}, {NULL, 0, NULL}},
    device_list_exec,
    CMD_READONLY,
};

const struct cmd_entry hq_cmd_device_revoke = {
    "device revoke",
    "DEVICE [--wipe --officer-key FILE]",
    "revoke a device (by at least 8 hex digits of its id); its next sync is refused; with "
    "--wipe, an order signed by the offline officer key makes it destroy its keys and store",
    1,
    1,
    {{"wipe", 0, "also order the device to destroy its keys and store on its next sync"},
     {"officer-key", 1,
      "the officer key file (officer-OFFLINE.key); asks its passphrase (MRF_OFFICER_PASSPHRASE)"},
     {NULL, 0, NULL}},
    device_revoke_exec,
    CMD_WRITES,
};

/* `mrf-hq device list` and `mrf-hq device revoke DEVICE`. Devices enrol themselves with their
 * first change set; HQ lists them by post with a short id (the first 8 bytes in hex, which is
 * also what the server's log shows) and revokes one by enough of its id to be unique. A
 * revoked device's next sync is refused (exit 5 on the device); what it sent before stays. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

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
    char *id = NULL;
    enum mrf_status rc = hq_store_open(ctx, &st);

    if (rc != MRF_OK)
        goto out;
    rc = hq_device_revoke(st, a->args[0], &d, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    id = hex_encode(d.id, MRF_ID);
    printf("revoked device %.16s of post %s; its next sync is refused\n", id, d.post);
out:
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
    "DEVICE",
    "revoke a device (by at least 8 hex digits of its id); its next sync is refused",
    1,
    1,
    {{NULL, 0, NULL}},
    device_revoke_exec,
    CMD_WRITES,
};

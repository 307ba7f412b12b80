/* mrf device list / approve: the post's key ring as people handle it. `device list` shows the
 * post's devices as HQ relays them (HQ's signed list, verified again here) with each one's
 * fingerprint and whether it holds the post key. `device approve FINGERPRINT`, on a laptop
 * that holds the post key, after its operator compared the fingerprint with the other laptop's
 * `mrf status` (in person or by phone), grants the post key to that laptop; it travels with the
 * next sync, sealed to that laptop only (client/keyring.c). */
#include <string.h>

#include "client.h"

static int exec_device_list(struct cli_ctx *ctx, const struct cli_args *a)
{
    static const char *const keys[] = {"device", "fingerprint", "status", "post_key", "this"};
    static const char *const heads[] = {"DEVICE", "FINGERPRINT", "STATUS", "POST KEY", ""};
    cJSON *rows = NULL, *row;
    enum mrf_status st = client_open(ctx);

    if (st == MRF_OK)
        st = client_devices_json(ctx, &rows);
    if (st != MRF_OK)
        return out_fail("device list", ctx, st);
    if (a->json) {
        out_json(rows);
    } else {
        cJSON_ArrayForEach(row, rows) {
            int holds = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "post_key"));
            int me = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "this_device"));
            cJSON_ReplaceItemInObjectCaseSensitive(row, "post_key",
                                                   cJSON_CreateString(holds ? "yes" : "no"));
            cJSON_AddStringToObject(row, "this", me ? "(this laptop)" : "");
        }
        out_table(rows, keys, heads, 5,
                  "no list from HQ yet; run 'mrf sync' (HQ sends it with every answer)");
    }
    cJSON_Delete(rows);
    return 0;
}

static int exec_device_approve(struct cli_ctx *ctx, const struct cli_args *a)
{
    char shown[48];
    enum mrf_status st = client_open(ctx);

    if (st == MRF_OK)
        st = client_ring_approve(ctx, a->args[0], shown);
    if (st != MRF_OK)
        return out_fail("device approve", ctx, st);
    printf("approved %s: the post key goes to that laptop with this laptop's next 'mrf sync', "
           "and it reads the post's partners after its own next 'mrf sync'\n",
           shown);
    return 0;
}

const struct cmd_entry cmd_device_list = {
    "device list",
    "[--json]",
    "the post's devices as HQ relays them: fingerprint, status, whether each holds the post key",
    0,
    0,
    {{"json", 0, "print JSON"}, {NULL, 0, NULL}},
    exec_device_list,
    CMD_READONLY,
};

const struct cmd_entry cmd_device_approve = {
    "device approve",
    "FINGERPRINT",
    "give the post key to another laptop of the post, after comparing its fingerprint with "
    "its operator (its 'mrf status'); asks for the passphrase",
    1,
    1,
    {{NULL, 0, NULL}},
    exec_device_approve,
    CMD_WRITES,
};

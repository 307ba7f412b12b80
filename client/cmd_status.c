/* mrf status: where this device stands: post, enrollment, pending changes, last sync, open
 * conflicts. */
#include <string.h>

#include "client.h"

static int exec_status(struct cli_ctx *ctx, const struct cli_args *a)
{
    cJSON *o = NULL;
    enum mrf_status st = client_open(ctx);

    if (st == MRF_OK)
        st = client_status_json(ctx, &o);
    if (st != MRF_OK)
        return out_fail("status", ctx, st);
    if (a->json) {
        out_json(o);
    } else {
        const char *keys[] = {"post",           "device",           "hq",
                              "hq_fingerprint", "enrolled",         "token_expires",
                              "pending",        "last_sync",        "open_conflicts",
                              "quarantined",    "quarantine_reason"};
        const char *labels[] = {
            "post",           "device",          "HQ",        "HQ fingerprint", "enrolled",
            "token expires",  "pending changes", "last sync", "open conflicts", "quarantined",
            "HQ refused them"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
            if (v == NULL)
                continue;
            if (cJSON_IsString(v) && strcmp(keys[i], "token_expires") == 0 &&
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "token_expired")))
                printf("%-16s %s (expired: ask HQ for a new token, then 'mrf init --token "
                       "NEW'; nothing recorded here is lost)\n",
                       labels[i], v->valuestring);
            else if (cJSON_IsString(v))
                printf("%-16s %s\n", labels[i], v->valuestring);
            else if (cJSON_IsNumber(v))
                printf("%-16s %.0f\n", labels[i], v->valuedouble);
            else if (cJSON_IsBool(v))
                printf("%-16s %s\n", labels[i],
                       cJSON_IsTrue(v) ? "yes" : "not yet (the first sync introduces this device)");
            else
                printf("%-16s %s\n", labels[i], "never");
        }
    }
    cJSON_Delete(o);
    return 0;
}

const struct cmd_entry cmd_status = {
    "status",
    "[--json]",
    "this device: post, enrollment, pending changes, last sync, open conflicts",
    0,
    0,
    {{"json", 0, "print JSON"}, {NULL, 0, NULL}},
    exec_status,
};

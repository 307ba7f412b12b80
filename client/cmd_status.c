/* mrf status: where this device stands: post, this device's fingerprint (compared before an
 * approval) and its post key, enrollment, pending changes, last sync, open conflicts, and the
 * latest audit head of HQ's chain this device verified. */
#include <string.h>

#include "client.h"

/* How far this laptop's clock was from HQ's at the last sync. More than a day (HLC_AHEAD_MAX_MS)
 * either way is a wrong date: HQ then orders this device's writes by when it received them
 * (ahead), or they lose to what others wrote meanwhile (behind); either way, say how to fix it. */
static void print_clock(const char *label, double ahead_s)
{
    double day = HLC_AHEAD_MAX_MS / 1000.0, off = ahead_s < 0 ? -ahead_s : ahead_s;

    if (off <= day)
        printf("%-16s in step with HQ's at the last sync\n", label);
    else
        printf("%-16s %.0f days %s HQ's at the last sync: set this laptop's date and time, "
               "then sync (nothing recorded is lost)\n",
               label, off / 86400.0, ahead_s > 0 ? "ahead of" : "behind");
}

/* "#SEQ <first 16 hex digits of the chain hash> (received DATE)", or that none came yet. */
static void print_audit_head(const char *label, const cJSON *h)
{
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(h, "seq");
    const char *hash = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "hash"));
    const char *at = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "received"));

    if (!cJSON_IsNumber(seq) || hash == NULL) {
        printf("%-16s none yet (each sync brings HQ's signed one)\n", label);
        return;
    }
    printf("%-16s #%.0f %.16s (received %s)\n", label, seq->valuedouble, hash, at ? at : "-");
}

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
        const char *keys[] = {"post",           "device",      "fingerprint",       "post_key",
                              "post_key_from",  "hq",          "hq_fingerprint",    "enrolled",
                              "token_expires",  "pending",     "last_sync",         "clock_ahead_s",
                              "open_conflicts", "quarantined", "quarantine_reason", "audit_head"};
        const char *labels[] = {
            "post",      "device",         "fingerprint",    "post key",      "key granted by",
            "HQ",        "HQ fingerprint", "enrolled",       "token expires", "pending changes",
            "last sync", "clock",          "open conflicts", "quarantined",   "HQ refused them",
            "audit head"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
            if (v == NULL)
                continue;
            if (strcmp(keys[i], "clock_ahead_s") == 0)
                print_clock(labels[i], v->valuedouble);
            else if (strcmp(keys[i], "audit_head") == 0)
                print_audit_head(labels[i], v);
            else if (cJSON_IsString(v) && strcmp(keys[i], "token_expires") == 0 &&
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
    "this device: post, enrollment, pending changes, last sync, open conflicts, HQ's audit head",
    0,
    0,
    {{"json", 0, "print JSON"}, {NULL, 0, NULL}},
    exec_status,
    CMD_READONLY,
};

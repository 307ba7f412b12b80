/* `mrf-hq limits` and `mrf-hq limits set [--per-changeset N] [--per-hour N]`: the volume
 * bounds per device (docs/DECISIONS.md, "Volume bounds per device"): how many ops one change
 * set may carry and how many one device may send in an hour. HQ keeps them in its store, so a
 * running `mrf-hq serve` applies a change with the next change set, no restart needed;
 * "default" puts this build's default back. The per-change-set bound is never set below
 * CHANGESET_OPS_MAX, the most a device's own client cuts: a change set it froze above the
 * bound could never be sent. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hq.h"
#include "hqstore.h"

/* One bound as the operator types it: a count in [min, HQ_OPS_BOUND_MAX], or "default" (0).
 * MRF_E_INVALID naming the option otherwise. */
static enum mrf_status parse_bound(struct cli_ctx *ctx, const char *opt, const char *s, int64_t min,
                                   int64_t *out)
{
    if (strcmp(s, "default") == 0) {
        *out = 0;
        return MRF_OK;
    }
    if (parse_int64(s, min, HQ_OPS_BOUND_MAX, out) == MRF_OK)
        return MRF_OK;
    return mrf_error_set(&ctx->err, MRF_E_INVALID,
                         "--%s must be a whole number of ops from %lld to %lld, or 'default'%s",
                         opt, (long long)min, (long long)HQ_OPS_BOUND_MAX,
                         min == CHANGESET_OPS_MAX
                             ? " (a device's own client cuts change sets of up to that many)"
                             : "");
}

static void print_bounds(const struct hq_limits *set, const struct hq_limits *in_force)
{
    printf("ops per change set  %lld%s\n", (long long)in_force->per_changeset,
           set->per_changeset ? "" : " (default)");
    printf("ops per device-hour %lld%s\n", (long long)in_force->per_hour,
           set->per_hour ? "" : " (default)");
}

static enum mrf_status show(struct cli_ctx *ctx, const struct cli_args *a, struct hqstore *st)
{
    struct hq_limits set, in_force;
    enum mrf_status rc = hqstore_limits_get(st, &set);
    cJSON *o;

    if (rc == MRF_OK)
        rc = hq_limits_effective(st, &in_force);
    if (rc != MRF_OK)
        return hq_store_fail(ctx, st, rc);
    if (!a->json) {
        print_bounds(&set, &in_force);
        return MRF_OK;
    }
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "per_changeset", (double)in_force.per_changeset);
    cJSON_AddBoolToObject(o, "per_changeset_default", set.per_changeset == 0);
    cJSON_AddNumberToObject(o, "per_hour", (double)in_force.per_hour);
    cJSON_AddBoolToObject(o, "per_hour_default", set.per_hour == 0);
    rc = hq_print_json(ctx, o);
    cJSON_Delete(o);
    return rc;
}

static int limits_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    struct hqstore *st = NULL;
    enum mrf_status rc = hq_store_open(ctx, &st);

    if (rc == MRF_OK)
        rc = show(ctx, a, st);
    hqstore_close(st);
    return hq_finish(ctx, rc);
}

static int limits_set_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *per_cs = cli_get(a, "per-changeset"), *per_hour = cli_get(a, "per-hour");
    struct hqstore *st = NULL;
    struct hq_limits l, in_force;
    int64_t cs = 0, hour = 0;
    enum mrf_status rc = MRF_OK;

    if (per_cs == NULL && per_hour == NULL) {
        rc = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           "say which bound: --per-changeset N, --per-hour N (or 'default')");
        goto out;
    }
    if (per_cs != NULL)
        rc = parse_bound(ctx, "per-changeset", per_cs, CHANGESET_OPS_MAX, &cs);
    if (rc == MRF_OK && per_hour != NULL)
        rc = parse_bound(ctx, "per-hour", per_hour, 1, &hour);
    if (rc == MRF_OK)
        rc = hq_store_open(ctx, &st);
    if (rc != MRF_OK)
        goto out;
    rc = hqstore_begin(st);
    if (rc == MRF_OK)
        rc = hqstore_limits_get(st, &l);
    if (rc == MRF_OK) {
        if (per_cs != NULL)
            l.per_changeset = cs;
        if (per_hour != NULL)
            l.per_hour = hour;
        rc = hqstore_limits_set(st, &l);
    }
    if (rc == MRF_OK)
        rc = hq_limits_effective(st, &in_force);
    if (rc == MRF_OK)
        rc = hqstore_commit(st);
    if (rc != MRF_OK) {
        rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    print_bounds(&l, &in_force);
    printf("in force from each device's next change set (a running mrf-hq serve included)\n");
out:
    if (st != NULL)
        hqstore_rollback(st);
    hqstore_close(st);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_limits = {
    "limits",
    "[--json]",
    "show the volume bounds per device: ops per change set, ops per device-hour",
    0,
    0,
    {{"json", 0, "print JSON"}, {NULL, 0, NULL}},
    limits_exec,
    CMD_READONLY,
};

const struct cmd_entry hq_cmd_limits_set = {
    "limits set",
    "[--per-changeset N] [--per-hour N]",
    "set the volume bounds per device (N ops, or 'default'); serve applies them at once",
    0,
    0,
    {{"per-changeset", 1, "ops one change set may carry (at least 8000, CHANGESET_OPS_MAX)"},
     {"per-hour", 1, "ops one device may send in an hour"},
     {NULL, 0, NULL}},
    limits_set_exec,
    CMD_WRITES,
};

/* `mrf-hq post add CODE --kind bilateral|multilateral [--country NAME]` and `mrf-hq post list`.
 * The list of posts is confidential (which countries get human-rights money puts partners at
 * risk), so a post's country is sealed to the escrow key the moment it is typed, bound to
 * "posts/<CODE>/country", and never printed: listings show "sealed" or "-", and only
 * `mrf-hq reveal` with the offline escrow key opens it. Error messages never echo it. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hq.h"
#include "hqstore.h"
#include "mrfsync.h"

#define COUNTRY_MAX 128 /* bytes of UTF-8; the longest country name has 56 characters */

static int post_add_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    enum mrf_status rc = MRF_OK;
    const char *kind = cli_get(a, "kind");
    const char *country = cli_get(a, "country");
    struct hqstore *st = NULL;
    struct hq_config cfg;
    char code[16];
    char aad[64];
    uint8_t *blob = NULL;
    size_t bloblen = 0, clen;

    rc = post_code_parse(a->args[0], code, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    if (kind == NULL) {
        rc = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           "give the post's kind: --kind bilateral or --kind multilateral");
        goto out;
    }
    if (strcmp(kind, "bilateral") != 0 && strcmp(kind, "multilateral") != 0) {
        rc = mrf_error_set(&ctx->err, MRF_E_INVALID,
                           "the kind of a post is bilateral or multilateral");
        goto out;
    }
    if (country != NULL) {
        clen = strlen(country);
        if (clen == 0 || clen > COUNTRY_MAX || !text_valid(country, clen, 0)) {
            rc = mrf_error_set(&ctx->err, MRF_E_INVALID,
                               "the country must be 1 to %d bytes of text without control "
                               "characters (it was not stored)",
                               COUNTRY_MAX);
            goto out;
        }
    }

    rc = hq_store_open(ctx, &st);
    if (rc != MRF_OK)
        goto out;
    rc = hqstore_config_get(st, &cfg);
    if (rc != MRF_OK) {
        rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    if (country != NULL) {
        snprintf(aad, sizeof aad, "posts/%s/country", code);
        rc = sealed_seal(&blob, &bloblen, country, strlen(country), aad,
                         (const uint8_t(*)[MRF_BOX_PK])cfg.escrow_pk, 1);
        if (rc != MRF_OK) {
            rc = mrf_error_set(&ctx->err, rc, "cannot seal the country (%s)", mrf_status_str(rc));
            goto out;
        }
    }
    rc = hqstore_post_add(st, code, kind, blob, bloblen, (int64_t)(time_now_ms() / 1000));
    if (rc != MRF_OK) {
        rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    printf("post %s added (%s%s)\n", code, kind, country ? ", country sealed" : "");

out:
    hqstore_close(st);
    x_free(blob);
    return hq_finish(ctx, rc);
}

/* ---- list -------------------------------------------------------------------------------- */

struct list_state {
    int json;
    int count;
    cJSON *arr; /* --json: the rows so far */
};

cJSON *hq_post_json(const struct hq_post *p)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "code", p->code);
    cJSON_AddStringToObject(o, "kind", p->kind);
    cJSON_AddNumberToObject(o, "devices", (double)p->devices);
    if (p->country_sealed)
        cJSON_AddStringToObject(o, "country", "sealed");
    else
        cJSON_AddNullToObject(o, "country");
    return o;
}

static enum mrf_status list_row(void *arg, const struct hq_post *p)
{
    struct list_state *ls = arg;

    if (ls->json) {
        cJSON_AddItemToArray(ls->arr, hq_post_json(p));
    } else {
        if (ls->count == 0)
            printf("%-12s  %-12s  %7s  %s\n", "CODE", "KIND", "DEVICES", "COUNTRY");
        printf("%-12s  %-12s  %7lld  %s\n", p->code, p->kind, (long long)p->devices,
               p->country_sealed ? "sealed" : "-");
    }
    ls->count++;
    return MRF_OK;
}

static int post_list_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    enum mrf_status rc = MRF_OK;
    struct hqstore *st = NULL;
    struct list_state ls = {a->json, 0, NULL};

    rc = hq_store_open(ctx, &st);
    if (rc != MRF_OK)
        goto out;
    if (ls.json)
        ls.arr = cJSON_CreateArray();
    rc = hqstore_post_list(st, list_row, &ls);
    if (rc != MRF_OK) {
        rc = hq_store_fail(ctx, st, rc);
        goto out;
    }
    if (ls.json)
        rc = hq_print_json(ctx, ls.arr);
    else if (ls.count == 0) {
        fprintf(stderr, "no posts yet; add one with mrf-hq post add CODE --kind "
                        "bilateral|multilateral\n");
    }

out:
    cJSON_Delete(ls.arr);
    hqstore_close(st);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_post_add = {
    "post add",
    "CODE --kind bilateral|multilateral [--country NAME]",
    "add a post; its country is sealed to the escrow key and never shown",
    1,
    1,
    {{"kind", 1, "bilateral or multilateral"},
     {"country", 1, "the post's country, sealed at once (optional)"},
     {NULL, 0, NULL}},
    post_add_exec,
    CMD_WRITES,
};

const struct cmd_entry hq_cmd_post_list = {
    "post list",
    "[--json]",
    "list posts: code, kind, active devices, whether a country is sealed",
    0,
    0,
    {{"json", 0, "print JSON"}, {NULL, 0, NULL}},
    post_list_exec,
    CMD_READONLY,
};

/* `mrf-hq report [--year Y] [--by post|theme|status] [--post P] [--format table|csv|json]`:
 * the fund as HQ holds it after merging every post's change sets — allocation, committed,
 * disbursed, remaining, grants and partners per post, theme and year; how many posts chose each
 * theme; totals per currency; and the exceptions HQ must act on. One object (hq/report.c)
 * prints as the table, the CSV or the JSON (`--json` is `--format json`). Post codes only:
 * never a country, a partner or a note. */
#include <stdio.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "hq.h"
#include "hqstore.h"
#include "mrfsync.h"

static int report_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *post_in = cli_get(a, "post"), *year_in = cli_get(a, "year");
    const char *by_in = cli_get(a, "by"), *fmt_in = cli_get(a, "format");
    struct hq_report_opts o = {NULL, 0, HQ_REPORT_BY_POST, 0};
    struct hqstore *st = NULL;
    struct hq_post p;
    cJSON *report = NULL;
    char post[16];
    int by = HQ_REPORT_BY_POST, fmt = a->json ? HQ_REPORT_JSON : HQ_REPORT_TABLE;
    enum mrf_status rc = MRF_OK;

    if (a->json && fmt_in != NULL && hq_report_format_parse(fmt_in) != HQ_REPORT_JSON) {
        rc = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           "--json is --format json; give one of them, not --json with "
                           "--format %s",
                           fmt_in);
        goto out;
    }
    if (fmt_in != NULL && (fmt = hq_report_format_parse(fmt_in)) < 0) {
        rc = mrf_error_set(&ctx->err, MRF_E_INVALID, "--format is table, csv or json");
        goto out;
    }
    if (by_in != NULL && (by = hq_report_by_parse(by_in)) < 0) {
        rc = mrf_error_set(&ctx->err, MRF_E_INVALID, "--by is post, theme or status");
        goto out;
    }
    if (year_in != NULL)
        rc = year_parse(year_in, &o.year, &ctx->err);
    if (rc == MRF_OK && post_in != NULL) {
        rc = post_code_parse(post_in, post, &ctx->err);
        o.post = post;
    }
    if (rc == MRF_OK)
        rc = hq_store_open(ctx, &st);
    if (rc != MRF_OK)
        goto out;
    if (o.post != NULL) {
        rc = hqstore_post_get(st, o.post, &p);
        if (rc == MRF_E_NOTFOUND) {
            rc = mrf_error_set(&ctx->err, rc, "no post %s; mrf-hq post list shows the posts",
                               o.post);
            goto out;
        }
        if (rc != MRF_OK) {
            rc = hq_store_fail(ctx, st, rc);
            goto out;
        }
    }
    o.by = (enum hq_report_by)by;
    o.now = (int64_t)time(NULL);
    rc = hq_report_build(st, &o, &report, &ctx->err);
    if (rc == MRF_OK && hq_report_print(report, (enum hq_report_format)fmt, stdout) != MRF_OK)
        rc = mrf_error_set(&ctx->err, MRF_E_IO, "cannot write the report to standard output");
out:
    cJSON_Delete(report);
    hqstore_close(st);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_report = {
    "report",
    "[--year Y] [--by post|theme|status] [--post P] [--format table|csv|json]",
    "the fund per post, theme and year: allocation, committed, disbursed, remaining, "
    "exceptions",
    0,
    0,
    {{"year", 1, "only this year (default: every year with data)"},
     {"by", 1, "post (default), theme or status"},
     {"post", 1, "only this post"},
     {"format", 1, "table (default), csv (RFC 4180) or json"},
     {"json", 0, "the same as --format json"},
     {NULL, 0, NULL}},
    report_exec,
    CMD_READONLY,
};

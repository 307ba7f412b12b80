/* Printing for people and for scripts: aligned tables and formatted JSON from the same cJSON
 * values, and the one place a failed command's message and exit code are reported. */
#include <stdlib.h>
#include <string.h>

#include "client.h"

void out_json(const cJSON *v)
{
    char *s = cJSON_Print(v);
    if (s == NULL) {
        fprintf(stderr, "mrf: out of memory\n");
        abort();
    }
    fputs(s, stdout);
    fputc('\n', stdout);
    cJSON_free(s);
}

/* The text of a cell: strings as they are, numbers as integers, null as "-". */
static void cell(const cJSON *o, const char *key, char *out, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (cJSON_IsString(v))
        str_copy(out, v->valuestring, size);
    else if (cJSON_IsNumber(v))
        snprintf(out, size, "%.0f", v->valuedouble);
    else if (cJSON_IsBool(v))
        str_copy(out, cJSON_IsTrue(v) ? "yes" : "no", size);
    else
        str_copy(out, "-", size);
}

void out_table(const cJSON *rows, const char *const *keys, const char *const *heads, int ncols,
               const char *empty)
{
    int width[16] = {0};
    const cJSON *row;
    char c[256];

    if (cJSON_GetArraySize(rows) == 0) {
        printf("%s\n", empty);
        return;
    }
    for (int k = 0; k < ncols && k < 16; k++)
        width[k] = (int)strlen(heads[k]);
    cJSON_ArrayForEach(row, rows) {
        for (int k = 0; k < ncols && k < 16; k++) {
            cell(row, keys[k], c, sizeof c);
            if ((int)strlen(c) > width[k])
                width[k] = (int)strlen(c);
        }
    }
    for (int k = 0; k < ncols && k < 16; k++)
        printf("%-*s%s", width[k], heads[k], k + 1 < ncols ? "  " : "\n");
    cJSON_ArrayForEach(row, rows) {
        for (int k = 0; k < ncols && k < 16; k++) {
            cell(row, keys[k], c, sizeof c);
            printf("%-*s%s", k + 1 < ncols ? width[k] : 0, c, k + 1 < ncols ? "  " : "\n");
        }
    }
}

int out_fail(const char *cmd, const struct cli_ctx *ctx, enum mrf_status st)
{
    const char *msg = ctx->err.msg[0] ? ctx->err.msg : mrf_status_str(st);
    size_t n = strlen(cmd);

    /* Messages from rules already start with the command's name. */
    if (strncmp(msg, cmd, n) == 0 && msg[n] == ':')
        fprintf(stderr, "mrf %s\n", msg);
    else
        fprintf(stderr, "mrf %s: %s\n", cmd, msg);
    return mrf_status_exit(st);
}

void out_sync_notes(const char *cmd, const struct sync_summary *sum, int json)
{
    if (sum->quarantined > 0)
        fprintf(stderr,
                "mrf: %s: HQ refused %lld change set(s) for their content (%s); they are kept "
                "in quarantine, see mrf status\n",
                cmd, (long long)sum->quarantined, sum->quarantine_reason);
    if (sum->audit_warning[0] != '\0')
        fprintf(stderr, "mrf: %s: warning: %s\n", cmd, sum->audit_warning);
    if (sum->records > sum->decided && !json)
        fprintf(stderr,
                "mrf: %s: HQ sent %lld open conflict record(s); 'mrf conflicts' shows them\n", cmd,
                (long long)(sum->records - sum->decided));
    if (sum->decided > 0 && !json)
        fprintf(stderr,
                "mrf: %s: HQ closed %lld conflict record(s); 'mrf conflicts --all' shows its "
                "decisions\n",
                cmd, (long long)sum->decided);
}

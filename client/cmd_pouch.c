/* `mrf pouch out FILE` and `mrf pouch in REPLY`: a sync carried by hand (USB stick,
 * diplomatic bag) when the post has no usable link (client/pouch.c). `out` writes the pending
 * change sets and pull requests, sealed to HQ and signed by this device, to a new file
 * (temporary file, fsync, rename: never half a pouch, never over another file); they stay in
 * the outbox, frozen, until an acknowledgement comes back by either road. `in` applies HQ's
 * reply pouch for this device. Both need the passphrase (signing, opening). Exit 3 for a file
 * that is not a whole pouch, 5 for one that does not open or verify here. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "client.h"

static int exec_pouch_out(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *file = a->args[0];
    struct pouch_out_summary s;
    struct stat sb;
    struct buf out;
    enum mrf_status st = MRF_OK;

    buf_init(&out, POUCH_MAX);
    if (stat(file, &sb) == 0)
        st = mrf_error_set(&ctx->err, MRF_E_STATE,
                           "%s exists; a pouch is never written over another file: choose "
                           "another name or move that file away",
                           file);
    if (st == MRF_OK)
        st = client_open(ctx);
    if (st == MRF_OK)
        st = client_unlock(ctx);
    if (st == MRF_OK)
        st = client_pouch_out(ctx, &out, &s);
    if (st == MRF_OK)
        st = file_write_atomic(file, out.data, out.len, 0600, &ctx->err);
    buf_release(&out);
    if (st != MRF_OK)
        return out_fail("pouch out", ctx, st);
    if (a->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "changesets", (double)s.changesets);
        cJSON_AddNumberToObject(j, "changes", (double)s.ops);
        cJSON_AddNumberToObject(j, "pulls", (double)s.pulls);
        cJSON_AddNumberToObject(j, "left", (double)s.left);
        cJSON_AddNumberToObject(j, "bytes", (double)s.bytes);
        out_json(j);
        cJSON_Delete(j);
    } else {
        printf("pouch for HQ written to %s (%zu bytes): %lld %s in %lld change %s, and %lld "
               "requests for HQ's changes\n",
               file, s.bytes, (long long)s.ops, s.ops == 1 ? "change" : "changes",
               (long long)s.changesets, s.changesets == 1 ? "set" : "sets", (long long)s.pulls);
        printf("they stay on this laptop until HQ's reply ('mrf pouch in REPLY') or a sync "
               "acknowledges them\n");
    }
    if (s.left > 0)
        fprintf(stderr,
                "mrf: pouch out: %lld more %s did not fit in one pouch; they go with the next "
                "pouch or sync\n",
                (long long)s.left, s.left == 1 ? "change" : "changes");
    return 0;
}

static int exec_pouch_in(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *file = a->args[0];
    struct sync_summary sum;
    uint8_t *data = NULL;
    size_t n = 0;
    int answers = 0;
    enum mrf_status st = file_read_all(file, POUCH_MAX, &data, &n, &ctx->err);

    if (st == MRF_E_TOOBIG)
        st = mrf_error_set(&ctx->err, MRF_E_INVALID,
                           "pouch in: %s is larger than any pouch (%u bytes at most): it is not "
                           "a reply pouch, or it was added to; nothing was applied",
                           file, POUCH_MAX);
    if (st == MRF_OK)
        st = client_open(ctx);
    if (st == MRF_OK)
        st = client_unlock(ctx);
    if (st == MRF_OK)
        st = client_pouch_in(ctx, data, n, &sum, &answers);
    x_free(data);
    if (st != MRF_OK)
        return out_fail("pouch in", ctx, st);
    if (a->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "answers", answers);
        cJSON_AddNumberToObject(j, "acknowledged", (double)sum.p.ops_sent);
        cJSON_AddNumberToObject(j, "changesets", (double)sum.p.changesets);
        cJSON_AddNumberToObject(j, "received", (double)sum.p.ops_pulled);
        cJSON_AddNumberToObject(j, "new", (double)sum.pulled_new);
        cJSON_AddNumberToObject(j, "quarantined", (double)sum.quarantined);
        cJSON_AddNumberToObject(j, "conflict_records", (double)sum.records);
        cJSON_AddBoolToObject(j, "more", sum.more);
        out_json(j);
        cJSON_Delete(j);
    } else {
        printf("HQ's reply applied (%d %s): %lld %s acknowledged in %lld change %s, %lld "
               "received, %lld of them new here\n",
               answers, answers == 1 ? "answer" : "answers", (long long)sum.p.ops_sent,
               sum.p.ops_sent == 1 ? "change" : "changes", (long long)sum.p.changesets,
               sum.p.changesets == 1 ? "set" : "sets", (long long)sum.p.ops_pulled,
               (long long)sum.pulled_new);
        if (answers > 0 && sum.p.changesets == 0 && sum.pulled_new == 0)
            printf("nothing in it was new: it had been applied, or its changes arrived by "
                   "another pouch or a sync\n");
    }
    out_sync_notes("pouch in", &sum, a->json);
    if (sum.more)
        fprintf(stderr, "mrf: pouch in: HQ has more for this laptop than one reply holds; "
                        "send another pouch or sync\n");
    return 0;
}

const struct cmd_entry cmd_pouch_out = {
    "pouch out",
    "FILE [--json]",
    "write the pending changes to a pouch for HQ, to carry by hand (USB stick, bag)",
    1,
    1,
    {{"json", 0, "print the summary as JSON"}, {NULL, 0, NULL}},
    exec_pouch_out,
    CMD_WRITES,
};

const struct cmd_entry cmd_pouch_in = {
    "pouch in",
    "REPLY [--json]",
    "apply HQ's reply pouch: acknowledgements and the changes pulled for this laptop",
    1,
    1,
    {{"json", 0, "print the summary as JSON"}, {NULL, 0, NULL}},
    exec_pouch_in,
    CMD_WRITES,
};

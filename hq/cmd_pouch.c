/* `mrf-hq pouch in FILE --reply REPLY`: takes a device's pouch that came by hand (USB stick,
 * diplomatic bag) — the change sets it would have sent to POST /v1/sync — through the same
 * ingest as the server (hq/pouch.c), and writes the answers as a reply pouch that only that
 * device can open. The reply is written to a temporary file, synced and renamed, and never
 * over an existing file. Needs hq.keys (HQ's online keys), not the escrow key: nothing here
 * opens a partner's identity. Exit codes as a device's sync would get them: 3 for a file that
 * is not a whole pouch, 5 for one not signed by its device or a device HQ refuses, 4 if HQ
 * cannot store now. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "hq.h"

/* Loads HQ's configuration and keys and checks that they belong together. */
static enum mrf_status identity_load(struct cli_ctx *ctx, struct hqstore *st,
                                     struct hq_identity *id)
{
    char *p_keys = NULL;
    enum mrf_status rc = hqstore_config_get(st, &id->cfg);

    if (rc != MRF_OK)
        return hq_store_fail(ctx, st, rc);
    p_keys = hq_path(ctx->home, HQ_KEYS_FILE);
    rc = hqkeys_load(p_keys, &id->keys, &ctx->err);
    x_free(p_keys);
    if (rc == MRF_OK &&
        (sodium_memcmp(id->keys->pub.sign_pk, id->cfg.hq.sign_pk, MRF_SIGN_PK) != 0 ||
         sodium_memcmp(id->keys->pub.box_pk, id->cfg.hq.box_pk, MRF_BOX_PK) != 0))
        rc = mrf_error_set(&ctx->err, MRF_E_STATE,
                           "%s does not hold the keys this HQ store was set up with; restore "
                           "the right %s",
                           HQ_KEYS_FILE, HQ_KEYS_FILE);
    return rc;
}

static void print_result(const struct cli_ctx *ctx, const struct hq_pouch_result *r,
                         const char *reply, size_t size)
{
    if (ctx->json) {
        printf("{\"device\":\"%s\",\"post\":\"%s\",\"envelopes\":%lld,\"accepted\":%lld,"
               "\"replayed\":%lld,\"quarantined\":%lld,\"pulls\":%lld,\"left_out\":%lld,"
               "\"ops_in\":%lld,\"ops_applied\":%lld,\"ops_out\":%lld,\"more\":%s,"
               "\"reply_bytes\":%zu}\n",
               r->device, r->post, (long long)r->envelopes, (long long)r->accepted,
               (long long)r->replayed, (long long)r->quarantined, (long long)r->pulls,
               (long long)r->left_out, (long long)r->ops_in, (long long)r->ops_applied,
               (long long)r->ops_out, r->more ? "true" : "false", size);
        return;
    }
    printf("pouch from device %s (post %s): %lld change %s taken, %lld already taken before "
           "(answered again, nothing applied twice), %lld quarantined; %lld of %lld changes "
           "applied, %lld sent back\n",
           r->device, r->post, (long long)r->accepted, r->accepted == 1 ? "set" : "sets",
           (long long)r->replayed, (long long)r->quarantined, (long long)r->ops_applied,
           (long long)r->ops_in, (long long)r->ops_out);
    printf("reply for that device only: %s (%zu bytes)\n", reply, size);
    if (r->more)
        printf("HQ has more for this device than one reply holds%s: it comes with the device's "
               "next pouch or sync\n",
               r->left_out > 0 ? " (some change sets stay with the device, unanswered)" : "");
}

static int pouch_in_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *file = a->args[0], *reply_path = cli_get(a, "reply");
    struct hqstore *st = NULL;
    struct hq_identity id;
    struct hq_pouch_result res;
    struct stat sb;
    struct buf reply;
    uint8_t *data = NULL;
    size_t n = 0;
    enum mrf_status rc;

    memset(&id, 0, sizeof id);
    buf_init(&reply, POUCH_MAX);
    if (reply_path == NULL || reply_path[0] == '\0') {
        rc = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           "--reply REPLY is required: the file HQ's answers go to");
        goto out;
    }
    if (stat(reply_path, &sb) == 0) {
        rc = mrf_error_set(&ctx->err, MRF_E_STATE,
                           "%s exists; a pouch is never written over another file: choose "
                           "another name or move that file away",
                           reply_path);
        goto out;
    }
    rc = file_read_all(file, POUCH_MAX, &data, &n, &ctx->err);
    if (rc == MRF_E_TOOBIG)
        rc = mrf_error_set(&ctx->err, MRF_E_INVALID,
                           "pouch: %s is larger than any pouch (%u bytes at most): it is not a "
                           "pouch, or it was added to; nothing was ingested",
                           file, POUCH_MAX);
    if (rc == MRF_OK)
        rc = hq_store_open(ctx, &st);
    if (rc == MRF_OK)
        rc = identity_load(ctx, st, &id);
    if (rc == MRF_OK)
        rc = hq_pouch_in(st, &id, data, n, &reply, &res, &ctx->err);
    if (rc == MRF_OK)
        rc = file_write_atomic(reply_path, reply.data, reply.len, 0600, &ctx->err);
    if (rc == MRF_OK) {
        print_result(ctx, &res, reply_path, reply.len);
    }
out:
    mrf_secrets_free(id.keys);
    if (st != NULL)
        hqstore_close(st);
    x_free(data);
    buf_release(&reply);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_pouch_in = {
    "pouch in",
    "FILE --reply REPLY [--json]",
    "take a device's pouch (its change sets, carried by hand) and write its reply pouch",
    1,
    1,
    {{"reply", 1, "where to write the reply pouch for the device (a new file)"},
     {"json", 0, "print the summary as JSON"},
     {NULL, 0, NULL}},
    pouch_in_exec,
    CMD_WRITES,
};

/* Fuzz target: hq_ingest past authentication. An input is a mode byte and a change set's JSON
 * body; the harness seals the body in a valid envelope of one of the fuzzed HQ's devices
 * (fuzzutil.c), so every input reaches the body's parser, op checks, clock bounds, the merge,
 * the conflict checks, the audit chain and the answer, where the real risk is. Mode bits:
 *   0-2  the sender (enum fuzz_dev, modulo FUZZ_NDEV): enrolled devices of NAI and GVA, a
 *        revoked one, one with a token that its first change set enrolls, one never enrolled;
 *   3    the header carries the sender's token id and keys (ENV_F_ENROLL);
 *   4    the change set id of the previous input (a retry) instead of a new one;
 *   5    the envelope claims the other post.
 * The store keeps what the inputs write (other inputs' rows and records are what conflicts
 * are made of) and is reset every FUZZ_HQ_RESET_EVERY inputs.
 * Checks: every body gets an answer (no 500), and every answer a device gets (200 or 422)
 * opens with its keys and reads as an answer, with every op and conflict record in it: an
 * answer a device cannot read would stop its syncs for good. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"

#define M_DEVICE 7u
#define M_ENROLL 8u
#define M_RETRY 16u
#define M_OTHER_POST 32u

static struct fuzz_hq hq;
static int verbose; /* MRF_FUZZ_VERBOSE set: one line per input with HQ's status and reason */
static struct buf env;
static uint8_t last_cs[MRF_ID];

static void release(void)
{
    buf_release(&env);
    fuzz_hq_release(&hq);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_hq_setup(&hq);
    verbose = getenv("MRF_FUZZ_VERBOSE") != NULL;
    buf_init(&env, ENV_MAX);
    atexit(release);
    return 0;
}

/* The answer as device d reads it (client/sync.c's order of checks). */
static void check_answer(const struct fuzz_device *d, const struct ingest_result *r)
{
    struct envelope h;
    struct mrf_error err;
    struct cs_answer a;
    struct sync_op op;
    struct cs_conflict c;
    const cJSON *item, *v;
    char *json = NULL;
    size_t len = 0;
    cJSON *doc;

    if (envelope_parse((const uint8_t *)r->response.data, r->response.len, &h, &err) != MRF_OK ||
        h.kind != ENV_RESPONSE)
        fuzz_die("hq_ingest: a 200/422 without a response envelope");
    if (envelope_open(&h, hq.ident.cfg.hq.sign_pk, hq.ident.cfg.hq.box_pk, d->keys->box_sk, &json,
                      &len, &err) != MRF_OK)
        fuzz_die("hq_ingest: a response its device cannot open");
    doc = wire_json_parse(json, len);
    if (doc == NULL)
        fuzz_die("hq_ingest: a response body that is not JSON");
    v = cJSON_GetObjectItemCaseSensitive(doc, "v");
    if (cJSON_IsNumber(v) && v->valuedouble == WIRE_VERSION) {
        if (changeset_answer_parse(json, len, &a, &err) != MRF_OK) {
            fprintf(stderr, "fuzz: %s\n", err.msg);
            fuzz_die("hq_ingest: an answer its device refuses");
        }
        cJSON_ArrayForEach(item, a.ops) {
            if (op_from_json(item, 1, hq.ident.cfg.device_id, &op, &err) != MRF_OK) {
                fprintf(stderr, "fuzz: %s\n", err.msg);
                fuzz_die("hq_ingest: an answer with an op its device refuses");
            }
            sync_op_release(&op);
        }
        cJSON_ArrayForEach(item, a.conflicts) {
            if (changeset_conflict_parse(item, &c, &err) != MRF_OK) {
                fprintf(stderr, "fuzz: %s\n", err.msg);
                fuzz_die("hq_ingest: an answer with a conflict record its device refuses");
            }
        }
        changeset_answer_release(&a);
    }
    cJSON_Delete(doc);
    x_free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fuzz_device *d;
    struct ingest_result r;
    unsigned mode;
    const char *post;

    if (size < 1 || size - 1 > WIRE_JSON_MAX)
        return 0;
    fuzz_hq_tick(&hq);
    mode = data[0];
    d = &hq.dev[(mode & M_DEVICE) % FUZZ_NDEV];
    post = d->post;
    if (mode & M_OTHER_POST)
        post = strcmp(d->post, "NAI") == 0 ? "GVA" : "NAI";
    if (!(mode & M_RETRY) || hq.serial == 0)
        fuzz_hq_changeset_id(&hq, last_cs);
    fuzz_seal_request(d, post, (mode & M_ENROLL) != 0, last_cs, (const char *)data + 1, size - 1,
                      hq.ident.cfg.hq.box_pk, &env);

    ingest_result_init(&r);
    if (hq_ingest(hq.store, &hq.ident, (const uint8_t *)env.data, env.len, &r) != MRF_OK)
        fuzz_die("hq_ingest: no answer for a body (HTTP 500)");
    if (verbose)
        fprintf(stderr, "fuzz: %u %s (ops in %lld, applied %lld, out %lld)\n", r.http_status,
                r.reason, (long long)r.ops_in, (long long)r.ops_applied, (long long)r.ops_out);
    if (r.http_status == 200 || r.http_status == 422)
        check_answer(d, &r);
    else if (r.http_status < 400 || r.http_status > 499)
        fuzz_die("hq_ingest: a status that is neither 200, 422 nor a refusal");
    ingest_result_release(&r);
    return 0;
}

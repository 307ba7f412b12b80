/* Fuzz target: HQ's handling of a POST /v1/sync body, hq_ingest (hq/ingest.c), on a real HQ
 * store in a temporary home (fuzzutil.c: posts NAI and GVA, enrolled, revoked, new and stray
 * devices, all with fixed keys). An input is the body exactly as a client sends it; the seeds
 * are envelopes the generator sealed with the devices' keys, so their mutations reach
 * authentication, and where the signature still holds, the body and the ops.
 * The store keeps what the inputs write and is reset every FUZZ_HQ_RESET_EVERY inputs.
 * Checks: every body gets an answer (hq_ingest returns MRF_OK: a 500 for bad input is a
 * finding), and a 200 or 422 carries a response envelope. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"

static struct fuzz_hq hq;
static int verbose; /* MRF_FUZZ_VERBOSE set: one line per input with HQ's status and reason */

static void release(void)
{
    fuzz_hq_release(&hq);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_hq_setup(&hq);
    verbose = getenv("MRF_FUZZ_VERBOSE") != NULL;
    atexit(release);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ingest_result r;
    struct envelope h;
    struct mrf_error err;

    fuzz_hq_tick(&hq);
    ingest_result_init(&r);
    if (hq_ingest(hq.store, &hq.ident, data, size, &r) != MRF_OK)
        fuzz_die("hq_ingest: no answer for a body (HTTP 500)");
    if (verbose)
        fprintf(stderr, "fuzz: %u %s (ops in %lld, applied %lld, out %lld)\n", r.http_status,
                r.reason, (long long)r.ops_in, (long long)r.ops_applied, (long long)r.ops_out);
    if (r.http_status == 200 || r.http_status == 422) {
        if (envelope_parse((const uint8_t *)r.response.data, r.response.len, &h, &err) != MRF_OK ||
            h.kind != ENV_RESPONSE)
            fuzz_die("hq_ingest: a 200/422 without a response envelope");
    } else if (r.http_status < 400 || r.http_status > 499) {
        fuzz_die("hq_ingest: a status that is neither 200, 422 nor a refusal");
    }
    ingest_result_release(&r);
    return 0;
}

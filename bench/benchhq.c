/* The HQ benchmarks' shared opening and dying (benchhq.h). */
#define _GNU_SOURCE /* program_invocation_short_name */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "benchhq.h"
#include "mrfcrypto.h"

_Noreturn void bench_die(const char *what, const char *why)
{
    fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, why);
    exit(1);
}

void bench_hq_open(const char *home, struct hqstore **s, struct hq_identity *id)
{
    struct mrf_error err = {0};
    char *keys_path;

    if (mrfcrypto_init() != MRF_OK)
        bench_die("libsodium", "cannot initialise");
    if (hqstore_open(home, HQSTORE_EXISTING, s, &err) != MRF_OK)
        bench_die("HQ store", err.msg);
    if (hqstore_config_get(*s, &id->cfg) != MRF_OK)
        bench_die("HQ config", hqstore_errmsg(*s));
    keys_path = hq_path(home, HQ_KEYS_FILE);
    if (hqkeys_load(keys_path, &id->keys, &err) != MRF_OK)
        bench_die("HQ keys", err.msg);
    x_free(keys_path);
}

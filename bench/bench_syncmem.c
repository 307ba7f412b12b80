/* Peak resident memory of the sync itself: does what `mrf sync` does (open the store, unlock
 * the keys with the passphrase from MRF_PASSPHRASE, sync with HQ), but resets the process's
 * resident-memory high-water mark (/proc/self/clear_refs, "5") between the unlock and the sync.
 * The unlock's Argon2id key derivation takes 64 MiB on purpose and frees it before the first
 * byte goes out; a whole-process figure (bench_rss) shows that, this one the sync's own peak,
 * which must be bounded by the change-set size and not by the outbox.
 *
 * usage: bench_syncmem HOME   (prints key=value lines) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* A "Vm...:  N kB" line of /proc/self/status, in KiB; -1 if missing. */
static long vm_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t n = strlen(key);
    long v = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

static int reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    int ok = f != NULL && fputs("5", f) >= 0;

    if (f != NULL && fclose(f) != 0)
        ok = 0;
    return ok;
}

int main(int argc, char **argv)
{
    struct cli_ctx ctx;
    struct sync_opts o = {0};
    struct sync_summary sum;
    enum mrf_status st;
    long unlock_peak, base;

    if (argc != 2)
        return fprintf(stderr, "usage: bench_syncmem HOME\n"), 2;
    if (mrfcrypto_init() != MRF_OK)
        return fprintf(stderr, "bench_syncmem: cannot initialise libsodium\n"), 1;
    client_init(&ctx, argv[1]);
    st = client_open(&ctx);
    if (st == MRF_OK)
        st = client_unlock(&ctx);
    if (st != MRF_OK) {
        fprintf(stderr, "bench_syncmem: %s\n", ctx.err.msg);
        client_close(&ctx);
        return 1;
    }
    unlock_peak = vm_kib("VmHWM");
    if (!reset_peak()) {
        fprintf(stderr, "bench_syncmem: cannot reset the peak (/proc/self/clear_refs)\n");
        client_close(&ctx);
        return 1;
    }
    base = vm_kib("VmRSS");
    st = client_sync(&ctx, &o, &sum);
    if (st != MRF_OK) {
        fprintf(stderr, "bench_syncmem: sync: %s\n", ctx.err.msg);
        client_close(&ctx);
        return 1;
    }
    printf("unlock_peak_kib=%ld\nbefore_sync_rss_kib=%ld\nsync_peak_kib=%ld\n", unlock_peak, base,
           vm_kib("VmHWM"));
    printf("sent=%lld\nchangesets=%lld\nrequests=%lld\n", (long long)sum.p.ops_sent,
           (long long)sum.p.changesets, (long long)sum.requests);
    client_close(&ctx);
    return 0;
}

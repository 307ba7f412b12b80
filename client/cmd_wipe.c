/* mrf wipe --yes: crypto-shredding. The keystore goes first; without it nothing left on the
 * device opens a sealed field. Then the store and its WAL are zero-filled and removed. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

/* Overwrites a file with zeros, syncs it and unlinks it; a missing file is fine. */
static enum mrf_status shred(struct cli_ctx *ctx, const char *path)
{
    static const char zeros[65536];
    struct stat sb;
    off_t left;
    int fd = open(path, O_WRONLY | O_CLOEXEC);

    if (fd < 0)
        return errno == ENOENT ? MRF_OK
                               : mrf_error_set(&ctx->err, MRF_E_IO, "cannot open %s: %s", path,
                                               strerror(errno));
    if (fstat(fd, &sb) == 0) {
        for (left = sb.st_size; left > 0;) {
            size_t n = left > (off_t)sizeof zeros ? sizeof zeros : (size_t)left;
            ssize_t w = write(fd, zeros, n);
            if (w <= 0)
                break;
            left -= w;
        }
        fsync(fd);
    }
    close(fd);
    if (unlink(path) != 0)
        return mrf_error_set(&ctx->err, MRF_E_IO, "cannot remove %s: %s", path, strerror(errno));
    return MRF_OK;
}

static int exec_wipe(struct cli_ctx *ctx, const struct cli_args *a)
{
    char wal[1200], shm[1200];
    enum mrf_status st;
    struct stat sb;

    if (!cli_has(a, "yes")) {
        mrf_error_set(&ctx->err, MRF_E_USAGE,
                      "wipe destroys this device's keys and store, and every change not yet "
                      "synced; run 'mrf wipe --yes' to do it");
        return out_fail("wipe", ctx, MRF_E_USAGE);
    }
    if (stat(ctx->keystore_path, &sb) != 0 && stat(ctx->store_path, &sb) != 0) {
        mrf_error_set(&ctx->err, MRF_E_STATE, "nothing to wipe in %s", ctx->home);
        return out_fail("wipe", ctx, MRF_E_STATE);
    }
    /* The keystore first: once it is gone nothing left on the device opens a sealed field. */
    st = keystore_destroy(ctx->keystore_path, &ctx->err);
    snprintf(wal, sizeof wal, "%s-wal", ctx->store_path);
    snprintf(shm, sizeof shm, "%s-shm", ctx->store_path);
    if (st == MRF_OK)
        st = shred(ctx, wal);
    if (st == MRF_OK)
        st = shred(ctx, shm);
    if (st == MRF_OK)
        st = shred(ctx, ctx->store_path);
    if (st != MRF_OK)
        return out_fail("wipe", ctx, st);
    rmdir(ctx->home);
    printf("wiped: keys and store destroyed in %s\n", ctx->home);
    return 0;
}

const struct cmd_entry cmd_wipe = {
    "wipe",
    "--yes",
    "destroy this device's keys and store (crypto-shredding); unsynced changes are lost",
    0,
    0,
    {{"yes", 0, "really do it"}, {NULL, 0, NULL}},
    exec_wipe,
    CMD_WRITES,
};

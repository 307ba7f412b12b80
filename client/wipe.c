/* Crypto-shredding of this device (client.h, client_destroy): what `mrf wipe --yes` does and
 * what an officer's wipe order makes `mrf sync` do. The keystore goes first; without it
 * nothing left on the device opens a sealed field. Then the store and its WAL are zero-filled,
 * synced and removed. */
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

enum mrf_status client_destroy(struct cli_ctx *ctx)
{
    char wal[1200], shm[1200];
    enum mrf_status st, st2;

    client_close(ctx);
    /* The keystore first: once it is gone nothing left on the device opens a sealed field. */
    st = keystore_destroy(ctx->keystore_path, &ctx->err);
    snprintf(wal, sizeof wal, "%s-wal", ctx->store_path);
    snprintf(shm, sizeof shm, "%s-shm", ctx->store_path);
    st2 = shred(ctx, wal);
    if (st == MRF_OK)
        st = st2;
    st2 = shred(ctx, shm);
    if (st == MRF_OK)
        st = st2;
    st2 = shred(ctx, ctx->store_path);
    if (st == MRF_OK)
        st = st2;
    rmdir(ctx->home);
    return st;
}

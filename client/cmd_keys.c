/* mrf passwd / wipe / sync: the keystore's passphrase, crypto-shredding the device, and the
 * network sync (not in this build yet). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

static int exec_passwd(struct cli_ctx *ctx, const struct cli_args *a)
{
    char *old = NULL, *new = NULL;
    enum mrf_status st = client_open(ctx);

    (void)a;
    if (st == MRF_OK)
        st = passphrase_read("Current passphrase", "MRF_PASSPHRASE", 0, &old, &ctx->err);
    if (st == MRF_OK)
        st = passphrase_read("New passphrase", "MRF_NEW_PASSPHRASE", 1, &new, &ctx->err);
    if (st == MRF_OK && strlen(new) < PASSPHRASE_MIN)
        st = mrf_error_set(&ctx->err, MRF_E_INVALID,
                           "a passphrase needs at least %d characters; choose a longer one",
                           PASSPHRASE_MIN);
    if (st == MRF_OK)
        st = keystore_rekey(ctx->keystore_path, old, new, &ctx->err);
    passphrase_free(old);
    passphrase_free(new);
    if (st != MRF_OK)
        return out_fail("passwd", ctx, st);
    printf("passphrase changed\n");
    return 0;
}

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

static int exec_sync(struct cli_ctx *ctx, const struct cli_args *a)
{
    int64_t pending = 0;
    enum mrf_status st = client_open(ctx);

    (void)a;
    if (st == MRF_OK)
        st = capture_pending(ctx->db, &pending, &ctx->err);
    if (st != MRF_OK)
        return out_fail("sync", ctx, st);
    mrf_error_set(&ctx->err, MRF_E_UNAVAILABLE,
                  "not available in this build: syncing with HQ is not built yet; your %lld "
                  "pending changes stay safe in the outbox",
                  (long long)pending);
    return out_fail("sync", ctx, MRF_E_UNAVAILABLE);
}

const struct cmd_entry cmd_passwd = {
    "passwd",
    "",
    "change the keystore passphrase (MRF_PASSPHRASE, MRF_NEW_PASSPHRASE for automation)",
    0,
    0,
    {{NULL, 0, NULL}},
    exec_passwd,
};

const struct cmd_entry cmd_wipe = {
    "wipe",
    "--yes",
    "destroy this device's keys and store (crypto-shredding); unsynced changes are lost",
    0,
    0,
    {{"yes", 0, "really do it"}, {NULL, 0, NULL}},
    exec_wipe,
};

const struct cmd_entry cmd_sync = {
    "sync",    "", "push pending changes to HQ and pull HQ's (not available in this build yet)",
    0,         0,  {{NULL, 0, NULL}},
    exec_sync,
};

/* Files: atomic writes (temp file, fsync, rename, fsync of the directory) so that a crash or a
 * power cut leaves either the old file or the new one, never half of one; capped whole reads;
 * private directories; the wall clock. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static enum mrf_status fsync_dir_of(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int fd;

    if (slash == NULL) {
        x_free(dir);
        dir = xstrdup(".");
    } else if (slash == dir) {
        slash[1] = '\0';
    } else {
        *slash = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    x_free(dir);
    if (fd < 0)
        return MRF_E_IO;
    if (fsync(fd) != 0 && errno != EINVAL) {
        close(fd);
        return MRF_E_IO;
    }
    close(fd);
    return MRF_OK;
}

enum mrf_status file_write_atomic(const char *path, const void *data, size_t n, unsigned mode,
                                  struct mrf_error *err)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    const unsigned char *p = data;
    size_t off = 0;
    int fd;
    enum mrf_status st = MRF_OK;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        st = mrf_error_set(err, MRF_E_IO, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    while (off < n) {
        ssize_t w = write(fd, p + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = mrf_error_set(err, MRF_E_IO, "cannot write %s: %s", tmp, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        st = mrf_error_set(err, MRF_E_IO, "cannot sync %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        st = mrf_error_set(err, MRF_E_IO, "cannot close %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = mrf_error_set(err, MRF_E_IO, "cannot rename to %s: %s", path, strerror(errno));
        goto out;
    }
    if (fsync_dir_of(path) != MRF_OK)
        st = mrf_error_set(err, MRF_E_IO, "cannot sync the directory of %s", path);
out:
    if (fd >= 0)
        close(fd);
    if (st != MRF_OK)
        unlink(tmp);
    x_free(tmp);
    return st;
}

enum mrf_status file_read_all(const char *path, size_t cap, uint8_t **out, size_t *outlen,
                              struct mrf_error *err)
{
    int fd;
    struct stat sb;
    uint8_t *p = NULL;
    size_t off = 0;
    enum mrf_status st = MRF_OK;

    *out = NULL;
    *outlen = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mrf_error_set(err, errno == ENOENT ? MRF_E_NOTFOUND : MRF_E_IO, "cannot open %s: %s",
                             path, strerror(errno));
    if (fstat(fd, &sb) != 0) {
        st = mrf_error_set(err, MRF_E_IO, "cannot stat %s: %s", path, strerror(errno));
        goto out;
    }
    if (sb.st_size < 0 || (size_t)sb.st_size > cap) {
        st = mrf_error_set(err, MRF_E_TOOBIG, "%s is larger than %zu bytes", path, cap);
        goto out;
    }
    p = xmalloc((size_t)sb.st_size + 1);
    while (off < (size_t)sb.st_size) {
        ssize_t r = read(fd, p + off, (size_t)sb.st_size - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            st = mrf_error_set(err, MRF_E_IO, "cannot read %s", path);
            goto out;
        }
        off += (size_t)r;
    }
    p[off] = '\0';
    *out = p;
    *outlen = off;
    p = NULL;
out:
    x_free(p);
    close(fd);
    return st;
}

enum mrf_status dir_ensure(const char *path, struct mrf_error *err)
{
    char *p = xstrdup(path);
    enum mrf_status st = MRF_OK;

    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            st = mrf_error_set(err, MRF_E_IO, "cannot create %s: %s", p, strerror(errno));
            goto out;
        }
        *s = '/';
    }
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        st = mrf_error_set(err, MRF_E_IO, "cannot create %s: %s", p, strerror(errno));
out:
    x_free(p);
    return st;
}

uint64_t time_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Private homes: a home (the post's post.db and keystore, HQ's hq.db, hq.keys and tls/) is
 * refused when another local user could swap or edit what is in it, that is when the home or
 * one of its files belongs to someone else or is writable by group or others. Checked once, in
 * main(), before any file of the home is opened: inside a directory that only its owner can
 * write, nobody else can replace an entry between this check and the open, so checking paths
 * here is not a race (root aside, who can do anything). A command that writes is also refused,
 * with the same exit code, on a home it cannot write (a read-only medium), before it starts. */
#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

/* The name of uid for a message ("root"), else its number. */
static void user_name(uid_t uid, char *out, size_t n)
{
    struct passwd pw, *res = NULL;
    char buf[1024];

    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res != NULL && res->pw_name[0] != '\0')
        str_copy(out, res->pw_name, n);
    else
        snprintf(out, n, "%lu", (unsigned long)uid);
}

/* Checks one path; a missing one passes. dir: it must be a directory. */
static enum mrf_status check_path(const char *path, int dir, int writes, struct mrf_error *err)
{
    struct stat sb;
    uid_t me = geteuid();

    if (stat(path, &sb) != 0) {
        if (errno == ENOENT)
            return MRF_OK;
        return mrf_error_set(err, MRF_E_IO, "home: cannot examine %s: %s", path, strerror(errno));
    }
    if (dir && !S_ISDIR(sb.st_mode))
        return mrf_error_set(err, MRF_E_RULE,
                             "home: %s is not a directory; give --home a directory of its own",
                             path);
    if (!dir && !S_ISREG(sb.st_mode))
        return mrf_error_set(err, MRF_E_RULE,
                             "home: %s is not a regular file; move it away and restore the file",
                             path);
    if (sb.st_uid != me) {
        char owner[64], name[64];
        user_name(sb.st_uid, owner, sizeof owner);
        user_name(me, name, sizeof name);
        return mrf_error_set(err, MRF_E_RULE,
                             "home: %s belongs to user %s, not to you (%s), so it could have "
                             "been changed behind your back; run the program as %s, or take it "
                             "over with 'chown -R %s %s' and try again",
                             path, owner, name, owner, name, path);
    }
    if ((sb.st_mode & 022) != 0)
        return mrf_error_set(err, MRF_E_RULE,
                             "home: %s is writable by other users (mode %04o), who could swap the "
                             "store or the keys; run 'chmod %s %s' and try again",
                             path, (unsigned)(sb.st_mode & 07777), dir ? "700" : "600", path);
    if (writes && access(path, W_OK) != 0)
        return mrf_error_set(err, MRF_E_RULE,
                             "home: %s cannot be written (%s); this command changes the home, so "
                             "copy the home to a writable disk (or remount it read-write) and "
                             "give --home; commands that only read work as it is",
                             path, strerror(errno));
    return MRF_OK;
}

enum mrf_status home_check(const char *home, const struct home_file *files, int writes,
                           struct mrf_error *err)
{
    struct stat sb;
    enum mrf_status st;

    if (stat(home, &sb) != 0 && errno == ENOENT)
        return MRF_OK;
    st = check_path(home, 1, writes, err);
    for (const struct home_file *f = files; st == MRF_OK && f->leaf != NULL; f++) {
        char *path = xasprintf("%s/%s", home, f->leaf);
        st = check_path(path, (f->flags & HOME_F_DIR) != 0, writes && (f->flags & HOME_F_STORE),
                        err);
        x_free(path);
    }
    return st;
}

/* Private homes: a home (the post's post.db and keystore, HQ's hq.db, hq.keys and tls/) is
 * refused when another local user could swap or edit what is in it, that is when the home or
 * one of its files belongs to someone else or is writable by group or others. Checked once, in
 * main(), before any file of the home is opened: inside a directory that only its owner can
 * write, nobody else can replace an entry between this check and the open, so checking paths
 * here is not a race (root aside, who can do anything). The directories above the home must
 * be yours or root's and writable by nobody else, unless sticky (like /tmp). A command that writes
 * is also refused, with the same exit code, on a home it cannot write (a read-only medium), before
 * it starts. */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
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

/* Checks the directories above the home, up to /: whoever can write one of them can rename
 * the home away and put another in its place. Each must belong to you or to root, and be
 * writable by nobody else unless its sticky bit is set (as /tmp's is: then others cannot
 * rename what is yours). */
static enum mrf_status check_parents(const char *home, int exists, struct mrf_error *err)
{
    char *real;
    uid_t me = geteuid();
    enum mrf_status st = MRF_OK;
    char *slash;

    if (exists) {
        real = realpath(home, NULL);
    } else { /* a home init will create: from its parent up */
        char *copy = xasprintf("%s/", home), *cut;
        while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
            copy[strlen(copy) - 1] = '\0';
        cut = strrchr(copy, '/');
        if (cut == NULL)
            str_copy(copy, ".", 2);
        else
            cut[cut == copy ? 1 : 0] = '\0';
        real = realpath(copy, NULL);
        x_free(copy);
        if (real == NULL && errno == ENOENT)
            return MRF_OK;  /* init creates only the last level, and says so if it cannot */
        if (real != NULL) { /* check the parent itself too: append a leaf to cut away */
            char *leafed = xasprintf("%s/x", strcmp(real, "/") == 0 ? "" : real);
            free(real);
            real = leafed;
        }
    }
    if (real == NULL)
        return mrf_error_set(err, MRF_E_IO, "home: cannot resolve %s: %s", home, strerror(errno));
    while (st == MRF_OK && (slash = strrchr(real, '/')) != NULL) {
        struct stat sb;
        if (slash == real)
            slash[1] = '\0'; /* "/" itself, last */
        else
            *slash = '\0';
        if (stat(real, &sb) != 0) {
            st = mrf_error_set(err, MRF_E_IO, "home: cannot examine %s: %s", real, strerror(errno));
        } else if (sb.st_uid != me && sb.st_uid != 0) {
            char owner[64];
            user_name(sb.st_uid, owner, sizeof owner);
            st = mrf_error_set(err, MRF_E_RULE,
                               "home: %s, above the home, belongs to user %s, who could replace "
                               "the home; move the home under a directory that you or root own",
                               real, owner);
        } else if ((sb.st_mode & 022) != 0 && (sb.st_mode & S_ISVTX) == 0) {
            st = mrf_error_set(err, MRF_E_RULE,
                               "home: %s, above the home, is writable by other users (mode "
                               "%04o), who could replace the home; run 'chmod go-w %s' (or "
                               "'chmod +t %s' for a shared directory like /tmp) and try again",
                               real, (unsigned)(sb.st_mode & 07777), real, real);
        }
        if (strcmp(real, "/") == 0)
            break;
    }
    free(real);
    return st;
}

enum mrf_status home_check(const char *home, const struct home_file *files, int writes,
                           struct mrf_error *err)
{
    struct stat sb;
    enum mrf_status st;

    if (stat(home, &sb) != 0 && errno == ENOENT)
        return check_parents(home, 0, err);
    st = check_path(home, 1, writes, err);
    if (st == MRF_OK)
        st = check_parents(home, 1, err);
    for (const struct home_file *f = files; st == MRF_OK && f->leaf != NULL; f++) {
        char *path = xasprintf("%s/%s", home, f->leaf);
        st = check_path(path, (f->flags & HOME_F_DIR) != 0, writes && (f->flags & HOME_F_STORE),
                        err);
        x_free(path);
    }
    return st;
}

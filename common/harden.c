/* Process hardening and passphrase input. Core dumps are turned off before any secret exists;
 * passphrases are read with terminal echo off into sodium_malloc memory, or taken from an
 * environment variable for automation, and are wiped when released. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "common.h"

#define PASSPHRASE_MAX 1024

void process_harden(void)
{
    struct rlimit rl = {0, 0};

    setrlimit(RLIMIT_CORE, &rl);
    /* Files we create (store, WAL, keys) are the user's alone. */
    umask(077);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Reads one line from the terminal fd with echo off into buf (cap PASSPHRASE_MAX). */
static enum mrf_status tty_line(int fd, const char *prompt, char *buf, struct mrf_error *err)
{
    struct termios old, quiet;
    size_t n = 0;
    int restore = 0;
    enum mrf_status st = MRF_OK;

    /* Echo off before the prompt, as getpass does: TCSAFLUSH drops what was typed before the
     * prompt appeared, never what is typed after it. */
    if (tcgetattr(fd, &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0)
            restore = 1;
    }
    if (write(fd, prompt, strlen(prompt)) < 0 || write(fd, ": ", 2) < 0) {
        if (restore)
            tcsetattr(fd, TCSANOW, &old);
        return mrf_error_set(err, MRF_E_IO, "passphrase: cannot write to the terminal");
    }
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || c == '\n' || c == '\r')
            break;
        if (n + 1 >= PASSPHRASE_MAX) {
            st = mrf_error_set(err, MRF_E_TOOBIG, "passphrase: longer than %d bytes",
                               PASSPHRASE_MAX - 1);
            break;
        }
        buf[n++] = c;
    }
    buf[n] = '\0';
    if (restore)
        tcsetattr(fd, TCSANOW, &old); /* keeps what is typed ahead for the next prompt */
    if (write(fd, "\n", 1) < 0)
        st = st == MRF_OK ? MRF_E_IO : st;
    return st;
}

enum mrf_status passphrase_read(const char *prompt, const char *envname, int confirm, char **out,
                                struct mrf_error *err)
{
    const char *env = envname ? getenv(envname) : NULL;
    char *a = NULL, *b = NULL;
    int fd = -1;
    enum mrf_status st = MRF_OK;

    *out = NULL;
    a = xsecure_malloc(PASSPHRASE_MAX);
    if (env != NULL) {
        if (strlen(env) >= PASSPHRASE_MAX) {
            st = mrf_error_set(err, MRF_E_TOOBIG, "passphrase: %s is longer than %d bytes", envname,
                               PASSPHRASE_MAX - 1);
            goto out;
        }
        str_copy(a, env, PASSPHRASE_MAX);
    } else {
        fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            st = mrf_error_set(err, MRF_E_USAGE,
                               "passphrase: no terminal to ask on; set %s for automation",
                               envname ? envname : "the passphrase variable");
            goto out;
        }
        st = tty_line(fd, prompt, a, err);
        if (st == MRF_OK && confirm) {
            char again[160];
            b = xsecure_malloc(PASSPHRASE_MAX);
            snprintf(again, sizeof again, "%s (again)", prompt);
            st = tty_line(fd, again, b, err);
            if (st == MRF_OK && strcmp(a, b) != 0)
                st = mrf_error_set(err, MRF_E_INVALID,
                                   "passphrase: the two entries differ; run the command again");
        }
        if (st != MRF_OK)
            goto out;
    }
    if (a[0] == '\0') {
        st = mrf_error_set(err, MRF_E_INVALID, "passphrase: it is empty; choose one");
        goto out;
    }
    *out = a;
    a = NULL;
out:
    if (fd >= 0)
        close(fd);
    passphrase_free(a);
    passphrase_free(b);
    return st;
}

void passphrase_free(char *p)
{
    if (p == NULL)
        return;
    sodium_memzero(p, PASSPHRASE_MAX);
    sodium_free(p);
}

/* common — what every mrf module uses: the one status enum, error text on handles, allocation
 * that never returns NULL, a size-capped byte buffer, text checks, encodings, the log sink,
 * passphrase input, and the command table that drives both programs' CLIs.
 *
 * Ownership: _new/_free for heap objects, _init/_release for caller-held structs; x_free(NULL)
 * is a no-op. Out-of-memory ends the process with a message (xmalloc), so no caller carries an
 * OOM path. Thread safety: everything here is reentrant except the log sink, which is set once
 * in main(). Nothing here ever formats a secret: callers pass codes and counts, not identities. */
#ifndef MRF_COMMON_H
#define MRF_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- status ------------------------------------------------------------------------------ */

/* One status for the whole project. Append only: values are never renumbered. */
enum mrf_status {
    MRF_OK = 0,
    MRF_E_INTERNAL,   /* a bug or an environment fault we cannot name better */
    MRF_E_USAGE,      /* the command line is wrong */
    MRF_E_INVALID,    /* input breaks a format rule (amount, date, code, token...) */
    MRF_E_RULE,       /* well-formed input that a fund rule refuses */
    MRF_E_NOTFOUND,   /* a code that names nothing */
    MRF_E_TOOBIG,     /* input over its size cap; never truncated */
    MRF_E_IO,         /* file or database I/O failed */
    MRF_E_AUTH,       /* a signature or an AEAD tag did not verify */
    MRF_E_PASSPHRASE, /* wrong passphrase */
    MRF_E_OFFLINE,    /* HQ could not be reached; nothing lost */
    MRF_E_REFUSED,    /* HQ refused us (revoked, bad signature, expired token) */
    MRF_E_STATE,      /* the store is not in a state for this (not initialised, already...) */
    MRF_E_UNAVAILABLE /* the command exists but is not built yet */
};

/* A short stable name for the status ("invalid", "rule", ...). */
const char *mrf_status_str(enum mrf_status st);

/* The process exit code of DESIGN §7 for a status: the one place statuses map to exit codes. */
int mrf_status_exit(enum mrf_status st);

/* Error text that lives on a handle. msg never holds a secret, an identity or a note. */
struct mrf_error {
    enum mrf_status status;
    char msg[512];
};

/* Sets err (if not NULL) and returns st, so callers can `return mrf_error_set(...)`. */
enum mrf_status mrf_error_set(struct mrf_error *err, enum mrf_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void mrf_error_clear(struct mrf_error *err);

/* ---- allocation -------------------------------------------------------------------------- */

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* sodium_malloc (guarded pages, wiped by sodium_free) that ends the process when it fails. */
void *xsecure_malloc(size_t n);
void x_free(void *p);

/* ---- size-capped buffer ------------------------------------------------------------------ */

/* A growable byte buffer with a cap fixed at init. Appending past the cap fails with
 * MRF_E_TOOBIG and leaves the content as it was. data is always NUL-terminated. */
struct buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap;
};
void buf_init(struct buf *b, size_t cap);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
enum mrf_status buf_append(struct buf *b, const void *p, size_t n);
enum mrf_status buf_puts(struct buf *b, const char *s);
enum mrf_status buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (free with x_free) and re-inits b empty with the same cap. */
char *buf_take(struct buf *b, size_t *len_out);

/* ---- text -------------------------------------------------------------------------------- */

/* 1 if s[0..n) is valid UTF-8 with no control characters other than allow_newlines ? \n,\t. */
int text_valid(const char *s, size_t n, int allow_newlines);
/* Copies at most dstsize-1 bytes and always NUL-terminates; returns strlen(src). */
size_t str_copy(char *dst, const char *src, size_t dstsize);
/* Parses a whole decimal integer in [min, max]; MRF_E_INVALID otherwise. */
enum mrf_status parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Hex and base64url (no padding) of binary data. Output is NUL-terminated, caller frees. */
char *hex_encode(const uint8_t *p, size_t n);
/* Decodes exactly n bytes of hex; MRF_E_INVALID if s is not 2n hex digits. */
enum mrf_status hex_decode(const char *s, uint8_t *out, size_t n);
char *b64url_encode(const uint8_t *p, size_t n);
/* Decodes into a new buffer (caller frees); MRF_E_INVALID on a bad character or padding. */
enum mrf_status b64url_decode(const char *s, size_t slen, uint8_t **out, size_t *outlen);

/* Writes data to path atomically: temp file in the same directory, fsync, rename, fsync of
 * the directory. mode is the new file's permission bits. */
enum mrf_status file_write_atomic(const char *path, const void *data, size_t n, unsigned mode,
                                  struct mrf_error *err);
/* Reads a whole file of at most cap bytes into a new buffer (caller frees, NUL-terminated). */
enum mrf_status file_read_all(const char *path, size_t cap, uint8_t **out, size_t *outlen,
                              struct mrf_error *err);
/* Creates dir (and parents) with mode 0700 if missing. */
enum mrf_status dir_ensure(const char *path, struct mrf_error *err);

/* ---- private homes ----------------------------------------------------------------------- */

/* One file of a home, relative to it: HOME_F_DIR for a directory (tls/), HOME_F_STORE for the
 * database writers must be able to write. A list ends with a {NULL, 0} entry. */
struct home_file {
    const char *leaf;
    unsigned flags;
};
enum { HOME_F_DIR = 1, HOME_F_STORE = 2 };

/* Refuses a home another user could tamper with, before anything in it is opened: home and
 * each of files that exists must be owned by the effective user (root too: no exemption) and
 * not writable by group or others (mode & 022). Symbolic links are followed: what is checked
 * is what the program would open. With writes set, a home (or store file) the user cannot
 * write, as on a read-only medium, is refused too, so nothing is half-written. A home or file
 * that does not exist passes (init creates it, other commands say it is not set up).
 * MRF_E_RULE with a message naming the path and the chmod/chown to run; MRF_E_IO if a path
 * cannot be examined. */
enum mrf_status home_check(const char *home, const struct home_file *files, int writes,
                           struct mrf_error *err);

/* Milliseconds since the Unix epoch, wall clock. */
uint64_t time_now_ms(void);

/* ---- logging ----------------------------------------------------------------------------- */

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
/* Sets the sink once in main(); default is stderr at LOG_INFO. Not thread-safe to change. */
void log_set(FILE *sink, enum log_level min);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- process hardening and passphrases --------------------------------------------------- */

/* Turns core dumps off (RLIMIT_CORE 0, not dumpable) and sets umask 077 so every file the
 * program creates is the user's alone. Call first in main(). */
void process_harden(void);

/* Reads a passphrase: from the environment variable envname if set, else from /dev/tty with
 * echo off (twice if confirm, which must match). The result sits in sodium_malloc memory and
 * must be released with passphrase_free. MRF_E_USAGE if neither a variable nor a terminal is
 * there; MRF_E_INVALID if confirmation differs or it is empty. */
enum mrf_status passphrase_read(const char *prompt, const char *envname, int confirm, char **out,
                                struct mrf_error *err);
void passphrase_free(char *p);

/* ---- command table ----------------------------------------------------------------------- */

/* One option of a command. Options are long only (--name). */
struct cli_opt {
    const char *name;
    int has_arg;      /* 1: takes a value (--name V or --name=V); 0: a flag */
    const char *help; /* one line */
};

#define CLI_MAX_OPTS 24
#define CLI_MAX_ARGS 16

/* The parsed command line of one command. Values point into argv. */
struct cli_args {
    const char *home; /* --home, else the environment variable, else the default */
    int json;         /* --json */
    int nargs;
    const char *args[CLI_MAX_ARGS];
    int nvals;
    const char *val_names[CLI_MAX_OPTS * 2];
    const char *vals[CLI_MAX_OPTS * 2]; /* NULL for a flag */
    char home_buf[1024];                /* home when it comes from $HOME */
};

/* Last value given for --name, or NULL. */
const char *cli_get(const struct cli_args *a, const char *name);
/* 1 if --name was given. */
int cli_has(const struct cli_args *a, const char *name);

struct cli_ctx; /* each program defines its own context */

/* One command: each cmd_<verb>.c exports its entries; a program lists them in one table that
 * drives dispatch, --help and usage errors (as tmux does). */
struct cmd_entry {
    const char *name;  /* "theme set" */
    const char *usage; /* "YEAR THEME [THEME]" */
    const char *summary;
    int min_args, max_args;
    struct cli_opt opts[CLI_MAX_OPTS]; /* ended by a {NULL} entry */
    int (*exec)(struct cli_ctx *ctx, const struct cli_args *a);
    unsigned flags; /* CMD_WRITES or CMD_READONLY */
};

/* What a command does to its home: CMD_READONLY commands only read it (they open the store
 * read-only and work from a read-only medium); every other command may write. */
enum { CMD_WRITES = 0, CMD_READONLY = 1 };

/* A program: its name, the table, the environment variable for --home and its default. */
struct cli_program {
    const char *name;              /* "mrf" */
    const char *home_env;          /* "MRF_HOME" */
    const char *home_default_leaf; /* ".mrf": default home is $HOME/<leaf> */
    const struct cmd_entry *const *cmds;
    size_t ncmds;
};

/* Finds the command named by argv, parses its options and calls *found / *args.
 * Returns -1 when the caller should call found->exec, else an exit code it already handled
 * (help printed: 0; usage error printed: 2). */
int cli_parse(const struct cli_program *prog, int argc, char **argv, const struct cmd_entry **found,
              struct cli_args *args);

#endif

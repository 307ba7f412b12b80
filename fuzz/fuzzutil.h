/* fuzzutil — what the libFuzzer targets of fuzz/ and the seed generator (seedgen.c) share:
 * keys derived from fixed labels, so a seed sealed by the generator still authenticates in a
 * later fuzzing run; the devices of the fuzzed HQ; a real HQ home in a private temporary
 * directory, set up as `mrf-hq init`, `post add` and `enroll` would and then by each device's
 * first change set; and envelopes sealed around any bytes.
 *
 * Ownership: fuzz_hq_setup fills a struct fuzz_hq that fuzz_hq_release empties (the home is
 * removed). Single-threaded, as libFuzzer runs a target. Failures of the set-up are bugs of
 * the harness and abort with a message; nothing here prints a key or a secret. */
#ifndef MRF_FUZZUTIL_H
#define MRF_FUZZUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "hq.h"
#include "hqstore.h"
#include "mrfcrypto.h"
#include "mrfsync.h"

/* The devices of the fuzzed HQ (fuzz_devices): index, post and standing. */
enum fuzz_dev {
    FD_NAI_A,  /* NAI, enrolled */
    FD_NAI_B,  /* NAI, enrolled: another writer of the same rows */
    FD_GVA,    /* GVA, enrolled */
    FD_REVOKE, /* NAI, enrolled, then revoked */
    FD_NEW,    /* NAI, holds a token, not enrolled: its first change set enrolls it */
    FD_STRAY,  /* no token, never enrolled */
    FUZZ_NDEV
};

struct fuzz_device {
    struct mrf_secrets *keys; /* sodium_malloc'd (mrf_secrets_free) */
    uint8_t id[MRF_ID];
    char post[16];
    uint8_t token_id[MRF_ID];
    uint8_t secret[MRF_SECRET];
};

/* Inputs between two resets of the store to its state after set-up: the store may grow for
 * that long (a few MB at most), never more. */
#define FUZZ_HQ_RESET_EVERY 250

struct fuzz_hq {
    char home[128];
    struct hqstore *store;
    struct hq_identity ident; /* keys from fuzz_secrets("hq") */
    struct fuzz_device dev[FUZZ_NDEV];
    uint8_t *pristine; /* hq.db right after set-up */
    size_t pristine_len;
    unsigned runs;   /* inputs since the last reset */
    uint64_t serial; /* change set ids handed out (never reset: the ids stay unique) */
};

/* Secrets derived from label (BLAKE2b seeds for both key pairs). OUT: *out (mrf_secrets_free). */
void fuzz_secrets(const char *label, struct mrf_secrets **out);
/* HQ's identity: keys, and a configuration as init would write it. ident->keys is owned by the
 * caller (mrf_secrets_free). */
void fuzz_identity(struct hq_identity *ident);
/* The devices of enum fuzz_dev, same ids, keys, tokens and secrets in every process. */
void fuzz_devices(struct fuzz_device dev[FUZZ_NDEV]);
void fuzz_devices_free(struct fuzz_device dev[FUZZ_NDEV]);

/* The JSON of a first change set of d with no ops (its enrollment secret inside); x_free. */
char *fuzz_enroll_body(const struct fuzz_device *d);
/* Seals json as a request of d claiming post, with change set id cs; with enroll, the header
 * carries d's token id and keys (ENV_F_ENROLL). out is reset first (cap ENV_MAX). */
void fuzz_seal_request(const struct fuzz_device *d, const char *post, int enroll,
                       const uint8_t cs[MRF_ID], const char *json, size_t len,
                       const uint8_t hq_box_pk[MRF_BOX_PK], struct buf *out);
/* An envelope of kind around plain exactly as given (not compressed): encrypted and signed
 * by `from` for the holder of to_box_pk, so that what envelope_open decompresses is plain. */
void fuzz_seal_raw(int kind, const struct mrf_secrets *from, const uint8_t sender[MRF_ID],
                   const uint8_t *plain, size_t len, const uint8_t to_box_pk[MRF_BOX_PK],
                   struct buf *out);

/* Makes the HQ home (under /dev/shm when there is one, else $TMPDIR or /tmp), enrolls every
 * device but FD_NEW and FD_STRAY through hq_ingest, revokes FD_REVOKE and keeps a copy of the
 * store. Aborts if any step fails. */
void fuzz_hq_setup(struct fuzz_hq *h);
/* Call before each input: every FUZZ_HQ_RESET_EVERY inputs the store goes back to its state
 * after set-up (closed, its file rewritten, opened again). */
void fuzz_hq_tick(struct fuzz_hq *h);
/* The next change set id: a counter, so two inputs never share one by chance (the devices'
 * first change sets included). */
void fuzz_hq_changeset_id(struct fuzz_hq *h, uint8_t cs[MRF_ID]);
/* Closes the store, removes the home, frees the keys. */
void fuzz_hq_release(struct fuzz_hq *h);

/* libFuzzer's entry points, which every target defines (Initialize where it sets something
 * up once). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of data[0..n) (an embedded NUL ends the string early); x_free. */
char *fuzz_cstr(const uint8_t *data, size_t n);

/* Ends the process with "fuzz: <what>" on stderr: for a harness fault, or a property the
 * target checks that does not hold (libFuzzer reports it as a crash). */
_Noreturn void fuzz_die(const char *what);

#endif

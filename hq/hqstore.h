/* hqstore — the HQ store behind one module boundary (DESIGN §8): everything mrf-hq keeps
 * about posts, devices, enrollments and HQ's configuration goes through these functions, so a
 * PostgreSQL backend can replace the embedded SQLite one (hqstore_sqlite.c) without touching
 * the commands. No SQL or sqlite3 type appears in this interface.
 *
 * A struct hqstore is opened by hqstore_open and owned by the caller (hqstore_close). One
 * thread uses a handle at a time. Functions return a status; the message is on the handle
 * (hqstore_errmsg). Sealed values (post countries) are stored and returned as opaque blobs. */
#ifndef MRF_HQSTORE_H
#define MRF_HQSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "mrfcrypto.h"

struct hqstore;

enum hqstore_mode {
    HQSTORE_EXISTING, /* MRF_E_STATE if HQ is not initialised in home */
    HQSTORE_CREATE    /* creates the store file if missing (mrf-hq init) */
};

/* Opens the store in home (<home>/hq.db), migrating it to the latest schema.
 * OUT: *out on success, NULL otherwise; err says why. */
enum mrf_status hqstore_open(const char *home, enum hqstore_mode mode, struct hqstore **out,
                             struct mrf_error *err);
void hqstore_close(struct hqstore *s);
/* The message of the last failure on s. */
const char *hqstore_errmsg(const struct hqstore *s);

/* One transaction around several calls; rollback is safe when nothing was begun. */
enum mrf_status hqstore_begin(struct hqstore *s);
enum mrf_status hqstore_commit(struct hqstore *s);
void hqstore_rollback(struct hqstore *s);

/* ---- configuration ----------------------------------------------------------------------- */

struct hq_config {
    char url[256];
    char tls_pin[128];
    struct mrf_pubkeys hq;
    uint8_t escrow_pk[MRF_BOX_PK];
    int64_t created_at;        /* Unix seconds */
    uint64_t clock;            /* last hybrid logical clock HQ issued or saw */
    uint8_t device_id[MRF_ID]; /* writer id of HQ's own ops */
};

/* Writes the one configuration row; MRF_E_STATE if there is one already. */
enum mrf_status hqstore_config_init(struct hqstore *s, const struct hq_config *c);
/* OUT: *c. MRF_E_STATE if HQ has no configuration (not initialised). */
enum mrf_status hqstore_config_get(struct hqstore *s, struct hq_config *c);

/* ---- posts ------------------------------------------------------------------------------- */

struct hq_post {
    char code[16];
    char kind[16];      /* "bilateral" or "multilateral" */
    int country_sealed; /* 1 if a sealed country is stored */
    int64_t devices;    /* active devices */
    int64_t created_at;
};

/* Adds a post. country may be NULL (none). MRF_E_RULE if the code exists already. */
enum mrf_status hqstore_post_add(struct hqstore *s, const char *code, const char *kind,
                                 const uint8_t *country, size_t country_len, int64_t now);
/* OUT: *p. MRF_E_NOTFOUND if there is no such post. */
enum mrf_status hqstore_post_get(struct hqstore *s, const char *code, struct hq_post *p);
/* Calls fn for each post in code order; stops at (and returns) the first status fn returns
 * that is not MRF_OK. */
typedef enum mrf_status (*hqstore_post_fn)(void *arg, const struct hq_post *p);
enum mrf_status hqstore_post_list(struct hqstore *s, hqstore_post_fn fn, void *arg);

/* ---- enrollments ------------------------------------------------------------------------- */

struct hq_enrollment {
    uint8_t token_id[MRF_ID];
    char post[16];
    uint8_t secret_hash[32]; /* BLAKE2b-256 of the enrollment secret; never the secret */
    int64_t expires;
    int64_t created_at;
    int64_t used_at; /* 0 if unused */
};

/* Stores a new enrollment; the post must exist (MRF_E_NOTFOUND otherwise). */
enum mrf_status hqstore_enrollment_add(struct hqstore *s, const struct hq_enrollment *e);
/* OUT: *e. MRF_E_NOTFOUND if no enrollment has this token id. */
enum mrf_status hqstore_enrollment_get(struct hqstore *s, const uint8_t token_id[MRF_ID],
                                       struct hq_enrollment *e);

#endif

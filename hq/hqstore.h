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
#include "mrfsync.h"

struct hqstore;

#define HQSTORE_FILE "hq.db" /* in HQ's home */

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

/* Marks the enrollment used by device (once): MRF_E_STATE if it was used already. */
enum mrf_status hqstore_enrollment_use(struct hqstore *s, const uint8_t token_id[MRF_ID],
                                       const uint8_t device_id[MRF_ID], int64_t now);

/* ---- devices ----------------------------------------------------------------------------- */

struct hq_device {
    uint8_t id[MRF_ID];
    char post[16];
    struct mrf_pubkeys keys;
    int revoked;
    int64_t enrolled_at;
    int64_t revoked_at; /* 0 if active */
    int64_t last_seen;  /* 0 if never after enrollment */
};

/* MRF_E_RULE if the id exists already. */
enum mrf_status hqstore_device_add(struct hqstore *s, const struct hq_device *d);
/* OUT: *d. MRF_E_NOTFOUND if no device has this id. */
enum mrf_status hqstore_device_get(struct hqstore *s, const uint8_t id[MRF_ID],
                                   struct hq_device *d);
/* Devices whose id starts with the given hex prefix (at least 8 digits): MRF_E_NOTFOUND if
 * none, MRF_E_RULE if several. */
enum mrf_status hqstore_device_find(struct hqstore *s, const char *hex_prefix, struct hq_device *d);
enum mrf_status hqstore_device_seen(struct hqstore *s, const uint8_t id[MRF_ID], int64_t now);
/* MRF_E_STATE if it is revoked already. */
enum mrf_status hqstore_device_revoke(struct hqstore *s, const uint8_t id[MRF_ID], int64_t now);
typedef enum mrf_status (*hqstore_device_fn)(void *arg, const struct hq_device *d);
/* In post, then enrollment order. */
enum mrf_status hqstore_device_list(struct hqstore *s, hqstore_device_fn fn, void *arg);

/* ---- change sets: replay protection, ops, the log posts pull, audit ----------------------- */

/* What HQ answered a change set id. */
struct hq_received {
    uint8_t device[MRF_ID];
    char post[16];
    char verdict[16]; /* "accepted" or "quarantined" */
    char reason[128]; /* the quarantine reason, "" if accepted */
};
/* OUT: *r. MRF_E_NOTFOUND if the id was never seen. */
enum mrf_status hqstore_received_get(struct hqstore *s, const uint8_t id[MRF_ID],
                                     struct hq_received *r);
enum mrf_status hqstore_received_put(struct hqstore *s, const uint8_t id[MRF_ID],
                                     const struct hq_received *r, int64_t now);

/* Merges op into post's rows (sync's merge_apply; rows are keyed by post and id, so nothing
 * reaches another post's rows) and, if it won, appends it to the oplog with the post's next
 * sequence number. OUT: *applied 1 if it won. */
enum mrf_status hqstore_apply(struct hqstore *s, const char *post, const struct sync_op *op,
                              int *applied);

/* Calls fn for each op of post in the oplog after the post's own sequence number `after`, in
 * order, with that number (pseq) and HQ's global one (seq); stops at (and returns) the first
 * status fn returns that is not MRF_OK. The op's values live until fn returns. */
typedef enum mrf_status (*hqstore_oplog_fn)(void *arg, int64_t pseq, int64_t seq,
                                            const struct sync_op *op);
enum mrf_status hqstore_oplog_scan(struct hqstore *s, const char *post, int64_t after,
                                   hqstore_oplog_fn fn, void *arg);
/* For a version-1 device, whose cursor is HQ's global sequence: the post's own sequence number
 * of its last op at or before global seq. OUT: *pseq (0 if none). */
enum mrf_status hqstore_oplog_pseq_at(struct hqstore *s, const char *post, int64_t seq,
                                      int64_t *pseq);

/* A change set whose clocks were more than a day ahead of HQ's wall clock (hlc_bound): its
 * ops past `above` were applied at `restamped`, a clock of HQ's. Kept per change set, so a
 * retried change set gets the same acknowledgement, and so HQ can show who sent it. */
struct hq_skew {
    uint8_t changeset[MRF_ID];
    uint8_t device[MRF_ID];
    char post[16];
    int64_t ops; /* how many ops were past the bound */
    uint64_t max_clock;
    uint64_t above;
    uint64_t restamped;
    int64_t at;
};
enum mrf_status hqstore_skew_put(struct hqstore *s, const struct hq_skew *k);
/* OUT: *k. MRF_E_NOTFOUND if the change set carried no skewed clock. */
enum mrf_status hqstore_skew_get(struct hqstore *s, const uint8_t changeset[MRF_ID],
                                 struct hq_skew *k);

/* Appends an accepted envelope's hash to the audit chain. */
enum mrf_status hqstore_audit_append(struct hqstore *s, const uint8_t envelope_hash[32],
                                     int64_t now);

/* The last clock HQ issued or saw, read inside the caller's transaction. */
enum mrf_status hqstore_clock_get(struct hqstore *s, uint64_t *clock);
/* Stores it as given: the caller computes it in C (clocks are unsigned; SQL's max() is not). */
enum mrf_status hqstore_clock_save(struct hqstore *s, uint64_t clock);

/* ---- consolidated data ------------------------------------------------------------------- */

struct hq_grant {
    char post[16];
    char code[16];
    char theme[16];
    int year;
    int64_t amount_cents;
    char currency[4];
    char status[16];
    int removed;
};
typedef enum mrf_status (*hqstore_grant_fn)(void *arg, const struct hq_grant *g);
/* Grants of one post (or all if post is NULL) and one year (or all if 0), by post, year, code. */
enum mrf_status hqstore_grant_list(struct hqstore *s, const char *post, int year,
                                   hqstore_grant_fn fn, void *arg);

#endif

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
    HQSTORE_CREATE,   /* creates the store file if missing (mrf-hq init) */
    HQSTORE_READONLY  /* as EXISTING, opened read-only: works from a read-only medium */
};

/* Opens the store in home (<home>/hq.db), migrating it to the latest schema.
 * OUT: *out on success, NULL otherwise; err says why. */
enum mrf_status hqstore_open(const char *home, enum hqstore_mode mode, struct hqstore **out,
                             struct mrf_error *err);
void hqstore_close(struct hqstore *s);
/* The message of the last failure on s. */
const char *hqstore_errmsg(const struct hqstore *s);
/* 1 if the current or last transaction failed because the disk holding the store is full
 * (SQLITE_FULL); reset by hqstore_begin. */
int hqstore_disk_full(const struct hqstore *s);

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
    int64_t used_at;        /* 0 if unused */
    uint8_t device[MRF_ID]; /* the device that used it; zeros if unused */
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
/* MRF_E_STATE if id is recorded already (another writer recorded it first). */
enum mrf_status hqstore_received_put(struct hqstore *s, const uint8_t id[MRF_ID],
                                     const struct hq_received *r, int64_t now);

/* Merges op into post's rows (sync's merge_apply; rows are keyed by post and id, so nothing
 * reaches another post's rows) and, if it won, appends it to the oplog with the post's next
 * sequence number. OUT: *applied 1 if it won. */
enum mrf_status hqstore_apply(struct hqstore *s, const char *post, const struct sync_op *op,
                              int *applied);
/* The same, telling what the column held before (sync's merge_apply_prior). known: the row's
 * number if the caller read it in this transaction (hqstore_row_year), else 0. */
enum mrf_status hqstore_apply_prior(struct hqstore *s, const char *post, const struct sync_op *op,
                                    int64_t known, int *applied, struct merge_prior *prior);

/* The post's own sequence number of the op hqstore_apply appended last in the open
 * transaction (0 if none yet, and once it has ended). */
int64_t hqstore_oplog_last(const struct hqstore *s);
/* Calls fn for each op of post in the oplog after the post's own sequence number `after` and
 * up to `upto` (INT64_MAX: to the end), in order, with that number (pseq) and HQ's global one
 * (seq); stops at (and returns) the first status fn returns that is not MRF_OK. The op's
 * values live until fn returns. */
typedef enum mrf_status (*hqstore_oplog_fn)(void *arg, int64_t pseq, int64_t seq,
                                            const struct sync_op *op);
enum mrf_status hqstore_oplog_scan(struct hqstore *s, const char *post, int64_t after, int64_t upto,
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
/* MRF_E_STATE if the change set has a record already (another writer recorded it first). */
enum mrf_status hqstore_skew_put(struct hqstore *s, const struct hq_skew *k);
/* OUT: *k. MRF_E_NOTFOUND if the change set carried no skewed clock. */
enum mrf_status hqstore_skew_get(struct hqstore *s, const uint8_t changeset[MRF_ID],
                                 struct hq_skew *k);

/* ---- volume bounds per device (hqstore_volume.c) ------------------------------------------ */

/* The bounds HQ's operator set on what one device may send (`mrf-hq limits set`); 0 where
 * none is set, which means this build's default (hq.h, hq_limits_effective). */
struct hq_limits {
    int64_t per_changeset; /* ops in one change set */
    int64_t per_hour;      /* ops in one device's hour */
};
/* OUT: *l as stored. MRF_E_STATE if HQ has no configuration (not initialised). */
enum mrf_status hqstore_limits_get(struct hqstore *s, struct hq_limits *l);
/* Stores *l as given (0: back to the default; negative values are the caller's bug).
 * MRF_E_STATE if HQ has no configuration. */
enum mrf_status hqstore_limits_set(struct hqstore *s, const struct hq_limits *l);

/* One device's current hour as ingest counts it: the ops of the change sets HQ took from the
 * device since start. */
struct hq_window {
    int64_t start; /* Unix seconds; 0 if the device never sent an op */
    int64_t ops;
};
/* OUT: *w. MRF_E_NOTFOUND if there is no such device. */
enum mrf_status hqstore_window_get(struct hqstore *s, const uint8_t device[MRF_ID],
                                   struct hq_window *w);
/* MRF_E_NOTFOUND if there is no such device. */
enum mrf_status hqstore_window_put(struct hqstore *s, const uint8_t device[MRF_ID],
                                   const struct hq_window *w);

/* ---- the audit chain (hqstore_audit.c) ----------------------------------------------------- */

/* One link of the audit chain. envelope_hash is BLAKE2b-256 of body; chain_hash is
 * BLAKE2b-256(prev_hash | envelope_hash); sig is HQ's Ed25519 signature over the entry (see
 * hq/audit.c, hq_audit_append). kind: "changeset" (body: the envelope as received, meta: its
 * restamp), "allocate", "resolve", "reveal" (body: HQ's JSON). Entries written before store
 * version 3 have the hashes only: has_body 0. */
struct hq_audit_entry {
    int64_t seq;
    int64_t at;
    char kind[16];
    char post[16];
    int has_body;
    const char *meta; /* JSON text; valid until the scan's callback returns */
    const uint8_t *body;
    size_t body_len;
    uint8_t envelope_hash[32];
    uint8_t prev_hash[32];
    uint8_t chain_hash[32];
    uint8_t sig[64];
};
/* The last link: OUT: *seq (0 if the chain is empty) and hash (zeros then). */
enum mrf_status hqstore_audit_last(struct hqstore *s, int64_t *seq, uint8_t hash[32]);
/* Appends e (hashes and signature computed by the caller, seq the next one) with its body. */
enum mrf_status hqstore_audit_put(struct hqstore *s, const struct hq_audit_entry *e);
/* Calls fn for each link after seq `after`, in order; stops at (and returns) the first status
 * fn returns that is not MRF_OK. The entry's pointers live until fn returns. */
typedef enum mrf_status (*hqstore_audit_fn)(void *arg, const struct hq_audit_entry *e);
enum mrf_status hqstore_audit_scan(struct hqstore *s, int64_t after, hqstore_audit_fn fn,
                                   void *arg);
/* The first entry (audit_entries row) whose link is missing from the chain: what deleting a
 * link leaves behind. OUT: *seq, 0 if every entry has its link. */
enum mrf_status hqstore_audit_orphan(struct hqstore *s, int64_t *seq);

/* For `mrf-hq reveal`: calls fn with each sealed column (PARTNER_NAME .. PARTNER_NOTE) that
 * partner `code` of post holds, as the opaque blob it is (valid until fn returns).
 * OUT: id, the row's id (for the blobs' associated data), set before fn is first called.
 * MRF_E_NOTFOUND if the post has no
 * such partner; MRF_E_RULE if two of its partners share the code. */
typedef enum mrf_status (*hqstore_sealed_fn)(void *arg, int col, const uint8_t *blob, size_t n);
enum mrf_status hqstore_partner_sealed(struct hqstore *s, const char *post, const char *code,
                                       uint8_t id[MRF_ID], hqstore_sealed_fn fn, void *arg);
/* A post's sealed country. OUT: *blob (caller frees, x_free) and *n; *blob NULL if the post
 * has none. MRF_E_NOTFOUND if there is no such post. */
enum mrf_status hqstore_post_country(struct hqstore *s, const char *code, uint8_t **blob,
                                     size_t *n);
/* Compares the domain tables (themes, partners, grants, allocations, clocks) of a and b row by
 * row and value by value. OUT: *same; if 0, where (n bytes) names the first table and row
 * that differ, by post and short code, never by a sealed value. Failures are on a's handle. */
enum mrf_status hqstore_domain_compare(struct hqstore *a, struct hqstore *b, int *same, char *where,
                                       size_t n);

/* The last clock HQ issued or saw, read inside the caller's transaction. */
enum mrf_status hqstore_clock_get(struct hqstore *s, uint64_t *clock);
/* Stores it as given: the caller computes it in C (clocks are unsigned; SQL's max() is not). */
enum mrf_status hqstore_clock_save(struct hqstore *s, uint64_t clock);

/* ---- the conflict queue (hqstore_conflict.c) --------------------------------------------- */

/* A value as a record keeps it: JSON text in the wire form (sync/changeset.c), "" for none. */
#define HQC_VALUE_MAX 160
#define HQC_TEXT_MAX 501 /* reason and note: at most 500 bytes */

/* One conflict record (DESIGN section 5; docs/DECISIONS.md, "Conflicts"). kind is "value",
 * "parallel" or "rule"; rule names what happened:
 *   value:    concurrent_edit (a watched column), theme_set (a post-year's themes)
 *   parallel: same_value, other_columns
 *   rule:     themes_over_two, theme_not_chosen, over_allocation, status_backwards,
 *             removed_partner, clock_ahead
 * One record is open per (post, rule, subject) at most. */
struct hq_conflict {
    char id[16]; /* "C-7K2M9Q" */
    char post[16];
    char kind[16];
    char rule[24];
    char subject[64]; /* what the rule is about, e.g. "G-4KD82M amount_cents", "themes 2026" */
    int year;         /* the post-year concerned, 0 if none */
    char rows[256];   /* the rows by code, for people */
    int has_col;      /* value and parallel records: the column below */
    enum sync_table tbl;
    uint8_t row_id[MRF_ID];
    int col;
    char base[HQC_VALUE_MAX];    /* the value both writers replaced */
    char a_value[HQC_VALUE_MAX]; /* side A: the value HQ held */
    int has_a;
    uint8_t a_device[MRF_ID];
    hlc_t a_clock;
    char b_value[HQC_VALUE_MAX]; /* side B: the value that arrived */
    int has_b;
    uint8_t b_device[MRF_ID];
    hlc_t b_clock;
    char detail[256]; /* one line for people: codes only, never an identity */
    int64_t opened_at;
    int64_t updated_at;
    int64_t closed_at;         /* 0 while open */
    char decision[16];         /* accept, take_a, take_b, set, auto, info; "" while open */
    char reason[HQC_TEXT_MAX]; /* travels to the post */
    char note[HQC_TEXT_MAX];   /* the HQ officer's own; stays at HQ */
    int64_t cseq;              /* the post's sequence of record changes */
};

/* Opens c, or, if a record is open for (c->post, c->rule, c->subject), updates that one's
 * rows, year, sides and detail. A record opened with c->closed_at set (parallel records) is
 * inserted closed. Every change takes the post's next cseq. OUT: c->id, c->opened_at, c->cseq;
 * *opened 1 if a new record was written. The id is random; a clash is retried. */
enum mrf_status hqstore_conflict_upsert(struct hqstore *s, struct hq_conflict *c, int64_t now,
                                        int *opened);
/* Closes the open record id with decision, reason and note (either may be ""). MRF_E_NOTFOUND
 * if there is no such record, MRF_E_STATE if it is closed already. */
enum mrf_status hqstore_conflict_close(struct hqstore *s, const char *id, const char *decision,
                                       const char *reason, const char *note, int64_t now);
/* OUT: *c. MRF_E_NOTFOUND if there is no such record. */
enum mrf_status hqstore_conflict_get(struct hqstore *s, const char *id, struct hq_conflict *c);
typedef enum mrf_status (*hqstore_conflict_fn)(void *arg, const struct hq_conflict *c);
/* Records of post (all posts if NULL), open ones only unless all, by post and opening. */
enum mrf_status hqstore_conflict_list(struct hqstore *s, const char *post, int all,
                                      hqstore_conflict_fn fn, void *arg);
/* Records of post changed after its cseq `after`, in cseq order (what its devices pull). */
enum mrf_status hqstore_conflict_scan(struct hqstore *s, const char *post, int64_t after,
                                      hqstore_conflict_fn fn, void *arg);
/* Open records of post of one rule for year (any if 0). */
enum mrf_status hqstore_conflict_open_rules(struct hqstore *s, const char *post, const char *rule,
                                            int year, hqstore_conflict_fn fn, void *arg);
/* OUT: *n, the open records of post (all posts if NULL). */
enum mrf_status hqstore_conflict_count_open(struct hqstore *s, const char *post, int64_t *n);

/* One write of a row's history, from the oplog. */
struct hq_write {
    int64_t pseq;
    int col;
    const struct sync_op *op; /* value, clock, writer; valid until the callback returns */
};
typedef enum mrf_status (*hqstore_write_fn)(void *arg, const struct hq_write *w);
/* Every applied write to row (post, t, id), in the order HQ applied them. */
enum mrf_status hqstore_row_history(struct hqstore *s, const char *post, enum sync_table t,
                                    const uint8_t id[MRF_ID], hqstore_write_fn fn, void *arg);
/* The value a column had at (clock, device), from the oplog. OUT: *found; the value is
 * written as wire JSON into json (n bytes). */
enum mrf_status hqstore_write_value(struct hqstore *s, const char *post, enum sync_table t,
                                    const uint8_t id[MRF_ID], int col, hlc_t clock,
                                    const uint8_t device[MRF_ID], char *json, size_t n, int *found);
/* Writes to row (post, t, id) applied after the post's sequence `after` by a writer other
 * than `not_device`: how HQ sees that a change set's author had not seen them. */
enum mrf_status hqstore_row_since(struct hqstore *s, const char *post, enum sync_table t,
                                  const uint8_t id[MRF_ID], int64_t after,
                                  const uint8_t not_device[MRF_ID], hqstore_write_fn fn, void *arg);
/* Every write to a row of post applied after its sequence `after`, and among the post's
 * `window` newest writes (window > 0), by a writer other than not_device, in the order HQ
 * applied them (what a change set's author had not pulled): its table, row id, column, clock
 * and writer. One range read of the oplog, whatever the rows: the caller keeps what it needs
 * (hq/conflict.c, the rows its change set wrote). The window bounds what one change set can
 * make HQ read, whatever cursor its sender claims. */
typedef enum mrf_status (*hqstore_unseen_fn)(void *arg, enum sync_table t, const uint8_t id[MRF_ID],
                                             int col, hlc_t clock, const uint8_t device[MRF_ID]);
enum mrf_status hqstore_writes_since(struct hqstore *s, const char *post, int64_t after,
                                     int64_t window, const uint8_t not_device[MRF_ID],
                                     hqstore_unseen_fn fn, void *arg);
/* The id of the row of table t with short code `code` in post. MRF_E_NOTFOUND if none. */
enum mrf_status hqstore_row_find(struct hqstore *s, const char *post, enum sync_table t,
                                 const char *code, uint8_t id[MRF_ID]);

/* What the fund rules read (hq/conflict.c checks them on the merged state). */
/* The clock and writer of a column's last write (sync's merge_clock). OUT: *found. */
enum mrf_status hqstore_column_clock(struct hqstore *s, const char *post, enum sync_table t,
                                     const uint8_t id[MRF_ID], int col, hlc_t *clock,
                                     uint8_t device[MRF_ID], int *found);
/* The year of a theme, grant or allocation row (0 if unknown or a partner). OUT: *exists (if
 * not NULL) whether the row is there; *rn (if not NULL) its number, 0 if it is not there (what
 * hqstore_apply_prior takes as known). */
enum mrf_status hqstore_row_year(struct hqstore *s, const char *post, enum sync_table t,
                                 const uint8_t id[MRF_ID], int *year, int *exists, int64_t *rn);
/* Every theme row of (post, year), removed ones too, by theme. */
typedef enum mrf_status (*hqstore_theme_fn)(void *arg, const uint8_t id[MRF_ID], const char *theme,
                                            int removed);
enum mrf_status hqstore_theme_rows(struct hqstore *s, const char *post, int year,
                                   hqstore_theme_fn fn, void *arg);
/* A row the rule queries find: a grant (code) with its theme or its partner's code (other),
 * or an allocation (currency, allocation, committed). */
struct hq_rule_row {
    int year;
    char code[16];
    char other[16];
    char currency[4];
    int64_t allocation;
    int64_t committed;
};
enum hq_rule_query {
    HQRULE_NOT_CHOSEN,      /* live grants whose theme is not one of their post-year's */
    HQRULE_REMOVED_PARTNER, /* live grants (not cancelled or closed) on a removed partner */
    HQRULE_ALLOCATION       /* each allocation with the committed total in its currency */
};
typedef enum mrf_status (*hqstore_rule_fn)(void *arg, const struct hq_rule_row *r);
/* Rows of post for year (every year if 0) that query q finds; with id, only that grant's
 * (HQRULE_NOT_CHOSEN, HQRULE_REMOVED_PARTNER). */
enum mrf_status hqstore_rule_scan(struct hqstore *s, enum hq_rule_query q, const char *post,
                                  int year, const uint8_t *id, hqstore_rule_fn fn, void *arg);
/* The open record of (post, rule, subject). OUT: *c and *found (0 if none is open). */
enum mrf_status hqstore_conflict_find_open(struct hqstore *s, const char *post, const char *rule,
                                           const char *subject, struct hq_conflict *c, int *found);
/* The record of (post, rule, subject) closed last. OUT: *c and *found (0 if none). */
enum mrf_status hqstore_conflict_last_closed(struct hqstore *s, const char *post, const char *rule,
                                             const char *subject, struct hq_conflict *c,
                                             int *found);
/* A grant's status by code ("" if no such grant). */
enum mrf_status hqstore_grant_status(struct hqstore *s, const char *post, const char *code,
                                     char status[16]);

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

/* ---- report (hqstore_report.c) ------------------------------------------------------------ */

/* The consolidated figures of `mrf-hq report`, aggregated by the store (GROUP BY), so the cost
 * grows with the number of groups, not of grants. Amounts are int64 cents in their own
 * currency, never converted. Grants count when not removed and complete (year, amount,
 * currency and status present); "committed" sums committed, disbursed and closed grants (as
 * the post's `mrf allocation` does), "disbursed" sums disbursed and closed ones; cancelled
 * grants count in neither, nor in grants or partners (they appear only by status). Only rows
 * of posts in HQ's posts table count. Every query takes post (NULL: all) and year (0: all). */
enum hqstore_report_query {
    HQR_POSTS,       /* per post: kind, last accepted change set (at; 0 never), open conflicts */
    HQR_ALLOCATION,  /* per post, year, currency: amount */
    HQR_POST_YEAR,   /* per post, year, currency: committed, disbursed, grants, partners */
    HQR_POST_THEME,  /* per post, year, theme, currency: committed, disbursed, grants, partners */
    HQR_STATUS,      /* per post, year, status, currency: amount, grants, partners (all statuses) */
    HQR_THEME_POSTS, /* per year, theme: posts that chose it (posts) */
    HQR_POST_THEMES, /* per post, year: themes chosen (themes, and their codes in theme) */
    HQR_QUERY_COUNT
};

/* One row of a report query; fields a query does not fill are 0 or "". */
struct hq_report_row {
    char post[16];
    char kind[16]; /* HQR_POSTS */
    int year;
    char theme[64];  /* a theme code; HQR_POST_THEMES: the codes, space-separated */
    char status[16]; /* HQR_STATUS */
    char currency[4];
    int64_t amount; /* HQR_ALLOCATION: the allocation; HQR_STATUS: the sum of the grants */
    int64_t committed;
    int64_t disbursed;
    int64_t grants;
    int64_t partners; /* distinct partners of the grants counted */
    int64_t posts;
    int64_t themes;
    int64_t conflicts; /* open conflict records */
    int64_t at;        /* last accepted change set, Unix seconds; 0 if never */
};
typedef enum mrf_status (*hqstore_report_fn)(void *arg, const struct hq_report_row *r);
/* Runs query q for post (NULL: all) and year (0: all) and calls fn for each row, in the order
 * the query names (post, year, theme or status, currency; themes and statuses in their code's
 * alphabetical and lifecycle order); stops at (and returns) the first status fn returns that is
 * not MRF_OK. MRF_E_IO with the message on s if the store fails, also for an amount sum that
 * overflows 64 bits. */
enum mrf_status hqstore_report_scan(struct hqstore *s, enum hqstore_report_query q,
                                    const char *post, int year, hqstore_report_fn fn, void *arg);

/* ---- the officer key and wipe orders (hqstore_wipe.c) ------------------------------------- */

/* OUT: pk and *has (0 and zeros if HQ has no officer key yet). */
enum mrf_status hqstore_officer_get(struct hqstore *s, uint8_t pk[MRF_SIGN_PK], int *has);
/* Records the officer's public key; MRF_E_STATE if there is one already. */
enum mrf_status hqstore_officer_set(struct hqstore *s, const uint8_t pk[MRF_SIGN_PK], int64_t now);
/* Notes that the enrollment token_id (stored already) carried the officer key. */
enum mrf_status hqstore_officer_token_add(struct hqstore *s, const uint8_t token_id[MRF_ID]);
/* OUT: *has 1 if device enrolled with a token that carried the officer key (it can check a
 * wipe order), else 0. */
enum mrf_status hqstore_device_has_officer(struct hqstore *s, const uint8_t device[MRF_ID],
                                           int *has);
/* Stores the officer-signed order for device (one per device: MRF_E_STATE if it has one). */
enum mrf_status hqstore_wipe_order_put(struct hqstore *s, const uint8_t device[MRF_ID],
                                       const char *post, const uint8_t order[WIPE_ORDER_LEN],
                                       int64_t issued, int64_t now);
/* OUT: order and *found. With now > 0, notes the first time it is handed out (relayed). */
enum mrf_status hqstore_wipe_order_get(struct hqstore *s, const uint8_t device[MRF_ID],
                                       uint8_t order[WIPE_ORDER_LEN], int *found, int64_t now);
/* ---- the posts' key rings (hqstore_keyring.c) ---------------------------------------------- */

/* The post key announcement HQ kept for (post, epoch). OUT: *a. MRF_E_NOTFOUND if none. */
enum mrf_status hqstore_postkey_get(struct hqstore *s, const char *post, uint32_t epoch,
                                    struct postkey_ann *a);
/* Keeps a unless the post has an announcement for its epoch already (the first one stays).
 * OUT: *stored. */
enum mrf_status hqstore_postkey_put(struct hqstore *s, const struct postkey_ann *a, int64_t now,
                                    int *stored);
/* The post's latest epoch, 0 if it has no post key yet. */
enum mrf_status hqstore_postkey_latest(struct hqstore *s, const char *post, uint32_t *epoch);
typedef enum mrf_status (*hqstore_postkey_fn)(void *arg, const struct postkey_ann *a);
/* Every announcement of post, by epoch. */
enum mrf_status hqstore_postkey_scan(struct hqstore *s, const char *post, hqstore_postkey_fn fn,
                                     void *arg);
/* Keeps g unless its approver's grant of its epoch for its target is kept already.
 * OUT: *stored. */
enum mrf_status hqstore_postgrant_put(struct hqstore *s, const struct postkey_grant *g, int64_t now,
                                      int *stored);
/* Whether device holds the post key of epoch as far as HQ knows: it made it, or HQ keeps a
 * grant of it for the device. OUT: *holds. */
enum mrf_status hqstore_postgrant_holds(struct hqstore *s, const char *post, uint32_t epoch,
                                        const uint8_t device[MRF_ID], int *holds);
typedef enum mrf_status (*hqstore_postgrant_fn)(void *arg, const struct postkey_grant *g);
/* The grants of post for target, by epoch. */
enum mrf_status hqstore_postgrant_scan(struct hqstore *s, const char *post,
                                       const uint8_t target[MRF_ID], hqstore_postgrant_fn fn,
                                       void *arg);

/* ---- what the dashboard reads (hqstore_view.c) -------------------------------------------- */

/* Begins a read transaction: the queries until hqstore_rollback see one state of the store,
 * and writers are not blocked. */
enum mrf_status hqstore_begin_read(struct hqstore *s);
/* A change set HQ quarantined for its content, and HQ's reason. */
struct hq_quarantined {
    uint8_t changeset[MRF_ID];
    uint8_t device[MRF_ID];
    int64_t at; /* received, Unix seconds */
    char reason[128];
};
typedef enum mrf_status (*hqstore_quarantined_fn)(void *arg, const struct hq_quarantined *q);
/* The newest `limit` quarantined change sets of post (all posts if NULL), newest first. */
enum mrf_status hqstore_quarantined_list(struct hqstore *s, const char *post, int limit,
                                         hqstore_quarantined_fn fn, void *arg);

#endif

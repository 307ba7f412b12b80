/* sync — what the post client and HQ share: the fund's domain rules (themes, money, dates,
 * grant status, short codes), hybrid logical clocks, the description of every synced table and
 * column, change capture into the outbox, and enrollment tokens.
 *
 * Capture contract: every synced write goes through capture_set_*() inside a capture_begin() /
 * capture_commit() transaction, which writes the column, its per-column clock and the outbox
 * entry together, so a crash never leaves a write without its change or a change without its
 * write. A capture handle is used by one thread at a time. Functions return a status; the
 * message is on the handle (capture_errmsg) or in the caller's struct mrf_error. */
#ifndef MRF_SYNC_H
#define MRF_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "common.h"
#include "mrfcrypto.h"

/* ---- domain rules ------------------------------------------------------------------------ */

#define THEME_COUNT 6
#define THEMES_PER_YEAR_MAX 2
/* Index of a theme code (FOE, WGR, LGBTIQ, FORB, HRD, ACC; case-insensitive), or -1. */
int theme_index(const char *code);
const char *theme_code(int idx);
const char *theme_title(int idx);

#define YEAR_MIN 2000
#define YEAR_MAX 2100
enum mrf_status year_parse(const char *s, int *year, struct mrf_error *err);

/* Amounts are typed as decimals ("12500", "12500.5", "12500.00"): positive, at most two
 * decimals, at most MONEY_MAX_CENTS. */
#define MONEY_MAX_CENTS 100000000000LL /* 1,000,000,000.00 */
enum mrf_status money_parse(const char *s, int64_t *cents, struct mrf_error *err);
/* "12500.00"; out must hold 32 bytes. */
void money_format(int64_t cents, char out[32]);
/* Three upper-case letters (ISO 4217 form); lower case is accepted and upper-cased into out. */
enum mrf_status currency_parse(const char *s, char out[4], struct mrf_error *err);

/* An ISO date YYYY-MM-DD that exists in the calendar. */
enum mrf_status date_parse(const char *s, struct mrf_error *err);

enum grant_status { GS_DRAFT, GS_COMMITTED, GS_DISBURSED, GS_CLOSED, GS_CANCELLED, GS_COUNT };
/* -1 if unknown. */
int grant_status_parse(const char *s);
const char *grant_status_str(enum grant_status st);
/* Forward only: draft → committed → disbursed → closed (skipping ahead allowed), cancelled from
 * draft or committed. Staying put is allowed. */
int grant_status_can_move(enum grant_status from, enum grant_status to);
/* Statuses whose amounts count as committed against the allocation. */
int grant_status_commits(enum grant_status st);

/* -1 if unknown: low, medium, high. */
int risk_parse(const char *s);
const char *risk_str(int risk);

/* Post codes: 2–12 characters, upper-case letters, digits and '-', starting with a letter. */
enum mrf_status post_code_parse(const char *s, char out[16], struct mrf_error *err);

/* Short codes people see: prefix "PX" or "G", a dash, 6 Crockford base32 characters taken from
 * the first 30 bits of the row id. out must hold 16 bytes. */
void shortcode_make(const char *prefix, const uint8_t id[MRF_ID], char out[16]);
/* Normalises a typed code (upper case, O→0, I/L→1) into out; MRF_E_INVALID if malformed. */
enum mrf_status shortcode_parse(const char *prefix, const char *s, char out[16],
                                struct mrf_error *err);

/* Deterministic ids for rows that are keyed by meaning, so that two devices choosing the same
 * theme for the same year, or HQ allocating twice, write the same row:
 * BLAKE2b-128 over "mrf-row|<table>|<post>|<year>|<theme or empty>". */
void row_id_derive(uint8_t out[MRF_ID], const char *table, const char *post, int year,
                   const char *theme);

/* ---- hybrid logical clocks --------------------------------------------------------------- */

/* 48 bits of physical milliseconds, 16 bits of counter. Totally ordered with the device id as
 * tie-break (hlc_cmp). A clock never goes backwards and moves past every clock received. */
typedef uint64_t hlc_t;
#define HLC_COUNTER_BITS 16
hlc_t hlc_make(uint64_t ms, uint32_t counter);
uint64_t hlc_ms(hlc_t c);
/* The next local clock after last, given the wall clock now_ms. */
hlc_t hlc_tick(hlc_t last, uint64_t now_ms);
/* The next local clock after last that is also past remote. */
hlc_t hlc_recv(hlc_t last, hlc_t remote, uint64_t now_ms);
/* Orders (a, da) against (b, db): <0, 0, >0. Device ids are MRF_ID bytes. */
int hlc_cmp(hlc_t a, const uint8_t *da, hlc_t b, const uint8_t *db);
/* 16 lower-case hex digits; out must hold 17 bytes. */
void hlc_to_hex(hlc_t c, char out[17]);
enum mrf_status hlc_from_hex(const char *s, hlc_t *out);

/* ---- synced tables ----------------------------------------------------------------------- */

enum sync_table { ST_THEMES, ST_PARTNERS, ST_GRANTS, ST_ALLOCATIONS, ST_COUNT };

enum sync_type { SYNC_INT, SYNC_TEXT, SYNC_BLOB };

struct sync_column {
    const char *name;
    enum sync_type type;
    int watched; /* money, status or theme: concurrent writes open a conflict at HQ */
    int sealed;  /* holds a sealed field (identity or note) */
};

struct sync_table_desc {
    const char *name;        /* SQL table name, same in both stores */
    const char *code_prefix; /* short-code prefix, or NULL */
    int ncols;
    const struct sync_column *cols; /* synced columns; index = column id on the wire */
};

const struct sync_table_desc *sync_table_get(enum sync_table t);
/* -1 if unknown. */
int sync_table_find(const char *name);
int sync_column_find(enum sync_table t, const char *name);

/* ---- capture ----------------------------------------------------------------------------- */

struct capture;

/* Prepares capture on a post store opened by schema_open(SCHEMA_POST). The device id and post
 * code are read from meta; MRF_E_STATE if the store is not initialised. */
enum mrf_status capture_new(sqlite3 *db, struct capture **out, struct mrf_error *err);
void capture_free(struct capture *c);
const char *capture_errmsg(const struct capture *c);

/* BEGIN IMMEDIATE and load the clock; commit stores the clock and commits; rollback undoes all
 * since begin (also safe when nothing was begun). */
enum mrf_status capture_begin(struct capture *c);
enum mrf_status capture_commit(struct capture *c);
void capture_rollback(struct capture *c);

/* Creates row id in table t for this post if it does not exist (with its short code). */
enum mrf_status capture_row(struct capture *c, enum sync_table t, const uint8_t id[MRF_ID]);

/* Writes one column of one row: the value, the column's clock, and the outbox entry (coalesced
 * with a pending unsent entry for the same column, which keeps the clock it replaced). */
enum mrf_status capture_set_int(struct capture *c, enum sync_table t, const uint8_t id[MRF_ID],
                                int col, int64_t v);
enum mrf_status capture_set_text(struct capture *c, enum sync_table t, const uint8_t id[MRF_ID],
                                 int col, const char *v);
enum mrf_status capture_set_blob(struct capture *c, enum sync_table t, const uint8_t id[MRF_ID],
                                 int col, const uint8_t *v, size_t n);
enum mrf_status capture_set_null(struct capture *c, enum sync_table t, const uint8_t id[MRF_ID],
                                 int col);

/* Unsent entries in the outbox. */
enum mrf_status capture_pending(sqlite3 *db, int64_t *count, struct mrf_error *err);

/* ---- enrollment tokens ------------------------------------------------------------------- */

/* A one-time device token: "mrf1." base64url(JSON payload) "." base64url(Ed25519 signature by
 * HQ's signing key over the payload). The signature catches a token garbled in transit; trust
 * in the HQ key itself comes from comparing its fingerprint by phone. */
#define TOKEN_MAX_LEN 2048
struct enroll_token {
    int version; /* 1 */
    char url[256];
    char tls_pin[128]; /* "sha256//<base64 of SHA-256 of the SubjectPublicKeyInfo>" */
    struct mrf_pubkeys hq;
    uint8_t escrow_pk[MRF_BOX_PK];
    char post[16];
    uint8_t token_id[MRF_ID];
    uint8_t secret[MRF_SECRET];
    int64_t expires; /* Unix seconds */
};

/* *out owned by the caller (x_free). */
enum mrf_status token_encode(const struct enroll_token *t, const uint8_t sign_sk[MRF_SIGN_SK],
                             char **out, struct mrf_error *err);
/* Parses and checks form, sizes and signature (not expiry). On failure *t is zeroed and err
 * names what is wrong without echoing the token. */
enum mrf_status token_decode(const char *s, struct enroll_token *t, struct mrf_error *err);
/* Wipes the secret. */
void token_wipe(struct enroll_token *t);

#endif

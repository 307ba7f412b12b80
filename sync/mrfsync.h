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

#include <cjson/cJSON.h>
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
 * tie-break (hlc_cmp). A clock never goes backwards and moves past every clock received.
 * Clocks are unsigned: compare them in C (hlc_cmp, hlc_max), never with SQL's signed max() or
 * <, since SQLite stores them in signed integers. They saturate at HLC_MAX, never wrap. */
typedef uint64_t hlc_t;
#define HLC_COUNTER_BITS 16
#define HLC_MAX UINT64_MAX
/* How far ahead of HQ's wall clock a clock may be and still count as it is: a day. HQ applies
 * an op past that at a clock of its own (DECISIONS.md, "Clocks"). */
#define HLC_AHEAD_MAX_MS (24u * 3600u * 1000u)
/* Milliseconds past 48 bits saturate. */
hlc_t hlc_make(uint64_t ms, uint32_t counter);
uint64_t hlc_ms(hlc_t c);
/* The next local clock after last, given the wall clock now_ms (HLC_MAX stays HLC_MAX). */
hlc_t hlc_tick(hlc_t last, uint64_t now_ms);
/* The next local clock after last that is also past remote. */
hlc_t hlc_recv(hlc_t last, hlc_t remote, uint64_t now_ms);
/* The largest clock HQ takes as it is when its wall clock reads now_ms. */
hlc_t hlc_bound(uint64_t now_ms);
/* HQ's next clock: as hlc_tick, but a last clock past hlc_bound(now_ms) (one a store kept from
 * before clocks were bounded) counts as the bound, so HQ's clock never runs away. */
hlc_t hlc_tick_bounded(hlc_t last, uint64_t now_ms);
/* The later of two clocks (unsigned). */
hlc_t hlc_max(hlc_t a, hlc_t b);
/* Orders (a, da) against (b, db): <0, 0, >0. Device ids are MRF_ID bytes. */
int hlc_cmp(hlc_t a, const uint8_t *da, hlc_t b, const uint8_t *db);
/* 16 lower-case hex digits; out must hold 17 bytes. */
void hlc_to_hex(hlc_t c, char out[17]);
enum mrf_status hlc_from_hex(const char *s, hlc_t *out);

/* ---- synced tables ----------------------------------------------------------------------- */

enum sync_table { ST_THEMES, ST_PARTNERS, ST_GRANTS, ST_ALLOCATIONS, ST_COUNT };

/* The columns of each synced table. A column's value here is its id in the clocks table, the
 * outbox and on the wire: append only (before *_NCOLS), never reorder. sync/tables.c describes
 * each one (name, type, kind) in the same order. */
enum theme_col { THEME_YEAR, THEME_THEME, THEME_REMOVED, THEME_NCOLS };
enum partner_col {
    PARTNER_NAME,
    PARTNER_CONTACT,
    PARTNER_PHONE,
    PARTNER_EMAIL,
    PARTNER_ADDRESS,
    PARTNER_BANK,
    PARTNER_NOTE,
    PARTNER_RISK,
    PARTNER_REMOVED,
    PARTNER_NCOLS
};
enum grant_col {
    GRANT_PARTNER,
    GRANT_THEME,
    GRANT_YEAR,
    GRANT_AMOUNT,
    GRANT_CURRENCY,
    GRANT_STATUS,
    GRANT_START,
    GRANT_END,
    GRANT_NOTE,
    GRANT_REMOVED,
    GRANT_NCOLS
};
enum alloc_col { ALLOC_YEAR, ALLOC_AMOUNT, ALLOC_CURRENCY, ALLOC_NCOLS };

enum sync_type { SYNC_INT, SYNC_TEXT, SYNC_BLOB };

/* What a column holds; it decides the check a value must pass (sync_column_check). */
enum col_kind {
    CK_PLAIN,    /* nothing beyond its type */
    CK_YEAR,     /* YEAR_MIN..YEAR_MAX */
    CK_THEME,    /* a theme code as theme_code() spells it */
    CK_MONEY,    /* cents, 1..MONEY_MAX_CENTS */
    CK_CURRENCY, /* three capital letters */
    CK_STATUS,   /* a grant status (grant_status_parse) */
    CK_DATE,     /* YYYY-MM-DD, a day of the calendar */
    CK_RISK,     /* low, medium or high (risk_parse) */
    CK_REF,      /* the id of another row (MRF_ID bytes) */
    CK_FLAG,     /* 0 or 1 */
    CK_SEALED,   /* a sealed field (identity or note): only its recipients can look inside */
    CK_COUNT
};

struct sync_column {
    const char *name; /* SQL column name, same in both stores */
    enum sync_type type;
    enum col_kind kind;
    int watched;  /* concurrent writes open a conflict at HQ (money, status, theme, ...) */
    int nullable; /* may be emptied (NULL); a required column may not */
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
/* Column col of table t, or NULL if there is no such column. */
const struct sync_column *sync_column_get(enum sync_table t, int col);
/* 1 if column col of table t holds a sealed field (kind CK_SEALED), else 0. */
int sync_column_sealed(enum sync_table t, int col);
/* 1 if a new row of table t cannot be without column col: a required column (not nullable)
 * with no default in the stores (the removal flag has one, 0). A device writes every such
 * column when it creates a row, in one transaction; HQ refuses a change set that names a row
 * it does not have without them (docs/DECISIONS.md, "Volume bounds per device"). */
int sync_column_needed(enum sync_table t, int col);

struct sync_value; /* below, with the ops */

/* The fund's rules for one value of column col of table t: NULL if it may be stored, else a
 * short reason ("year out of range", "a required value is empty", ...) naming no value.
 * Sealed values are checked by their frame only (sealed_frame_check): nobody but their
 * recipients can, or may, look inside. Who may write a table is the caller's rule. */
const char *sync_column_check(enum sync_table t, int col, const struct sync_value *v);

/* The associated data that binds a sealed field to its place, "<table>/<row id hex>/<column>"
 * (NUL-terminated), so a sealed blob copied to another row or column does not open. The bytes
 * are part of every sealed field ever written: never change them. */
#define SYNC_AAD_MAX 96
void sync_field_aad(enum sync_table t, const uint8_t id[MRF_ID], int col, char out[SYNC_AAD_MAX]);

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

/* Writes one column of one row through the merge (creating the row if it is missing): the
 * value, the column's clock, and the outbox entry (coalesced with a pending unsent entry for
 * the same column, which keeps the clock it replaced). */
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

/* ---- ops, merge ---------------------------------------------------------------------------- */

/* One column value. text and blob point into storage owned elsewhere (see sync_op.owned). */
struct sync_value {
    enum sync_type type;
    int is_null;
    int64_t i;
    const char *text;
    const uint8_t *blob;
    size_t n;
};

/* Binds v to parameter idx of s (text and blobs are not copied: keep v alive until the step). */
void sync_value_bind(sqlite3_stmt *s, int idx, const struct sync_value *v);
/* Reads column col of s's current row as a value of the given type; text and blobs point into
 * the row (valid until the next step or reset). A NULL column gives is_null. */
void sync_value_column(sqlite3_stmt *s, int col, enum sync_type type, struct sync_value *v);

/* One column write as it travels: the value, the clock and writer of the write, and the clock
 * and writer of the value it replaced (0 / none for a first write). */
struct sync_op {
    enum sync_table tbl;
    uint8_t id[MRF_ID];
    int col;
    struct sync_value v;
    hlc_t clock;
    uint8_t device[MRF_ID];
    hlc_t prev_clock;
    int has_prev_device;
    uint8_t prev_device[MRF_ID];
    uint8_t *owned; /* decoded blob storage, freed by sync_op_release */
};
void sync_op_release(struct sync_op *op);

/* The per-column merge both sides run (DESIGN §5): last writer wins by (clock, device);
 * removal is a column like any other. Rows belong to their post: every row and clock is found
 * by (post, id), so an op applied for one post never reads, changes or reveals a row of
 * another. Runs on any store with the domain tables and their column clocks, packed in
 * clock_rows (the post store) or in the rows themselves (the HQ store, version 10), inside the
 * caller's transaction. merge_new fails only if it cannot read the store's schema. */
struct merge;
enum mrf_status merge_new(sqlite3 *db, struct merge **out, struct mrf_error *err);
void merge_free(struct merge *m);

enum merge_outcome {
    MERGE_APPLIED, /* the op is newer than the column: value and clock written */
    MERGE_STALE    /* the column already holds a newer write: nothing written */
};
/* Applies op to its row in post, creating the row (with its short code) if it is missing.
 * MRF_E_RULE if the store holds the id under another post (possible only where ids are the
 * key: a device's store); MRF_E_IO if the store fails. OUT: *out. */
enum mrf_status merge_apply(struct merge *m, const char *post, const struct sync_op *op,
                            enum merge_outcome *out, struct mrf_error *err);
/* The same, telling what the column held before: the clock and writer of its last write
 * (found 0 if it was never written), whether or not op won; and the row's number (its
 * rowid, rn) where the store numbers its rows (HQ's, version 11: what its oplog names the row
 * by), else 0. */
struct merge_prior {
    int found;
    hlc_t clock;
    uint8_t device[MRF_ID];
    sqlite3_int64 row;
};
/* known: the row's number if the caller read it in this transaction, 0 if not (a store
 * that numbers its rows then reads the row by it; a number that does not name (post, id)'s
 * row is not used). */
enum mrf_status merge_apply_prior(struct merge *m, const char *post, const struct sync_op *op,
                                  sqlite3_int64 known, enum merge_outcome *out,
                                  struct merge_prior *prior, struct mrf_error *err);
/* The clock and writer of a column's last write in post. OUT: *found 0 (and *clock 0) if the
 * column was never written. */
enum mrf_status merge_clock(struct merge *m, const char *post, enum sync_table t,
                            const uint8_t id[MRF_ID], int col, hlc_t *clock, uint8_t device[MRF_ID],
                            int *found, struct mrf_error *err);
/* Sets the clock of a column's last write to clock if it is still (old, device): how a device
 * takes the clock HQ gave its own skewed write. OUT: *changed. */
enum mrf_status merge_restamp(struct merge *m, const char *post, enum sync_table t,
                              const uint8_t id[MRF_ID], int col, hlc_t old,
                              const uint8_t device[MRF_ID], hlc_t clock, int *changed,
                              struct mrf_error *err);
/* Forgets what merge_apply remembers about rows it created or checked and the writers' numbers
 * it met (a number given in a rolled-back transaction names nobody); call after a rollback,
 * and before a transaction in which the merge may meet rows another connection wrote since
 * (what it remembers of a row it created holds only until then). */
void merge_forget(struct merge *m);
/* The number the store's writers table gives device (given it on first use), the one the
 * merge writes beside a column it applies; remembered like the merge's own. */
enum mrf_status merge_writer(struct merge *m, const uint8_t device[MRF_ID], sqlite3_int64 *n,
                             struct mrf_error *err);

/* ---- change sets: JSON (sync/changeset.c, the one place their JSON is written and read) -- */

/* The plaintext of an envelope is JSON (before zstd). A request (device → HQ):
 *   {"v":2,"cursor":N,"ccursor":N,"seen":N,"enroll":{"secret":"<b64url>"},"ops":[OP,...]}
 * ("enroll" only in a device's first change sets, before HQ has accepted it; "ccursor", the
 * device's cursor in its post's sequence of conflict records, only when it is past 0: absent
 * means 0; "seen", the least post sequence its ops were written at, only when it is below
 * "cursor" (an earlier change set of the same sync pulled meanwhile): absent means "cursor";
 * HQ reads concurrency against it). An answer (HQ → device):
 *   {"v":2,"ack":{"id":"<hex>","verdict":"accepted"|"quarantined","reason":"...",
 *                 "restamp":{"above":"<clock hex>","to":"<clock hex>"}},
 *    "time":MS,"ops":[OP,...],"cursor":N,
 *    "audit":{"seq":N,"hash":"<64 hex>","sig":"<b64url>"},
 *    "conflicts":[REC,...],"ccursor":N,"more":true|false}
 * ("restamp" only when HQ applied some of the change set's ops at a clock of its own: those
 * whose clock was past "above", more than a day ahead of HQ's wall clock, now carry "to";
 * "time" is HQ's wall clock in Unix milliseconds; "audit", HQ's signed audit head, when HQ
 * gives one; "conflicts" with "ccursor", the page of the post's conflict records changed after
 * the request's "ccursor" and the record sequence number it reaches (REC: see struct
 * cs_conflict), when HQ sends records at all. "more" is true while HQ has more ops or more
 * records for the device: it asks again.) The cursor is the post's own sequence at HQ.
 * Version 1 is the same without "restamp", "time", "audit", "conflicts" and "ccursor" (in
 * either direction), with a cursor in HQ's global sequence; HQ still reads version-1 requests
 * and answers them in version 1. A reader ignores members it does not know.
 * OPS in versions 1 and 2 is a list of OP, one per column write: [table, "<row id hex>",
 * column, value, "<clock hex>"] and, in a request, optionally "<prev clock hex>",
 * "<prev device hex>"; in an answer the writer follows the clock:
 * [table, id, column, value, clock, "<device hex>"].
 * Version 3 (docs/DECISIONS.md, "Wire version 3") writes the same ops row-shaped: OPS is a list
 * of ROW = [table, "<row id hex>", COL, COL, ...], one ROW for each run of consecutive ops of
 * one row (at least one COL each), COL = [column, value, CLOCK] and, in a request, optionally
 * PREV and then WRITER (the previous clock and writer); in an answer [column, value, CLOCK,
 * WRITER]. A CLOCK is "<16 hex>" or an integer offset (|d| <= 2^53) from the clock of the op
 * before it in the body (0 before the first); a PREV is "<16 hex>" or an offset from its op's
 * own clock; a WRITER is "<32 hex>", which also takes the next index of the body's writers
 * while fewer than CS_WRITERS_MAX are named, or the integer index of one named before. A
 * reader turns a body of either form into the same ops in the same order, with the same
 * checks. Values are JSON integers, strings, base64url strings for blobs, or null. A request's
 * ops are the sender's own writes; devices write version 3.
 *
 * Bounds (docs/DECISIONS.md, "Wire version 3"): a device cuts a
 * change set, and HQ a page, when the zstd estimate of its body reaches CHANGESET_WIRE_TARGET,
 * or its JSON CHANGESET_TARGET, or its ops CHANGESET_OPS_MAX (a change set) or
 * CHANGESET_PAGE_OPS (a page). Either side decompresses at most WIRE_JSON_MAX bytes and parses
 * at most WIRE_JSON_NODES values (wire_json_parse), so the memory one body costs its reader is
 * bounded whatever its sender wrote: the JSON (8 MiB), its parsed strings (at most as much) and
 * 64 bytes per value (24 MiB): about 40 MiB, where version 2's 1 MiB of JSON with no value
 * bound could cost some 34 MiB (a value every two bytes). A page of CHANGESET_PAGE_OPS ops holds
 * at most 8 values per op in any version (262,144), well inside the bound. */
#define WIRE_VERSION 3
#define WIRE_VERSION_MIN 1    /* the oldest request HQ reads */
#define WIRE_VERSION_ANSWER 2 /* the oldest answer a device reads (a pouch's answer in flight) */
#define CHANGESET_WIRE_TARGET (256u * 1024u)  /* zstd bytes a change set or page is cut at */
#define CHANGESET_TARGET (4u * 1024u * 1024u) /* bytes of JSON a change set or page is cut at */
/* The most ops a device cuts into one change set; HQ's per-change-set bound is never set below
 * it. 1,000 new grants (7,000 ops) go in one. */
#define CHANGESET_OPS_MAX 8000
/* A page for a request of version 1 or 2 is cut as those devices cut and read it: at this much
 * JSON, nothing else (they decompress at most 1 MiB). */
#define CHANGESET_TARGET_V2 (256u * 1024u)
#define CHANGESET_PAGE_OPS 32768           /* the most ops of one answer page */
#define WIRE_JSON_MAX (8u * 1024u * 1024u) /* the most JSON either side decompresses */
#define WIRE_JSON_NODES 393216u            /* the most JSON values either side parses */
#define CS_WRITERS_MAX 64                  /* writers a version-3 body names by index */

/* Parses a body of exactly len bytes of JSON (trailing bytes refused). An escaped NUL
 * (\u0000) is refused too: cJSON would decode it into a string that C then reads cut short;
 * so is a body of more than WIRE_JSON_NODES values (counted before cJSON allocates any).
 * NULL if the body is not acceptable; otherwise the caller frees with cJSON_Delete. */
cJSON *wire_json_parse(const char *text, size_t len);

/* Appends a value as an op carries it (integer, string, base64url string, null) to b. */
enum mrf_status sync_value_to_json(const struct sync_value *v, struct buf *b);
/* Reads such a value of column (t, col) from JSON text into op->v (op->tbl, op->col set; text
 * and blobs owned by op: sync_op_release). MRF_E_INVALID if it is not one. */
enum mrf_status sync_value_from_json(const char *json, enum sync_table t, int col,
                                     struct sync_op *op, struct mrf_error *err);
/* Appends op as JSON to b in the per-op form of versions 1 and 2; with_device: the answer form
 * (writer after the clock), else the request form (previous clock and writer if any).
 * MRF_E_TOOBIG if b's cap is reached. */
enum mrf_status op_to_json(const struct sync_op *op, int with_device, struct buf *b);
/* Parses one OP of the per-op form (versions 1 and 2). In the request form the writer is set to
 * sender. Checks table, column, id, clocks and the value's type against the column; MRF_E_INVALID
 * with a message otherwise. Text values point into the cJSON tree (keep it alive); blobs are
 * decoded into op->owned. */
enum mrf_status op_from_json(const cJSON *j, int with_device, const uint8_t sender[MRF_ID],
                             struct sync_op *op, struct mrf_error *err);
/* Appends op in the per-op form to a list of *n ops being written into b (a comma first
 * unless it is the first) and counts it. MRF_E_TOOBIG if b's cap is reached; b is then as it
 * was. */
enum mrf_status changeset_put_op(struct buf *b, int64_t *n, const struct sync_op *op,
                                 int with_device);

/* Writes the ops of one body in its version's form (per-op before 3, row-shaped from 3),
 * with the state version 3 carries from op to op: the open row, the last clock, the writers
 * named. Nothing to release. */
struct cs_writer {
    int version;
    int with_device;     /* the answer form */
    int64_t n;           /* ops written */
    int in_row;          /* version 3: a row is open; its closing ']' is b's last byte */
    enum sync_table tbl; /* ... and its table and id */
    uint8_t id[MRF_ID];
    hlc_t last; /* the clock of the last op written (0 before the first) */
    int nwriters;
    uint8_t writers[CS_WRITERS_MAX][MRF_ID];
};
/* Where a body stood, to go back to it (changeset_writer_rewind). */
struct cs_mark {
    size_t len;
    int64_t n;
    int in_row;
    enum sync_table tbl;
    uint8_t id[MRF_ID];
    hlc_t last;
    int nwriters;
};
void changeset_writer_init(struct cs_writer *w, int version, int with_device);
/* Appends op to the ops list being written into b (after the list's '['). MRF_E_TOOBIG if b's
 * cap is reached; b and w are then as they were. */
enum mrf_status changeset_writer_put(struct cs_writer *w, struct buf *b, const struct sync_op *op);
void changeset_writer_mark(const struct cs_writer *w, const struct buf *b, struct cs_mark *m);
/* Takes b and w back to m (ops put since are gone). */
void changeset_writer_rewind(struct cs_writer *w, struct buf *b, const struct cs_mark *m);

/* Reads the ops of a body's list in its version's form, one at a time. ops may be NULL (no
 * ops). Nothing to release. */
struct cs_reader {
    int version;
    int with_device;
    const uint8_t *sender; /* the request form's writer */
    const cJSON *item;     /* the next OP (before 3) or the current ROW (3) */
    const cJSON *col;      /* version 3: the next COL of item (NULL: the row is not entered) */
    hlc_t last;
    int nwriters;
    uint8_t writers[CS_WRITERS_MAX][MRF_ID];
};
void changeset_reader_init(struct cs_reader *r, const cJSON *ops, int version, int with_device,
                           const uint8_t sender[MRF_ID]);
/* The next op into *op (as op_from_json: release it with sync_op_release). MRF_E_NOTFOUND past
 * the last; MRF_E_INVALID with a "bad_op: ..." message if it is not one, after which the reader
 * reads no further (MRF_E_NOTFOUND). */
enum mrf_status changeset_reader_next(struct cs_reader *r, struct sync_op *op,
                                      struct mrf_error *err);
/* The number of ops a list holds in a body of version (what volume bounds count), without
 * reading them: a version-3 row counts its entries past table and id. */
int64_t changeset_ops_count(const cJSON *ops, int version);

/* An estimate of the zstd size of a body as it is written (sync/envelope.c), so change sets
 * and pages are cut by their size on the wire: the bytes fed so far are compressed as a
 * stream, and the input zstd still holds counts at the ratio so far. */
struct wire_meter;
struct wire_meter *wire_meter_new(void);
void wire_meter_free(struct wire_meter *m);
/* Feeds b's bytes past those fed (after a rewind below them, nothing) and returns the
 * estimate. */
size_t wire_meter_update(struct wire_meter *m, const struct buf *b);

/* A request body: changeset_request_begin (b is reset first; version: WIRE_VERSION, or an older
 * one only to write what devices of the field send; ccursor: the device's conflict
 * record cursor, written only when past 0; seen: the least cursor its ops were written at,
 * written only when below cursor; enroll_secret NULL once HQ has accepted the device),
 * changeset_writer_put for each op, changeset_request_end. */
enum mrf_status changeset_request_begin(struct buf *b, int version, int64_t cursor, int64_t ccursor,
                                        int64_t seen, const uint8_t *enroll_secret);
enum mrf_status changeset_request_end(struct buf *b);

/* A request as HQ reads it. ops is a view into doc (NULL if "ops" is not a list: the content
 * is refused, not the request). */
struct cs_request {
    int version;
    int64_t cursor;
    int64_t ccursor;            /* the device's conflict record cursor (0 if absent) */
    int64_t seen;               /* what its ops had seen: <= cursor (the cursor if absent) */
    int has_enroll;             /* an "enroll" object is present */
    int secret_ok;              /* ... and its secret is MRF_SECRET bytes of base64url */
    uint8_t secret[MRF_SECRET]; /* wiped by changeset_request_release */
    const cJSON *ops;
    cJSON *doc;
};
/* MRF_E_INVALID with err->msg one of "bad_json", "bad_version", "bad_cursor" (also for a
 * "ccursor" that is not a count) if the body is
 * not a request this build reads; the secret inside is wiped from every copy it parsed. */
enum mrf_status changeset_request_parse(const char *json, size_t len, struct cs_request *r,
                                        struct mrf_error *err);
void changeset_request_release(struct cs_request *r);

/* HQ's acknowledgement of one change set. */
struct cs_ack {
    uint8_t id[MRF_ID];
    int quarantined;
    char reason[128];    /* why it was quarantined; "" if accepted */
    int restamped;       /* some ops were applied at HQ's clock: */
    hlc_t restamp_above; /* those with a clock past this */
    hlc_t restamp_to;    /* now carry this one */
};
/* ---- HQ's audit head and conflict records, as devices receive them ----------------------- */

/* HQ's audit head: the sequence and chain hash of the last link of HQ's audit chain, signed
 * by HQ (Ed25519 over "mrf-audit-head-v1" | u64 seq big-endian | hash). A device keeps the
 * latest it verified: proof of what HQ had acknowledged. In an answer:
 *   "audit":{"seq":N,"hash":"<hex>","sig":"<b64url>"} */
struct audit_head {
    int64_t seq;
    uint8_t hash[32];
    uint8_t sig[MRF_SIG];
};
void audit_head_sign(struct audit_head *h, const uint8_t sign_sk[MRF_SIGN_SK]);
/* MRF_OK if h->sig is HQ's signature over h; MRF_E_AUTH otherwise. */
enum mrf_status audit_head_verify(const struct audit_head *h, const uint8_t sign_pk[MRF_SIGN_PK]);

/* A conflict record as it travels to the devices of its post (hq/conflict.c builds it from
 * HQ's record; docs/DECISIONS.md, "Conflicts"). Values are display text (an amount as
 * "12500.00", a partner as its code, themes as "FOE WGR"); codes only, never an identity.
 * In an answer, "conflicts":[{"id":..,"kind":..,"rule":..,"rows":..,"detail":..,"year":N,
 * "base":..,"a":..,"b":..,"opened":T,"closed":T|null,"decision":..|null,"reason":..|null,
 * "cseq":N},...] with "ccursor":N, the post's record sequence the page reaches. Times are Unix
 * seconds; base, a and b are strings ("" for none; a reader also takes null); closed, decision
 * and reason are null while the record is open; cseq is the record's number in the post's
 * sequence of record changes (a device keeps the newest version of each record). The sizes
 * below are the caps: a longer string is refused, not cut. */
#define CS_CONFLICTS_PAGE 100 /* records per answer at most */
struct cs_conflict {
    char id[16];       /* "C-" and six Crockford base32 characters */
    char kind[16];     /* value, parallel or rule */
    char rule[24];     /* lower case and '_' (hq/hqstore.h lists them) */
    char rows[256];    /* the rows concerned, by code, for people */
    char detail[256];  /* one line for people */
    int year;          /* the post-year concerned, 0 if none */
    char base[96];     /* the value both writers replaced ("" if none) */
    char a[96];        /* side A: the value HQ held */
    char b[96];        /* side B: the value that arrived */
    int64_t opened;    /* Unix seconds */
    int64_t closed;    /* 0 while open */
    char decision[16]; /* "" while open */
    char reason[501];  /* HQ's reason for the decision, "" if none */
    int64_t cseq;
};
/* Reads one REC, checking every member's type, form and length (an answer is HQ-signed, but
 * is read defensively). MRF_E_INVALID (err says which member) otherwise; *c is then zeroed. */
enum mrf_status changeset_conflict_parse(const cJSON *j, struct cs_conflict *c,
                                         struct mrf_error *err);

/* An answer body, in this order: changeset_answer_begin (b reset first; version as the
 * request's); changeset_writer_put (a writer of that version, answer form) for each op of the
 * page; changeset_answer_ops_end with
 * the cursor the page reaches; then, in version 2 only (never in a version-1 answer), if HQ
 * has them: changeset_answer_audit, and changeset_answer_conflicts_begin,
 * changeset_put_conflict for each record of the page, changeset_answer_conflicts_end; last
 * changeset_answer_end. Each returns MRF_E_TOOBIG if b's cap is reached. */
enum mrf_status changeset_answer_begin(struct buf *b, int version, const struct cs_ack *ack,
                                       uint64_t hq_time_ms);
enum mrf_status changeset_answer_ops_end(struct buf *b, int64_t cursor);
enum mrf_status changeset_answer_audit(struct buf *b, const struct audit_head *h);
enum mrf_status changeset_answer_conflicts_begin(struct buf *b);
/* Appends record c to the page of *n records (a comma first unless it is the first) and counts
 * it. MRF_E_TOOBIG once the page holds CS_CONFLICTS_PAGE records or b's cap is reached; b is
 * then as it was, and the caller says "more". */
enum mrf_status changeset_put_conflict(struct buf *b, int64_t *n, const struct cs_conflict *c);
enum mrf_status changeset_answer_conflicts_end(struct buf *b, int64_t ccursor);
enum mrf_status changeset_answer_end(struct buf *b, int more);

/* An answer as the device reads it (versions WIRE_VERSION_ANSWER to WIRE_VERSION; its ops with
 * a changeset_reader of its version). ops and conflicts are views into doc; each record is
 * read with changeset_conflict_parse. */
struct cs_answer {
    int version;
    struct cs_ack ack;
    uint64_t hq_time_ms;
    int64_t cursor;
    int more;
    const cJSON *ops;
    int has_audit;           /* an audit head is present and well-formed (not yet verified) */
    struct audit_head audit; /* ... that head */
    const cJSON *conflicts;  /* NULL if HQ sent no records; else at most CS_CONFLICTS_PAGE */
    int64_t ccursor;         /* with conflicts: the record sequence the page reaches */
    cJSON *doc;
};
/* MRF_E_INVALID if the body is not such an answer (an "audit" that is not a sequence, a
 * 32-byte hash and a signature; "conflicts" that is not a list of at most CS_CONFLICTS_PAGE,
 * or comes without "ccursor"). The audit head's signature is the caller's to verify. */
enum mrf_status changeset_answer_parse(const char *json, size_t len, struct cs_answer *a,
                                       struct mrf_error *err);
void changeset_answer_release(struct cs_answer *a);

/* ---- envelopes --------------------------------------------------------------------------- */

/* An envelope carries one JSON body, zstd-compressed, encrypted with XChaCha20-Poly1305 under
 * the X25519 key shared by the sender's box secret and the receiver's box public key, with
 * the header as associated data, and signed (Ed25519) by the sender over header and
 * ciphertext. Layout, all integers big-endian:
 *   "MRFE" | u8 version=1 | u8 kind | u8 flags | u8 0 | sender[16] | changeset[16] |
 *   post[16] (NUL-padded) | nonce[24] | u32 ciphertext length                      (84 bytes)
 *   [flags & ENV_F_ENROLL: token_id[16] | sign_pk[32] | box_pk[32]]                 (80 bytes)
 *   ciphertext | signature[64]
 * The total length must match exactly before anything is allocated or decrypted. */
#define ENV_MAGIC "MRFE"
#define ENV_VERSION 1
#define ENV_HEADER 84
#define ENV_ENROLL_EXT 80
#define ENV_MAX (2u * 1024u * 1024u) /* the largest envelope either side accepts */

enum env_kind { ENV_REQUEST = 1, ENV_RESPONSE = 2 };
#define ENV_F_ENROLL 1u /* a new device's first change set: its keys travel in the header */

struct envelope {
    int kind;
    unsigned flags;
    uint8_t sender[MRF_ID];    /* device id, or HQ's writer id in a response */
    uint8_t changeset[MRF_ID]; /* the change set id; a response repeats the request's */
    char post[16];
    uint8_t token_id[MRF_ID]; /* enroll only */
    struct mrf_pubkeys keys;  /* enroll only: the new device's public keys */
    /* Set by envelope_parse: views into the caller's bytes. */
    const uint8_t *raw;
    size_t raw_len;
    size_t head_len; /* header (and enroll extension) */
    const uint8_t *ct;
    size_t ct_len;
    const uint8_t *sig;
};

/* Compresses, encrypts and signs json into out (reset first). */
enum mrf_status envelope_seal(const struct envelope *h, const char *json, size_t len,
                              const struct mrf_secrets *me, const uint8_t peer_box_pk[MRF_BOX_PK],
                              struct buf *out, struct mrf_error *err);
/* Checks magic, version, kind and lengths and fills h with views into p (no allocation).
 * MRF_E_INVALID (message: a short reason) if malformed; MRF_E_TOOBIG past ENV_MAX. */
enum mrf_status envelope_parse(const uint8_t *p, size_t n, struct envelope *h,
                               struct mrf_error *err);
/* Verifies the signature with the sender's signing key, decrypts with the receiver's box
 * secret and the sender's box public key, decompresses (at most WIRE_JSON_MAX) into *json
 * (NUL-terminated, caller frees with x_free). MRF_E_AUTH if the signature or tag fails;
 * MRF_E_INVALID if the plaintext is not a well-formed zstd frame. */
enum mrf_status envelope_open(const struct envelope *h, const uint8_t sender_sign_pk[MRF_SIGN_PK],
                              const uint8_t sender_box_pk[MRF_BOX_PK],
                              const uint8_t my_box_sk[MRF_BOX_SK], char **json, size_t *len,
                              struct mrf_error *err);
/* BLAKE2b-256 of the whole envelope (the audit chain's entry). */
void envelope_hash(const struct envelope *h, uint8_t out[32]);

/* ---- pouches: change sets carried by hand (sync/pouch.c) --------------------------------- */

/* A pouch carries the envelopes of one device's sync in a file (USB stick, diplomatic bag):
 * a device's pouch holds the request envelopes it would POST to /v1/sync, HQ's reply pouch
 * the sealed answers to them. Layout (integers big-endian; docs/DECISIONS.md, "Sync by
 * pouch"):
 *   "MRFP" | u8 version=1 | u8 kind | u8 0 | u8 0                                  (8 bytes)
 *   sealed box (X25519, libsodium crypto_box_seal) to the receiver's box key of:
 *     u32 body length | body | signature[64] | zeros to the end
 *   body: id[16] | reply_to[16] | device[16] | post[16] | u64 created (Unix ms) |
 *         signer_pk[32] | u32 count | count x (u32 length | envelope)
 *   signature: Ed25519 by signer_pk over "mrf-pouch-v1" | the 8-byte header | body
 * The whole file is exactly one of the POUCH_BUCKETS sizes (64 KiB times a power of 4), so
 * its size says only which bucket it fills. Nothing but the first 8 bytes can be read without
 * the receiver's box key; nothing can be changed, cut or added without the sender's signing
 * key. A reader checks the size, opens the box, checks lengths and the signature over the
 * body before it reads a single envelope. */
#define POUCH_MAGIC "MRFP"
#define POUCH_VERSION 1
#define POUCH_HEADER 8
#define POUCH_BUCKET_MIN (64u * 1024u)
#define POUCH_BUCKETS 6                 /* 64 KiB, 256 KiB, 1 MiB, 4 MiB, 16 MiB, 64 MiB */
#define POUCH_MAX (64u * 1024u * 1024u) /* the largest bucket: no pouch is larger */
#define POUCH_ENVELOPES_MAX 32          /* envelopes in one pouch at most */
/* What a device puts in one pouch: at most this many change sets, and this many pulls
 * (requests without ops) so that HQ's reply can carry further pages. With ENV_MAX per
 * envelope either way, a pouch and its reply stay within POUCH_MAX. */
#define POUCH_CHANGESETS 16
#define POUCH_PULLS 8

enum pouch_kind { POUCH_REQUEST = 1, POUCH_REPLY = 2 };

/* A pouch being written (pouch_add) or one read (pouch_read). Envelopes are views: into the
 * caller's bytes while writing (keep them alive until pouch_write), into p->plain after
 * pouch_read (valid until pouch_release). */
struct pouch {
    int kind;                       /* POUCH_REQUEST (device to HQ) or POUCH_REPLY (HQ to device) */
    uint8_t id[MRF_ID];             /* random, chosen by the writer */
    uint8_t reply_to[MRF_ID];       /* a reply: the id of the pouch it answers; zeros otherwise */
    uint8_t device[MRF_ID];         /* the device the pouch is from (request) or for (reply) */
    char post[16];                  /* that device's post */
    uint64_t created_ms;            /* the writer's wall clock */
    uint8_t signer_pk[MRF_SIGN_PK]; /* pouch_read: who signed; the caller checks it is whom
                                       it expects (the device's key, HQ's key) */
    int n;
    const uint8_t *env[POUCH_ENVELOPES_MAX];
    size_t env_len[POUCH_ENVELOPES_MAX];
    uint8_t *plain; /* pouch_read's opened bytes */
    size_t plain_len;
};

/* Clears p for writing a pouch of kind (random id, created now). */
void pouch_init(struct pouch *p, int kind);
/* Adds a view of one envelope. MRF_E_TOOBIG past POUCH_ENVELOPES_MAX envelopes or when the
 * pouch would no longer fit POUCH_MAX; p is then as it was. */
enum mrf_status pouch_add(struct pouch *p, const uint8_t *env, size_t len, struct mrf_error *err);
/* The file size p would have now (its bucket), and how many bytes of envelopes (length prefix
 * included) still fit the largest bucket. */
size_t pouch_size(const struct pouch *p);
size_t pouch_room(const struct pouch *p);
/* Signs p with sign_sk (signer_pk is taken from it), pads it to its bucket and seals it to
 * peer_box_pk into out (reset first; its cap must allow POUCH_MAX). */
enum mrf_status pouch_write(const struct pouch *p, const uint8_t sign_sk[MRF_SIGN_SK],
                            const uint8_t peer_box_pk[MRF_BOX_PK], struct buf *out,
                            struct mrf_error *err);
/* Reads a pouch of the given kind from data[0..n) with the receiver's box key pair. On
 * success p holds the opened pouch (pouch_release) whose signature verified against
 * p->signer_pk: the caller must still check that key. MRF_E_INVALID if it is not such a pouch
 * (magic, version, kind, a size that is no bucket: cut short or padded; lengths inside);
 * MRF_E_AUTH if it does not open with this key (for someone else, or changed) or its
 * signature fails. err says which rule failed; nothing is allocated past n. */
enum mrf_status pouch_read(const uint8_t *data, size_t n, int kind,
                           const uint8_t my_box_pk[MRF_BOX_PK], const uint8_t my_box_sk[MRF_BOX_SK],
                           struct pouch *p, struct mrf_error *err);
void pouch_release(struct pouch *p);

/* ---- HTTPS transport (client side, libcurl) ---------------------------------------------- */

/* One HTTPS connection to HQ, reused (keep-alive) for every request of one sync. HTTPS only;
 * the server's public key must match the pin from the enrollment token (the certificate is
 * self-signed, so the pin is the trust); proxies come from the environment as libcurl reads
 * them (https_proxy, no_proxy). */
struct transport_opts {
    const char *url;         /* "https://host:port" */
    const char *pin;         /* "sha256//<base64>" */
    long connect_timeout_ms; /* 0: 15000 */
    long low_speed_limit;    /* bytes/s; 0: 64 */
    long low_speed_time_s;   /* abort a transfer slower than the limit this long; 0: 30 */
    int max_attempts;        /* per request; 0: 6 */
    long backoff_base_ms;    /* first retry delay before jitter; 0: 500 */
    long backoff_max_ms;     /* cap on one delay; 0: 30000 */
    uint64_t deadline_ms;    /* time_now_ms() after which nothing new starts; 0: none */
    /* Called during transfers with bytes sent so far of the current body and its size;
     * may be NULL. */
    void (*progress)(void *arg, uint64_t sent, uint64_t total);
    void *progress_arg;
};

struct transport_stats {
    int64_t requests;       /* HTTP requests that got a response */
    int64_t attempts;       /* tries, including failed ones */
    int64_t connects;       /* new TCP+TLS connections */
    int64_t bytes_sent;     /* request headers and bodies */
    int64_t bytes_received; /* response headers and bodies */
};

struct transport;
enum mrf_status transport_new(const struct transport_opts *o, struct transport **out,
                              struct mrf_error *err);
void transport_free(struct transport *t);

/* POSTs body (application/octet-stream) to url + path and reads the response body into resp
 * (reset first; its cap bounds the response: a larger one fails with MRF_E_TOOBIG).
 * Retries with exponential backoff and full jitter on connection failures, timeouts and HTTP
 * 502/503/504, until max_attempts or the deadline. Returns MRF_OK with *http_status for any
 * other answer (the caller judges 4xx); MRF_E_OFFLINE if HQ could not be reached in time;
 * MRF_E_REFUSED if the server's key does not match the pin (never retried). Messages never
 * contain the body. */
enum mrf_status transport_post(struct transport *t, const char *path, const uint8_t *body,
                               size_t len, struct buf *resp, long *http_status,
                               struct mrf_error *err);
/* GET url + path, same rules (used for /v1/health). */
enum mrf_status transport_get(struct transport *t, const char *path, struct buf *resp,
                              long *http_status, struct mrf_error *err);
void transport_get_stats(const struct transport *t, struct transport_stats *s);

/* ---- enrollment tokens ------------------------------------------------------------------- */

/* A one-time device token: "mrf1." base64url(JSON payload) "." base64url(Ed25519 signature by
 * HQ's signing key over the payload). The signature catches a token garbled in transit; trust
 * in the HQ key itself comes from comparing its fingerprint by phone. */
#define TOKEN_MAX_LEN 2048
struct enroll_token {
    int version; /* 1, or 2 with the officer key */
    char url[256];
    char tls_pin[128]; /* "sha256//<base64 of SHA-256 of the SubjectPublicKeyInfo>" */
    struct mrf_pubkeys hq;
    uint8_t escrow_pk[MRF_BOX_PK];
    char post[16];
    uint8_t token_id[MRF_ID];
    uint8_t secret[MRF_SECRET];
    int64_t expires; /* Unix seconds */
    int has_officer; /* version 2: HQ's officer public key, which signs wipe orders */
    uint8_t officer_pk[MRF_SIGN_PK];
};

/* *out owned by the caller (x_free). */
enum mrf_status token_encode(const struct enroll_token *t, const uint8_t sign_sk[MRF_SIGN_SK],
                             char **out, struct mrf_error *err);
/* Parses and checks form, sizes and signature (not expiry). On failure *t is zeroed and err
 * names what is wrong without echoing the token. */
enum mrf_status token_decode(const char *s, struct enroll_token *t, struct mrf_error *err);
/* Wipes the secret. */
void token_wipe(struct enroll_token *t);

/* ---- wipe orders (sync/order.c) ---------------------------------------------------------- */

/* An order from HQ's officer, signed with the offline officer key, that one device destroy
 * its keystore and store (docs/DECISIONS.md, "Duress, failed unlocks and remote wipe").
 * WIPE_ORDER_LEN bytes; the layout is in sync/order.c. HQ's server stores and relays it as
 * it is (GET /v1/order/<device id hex>: 200 with the order, 404 without one). */
#define WIPE_ORDER_LEN 128
struct wipe_order {
    uint8_t device[MRF_ID];
    char post[16];
    int64_t issued; /* Unix seconds, as the officer's machine had it */
    uint8_t nonce[16];
};
/* Writes the order for device of post, signed with the officer's secret key. */
void wipe_order_make(uint8_t out[WIPE_ORDER_LEN], const uint8_t device[MRF_ID], const char *post,
                     int64_t issued, const uint8_t nonce[16], const uint8_t sign_sk[MRF_SIGN_SK]);
/* Checks order (len bytes) for this device of this post against the officer's public key.
 * OUT: *out on success, zeroed otherwise. MRF_E_INVALID if it is not an order of this
 * version; MRF_E_AUTH if the signature does not verify or the order names another device or
 * post. Never obey an order for which this is not MRF_OK. */
enum mrf_status wipe_order_check(const uint8_t *order, size_t len,
                                 const uint8_t officer_pk[MRF_SIGN_PK],
                                 const uint8_t device[MRF_ID], const char *post,
                                 struct wipe_order *out, struct mrf_error *err)
    __attribute__((warn_unused_result));
/* ---- a post's key ring on the wire (sync/keyring.c) ---------------------------------------- */

/* A request may carry, after its ops, "keyring":{"keys":[ANN,...],"grants":[GRANT,...]}: the
 * post key announcements and grants its device signed (HQ keeps the first announcement of an
 * epoch and the grants of holders). An answer (version 2) may carry "keyring":{"keys":[ANN,...],
 * "grants":[GRANT,...],"devices":"<b64url>","dsig":"<b64url>"}: the post's announcements as
 * HQ kept them, the grants for the device asking, and HQ's signed list of the post's devices.
 * Readers that do not know "keyring" ignore it. */
#define KEYRING_MAX_ITEMS 64     /* announcements or grants in one message */
#define KEYRING_MAX_DEVICES 256  /* devices of one post in HQ's list */
#define KEYRING_EPOCH_MAX 100000 /* rotations of one post: far more than a post ever needs */

enum mrf_status keyring_ann_to_json(const struct postkey_ann *a, struct buf *b);
enum mrf_status keyring_grant_to_json(const struct postkey_grant *g, struct buf *b);
/* Reads one item of post (the envelope's); form and sizes only, not the signature.
 * MRF_E_INVALID (item zeroed) if it is not one. */
enum mrf_status keyring_ann_from_json(const cJSON *j, const char *post, struct postkey_ann *a);
enum mrf_status keyring_grant_from_json(const cJSON *j, const char *post, struct postkey_grant *g);
/* doc's "keyring" member's list ("keys" or "grants"), or NULL if absent, not a list or over
 * KEYRING_MAX_ITEMS. A view into doc. */
const cJSON *keyring_member(const cJSON *doc, const char *list);

struct keyring_device {
    uint8_t id[MRF_ID];
    struct mrf_pubkeys keys;
    int revoked;
    int holds; /* HQ holds a grant of the list's epoch for it, or it made that epoch's key */
};
/* HQ's list of a post's devices, in enrollment order, with the post key's current epoch (0:
 * none yet). Large (KEYRING_MAX_DEVICES entries): keep it on the heap. */
struct keyring_devices {
    char post[16];
    uint32_t epoch;
    int n;
    struct keyring_device d[KEYRING_MAX_DEVICES];
};
/* The signed layout of l into out (reset first). MRF_E_TOOBIG past KEYRING_MAX_DEVICES. */
enum mrf_status keyring_devices_encode(const struct keyring_devices *l, struct buf *out);
/* MRF_E_INVALID (l zeroed) unless p[0..n) is exactly one such layout. */
enum mrf_status keyring_devices_decode(const uint8_t *p, size_t n, struct keyring_devices *l);
/* The entry of device id, or NULL. */
const struct keyring_device *keyring_devices_find(const struct keyring_devices *l,
                                                  const uint8_t id[MRF_ID]);

/* Ends a request (after its ops) with more members: members is "" or ',"name":value...'. */
enum mrf_status changeset_request_end_with(struct buf *b, const char *members);

#endif

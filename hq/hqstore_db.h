/* The SQLite HQ store's inside, shared by its files and by nothing else: hqstore_sqlite.c
 * (open, configuration, posts, devices, change sets, oplog), hqstore_conflict.c (the conflict
 * queue, row history), hqstore_audit.c (the audit chain and its entries),
 * hqstore_report.c (the consolidated figures), hqstore_volume.c (the volume bounds per
 * device), hqstore_wipe.c (the officer key and wipe orders), hqstore_keyring.c (the posts'
 * key rings) and hqstore_view.c (what only the dashboard reads). Each file keeps its
 * statements in an array of its own beside their enum, prepared on first use through hqs_stmt
 * into a slot of the handle's, and finalized on close. Only these files hold SQL. */
#ifndef MRF_HQSTORE_DB_H
#define MRF_HQSTORE_DB_H

#include <sqlite3.h>

#include "hqstore.h"

#define HQS_AREA_SLOTS 40 /* statements an area file may have */

enum hqs_area {
    HQS_AREA_CONFLICT,
    HQS_AREA_AUDIT,
    HQS_AREA_REPORT,
    HQS_AREA_VOLUME,
    HQS_AREA_WIPE,
    HQS_AREA_KEYRING,
    HQS_AREA_VIEW,
    HQS_AREA_COUNT
};

struct hqstore {
    sqlite3 *db;
    sqlite3_stmt *stmt[64];                             /* hqstore_sqlite.c's, by enum */
    sqlite3_stmt *area[HQS_AREA_COUNT][HQS_AREA_SLOTS]; /* the other files', by area */
    int in_tx;                                          /* a hqstore_begin is open */
    struct merge *merge; /* sync's per-column merge on this connection */
    /* The last oplog sequence number given to seq_post in this transaction (0: not known). */
    char seq_post[16];
    int64_t seq_last;
    /* The last global sequence number given in this transaction (oplog_seq.last; -1: not read
     * yet), written back by hqstore_commit. */
    int64_t gseq_last;
    /* The run of ops this transaction is appending to the oplog (oplog_runs): its post, its
     * first op's global and post sequence numbers, how many ops (0: none open) and whether
     * oplog_runs lacks its last ones; written by hqs_oplog_flush. */
    char run_post[16];
    int64_t run_seq, run_pseq, run_n;
    int run_dirty;
    int full; /* the current (or last) transaction failed on a full disk */
    struct mrf_error err;
};

/* Statement i of an area file, whose SQL is sql (the file's array entry): prepared on first
 * use, else reset with bindings cleared. NULL on failure (message on s). */
sqlite3_stmt *hqs_stmt(struct hqstore *s, enum hqs_area area, int i, const char *sql);

/* Sets the handle's error from SQLite's last message (saying so when the disk is full);
 * returns MRF_E_IO. */
enum mrf_status hqs_fail(struct hqstore *s, const char *what);
/* Sets s->full if SQLite's last error on the handle was SQLITE_FULL. */
void hqs_note_full(struct hqstore *s);
/* Copies a blob column of exactly n bytes; 0 if its size differs. */
int hqs_column_blob(sqlite3_stmt *st, int col, uint8_t *out, size_t n);
/* Copies a text column into out (n bytes, NUL-terminated; "" for NULL). */
void hqs_column_text(sqlite3_stmt *st, int col, char *out, size_t n);
/* Steps a statement that returns no rows and resets it. Returns SQLITE_DONE or the extended
 * error code, read before the reset. */
int hqs_step_once(sqlite3_stmt *st);
/* Writes the open run of appended ops into oplog_runs, if it lacks any: every read of the
 * oplog calls it first, so that it sees this transaction's ops. MRF_OK or MRF_E_IO. */
enum mrf_status hqs_oplog_flush(struct hqstore *s);

/* SQL: the ops of post P (a parameter) after its sequence number A and up to U (expressions,
 * each used twice), as "FROM ... WHERE ...", with r its runs and o their ops: the run holding
 * A + 1 found through oplog_runs_post, then each run from it up to U, each a range of
 * oplog_ops' key bounded by A and U. The op's pseq is r.pseq + o.seq - r.seq. Add conditions
 * with AND; ORDER BY r.pseq, o.seq reads them in order (by o.seq alone, SQLite sorts them all
 * first). */
#define HQS_OPLOG_RANGE(P, A, U)                                                                   \
    "FROM oplog_runs r JOIN oplog_ops o ON o.seq BETWEEN r.seq + max(" A " + 1 - r.pseq, 0) AND "  \
    "r.seq + min(" U " - r.pseq, r.n - 1) WHERE r.post = " P " AND r.pseq >= (SELECT "             \
    "coalesce(max(pseq), 0) FROM oplog_runs WHERE post = " P " AND pseq <= " A " + 1) AND "        \
    "r.pseq <= " U
/* the same, to the post's end */
#define HQS_OPLOG_AFTER(P, A) HQS_OPLOG_RANGE(P, A, "9223372036854775807")
/* SQL: the 16-byte id of op o's row (o.tbl, o.r: its rn in that table) */
#define HQS_OP_ROW_ID                                                                              \
    "CASE o.tbl WHEN 0 THEN (SELECT id FROM themes WHERE rn = o.r) WHEN 1 THEN (SELECT id FROM "   \
    "partners WHERE rn = o.r) WHEN 2 THEN (SELECT id FROM grants WHERE rn = o.r) WHEN 3 THEN "     \
    "(SELECT id FROM allocations WHERE rn = o.r) END"
/* SQL: the number (rn) of row (post P, id I) of table T (parameters), NULL if there is none:
 * what oplog_ops names it by */
#define HQS_ROW_NUMBER(T, P, I)                                                                    \
    "CASE " T " WHEN 0 THEN (SELECT rn FROM themes WHERE post = " P " AND id = " I ") WHEN 1 "     \
    "THEN (SELECT rn FROM partners WHERE post = " P " AND id = " I ") WHEN 2 THEN (SELECT rn "     \
    "FROM grants WHERE post = " P " AND id = " I ") WHEN 3 THEN (SELECT rn FROM allocations "      \
    "WHERE post = " P " AND id = " I ") END"
/* SQL: the run holding op o (its post is the op's), as a value for "r.seq = ..." */
#define HQS_RUN_OF_OP "(SELECT seq FROM oplog_runs WHERE seq <= o.seq ORDER BY seq DESC LIMIT 1)"

/* The handle's merge, created on first use. NULL on failure (message on s). */
struct merge *hqs_merge(struct hqstore *s);

#endif

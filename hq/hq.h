/* hq — the headquarters program `mrf-hq`: its command context, its commands, and the pieces
 * they share (home layout, HQ key file, TLS certificate, URL check). The HQ store has its own
 * boundary in hqstore.h.
 *
 * Ownership: strings returned here are the caller's (x_free); secrets come back in
 * sodium_malloc memory (mrf_secrets_free). Single-threaded CLI code; the server will get a
 * context per request. Failures return a status with the message in the caller's
 * struct mrf_error; nothing here prints an identity, a country or a secret. */
#ifndef MRF_HQ_H
#define MRF_HQ_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "hqstore.h"
#include "mrfcrypto.h"
#include "mrfsync.h"

/* The HQ home (--home, else $MRF_HQ_HOME, else ~/.mrf-hq; created 0700 by init):
 *   hq.db               the HQ store (schema/hq): config, posts, devices, enrollments, ...
 *   hq.keys             HQ's signing and box secret keys, NOT passphrase-sealed, mode 0600:
 *                       the server runs unattended and must sign and open envelopes without a
 *                       person typing a passphrase; permissions and disk encryption protect it
 *   tls/cert.pem        self-signed certificate (ECDSA P-256); devices pin its public key
 *   tls/key.pem         its private key, PKCS#8 PEM, mode 0600
 *   escrow-OFFLINE.key  the escrow secret key sealed under the escrow passphrase; to be moved
 *                       to offline storage right after init (only `mrf-hq reveal` needs it)
 *   officer-OFFLINE.key the officer signing key sealed under the officer passphrase, made by
 *                       init (or `mrf-hq officer init` on an older HQ); to be moved offline at
 *                       once like the escrow key (only `device revoke --wipe` needs it) */
#define HQ_DB_FILE HQSTORE_FILE
#define HQ_KEYS_FILE "hq.keys"
#define HQ_TLS_DIR "tls"
#define HQ_TLS_CERT_FILE "tls/cert.pem"
#define HQ_TLS_KEY_FILE "tls/key.pem"
#define HQ_ESCROW_FILE "escrow-OFFLINE.key"
#define HQ_OFFICER_FILE "officer-OFFLINE.key"

/* The files of the HQ home that home_check examines (common.h). The escrow key file is not
 * among them: HQ never opens it from the home (reveal takes --escrow-key FILE). */
extern const struct home_file hq_home_files[];

/* The context of one mrf-hq command run. */
struct cli_ctx {
    const char *prog;            /* "mrf-hq" */
    const char *home;            /* resolved home directory */
    int json;                    /* --json */
    const struct cmd_entry *cmd; /* the command being run, for messages */
    struct mrf_error err;        /* what went wrong, printed once by hq_finish */
};

/* Prints "mrf-hq: <command>: <message>" to stderr if st is not MRF_OK and returns the exit
 * code of DESIGN §7 for st. Every command's exec ends with it. */
int hq_finish(struct cli_ctx *ctx, enum mrf_status st);

/* Opens the existing HQ store of ctx's home (message in ctx->err on failure). */
enum mrf_status hq_store_open(struct cli_ctx *ctx, struct hqstore **st);
/* Copies the store's message into ctx->err for a failed status and returns it. */
enum mrf_status hq_store_fail(struct cli_ctx *ctx, struct hqstore *st, enum mrf_status rc);
/* Prints v formatted on stdout; MRF_E_INTERNAL (in ctx->err) if it cannot be printed. */
enum mrf_status hq_print_json(struct cli_ctx *ctx, const struct cJSON *v);

/* "<home>/<leaf>", caller frees (x_free). */
char *hq_path(const char *home, const char *leaf);

/* The commands, listed in main.c's table. Prefixed hq_ because the client's library exports
 * its own cmd_init and the unit tests link both libraries. */
extern const struct cmd_entry hq_cmd_init;
extern const struct cmd_entry hq_cmd_post_add;
extern const struct cmd_entry hq_cmd_post_list;
extern const struct cmd_entry hq_cmd_enroll;
extern const struct cmd_entry hq_cmd_serve;
extern const struct cmd_entry hq_cmd_device_list;
extern const struct cmd_entry hq_cmd_device_revoke;
extern const struct cmd_entry hq_cmd_allocate;
extern const struct cmd_entry hq_cmd_grant_list;
extern const struct cmd_entry hq_cmd_conflicts;
extern const struct cmd_entry hq_cmd_conflict_show;
extern const struct cmd_entry hq_cmd_resolve;
extern const struct cmd_entry hq_cmd_history;
extern const struct cmd_entry hq_cmd_audit_verify;
extern const struct cmd_entry hq_cmd_audit_list;
extern const struct cmd_entry hq_cmd_reveal;
extern const struct cmd_entry hq_cmd_report;
extern const struct cmd_entry hq_cmd_limits;
extern const struct cmd_entry hq_cmd_limits_set;
extern const struct cmd_entry hq_cmd_pouch_in;
extern const struct cmd_entry hq_cmd_ui;
extern const struct cmd_entry hq_cmd_officer_init;

/* ---- the officer key (hq/officer.c) ------------------------------------------------------ */

/* Makes an officer key pair, seals its secret half under passphrase into path (refusing an
 * existing file: MRF_E_STATE) and returns the public half in pk. */
enum mrf_status hq_officer_create(const char *path, const char *passphrase, uint8_t pk[MRF_SIGN_PK],
                                  struct mrf_error *err);
/* Loads the officer key file path (asking its passphrase: MRF_OFFICER_PASSPHRASE or the
 * terminal) and checks it is the key st names. OUT: *sk (sodium_malloc'd, MRF_SIGN_SK bytes;
 * sodium_free). MRF_E_STATE if HQ has no officer key or path holds another one;
 * MRF_E_PASSPHRASE if the passphrase is wrong. */
enum mrf_status hq_officer_load(struct hqstore *st, const char *path, uint8_t **sk,
                                struct mrf_error *err);

/* ---- ingest (hq/ingest.c) --------------------------------------------------------------- */

/* What HQ needs to answer devices: its configuration and its secret keys (hq.keys). */
struct hq_identity {
    struct hq_config cfg;
    struct mrf_secrets *keys; /* sodium_malloc'd; owned by whoever loaded it */
};

/* The outcome of one POST /v1/sync, for the HTTP answer and the one log line. */
struct ingest_result {
    unsigned http_status; /* 200 accepted, 422 quarantined for content, 4xx refused, 503
                             "disk_full": nothing stored, the device sends it again later */
    const char *reason;   /* short code: "accepted", "replay", "bad_envelope", "bad_signature",
                             "unknown_device", "device_revoked", "wrong_post", "token_used",
                             "token_expired", "bad_token", "too_large", "store_error",
                             "disk_full" (503), "over_changeset_bound" (413),
                             "over_hourly_bound" (429), or the
                             quarantine reason */
    char device[17];      /* first 8 bytes of the device id in hex, or "-" */
    char post[16];        /* the post the envelope claims, or "-" */
    int64_t ops_in;       /* ops in the change set */
    int64_t ops_applied;  /* ops that won the merge (0 on a replay) */
    int64_t ops_out;      /* ops sent back */
    struct buf response;  /* the body to send: a sealed response envelope for 200 and 422,
                             else the reason code as text (a volume refusal adds lines
                             "bound=N", "used=N", "ops=N", "retry_after=SECONDS") */
    int64_t retry_after;  /* 429: seconds until the device may send again (Retry-After) */
};

void ingest_result_init(struct ingest_result *r);
void ingest_result_release(struct ingest_result *r);
/* Verifies, opens and applies one change set envelope in one transaction of s, and builds the
 * signed, sealed response with the acknowledgement and the next page of the post's ops the
 * device has not seen. Any refusal applies nothing. Returns MRF_OK whenever r holds an answer
 * to send (also for 4xx); another status only if even that failed (then answer 500). */
enum mrf_status hq_ingest(struct hqstore *s, const struct hq_identity *id, const uint8_t *body,
                          size_t len, struct ingest_result *r);

/* ---- volume bounds per device (hq/volume.c) ---------------------------------------------- */

/* This build's defaults, in force where HQ's operator set none (docs/DECISIONS.md, "Volume
 * bounds per device"). A real post records tens of grants a month; a device's first sync
 * after months offline, or an import, is a few thousand ops; a big post's 1,000 grants are
 * ~7,000. Per change set: the most a device's own client ever cuts, and the least the
 * operator may set. Per hour: about three times a big post's whole year at once. */
#define HQ_OPS_PER_CHANGESET_DEFAULT CHANGESET_OPS_MAX
#define HQ_OPS_PER_HOUR_DEFAULT 20000
#define HQ_OPS_BOUND_MAX 100000000 /* the largest bound the operator may set */
#define HQ_WINDOW_S 3600           /* a device's hour */

/* The bounds in force: the operator's (hqstore_limits_get), else the defaults above. */
enum mrf_status hq_limits_effective(struct hqstore *s, struct hq_limits *l);

/* What the bounds say about one change set. */
struct hq_volume {
    const char *over;    /* NULL: admitted; else "over_changeset_bound" or "over_hourly_bound" */
    int64_t bound;       /* the bound it is over */
    int64_t used;        /* ops the device's hour already holds */
    int64_t ops;         /* ops of this change set */
    int64_t retry_after; /* over the hourly bound: seconds until the device's hour is over */
};
/* Inside the ingest transaction: admits a change set of nops ops from device at now (Unix
 * seconds), counting them into the device's hour (which starts with the first ops after the
 * last hour ended, and lasts HQ_WINDOW_S), or says in v why not (nothing counted). A change
 * set of no ops (a pull) is always admitted; so is one within the per-change-set bound that
 * finds the device's hour empty, even if it alone is over the hourly bound: a change set a
 * device may send is never refused for ever. */
enum mrf_status hq_volume_admit(struct hqstore *s, const uint8_t device[MRF_ID], int64_t nops,
                                int64_t now, struct hq_volume *v);

/* ---- new rows must be whole (hq/rowcheck.c) ---------------------------------------------- */

/* What HQ read of a row before a change set's writes: whether it was there, and its post-year
 * (0: none, or a partner). */
struct hq_row_fact {
    int tbl;
    uint8_t id[MRF_ID];
    int year;
    int exists;
    int64_t rn; /* its number, 0 if it is not there */
};

/* A device creates a row with every column a row cannot be without (sync_column_needed) in
 * one change set. Checks that every row ops name and post does not hold at HQ gets all of
 * them in ops. OUT: why (n bytes), "" if so, else the quarantine reason naming the table, the
 * row's short code (the first bytes of its id for themes) and the first column missing;
 * *facts (*nfacts of them, sorted by table and id, NULL if none; the caller frees them with
 * x_free) what it read of the rows it had to look up, which hq_touch_facts hands on to the
 * conflict checks so that no row is read twice. */
enum mrf_status hq_rows_check(struct hqstore *s, const char *post, const struct sync_op *ops,
                              int nops, char *why, size_t n, struct hq_row_fact **facts,
                              int *nfacts);
/* ---- sync by pouch (hq/pouch.c) --------------------------------------------------------- */

/* What one `mrf-hq pouch in` did, for its summary line. */
struct hq_pouch_result {
    char device[17];     /* first 8 bytes of the device id in hex, "-" before it is known */
    char post[16];       /* the post the pouch names */
    int64_t envelopes;   /* in the pouch */
    int64_t accepted;    /* change sets taken now */
    int64_t replayed;    /* change sets HQ had taken before: answered again, nothing applied */
    int64_t quarantined; /* change sets refused for their content (answered, kept aside) */
    int64_t pulls;       /* requests without ops answered (further pages) */
    int64_t left_out;    /* change sets not answered: the reply was full */
    int64_t ops_in, ops_applied, ops_out;
    int more;            /* HQ has more for the device than the reply holds */
    const char *refused; /* a refusal's reason code ("device_revoked", ...), or "" */
};
/* Opens a device's pouch with HQ's keys, checks that the device it names signed it, reads and
 * authenticates every envelope with hq_ingest's first step (any refusal: nothing ingested),
 * then takes each with its second step exactly as POST /v1/sync would, and seals the answers
 * into reply (cap POUCH_MAX), a reply pouch that only that device opens. Statuses: those of
 * pouch_read (MRF_E_INVALID, MRF_E_AUTH), MRF_E_AUTH if the pouch is not signed by the device
 * it names, MRF_E_REFUSED (res->refused) as the server would refuse, MRF_E_OFFLINE if HQ
 * cannot store now (disk full), MRF_E_IO. err says which rule failed and what to do. */
enum mrf_status hq_pouch_in(struct hqstore *s, const struct hq_identity *id, const uint8_t *data,
                            size_t n, struct buf *reply, struct hq_pouch_result *res,
                            struct mrf_error *err);

/* ---- the audit chain (hq/audit.c) -------------------------------------------------------- */

/* Appends one entry to the audit chain inside the caller's transaction: hashes body, links it
 * to the last entry, signs it with keys->sign_sk (Ed25519 over "mrf-audit-entry-v1" | u64 seq
 * | i64 at | kind | 0 | post | 0 | meta | 0 | chain hash) and stores it. kind: "changeset"
 * (body: the envelope exactly as received; meta: {"restamp":{"above":..,"to":..}} or "{}"),
 * "allocate", "resolve", "reveal" (body: HQ's JSON). OUT: *head (if not NULL), the new head,
 * signed. */
enum mrf_status hq_audit_append(struct hqstore *s, const struct mrf_secrets *keys, const char *kind,
                                const char *post, const char *meta, const uint8_t *body, size_t len,
                                int64_t now, struct audit_head *head);
/* The JSON body of an HQ entry that writes ops (allocate, resolve):
 *   {"v":1,"post":"P",<fields>,"ops":[OP,...]}
 * with each OP in the answer form (writer after the clock: op_to_json(op, 1, ...)), so that
 * `audit verify` can replay them. fields: further members, already JSON without the braces
 * (e.g. "\"conflict\":\"C-7K2M9Q\",\"decision\":\"take_b\""), or "". b is reset first. */
enum mrf_status hq_audit_ops_body(struct buf *b, const char *post, const char *fields,
                                  const struct sync_op *ops, int n);
/* The current head of the chain, signed with keys (seq 0 and a zero hash if empty). */
enum mrf_status hq_audit_head(struct hqstore *s, const struct mrf_secrets *keys,
                              struct audit_head *head);
/* MRF_OK if e->sig is HQ's signature (sign_pk) over e as hq_audit_append signs it;
 * MRF_E_AUTH otherwise. */
enum mrf_status hq_audit_entry_verify(const struct hq_audit_entry *e,
                                      const uint8_t sign_pk[MRF_SIGN_PK])
    __attribute__((warn_unused_result));

/* What `mrf-hq audit verify` found (hq/audit_verify.c). */
struct hq_audit_report {
    int holds;              /* 1 if every check below held */
    int64_t entries;        /* links checked */
    int64_t changesets;     /* change sets replayed */
    int64_t hq_entries;     /* HQ's own entries (allocate, resolve, reveal) checked */
    int64_t ops;            /* ops replayed */
    struct audit_head head; /* the last link checked (signed with the keys given) */
    int64_t bad_seq;        /* the first bad entry; 0 if none, or the fault is not one entry's */
    char problem[768];      /* what does not hold, naming the entry or the table and row; "" */
};
/* Checks the whole chain of s: sequence and links, every entry's hash and HQ signature
 * (against keys, which must be the pair hq.db's configuration names), and replays the entries
 * into a scratch store in a private directory under $TMPDIR (removed afterwards): change sets
 * opened with keys->box_sk after their device's signature is checked, HQ's ops as written.
 * The replay must produce exactly the domain tables of s. Stops at the first fault.
 * Returns MRF_OK when the checks ran (rep->holds says whether all held), another status (in
 * err) when they could not run. Nothing is written to s. */
enum mrf_status hq_audit_verify(struct hqstore *s, const struct mrf_secrets *keys,
                                struct hq_audit_report *rep, struct mrf_error *err);

/* ---- the conflict queue (hq/conflict.c) ------------------------------------------------- */

/* What one change set did to a post, for the conflict checks: the rows and post-years it
 * touched, and the sender's view (its cursor in the post's sequence). */
struct hq_touch;
struct hq_touch *hq_touch_new(const char *post, const uint8_t device[MRF_ID], int64_t cursor);
void hq_touch_free(struct hq_touch *t);
/* Tells t what hq_rows_check read of rows before the change set (n facts, sorted as it returns
 * them, alive as long as t). */
void hq_touch_facts(struct hq_touch *t, const struct hq_row_fact *facts, int n);

/* Before op is applied: records what op touches (its row, columns, post-year; a year's
 * theme set as it was before the change set). OUT: *rn the row's number before the change
 * set, 0 if it was not there (hqstore_apply_prior's known). */
enum mrf_status hq_conflict_before(struct hqstore *s, struct hq_touch *t, const struct sync_op *op,
                                   int64_t *rn);
/* After op was applied (whether it won or not), given what its column held before
 * (hqstore_apply_prior): a value or parallel record if the op's previous clock and writer
 * differ from those, a status moved backwards. */
enum mrf_status hq_conflict_op(struct hqstore *s, struct hq_touch *t, const struct sync_op *op,
                               const struct merge_prior *prior, int64_t now);
/* After a change set's ops are applied: other-column parallel writes, theme sets, and every
 * fund rule on the post-years touched; opens, updates and closes records (one transaction
 * with the ingest). skew: the change set's clock_skew record, or NULL. */
enum mrf_status hq_conflict_after(struct hqstore *s, struct hq_touch *t, const struct hq_skew *skew,
                                  int64_t now);
/* Re-checks the fund rules of post for year (after HQ's own writes: allocate, resolve). */
enum mrf_status hq_conflict_recheck(struct hqstore *s, const char *post, int year, int64_t now);
/* The record as devices receive it: values as display text, codes only. */
void hq_conflict_public(const struct hq_conflict *c, struct cs_conflict *out);
/* A wire JSON value of column (t, col) as people read it: an amount "12500.00", a partner
 * reference as its code, a removal flag "removed"/"kept", a theme set as it is, "(none)"
 * for none. out: n bytes. */
void hq_value_text(enum sync_table t, int col, const char *json, char *out, size_t n);

/* ---- HQ's decision on a conflict (hq/decide.c) ------------------------------------------- */

enum hq_resolve_form {
    HQ_ACCEPT, /* keep the merged state */
    HQ_TAKE,   /* side A's or side B's value (value records) */
    HQ_SET     /* HQ's own values */
};
#define HQ_RESOLVE_SETS 8
struct hq_resolve {
    char id[16];
    enum hq_resolve_form form;
    char side; /* 'A' or 'B' for HQ_TAKE */
    int nset;  /* HQ_SET: COLUMN=VALUE pairs (a grant's amount, currency, status, theme,
                  removed; themes=A,B for a theme set) */
    char set_name[HQ_RESOLVE_SETS][32];
    const char *set_value[HQ_RESOLVE_SETS];
    const char *reason; /* required by the caller: travels to the post */
    const char *note;   /* "" or the officer's own; stays at HQ */
};
struct hq_resolved {
    char id[16];
    char post[16];
    char decision[16];
    int ops; /* ops written */
};
/* Decides record r->id inside the caller's transaction: writes the decision's ops (checked by
 * the column table and the fund rules; MRF_E_INVALID or MRF_E_RULE with the rule named, and
 * nothing written), closes the record, re-checks the post-year's rules and appends a signed
 * "resolve" entry to the audit chain. MRF_E_RULE if the record is closed already. */
enum mrf_status hq_resolve(struct hqstore *s, const struct mrf_secrets *keys,
                           const struct hq_resolve *r, struct hq_resolved *out,
                           struct mrf_error *err);

/* ---- what the commands build and the pages of `mrf-hq ui` show ---------------------------- */
/* Each is the object a command's --json prints, or the work a command does, so that the
 * command and its page share one source of truth. Objects are the caller's (cJSON_Delete). */

/* `post list --json`'s object for one post (code, kind, devices, country "sealed" or null). */
cJSON *hq_post_json(const struct hq_post *p);
/* `device list --json`'s object for one device. */
cJSON *hq_device_json(const struct hq_device *d);
/* `device revoke`: finds the device by at least 8 hex digits of its id and revokes it.
 * OUT: *d. MRF_E_NOTFOUND ("no device ..."), MRF_E_STATE if revoked already, in err. */
enum mrf_status hq_device_revoke(struct hqstore *st, const char *prefix, struct hq_device *d,
                                 struct mrf_error *err);
/* `allocate`: parses the four texts as the command's arguments, then writes the allocation as
 * HQ's ops with its audit entry and the re-check of the year's rules, in one transaction of
 * its own on the store in home. OUT: *done, what was allocated. */
struct hq_allocated {
    char post[16];
    int year;
    char amount[32];
    char currency[4];
};
enum mrf_status hq_allocate(const char *home, const char *post, const char *year,
                            const char *amount, const char *currency, struct hq_allocated *done,
                            struct mrf_error *err);
/* `conflicts --json`: records of post (NULL: all), open ones unless all. OUT: *out (array);
 * on failure the message is on st. */
enum mrf_status hq_conflicts_json(struct hqstore *st, const struct hq_config *cfg, const char *post,
                                  int all, cJSON **out);
/* `conflict show --json`: record id with its base, sides and column history. OUT: *c, *out. */
enum mrf_status hq_conflict_show_json(struct hqstore *st, const struct hq_config *cfg,
                                      const char *id, struct hq_conflict *c, cJSON **out,
                                      struct mrf_error *err);
/* `resolve`'s checks before deciding: exactly one form (forms counts them; accept, take),
 * the reason required, reason and note one line of at most 500 bytes, --take A or B. Fills r
 * (its sets are the caller's to add for HQ_SET); r keeps pointers to reason and note. */
enum mrf_status hq_resolve_check(struct hq_resolve *r, const char *id, int forms, int accept,
                                 const char *take, const char *reason, const char *note,
                                 struct mrf_error *err);
/* Decides r in a transaction of its own on the store in home (hq_resolve, with hq.keys). */
enum mrf_status hq_resolve_commit(const char *home, const struct hq_resolve *r,
                                  struct hq_resolved *done, struct mrf_error *err);

/* ---- report (hq/report.c) ---------------------------------------------------------------- */

/* `mrf-hq report`: the consolidated figures as one cJSON object, from which the table, the CSV
 * and the JSON are all printed. What each figure means is in docs/DECISIONS.md ("Reports");
 * in short: amounts per currency in cents, never converted, shown as "12500.00" strings;
 * committed = committed + disbursed + closed grants, disbursed = disbursed + closed, remaining
 * = allocation - committed in the allocation's currency (null where there is no allocation);
 * post codes only, never a country, partner or note. The object:
 *   {"generated_at", "year" (null: all), "post" (null: all), "by", "stale_days", "post_count",
 *    "posts": [...], "rows": [...], "themes_chosen": [...], "totals": [...],
 *    "exceptions": [...]}
 * where every record is a flat object whose keys are among the CSV header's columns, starting
 * with "section" (absent keys and nulls print as empty CSV cells and "-" in the table). */
enum hq_report_by { HQ_REPORT_BY_POST, HQ_REPORT_BY_THEME, HQ_REPORT_BY_STATUS };
enum hq_report_format { HQ_REPORT_TABLE, HQ_REPORT_CSV, HQ_REPORT_JSON };
#define HQ_REPORT_STALE_DAYS 14 /* a post not synced for this long is an exception */

struct hq_report_opts {
    const char *post; /* one post (it must exist), or NULL for all */
    int year;         /* one year, or 0 for every year with data */
    enum hq_report_by by;
    int64_t now; /* Unix seconds: "generated at", and what "not synced for 14 days" counts from */
};

/* -1 if s names no grouping ("post", "theme", "status") or format ("table", "csv", "json"). */
int hq_report_by_parse(const char *s);
int hq_report_format_parse(const char *s);
/* Builds the report. OUT: *out, owned by the caller (cJSON_Delete); NULL on failure, with the
 * message in err: MRF_E_IO if the store failed, MRF_E_INTERNAL for a sum past 64 bits. */
enum mrf_status hq_report_build(struct hqstore *s, const struct hq_report_opts *o, cJSON **out,
                                struct mrf_error *err);
/* Prints a report built by hq_report_build to f: an aligned table for people (under 100
 * columns), RFC 4180 CSV (CRLF, one header row, one record type: a "section" column names
 * the part each record belongs to), or the object as JSON. MRF_E_IO if f fails. */
enum mrf_status hq_report_print(const cJSON *report, enum hq_report_format fmt, FILE *f);

/* ---- server pieces: store pool (hq/pool.c), listen address (hq/listen.c) ---------------- */

/* One HQ store handle per worker thread at most, opened on first need and lent out for one
 * request at a time. With as many slots as workers, and a worker running one request at a
 * time, checkout never waits in practice; the condition variable keeps it correct if that
 * ever changes. */
struct hq_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const char *home;
    size_t n;
    struct hqstore **st; /* n slots, NULL until opened */
    unsigned char *busy; /* 1 while lent out */
};
void hq_pool_init(struct hq_pool *p, const char *home, size_t n);
/* Closes every handle; none may be lent out. */
void hq_pool_release(struct hq_pool *p);
/* Puts an already open handle into an empty slot; the pool owns it from now on. */
void hq_pool_give(struct hq_pool *p, struct hqstore *s);
/* OUT: *out, a handle for this thread alone until hq_pool_checkin. */
enum mrf_status hq_pool_checkout(struct hq_pool *p, struct hqstore **out, struct mrf_error *err);
void hq_pool_checkin(struct hq_pool *p, struct hqstore *s);

/* An address to listen on, with its text for messages. */
struct hq_listen {
    int family; /* AF_INET or AF_INET6 */
    int dual;   /* [::] with IPv4 too */
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    uint16_t port;
    char text[INET6_ADDRSTRLEN + 16]; /* "127.0.0.1:8443", "[::1]:8443" */
};
/* Parses "IPV4:PORT" or "[IPV6]:PORT"; MRF_E_INVALID naming the form otherwise. */
enum mrf_status hq_listen_parse(const char *s, struct hq_listen *la, struct mrf_error *err);
/* Every address on port: IPv6 and IPv4 on one socket when the machine has IPv6. */
void hq_listen_any(struct hq_listen *la, uint16_t port);
/* Readies an accepted connection's socket: TCP_NODELAY, so the records of the TLS handshake
 * HQ writes one after another leave at once. With Nagle's algorithm the server's encrypted
 * handshake records (certificate, Finished) wait for the client's ACK of its ServerHello: one
 * extra round trip on every connection, 0.6 s on a satellite link (docs/DECISIONS.md, "No
 * Nagle on HQ's connections"). 0, or -1 with errno if the socket refused. */
int hq_listen_tune(int fd);
/* After the server failed to start on la: finds out why (port in use, privileges, not this
 * machine's address) and sets err. */
enum mrf_status hq_listen_failed(const struct hq_listen *la, struct mrf_error *err);

/* ---- URL --------------------------------------------------------------------------------- */

/* What HQ's URL says: the host as written in a certificate (no brackets for IPv6), its kind
 * and the port. */
enum hq_host_kind { HQ_HOST_DNS, HQ_HOST_IPV4, HQ_HOST_IPV6 };
struct hq_url {
    char host[256];
    enum hq_host_kind kind;
    uint8_t addr[16];     /* the address for IPv4 (4 bytes) and IPv6 (16 bytes) */
    int port;             /* 1..65535; 443 if the URL gives none */
    char normalized[300]; /* "https://host:port", lower-case host, brackets for IPv6 */
};

/* Parses "https://HOST[:PORT][/]" with HOST a DNS name, an IPv4 address or [IPv6]. No user
 * info, path, query or fragment. MRF_E_INVALID (with a message naming the fault) otherwise. */
enum mrf_status hq_url_parse(const char *s, struct hq_url *out, struct mrf_error *err);

/* ---- HQ key file ------------------------------------------------------------------------- */

/* hq.keys, version 1 (200 bytes):
 *   "MRFHK" | u8 version=1 | u8 alg=1 (Ed25519 + X25519) | u8 0 | sign_sk[64] | box_sk[32] |
 *   sign_pk[32] | box_pk[32] | BLAKE2b-256 over everything before it
 * Written atomically with mode 0600; refuses to overwrite (MRF_E_STATE). */
enum mrf_status hqkeys_write(const char *path, const struct mrf_secrets *s, struct mrf_error *err);
/* Loads and checks hq.keys (checksum, and that the public keys belong to the secrets).
 * OUT: *out owned by the caller (mrf_secrets_free). MRF_E_INVALID if damaged, MRF_E_IO if
 * unreadable. */
enum mrf_status hqkeys_load(const char *path, struct mrf_secrets **out, struct mrf_error *err);

/* ---- TLS certificate --------------------------------------------------------------------- */

#define TLSCERT_PIN_MAX 128

/* Generates an ECDSA P-256 key and a self-signed X.509 v3 server certificate for u's host
 * (CN and subjectAltName), valid from an hour ago for five years, and writes them as PEM to
 * cert_path and key_path (mode 0600), atomically. OUT: pin gets the libcurl
 * CURLOPT_PINNEDPUBLICKEY form "sha256//<base64>" of the certificate's public key. */
enum mrf_status tlscert_create(const struct hq_url *u, const char *cert_path, const char *key_path,
                               char pin[TLSCERT_PIN_MAX], struct mrf_error *err);
/* The pin of a PEM certificate, as above. */
enum mrf_status tlscert_pin(const char *pem, size_t len, char pin[TLSCERT_PIN_MAX],
                            struct mrf_error *err);

/* ---- a post's key ring (hq/keyring.c) ------------------------------------------------------ */

/* Keeps the post key announcements and grants of the request doc that device dev (active, of
 * its post) signed and may make; ignores the others. Inside the ingest's transaction. */
enum mrf_status hq_keyring_take(struct hqstore *s, const struct hq_device *dev, const cJSON *doc,
                                int64_t now);
/* The post's devices as HQ lists them to the post, with the current epoch and who holds it. */
enum mrf_status hq_keyring_devices(struct hqstore *s, const char *post, struct keyring_devices *l);
/* Appends ',"keyring":{...}' for device dev to a version-2 answer: the post's announcements,
 * the grants for dev, and the device list signed with keys->sign_sk. */
enum mrf_status hq_keyring_answer(struct hqstore *s, const struct mrf_secrets *keys,
                                  const struct hq_device *dev, struct buf *json);

#endif

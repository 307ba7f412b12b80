/* client — the post's program `mrf`: the local store of one device, the fund's rules as the
 * post applies them offline, and the commands.
 *
 * A struct cli_ctx holds one open post store for one command run (single-threaded). Operations
 * (client_*) check every rule before writing and write through sync's capture in one
 * transaction, so a refused or failed operation leaves nothing behind. On failure they return
 * a status and leave the message in ctx->err; the message names the rule and the way forward
 * and never contains an identity, a note or a secret. Sealing needs only public keys; revealing
 * needs the keystore, unlocked with the passphrase. */
#ifndef MRF_CLIENT_H
#define MRF_CLIENT_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "common.h"
#include "mrfcrypto.h"
#include "mrfsync.h"

/* Size caps on every text a person types (bytes of UTF-8). */
#define CAP_NAME 200
#define CAP_CONTACT 200
#define CAP_PHONE 40
#define CAP_EMAIL 254
#define CAP_ADDRESS 500
#define CAP_BANK 100
#define CAP_NOTE 4000
#define PASSPHRASE_MIN 8

struct post_meta {
    char post[16];
    uint8_t device_id[MRF_ID];
    struct mrf_pubkeys pub;
    uint8_t escrow_pk[MRF_BOX_PK];
    uint8_t hq_sign_pk[MRF_SIGN_PK];
    char hq_url[256];
    int64_t token_expires;
    int64_t created_at;
    int64_t enrolled_at; /* 0: HQ has not accepted this device yet */
    int64_t last_sync;   /* 0: never */
    char hq_tls_pin[128];
    uint8_t hq_box_pk[MRF_BOX_PK];
    uint8_t token_id[MRF_ID];
    int64_t hq_cursor;       /* last number of the post's own sequence at HQ pulled */
    int has_skew;            /* hq_skew_ms is known (a sync since post store version 3) */
    int64_t hq_skew_ms;      /* this device's wall clock minus HQ's, at the last sync */
    int64_t conflict_cursor; /* last number of the post's conflict record sequence received */
    int has_officer;         /* the token carried HQ's officer key: wipe orders can be checked */
    uint8_t officer_pk[MRF_SIGN_PK];
};

/* Every SQL statement of the client, indexed here, written in client/sql.c. */
enum client_sql {
    CQ_META,
    CQ_META_INSERT,
    CQ_META_RETOKEN,
    CQ_THEMES_YEAR,
    CQ_THEMES,
    CQ_THEME_ROW,
    CQ_GRANTS_USING_THEME,
    CQ_FIND_PARTNER,
    CQ_FIND_GRANT,
    CQ_PARTNER_OPEN_GRANTS,
    CQ_PARTNERS,
    CQ_PARTNER_ROW, /* every synced column of one partner: result column i is column id i */
    CQ_GRANTS,
    CQ_GRANT_ROW, /* the same for one grant */
    CQ_ALLOCATION,
    CQ_COMMITTED,
    CQ_CONFLICTS,
    CQ_OPEN_CONFLICTS,
    CQ_OPEN_CONFLICT_ROWS,
    CQ_CONFLICT_PUT,
    CQ_CONFLICT_CURSOR,
    CQ_AUDIT_HEAD_GET,
    CQ_AUDIT_HEAD_PUT,
    CQ_OUTBOX_OLDEST,
    CQ_OUTBOX_FROZEN_NEXT,
    CQ_OUTBOX_FROZEN_LIST,
    CQ_OUTBOX_OF,
    CQ_OUTBOX_PENDING,
    CQ_OUTBOX_FREEZE,
    CQ_OUTBOX_ACK,
    CQ_OUTBOX_SET_ASIDE,
    CQ_OUTBOX_SEEN,
    CQ_QUARANTINE_PUT,
    CQ_QUARANTINED,
    CQ_SYNC_DONE,
    CQ_CLOCK_GET,
    CQ_OUTBOX_RESTAMP_PREV,
    CQ_BEGIN,
    CQ_COMMIT,
    CQ_ROLLBACK,
    CQ_FREE_PAGES,
    CQ_TRIM,
    CQ_COUNT
};

struct cli_ctx {
    const char *home;
    char store_path[1100];
    char keystore_path[1100];
    int json;
    int readonly; /* the command only reads: the store is opened read-only */
    sqlite3 *db;
    struct capture *cap;
    struct post_meta meta;
    struct mrf_secrets *secrets; /* unlocked keystore, only while revealing */
    struct client_ring *ring;    /* the post keys this device holds, opened with secrets */
    sqlite3_stmt *stmts[CQ_COUNT];
    struct mrf_error err;
};

/* ---- the store and the keystore ---------------------------------------------------------- */

/* The files of the post's home that home_check examines (common.h). */
extern const struct home_file client_home_files[];

/* Sets the paths under home; opens nothing. */
void client_init(struct cli_ctx *ctx, const char *home);
/* Opens the existing post store and its capture (read-only if ctx->readonly). MRF_E_STATE if
 * the device is not set up. */
enum mrf_status client_open(struct cli_ctx *ctx);
/* Closes what client_open opened; after a command that could write, first returns the store's
 * free pages to the file system (PRAGMA incremental_vacuum). */
void client_close(struct cli_ctx *ctx);
/* Asks for the passphrase (MRF_PASSPHRASE or the terminal) and unlocks ctx->secrets.
 * MRF_E_PASSPHRASE if it is wrong. */
enum mrf_status client_unlock(struct cli_ctx *ctx);
/* The same with a passphrase the caller has read; MRF_E_STATE if the keystore belongs to
 * another store. */
enum mrf_status client_unlock_with(struct cli_ctx *ctx, const char *passphrase);
/* MRF_OK if tok is still valid at now; MRF_E_REFUSED with the way on if it has expired. */
enum mrf_status client_token_fresh(struct cli_ctx *ctx, const struct enroll_token *tok,
                                   int64_t now);

/* Sets up this device from an enrollment token with a new passphrase: keystore and store, or
 * nothing at all. MRF_E_INVALID for a malformed token, MRF_E_REFUSED for an expired one,
 * MRF_E_STATE if the device is already set up. */
enum mrf_status client_setup(struct cli_ctx *ctx, const char *token, const char *passphrase,
                             int64_t now);

/* Gives a device HQ has not accepted yet a new enrollment token (its first one expired or
 * was used before the device's first sync), keeping everything recorded on it
 * (client/retoken.c). The token must come from the same HQ (signing, box and escrow keys) for
 * the same post; it may move HQ's URL and TLS pin. With passphrase NULL, only checks. The
 * keystore (which holds the enrollment secret) is rewritten first, the store's token fields
 * after: a crash in between leaves a device HQ refuses until the same command runs again.
 * MRF_E_STATE if HQ has accepted this device already; MRF_E_RULE for another post or HQ;
 * MRF_E_REFUSED for an expired token; MRF_E_PASSPHRASE if the passphrase is wrong. Needs
 * client_open. */
enum mrf_status client_retoken(struct cli_ctx *ctx, const char *token, const char *passphrase,
                               int64_t now);

/* The statement, prepared on first use and reset; NULL (ctx->err set) if it cannot be. */
sqlite3_stmt *client_stmt(struct cli_ctx *ctx, enum client_sql which);
/* Sets ctx->err from the store's last error and returns MRF_E_IO. */
enum mrf_status client_db_fail(struct cli_ctx *ctx, const char *what);

/* ---- rules and writes -------------------------------------------------------------------- */

/* Replaces the year's themes with themes[0..n). More than two, an unknown code, a repeated
 * code, or dropping a theme that live grants of that year use: MRF_E_RULE / MRF_E_INVALID. */
enum mrf_status client_theme_set(struct cli_ctx *ctx, int year, const char *const *themes, int n);
/* The year's current themes as theme indexes; *n set. */
enum mrf_status client_theme_get(struct cli_ctx *ctx, int year, int out[THEME_COUNT], int *n);

/* Fields of a partner as typed; NULL means "not given". An empty string clears the field on
 * edit (not allowed for the name). */
struct partner_input {
    const char *name, *contact, *phone, *email, *address, *bank, *note, *risk;
};
/* code_out: the new partner's short code. */
enum mrf_status client_partner_add(struct cli_ctx *ctx, const struct partner_input *in,
                                   char code_out[16]);
enum mrf_status client_partner_edit(struct cli_ctx *ctx, const char *code,
                                    const struct partner_input *in);
enum mrf_status client_partner_remove(struct cli_ctx *ctx, const char *code);

struct grant_input {
    const char *partner, *theme, *year, *amount, *currency, *status, *start, *end, *note;
};
enum mrf_status client_grant_add(struct cli_ctx *ctx, const struct grant_input *in,
                                 char code_out[16]);
enum mrf_status client_grant_set(struct cli_ctx *ctx, const char *code,
                                 const struct grant_input *in);

/* ---- reading ----------------------------------------------------------------------------- */

/* Finds a live or removed row by short code. MRF_E_NOTFOUND / MRF_E_INVALID otherwise. */
enum mrf_status client_find(struct cli_ctx *ctx, enum sync_table t, const char *code,
                            uint8_t id[MRF_ID], int *removed);

/* Opens sealed column col (a column id of t, kind CK_SEALED) of a row with the unlocked
 * secrets. *plain NULL if the column is empty; MRF_E_AUTH if it was sealed to another device,
 * MRF_E_INVALID if it is damaged (its frame is not whole, or it has a slot for this device but
 * does not open); *plain is NULL then too. */
enum mrf_status client_reveal(struct cli_ctx *ctx, enum sync_table t, const uint8_t id[MRF_ID],
                              int col, char **plain);

/* Listings as cJSON arrays of objects (caller frees with cJSON_Delete); the text commands
 * print from the same objects, so text and --json never disagree. With reveal, identity and
 * note fields are opened (ctx->secrets must be unlocked). Partners: all live ones, also the
 * removed ones if with_removed, or only only_id. */
enum mrf_status client_partners_json(struct cli_ctx *ctx, const uint8_t *only_id, int with_removed,
                                     int reveal, cJSON **out);
enum mrf_status client_grants_json(struct cli_ctx *ctx, int year, const uint8_t *only_id,
                                   int reveal, cJSON **out);
/* One partner (live or removed) as client_partners_json shows it, with "grant_codes": the codes
 * of its grants. MRF_E_NOTFOUND if id names no partner. */
enum mrf_status client_partner_json(struct cli_ctx *ctx, const uint8_t id[MRF_ID], int reveal,
                                    cJSON **out);
enum mrf_status client_themes_json(struct cli_ctx *ctx, int year, cJSON **out);
/* Allocation, committed and remaining for a year, per currency. */
enum mrf_status client_allocation_json(struct cli_ctx *ctx, int year, cJSON **out);
/* 1 (and the warning in msg) if committed grants of year pass a known allocation: a warning,
 * never a refusal (HQ decides); 0 otherwise, and on any failure. */
int client_allocation_warning(struct cli_ctx *ctx, int year, char *msg, size_t size);
/* Includes "open_conflicts" and "audit_head" (the latest head of HQ's audit chain this device
 * verified: seq, hash, sig, received; null if none yet). */
enum mrf_status client_status_json(struct cli_ctx *ctx, cJSON **out);
/* The conflict records HQ sent: open ones (oldest first), and closed ones too if all. */
enum mrf_status client_conflicts_json(struct cli_ctx *ctx, int all, cJSON **out);
/* Gives each grant of rows (from client_grants_json) a member "conflict": the id of the oldest
 * open record whose rows name the grant's code, or null. */
enum mrf_status client_grants_mark_conflicts(struct cli_ctx *ctx, cJSON *rows);

/* ---- destruction and HQ's wipe order (client/wipe.c, client/order.c) --------------------- */

/* Destroys this device as `mrf wipe` does: the keystore first (random overwrite, fsync,
 * unlink), then the store's WAL, shared memory and file (zero-filled, synced, unlinked), then
 * the home if it is empty. Closes the store first. MRF_E_IO (message in ctx->err) if a file
 * cannot be destroyed; the rest is still tried. */
enum mrf_status client_destroy(struct cli_ctx *ctx);

/* Asks HQ, over the pinned connection and before any passphrase, whether its officer ordered
 * this device wiped (GET /v1/order/<id>), and obeys an order that carries the officer's
 * signature for this device: client_destroy, then MRF_E_REFUSED saying so. An order that does
 * not verify is never obeyed: MRF_E_AUTH (exit 5), nothing destroyed, nothing sent. MRF_OK
 * if there is no order (404, also from an HQ too old to know orders) or the device has no
 * officer key (enrolled with a version-1 token: it does not ask); MRF_E_OFFLINE if HQ cannot
 * be reached. timeout_s: 0 for the default. Needs client_open. */
enum mrf_status client_wipe_order(struct cli_ctx *ctx, int timeout_s);

/* ---- sync with HQ (client/sync.c) -------------------------------------------------------- */

struct sync_progress {
    int64_t ops_total;  /* outbox entries when the sync started */
    int64_t ops_sent;   /* acknowledged so far */
    int64_t changesets; /* change sets acknowledged */
    int64_t ops_pulled; /* ops received from HQ */
    int64_t bytes_up;   /* on the wire, headers included */
    int64_t bytes_down;
};

struct sync_summary {
    struct sync_progress p;
    int64_t requests;    /* HTTP requests answered */
    int64_t connects;    /* TCP+TLS connections opened */
    int64_t quarantined; /* change sets HQ refused for their content in this sync */
    char quarantine_reason[128];
    int64_t records;         /* conflict records received (new or changed) */
    int64_t decided;         /* ... of them closed (HQ's decision, or the rule holds again) */
    char audit_warning[192]; /* why an audit head HQ sent was not kept ("" if all were) */
    int more;                /* the last answer said HQ has more for this device */
    int64_t pulled_new;      /* pulled ops that were new here (p.ops_pulled counts them all) */
};

struct sync_opts {
    int timeout_s;           /* the whole sync, including retries */
    size_t changeset_target; /* bytes of JSON per change set; 0: CHANGESET_TARGET */
    void (*progress)(void *arg, const struct sync_progress *p); /* may be NULL */
    void *progress_arg;
};

/* Pushes the outbox to HQ as bounded change sets and pulls what the post's other devices and
 * HQ wrote, over one kept-alive HTTPS connection. Needs the unlocked keystore (signing).
 * Each change set leaves the outbox only in the local transaction that applies its verified
 * acknowledgement and the pulled ops; a change set HQ refuses for its content moves to the
 * quarantine with HQ's reason and the rest goes on. MRF_E_OFFLINE if HQ cannot be reached
 * (nothing lost), MRF_E_REFUSED if HQ refuses this device or the pin does not match. */
enum mrf_status client_sync(struct cli_ctx *ctx, const struct sync_opts *o,
                            struct sync_summary *sum);
/* Applies HQ's answer json (len bytes) to change set cs as client_sync does once the answer's
 * envelope has verified, in one local transaction: the acknowledgement, the pulled ops, the
 * conflict records and their cursor, and the audit head if it verifies against HQ's key and
 * is not older than the one kept (else sum->audit_warning says why and the old one stays).
 * An answer that does not parse, or holds an op or a record that does not, applies nothing:
 * MRF_E_REFUSED. *sum is added to, not cleared. */
enum mrf_status client_sync_answer(struct cli_ctx *ctx, const uint8_t cs[MRF_ID], const char *json,
                                   size_t len, struct sync_summary *sum);

/* ---- the post's key ring (client/keyring.c) ---------------------------------------------- */

struct client_ring;
void client_ring_free(struct client_ring *r);
/* Opens the post keys this device holds into ctx->ring (needs ctx->secrets; a no-op without). */
enum mrf_status client_ring_load(struct cli_ctx *ctx);
/* Makes this device's candidate for the post's first key (epoch 1), at set-up: the first one HQ
 * gets becomes the post's; another device's candidate loses and is dropped. */
enum mrf_status client_ring_first_key(struct cli_ctx *ctx);
/* The recipients of a new sealed field: this device, HQ's escrow key and, if this device holds
 * it, the post key new fields go to. OUT: keys[0..*n), *n 2 or 3. No passphrase needed. */
enum mrf_status client_ring_recipients(struct cli_ctx *ctx, uint8_t keys[3][MRF_BOX_PK], int *n);
/* Opens a sealed field with a post key of ctx->ring. MRF_E_AUTH if none of its slots is for
 * one; MRF_E_INVALID if one is but the field does not open (damaged). */
enum mrf_status client_ring_open(struct cli_ctx *ctx, const uint8_t *blob, size_t n,
                                 const char *aad, char **plain, size_t *len);
/* After an unlock that may write: drops keys that lost a race, rotates the post key if a
 * revoked device held it, makes the post's first key if may_create and HQ relays none, and
 * seals again this device's fields no post key opens. OUT: *changed > 0 if something now
 * waits to be sent. */
enum mrf_status client_ring_maintain(struct cli_ctx *ctx, int may_create, int *changed);
/* The ',"keyring":{...}' members of the next request (announcements of keys made here that HQ
 * does not relay yet, queued grants) into members (reset first); *upto: the last queued grant
 * written. Empty without the unlocked keystore. */
enum mrf_status client_ring_request(struct cli_ctx *ctx, struct buf *members, int64_t *upto);
/* Takes the key ring of HQ's answer doc inside the answer's transaction: HQ's device list
 * (verified with HQ's key), the announcements its listed creators signed, the grants for this
 * device that verify and open into the announced key; forgets the queued grants up to upto.
 * MRF_E_REFUSED if the device list does not verify. */
enum mrf_status client_ring_answer(struct cli_ctx *ctx, const cJSON *doc, int64_t upto);
/* Grants every post key this device holds to the device of HQ's list with fingerprint fp (as
 * 'mrf device list' shows it; spaces optional), signed by this device, queued for the next
 * sync. Asks for the passphrase. MRF_E_NOTFOUND for a fingerprint not in the list, MRF_E_RULE
 * for a revoked device, this device, or a device that does not hold the current key. OUT:
 * shown, the fingerprint as listed. */
enum mrf_status client_ring_approve(struct cli_ctx *ctx, const char *fp, char shown[48]);
/* HQ's list of the post's devices as this device keeps it, verified again: device, fingerprint,
 * status, post_key (HQ says it holds the current key), this_device. */
enum mrf_status client_devices_json(struct cli_ctx *ctx, cJSON **out);
/* Adds "fingerprint", "post_key" and "post_key_epoch" to a status object. */
enum mrf_status client_ring_status(struct cli_ctx *ctx, cJSON *o);

/* The summary of a finished sync as `mrf sync --json` prints it (caller frees). */
cJSON *client_sync_summary_json(const struct sync_summary *s);

/* ---- sync by pouch (client/pouch.c, on client/sync.c's machinery) ----------------------- */

/* What a device's pouch holds. */
struct pouch_out_summary {
    int64_t changesets; /* frozen change sets in the pouch */
    int64_t ops;        /* their outbox entries */
    int64_t pulls;      /* requests without ops, for further pages of HQ's answer */
    int64_t left;       /* outbox entries that did not fit: they go with the next pouch or sync */
    size_t bytes;       /* the pouch's size (its bucket) */
};

/* Receives one sealed request envelope (len bytes, valid during the call only). */
typedef enum mrf_status (*client_envelope_fn)(void *arg, const uint8_t *env, size_t len);

/* Cuts pending entries into frozen change sets, as client_sync does (many in one
 * transaction), until max are frozen or nothing is pending; then calls put with the request
 * envelope of each frozen change set, oldest first (at most max), and of pulls pull requests, each
 * sealed and signed exactly as client_sync would send it (the cursors this device holds now).
 * Frozen change sets stay in the outbox until an acknowledgement arrives by either road. Needs the
 * unlocked keystore. OUT: s->changesets, s->ops, s->pulls, s->left. */
enum mrf_status client_sync_requests(struct cli_ctx *ctx, int max, int pulls,
                                     client_envelope_fn put, void *arg,
                                     struct pouch_out_summary *s);
/* client_sync_answer for an answer that came in a reply pouch: it may be older than what this
 * device pulled since, or applied before. Then nothing moves back (cursors, records, audit
 * head) and nothing is applied twice (an acknowledgement of entries already gone changes
 * nothing); HQ's time in it is not taken as the skew of this laptop's clock. */
enum mrf_status client_sync_answer_pouch(struct cli_ctx *ctx, const uint8_t cs[MRF_ID],
                                         const char *json, size_t len, struct sync_summary *sum);

/* Writes this device's pouch (client_sync_requests: at most POUCH_CHANGESETS change sets and
 * POUCH_PULLS pulls) sealed to HQ and signed by this device into out (cap POUCH_MAX). Needs
 * the unlocked keystore. */
enum mrf_status client_pouch_out(struct cli_ctx *ctx, struct buf *out, struct pouch_out_summary *s);
/* Reads HQ's reply pouch for this device: it must open with this device's key, carry HQ's
 * signature (the key from the token) and name this device; every answer in it must open and
 * read before the first is applied (else MRF_E_INVALID / MRF_E_AUTH, nothing applied). Then
 * applies each answer in order with client_sync_answer_pouch. OUT: *answers, how many. */
enum mrf_status client_pouch_in(struct cli_ctx *ctx, const uint8_t *data, size_t n,
                                struct sync_summary *sum, int *answers);

/* ---- output ------------------------------------------------------------------------------ */

/* Prints a cJSON value to stdout, formatted, with a newline. */
void out_json(const cJSON *v);
/* Prints rows (an array of objects) as an aligned table with the given keys as columns;
 * "(none)"-style line when empty. */
void out_table(const cJSON *rows, const char *const *keys, const char *const *heads, int ncols,
               const char *empty);
/* Prints on stderr what a sync or an applied reply pouch brought that someone should act on:
 * change sets HQ quarantined, an audit head not kept, conflict records (those two only
 * without json). cmd names the command ("sync", "pouch in"). */
void out_sync_notes(const char *cmd, const struct sync_summary *sum, int json);
/* Reports a failed command on stderr and returns its exit code. */
int out_fail(const char *cmd, const struct cli_ctx *ctx, enum mrf_status st);

/* The current year (UTC). */
int client_this_year(void);

/* ---- commands ---------------------------------------------------------------------------- */

extern const struct cmd_entry cmd_init, cmd_theme_set, cmd_theme_list, cmd_partner_add,
    cmd_partner_list, cmd_partner_show, cmd_partner_edit, cmd_partner_remove, cmd_grant_add,
    cmd_grant_set, cmd_grant_list, cmd_allocation, cmd_status, cmd_sync, cmd_conflicts, cmd_export,
    cmd_passwd, cmd_wipe, cmd_ui, cmd_pouch_out, cmd_pouch_in, cmd_device_list, cmd_device_approve;

#endif

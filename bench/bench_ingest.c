/* Measures HQ's ingest of change sets of 1,000 grant ops, in process: hq_ingest() verifies the
 * signature, decrypts, decompresses, parses, merges every op and appends it to the oplog, in
 * one durable transaction per change set, then builds the signed response. Two kinds of
 * change set: new grants (the seven column writes of `mrf grant add`) and edited amounts of
 * existing grants. Beside each, the ceiling: a raw SQLite UPSERT of the same column values and
 * their per-column clocks into the same HQ schema with the same PRAGMAs (schema_open), one
 * transaction per 1,000 ops, nothing else. The two alternate change set by change set so
 * both meet the same disk.
 *
 * The post's theme for the year and the grants' partner are recorded first, untimed, so the
 * grants keep the fund's rules and the conflict checks run as they do on a post's real data.
 *
 * The device's hourly volume bound is lifted in the store first (it sends 1,000 ops a change
 * set as fast as HQ takes them): what is measured is ingest, not the bound.
 *
 * Also prints the size of each kind of sealed change set beside zstd (level 3) of its own
 * JSON. Only hq_ingest() and the ceiling's transaction are timed; building and sealing a
 * request is the device's work and is left out. Figures, never pass/fail.
 *
 * usage: bench_ingest HQ_HOME POST CHANGESETS
 *   HQ_HOME made by `mrf-hq init` with POST added; a device is added to it here.
 *
 * Scale mode (bench/hqscale.sh): how ingest, a grant listing and a fresh device's full pull
 * cost as HQ's store grows.
 *   bench_ingest --scale [--posts N] POST OTHER SETS SIZE:HQ_HOME...
 * One store per size, each HQ_HOME made by `mrf-hq init` with POST and OTHER added. OTHER gets
 * 1,000 grants first: its listing must cost the same whatever POST holds. Then the store is
 * filled up to SIZE (ops in the oplog) with new-grant change sets through hq_ingest() itself,
 * so every table is as ingest leaves it: POST's alone, or with --posts N, N posts' in turns
 * (POST and N - 1 added here), POST holding an Nth; the fill commits without waiting for the disk
 * (synchronous = OFF, which changes no byte of the content). Then, durable again, SETS change
 * sets of new grants and then SETS of edited amounts of existing grants are timed per store,
 * SCALE_TURN at a time, the stores taking turns (scale_main says why); each kind ends with
 * the checkpoint that copies its pages into the store, timed with it, and before it the pages
 * the change sets wrote are counted by the table or index they belong to (wal_pages_print).
 * Last, per store, OTHER's grant list is timed (median of 5) and, for sizes up to 100k ops, a
 * fresh device of POST pulls everything (per-op time). Prints key=value lines, sizes named by
 * their op count; the file's size is the last store's (the largest). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "common.h"
#include "hq.h"
#include "hqstore.h"
#include "hqstore_db.h"
#include "mrfcrypto.h"
#include "mrfsync.h"
#include "schema.h"
#include "benchhq.h"
#include "stats.h"

#define OPS_PER_SET 1000
#define SCALE_TURN 5 /* scale mode: change sets timed per store in each turn */
#define GRANT_COLS 7 /* what `mrf grant add` writes without dates or note */

static const int grant_add_cols[GRANT_COLS] = {GRANT_PARTNER, GRANT_THEME,    GRANT_YEAR,
                                               GRANT_AMOUNT,  GRANT_CURRENCY, GRANT_STATUS,
                                               GRANT_REMOVED};

/* The bench's device and what it has written. */
struct dev {
    struct mrf_secrets *keys;
    uint8_t id[MRF_ID];
    char post[16];
    int64_t cursor;
    hlc_t clock;
    uint8_t partner[MRF_ID];
    uint8_t (*grants)[MRF_ID]; /* every grant created, in order */
    hlc_t *amount_clock;       /* the clock of each grant's amount_cents */
    int ngrants, cap;
    int next_col; /* column index (into grant_add_cols) of the grant being written */
};

/* Fills ops[0..n) with new grants' column writes, whole grants only (HQ quarantines a new row
 * without its required columns, and a device never cuts one apart): the n mod 7 writes left
 * at the end set the start date of the set's first grants, as `mrf grant set --start` would. */
static void ops_new(struct dev *d, struct sync_op *ops, int n)
{
    static const char *const text[GRANT_NCOLS] = {[GRANT_THEME] = "HRD",
                                                  [GRANT_CURRENCY] = "EUR",
                                                  [GRANT_STATUS] = "draft",
                                                  [GRANT_START] = "2026-01-01"};
    int first = d->ngrants, whole = n - n % GRANT_COLS;

    for (int i = 0; i < n; i++) {
        struct sync_op *op = &ops[i];
        int col = i < whole ? grant_add_cols[d->next_col] : GRANT_START;

        if (i >= whole) {
            memset(op, 0, sizeof *op);
            op->tbl = ST_GRANTS;
            memcpy(op->id, d->grants[first + (i - whole)], MRF_ID);
            op->col = col;
            op->clock = ++d->clock;
            memcpy(op->device, d->id, MRF_ID);
            op->v = (struct sync_value){.type = SYNC_TEXT, .text = text[col]};
            continue;
        }
        if (d->next_col == 0) {
            if (d->ngrants == d->cap) {
                d->cap = d->cap ? d->cap * 2 : 256;
                d->grants = xrealloc(d->grants, (size_t)d->cap * MRF_ID);
                d->amount_clock = xrealloc(d->amount_clock, (size_t)d->cap * sizeof(hlc_t));
            }
            mrf_random(d->grants[d->ngrants++], MRF_ID);
        }
        memset(op, 0, sizeof *op);
        op->tbl = ST_GRANTS;
        memcpy(op->id, d->grants[d->ngrants - 1], MRF_ID);
        op->col = col;
        op->clock = ++d->clock;
        memcpy(op->device, d->id, MRF_ID);
        switch (col) {
        case GRANT_PARTNER:
            op->v = (struct sync_value){.type = SYNC_BLOB, .blob = d->partner, .n = MRF_ID};
            break;
        case GRANT_YEAR:
            op->v = (struct sync_value){.type = SYNC_INT, .i = 2026};
            break;
        case GRANT_AMOUNT:
            op->v = (struct sync_value){.type = SYNC_INT, .i = 100000 + 100 * (d->ngrants % 977)};
            d->amount_clock[d->ngrants - 1] = op->clock;
            break;
        case GRANT_REMOVED:
            op->v = (struct sync_value){.type = SYNC_INT, .i = 0};
            break;
        default:
            op->v = (struct sync_value){.type = SYNC_TEXT, .text = text[col]};
        }
        d->next_col = (d->next_col + 1) % GRANT_COLS;
    }
}

/* Fills ops[0..n) with new amounts for existing grants, the way `mrf grant set --amount`
 * records them (with the clock and writer of the value replaced). */
static void ops_edit(struct dev *d, struct sync_op *ops, int n, int round)
{
    for (int i = 0; i < n; i++) {
        struct sync_op *op = &ops[i];
        int g = (round * n + i) % d->ngrants;

        memset(op, 0, sizeof *op);
        op->tbl = ST_GRANTS;
        memcpy(op->id, d->grants[g], MRF_ID);
        op->col = GRANT_AMOUNT;
        op->v = (struct sync_value){.type = SYNC_INT, .i = 250000 + 50 * round + i};
        op->prev_clock = d->amount_clock[g];
        op->has_prev_device = 1;
        memcpy(op->prev_device, d->id, MRF_ID);
        op->clock = ++d->clock;
        d->amount_clock[g] = op->clock;
        memcpy(op->device, d->id, MRF_ID);
    }
}

/* Writes the request JSON of ops into json and seals it into env. */
static void seal(struct dev *d, const struct sync_op *ops, int n, const struct hq_config *cfg,
                 struct buf *json, struct buf *env)
{
    struct envelope h;
    struct mrf_error err = {0};
    struct cs_writer w;

    /* the body a device of this release sends */
    changeset_writer_init(&w, WIRE_VERSION, 0);
    if (changeset_request_begin(json, WIRE_VERSION, d->cursor, 0, -1, NULL) != MRF_OK)
        bench_die("request", "too large");
    for (int i = 0; i < n; i++)
        if (changeset_writer_put(&w, json, &ops[i]) != MRF_OK)
            bench_die("request", "too large");
    if (changeset_request_end(json) != MRF_OK)
        bench_die("request", "too large");
    memset(&h, 0, sizeof h);
    h.kind = ENV_REQUEST;
    memcpy(h.sender, d->id, MRF_ID);
    mrf_random(h.changeset, MRF_ID);
    str_copy(h.post, d->post, sizeof h.post);
    if (envelope_seal(&h, json->data, json->len, d->keys, cfg->hq.box_pk, env, &err) != MRF_OK)
        bench_die("seal", err.msg);
}

/* Opens HQ's response to d and moves d's cursor on, as the device does. Returns 1 if HQ has
 * more for d than the answer held. */
static int take_response(struct dev *d, const struct hq_config *cfg, const struct buf *resp)
{
    struct envelope h;
    struct mrf_error err = {0};
    char *json = NULL;
    size_t len = 0;
    cJSON *doc;
    const cJSON *cur, *more;
    int has_more;

    if (envelope_parse((const uint8_t *)resp->data, resp->len, &h, &err) != MRF_OK ||
        envelope_open(&h, cfg->hq.sign_pk, cfg->hq.box_pk, d->keys->box_sk, &json, &len, &err) !=
            MRF_OK)
        bench_die("response", err.msg);
    doc = wire_json_parse(json, len);
    cur = doc ? cJSON_GetObjectItemCaseSensitive(doc, "cursor") : NULL;
    if (!cJSON_IsNumber(cur))
        bench_die("response", "no cursor");
    d->cursor = (int64_t)cur->valuedouble;
    more = cJSON_GetObjectItemCaseSensitive(doc, "more");
    has_more = cJSON_IsTrue(more);
    cJSON_Delete(doc);
    x_free(json);
    return has_more;
}

/* ---- the ceiling: raw UPSERTs ---------------------------------------------------------- */

struct ceiling {
    sqlite3 *db;
    sqlite3_stmt *col[16]; /* a column with its clock and writer, in its row */
    sqlite3_stmt *writer;
};

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
        bench_die("ceiling", sqlite3_errmsg(db));
    return st;
}

static void ceiling_open(struct ceiling *c, const char *path)
{
    const struct sync_table_desc *g = sync_table_get(ST_GRANTS);
    struct mrf_error err = {0};
    char sql[256];

    memset(c, 0, sizeof *c);
    if (schema_open(path, SCHEMA_HQ, &c->db, &err) != MRF_OK)
        bench_die("ceiling", err.msg);
    for (int k = 0; k < g->ncols; k++) {
        /* the column and its clock, in the row as HQ's store keeps them (version 10) */
        snprintf(sql, sizeof sql,
                 "INSERT INTO grants(id, post, code, %s, c%d, w%d) VALUES (?1, ?2, ?3, ?4, ?5, "
                 "(SELECT n FROM writers WHERE device = ?6)) ON CONFLICT(post, id) DO UPDATE "
                 "SET %s = excluded.%s, c%d = excluded.c%d, w%d = excluded.w%d",
                 g->cols[k].name, k, k, g->cols[k].name, g->cols[k].name, k, k, k, k);
        c->col[k] = prepare(c->db, sql);
    }
    c->writer = prepare(c->db, "INSERT INTO writers(device) VALUES (?1) ON CONFLICT DO NOTHING");
}

static void step(sqlite3 *db, sqlite3_stmt *st)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        bench_die("ceiling", sqlite3_errmsg(db));
    sqlite3_reset(st);
}

/* One transaction: every op's column and clock. */
static void ceiling_apply(struct ceiling *c, const char *post, const struct sync_op *ops, int n)
{
    char code[16];

    if (sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        bench_die("ceiling", sqlite3_errmsg(c->db));
    if (n > 0) { /* the writer's number, as the merge gives it on first sight */
        sqlite3_bind_blob(c->writer, 1, ops[0].device, MRF_ID, SQLITE_STATIC);
        step(c->db, c->writer);
    }
    for (int i = 0; i < n; i++) {
        sqlite3_stmt *st = c->col[ops[i].col];

        shortcode_make("G", ops[i].id, code);
        sqlite3_bind_blob(st, 1, ops[i].id, MRF_ID, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, post, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, code, -1, SQLITE_STATIC);
        sync_value_bind(st, 4, &ops[i].v);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)ops[i].clock);
        sqlite3_bind_blob(st, 6, ops[i].device, MRF_ID, SQLITE_STATIC);
        step(c->db, st);
    }
    if (sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        bench_die("ceiling", sqlite3_errmsg(c->db));
}

static void ceiling_close(struct ceiling *c)
{
    for (int k = 0; k < 16; k++)
        sqlite3_finalize(c->col[k]);
    sqlite3_finalize(c->writer);
    sqlite3_close_v2(c->db);
}

/* ---- one phase ------------------------------------------------------------------------- */

struct phase {
    const char *name;
    double ingest_ms, ceiling_ms;             /* totals */
    double *per_set;                          /* ingest ms of each change set */
    size_t env_bytes, json_bytes, zstd_bytes; /* of the first change set */
};

static void run_phase(struct phase *p, int edit, int sets, struct dev *d, struct hqstore *s,
                      const struct hq_identity *id, struct ceiling *c)
{
    struct sync_op ops[OPS_PER_SET];
    struct buf json, env;
    struct ingest_result r;

    buf_init(&json, WIRE_JSON_MAX);
    buf_init(&env, ENV_MAX);
    p->per_set = xcalloc((size_t)sets, sizeof *p->per_set);
    for (int k = 0; k < sets; k++) {
        double t0, ms;

        if (edit)
            ops_edit(d, ops, OPS_PER_SET, k);
        else
            ops_new(d, ops, OPS_PER_SET);
        seal(d, ops, OPS_PER_SET, &id->cfg, &json, &env);
        if (k == 0) {
            size_t bound = ZSTD_compressBound(json.len);
            void *z = xmalloc(bound);
            size_t zn = ZSTD_compress(z, bound, json.data, json.len, 3);

            if (ZSTD_isError(zn))
                bench_die("zstd", ZSTD_getErrorName(zn));
            p->env_bytes = env.len;
            p->json_bytes = json.len;
            p->zstd_bytes = zn;
            x_free(z);
        }

        ingest_result_init(&r);
        t0 = now_ms();
        if (hq_ingest(s, id, (const uint8_t *)env.data, env.len, &r) != MRF_OK)
            bench_die("ingest", hqstore_errmsg(s));
        ms = now_ms() - t0;
        if (r.http_status != 200 || strcmp(r.reason, "accepted") != 0 ||
            r.ops_applied != OPS_PER_SET)
            bench_die("ingest refused the change set", r.reason);
        take_response(d, &id->cfg, &r.response);
        ingest_result_release(&r);
        p->per_set[k] = ms;
        p->ingest_ms += ms;

        t0 = now_ms();
        ceiling_apply(c, d->post, ops, OPS_PER_SET);
        p->ceiling_ms += now_ms() - t0;
    }
    buf_release(&json);
    buf_release(&env);
}

static void print_phase(struct phase *p, int sets)
{
    double ops = (double)sets * OPS_PER_SET;
    double ingest = ops / (p->ingest_ms / 1e3), ceiling = ops / (p->ceiling_ms / 1e3);

    printf("ingest_%s_ops_per_s=%.0f\n", p->name, ingest);
    printf("ingest_%s_median_ms=%.2f\n", p->name, median(p->per_set, sets));
    printf("ceiling_%s_ops_per_s=%.0f\n", p->name, ceiling);
    printf("ratio_%s=%.2f\n", p->name, ingest / ceiling);
    printf("env_%s_bytes=%zu\n", p->name, p->env_bytes);
    printf("json_%s_bytes=%zu\n", p->name, p->json_bytes);
    printf("zstd_%s_bytes=%zu\n", p->name, p->zstd_bytes);
    printf("env_over_zstd_%s=%.3f\n", p->name, (double)p->env_bytes / (double)p->zstd_bytes);
    x_free(p->per_set);
}

/* What the post recorded before its grants, untimed: the year's theme (HRD for 2026) and the
 * partner the grants name. Without them every grant would break a fund rule and open a
 * conflict record: a post's data as it is, not as it should not be, is what is measured. */
static void post_setup(struct hqstore *s, struct dev *d)
{
    uint8_t theme[MRF_ID];
    struct sync_op op;
    int applied;

    row_id_derive(theme, "themes", d->post, 2026, "HRD");
    if (hqstore_begin(s) != MRF_OK)
        bench_die("setup", hqstore_errmsg(s));
    for (int i = 0; i < 5; i++) {
        memset(&op, 0, sizeof op);
        op.clock = ++d->clock;
        memcpy(op.device, d->id, MRF_ID);
        if (i < 3) {
            op.tbl = ST_THEMES;
            memcpy(op.id, theme, MRF_ID);
            op.col = i == 0 ? THEME_YEAR : i == 1 ? THEME_THEME : THEME_REMOVED;
            op.v = i == 1 ? (struct sync_value){.type = SYNC_TEXT, .text = "HRD"}
                          : (struct sync_value){.type = SYNC_INT, .i = i == 0 ? 2026 : 0};
        } else {
            op.tbl = ST_PARTNERS;
            memcpy(op.id, d->partner, MRF_ID);
            op.col = i == 3 ? PARTNER_RISK : PARTNER_REMOVED;
            op.v = i == 3 ? (struct sync_value){.type = SYNC_TEXT, .text = "low"}
                          : (struct sync_value){.type = SYNC_INT, .i = 0};
        }
        if (hqstore_apply(s, d->post, &op, &applied) != MRF_OK || !applied)
            bench_die("setup", hqstore_errmsg(s));
    }
    if (hqstore_commit(s) != MRF_OK)
        bench_die("setup", hqstore_errmsg(s));
}

/* ---- scale mode -------------------------------------------------------------------------- */

/* A device of post, enrolled in s, with its theme and partner recorded. */
static void dev_new(struct dev *d, struct hqstore *s, const char *post)
{
    struct hq_device hd;

    memset(d, 0, sizeof *d);
    mrf_secrets_new(&d->keys);
    mrf_random(d->id, MRF_ID);
    mrf_random(d->partner, MRF_ID);
    str_copy(d->post, post, sizeof d->post);
    d->clock = hlc_make(time_now_ms(), 0);
    memset(&hd, 0, sizeof hd);
    memcpy(hd.id, d->id, MRF_ID);
    str_copy(hd.post, d->post, sizeof hd.post);
    hd.keys = d->keys->pub;
    hd.enrolled_at = (int64_t)time(NULL);
    if (hqstore_device_add(s, &hd) != MRF_OK)
        bench_die("device", hqstore_errmsg(s));
}

static void dev_free(struct dev *d)
{
    mrf_secrets_free(d->keys);
    x_free(d->grants);
    x_free(d->amount_clock);
}

/* One change set of n ops (new grants, or edits of round k) through hq_ingest; its ms. */
static double ingest_one(struct dev *d, struct hqstore *s, const struct hq_identity *id,
                         struct sync_op *ops, int n, int edit, int k, struct buf *json,
                         struct buf *env)
{
    struct ingest_result r;
    double t0, ms;

    if (edit)
        ops_edit(d, ops, n, k);
    else
        ops_new(d, ops, n);
    seal(d, ops, n, &id->cfg, json, env);
    ingest_result_init(&r);
    t0 = now_ms();
    if (hq_ingest(s, id, (const uint8_t *)env->data, env->len, &r) != MRF_OK)
        bench_die("ingest", hqstore_errmsg(s));
    ms = now_ms() - t0;
    if (r.http_status != 200 || strcmp(r.reason, "accepted") != 0 || r.ops_applied != n)
        bench_die("ingest refused the change set", r.reason);
    take_response(d, &id->cfg, &r.response);
    ingest_result_release(&r);
    return ms;
}

static void pragma(struct hqstore *s, const char *sql)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        bench_die(sql, sqlite3_errmsg(s->db));
}

static int64_t one_int(struct hqstore *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        bench_die(sql, sqlite3_errmsg(s->db));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static enum mrf_status count_grant(void *arg, const struct hq_grant *g)
{
    (void)g;
    ++*(int *)arg;
    return MRF_OK;
}

/* A fresh device of post pulls everything: empty change sets until HQ says there is no more.
 * Returns the ms it took; *ops the ops it got (the cursor it ends at). */
static double pull_all(struct hqstore *s, const struct hq_identity *id, const char *post,
                       int64_t *ops, int *requests)
{
    struct dev d;
    struct buf json, env;
    struct ingest_result r;
    double t0 = now_ms();
    int more = 1;

    dev_new(&d, s, post);
    buf_init(&json, WIRE_JSON_MAX);
    buf_init(&env, ENV_MAX);
    *requests = 0;
    while (more) {
        seal(&d, NULL, 0, &id->cfg, &json, &env);
        ingest_result_init(&r);
        if (hq_ingest(s, id, (const uint8_t *)env.data, env.len, &r) != MRF_OK ||
            r.http_status != 200)
            bench_die("pull", hqstore_errmsg(s));
        more = take_response(&d, &id->cfg, &r.response);
        ingest_result_release(&r);
        ++*requests;
    }
    *ops = d.cursor;
    buf_release(&json);
    buf_release(&env);
    dev_free(&d);
    return now_ms() - t0;
}

/* Adds to *miss, *hit and *write the pages s read from the file (page cache misses), found in
 * its cache and wrote since the last call, and resets SQLite's counters (DBSTATUS, this
 * handle only): counts, not times, which the machine's load does not move. */
static void cache_take(struct hqstore *s, long *miss, long *hit, long *write)
{
    int cur, hi;

    sqlite3_db_status(s->db, SQLITE_DBSTATUS_CACHE_MISS, &cur, &hi, 1);
    *miss += cur;
    sqlite3_db_status(s->db, SQLITE_DBSTATUS_CACHE_HIT, &cur, &hi, 1);
    *hit += cur;
    sqlite3_db_status(s->db, SQLITE_DBSTATUS_CACHE_WRITE, &cur, &hi, 1);
    *write += cur;
}

/* Big-endian 32-bit word at p (the write-ahead log's header and frame headers). */
static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The pages the timed change sets wrote, by the table or index each belongs to: read from
 * the write-ahead log before its checkpoint (frames of the log's current salt, SQLite's file
 * format, section 4), each page named through dbstat. Prints, per commit, the pages of each
 * table or index that wrote at least one a commit on average: where a change set's durable
 * commit spends its bytes, a count the machine's load does not move. */
static void wal_pages_print(struct hqstore *s, long long size, const char *kind)
{
    enum { MAXB = 160 };
    struct {
        char name[64];
        long pages;
    } b[MAXB];
    int nb = 0;
    char *path = xasprintf("%s-wal", sqlite3_db_filename(s->db, "main"));
    FILE *f = fopen(path, "rb");
    unsigned char hdr[32], fh[24];
    unsigned char *page = NULL;
    uint32_t *pgnos = NULL;
    unsigned char *owner = NULL; /* page number -> b[] */
    int64_t npages;
    long nframes = 0, cap = 0, commits = 0;
    uint32_t ps;
    sqlite3_stmt *st = NULL;

    if (f == NULL || fread(hdr, 1, sizeof hdr, f) != sizeof hdr)
        goto out;
    ps = be32(hdr + 8);
    page = xcalloc(1, ps == 1 ? 65536 : ps);
    while (fread(fh, 1, sizeof fh, f) == sizeof fh && fread(page, 1, ps, f) == ps) {
        if (memcmp(fh + 8, hdr + 16, 8) != 0)
            break; /* a frame of an earlier log, behind a checkpoint's restart */
        if (nframes == cap) {
            cap = cap ? 2 * cap : 4096;
            pgnos = xrealloc(pgnos, (size_t)cap * sizeof *pgnos);
        }
        pgnos[nframes++] = be32(fh);
        commits += be32(fh + 4) != 0;
    }
    /* each page's owner, once: dbstat has no lookup by page number */
    npages = one_int(s, "PRAGMA page_count") + 1;
    owner = xcalloc((size_t)npages, 1);
    str_copy(b[nb].name, "(free)", sizeof b[nb].name);
    b[nb++].pages = 0;
    if (commits == 0 ||
        sqlite3_prepare_v2(s->db, "SELECT pageno, name FROM dbstat", -1, &st, NULL) != SQLITE_OK)
        goto out;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t pg = sqlite3_column_int64(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        int k;

        for (k = 0; k < nb && strcmp(b[k].name, name) != 0; k++)
            ;
        if (k == nb && nb < MAXB) {
            str_copy(b[nb].name, name, sizeof b[nb].name);
            b[nb++].pages = 0;
        }
        if (k < nb && pg > 0 && pg < npages)
            owner[pg] = (unsigned char)k;
    }
    for (long i = 0; i < nframes; i++)
        b[pgnos[i] < npages ? owner[pgnos[i]] : 0].pages++;
    printf("at_%lld_%s_wal_pages_per_commit=%.1f\n", size, kind, (double)nframes / (double)commits);
    for (int k = 0; k < nb; k++)
        if (b[k].pages >= commits)
            printf("at_%lld_%s_wal_pages_of_%s=%.1f\n", size, kind, b[k].name,
                   (double)b[k].pages / (double)commits);
out:
    sqlite3_finalize(st);
    if (f != NULL)
        fclose(f);
    x_free(page);
    x_free(pgnos);
    x_free(owner);
    x_free(path);
}

/* Copies every page the timed change sets left in the write-ahead log into the store (what
 * SQLite's automatic checkpoints do now and then, on some change set's time): the ms it took,
 * which the figures count with the change sets, so a size pays for the pages its change sets
 * wrote however many checkpoints happened to fall inside them. */
static double checkpoint_ms(struct hqstore *s, long long size, const char *kind)
{
    double t0 = now_ms(), ms;

    pragma(s, "PRAGMA wal_checkpoint(TRUNCATE)");
    ms = now_ms() - t0;
    printf("at_%lld_%s_checkpoint_ms=%.1f\n", size, kind, ms);
    return ms;
}

/* One store of scale mode, filled to its size, then measured in turns with the others. */
struct scale_store {
    long long size;
    struct hqstore *s;
    struct hq_identity id;
    struct dev d, o; /* the post's device that writes, the other post's */
    int round;       /* the next round of edits */
    struct {
        double *ms; /* each timed change set's */
        int n;
        double cpu_ms;
        long miss, hit, write;
    } kind[2]; /* new grants, edited amounts */
};

static const char *const scale_kind[2] = {"new", "existing"};

/* One change set of kind k through st's store, its wall ms; *cpu its CPU ms. */
static double scale_one(struct scale_store *st, int k, struct sync_op *ops, struct buf *json,
                        struct buf *env, double *cpu)
{
    double c0 = cpu_ms(), ms;

    ms = ingest_one(&st->d, st->s, &st->id, ops, OPS_PER_SET, k, st->round, json, env);
    st->round += k;
    *cpu = cpu_ms() - c0;
    return ms;
}

/* Adds n - 1 posts beside post (codes F00, F01...), each with a device, its theme and its
 * partner, into fund[0..n-1); fund[0] is post's own device d. */
static void fund_new(struct hqstore *s, struct dev *d, struct dev **fund, int n)
{
    char code[16];

    *fund = xcalloc((size_t)n, sizeof **fund);
    for (int i = 1; i < n; i++) {
        snprintf(code, sizeof code, "F%02d", i - 1);
        if (hqstore_post_add(s, code, "bilateral", NULL, 0, (int64_t)time(NULL)) != MRF_OK)
            bench_die("post add", hqstore_errmsg(s));
        dev_new(&(*fund)[i], s, code);
        post_setup(s, &(*fund)[i]);
    }
    (*fund)[0] = *d;
}

/* A store at size: opened in home, the other post's 1,000 grants, then new grants up to size
 * ops in its oplog (without waiting for the disk: synchronous = OFF changes no byte of the
 * content), then durable again with an empty write-ahead log. With posts > 1 the new grants
 * are the fund's: posts posts (post and posts - 1 others) take turns, each change set a
 * post's share of size, so post holds size / posts ops as each of 84 embassies would. */
static void scale_fill(struct scale_store *st, const char *home, const char *post,
                       const char *other, int posts, struct sync_op *ops, struct buf *json,
                       struct buf *env)
{
    struct hq_limits unbounded = {0, HQ_OPS_BOUND_MAX};
    struct dev *fund;
    int64_t logged;
    int chunk, turn = 0;

    bench_hq_open(home, &st->s, &st->id);
    if (hqstore_limits_set(st->s, &unbounded) != MRF_OK)
        bench_die("limits", hqstore_errmsg(st->s));
    if (getenv("HQSCALE_PRAGMA") != NULL)
        pragma(st->s, getenv("HQSCALE_PRAGMA"));
    dev_new(&st->o, st->s, other);
    post_setup(st->s, &st->o);
    pragma(st->s, "PRAGMA synchronous = OFF");
    for (int k = 0; k < 7; k++) /* 1,000 grants of the other post */
        ingest_one(&st->o, st->s, &st->id, ops, OPS_PER_SET, 0, k, json, env);
    dev_new(&st->d, st->s, post);
    post_setup(st->s, &st->d);
    fund_new(st->s, &st->d, &fund, posts);
    /* a post's share, in whole grants, at most a change set's */
    chunk = (int)(st->size / posts < OPS_PER_SET ? st->size / posts : OPS_PER_SET);
    chunk = chunk < GRANT_COLS ? GRANT_COLS : chunk - chunk % GRANT_COLS;
    for (logged = one_int(st->s, "SELECT count(*) FROM oplog_ops"); logged + chunk <= st->size;
         logged += chunk, turn = (turn + 1) % posts)
        ingest_one(&fund[turn], st->s, &st->id, ops, chunk, 0, 0, json, env);
    st->d = fund[0];
    for (int i = 1; i < posts; i++)
        dev_free(&fund[i]);
    x_free(fund);
    pragma(st->s, "PRAGMA synchronous = FULL");
    pragma(st->s, "PRAGMA wal_checkpoint(TRUNCATE)");
}

/* Prints what kind k cost st: its change sets' total wall time with the checkpoint that
 * copied their pages into the store (ops per second), the median change set, CPU and pages
 * per change set, and where the commits wrote their pages. */
static void scale_print(struct scale_store *st, int k)
{
    const char *kind = scale_kind[k];
    double tot = 0, ckpt;
    int n = st->kind[k].n;

    wal_pages_print(st->s, st->size, kind);
    ckpt = checkpoint_ms(st->s, st->size, kind);
    for (int i = 0; i < n; i++)
        tot += st->kind[k].ms[i];
    printf("at_%lld_%s_ops_per_s=%.0f\n", st->size, kind, n * OPS_PER_SET / ((tot + ckpt) / 1e3));
    printf("at_%lld_%s_median_ms=%.2f\n", st->size, kind, median(st->kind[k].ms, n));
    printf("at_%lld_%s_cpu_ms_per_set=%.2f\n", st->size, kind, st->kind[k].cpu_ms / n);
    printf("at_%lld_%s_pages_read_per_set=%.0f\n", st->size, kind, (double)st->kind[k].miss / n);
    printf("at_%lld_%s_pages_written_per_set=%.0f\n", st->size, kind,
           (double)st->kind[k].write / n);
    printf("at_%lld_%s_cache_hit_ratio=%.3f\n", st->size, kind,
           st->kind[k].hit + st->kind[k].miss > 0
               ? (double)st->kind[k].hit / (double)(st->kind[k].hit + st->kind[k].miss)
               : 0);
}

static int scale_main(int argc, char **argv)
{
    struct scale_store *st;
    struct sync_op *ops = xcalloc(OPS_PER_SET, sizeof *ops);
    struct buf json, env;
    int sets, nst, blocks, posts = 1;

    if (argc > 3 && strcmp(argv[2], "--posts") == 0) { /* --scale --posts N ...: drop the two */
        posts = atoi(argv[3]);
        if (posts < 1 || posts > 100)
            bench_die("usage", "--posts takes 1 to 100 posts");
        argv[3] = argv[1];
        argv += 2;
        argc -= 2;
    }
    nst = argc - 5;
    if (argc < 6 || (sets = atoi(argv[4])) < 1)
        bench_die("usage", "bench_ingest --scale [--posts N] POST OTHER SETS SIZE:HQ_HOME...");
    buf_init(&json, WIRE_JSON_MAX);
    buf_init(&env, ENV_MAX);
    st = xcalloc((size_t)nst, sizeof *st);
    for (int i = 0; i < nst; i++) {
        char *home = strchr(argv[5 + i], ':');
        if (home == NULL || (st[i].size = atoll(argv[5 + i])) <= 0)
            bench_die("usage", "bench_ingest --scale [--posts N] POST OTHER SETS SIZE:HQ_HOME...");
        scale_fill(&st[i], home + 1, argv[2], argv[3], posts, ops, &json, &env);
        for (int k = 0; k < 2; k++)
            st[i].kind[k].ms = xcalloc((size_t)sets, sizeof(double));
    }
    printf("other_post_grants=%d\nchangesets_timed=%d\nops_per_changeset=%d\n", st[0].o.ngrants,
           sets, OPS_PER_SET);
    printf("changesets_per_turn=%d\nposts_sharing_the_store=%d\n", SCALE_TURN, posts);

    /* Each kind in turns: SCALE_TURN change sets per store, the stores in one order then the
     * other, each turn after an untimed change set that brings the store's pages back into
     * the CPU's caches. The machine's speed drifts by a third over seconds here; in turns,
     * every size meets the same drift, so their ratios hold what the sizes do. */
    blocks = (sets + SCALE_TURN - 1) / SCALE_TURN;
    for (int k = 0; k < 2; k++) {
        for (int b = 0; b < blocks; b++)
            for (int j = 0; j < nst; j++) {
                struct scale_store *x = &st[b % 2 == 0 ? j : nst - 1 - j];
                double cpu;
                long none = 0, nothing = 0, nil = 0;

                scale_one(x, k, ops, &json, &env, &cpu); /* untimed */
                cache_take(x->s, &none, &nothing, &nil);
                for (int i = 0; i < SCALE_TURN && x->kind[k].n < sets; i++) {
                    x->kind[k].ms[x->kind[k].n++] = scale_one(x, k, ops, &json, &env, &cpu);
                    x->kind[k].cpu_ms += cpu;
                }
                cache_take(x->s, &x->kind[k].miss, &x->kind[k].hit, &x->kind[k].write);
            }
        for (int i = 0; i < nst; i++)
            scale_print(&st[i], k);
    }

    for (int i = 0; i < nst; i++) {
        struct scale_store *x = &st[i];
        double lt[5];
        int64_t pulled;
        int n = 0, requests;

        for (int k = 0; k < 5; k++) {
            double t0 = now_ms();
            n = 0;
            if (hqstore_grant_list(x->s, x->o.post, 0, count_grant, &n) != MRF_OK)
                bench_die("grant list", hqstore_errmsg(x->s));
            lt[k] = now_ms() - t0;
        }
        printf("at_%lld_grant_list_other_ms=%.3f\nat_%lld_grant_list_other_rows=%d\n", x->size,
               median(lt, 5), x->size, n);
        if (x->size <= 100000) {
            double ms = pull_all(x->s, &x->id, x->d.post, &pulled, &requests);
            printf("at_%lld_pull_ops=%lld\nat_%lld_pull_requests=%d\nat_%lld_pull_us_per_op=%.2f\n",
                   x->size, (long long)pulled, x->size, requests, x->size,
                   ms * 1e3 / (double)(pulled > 0 ? pulled : 1));
        }
        fflush(stdout);
    }
    { /* the largest store's size on disk (the last named) */
        struct hqstore *s = st[nst - 1].s;
        printf("oplog_ops=%lld\n", (long long)one_int(s, "SELECT count(*) FROM oplog_ops"));
        printf("page_size=%lld\npage_count=%lld\nfreelist_count=%lld\n",
               (long long)one_int(s, "PRAGMA page_size"),
               (long long)one_int(s, "PRAGMA page_count"),
               (long long)one_int(s, "PRAGMA freelist_count"));
    }
    for (int i = 0; i < nst; i++) {
        for (int k = 0; k < 2; k++)
            x_free(st[i].kind[k].ms);
        dev_free(&st[i].d);
        dev_free(&st[i].o);
        hqstore_close(st[i].s);
        mrf_secrets_free(st[i].id.keys);
    }
    x_free(st);
    buf_release(&json);
    buf_release(&env);
    x_free(ops);
    return 0;
}

int main(int argc, char **argv)
{
    struct hqstore *s = NULL;
    struct hq_identity id = {0};
    struct hq_device hd;
    struct dev d;
    struct ceiling c;
    struct phase fresh = {.name = "new"}, edit = {.name = "existing"};
    char *ceiling_path;
    int sets;

    if (argc > 1 && strcmp(argv[1], "--scale") == 0)
        return scale_main(argc, argv);
    if (argc != 4 || (sets = atoi(argv[3])) < 2)
        bench_die("usage", "bench_ingest HQ_HOME POST CHANGESETS(>=2)");
    bench_hq_open(argv[1], &s, &id);

    memset(&d, 0, sizeof d);
    mrf_secrets_new(&d.keys);
    mrf_random(d.id, MRF_ID);
    mrf_random(d.partner, MRF_ID);
    str_copy(d.post, argv[2], sizeof d.post);
    d.clock = hlc_make(time_now_ms(), 0);
    memset(&hd, 0, sizeof hd);
    memcpy(hd.id, d.id, MRF_ID);
    str_copy(hd.post, d.post, sizeof hd.post);
    hd.keys = d.keys->pub;
    hd.enrolled_at = (int64_t)time(NULL);
    if (hqstore_device_add(s, &hd) != MRF_OK)
        bench_die("device", hqstore_errmsg(s));

    {
        struct hq_limits unbounded = {0, HQ_OPS_BOUND_MAX};
        if (hqstore_limits_set(s, &unbounded) != MRF_OK)
            bench_die("limits", hqstore_errmsg(s));
    }
    post_setup(s, &d);
    ceiling_path = hq_path(argv[1], "ceiling.db");
    ceiling_open(&c, ceiling_path);
    run_phase(&fresh, 0, sets, &d, s, &id, &c);
    /* Every edit round touches 1,000 distinct grants: there must be that many. */
    if (d.ngrants < OPS_PER_SET)
        bench_die("usage", "too few change sets to create 1,000 grants; give at least 8");
    run_phase(&edit, 1, sets, &d, s, &id, &c);
    printf("changesets=%d\nops_per_changeset=%d\n", sets, OPS_PER_SET);
    print_phase(&fresh, sets);
    print_phase(&edit, sets);

    ceiling_close(&c);
    hqstore_close(s);
    mrf_secrets_free(id.keys);
    mrf_secrets_free(d.keys);
    x_free(d.grants);
    x_free(d.amount_clock);
    x_free(ceiling_path);
    return 0;
}

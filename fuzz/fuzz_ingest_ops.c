/* Fuzz target: hq_ingest past authentication. An input is a mode byte and a change set's JSON
 * body; the harness seals the body in a valid envelope of one of the fuzzed HQ's devices
 * (fuzzutil.c), so every input reaches the body's parser, op checks, clock bounds, the merge,
 * the conflict checks, the audit chain and the answer, where the real risk is. Mode bits:
 *   0-2  the sender (enum fuzz_dev, modulo FUZZ_NDEV): enrolled devices of NAI and GVA, a
 *        revoked one, one with a token that its first change set enrolls, one never enrolled;
 *   3    the header carries the sender's token id and keys (ENV_F_ENROLL);
 *   4    the change set id of the previous input (a retry) instead of a new one;
 *   5    the envelope claims the other post;
 *   6    the rest is not JSON but ops in a compact form (struct_body), written out as a
 *        request of this release's version (row-shaped, version 3): rows from a small shared pool,
 * values each column's rule accepts or just refuses, clocks close together, previous writers from
 * the other devices, so that inputs collide on the same rows and columns and reach the conflict
 * checks far more often than mutated JSON text does. The store keeps what the inputs write (other
 * inputs' rows and records are what conflicts are made of) and is reset every FUZZ_HQ_RESET_EVERY
 * inputs. Checks: every body gets an answer (no 500), and every answer a device gets (200 or 422)
 * opens with its keys and reads as an answer, with every op and conflict record in it: an
 * answer a device cannot read would stop its syncs for good. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"

#define M_DEVICE 7u
#define M_ENROLL 8u
#define M_RETRY 16u
#define M_OTHER_POST 32u
#define M_STRUCT 64u

#define POOL_ROWS 4 /* row ids per table the compact form chooses from */
#define OP_BYTES 6  /* bytes of one op in the compact form */

static struct fuzz_hq hq;
static int verbose; /* MRF_FUZZ_VERBOSE set: one line per input with HQ's status and reason */
static struct buf env;
static uint8_t last_cs[MRF_ID];
static struct buf body;
/* What each device has pulled (the cursors of its last answer), as a device keeps them: the
 * compact form sends these, so an answer pages from near the end rather than from 0. */
static int64_t pulled[FUZZ_NDEV], pulled_records[FUZZ_NDEV];
static unsigned pulled_at; /* hq.runs when they were read: a reset of the store forgets them */
/* An hour before set-up: the compact form's clocks start here and move 16 ms per input since
 * the last reset of the store. */
static uint64_t t0_ms;
static uint8_t *sealed_ok; /* a sealed field whose frame is whole */
static size_t sealed_ok_len;

static void release(void)
{
    buf_release(&env);
    buf_release(&body);
    x_free(sealed_ok);
    fuzz_hq_release(&hq);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char aad[SYNC_AAD_MAX];
    uint8_t recip[1][MRF_BOX_PK];
    uint8_t id[MRF_ID] = {0};

    fuzz_hq_setup(&hq);
    verbose = getenv("MRF_FUZZ_VERBOSE") != NULL;
    buf_init(&env, ENV_MAX);
    buf_init(&body, WIRE_JSON_MAX);
    t0_ms = time_now_ms() - 3600u * 1000u;
    memcpy(recip[0], hq.ident.cfg.escrow_pk, MRF_BOX_PK);
    sync_field_aad(ST_PARTNERS, id, PARTNER_NAME, aad);
    if (sealed_seal(&sealed_ok, &sealed_ok_len, "Partner", 7, aad,
                    (const uint8_t(*)[MRF_BOX_PK])recip, 1) != MRF_OK)
        fuzz_die("cannot seal a field");
    atexit(release);
    return 0;
}

/* ---- the compact form ------------------------------------------------------------------ */

/* Row i of the pool of table t: the same ids in every input and for every device. */
static void pool_id(enum sync_table t, unsigned i, uint8_t id[MRF_ID])
{
    memset(id, 0x30 + (int)t, MRF_ID);
    id[MRF_ID - 1] = (uint8_t)(i % POOL_ROWS);
}

/* A value for column c chosen by sel: most pass the column's rule, the last few of each list
 * just fail it. Text points into static strings, blobs into buf[] or static storage. */
static void pick_value(const struct sync_column *c, unsigned sel, uint8_t blob[MRF_ID],
                       struct sync_value *v)
{
    static const int64_t years[] = {2026, 2027, 2025, YEAR_MIN, YEAR_MAX, 1999, 2101};
    static const int64_t money[] = {
        1, 1250000, 5000000, 99999999, MONEY_MAX_CENTS, MONEY_MAX_CENTS + 1, 0, -5};
    static const char *const themes[] = {"FOE", "WGR", "LGBTIQ", "FORB",
                                         "HRD", "ACC", "foe",    "XYZ"};
    static const char *const statuses[] = {"draft",     "committed", "disbursed", "closed",
                                           "cancelled", "Draft",     "paid"};
    static const char *const dates[] = {"2026-01-01", "2026-12-31", "2028-02-29", "2027-02-29",
                                        "26-01-01"};
    static const char *const risks[] = {"low", "medium", "high", "none"};
    static const char *const currencies[] = {"EUR", "USD", "KES", "eur", "EU"};
    static const int64_t flags[] = {0, 1, 2};
#define PICK(a) ((a)[sel % (sizeof(a) / sizeof((a)[0]))])

    memset(v, 0, sizeof *v);
    v->type = c->type;
    if (sel >= 240) {
        v->is_null = 1;
        return;
    }
    switch (c->kind) {
    case CK_YEAR:
        v->i = PICK(years);
        break;
    case CK_MONEY:
        v->i = PICK(money);
        break;
    case CK_FLAG:
        v->i = PICK(flags);
        break;
    case CK_THEME:
        v->text = PICK(themes);
        break;
    case CK_STATUS:
        v->text = PICK(statuses);
        break;
    case CK_DATE:
        v->text = PICK(dates);
        break;
    case CK_RISK:
        v->text = PICK(risks);
        break;
    case CK_CURRENCY:
        v->text = PICK(currencies);
        break;
    case CK_REF:
        pool_id(ST_PARTNERS, sel, blob);
        v->blob = blob;
        v->n = sel % 7 == 6 ? MRF_ID - 1 : MRF_ID;
        break;
    case CK_SEALED:
        v->blob = sealed_ok;
        v->n = sel % 5 == 4 ? sealed_ok_len - 1 : sealed_ok_len;
        break;
    default:
        if (c->type == SYNC_INT)
            v->i = (int64_t)sel - 8;
        else if (c->type == SYNC_TEXT)
            v->text = "x";
        else {
            v->blob = blob;
            v->n = sel % MRF_ID;
        }
    }
#undef PICK
}

/* The request the compact form p[0..n) stands for, into body: p[0] and p[1] how far behind
 * what device d has pulled its cursor and record cursor are, then OP_BYTES per op: table, row,
 * column, value, clock (the high bit puts it past HQ's bound), previous write (0: none; else the
 * low 5 bits its clock's distance back and the high 3 bits which device wrote it, 1 + enum
 * fuzz_dev, or 0 for no writer). */
static void struct_body(const struct fuzz_device *d, const uint8_t *p, size_t n)
{
    struct sync_op op;
    struct cs_writer w;
    uint8_t blob[MRF_ID];
    int64_t cursor, ccursor;
    int k = (int)(d - hq.dev);

    if (hq.runs < pulled_at) {
        memset(pulled, 0, sizeof pulled);
        memset(pulled_records, 0, sizeof pulled_records);
    }
    pulled_at = hq.runs;
    cursor = pulled[k] - (n > 0 ? p[0] : 0);
    ccursor = pulled_records[k] - (n > 1 ? p[1] : 0);
    changeset_writer_init(&w, WIRE_VERSION, 0);
    if (changeset_request_begin(&body, WIRE_VERSION, cursor < 0 ? 0 : cursor,
                                ccursor < 0 ? 0 : ccursor, -1, NULL) != MRF_OK)
        fuzz_die("a compact body does not fit");
    for (size_t i = 2; i + OP_BYTES <= n; i += OP_BYTES) {
        const uint8_t *b = p + i;
        const struct sync_table_desc *t = sync_table_get((enum sync_table)(b[0] % ST_COUNT));
        uint64_t ms = t0_ms + hq.runs * 16u + (b[4] & 0x0fu);

        memset(&op, 0, sizeof op);
        op.tbl = (enum sync_table)(b[0] % ST_COUNT);
        pool_id(op.tbl, b[1], op.id);
        op.col = b[2] % t->ncols;
        pick_value(&t->cols[op.col], b[3], blob, &op.v);
        if (b[4] & 0x80u)
            ms += 2u * HLC_AHEAD_MAX_MS;
        op.clock = hlc_make(ms, (b[4] >> 4) & 7u);
        memcpy(op.device, d->id, MRF_ID);
        if (b[5] != 0) {
            op.prev_clock = hlc_make(ms - (b[5] & 0x1fu) * 16u, 0);
            op.has_prev_device = (b[5] >> 5) != 0;
            if (op.has_prev_device)
                memcpy(op.prev_device, hq.dev[((b[5] >> 5) - 1) % FUZZ_NDEV].id, MRF_ID);
        }
        if (changeset_writer_put(&w, &body, &op) != MRF_OK)
            break;
    }
    if (changeset_request_end(&body) != MRF_OK)
        fuzz_die("a compact body does not fit");
}

/* The answer as device d reads it (client/sync.c's order of checks). */
static void check_answer(const struct fuzz_device *d, const struct ingest_result *r)
{
    struct envelope h;
    struct mrf_error err;
    struct cs_answer a;
    struct cs_reader rd;
    struct sync_op op;
    struct cs_conflict c;
    enum mrf_status st;
    const cJSON *item, *v;
    char *json = NULL;
    size_t len = 0;
    cJSON *doc;

    if (envelope_parse((const uint8_t *)r->response.data, r->response.len, &h, &err) != MRF_OK ||
        h.kind != ENV_RESPONSE)
        fuzz_die("hq_ingest: a 200/422 without a response envelope");
    if (envelope_open(&h, hq.ident.cfg.hq.sign_pk, hq.ident.cfg.hq.box_pk, d->keys->box_sk, &json,
                      &len, &err) != MRF_OK)
        fuzz_die("hq_ingest: a response its device cannot open");
    doc = wire_json_parse(json, len);
    if (doc == NULL)
        fuzz_die("hq_ingest: a response body that is not JSON");
    v = cJSON_GetObjectItemCaseSensitive(doc, "v");
    /* an answer to an older request is in its version, which this build no longer reads as a
     * device; every version a device of this build may get is read */
    if (cJSON_IsNumber(v) && v->valuedouble >= WIRE_VERSION_ANSWER &&
        v->valuedouble <= WIRE_VERSION) {
        if (changeset_answer_parse(json, len, &a, &err) != MRF_OK) {
            fprintf(stderr, "fuzz: %s\n", err.msg);
            fuzz_die("hq_ingest: an answer its device refuses");
        }
        pulled[d - hq.dev] = a.cursor; /* what the device now holds */
        if (a.conflicts != NULL)
            pulled_records[d - hq.dev] = a.ccursor;
        if (verbose && a.ack.quarantined)
            fprintf(stderr, "fuzz: quarantined: %s\n", a.ack.reason);
        changeset_reader_init(&rd, a.ops, a.version, 1, NULL);
        while ((st = changeset_reader_next(&rd, &op, &err)) == MRF_OK)
            sync_op_release(&op);
        if (st != MRF_E_NOTFOUND) {
            fprintf(stderr, "fuzz: %s\n", err.msg);
            fuzz_die("hq_ingest: an answer with an op its device refuses");
        }
        cJSON_ArrayForEach(item, a.conflicts) {
            if (changeset_conflict_parse(item, &c, &err) != MRF_OK) {
                fprintf(stderr, "fuzz: %s\n", err.msg);
                fuzz_die("hq_ingest: an answer with a conflict record its device refuses");
            }
        }
        changeset_answer_release(&a);
    }
    cJSON_Delete(doc);
    x_free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fuzz_device *d;
    struct ingest_result r;
    unsigned mode;
    const char *post;

    if (size < 1 || size - 1 > WIRE_JSON_MAX)
        return 0;
    fuzz_hq_tick(&hq);
    mode = data[0];
    d = &hq.dev[(mode & M_DEVICE) % FUZZ_NDEV];
    post = d->post;
    if (mode & M_OTHER_POST)
        post = strcmp(d->post, "NAI") == 0 ? "GVA" : "NAI";
    if (!(mode & M_RETRY))
        fuzz_hq_changeset_id(&hq, last_cs);
    if (mode & M_STRUCT) {
        struct_body(d, data + 1, size - 1);
        fuzz_seal_request(d, post, (mode & M_ENROLL) != 0, last_cs, body.data, body.len,
                          hq.ident.cfg.hq.box_pk, &env);
    } else {
        fuzz_seal_request(d, post, (mode & M_ENROLL) != 0, last_cs, (const char *)data + 1,
                          size - 1, hq.ident.cfg.hq.box_pk, &env);
    }

    ingest_result_init(&r);
    if (hq_ingest(hq.store, &hq.ident, (const uint8_t *)env.data, env.len, &r) != MRF_OK)
        fuzz_die("hq_ingest: no answer for a body (HTTP 500)");
    if (verbose)
        fprintf(stderr, "fuzz: %u %s (ops in %lld, applied %lld, out %lld)\n", r.http_status,
                r.reason, (long long)r.ops_in, (long long)r.ops_applied, (long long)r.ops_out);
    if (r.http_status == 200 || r.http_status == 422)
        check_answer(d, &r);
    else if (r.http_status < 400 || r.http_status > 499)
        fuzz_die("hq_ingest: a status that is neither 200, 422 nor a refusal");
    ingest_result_release(&r);
    return 0;
}

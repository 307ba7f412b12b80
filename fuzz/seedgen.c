/* mrf-fuzz-seeds OUTDIR [SRCDIR] — writes the seed corpora of the fuzz targets into
 * OUTDIR/<target>/ (fuzz/corpus/ holds its output, checked in): the golden bodies of
 * tests/unit/golden/ (from SRCDIR, default "."), change sets of the kind the unit tests build
 * (a grant, a partner with sealed fields, a theme set, a removal, ops with previous clocks,
 * version 1), sealed as each device of fuzzutil.c would send them (fixed keys: the envelopes
 * authenticate in any later run), a real enrollment token, and typical values for each domain
 * parser. Each seed is small; the prefixes are the targets' mode bytes. Exit 0 or 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zstd.h>

#include "fuzzutil.h"

#define MS_2026 1767225600000ULL /* clocks of the seeds: 2026-01-01 */

static const char *outdir;
static int nwritten;

/* Writes OUTDIR/target/name: the mode byte (if mode >= 0), then p[0..n). */
static void put(const char *target, const char *name, int mode, const void *p, size_t n)
{
    struct mrf_error err;
    char *dir = xasprintf("%s/%s", outdir, target);
    char *path = xasprintf("%s/%s", dir, name);
    uint8_t *all = xmalloc(n + 1);
    size_t k = 0;

    if (dir_ensure(dir, &err) != MRF_OK)
        fuzz_die(err.msg);
    if (mode >= 0)
        all[k++] = (uint8_t)mode;
    if (n > 0)
        memcpy(all + k, p, n);
    if (file_write_atomic(path, all, k + n, 0644, &err) != MRF_OK)
        fuzz_die(err.msg);
    nwritten++;
    x_free(all);
    x_free(path);
    x_free(dir);
}

static void put_str(const char *target, const char *name, int mode, const char *s)
{
    put(target, name, mode, s, strlen(s));
}

/* ---- change sets ------------------------------------------------------------------------- */

static hlc_t seed_clock;
static struct cs_writer seed_w; /* the body being written, in its version */

/* Starts the ops of a new body in version. */
static void ops_begin(struct buf *ops, int version)
{
    buf_reset(ops);
    changeset_writer_init(&seed_w, version, 0);
}

static void op_add(struct buf *ops, const uint8_t dev[MRF_ID], enum sync_table t,
                   const uint8_t id[MRF_ID], int col, const struct sync_value *v, hlc_t prev,
                   const uint8_t *prev_dev)
{
    struct sync_op op;

    memset(&op, 0, sizeof op);
    op.tbl = t;
    memcpy(op.id, id, MRF_ID);
    op.col = col;
    op.v = *v;
    op.clock = ++seed_clock;
    memcpy(op.device, dev, MRF_ID);
    op.prev_clock = prev;
    if (prev_dev != NULL) {
        op.has_prev_device = 1;
        memcpy(op.prev_device, prev_dev, MRF_ID);
    }
    if (changeset_writer_put(&seed_w, ops, &op) != MRF_OK)
        fuzz_die("a seed change set is over its cap");
}

static void op_int(struct buf *ops, const uint8_t *dev, enum sync_table t, const uint8_t *id,
                   int col, int64_t i)
{
    struct sync_value v = {.type = SYNC_INT, .i = i};
    op_add(ops, dev, t, id, col, &v, 0, NULL);
}

static void op_text(struct buf *ops, const uint8_t *dev, enum sync_table t, const uint8_t *id,
                    int col, const char *s)
{
    struct sync_value v = {.type = SYNC_TEXT, .text = s};
    op_add(ops, dev, t, id, col, &v, 0, NULL);
}

static void op_blob(struct buf *ops, const uint8_t *dev, enum sync_table t, const uint8_t *id,
                    int col, const uint8_t *b, size_t len)
{
    struct sync_value v = {.type = SYNC_BLOB, .blob = b, .n = len};
    op_add(ops, dev, t, id, col, &v, 0, NULL);
}

/* A sealed field of partner pid's column col for HQ's escrow key. OUT: *blob (x_free). */
static void sealed_field(const struct hq_identity *hq, const uint8_t pid[MRF_ID], int col,
                         const char *plain, uint8_t **blob, size_t *len)
{
    char aad[SYNC_AAD_MAX];
    uint8_t recip[1][MRF_BOX_PK];

    memcpy(recip[0], hq->cfg.escrow_pk, MRF_BOX_PK);
    sync_field_aad(ST_PARTNERS, pid, col, aad);
    if (sealed_seal(blob, len, plain, strlen(plain), aad, (const uint8_t(*)[MRF_BOX_PK])recip, 1) !=
        MRF_OK)
        fuzz_die("cannot seal a seed field");
}

/* The change sets the seeds carry: name, sender, JSON body. */
struct body {
    const char *name;
    int dev;
    int enroll; /* ENV_F_ENROLL: a first change set */
    char *json;
};
#define NBODIES 9

static char *request(const struct fuzz_device *d, int version, int64_t cursor, int64_t ccursor,
                     int enroll, const struct buf *ops)
{
    struct buf b;

    buf_init(&b, WIRE_JSON_MAX);
    if (version != seed_w.version)
        fuzz_die("seedgen: a body's ops in another version");
    if (changeset_request_begin(&b, version, cursor, ccursor, -1, enroll ? d->secret : NULL) !=
            MRF_OK ||
        buf_puts(&b, ops->data ? ops->data : "") != MRF_OK || changeset_request_end(&b) != MRF_OK)
        fuzz_die("a seed change set is over its cap");
    return buf_take(&b, NULL);
}

static void bodies(const struct hq_identity *hq, const struct fuzz_device *dev,
                   struct body out[NBODIES])
{
    const uint8_t *a = dev[FD_NAI_A].id, *b = dev[FD_NAI_B].id, *g = dev[FD_GVA].id;
    uint8_t gid[MRF_ID], pid[MRF_ID], tid[MRF_ID], gid2[MRF_ID];
    uint8_t *blob = NULL;
    size_t blen = 0;
    struct buf ops;
    int k = 0;

    memset(gid, 0x47, sizeof gid);
    memset(gid2, 0x48, sizeof gid2);
    memset(pid, 0x50, sizeof pid);
    row_id_derive(tid, "themes", "NAI", 2026, "FOE");
    buf_init(&ops, WIRE_JSON_MAX);
    seed_clock = hlc_make(MS_2026, 0);
    ops_begin(&ops, WIRE_VERSION);

    /* a grant */
    op_blob(&ops, a, ST_GRANTS, gid, GRANT_PARTNER, pid, sizeof pid);
    op_text(&ops, a, ST_GRANTS, gid, GRANT_THEME, "FOE");
    op_int(&ops, a, ST_GRANTS, gid, GRANT_YEAR, 2026);
    op_int(&ops, a, ST_GRANTS, gid, GRANT_AMOUNT, 1250000);
    op_text(&ops, a, ST_GRANTS, gid, GRANT_CURRENCY, "EUR");
    op_text(&ops, a, ST_GRANTS, gid, GRANT_STATUS, "committed");
    op_text(&ops, a, ST_GRANTS, gid, GRANT_START, "2026-03-01");
    out[k++] =
        (struct body){"grant", FD_NAI_A, 0, request(&dev[FD_NAI_A], WIRE_VERSION, 0, 0, 0, &ops)};

    /* a partner: sealed name, risk; and the year's themes */
    ops_begin(&ops, WIRE_VERSION);
    sealed_field(hq, pid, PARTNER_NAME, "Example Partner Association", &blob, &blen);
    op_blob(&ops, a, ST_PARTNERS, pid, PARTNER_NAME, blob, blen);
    x_free(blob);
    op_text(&ops, a, ST_PARTNERS, pid, PARTNER_RISK, "medium");
    op_int(&ops, a, ST_THEMES, tid, THEME_YEAR, 2026);
    op_text(&ops, a, ST_THEMES, tid, THEME_THEME, "FOE");
    out[k++] =
        (struct body){"partner", FD_NAI_A, 0, request(&dev[FD_NAI_A], WIRE_VERSION, 3, 0, 0, &ops)};

    /* another device of NAI changes the grant's amount and status over a's write */
    ops_begin(&ops, WIRE_VERSION);
    {
        struct sync_value v = {.type = SYNC_INT, .i = 1400000};
        struct sync_value s = {.type = SYNC_TEXT, .text = "draft"};
        op_add(&ops, b, ST_GRANTS, gid, GRANT_AMOUNT, &v, hlc_make(MS_2026, 4), a);
        op_add(&ops, b, ST_GRANTS, gid, GRANT_STATUS, &s, hlc_make(MS_2026, 6), a);
    }
    out[k++] = (struct body){"parallel", FD_NAI_B, 0,
                             request(&dev[FD_NAI_B], WIRE_VERSION, 0, 1, 0, &ops)};

    /* the same in version 2, as devices of the release before write it */
    ops_begin(&ops, 2);
    {
        struct sync_value v = {.type = SYNC_INT, .i = 1300000};
        op_add(&ops, b, ST_GRANTS, gid, GRANT_AMOUNT, &v, hlc_make(MS_2026, 4), a);
    }
    out[k++] = (struct body){"v2", FD_NAI_B, 0, request(&dev[FD_NAI_B], 2, 0, 1, 0, &ops)};

    /* a removal and a null */
    ops_begin(&ops, WIRE_VERSION);
    op_int(&ops, b, ST_GRANTS, gid, GRANT_REMOVED, 1);
    {
        struct sync_value v = {.type = SYNC_TEXT, .is_null = 1};
        op_add(&ops, b, ST_GRANTS, gid, GRANT_START, &v, 0, NULL);
    }
    out[k++] =
        (struct body){"remove", FD_NAI_B, 0, request(&dev[FD_NAI_B], WIRE_VERSION, 2, 0, 0, &ops)};

    /* an over-allocation at GVA, a clock far ahead */
    ops_begin(&ops, WIRE_VERSION);
    op_blob(&ops, g, ST_GRANTS, gid2, GRANT_PARTNER, pid, sizeof pid);
    op_text(&ops, g, ST_GRANTS, gid2, GRANT_THEME, "HRD");
    op_int(&ops, g, ST_GRANTS, gid2, GRANT_YEAR, 2027);
    op_int(&ops, g, ST_GRANTS, gid2, GRANT_AMOUNT, MONEY_MAX_CENTS);
    op_text(&ops, g, ST_GRANTS, gid2, GRANT_CURRENCY, "USD");
    seed_clock = hlc_make(MS_2026 * 3, 0);
    op_text(&ops, g, ST_GRANTS, gid2, GRANT_STATUS, "disbursed");
    out[k++] = (struct body){"gva", FD_GVA, 0, request(&dev[FD_GVA], WIRE_VERSION, 0, 0, 0, &ops)};
    seed_clock = hlc_make(MS_2026, 100);

    /* the new device's first change set, with a grant of its own */
    ops_begin(&ops, WIRE_VERSION);
    op_text(&ops, dev[FD_NEW].id, ST_GRANTS, gid, GRANT_THEME, "WGR");
    out[k++] =
        (struct body){"enroll", FD_NEW, 1, request(&dev[FD_NEW], WIRE_VERSION, 0, 0, 1, &ops)};

    /* version 1, from the first release */
    ops_begin(&ops, 1);
    op_text(&ops, a, ST_GRANTS, gid, GRANT_CURRENCY, "KES");
    out[k++] = (struct body){"v1", FD_NAI_A, 0, request(&dev[FD_NAI_A], 1, 0, 0, 0, &ops)};

    /* an allocation, which HQ alone writes: quarantined */
    ops_begin(&ops, WIRE_VERSION);
    op_int(&ops, a, ST_ALLOCATIONS, gid2, ALLOC_AMOUNT, 100);
    out[k++] =
        (struct body){"alloc", FD_NAI_A, 0, request(&dev[FD_NAI_A], WIRE_VERSION, 0, 0, 0, &ops)};

    if (k != NBODIES)
        fuzz_die("seedgen: NBODIES");
    buf_release(&ops);
}

/* ---- the targets ------------------------------------------------------------------------- */

/* The golden files: request lines for changeset (0) and ingest_ops (first NAI device), answer
 * lines for changeset (1), hex envelopes for envelope and ingest. */
static void golden(const char *src)
{
    static const char *const files[] = {"changeset-v1.txt", "changeset-v2.txt",
                                        "changeset-v2-records.txt", "changeset-v3.txt"};
    struct mrf_error err;

    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char *path = xasprintf("%s/tests/unit/golden/%s", src, files[f]);
        uint8_t *text = NULL;
        size_t len = 0;
        int line = 0;

        if (file_read_all(path, 1u << 20, &text, &len, &err) != MRF_OK)
            fuzz_die(err.msg);
        for (char *p = (char *)text, *nl; *p; p = nl + 1, line++) {
            char name[64];
            int last;
            nl = strchr(p, '\n');
            if (nl == NULL)
                nl = p + strlen(p);
            last = *nl == '\0';
            *nl = '\0';
            snprintf(name, sizeof name, "golden-%zu-%d", f, line);
            if (*p == '{' && strstr(p, "\"ack\"") != NULL) {
                put("changeset", name, 1, p, (size_t)(nl - p));
            } else if (*p == '{') {
                put("changeset", name, 0, p, (size_t)(nl - p));
                put("ingest_ops", name, FD_NAI_A, p, (size_t)(nl - p));
            } else if (nl > p) {
                size_t n = (size_t)(nl - p) / 2;
                uint8_t *raw = xmalloc(n + 1);
                if (hex_decode(p, raw, n) == MRF_OK) {
                    put("envelope", name, 0, raw, n);
                    put("ingest", name, -1, raw, n);
                }
                x_free(raw);
            }
            if (last)
                break;
        }
        x_free(text);
        x_free(path);
    }
}

static void seeds_changeset(const struct body *b)
{
    static const char *const values[][3] = {
        {"\x02\x03", "1250000"},  {"\x02\x05", "\"committed\""}, {"\x02\x06", "\"2026-02-29\""},
        {"\x01\x00", "\"AQID\""}, {"\x00\x01", "\"FOE\""},       {"\x02\x09", "1"},
        {"\x02\x06", "null"},     {"\x03\x02", "\"EUR\""},       {"\x01\x07", "\"high\""},
    };
    static const char *const one_op[] = {
        "[2,\"47474747474747474747474747474747\",3,1250000,\"019b7a3b6c000001\"]",
        "[2,\"47474747474747474747474747474747\",5,\"draft\",\"019b7a3b6c000002\","
        "\"019b7a3b6c000001\",\"12121212121212121212121212121212\"]",
        "[1,\"50505050505050505050505050505050\",0,\"AQIDBA\",\"019b7a3b6c000003\","
        "\"11111111111111111111111111111111\"]",
    };
    char name[32];

    for (int i = 0; i < NBODIES; i++)
        put_str("changeset", b[i].name, 0, b[i].json);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct buf v;
        buf_init(&v, 256);
        (void)buf_append(&v, values[i][0], 2);
        (void)buf_puts(&v, values[i][1]);
        snprintf(name, sizeof name, "value-%zu", i);
        put("changeset", name, 4, v.data, v.len);
        buf_release(&v);
    }
    put_str("changeset", "op-request", 2, one_op[0]);
    put_str("changeset", "op-request-prev", 2, one_op[1]);
    put_str("changeset", "op-answer", 3, one_op[2]);
    put_str("changeset", "record", 5,
            "{\"id\":\"C-7K2M9Q\",\"kind\":\"value\",\"rule\":\"concurrent_edit\",\"rows\":"
            "\"G-4KD82M\",\"detail\":\"two devices\",\"year\":2026,\"base\":\"1.00\",\"a\":"
            "\"2.00\",\"b\":null,\"opened\":1796000000,\"closed\":1796000001,\"decision\":"
            "\"take_b\",\"reason\":\"board\\nnote\",\"cseq\":4}");
}

static void seeds_envelope(const struct hq_identity *hq, const struct fuzz_device *dev,
                           const struct body *b)
{
    const struct fuzz_device *d = &dev[FD_NAI_A];
    uint8_t cs[MRF_ID];
    struct buf env = {0};
    size_t bound = ZSTD_compressBound(strlen(b[0].json)), z;
    uint8_t *frame = xmalloc(bound);

    memset(cs, 0xee, sizeof cs);
    fuzz_seal_request(d, "NAI", 0, cs, b[0].json, strlen(b[0].json), hq->cfg.hq.box_pk, &env);
    put("envelope", "request", 0, env.data, env.len);
    fuzz_seal_request(d, "NAI", 1, cs, b[0].json, strlen(b[0].json), hq->cfg.hq.box_pk, &env);
    put("envelope", "request-enroll", 0, env.data, env.len);
    z = ZSTD_compress(frame, bound, b[0].json, strlen(b[0].json), 3);
    if (ZSTD_isError(z))
        fuzz_die("cannot compress a seed");
    put("envelope", "zstd-frame", 1, frame, z);
    put("envelope", "zstd-empty", 1, "", 0);
    buf_release(&env);
    x_free(frame);
}

static void seeds_ingest(const struct hq_identity *hq, const struct fuzz_device *dev,
                         const struct body *b)
{
    struct buf env = {0};
    uint8_t cs[MRF_ID];
    char name[32];

    for (int i = 0; i < NBODIES; i++) {
        const struct fuzz_device *d = &dev[b[i].dev];
        memset(cs, 0xa0 + i, sizeof cs);
        fuzz_seal_request(d, d->post, b[i].enroll, cs, b[i].json, strlen(b[i].json),
                          hq->cfg.hq.box_pk, &env);
        put("ingest", b[i].name, -1, env.data, env.len);
        put_str("ingest_ops", b[i].name, b[i].dev | (b[i].enroll ? 8 : 0), b[i].json);
    }
    /* refusals: revoked, stray, a wrong post */
    for (int i = FD_REVOKE; i < FUZZ_NDEV; i++) {
        const struct fuzz_device *d = &dev[i];
        memset(cs, 0xb0 + i, sizeof cs);
        fuzz_seal_request(d, d->post, 0, cs, b[0].json, strlen(b[0].json), hq->cfg.hq.box_pk, &env);
        snprintf(name, sizeof name, "device-%d", i);
        put("ingest", name, -1, env.data, env.len);
    }
    /* the compact form (fuzz_ingest_ops.c, struct_body): cursor, record cursor, then per op
     * table, row, column, value, clock, previous write */
    {
        /* clang-format off */
        static const uint8_t grant[] = {
            0, 0,                                /* cursors */
            2, 0, GRANT_PARTNER,  0, 1, 0,       /* partner: pool row 0 */
            2, 0, GRANT_THEME,    0, 2, 0,       /* FOE */
            2, 0, GRANT_YEAR,     0, 3, 0,       /* 2026 */
            2, 0, GRANT_AMOUNT,   1, 4, 0,       /* 12500.00 */
            2, 0, GRANT_CURRENCY, 0, 5, 0,       /* EUR */
            2, 0, GRANT_STATUS,   1, 6, 0,       /* committed */
            1, 0, PARTNER_NAME,   0, 7, 0,       /* a sealed name */
            1, 0, PARTNER_RISK,   1, 7, 0,       /* medium: a new partner needs it */
            0, 1, THEME_YEAR,     0, 8, 0,       /* themes of 2026 */
            0, 1, THEME_THEME,    4, 9, 0,       /* HRD */
        };
        /* after compact-grant (the fuzzer runs them in one store): over A's writes */
        static const uint8_t parallel[] = {
            0, 0,
            2, 0, GRANT_AMOUNT,   2, 7, 0x20 | 3, /* over A's write, 3 steps back */
            2, 0, GRANT_STATUS,   0, 8, 0x20 | 5, /* back to draft */
            2, 0, GRANT_THEME,    1, 9, 0x40 | 1, /* over B's own */
        };
        static const uint8_t ahead[] = {
            3, 1,
            2, 1, GRANT_PARTNER,  1, 0x01, 0,     /* a new grant at GVA */
            2, 1, GRANT_THEME,    4, 0x01, 0,
            2, 1, GRANT_CURRENCY, 1, 0x01, 0,
            2, 1, GRANT_AMOUNT,   4, 0x81, 0,     /* a clock two days ahead */
            2, 1, GRANT_YEAR,     1, 0x82, 0,
            2, 1, GRANT_STATUS,   3, 0x03, 0,     /* closed */
            2, 1, GRANT_NOTE,     255, 0x04, 0,   /* null */
        };
        /* clang-format on */
        put("ingest_ops", "compact-grant", FD_NAI_A | 64, grant, sizeof grant);
        put("ingest_ops", "compact-parallel", FD_NAI_B | 64, parallel, sizeof parallel);
        put("ingest_ops", "compact-ahead", FD_GVA | 64, ahead, sizeof ahead);
    }
    put_str("ingest_ops", "wrong-post", FD_NAI_A | 32, b[0].json);
    put_str("ingest_ops", "retry", FD_NAI_A | 16, b[0].json);
    buf_release(&env);
}

static void seeds_token(const struct hq_identity *hq)
{
    struct enroll_token t;
    struct mrf_error err;
    char *tok = NULL;

    memset(&t, 0, sizeof t);
    t.version = 1;
    str_copy(t.url, "https://hq.example.org:8443", sizeof t.url);
    str_copy(t.tls_pin, hq->cfg.tls_pin, sizeof t.tls_pin);
    t.hq = hq->cfg.hq;
    memcpy(t.escrow_pk, hq->cfg.escrow_pk, MRF_BOX_PK);
    str_copy(t.post, "NAI", sizeof t.post);
    memset(t.token_id, 0x71, sizeof t.token_id);
    memset(t.secret, 0x72, sizeof t.secret);
    t.expires = 1796000000;
    if (token_encode(&t, hq->keys->sign_sk, &tok, &err) != MRF_OK)
        fuzz_die(err.msg);
    put_str("token", "token", 0, tok);
    x_free(tok);
    t.version = 2; /* with HQ's officer key */
    t.has_officer = 1;
    memset(t.officer_pk, 0x0f, sizeof t.officer_pk);
    if (token_encode(&t, hq->keys->sign_sk, &tok, &err) != MRF_OK)
        fuzz_die(err.msg);
    put_str("token", "token-v2", 0, tok);
    x_free(tok);
    put_str("token", "payload", 1,
            "{\"v\":1,\"url\":\"https://hq.example.org:8443\",\"pin\":\"sha256//"
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"hq_sign\":\"@K@\",\"hq_box\":"
            "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"escrow\":"
            "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"post\":\"GVA-MUN\",\"tid\":"
            "\"cXFxcXFxcXFxcXFxcXFxcQ\",\"secret\":"
            "\"cnJycnJycnJycnJycnJycnJycnJycnJycnJycnJycnI\",\"exp\":\"1796000000\"}");
    put_str("token", "payload-v2", 1,
            "{\"v\":2,\"url\":\"https://[::1]:8443\",\"pin\":\"sha256//"
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"hq_sign\":\"@K@\",\"hq_box\":"
            "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"escrow\":"
            "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"post\":\"NAI\",\"tid\":"
            "\"cXFxcXFxcXFxcXFxcXFxcQ\",\"secret\":"
            "\"cnJycnJycnJycnJycnJycnJycnJycnJycnJycnJycnI\",\"exp\":\"1796000000\","
            "\"officer\":\"@K@\"}");
}

static void seeds_domain(void)
{
    static const struct {
        int mode;
        const char *s;
    } v[] = {
        {0, "12500.50"},
        {0, "1000000000.00"},
        {0, "0.01"},
        {1, "2028-02-29"},
        {1, "2100-12-31"},
        {2, "2026"},
        {3, "eur"},
        {4, "GVA-MUN"},
        {5, "PX-7F3K9Q"},
        {6, "g-7f3k9o"},
        {7, "019b7a3b6c000001"},
        {8, "committed"},
        {8, "LGBTIQ"},
        {8, "medium"},
        {9, "-9223372036854775808"},
        {10, "caf\xc3\xa9\n"},
        {11, "00112233445566778899aabbccddeeff"},
        {12, "AQIDBAUGBwgJ"},
    };
    char name[32];

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        snprintf(name, sizeof name, "value-%zu", i);
        put_str("domain", name, v[i].mode, v[i].s);
    }
}

int main(int argc, char **argv)
{
    const char *src = argc > 2 ? argv[2] : ".";
    struct hq_identity hq;
    struct fuzz_device dev[FUZZ_NDEV];
    struct body b[NBODIES];
    struct mrf_error err;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: mrf-fuzz-seeds OUTDIR [SRCDIR]\n");
        return 1;
    }
    outdir = argv[1];
    if (mrfcrypto_init() != MRF_OK || dir_ensure(outdir, &err) != MRF_OK) {
        fprintf(stderr, "mrf-fuzz-seeds: cannot start in %s\n", outdir);
        return 1;
    }
    fuzz_identity(&hq);
    fuzz_devices(dev);
    bodies(&hq, dev, b);
    golden(src);
    seeds_changeset(b);
    seeds_envelope(&hq, dev, b);
    seeds_ingest(&hq, dev, b);
    seeds_token(&hq);
    seeds_domain();
    for (int i = 0; i < NBODIES; i++)
        x_free(b[i].json);
    fuzz_devices_free(dev);
    mrf_secrets_free(hq.keys);
    printf("mrf-fuzz-seeds: %d seeds in %s\n", nwritten, outdir);
    return 0;
}

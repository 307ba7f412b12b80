/* Change sets as JSON, both directions, for both programs: the request a device sends, the
 * answer HQ returns, the ops inside them, and what an answer tells a device besides: HQ's
 * signed audit head and the post's conflict records (formats in mrfsync.h). Written by hand into
 * size-capped buffers, so a change set or a page is cut at an exact byte count; read with
 * cJSON, with every field checked before it is used. The device (client/sync.c) and HQ
 * (hq/ingest.c) call these functions and never name a JSON key themselves. */
#include <string.h>

#include <sodium.h>

#include "mrfsync.h"

#define OP_TEXT_MAX 256                 /* synced plain-text columns are short codes and dates */
#define OP_BLOB_MAX (16u * 1024)        /* a sealed field (8 KiB of text) with its recipients */
#define JSON_INT_MAX 9007199254740992.0 /* 2^53: beyond it a JSON number loses digits */

void sync_op_release(struct sync_op *op)
{
    if (op == NULL)
        return;
    x_free(op->owned);
    op->owned = NULL;
}

static enum mrf_status put_string(struct buf *b, const char *s)
{
    enum mrf_status st = buf_puts(b, "\"");

    for (const unsigned char *p = (const unsigned char *)s; st == MRF_OK && *p; p++) {
        if (*p == '"' || *p == '\\')
            st = buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            st = buf_printf(b, "\\u%04x", *p);
        else
            st = buf_append(b, p, 1);
    }
    return st == MRF_OK ? buf_puts(b, "\"") : st;
}

static enum mrf_status put_hex(struct buf *b, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[2 * MRF_ID + 2];
    size_t k = 0;

    tmp[k++] = '"';
    for (size_t i = 0; i < n && i < MRF_ID; i++) {
        tmp[k++] = digits[p[i] >> 4];
        tmp[k++] = digits[p[i] & 15];
    }
    tmp[k++] = '"';
    return buf_append(b, tmp, k);
}

static enum mrf_status put_clock(struct buf *b, hlc_t c)
{
    char hex[17];

    hlc_to_hex(c, hex);
    return buf_printf(b, "\"%s\"", hex);
}

static enum mrf_status put_value(struct buf *b, const struct sync_value *v)
{
    enum mrf_status st;
    char *enc;

    if (v->is_null)
        return buf_puts(b, "null");
    switch (v->type) {
    case SYNC_INT:
        return buf_printf(b, "%lld", (long long)v->i);
    case SYNC_TEXT:
        return put_string(b, v->text);
    case SYNC_BLOB:
        enc = b64url_encode(v->blob, v->n);
        st = buf_printf(b, "\"%s\"", enc);
        x_free(enc);
        return st;
    }
    return MRF_E_INTERNAL;
}

enum mrf_status op_to_json(const struct sync_op *op, int with_device, struct buf *b)
{
    size_t mark = b->len;
    enum mrf_status st = buf_printf(b, "[%d,", (int)op->tbl);

    if (st == MRF_OK)
        st = put_hex(b, op->id, MRF_ID);
    if (st == MRF_OK)
        st = buf_printf(b, ",%d,", op->col);
    if (st == MRF_OK)
        st = put_value(b, &op->v);
    if (st == MRF_OK)
        st = buf_puts(b, ",");
    if (st == MRF_OK)
        st = put_clock(b, op->clock);
    if (st == MRF_OK && with_device) {
        st = buf_puts(b, ",");
        if (st == MRF_OK)
            st = put_hex(b, op->device, MRF_ID);
    } else if (st == MRF_OK && (op->prev_clock != 0 || op->has_prev_device)) {
        st = buf_puts(b, ",");
        if (st == MRF_OK)
            st = put_clock(b, op->prev_clock);
        if (st == MRF_OK && op->has_prev_device) {
            st = buf_puts(b, ",");
            if (st == MRF_OK)
                st = put_hex(b, op->prev_device, MRF_ID);
        }
    }
    if (st == MRF_OK)
        st = buf_puts(b, "]");
    if (st != MRF_OK && b->data != NULL) {
        /* leave b as it was: a change set never holds half an op */
        b->len = mark;
        b->data[mark] = '\0';
    }
    return st;
}

/* 1 if text holds the escape \u0000 (an escaped backslash is skipped, not mistaken for one)
 * or more than WIRE_JSON_NODES values: cJSON makes one node per value, and a body has at most
 * one value more than its commas, brackets and braces outside strings. */
static int unreadable(const char *text, size_t len)
{
    size_t values = 1;
    int in_string = 0;

    for (size_t i = 0; i < len; i++) {
        if (in_string) {
            if (text[i] == '"')
                in_string = 0;
            else if (text[i] == '\\' && i + 1 < len) {
                if (text[i + 1] == 'u' && i + 5 < len && memcmp(text + i + 2, "0000", 4) == 0)
                    return 1;
                i++; /* the escaped character */
            }
            continue;
        }
        if (text[i] == '"')
            in_string = 1;
        else if ((text[i] == ',' || text[i] == '[' || text[i] == '{') && ++values > WIRE_JSON_NODES)
            return 1;
    }
    return 0;
}

cJSON *wire_json_parse(const char *text, size_t len)
{
    const char *end = NULL;
    cJSON *doc;

    if (unreadable(text, len))
        return NULL;
    doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (doc != NULL && end != text + len) {
        cJSON_Delete(doc);
        doc = NULL;
    }
    return doc;
}

static enum mrf_status bad(struct mrf_error *err, const char *what)
{
    return mrf_error_set(err, MRF_E_INVALID, "bad_op: %s", what);
}

static enum mrf_status get_id(const cJSON *j, uint8_t out[MRF_ID])
{
    if (!cJSON_IsString(j) || strlen(j->valuestring) != 2 * MRF_ID)
        return MRF_E_INVALID;
    return hex_decode(j->valuestring, out, MRF_ID);
}

static enum mrf_status get_clock(const cJSON *j, hlc_t *out)
{
    if (!cJSON_IsString(j))
        return MRF_E_INVALID;
    return hlc_from_hex(j->valuestring, out);
}

static enum mrf_status get_value(const cJSON *j, const struct sync_column *c, struct sync_op *op,
                                 struct mrf_error *err)
{
    size_t n;

    op->v.type = c->type;
    if (cJSON_IsNull(j)) {
        op->v.is_null = 1;
        return MRF_OK;
    }
    switch (c->type) {
    case SYNC_INT:
        if (!cJSON_IsNumber(j) || j->valuedouble > JSON_INT_MAX || j->valuedouble < -JSON_INT_MAX ||
            j->valuedouble != (double)(int64_t)j->valuedouble)
            return bad(err, "an integer column holds something else");
        op->v.i = (int64_t)j->valuedouble;
        return MRF_OK;
    case SYNC_TEXT:
        if (!cJSON_IsString(j))
            return bad(err, "a text column holds something else");
        n = strlen(j->valuestring);
        if (n > OP_TEXT_MAX || !text_valid(j->valuestring, n, 0))
            return bad(err, "a text value is too long or not clean UTF-8");
        op->v.text = j->valuestring;
        return MRF_OK;
    case SYNC_BLOB:
        if (!cJSON_IsString(j) || strlen(j->valuestring) > OP_BLOB_MAX * 4 / 3 + 4)
            return bad(err, "a blob column holds something else or is too long");
        if (b64url_decode(j->valuestring, strlen(j->valuestring), &op->owned, &op->v.n) != MRF_OK)
            return bad(err, "a blob is not base64url");
        op->v.blob = op->owned;
        return MRF_OK;
    }
    return bad(err, "unknown column type");
}

/* Table and row id of an op. */
static enum mrf_status get_row(const cJSON *t, const cJSON *id, struct sync_op *op,
                               struct mrf_error *err)
{
    if (!cJSON_IsNumber(t) || t->valueint < 0 || t->valueint >= ST_COUNT ||
        t->valuedouble != (double)t->valueint)
        return bad(err, "unknown table");
    op->tbl = (enum sync_table)t->valueint;
    if (get_id(id, op->id) != MRF_OK)
        return bad(err, "row id is not 32 hex digits");
    return MRF_OK;
}

/* Column and value of an op of table op->tbl. */
static enum mrf_status get_column(const cJSON *col, const cJSON *val, struct sync_op *op,
                                  struct mrf_error *err)
{
    const struct sync_table_desc *d = sync_table_get(op->tbl);

    if (!cJSON_IsNumber(col) || col->valueint < 0 || col->valueint >= d->ncols ||
        col->valuedouble != (double)col->valueint)
        return bad(err, "unknown column");
    op->col = col->valueint;
    return get_value(val, &d->cols[op->col], op, err);
}

enum mrf_status op_from_json(const cJSON *j, int with_device, const uint8_t sender[MRF_ID],
                             struct sync_op *op, struct mrf_error *err)
{
    int n = cJSON_GetArraySize(j);
    const cJSON *f[7] = {0};
    enum mrf_status st;

    memset(op, 0, sizeof *op);
    if (!cJSON_IsArray(j) || n < 5 || n > (with_device ? 6 : 7) || (with_device && n != 6))
        return bad(err, "not an op array of the right length");
    for (int i = 0; i < n; i++)
        f[i] = cJSON_GetArrayItem(j, i);
    st = get_row(f[0], f[1], op, err);
    if (st == MRF_OK)
        st = get_column(f[2], f[3], op, err);
    if (st != MRF_OK)
        goto fail;
    if (get_clock(f[4], &op->clock) != MRF_OK || op->clock == 0) {
        st = bad(err, "clock is not 16 hex digits");
        goto fail;
    }
    if (with_device) {
        if (get_id(f[5], op->device) != MRF_OK) {
            st = bad(err, "writer id is not 32 hex digits");
            goto fail;
        }
        return MRF_OK;
    }
    memcpy(op->device, sender, MRF_ID);
    if (n >= 6 && get_clock(f[5], &op->prev_clock) != MRF_OK) {
        st = bad(err, "previous clock is not 16 hex digits");
        goto fail;
    }
    if (n == 7) {
        if (get_id(f[6], op->prev_device) != MRF_OK) {
            st = bad(err, "previous writer id is not 32 hex digits");
            goto fail;
        }
        op->has_prev_device = 1;
    }
    return MRF_OK;
fail:
    sync_op_release(op);
    return st;
}

/* ---- version 3: row-shaped ops ----------------------------------------------------------- */

/* clock, as an offset from base when it is within 2^53 of it (a JSON number keeps it exact),
 * else as 16 hex digits. */
static enum mrf_status put_clock_from(struct buf *b, hlc_t clock, hlc_t base)
{
    uint64_t d = clock >= base ? clock - base : base - clock;

    if (d > (uint64_t)JSON_INT_MAX)
        return put_clock(b, clock);
    return buf_printf(b, clock >= base ? "%llu" : "-%llu", (unsigned long long)d);
}

/* A clock written by put_clock_from against base. */
static enum mrf_status get_clock_from(const cJSON *j, hlc_t base, hlc_t *out)
{
    double d;

    if (cJSON_IsString(j))
        return get_clock(j, out);
    if (!cJSON_IsNumber(j))
        return MRF_E_INVALID;
    d = j->valuedouble;
    if (d > JSON_INT_MAX || d < -JSON_INT_MAX || d != (double)(int64_t)d)
        return MRF_E_INVALID;
    if (d >= 0) {
        if ((uint64_t)d > HLC_MAX - base)
            return MRF_E_INVALID;
        *out = base + (uint64_t)d;
    } else {
        if ((uint64_t)-d > base)
            return MRF_E_INVALID;
        *out = base - (uint64_t)-d;
    }
    return MRF_OK;
}

/* A writer: its index if the body named it before, else its hex (and it takes an index). */
static enum mrf_status put_writer(struct cs_writer *w, struct buf *b, const uint8_t id[MRF_ID])
{
    enum mrf_status st;

    for (int i = 0; i < w->nwriters; i++)
        if (memcmp(w->writers[i], id, MRF_ID) == 0)
            return buf_printf(b, "%d", i);
    st = put_hex(b, id, MRF_ID);
    if (st == MRF_OK && w->nwriters < CS_WRITERS_MAX)
        memcpy(w->writers[w->nwriters++], id, MRF_ID);
    return st;
}

static enum mrf_status get_writer(struct cs_reader *r, const cJSON *j, uint8_t out[MRF_ID])
{
    if (cJSON_IsNumber(j)) {
        if (j->valuedouble < 0 || j->valuedouble >= r->nwriters ||
            j->valuedouble != (double)j->valueint)
            return MRF_E_INVALID;
        memcpy(out, r->writers[j->valueint], MRF_ID);
        return MRF_OK;
    }
    if (get_id(j, out) != MRF_OK)
        return MRF_E_INVALID;
    if (r->nwriters < CS_WRITERS_MAX)
        memcpy(r->writers[r->nwriters++], out, MRF_ID);
    return MRF_OK;
}

void changeset_writer_init(struct cs_writer *w, int version, int with_device)
{
    memset(w, 0, sizeof *w);
    w->version = version;
    w->with_device = with_device;
}

void changeset_writer_mark(const struct cs_writer *w, const struct buf *b, struct cs_mark *m)
{
    m->len = b->len;
    m->n = w->n;
    m->in_row = w->in_row;
    m->tbl = w->tbl;
    memcpy(m->id, w->id, MRF_ID);
    m->last = w->last;
    m->nwriters = w->nwriters;
}

void changeset_writer_rewind(struct cs_writer *w, struct buf *b, const struct cs_mark *m)
{
    if (b->data != NULL) {
        b->len = m->len;
        if (m->in_row && m->len > 0) /* a put into the open row took its ']' */
            b->data[m->len - 1] = ']';
        b->data[m->len] = '\0';
    }
    w->n = m->n;
    w->in_row = m->in_row;
    w->tbl = m->tbl;
    memcpy(w->id, m->id, MRF_ID);
    w->last = m->last;
    w->nwriters = m->nwriters;
}

/* One COL of op into b (the row is open). */
static enum mrf_status put_col(struct cs_writer *w, struct buf *b, const struct sync_op *op)
{
    enum mrf_status st = buf_printf(b, "[%d,", op->col);

    if (st == MRF_OK)
        st = put_value(b, &op->v);
    if (st == MRF_OK)
        st = buf_puts(b, ",");
    if (st == MRF_OK)
        st = put_clock_from(b, op->clock, w->last);
    if (st == MRF_OK && w->with_device) {
        st = buf_puts(b, ",");
        if (st == MRF_OK)
            st = put_writer(w, b, op->device);
    } else if (st == MRF_OK && (op->prev_clock != 0 || op->has_prev_device)) {
        st = buf_puts(b, ",");
        if (st == MRF_OK)
            st = put_clock_from(b, op->prev_clock, op->clock);
        if (st == MRF_OK && op->has_prev_device) {
            st = buf_puts(b, ",");
            if (st == MRF_OK)
                st = put_writer(w, b, op->prev_device);
        }
    }
    return st == MRF_OK ? buf_puts(b, "]]") : st;
}

enum mrf_status changeset_writer_put(struct cs_writer *w, struct buf *b, const struct sync_op *op)
{
    struct cs_mark m;
    enum mrf_status st;

    if (w->version < 3)
        return changeset_put_op(b, &w->n, op, w->with_device);
    changeset_writer_mark(w, b, &m);
    if (w->in_row && w->tbl == op->tbl && memcmp(w->id, op->id, MRF_ID) == 0) {
        b->len--; /* the row's ']' */
        st = buf_puts(b, ",");
    } else {
        st = buf_printf(b, w->n > 0 ? ",[%d," : "[%d,", (int)op->tbl);
        if (st == MRF_OK)
            st = put_hex(b, op->id, MRF_ID);
        if (st == MRF_OK)
            st = buf_puts(b, ",");
    }
    if (st == MRF_OK)
        st = put_col(w, b, op);
    if (st != MRF_OK) {
        changeset_writer_rewind(w, b, &m); /* a body never holds half an op */
        return st;
    }
    w->in_row = 1;
    w->tbl = op->tbl;
    memcpy(w->id, op->id, MRF_ID);
    w->last = op->clock;
    w->n++;
    return MRF_OK;
}

void changeset_reader_init(struct cs_reader *r, const cJSON *ops, int version, int with_device,
                           const uint8_t sender[MRF_ID])
{
    memset(r, 0, sizeof *r);
    r->version = version;
    r->with_device = with_device;
    r->sender = sender;
    r->item = cJSON_IsArray(ops) ? ops->child : NULL;
}

/* One COL j of a version-3 row into op (table and id set). */
static enum mrf_status col_from_json(struct cs_reader *r, const cJSON *j, struct sync_op *op,
                                     struct mrf_error *err)
{
    int n = cJSON_GetArraySize(j);
    const cJSON *f[5] = {0};
    enum mrf_status st;

    if (!cJSON_IsArray(j) || n < 3 || n > (r->with_device ? 4 : 5) || (r->with_device && n != 4))
        return bad(err, "not a column entry of the right length");
    for (int i = 0; i < n; i++)
        f[i] = cJSON_GetArrayItem(j, i);
    st = get_column(f[0], f[1], op, err);
    if (st != MRF_OK)
        return st;
    if (get_clock_from(f[2], r->last, &op->clock) != MRF_OK || op->clock == 0)
        return bad(err, "clock is not 16 hex digits nor an offset to a clock");
    if (r->with_device) {
        if (get_writer(r, f[3], op->device) != MRF_OK)
            return bad(err, "writer is not 32 hex digits nor the index of one named before");
        return MRF_OK;
    }
    memcpy(op->device, r->sender, MRF_ID);
    if (n >= 4 && get_clock_from(f[3], op->clock, &op->prev_clock) != MRF_OK)
        return bad(err, "previous clock is not 16 hex digits nor an offset to a clock");
    if (n == 5) {
        if (get_writer(r, f[4], op->prev_device) != MRF_OK)
            return bad(err, "previous writer is not 32 hex digits nor the index of one named "
                            "before");
        op->has_prev_device = 1;
    }
    return MRF_OK;
}

enum mrf_status changeset_reader_next(struct cs_reader *r, struct sync_op *op,
                                      struct mrf_error *err)
{
    const cJSON *row;
    enum mrf_status st;

    memset(op, 0, sizeof *op);
    if (r->item == NULL)
        return MRF_E_NOTFOUND;
    if (r->version < 3) {
        row = r->item;
        st = op_from_json(row, r->with_device, r->sender, op, err);
        r->item = st == MRF_OK ? row->next : NULL; /* read no further than a bad op */
        return st;
    }
    if (r->col == NULL) { /* entering a row */
        if (!cJSON_IsArray(r->item) || cJSON_GetArraySize(r->item) < 3) {
            r->item = NULL; /* a body is read no further than its first bad op */
            return bad(err, "not a row of table, id and column entries");
        }
        r->col = cJSON_GetArrayItem(r->item, 2);
    }
    st = get_row(cJSON_GetArrayItem(r->item, 0), cJSON_GetArrayItem(r->item, 1), op, err);
    if (st == MRF_OK)
        st = col_from_json(r, r->col, op, err);
    if (st != MRF_OK) {
        sync_op_release(op);
        r->item = NULL;
        return st;
    }
    r->last = op->clock;
    r->col = r->col->next;
    if (r->col == NULL)
        r->item = r->item->next;
    return MRF_OK;
}

int64_t changeset_ops_count(const cJSON *ops, int version)
{
    const cJSON *row;
    int64_t n = 0;
    int k;

    if (!cJSON_IsArray(ops))
        return 0;
    if (version < 3)
        return cJSON_GetArraySize(ops);
    cJSON_ArrayForEach(row, ops) {
        k = cJSON_IsArray(row) ? cJSON_GetArraySize(row) : 0;
        n += k > 2 ? k - 2 : 1; /* a malformed row still counts */
    }
    return n;
}

enum mrf_status sync_value_to_json(const struct sync_value *v, struct buf *b)
{
    return put_value(b, v);
}

enum mrf_status sync_value_from_json(const char *json, enum sync_table t, int col,
                                     struct sync_op *op, struct mrf_error *err)
{
    const struct sync_column *c = sync_column_get(t, col);
    cJSON *j = json ? wire_json_parse(json, strlen(json)) : NULL;
    enum mrf_status st;
    size_t n;

    memset(op, 0, sizeof *op);
    op->tbl = t;
    op->col = col;
    if (c == NULL || j == NULL) {
        cJSON_Delete(j);
        return bad(err, "not a value of this column");
    }
    st = get_value(j, c, op, err);
    if (st == MRF_OK && c->type == SYNC_TEXT && !op->v.is_null) {
        /* the text points into j: keep a copy the op owns */
        n = strlen(op->v.text);
        op->owned = xmalloc(n + 1);
        memcpy(op->owned, op->v.text, n + 1);
        op->v.text = (const char *)op->owned;
    }
    cJSON_Delete(j);
    return st;
}

/* ---- bodies ------------------------------------------------------------------------------ */

enum mrf_status changeset_put_op(struct buf *b, int64_t *n, const struct sync_op *op,
                                 int with_device)
{
    size_t mark = b->len;
    enum mrf_status st = *n > 0 ? buf_puts(b, ",") : MRF_OK;

    if (st == MRF_OK)
        st = op_to_json(op, with_device, b);
    if (st != MRF_OK) {
        if (b->data != NULL) {
            b->len = mark;
            b->data[mark] = '\0';
        }
        return st;
    }
    (*n)++;
    return MRF_OK;
}

enum mrf_status changeset_request_begin(struct buf *b, int version, int64_t cursor, int64_t ccursor,
                                        int64_t seen, const uint8_t *enroll_secret)
{
    enum mrf_status st;
    char *secret;

    buf_reset(b);
    st = buf_printf(b, "{\"v\":%d,\"cursor\":%lld,", version, (long long)cursor);
    if (st == MRF_OK && ccursor > 0) /* absent means 0: a device's first requests stay as before */
        st = buf_printf(b, "\"ccursor\":%lld,", (long long)ccursor);
    if (st == MRF_OK && seen >= 0 && seen < cursor) /* absent means the cursor */
        st = buf_printf(b, "\"seen\":%lld,", (long long)seen);
    if (st == MRF_OK && enroll_secret != NULL) {
        secret = b64url_encode(enroll_secret, MRF_SECRET);
        st = buf_printf(b, "\"enroll\":{\"secret\":\"%s\"},", secret);
        sodium_memzero(secret, strlen(secret));
        x_free(secret);
    }
    return st == MRF_OK ? buf_puts(b, "\"ops\":[") : st;
}

enum mrf_status changeset_request_end(struct buf *b)
{
    return buf_puts(b, "]}");
}

enum mrf_status changeset_request_end_with(struct buf *b, const char *members)
{
    enum mrf_status st = buf_puts(b, "]");

    if (st == MRF_OK)
        st = buf_puts(b, members);
    return st == MRF_OK ? buf_puts(b, "}") : st;
}

/* A non-negative integer below 2^53 (what a JSON number holds exactly). */
static int get_count(const cJSON *j, int64_t *out)
{
    if (!cJSON_IsNumber(j) || j->valuedouble < 0 || j->valuedouble > JSON_INT_MAX ||
        j->valuedouble != (double)(int64_t)j->valuedouble)
        return 0;
    *out = (int64_t)j->valuedouble;
    return 1;
}

/* The parsed tree's copy of an enrollment secret, wiped before the tree is freed. */
static void wipe_secret(cJSON *doc)
{
    cJSON *sec =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "enroll"), "secret");

    if (cJSON_IsString(sec) && sec->valuestring != NULL)
        sodium_memzero(sec->valuestring, strlen(sec->valuestring));
}

enum mrf_status changeset_request_parse(const char *json, size_t len, struct cs_request *r,
                                        struct mrf_error *err)
{
    const cJSON *v, *e, *sec;
    uint8_t *raw = NULL;
    size_t n = 0;

    memset(r, 0, sizeof *r);
    r->doc = wire_json_parse(json, len);
    if (r->doc == NULL || !cJSON_IsObject(r->doc))
        return mrf_error_set(err, MRF_E_INVALID, "bad_json");
    v = cJSON_GetObjectItemCaseSensitive(r->doc, "v");
    if (!cJSON_IsNumber(v) || v->valuedouble < WIRE_VERSION_MIN || v->valuedouble > WIRE_VERSION ||
        v->valuedouble != (double)v->valueint)
        return mrf_error_set(err, MRF_E_INVALID, "bad_version");
    r->version = v->valueint;
    if (!get_count(cJSON_GetObjectItemCaseSensitive(r->doc, "cursor"), &r->cursor))
        return mrf_error_set(err, MRF_E_INVALID, "bad_cursor");
    v = cJSON_GetObjectItemCaseSensitive(r->doc, "ccursor");
    if (v != NULL && !get_count(v, &r->ccursor))
        return mrf_error_set(err, MRF_E_INVALID, "bad_cursor");
    r->seen = r->cursor;
    v = cJSON_GetObjectItemCaseSensitive(r->doc, "seen");
    if (v != NULL && (!get_count(v, &r->seen) || r->seen > r->cursor))
        return mrf_error_set(err, MRF_E_INVALID, "bad_cursor");
    e = cJSON_GetObjectItemCaseSensitive(r->doc, "enroll");
    if (e != NULL) {
        r->has_enroll = 1;
        sec = cJSON_GetObjectItemCaseSensitive(e, "secret");
        if (cJSON_IsString(sec) &&
            b64url_decode(sec->valuestring, strlen(sec->valuestring), &raw, &n) == MRF_OK) {
            r->secret_ok = n == MRF_SECRET;
            if (r->secret_ok)
                memcpy(r->secret, raw, MRF_SECRET);
            sodium_memzero(raw, n);
            x_free(raw);
        }
        wipe_secret(r->doc);
    }
    r->ops = cJSON_GetObjectItemCaseSensitive(r->doc, "ops");
    if (!cJSON_IsArray(r->ops))
        r->ops = NULL;
    return MRF_OK;
}

void changeset_request_release(struct cs_request *r)
{
    if (r == NULL)
        return;
    sodium_memzero(r->secret, sizeof r->secret);
    cJSON_Delete(r->doc);
    r->doc = NULL;
    r->ops = NULL;
}

enum mrf_status changeset_answer_begin(struct buf *b, int version, const struct cs_ack *ack,
                                       uint64_t hq_time_ms)
{
    char id[2 * MRF_ID + 1];
    enum mrf_status st;

    buf_reset(b);
    for (int i = 0; i < MRF_ID; i++)
        snprintf(id + 2 * i, 3, "%02x", ack->id[i]);
    st = buf_printf(b, "{\"v\":%d,\"ack\":{\"id\":\"%s\",\"verdict\":\"%s\",\"reason\":", version,
                    id, ack->quarantined ? "quarantined" : "accepted");
    if (st == MRF_OK)
        st = put_string(b, ack->reason);
    if (st == MRF_OK && version >= 2 && ack->restamped) {
        st = buf_puts(b, ",\"restamp\":{\"above\":");
        if (st == MRF_OK)
            st = put_clock(b, ack->restamp_above);
        if (st == MRF_OK)
            st = buf_puts(b, ",\"to\":");
        if (st == MRF_OK)
            st = put_clock(b, ack->restamp_to);
        if (st == MRF_OK)
            st = buf_puts(b, "}");
    }
    if (st == MRF_OK)
        st = buf_puts(b, "},");
    if (st == MRF_OK && version >= 2)
        st = buf_printf(b, "\"time\":%llu,", (unsigned long long)hq_time_ms);
    return st == MRF_OK ? buf_puts(b, "\"ops\":[") : st;
}

enum mrf_status changeset_answer_ops_end(struct buf *b, int64_t cursor)
{
    return buf_printf(b, "],\"cursor\":%lld", (long long)cursor);
}

/* 2n lower-case hex digits of p, quoted. */
static enum mrf_status put_hex_long(struct buf *b, const uint8_t *p, size_t n)
{
    char *hex = hex_encode(p, n);
    enum mrf_status st = buf_printf(b, "\"%s\"", hex);

    x_free(hex);
    return st;
}

enum mrf_status changeset_answer_audit(struct buf *b, const struct audit_head *h)
{
    char *sig = b64url_encode(h->sig, sizeof h->sig);
    enum mrf_status st = buf_printf(b, ",\"audit\":{\"seq\":%lld,\"hash\":", (long long)h->seq);

    if (st == MRF_OK)
        st = put_hex_long(b, h->hash, sizeof h->hash);
    if (st == MRF_OK)
        st = buf_printf(b, ",\"sig\":\"%s\"}", sig);
    x_free(sig);
    return st;
}

enum mrf_status changeset_answer_conflicts_begin(struct buf *b)
{
    return buf_puts(b, ",\"conflicts\":[");
}

/* ,"key":"text" */
static enum mrf_status put_member(struct buf *b, const char *key, const char *text)
{
    enum mrf_status st = buf_printf(b, ",\"%s\":", key);

    return st == MRF_OK ? put_string(b, text) : st;
}

enum mrf_status changeset_put_conflict(struct buf *b, int64_t *n, const struct cs_conflict *c)
{
    size_t mark = b->len;
    int closed = c->closed != 0;
    enum mrf_status st;

    if (*n >= CS_CONFLICTS_PAGE)
        return MRF_E_TOOBIG;
    st = buf_puts(b, *n > 0 ? ",{\"id\":" : "{\"id\":");
    if (st == MRF_OK)
        st = put_string(b, c->id);
    if (st == MRF_OK)
        st = put_member(b, "kind", c->kind);
    if (st == MRF_OK)
        st = put_member(b, "rule", c->rule);
    if (st == MRF_OK)
        st = put_member(b, "rows", c->rows);
    if (st == MRF_OK)
        st = put_member(b, "detail", c->detail);
    if (st == MRF_OK)
        st = buf_printf(b, ",\"year\":%d", c->year);
    if (st == MRF_OK)
        st = put_member(b, "base", c->base);
    if (st == MRF_OK)
        st = put_member(b, "a", c->a);
    if (st == MRF_OK)
        st = put_member(b, "b", c->b);
    if (st == MRF_OK)
        st = buf_printf(b, ",\"opened\":%lld", (long long)c->opened);
    if (st == MRF_OK && closed) {
        st = buf_printf(b, ",\"closed\":%lld", (long long)c->closed);
        if (st == MRF_OK)
            st = put_member(b, "decision", c->decision);
        if (st == MRF_OK)
            st = put_member(b, "reason", c->reason);
    } else if (st == MRF_OK) {
        st = buf_puts(b, ",\"closed\":null,\"decision\":null,\"reason\":null");
    }
    if (st == MRF_OK)
        st = buf_printf(b, ",\"cseq\":%lld}", (long long)c->cseq);
    if (st != MRF_OK) {
        if (b->data != NULL) { /* a page never holds half a record */
            b->len = mark;
            b->data[mark] = '\0';
        }
        return st;
    }
    (*n)++;
    return MRF_OK;
}

enum mrf_status changeset_answer_conflicts_end(struct buf *b, int64_t ccursor)
{
    return buf_printf(b, "],\"ccursor\":%lld", (long long)ccursor);
}

enum mrf_status changeset_answer_end(struct buf *b, int more)
{
    return buf_printf(b, ",\"more\":%s}", more ? "true" : "false");
}

/* {"seq":N,"hash":"<64 hex>","sig":"<b64url of MRF_SIG bytes>"}: 1 if j is one. */
static int get_audit_head(const cJSON *j, struct audit_head *h)
{
    const cJSON *hash = cJSON_GetObjectItemCaseSensitive(j, "hash");
    const cJSON *sig = cJSON_GetObjectItemCaseSensitive(j, "sig");
    uint8_t *raw = NULL;
    size_t n = 0;
    int ok;

    memset(h, 0, sizeof *h);
    if (!cJSON_IsObject(j) || !get_count(cJSON_GetObjectItemCaseSensitive(j, "seq"), &h->seq) ||
        !cJSON_IsString(hash) || strlen(hash->valuestring) != 2 * sizeof h->hash ||
        hex_decode(hash->valuestring, h->hash, sizeof h->hash) != MRF_OK || !cJSON_IsString(sig) ||
        strlen(sig->valuestring) > 2 * MRF_SIG)
        return 0;
    if (b64url_decode(sig->valuestring, strlen(sig->valuestring), &raw, &n) != MRF_OK)
        return 0;
    ok = n == MRF_SIG;
    if (ok)
        memcpy(h->sig, raw, MRF_SIG);
    x_free(raw);
    return ok;
}

static enum mrf_status bad_answer(struct mrf_error *err, const char *what)
{
    return mrf_error_set(err, MRF_E_INVALID, "HQ's answer: %s", what);
}

enum mrf_status changeset_answer_parse(const char *json, size_t len, struct cs_answer *a,
                                       struct mrf_error *err)
{
    const cJSON *ack, *v, *f, *rs;
    int64_t t;

    memset(a, 0, sizeof *a);
    a->doc = wire_json_parse(json, len);
    if (a->doc == NULL || !cJSON_IsObject(a->doc))
        return bad_answer(err, "not JSON");
    v = cJSON_GetObjectItemCaseSensitive(a->doc, "v");
    if (!cJSON_IsNumber(v) || v->valuedouble < WIRE_VERSION_ANSWER ||
        v->valuedouble > WIRE_VERSION || v->valuedouble != (double)v->valueint)
        return bad_answer(err, "another version");
    a->version = v->valueint;
    ack = cJSON_GetObjectItemCaseSensitive(a->doc, "ack");
    if (get_id(cJSON_GetObjectItemCaseSensitive(ack, "id"), a->ack.id) != MRF_OK)
        return bad_answer(err, "no change set id");
    f = cJSON_GetObjectItemCaseSensitive(ack, "verdict");
    if (!cJSON_IsString(f) ||
        (strcmp(f->valuestring, "accepted") != 0 && strcmp(f->valuestring, "quarantined") != 0))
        return bad_answer(err, "no verdict");
    a->ack.quarantined = strcmp(f->valuestring, "quarantined") == 0;
    f = cJSON_GetObjectItemCaseSensitive(ack, "reason");
    if (!cJSON_IsString(f) || strlen(f->valuestring) >= sizeof a->ack.reason ||
        !text_valid(f->valuestring, strlen(f->valuestring), 0))
        return bad_answer(err, "no readable reason");
    str_copy(a->ack.reason, f->valuestring, sizeof a->ack.reason);
    rs = cJSON_GetObjectItemCaseSensitive(ack, "restamp");
    if (rs != NULL) {
        if (get_clock(cJSON_GetObjectItemCaseSensitive(rs, "above"), &a->ack.restamp_above) !=
                MRF_OK ||
            get_clock(cJSON_GetObjectItemCaseSensitive(rs, "to"), &a->ack.restamp_to) != MRF_OK ||
            a->ack.restamp_to > a->ack.restamp_above)
            return bad_answer(err, "a restamp that is not two clocks");
        a->ack.restamped = 1;
    }
    if (!get_count(cJSON_GetObjectItemCaseSensitive(a->doc, "time"), &t))
        return bad_answer(err, "no time");
    a->hq_time_ms = (uint64_t)t;
    if (!get_count(cJSON_GetObjectItemCaseSensitive(a->doc, "cursor"), &a->cursor))
        return bad_answer(err, "no cursor");
    f = cJSON_GetObjectItemCaseSensitive(a->doc, "more");
    if (!cJSON_IsBool(f))
        return bad_answer(err, "no more flag");
    a->more = cJSON_IsTrue(f);
    a->ops = cJSON_GetObjectItemCaseSensitive(a->doc, "ops");
    if (!cJSON_IsArray(a->ops))
        return bad_answer(err, "no ops list");
    f = cJSON_GetObjectItemCaseSensitive(a->doc, "audit");
    if (f != NULL) {
        if (!get_audit_head(f, &a->audit))
            return bad_answer(err, "an audit head that is not a sequence, a hash and a signature");
        a->has_audit = 1;
    }
    f = cJSON_GetObjectItemCaseSensitive(a->doc, "conflicts");
    if (f != NULL) {
        if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) > CS_CONFLICTS_PAGE)
            return bad_answer(err, "conflict records that are not a list of at most a page");
        if (!get_count(cJSON_GetObjectItemCaseSensitive(a->doc, "ccursor"), &a->ccursor))
            return bad_answer(err, "conflict records without their cursor");
        a->conflicts = f;
    }
    return MRF_OK;
}

/* ---- conflict records -------------------------------------------------------------------- */

/* A string member of at most cap - 1 bytes of clean UTF-8 into out; null gives "" if
 * null_ok. 0 if it is anything else. */
static int get_text(const cJSON *o, const char *key, char *out, size_t cap, int null_ok,
                    int newlines)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    size_t n;

    out[0] = '\0';
    if (null_ok && cJSON_IsNull(j))
        return 1;
    if (!cJSON_IsString(j))
        return 0;
    n = strlen(j->valuestring);
    if (n >= cap || !text_valid(j->valuestring, n, newlines))
        return 0;
    str_copy(out, j->valuestring, cap);
    return 1;
}

/* 1 if s is a name of lower-case letters and '_' (a rule, a decision). */
static int is_name(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
            return 0;
    return 1;
}

/* 1 if s is a record id: "C-" and six Crockford base32 characters. */
static int is_conflict_id(const char *s)
{
    static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    if (strlen(s) != 8 || s[0] != 'C' || s[1] != '-')
        return 0;
    for (int i = 2; i < 8; i++)
        if (strchr(crockford, s[i]) == NULL)
            return 0;
    return 1;
}

static enum mrf_status bad_record(struct mrf_error *err, struct cs_conflict *c, const char *what)
{
    memset(c, 0, sizeof *c);
    return mrf_error_set(err, MRF_E_INVALID, "HQ's answer: a conflict record with %s", what);
}

enum mrf_status changeset_conflict_parse(const cJSON *j, struct cs_conflict *c,
                                         struct mrf_error *err)
{
    const cJSON *f;
    int64_t n;

    memset(c, 0, sizeof *c);
    if (!cJSON_IsObject(j))
        return bad_record(err, c, "no object");
    if (!get_text(j, "id", c->id, sizeof c->id, 0, 0) || !is_conflict_id(c->id))
        return bad_record(err, c, "a bad id");
    if (!get_text(j, "kind", c->kind, sizeof c->kind, 0, 0) ||
        (strcmp(c->kind, "value") != 0 && strcmp(c->kind, "parallel") != 0 &&
         strcmp(c->kind, "rule") != 0))
        return bad_record(err, c, "an unknown kind");
    if (!get_text(j, "rule", c->rule, sizeof c->rule, 0, 0) || !is_name(c->rule))
        return bad_record(err, c, "a bad rule");
    if (!get_text(j, "rows", c->rows, sizeof c->rows, 0, 0))
        return bad_record(err, c, "bad rows");
    if (!get_text(j, "detail", c->detail, sizeof c->detail, 0, 0))
        return bad_record(err, c, "a bad detail");
    f = cJSON_GetObjectItemCaseSensitive(j, "year");
    if (!get_count(f, &n) || (n != 0 && (n < YEAR_MIN || n > YEAR_MAX)))
        return bad_record(err, c, "a bad year");
    c->year = (int)n;
    if (!get_text(j, "base", c->base, sizeof c->base, 1, 0) ||
        !get_text(j, "a", c->a, sizeof c->a, 1, 0) || !get_text(j, "b", c->b, sizeof c->b, 1, 0))
        return bad_record(err, c, "a bad value");
    if (!get_count(cJSON_GetObjectItemCaseSensitive(j, "opened"), &c->opened) || c->opened == 0)
        return bad_record(err, c, "a bad opening time");
    f = cJSON_GetObjectItemCaseSensitive(j, "closed");
    if (cJSON_IsNull(f)) {
        /* open: no decision yet */
        if (!cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "decision")) ||
            !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "reason")))
            return bad_record(err, c, "a decision while open");
    } else {
        if (!get_count(f, &c->closed) || c->closed == 0)
            return bad_record(err, c, "a bad closing time");
        if (!get_text(j, "decision", c->decision, sizeof c->decision, 0, 0) ||
            !is_name(c->decision))
            return bad_record(err, c, "a bad decision");
        if (!get_text(j, "reason", c->reason, sizeof c->reason, 1, 1))
            return bad_record(err, c, "a bad reason");
    }
    if (!get_count(cJSON_GetObjectItemCaseSensitive(j, "cseq"), &c->cseq) || c->cseq == 0)
        return bad_record(err, c, "a bad sequence number");
    return MRF_OK;
}

void changeset_answer_release(struct cs_answer *a)
{
    if (a == NULL)
        return;
    cJSON_Delete(a->doc);
    a->doc = NULL;
    a->ops = NULL;
    a->conflicts = NULL;
}

/* ---- HQ's audit head --------------------------------------------------------------------- */

#define AUDIT_HEAD_TAG "mrf-audit-head-v1"

/* The bytes HQ signs: tag | u64 seq big-endian | chain hash. */
static void audit_head_message(const struct audit_head *h, uint8_t *m, size_t *len)
{
    size_t n = sizeof AUDIT_HEAD_TAG - 1;
    uint64_t seq = (uint64_t)h->seq;

    memcpy(m, AUDIT_HEAD_TAG, n);
    for (int i = 7; i >= 0; i--)
        m[n++] = (uint8_t)(seq >> (8 * i));
    memcpy(m + n, h->hash, sizeof h->hash);
    *len = n + sizeof h->hash;
}

void audit_head_sign(struct audit_head *h, const uint8_t sign_sk[MRF_SIGN_SK])
{
    uint8_t m[sizeof AUDIT_HEAD_TAG + 8 + 32];
    size_t len;

    audit_head_message(h, m, &len);
    mrf_sign(h->sig, m, len, sign_sk);
}

enum mrf_status audit_head_verify(const struct audit_head *h, const uint8_t sign_pk[MRF_SIGN_PK])
{
    uint8_t m[sizeof AUDIT_HEAD_TAG + 8 + 32];
    size_t len;

    audit_head_message(h, m, &len);
    return mrf_verify(h->sig, m, len, sign_pk) == MRF_OK ? MRF_OK : MRF_E_AUTH;
}

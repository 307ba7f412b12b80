/* Fuzz target: the readers of change set JSON (sync/changeset.c), everything HQ and a device
 * read from a body once its envelope is open. The first byte of an input chooses the reader
 * for the rest:
 *   0  changeset_request_parse (HQ), then its ops with a changeset_reader of its version,
 *      request form;
 *   1  changeset_answer_parse (a device), then its ops the same way in the answer form, and
 *      changeset_conflict_parse on each conflict record;
 *   2  one op, request form;  3  one op, answer form (the per-op form of versions 1 and 2);
 *   4  sync_value_from_json for the column named by the next two bytes, then the fund's check
 *      of that value (sync_column_check, sealed fields' frames included);
 *   5  one conflict record;
 *   6  a version-3 ops list, request form;  7  the same, answer form.
 * Every op and record that is read is written back (op_to_json, changeset_writer_put,
 * changeset_put_conflict) and read again: it must come back the same, since what one side
 * writes the other must read. A list is read up to its first bad op, as HQ and a device do. */
#include <string.h>

#include "fuzzutil.h"

#define MODES 8

static const uint8_t sender[MRF_ID] = {0x5e, 0x4d, 0xe4};

/* 1 if a and b are the same op. */
static int op_same(const struct sync_op *a, const struct sync_op *b)
{
    if (a->tbl != b->tbl || memcmp(a->id, b->id, MRF_ID) != 0 || a->col != b->col ||
        a->clock != b->clock || memcmp(a->device, b->device, MRF_ID) != 0 ||
        a->prev_clock != b->prev_clock || a->has_prev_device != b->has_prev_device ||
        (a->has_prev_device && memcmp(a->prev_device, b->prev_device, MRF_ID) != 0))
        return 0;
    if (a->v.type != b->v.type || a->v.is_null != b->v.is_null)
        return 0;
    if (a->v.is_null)
        return 1;
    switch (a->v.type) {
    case SYNC_INT:
        return a->v.i == b->v.i;
    case SYNC_TEXT:
        return strcmp(a->v.text, b->v.text) == 0;
    case SYNC_BLOB:
        return a->v.n == b->v.n && (a->v.n == 0 || memcmp(a->v.blob, b->v.blob, a->v.n) == 0);
    }
    return 0;
}

/* Reads one op; if it is one, writes it and reads it again. */
static void op_round(const cJSON *j, int with_device)
{
    struct sync_op op, again;
    struct mrf_error err;
    struct buf b;
    cJSON *doc;

    if (op_from_json(j, with_device, sender, &op, &err) != MRF_OK) {
        if (op.owned != NULL)
            fuzz_die("op_from_json: failed but kept a blob");
        return;
    }
    buf_init(&b, WIRE_JSON_MAX);
    if (op_to_json(&op, with_device, &b) != MRF_OK)
        fuzz_die("op_to_json: cannot write an op that was read");
    doc = wire_json_parse(b.data, b.len);
    if (doc == NULL)
        fuzz_die("op_to_json: wrote JSON the reader refuses");
    if (op_from_json(doc, with_device, sender, &again, &err) != MRF_OK)
        fuzz_die("op_from_json: refuses an op op_to_json wrote");
    if (!op_same(&op, &again))
        fuzz_die("op_from_json(op_to_json(op)) is not op");
    sync_op_release(&again);
    cJSON_Delete(doc);
    buf_release(&b);
    sync_op_release(&op);
}

/* Reads the ops of a list in version's form up to the first that is not one, writes them
 * with a writer of that version, and reads them again: the same ops, as many. */
static void ops_round(const cJSON *list, int version, int with_device)
{
    struct cs_reader r;
    struct cs_writer w;
    struct sync_op *ops = NULL, again;
    struct mrf_error err;
    struct buf b;
    size_t n = 0, cap = 0;
    cJSON *doc;
    enum mrf_status st;

    changeset_reader_init(&r, list, version, with_device, sender);
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            ops = xrealloc(ops, cap * sizeof *ops);
        }
        st = changeset_reader_next(&r, &ops[n], &err);
        if (st != MRF_OK) {
            if (ops[n].owned != NULL)
                fuzz_die("changeset_reader_next: failed but kept a blob");
            break;
        }
        n++;
    }
    if (st == MRF_OK ||
        (st != MRF_E_NOTFOUND && changeset_reader_next(&r, &again, &err) != MRF_E_NOTFOUND))
        fuzz_die("changeset_reader_next: read past a bad op");
    buf_init(&b, WIRE_JSON_MAX);
    changeset_writer_init(&w, version, with_device);
    if (buf_puts(&b, "[") != MRF_OK)
        fuzz_die("cannot start a list");
    for (size_t i = 0; i < n; i++)
        if (changeset_writer_put(&w, &b, &ops[i]) != MRF_OK)
            fuzz_die("changeset_writer_put: cannot write an op that was read");
    if (buf_puts(&b, "]") != MRF_OK || w.n != (int64_t)n)
        fuzz_die("changeset_writer_put: lost an op");
    doc = wire_json_parse(b.data, b.len);
    if (doc == NULL)
        fuzz_die("changeset_writer_put: wrote JSON the reader refuses");
    if (changeset_ops_count(doc, version) != (int64_t)n)
        fuzz_die("changeset_ops_count: not the ops written");
    changeset_reader_init(&r, doc, version, with_device, sender);
    for (size_t i = 0; i < n; i++) {
        if (changeset_reader_next(&r, &again, &err) != MRF_OK)
            fuzz_die("changeset_reader_next: refuses an op changeset_writer_put wrote");
        if (!op_same(&ops[i], &again))
            fuzz_die("read(write(ops)) is not ops");
        sync_op_release(&again);
    }
    if (changeset_reader_next(&r, &again, &err) != MRF_E_NOTFOUND)
        fuzz_die("changeset_reader_next: more ops than were written");
    cJSON_Delete(doc);
    buf_release(&b);
    for (size_t i = 0; i < n; i++)
        sync_op_release(&ops[i]);
    x_free(ops);
}

/* Reads one record; if it is one, writes it and reads it again. */
static void record_round(const cJSON *j)
{
    struct cs_conflict c, again;
    struct mrf_error err;
    struct buf b;
    int64_t n = 0;
    cJSON *doc;

    if (changeset_conflict_parse(j, &c, &err) != MRF_OK)
        return;
    buf_init(&b, WIRE_JSON_MAX);
    if (changeset_put_conflict(&b, &n, &c) != MRF_OK || n != 1)
        fuzz_die("changeset_put_conflict: cannot write a record that was read");
    doc = wire_json_parse(b.data, b.len);
    if (doc == NULL || changeset_conflict_parse(doc, &again, &err) != MRF_OK)
        fuzz_die("changeset_conflict_parse: refuses a record changeset_put_conflict wrote");
    if (memcmp(&c, &again, sizeof c) != 0)
        fuzz_die("a conflict record does not come back the same");
    cJSON_Delete(doc);
    buf_release(&b);
}

static void request(const char *json, size_t len)
{
    struct cs_request r;
    struct mrf_error err;

    if (changeset_request_parse(json, len, &r, &err) == MRF_OK) {
        if (r.seen > r.cursor || r.cursor < 0 || r.ccursor < 0 || r.version < WIRE_VERSION_MIN ||
            r.version > WIRE_VERSION)
            fuzz_die("changeset_request_parse: a request outside its contract");
        ops_round(r.ops, r.version, 0);
    }
    changeset_request_release(&r);
}

static void answer(const char *json, size_t len)
{
    struct cs_answer a;
    struct mrf_error err;
    const cJSON *item;

    if (changeset_answer_parse(json, len, &a, &err) == MRF_OK) {
        if (a.conflicts != NULL && cJSON_GetArraySize(a.conflicts) > CS_CONFLICTS_PAGE)
            fuzz_die("changeset_answer_parse: more records than a page");
        if (a.version < WIRE_VERSION_ANSWER || a.version > WIRE_VERSION)
            fuzz_die("changeset_answer_parse: an answer outside its contract");
        ops_round(a.ops, a.version, 1);
        cJSON_ArrayForEach(item, a.conflicts)
            record_round(item);
    }
    changeset_answer_release(&a);
}

static void value(const uint8_t *data, size_t size)
{
    struct sync_op op;
    struct mrf_error err;
    char *json;
    enum sync_table t;
    int col;

    if (size < 2)
        return;
    t = (enum sync_table)(data[0] % ST_COUNT);
    col = data[1] % 12; /* past the widest table: unknown columns too */
    json = fuzz_cstr(data + 2, size - 2);
    if (sync_value_from_json(json, t, col, &op, &err) == MRF_OK)
        (void)sync_column_check(t, col, &op.v);
    sync_op_release(&op);
    x_free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data + 1;
    size_t len = size - 1;
    cJSON *doc = NULL;

    if (size < 1 || size > WIRE_JSON_MAX)
        return 0;
    switch (data[0] % MODES) {
    case 0:
        request(json, len);
        break;
    case 1:
        answer(json, len);
        break;
    case 2:
    case 3:
        doc = wire_json_parse(json, len);
        if (doc != NULL)
            op_round(doc, data[0] % MODES == 3);
        break;
    case 4:
        value(data + 1, size - 1);
        break;
    case 5:
        doc = wire_json_parse(json, len);
        if (doc != NULL)
            record_round(doc);
        break;
    case 6:
    case 7:
        doc = wire_json_parse(json, len);
        if (doc != NULL)
            ops_round(doc, 3, data[0] % MODES == 7);
        break;
    }
    cJSON_Delete(doc);
    return 0;
}

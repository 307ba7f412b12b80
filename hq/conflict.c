/* The conflict queue's detection (DESIGN section 5; docs/DECISIONS.md, "Conflicts"): run by
 * ingest inside the change set's transaction, and after HQ's own writes. It never blocks a
 * write and never drops a value: the merge applies as always, and a record keeps both sides.
 *
 *   value     a watched column written by two writers concurrently (the op's previous clock
 *             and writer differ from HQ's current ones) with different values; a post-year's
 *             theme set chosen by two writers concurrently, differently.
 *   parallel  the same, with equal values; or concurrent writes to other columns of one row
 *             (writes the sender had not pulled when it sent: after its cursor). Closed at
 *             once, for information.
 *   rule      the merged state of a post-year breaks a fund rule (more than two themes, a
 *             grant's theme not chosen, committed above the allocation, a live grant on a
 *             removed partner), a grant's status moved backwards, or a device's clock was more
 *             than a day ahead. Closes by itself, with the reason, when the rule holds again.
 * Records name rows by code only; values are kept as wire JSON and shown as people read them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"

#define MAX_YEARS 16

/* A row a change set wrote: which columns, and for a theme row its removal value. */
struct trow {
    enum sync_table t;
    uint8_t id[MRF_ID];
    uint32_t cols; /* bit per column written */
    int removed;   /* theme rows: the value the sender wrote, -1 if none */
    hlc_t clock;   /* the newest clock the sender wrote to it */
    int year;      /* its post-year (0: a partner, or not known) */
    int have_year;
    int existed; /* the row was there before the change set */
    int64_t rn;  /* its number then, 0 if it was not there */
};

/* A post-year whose theme set the change set touched, with the set as it was before. */
struct tyear {
    int year;
    char before[64]; /* live themes before the change set, e.g. "FOE WGR" */
};

struct hq_touch {
    char post[16];
    uint8_t device[MRF_ID];
    int64_t cursor; /* the sender's cursor in the post's sequence */
    int64_t nops;
    struct trow *rows;
    int nrows, cap;
    const struct hq_row_fact *facts; /* rows read before the change set (hq_rows_check) */
    int nfacts;
    int *slot;            /* open addressing over rows by (table, id): index + 1, 0 for empty */
    int nslots;           /* a power of two, at least twice nrows */
    int partners_removed; /* a partner's removal was written: check every year's grants */
    struct tyear tyears[MAX_YEARS];
    int ntyears;
};

struct hq_touch *hq_touch_new(const char *post, const uint8_t device[MRF_ID], int64_t cursor)
{
    struct hq_touch *t = xcalloc(1, sizeof *t);

    str_copy(t->post, post, sizeof t->post);
    memcpy(t->device, device, MRF_ID);
    t->cursor = cursor;
    return t;
}

void hq_touch_facts(struct hq_touch *t, const struct hq_row_fact *facts, int n)
{
    t->facts = facts;
    t->nfacts = n;
}

static int fact_cmp(const void *a, const void *b)
{
    const struct hq_row_fact *x = a, *y = b;

    if (x->tbl != y->tbl)
        return x->tbl < y->tbl ? -1 : 1;
    return memcmp(x->id, y->id, MRF_ID);
}

void hq_touch_free(struct hq_touch *t)
{
    if (t == NULL)
        return;
    x_free(t->rows);
    x_free(t->slot);
    x_free(t);
}

/* ---- values as people read them ---------------------------------------------------------- */

void hq_value_text(enum sync_table t, int col, const char *json, char *out, size_t n)
{
    const struct sync_column *c = sync_column_get(t, col);
    struct mrf_error err;
    struct sync_op op;
    char tmp[32];

    if (json == NULL || json[0] == '\0') {
        str_copy(out, "(none)", n);
        return;
    }
    if (c == NULL) { /* a theme set: a JSON string of codes */
        size_t len = strlen(json);
        if (len >= 2 && json[0] == '"') {
            snprintf(out, n, "%.*s", (int)(len - 2), json + 1);
            if (out[0] == '\0')
                str_copy(out, "(none)", n);
        } else {
            str_copy(out, json, n);
        }
        return;
    }
    if (sync_value_from_json(json, t, col, &op, &err) != MRF_OK) {
        str_copy(out, "?", n);
        return;
    }
    if (op.v.is_null)
        str_copy(out, "(none)", n);
    else if (c->kind == CK_MONEY) {
        money_format(op.v.i, tmp);
        str_copy(out, tmp, n);
    } else if (c->kind == CK_FLAG)
        str_copy(out, op.v.i ? "removed" : "kept", n);
    else if (c->kind == CK_REF && op.v.n == MRF_ID) {
        shortcode_make(sync_table_get(ST_PARTNERS)->code_prefix, op.v.blob, tmp);
        str_copy(out, tmp, n);
    } else if (c->type == SYNC_INT)
        snprintf(out, n, "%lld", (long long)op.v.i);
    else if (c->type == SYNC_TEXT)
        str_copy(out, op.v.text, n);
    else
        str_copy(out, "(sealed)", n);
    sync_op_release(&op);
}

void hq_conflict_public(const struct hq_conflict *c, struct cs_conflict *out)
{
    enum sync_table t = c->has_col ? c->tbl : ST_COUNT;
    int col = c->has_col ? c->col : -1;

    memset(out, 0, sizeof *out);
    str_copy(out->id, c->id, sizeof out->id);
    str_copy(out->kind, c->kind, sizeof out->kind);
    str_copy(out->rule, c->rule, sizeof out->rule);
    str_copy(out->rows, c->rows, sizeof out->rows);
    str_copy(out->detail, c->detail, sizeof out->detail);
    out->year = c->year;
    if (c->base[0] != '\0')
        hq_value_text(t, col, c->base, out->base, sizeof out->base);
    if (c->has_a)
        hq_value_text(t, col, c->a_value, out->a, sizeof out->a);
    if (c->has_b)
        hq_value_text(t, col, c->b_value, out->b, sizeof out->b);
    out->opened = c->opened_at;
    out->closed = c->closed_at;
    str_copy(out->decision, c->decision, sizeof out->decision);
    str_copy(out->reason, c->reason, sizeof out->reason);
    out->cseq = c->cseq;
}

/* Sets a record's one line for people; a line too long for the record is cut, never refused. */
__attribute__((format(printf, 2, 3))) static void detailf(struct hq_conflict *c, const char *fmt,
                                                          ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->detail, sizeof c->detail, fmt, ap);
    va_end(ap);
}

/* A record of post, kind and rule, everything else empty. */
static void rec_start(struct hq_conflict *c, const char *post, const char *kind, const char *rule)
{
    memset(c, 0, sizeof *c);
    str_copy(c->post, post, sizeof c->post);
    str_copy(c->kind, kind, sizeof c->kind);
    str_copy(c->rule, rule, sizeof c->rule);
}

/* ---- what a change set touched ----------------------------------------------------------- */

/* The first slot to look in for row (tbl, id): ids are random, so their first bytes hash. */
static unsigned slot_of(const struct hq_touch *t, enum sync_table tbl, const uint8_t id[MRF_ID])
{
    uint32_t h;

    memcpy(&h, id, sizeof h);
    return (h ^ (uint32_t)tbl * 0x9e3779b9u) & (unsigned)(t->nslots - 1);
}

/* Puts row index i into t's slots (there is room). */
static void slot_put(struct hq_touch *t, int i)
{
    unsigned k = slot_of(t, t->rows[i].t, t->rows[i].id);

    while (t->slot[k] != 0)
        k = (k + 1) & (unsigned)(t->nslots - 1);
    t->slot[k] = i + 1;
}

/* The row op writes, added on first sight. Found through a hash of (table, id), so a change
 * set of n rows costs n lookups, not n * n / 2 comparisons (8,000 rows: 32 million). */
static struct trow *touch_row(struct hq_touch *t, const struct sync_op *op)
{
    struct trow *r;

    if (t->nslots > 0)
        for (unsigned k = slot_of(t, op->tbl, op->id); t->slot[k] != 0;
             k = (k + 1) & (unsigned)(t->nslots - 1)) {
            r = &t->rows[t->slot[k] - 1];
            if (r->t == op->tbl && memcmp(r->id, op->id, MRF_ID) == 0)
                return r;
        }
    if (t->nrows == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->rows = xrealloc(t->rows, (size_t)t->cap * sizeof *t->rows);
    }
    r = &t->rows[t->nrows++];
    memset(r, 0, sizeof *r);
    r->t = op->tbl;
    memcpy(r->id, op->id, MRF_ID);
    r->removed = -1;
    if (2 * t->nrows > t->nslots) { /* grow and put every row back */
        x_free(t->slot);
        t->nslots = t->nslots ? 2 * t->nslots : 32;
        t->slot = xcalloc((size_t)t->nslots, sizeof *t->slot);
        for (int i = 0; i < t->nrows; i++)
            slot_put(t, i);
    } else {
        slot_put(t, t->nrows - 1);
    }
    return r;
}

/* The writer's id as people see it: the first 8 hex digits. */
static void who(const uint8_t device[MRF_ID], char out[17])
{
    char *hx = hex_encode(device, 8);
    str_copy(out, hx, 17);
    x_free(hx);
}

/* The live themes of (post, year) as "FOE WGR" (theme order), and their count. */
struct themes_acc {
    char text[64];
    int n;
};

static enum mrf_status themes_collect(void *arg, const uint8_t id[MRF_ID], const char *theme,
                                      int removed)
{
    struct themes_acc *a = arg;
    size_t len = strlen(a->text);

    (void)id;
    if (removed || theme[0] == '\0')
        return MRF_OK;
    snprintf(a->text + len, sizeof a->text - len, "%s%s", len ? " " : "", theme);
    a->n++;
    return MRF_OK;
}

static enum mrf_status live_themes(struct hqstore *s, const char *post, int year,
                                   struct themes_acc *a)
{
    memset(a, 0, sizeof *a);
    return hqstore_theme_rows(s, post, year, themes_collect, a);
}

/* ---- value and parallel records, op by op ------------------------------------------------ */

static enum mrf_status value_json(const struct sync_value *v, char *out, size_t n)
{
    struct buf b;
    enum mrf_status rc;

    buf_init(&b, n - 1);
    rc = sync_value_to_json(v, &b);
    str_copy(out, rc == MRF_OK && b.data ? b.data : "", n);
    buf_release(&b);
    return MRF_OK; /* a value too long to keep whole is kept empty, never cut */
}

/* Fills a value or parallel record for op's column against HQ's current write. */
static void column_record(struct hq_conflict *c, const char *post, const char *code,
                          const struct sync_op *op, hlc_t cur, const uint8_t cur_dev[MRF_ID])
{
    const struct sync_column *col = sync_column_get(op->tbl, op->col);

    memset(c, 0, sizeof *c);
    str_copy(c->post, post, sizeof c->post);
    snprintf(c->subject, sizeof c->subject, "%s %s", code, col->name);
    str_copy(c->rows, code, sizeof c->rows);
    c->has_col = 1;
    c->tbl = op->tbl;
    memcpy(c->row_id, op->id, MRF_ID);
    c->col = op->col;
    c->has_a = 1;
    memcpy(c->a_device, cur_dev, MRF_ID);
    c->a_clock = cur;
    c->has_b = 1;
    memcpy(c->b_device, op->device, MRF_ID);
    c->b_clock = op->clock;
}

/* Status rank for "moved backwards": cancelled counts as past committed. */
static int status_backwards(const char *from, const char *to)
{
    int f = grant_status_parse(from), t = grant_status_parse(to);

    return f >= 0 && t >= 0 && f != t &&
           !grant_status_can_move((enum grant_status)f, (enum grant_status)t);
}

/* A grant's status op that will win and moves it backwards: a rule record. */
static enum mrf_status check_status(struct hqstore *s, struct hq_touch *t, const struct sync_op *op,
                                    const char *code, const char *cur_json, int year, int64_t now)
{
    struct hq_conflict c, open;
    char from[32], to[32], a[17], b[17];
    int opened, found;
    enum mrf_status rc;

    if (op->v.is_null)
        return MRF_OK;
    hq_value_text(ST_GRANTS, GRANT_STATUS, cur_json, from, sizeof from);
    str_copy(to, op->v.text, sizeof to);
    if (!status_backwards(from, to))
        return MRF_OK;
    rec_start(&c, t->post, "rule", "status_backwards");
    snprintf(c.subject, sizeof c.subject, "%s status", code);
    str_copy(c.rows, code, sizeof c.rows);
    c.year = year;
    c.has_col = 1;
    c.tbl = ST_GRANTS;
    memcpy(c.row_id, op->id, MRF_ID);
    c.col = GRANT_STATUS;
    c.has_a = 1;
    str_copy(c.a_value, cur_json, sizeof c.a_value);
    c.has_b = 1;
    value_json(&op->v, c.b_value, sizeof c.b_value);
    memcpy(c.b_device, op->device, MRF_ID);
    c.b_clock = op->clock;
    who(op->device, b);
    (void)a;
    detailf(&c, "%s moved back from %s to %s (device %s); status only moves forward", code, from,
            to, b);
    /* moved back again while open: side A stays the status the grant had reached, which is
     * what still_fails measures the grant against */
    rc = hqstore_conflict_find_open(s, t->post, c.rule, c.subject, &open, &found);
    if (rc == MRF_OK && found)
        str_copy(c.a_value, open.a_value, sizeof c.a_value);
    return rc == MRF_OK ? hqstore_conflict_upsert(s, &c, now, &opened) : rc;
}

/* The row's short code: derived from its id, as the merge makes it. */
static void row_code(const struct trow *r, char code[16])
{
    const struct sync_table_desc *d = sync_table_get(r->t);

    if (d->code_prefix != NULL)
        shortcode_make(d->code_prefix, r->id, code);
    else
        code[0] = '\0';
}

enum mrf_status hq_conflict_before(struct hqstore *s, struct hq_touch *t, const struct sync_op *op,
                                   int64_t *rn)
{
    struct trow *r = touch_row(t, op);
    enum mrf_status rc;
    int year;

    *rn = 0;
    t->nops++;
    if (op->col < 32)
        r->cols |= 1u << op->col;
    if (hlc_cmp(op->clock, op->device, r->clock, op->device) > 0)
        r->clock = op->clock;
    if (op->tbl == ST_PARTNERS && op->col == PARTNER_REMOVED)
        t->partners_removed = 1;
    if (op->tbl == ST_THEMES && op->col == THEME_REMOVED && !op->v.is_null)
        r->removed = op->v.i != 0;

    /* once per row: whether it existed before the change set, and its post-year */
    if (!r->have_year) {
        struct hq_row_fact key = {.tbl = (int)op->tbl}, *f = NULL;
        memcpy(key.id, op->id, MRF_ID);
        if (t->nfacts > 0)
            f = bsearch(&key, t->facts, (size_t)t->nfacts, sizeof key, fact_cmp);
        if (f != NULL) { /* read by hq_rows_check, in the same transaction, before any write */
            r->year = f->year;
            r->existed = f->exists;
            r->rn = f->rn;
        } else {
            rc = hqstore_row_year(s, t->post, op->tbl, op->id, &r->year, &r->existed, &r->rn);
            if (rc != MRF_OK)
                return rc;
        }
        r->have_year = 1;
    }
    *rn = r->rn;
    if ((op->tbl == ST_THEMES && op->col == THEME_YEAR) ||
        (op->tbl == ST_GRANTS && op->col == GRANT_YEAR))
        r->year = op->v.is_null ? 0 : (int)op->v.i;
    year = r->year;
    if (op->tbl == ST_THEMES && year != 0) {
        /* the year's theme set before this change set changes it: once per year */
        int seen = 0;
        for (int i = 0; i < t->ntyears; i++)
            seen |= t->tyears[i].year == year;
        if (!seen && t->ntyears < MAX_YEARS) {
            struct themes_acc a;
            rc = live_themes(s, t->post, year, &a);
            if (rc != MRF_OK)
                return rc;
            t->tyears[t->ntyears].year = year;
            str_copy(t->tyears[t->ntyears].before, a.text, sizeof t->tyears[0].before);
            t->ntyears++;
        }
    }
    return MRF_OK;
}

enum mrf_status hq_conflict_op(struct hqstore *s, struct hq_touch *t, const struct sync_op *op,
                               const struct merge_prior *prior, int64_t now)
{
    const struct sync_column *col = sync_column_get(op->tbl, op->col);
    struct trow *r = touch_row(t, op);
    struct hq_conflict c;
    char code[16], cur_json[HQC_VALUE_MAX], new_json[HQC_VALUE_MAX];
    char va[48], vb[48], da[17], db[17];
    int found = 0, opened, concurrent, wins;
    enum mrf_status rc;

    if (col == NULL || !col->watched || op->tbl != ST_GRANTS || !prior->found)
        return MRF_OK; /* theme sets are compared as sets, after the change set */
    wins = hlc_cmp(op->clock, op->device, prior->clock, prior->device) > 0;
    concurrent = memcmp(prior->device, op->device, MRF_ID) != 0 &&
                 !(op->prev_clock == prior->clock && op->has_prev_device &&
                   memcmp(op->prev_device, prior->device, MRF_ID) == 0);
    if (!concurrent && !(op->col == GRANT_STATUS && wins))
        return MRF_OK; /* the common case: nothing more to read */
    row_code(r, code);
    rc = hqstore_write_value(s, t->post, op->tbl, op->id, op->col, prior->clock, prior->device,
                             cur_json, sizeof cur_json, &found);
    if (rc != MRF_OK)
        return rc;
    if (op->col == GRANT_STATUS && wins) {
        rc = check_status(s, t, op, code, cur_json, r->year, now);
        if (rc != MRF_OK)
            return rc;
    }
    if (!concurrent)
        return MRF_OK;
    column_record(&c, t->post, code, op, prior->clock, prior->device);
    c.year = r->year;
    str_copy(c.a_value, cur_json, sizeof c.a_value);
    value_json(&op->v, new_json, sizeof new_json);
    str_copy(c.b_value, new_json, sizeof c.b_value);
    if (op->prev_clock != 0 && op->has_prev_device) {
        rc = hqstore_write_value(s, t->post, op->tbl, op->id, op->col, op->prev_clock,
                                 op->prev_device, c.base, sizeof c.base, &found);
        if (rc != MRF_OK)
            return rc;
    }
    hq_value_text(op->tbl, op->col, c.a_value, va, sizeof va);
    hq_value_text(op->tbl, op->col, c.b_value, vb, sizeof vb);
    who(prior->device, da);
    who(op->device, db);
    if (strcmp(c.a_value, c.b_value) == 0) {
        str_copy(c.kind, "parallel", sizeof c.kind);
        str_copy(c.rule, "same_value", sizeof c.rule);
        str_copy(c.decision, "info", sizeof c.decision);
        c.closed_at = now;
        detailf(&c, "%s %s: devices %s and %s both wrote %s", code, col->name, da, db, va);
    } else {
        str_copy(c.kind, "value", sizeof c.kind);
        str_copy(c.rule, "concurrent_edit", sizeof c.rule);
        detailf(&c,
                "%s %s: %s (A, device %s) and %s (B, device %s) written concurrently; the merge "
                "keeps %s",
                code, col->name, va, da, vb, db, wins ? "B" : "A");
    }
    return hqstore_conflict_upsert(s, &c, now, &opened);
}

/* ---- after the change set: other columns, theme sets ------------------------------------- */

struct since {
    uint32_t cols; /* columns other writers wrote since the sender's cursor */
    uint8_t device[MRF_ID];
    hlc_t clock;
    int n;
};

static enum mrf_status since_collect(void *arg, const struct hq_write *w)
{
    struct since *a = arg;

    if (w->col < 32)
        a->cols |= 1u << w->col;
    memcpy(a->device, w->op->device, MRF_ID);
    a->clock = w->op->clock;
    a->n++;
    return MRF_OK;
}

/* Lists the names of the columns in mask into out. */
static void col_names(enum sync_table t, uint32_t mask, char *out, size_t n)
{
    const struct sync_table_desc *d = sync_table_get(t);
    size_t len;

    out[0] = '\0';
    for (int i = 0; i < d->ncols && i < 32; i++) {
        if (!(mask & (1u << i)))
            continue;
        len = strlen(out);
        snprintf(out + len, n - len, "%s%s", len ? ", " : "", d->cols[i].name);
    }
}

/* The most of a post's newest writes a change set makes HQ read for this: a sender claims
 * its cursor, and one that claims 0 behind 1M ops would make HQ read them all, for each of
 * its change sets. Older writes by others to the same rows are not itemised as other_columns
 * records (docs/DECISIONS.md, "What a sender had not seen, read once"). */
#define HQ_UNSEEN_WINDOW 100000

/* What others wrote to the rows a change set wrote, after the sender's cursor: one entry per
 * grant or partner row of the change set, sorted by its 17-byte key (table, id), filled by one
 * range read of the oplog (hqstore_writes_since). A query per row, each reading the oplog
 * after the cursor, cost rows x backlog: a device back from months offline editing 8,000
 * grants others had edited made HQ read its whole backlog 8,000 times. */
struct unseen_row {
    uint8_t k[1 + MRF_ID];
    struct since a;
};

struct unseen {
    int n;
    struct unseen_row *r;
};

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 1 + MRF_ID);
}

static struct unseen_row *unseen_find(const struct unseen *u, enum sync_table t,
                                      const uint8_t id[MRF_ID])
{
    uint8_t k[1 + MRF_ID];

    k[0] = (uint8_t)t;
    memcpy(k + 1, id, MRF_ID);
    return u->n > 0 ? bsearch(k, u->r, (size_t)u->n, sizeof *u->r, key_cmp) : NULL;
}

static enum mrf_status unseen_add(void *arg, enum sync_table t, const uint8_t id[MRF_ID], int col,
                                  hlc_t clock, const uint8_t device[MRF_ID])
{
    struct unseen_row *e = unseen_find(arg, t, id);

    if (e != NULL) {
        if (col >= 0 && col < 32)
            e->a.cols |= 1u << col;
        memcpy(e->a.device, device, MRF_ID); /* the last one, in the order HQ applied them */
        e->a.clock = clock;
        e->a.n++;
    }
    return MRF_OK;
}

/* Concurrent writes by others to other columns of a row the change set wrote. */
static enum mrf_status other_columns(struct hqstore *s, struct hq_touch *t, const struct trow *r,
                                     const struct since *a, int64_t now)
{
    struct hq_conflict c;
    char code[16], mine[96], theirs[96], da[17], db[17];
    int opened, year = 0;

    if (a->n == 0 || (a->cols & ~r->cols) == 0)
        return MRF_OK;
    row_code(r, code);
    year = r->year;
    col_names(r->t, r->cols, mine, sizeof mine);
    col_names(r->t, a->cols & ~r->cols, theirs, sizeof theirs);
    who(a->device, da);
    who(t->device, db);
    rec_start(&c, t->post, "parallel", "other_columns");
    snprintf(c.subject, sizeof c.subject, "%s", code);
    str_copy(c.rows, code, sizeof c.rows);
    c.year = year;
    c.has_a = 1;
    memcpy(c.a_device, a->device, MRF_ID);
    c.a_clock = a->clock;
    c.has_b = 1;
    memcpy(c.b_device, t->device, MRF_ID);
    c.b_clock = r->clock;
    str_copy(c.decision, "info", sizeof c.decision);
    c.closed_at = now;
    detailf(&c, "%s: device %s wrote %s while device %s wrote %s; both kept", code, db, mine, da,
            theirs);
    return hqstore_conflict_upsert(s, &c, now, &opened);
}

/* The theme rows of one post-year. */
struct trows {
    int n;
    struct {
        uint8_t id[MRF_ID];
        char theme[16];
        int removed;
    } r[16];
};

static enum mrf_status trows_collect(void *arg, const uint8_t id[MRF_ID], const char *theme,
                                     int removed)
{
    struct trows *a = arg;

    if (a->n < (int)(sizeof a->r / sizeof a->r[0])) {
        memcpy(a->r[a->n].id, id, MRF_ID);
        str_copy(a->r[a->n].theme, theme, sizeof a->r[0].theme);
        a->r[a->n].removed = removed;
        a->n++;
    }
    return MRF_OK;
}

static void set_add(char *set, size_t n, const char *theme)
{
    size_t len = strlen(set);

    snprintf(set + len, n - len, "%s%s", len ? " " : "", theme);
}

/* A theme row's removal as the sender saw it: its value at the sender's cursor (the base),
 * and the sender's own writes after the cursor. */
struct at_cursor {
    int64_t cursor;
    const uint8_t *device; /* the sender */
    int live;              /* -1: no write at or before the cursor */
    int own;               /* the sender's own last write after the cursor; -1: none */
};

static enum mrf_status at_cursor_collect(void *arg, const struct hq_write *w)
{
    struct at_cursor *a = arg;

    if (w->col != THEME_REMOVED || w->op->v.is_null)
        return MRF_OK;
    if (w->pseq <= a->cursor)
        a->live = w->op->v.i == 0;
    else if (memcmp(w->op->device, a->device, MRF_ID) == 0)
        a->own = w->op->v.i == 0;
    return MRF_OK;
}

/* A post-year's theme set chosen concurrently: the sender's set against the one HQ held. */
static enum mrf_status theme_set(struct hqstore *s, struct hq_touch *t, const struct tyear *ty,
                                 int64_t now)
{
    struct trows rows;
    struct since others;
    struct hq_conflict c;
    char chosen[64] = "", base[64] = "", da[17], db[17];
    hlc_t mine = 0;
    int opened;
    enum mrf_status rc;

    memset(&rows, 0, sizeof rows);
    memset(&others, 0, sizeof others);
    rc = hqstore_theme_rows(s, t->post, ty->year, trows_collect, &rows);
    for (int i = 0; rc == MRF_OK && i < rows.n; i++) {
        struct at_cursor ac = {t->cursor, t->device, -1, -1};
        int live;
        rc = hqstore_row_since(s, t->post, ST_THEMES, rows.r[i].id, t->cursor, t->device,
                               since_collect, &others);
        if (rc == MRF_OK)
            rc = hqstore_row_history(s, t->post, ST_THEMES, rows.r[i].id, at_cursor_collect, &ac);
        /* the sender's set: what it had pulled and wrote itself, not others' unseen writes */
        live = ac.own >= 0 ? ac.own : ac.live == 1;
        for (int k = 0; k < t->nrows; k++) {
            const struct trow *r = &t->rows[k];
            if (r->t == ST_THEMES && memcmp(r->id, rows.r[i].id, MRF_ID) == 0 && r->removed >= 0) {
                live = !r->removed;
                mine = hlc_max(mine, r->clock);
            }
        }
        if (live)
            set_add(chosen, sizeof chosen, rows.r[i].theme);
        if (ac.live == 1)
            set_add(base, sizeof base, rows.r[i].theme);
    }
    if (rc != MRF_OK || others.n == 0)
        return rc; /* nobody else chose this year's themes meanwhile */
    memset(&c, 0, sizeof c);
    str_copy(c.post, t->post, sizeof c.post);
    snprintf(c.subject, sizeof c.subject, "themes %d", ty->year);
    snprintf(c.rows, sizeof c.rows, "themes %d", ty->year);
    c.year = ty->year;
    snprintf(c.base, sizeof c.base, "\"%s\"", base);
    c.has_a = 1;
    snprintf(c.a_value, sizeof c.a_value, "\"%s\"", ty->before);
    memcpy(c.a_device, others.device, MRF_ID);
    c.a_clock = others.clock;
    c.has_b = 1;
    snprintf(c.b_value, sizeof c.b_value, "\"%s\"", chosen);
    memcpy(c.b_device, t->device, MRF_ID);
    c.b_clock = mine;
    who(others.device, da);
    who(t->device, db);
    if (strcmp(ty->before, chosen) == 0) {
        str_copy(c.kind, "parallel", sizeof c.kind);
        str_copy(c.rule, "same_value", sizeof c.rule);
        str_copy(c.decision, "info", sizeof c.decision);
        c.closed_at = now;
        detailf(&c, "themes %d: devices %s and %s both chose %s", ty->year, da, db,
                chosen[0] ? chosen : "none");
    } else {
        str_copy(c.kind, "value", sizeof c.kind);
        str_copy(c.rule, "theme_set", sizeof c.rule);
        detailf(&c, "themes %d: %s (A, device %s) and %s (B, device %s) chosen concurrently",
                ty->year, ty->before[0] ? ty->before : "none", da, chosen[0] ? chosen : "none", db);
    }
    return hqstore_conflict_upsert(s, &c, now, &opened);
}

/* ---- the fund rules on the merged state -------------------------------------------------- */

/* The rules, as bits of a mask: which a check looks at. */
enum {
    RB_THEMES = 1,          /* themes_over_two (a post-year) */
    RB_NOT_CHOSEN = 2,      /* theme_not_chosen (a grant) */
    RB_REMOVED_PARTNER = 4, /* removed_partner (a grant) */
    RB_ALLOCATION = 8,      /* over_allocation (a post-year and currency) */
    RB_STATUS = 16,         /* status_backwards (a grant): re-checked, never found by scan */
    RB_ALL = 31
};
static const struct {
    int bit;
    const char *rule;
} rule_bits[] = {{RB_THEMES, "themes_over_two"},
                 {RB_NOT_CHOSEN, "theme_not_chosen"},
                 {RB_REMOVED_PARTNER, "removed_partner"},
                 {RB_ALLOCATION, "over_allocation"},
                 {RB_STATUS, "status_backwards"}};

/* The violations found, to compare with the open records. */
struct found {
    int n, cap;
    struct hq_conflict *v;
};

static struct hq_conflict *found_add(struct found *f, const char *post, const char *rule, int year)
{
    struct hq_conflict *c;

    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 8;
        f->v = xrealloc(f->v, (size_t)f->cap * sizeof *f->v);
    }
    c = &f->v[f->n++];
    rec_start(c, post, "rule", rule);
    c->year = year;
    return c;
}

struct rule_ctx {
    struct found *f;
    const char *post;
};

static enum mrf_status not_chosen_fn(void *arg, const struct hq_rule_row *r)
{
    struct rule_ctx *x = arg;
    struct hq_conflict *c = found_add(x->f, x->post, "theme_not_chosen", r->year);

    snprintf(c->subject, sizeof c->subject, "%s theme", r->code);
    str_copy(c->rows, r->code, sizeof c->rows);
    detailf(c, "%s has theme %s, not one of the post's themes for %d", r->code,
            r->other[0] ? r->other : "(none)", r->year);
    return MRF_OK;
}

static enum mrf_status removed_partner_fn(void *arg, const struct hq_rule_row *r)
{
    struct rule_ctx *x = arg;
    struct hq_conflict *c = found_add(x->f, x->post, "removed_partner", r->year);

    snprintf(c->subject, sizeof c->subject, "%s partner", r->code);
    snprintf(c->rows, sizeof c->rows, "%s %s", r->code, r->other);
    detailf(c, "%s is live but its partner %s was removed", r->code, r->other);
    return MRF_OK;
}

static enum mrf_status allocation_fn(void *arg, const struct hq_rule_row *r)
{
    struct rule_ctx *x = arg;
    struct hq_conflict *c;
    char a[32], m[32];

    if (r->committed <= r->allocation)
        return MRF_OK;
    c = found_add(x->f, x->post, "over_allocation", r->year);
    snprintf(c->subject, sizeof c->subject, "allocation %d %s", r->year, r->currency);
    snprintf(c->rows, sizeof c->rows, "allocation %d", r->year);
    money_format(r->committed, m);
    money_format(r->allocation, a);
    detailf(c, "committed %s %s in %d, above the allocation of %s %s", m, r->currency, r->year, a,
            r->currency);
    return MRF_OK;
}

/* The violations of the rules in mask for (post, year; every year if 0), or for one grant. */
static enum mrf_status find_violations(struct hqstore *s, const char *post, int year, int mask,
                                       const uint8_t *grant, struct found *f)
{
    struct rule_ctx x = {f, post};
    struct themes_acc a;
    enum mrf_status rc = MRF_OK;

    if ((mask & RB_THEMES) && year != 0) {
        rc = live_themes(s, post, year, &a);
        if (rc == MRF_OK && a.n > 2) {
            struct hq_conflict *c = found_add(f, post, "themes_over_two", year);
            snprintf(c->subject, sizeof c->subject, "themes %d", year);
            snprintf(c->rows, sizeof c->rows, "themes %d: %s", year, a.text);
            detailf(c, "%d themes chosen for %d (%s); a post chooses at most two", a.n, year,
                    a.text);
        }
    }
    if (rc == MRF_OK && (mask & RB_NOT_CHOSEN))
        rc = hqstore_rule_scan(s, HQRULE_NOT_CHOSEN, post, year, grant, not_chosen_fn, &x);
    if (rc == MRF_OK && (mask & RB_REMOVED_PARTNER))
        rc =
            hqstore_rule_scan(s, HQRULE_REMOVED_PARTNER, post, year, grant, removed_partner_fn, &x);
    if (rc == MRF_OK && (mask & RB_ALLOCATION) && grant == NULL)
        rc = hqstore_rule_scan(s, HQRULE_ALLOCATION, post, year, NULL, allocation_fn, &x);
    return rc;
}

/* Open records, collected. */
struct open_list {
    int n, cap;
    struct hq_conflict *v;
};

static enum mrf_status open_collect(void *arg, const struct hq_conflict *c)
{
    struct open_list *l = arg;

    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->v = xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
    }
    l->v[l->n++] = *c;
    return MRF_OK;
}

/* Why a rule that was broken holds again, for the record's reason. */
static const char *holds_again(const char *rule)
{
    if (strcmp(rule, "themes_over_two") == 0)
        return "the rule holds again: the year has at most two themes";
    if (strcmp(rule, "theme_not_chosen") == 0)
        return "the rule holds again: the grant's theme is one of the year's themes, or the "
               "grant is no longer live";
    if (strcmp(rule, "over_allocation") == 0)
        return "the rule holds again: committed is within the allocation";
    if (strcmp(rule, "removed_partner") == 0)
        return "the rule holds again: the grant is no longer live or its partner is back";
    if (strcmp(rule, "status_backwards") == 0)
        return "the rule holds again: the status is back where it had been or further";
    return "the rule holds again: the device's clock is within a day of HQ's";
}

/* Orders records by rule, then subject: violations and open records are matched by merging
 * the two sorted lists, so a post-year with thousands of broken rows costs n log n. */
static int by_rule_subject(const void *x, const void *y)
{
    const struct hq_conflict *a = x, *b = y;
    int c = strcmp(a->rule, b->rule);

    return c != 0 ? c : strcmp(a->subject, b->subject);
}

/* Whether an open record no violation names still fails: only a status can, by the grant's
 * status now against the one it had reached. */
static enum mrf_status still_fails(struct hqstore *s, const char *post, const struct hq_conflict *c,
                                   int *still)
{
    char status[16], high[32];
    enum mrf_status rc = MRF_OK;

    *still = 0;
    if (strcmp(c->rule, "status_backwards") == 0) {
        rc = hqstore_grant_status(s, post, c->rows, status);
        hq_value_text(ST_GRANTS, GRANT_STATUS, c->a_value, high, sizeof high);
        *still = status[0] != '\0' && status_backwards(high, status);
    }
    return rc;
}

/* Whether HQ accepted this very violation already: the record of its rule and subject closed
 * last was decided --accept and says the same (rows and detail). Accepting a rule record keeps
 * the state as it stands; the same state must not open the record again the next time the
 * rule is checked. A change (another theme, a larger sum) is new and opens a record. */
static enum mrf_status accepted_as_is(struct hqstore *s, const struct hq_conflict *v, int *accepted)
{
    struct hq_conflict *last = xcalloc(1, sizeof *last);
    int found;
    enum mrf_status rc =
        hqstore_conflict_last_closed(s, v->post, v->rule, v->subject, last, &found);

    *accepted = rc == MRF_OK && found && strcmp(last->decision, "accept") == 0 &&
                strcmp(last->rows, v->rows) == 0 && strcmp(last->detail, v->detail) == 0;
    x_free(last);
    return rc;
}

/* Opens, updates and closes the records of the rules in mask, given the violations f found
 * and the open records of the same scope: both lists are sorted here. */
static enum mrf_status reconcile(struct hqstore *s, const char *post, struct found *f,
                                 struct open_list *open, int64_t now)
{
    enum mrf_status rc = MRF_OK;
    int i = 0, k = 0, opened, still, accepted;

    if (f->n > 1)
        qsort(f->v, (size_t)f->n, sizeof *f->v, by_rule_subject);
    if (open->n > 1)
        qsort(open->v, (size_t)open->n, sizeof *open->v, by_rule_subject);
    while (rc == MRF_OK && (i < f->n || k < open->n)) {
        int c = i == f->n ? 1 : k == open->n ? -1 : by_rule_subject(&f->v[i], &open->v[k]);
        if (c < 0) { /* broken, no record open */
            rc = accepted_as_is(s, &f->v[i], &accepted);
            if (rc == MRF_OK && !accepted)
                rc = hqstore_conflict_upsert(s, &f->v[i], now, &opened);
            i++;
        } else if (c > 0) { /* a record no violation names */
            rc = still_fails(s, post, &open->v[k], &still);
            if (rc == MRF_OK && !still)
                rc = hqstore_conflict_close(s, open->v[k].id, "auto", holds_again(open->v[k].rule),
                                            "", now);
            k++;
        } else { /* still broken: update the record if what it says changed */
            if (strcmp(open->v[k].rows, f->v[i].rows) != 0 ||
                strcmp(open->v[k].detail, f->v[i].detail) != 0)
                rc = hqstore_conflict_upsert(s, &f->v[i], now, &opened);
            i++;
            k++;
        }
    }
    return rc;
}

/* Checks the rules in mask for (post, year; every year if 0). */
static enum mrf_status check_rules(struct hqstore *s, const char *post, int year, int mask,
                                   int64_t now)
{
    struct found f = {0, 0, NULL};
    struct open_list open = {0, 0, NULL};
    enum mrf_status rc = find_violations(s, post, year, mask, NULL, &f);

    for (size_t b = 0; rc == MRF_OK && b < sizeof rule_bits / sizeof rule_bits[0]; b++)
        if (mask & rule_bits[b].bit)
            rc = hqstore_conflict_open_rules(s, post, rule_bits[b].rule, year, open_collect, &open);
    if (rc == MRF_OK)
        rc = reconcile(s, post, &f, &open, now);
    x_free(f.v);
    x_free(open.v);
    return rc;
}

/* Checks the grant rules in mask for one grant the change set wrote: its own records only,
 * found by subject, so the cost does not grow with the post's other grants. */
static enum mrf_status check_grant(struct hqstore *s, struct hq_touch *t, struct trow *r, int mask,
                                   int64_t now)
{
    static const char *const suffix[] = {"theme", "partner", "status"};
    static const char *const rules[] = {"theme_not_chosen", "removed_partner", "status_backwards"};
    static const int bits[] = {RB_NOT_CHOSEN, RB_REMOVED_PARTNER, RB_STATUS};
    struct found f = {0, 0, NULL};
    struct open_list open = {0, 0, NULL};
    struct hq_conflict c;
    char code[16], subject[64];
    int found;
    enum mrf_status rc;

    row_code(r, code);
    rc = find_violations(s, t->post, 0, mask & (RB_NOT_CHOSEN | RB_REMOVED_PARTNER), r->id, &f);
    /* a grant this change set created has no record yet */
    for (int b = 0; rc == MRF_OK && r->existed && b < 3; b++) {
        if (!(mask & bits[b]))
            continue;
        snprintf(subject, sizeof subject, "%s %s", code, suffix[b]);
        rc = hqstore_conflict_find_open(s, t->post, rules[b], subject, &c, &found);
        if (rc == MRF_OK && found)
            rc = open_collect(&open, &c);
    }
    if (rc == MRF_OK)
        rc = reconcile(s, t->post, &f, &open, now);
    x_free(f.v);
    x_free(open.v);
    return rc;
}

/* A device whose clock was more than a day ahead: a rule record, updated per change set, and
 * closed by its first change set with every clock within the bound. */
static enum mrf_status check_clock(struct hqstore *s, struct hq_touch *t, const struct hq_skew *k,
                                   int64_t now)
{
    struct open_list open = {0, 0, NULL};
    struct hq_conflict c;
    char dev[17], subject[64];
    int opened;
    enum mrf_status rc;

    who(t->device, dev);
    snprintf(subject, sizeof subject, "device %s", dev);
    if (k == NULL) {
        if (t->nops == 0)
            return MRF_OK;
        rc = hqstore_conflict_open_rules(s, t->post, "clock_ahead", 0, open_collect, &open);
        for (int i = 0; rc == MRF_OK && i < open.n; i++)
            if (strcmp(open.v[i].subject, subject) == 0)
                rc = hqstore_conflict_close(s, open.v[i].id, "auto", holds_again("clock_ahead"), "",
                                            now);
        x_free(open.v);
        return rc;
    }
    rec_start(&c, t->post, "rule", "clock_ahead");
    str_copy(c.subject, subject, sizeof c.subject);
    snprintf(c.rows, sizeof c.rows, "device %s", dev);
    c.has_b = 1;
    memcpy(c.b_device, t->device, MRF_ID);
    c.b_clock = k->max_clock;
    detailf(&c,
            "device %s sent %lld op(s) with clocks about %llu day(s) ahead of HQ; HQ applied "
            "them at its own clock (set the laptop's date right)",
            dev, (long long)k->ops,
            (unsigned long long)((hlc_ms(k->max_clock) > (uint64_t)now * 1000u
                                      ? hlc_ms(k->max_clock) - (uint64_t)now * 1000u
                                      : 0) /
                                 86400000u));
    return hqstore_conflict_upsert(s, &c, now, &opened);
}

enum mrf_status hq_conflict_after(struct hqstore *s, struct hq_touch *t, const struct hq_skew *skew,
                                  int64_t now)
{
    int years[MAX_YEARS], nyears = 0, every = 0;
    enum mrf_status rc = MRF_OK;

    struct unseen u = {0, NULL};

    /* only the rows this change set wrote are looked for: a pull writes none, and must not
     * read everything the device has not seen yet (a fresh device's every page would) */
    u.r = t->nrows > 0 ? xcalloc((size_t)t->nrows, sizeof *u.r) : NULL;
    for (int i = 0; i < t->nrows; i++)
        if (t->rows[i].t == ST_GRANTS || t->rows[i].t == ST_PARTNERS) {
            u.r[u.n].k[0] = (uint8_t)t->rows[i].t;
            memcpy(u.r[u.n].k + 1, t->rows[i].id, MRF_ID);
            u.n++;
        }
    if (u.n > 1)
        qsort(u.r, (size_t)u.n, sizeof *u.r, key_cmp);
    if (u.n > 0)
        rc = hqstore_writes_since(s, t->post, t->cursor, HQ_UNSEEN_WINDOW, t->device, unseen_add,
                                  &u);
    for (int i = 0; rc == MRF_OK && i < t->nrows; i++) {
        const struct unseen_row *e = unseen_find(&u, t->rows[i].t, t->rows[i].id);
        if (e != NULL)
            rc = other_columns(s, t, &t->rows[i], &e->a, now);
    }
    x_free(u.r);
    for (int i = 0; rc == MRF_OK && i < t->ntyears; i++)
        rc = theme_set(s, t, &t->tyears[i], now);
    /* post-years: themes and allocation; a year whose themes changed: all its grants */
    for (int i = 0; i < t->nrows; i++) {
        int seen = 0, y = t->rows[i].year;
        if (t->rows[i].t == ST_PARTNERS || y == 0)
            continue;
        for (int k = 0; k < nyears; k++)
            seen |= years[k] == y;
        if (!seen && nyears < MAX_YEARS)
            years[nyears++] = y;
        else if (!seen)
            every = 1;
    }
    if (every)
        rc = rc == MRF_OK ? check_rules(s, t->post, 0, RB_ALL, now) : rc;
    for (int k = 0; rc == MRF_OK && !every && k < nyears; k++) {
        int themes = 0;
        for (int i = 0; i < t->ntyears; i++)
            themes |= t->tyears[i].year == years[k];
        rc = check_rules(s, t->post, years[k],
                         RB_ALLOCATION | (themes ? RB_THEMES | RB_NOT_CHOSEN : 0), now);
    }
    if (rc == MRF_OK && !every && t->partners_removed)
        rc = check_rules(s, t->post, 0, RB_REMOVED_PARTNER, now);
    for (int i = 0; rc == MRF_OK && !every && i < t->nrows; i++) {
        struct trow *r = &t->rows[i];
        /* only what the columns written can change: an amount alone changes none of these */
        int mask = 0;
        if (r->cols & (1u << GRANT_STATUS))
            mask |= RB_STATUS;
        if (r->cols &
            (1u << GRANT_THEME | 1u << GRANT_YEAR | 1u << GRANT_REMOVED | 1u << GRANT_STATUS))
            mask |= RB_NOT_CHOSEN;
        if (!t->partners_removed &&
            (r->cols & (1u << GRANT_PARTNER | 1u << GRANT_REMOVED | 1u << GRANT_STATUS)))
            mask |= RB_REMOVED_PARTNER;
        if (r->t != ST_GRANTS || mask == 0)
            continue;
        for (int k = 0; k < t->ntyears; k++)
            if (t->tyears[k].year == r->year)
                mask &= ~RB_NOT_CHOSEN; /* its year was checked whole */
        rc = check_grant(s, t, r, mask, now);
    }
    if (rc == MRF_OK)
        rc = check_clock(s, t, skew, now);
    return rc;
}

enum mrf_status hq_conflict_recheck(struct hqstore *s, const char *post, int year, int64_t now)
{
    return check_rules(s, post, year, RB_ALL, now);
}

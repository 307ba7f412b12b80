/* The HQ store's audit area: the hash chain (audit) and what each link is (audit_entries),
 * both append-only by triggers; the sealed values `mrf-hq reveal` opens (a partner's identity
 * fields, a post's country), handed out as the opaque blobs they are; and the comparison of
 * the domain tables of two stores, row by row, that `mrf-hq audit verify` ends its replay
 * with. The statements live in stmt_sql[] beside their enum and are prepared through
 * hqs_stmt into this area's slots of the handle (hqstore_db.h). */
#include <string.h>

#include <sqlite3.h>

#include "hqstore_db.h"

enum audit_stmt {
    AS_LAST,
    AS_PUT_LINK,
    AS_PUT_ENTRY,
    AS_SCAN,
    AS_ORPHAN,
    AS_PARTNER_SEALED,
    AS_POST_COUNTRY,
    AS_CMP_THEMES,
    AS_CMP_PARTNERS,
    AS_CMP_GRANTS,
    AS_CMP_ALLOCATIONS,
    AS_CMP_CLOCKS,
    AS_COUNT
};

/* The domain tables in a fixed row order, key columns first: what a replay must reproduce. */
#define CMP_ROW_KEY "post, id"
static const char *const stmt_sql[AS_COUNT] = {
    [AS_LAST] = "SELECT seq, chain_hash FROM audit ORDER BY seq DESC LIMIT 1",
    [AS_PUT_LINK] = "INSERT INTO audit (seq, envelope_hash, prev_hash, chain_hash, at)"
                    " VALUES (?1, ?2, ?3, ?4, ?5)",
    [AS_PUT_ENTRY] = "INSERT INTO audit_entries (seq, kind, post, meta, body, sig)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [AS_SCAN] = "SELECT a.seq, a.at, a.envelope_hash, a.prev_hash, a.chain_hash,"
                " e.seq IS NOT NULL, e.kind, e.post, e.meta, e.body, e.sig"
                " FROM audit a LEFT JOIN audit_entries e ON e.seq = a.seq"
                " WHERE a.seq > ?1 ORDER BY a.seq",
    [AS_ORPHAN] = "SELECT coalesce(min(seq), 0) FROM audit_entries"
                  " WHERE seq NOT IN (SELECT seq FROM audit)",
    /* the sealed columns in the order of enum partner_col, PARTNER_NAME .. PARTNER_NOTE */
    [AS_PARTNER_SEALED] = "SELECT id, name, contact, phone, email, address, bank, note"
                          " FROM partners WHERE post = ?1 AND code = ?2 LIMIT 2",
    [AS_POST_COUNTRY] = "SELECT country FROM posts WHERE code = ?1",
    /* the values by name: the rows' clocks (HQ store version 10) are compared through the
     * view clocks, by writer id, since each store numbers its writers as it meets them */
    [AS_CMP_THEMES] =
        "SELECT " CMP_ROW_KEY ", year, theme, removed FROM themes ORDER BY " CMP_ROW_KEY,
    [AS_CMP_PARTNERS] = "SELECT " CMP_ROW_KEY ", code, name, contact, phone, email, address, "
                        "bank, note, risk, removed FROM partners ORDER BY " CMP_ROW_KEY,
    [AS_CMP_GRANTS] =
        "SELECT " CMP_ROW_KEY ", code, partner, theme, year, amount_cents, "
        "currency, status, start_date, end_date, note, removed FROM grants ORDER BY " CMP_ROW_KEY,
    [AS_CMP_ALLOCATIONS] = "SELECT " CMP_ROW_KEY ", year, amount_cents, currency FROM "
                           "allocations ORDER BY " CMP_ROW_KEY,
    [AS_CMP_CLOCKS] = "SELECT post, id, tbl, col, clock, device FROM clocks"
                      " ORDER BY post, id, tbl, col",
};

_Static_assert(AS_COUNT <= HQS_AREA_SLOTS, "the audit area has HQS_AREA_SLOTS statements");

static sqlite3_stmt *stmt_get(struct hqstore *s, enum audit_stmt i)
{
    return hqs_stmt(s, HQS_AREA_AUDIT, (int)i, stmt_sql[i]);
}

/* ---- the chain --------------------------------------------------------------------------- */

enum mrf_status hqstore_audit_last(struct hqstore *s, int64_t *seq, uint8_t hash[32])
{
    sqlite3_stmt *st = stmt_get(s, AS_LAST);
    enum mrf_status rc = MRF_OK;
    int r;

    *seq = 0;
    memset(hash, 0, 32);
    if (st == NULL)
        return MRF_E_IO;
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        if (!hqs_column_blob(st, 1, hash, 32))
            rc = mrf_error_set(&s->err, MRF_E_INVALID,
                               "HQ store: the audit chain is damaged at entry %lld; run mrf-hq "
                               "audit verify",
                               (long long)*seq);
    } else if (r != SQLITE_DONE) {
        rc = hqs_fail(s, "reading the audit chain");
    }
    sqlite3_reset(st);
    if (rc != MRF_OK) {
        *seq = 0;
        memset(hash, 0, 32);
    }
    return rc;
}

enum mrf_status hqstore_audit_put(struct hqstore *s, const struct hq_audit_entry *e)
{
    sqlite3_stmt *st;

    if (!s->in_tx)
        return mrf_error_set(&s->err, MRF_E_STATE,
                             "HQ store: an audit entry is appended inside a transaction");
    st = stmt_get(s, AS_PUT_LINK);
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_int64(st, 1, e->seq);
    sqlite3_bind_blob(st, 2, e->envelope_hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, e->prev_hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, e->chain_hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, e->at);
    if (hqs_step_once(st) != SQLITE_DONE)
        return hqs_fail(s, "appending to the audit chain");
    st = stmt_get(s, AS_PUT_ENTRY);
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_int64(st, 1, e->seq);
    sqlite3_bind_text(st, 2, e->kind, -1, SQLITE_STATIC);
    if (e->post[0] != '\0')
        sqlite3_bind_text(st, 3, e->post, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, e->meta != NULL ? e->meta : "{}", -1, SQLITE_STATIC);
    /* a zero-length blob binds as "" rather than NULL when given a non-NULL pointer */
    sqlite3_bind_blob64(st, 5, e->body != NULL ? (const void *)e->body : (const void *)"",
                        e->body_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, e->sig, 64, SQLITE_STATIC);
    if (hqs_step_once(st) != SQLITE_DONE)
        return hqs_fail(s, "storing an audit entry");
    return MRF_OK;
}

/* Reads the row st is on. A hash or signature of the wrong size is left zero: the checks of
 * `audit verify` then name the entry. */
static void scan_row(sqlite3_stmt *st, struct hq_audit_entry *e)
{
    const unsigned char *meta;

    memset(e, 0, sizeof *e);
    e->seq = sqlite3_column_int64(st, 0);
    e->at = sqlite3_column_int64(st, 1);
    (void)hqs_column_blob(st, 2, e->envelope_hash, 32);
    (void)hqs_column_blob(st, 3, e->prev_hash, 32);
    (void)hqs_column_blob(st, 4, e->chain_hash, 32);
    e->has_body = sqlite3_column_int(st, 5) != 0;
    if (!e->has_body) {
        e->meta = "";
        return;
    }
    hqs_column_text(st, 6, e->kind, sizeof e->kind);
    hqs_column_text(st, 7, e->post, sizeof e->post);
    meta = sqlite3_column_text(st, 8);
    e->meta = meta != NULL ? (const char *)meta : "";
    e->body = sqlite3_column_blob(st, 9);
    e->body_len = (size_t)sqlite3_column_bytes(st, 9);
    (void)hqs_column_blob(st, 10, e->sig, 64);
}

enum mrf_status hqstore_audit_scan(struct hqstore *s, int64_t after, hqstore_audit_fn fn, void *arg)
{
    sqlite3_stmt *st = stmt_get(s, AS_SCAN);
    struct hq_audit_entry e;
    enum mrf_status rc = MRF_OK;
    int r;

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_int64(st, 1, after);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        scan_row(st, &e);
        rc = fn(arg, &e);
        if (rc != MRF_OK)
            goto out;
    }
    if (r != SQLITE_DONE)
        rc = hqs_fail(s, "reading the audit chain");
out:
    sqlite3_reset(st);
    return rc;
}

enum mrf_status hqstore_audit_orphan(struct hqstore *s, int64_t *seq)
{
    sqlite3_stmt *st = stmt_get(s, AS_ORPHAN);
    int r;

    *seq = 0;
    if (st == NULL)
        return MRF_E_IO;
    r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *seq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return r == SQLITE_ROW ? MRF_OK : hqs_fail(s, "reading the audit entries");
}

/* ---- sealed values for reveal ------------------------------------------------------------ */

enum mrf_status hqstore_partner_sealed(struct hqstore *s, const char *post, const char *code,
                                       uint8_t id[MRF_ID], hqstore_sealed_fn fn, void *arg)
{
    sqlite3_stmt *st = stmt_get(s, AS_PARTNER_SEALED);
    enum mrf_status rc = MRF_OK;
    int r;

    memset(id, 0, MRF_ID);
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, code, -1, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        rc = mrf_error_set(&s->err, MRF_E_NOTFOUND, "post %s has no partner %s", post, code);
        goto out;
    }
    if (r != SQLITE_ROW) {
        rc = hqs_fail(s, "reading a partner");
        goto out;
    }
    if (!hqs_column_blob(st, 0, id, MRF_ID)) {
        rc = mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: partner %s of %s is damaged", code,
                           post);
        goto out;
    }
    for (int col = PARTNER_NAME; col <= PARTNER_NOTE && rc == MRF_OK; col++) {
        if (sqlite3_column_type(st, 1 + col) == SQLITE_NULL)
            continue;
        rc = fn(arg, col, sqlite3_column_blob(st, 1 + col),
                (size_t)sqlite3_column_bytes(st, 1 + col));
    }
    if (rc == MRF_OK && sqlite3_step(st) == SQLITE_ROW)
        rc = mrf_error_set(&s->err, MRF_E_RULE,
                           "post %s has two partners with code %s (codes are short); nothing "
                           "was revealed",
                           post, code);
out:
    sqlite3_reset(st);
    if (rc != MRF_OK)
        memset(id, 0, MRF_ID);
    return rc;
}

enum mrf_status hqstore_post_country(struct hqstore *s, const char *code, uint8_t **blob, size_t *n)
{
    sqlite3_stmt *st = stmt_get(s, AS_POST_COUNTRY);
    enum mrf_status rc = MRF_OK;
    int r;

    *blob = NULL;
    *n = 0;
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_DONE)
        rc = mrf_error_set(&s->err, MRF_E_NOTFOUND, "no post %s; see mrf-hq post list", code);
    else if (r != SQLITE_ROW)
        rc = hqs_fail(s, "reading a post");
    else if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *n = (size_t)sqlite3_column_bytes(st, 0);
        *blob = xmalloc(*n + 1);
        memcpy(*blob, sqlite3_column_blob(st, 0), *n);
    }
    sqlite3_reset(st);
    return rc;
}

/* ---- comparing the domain tables of two stores ------------------------------------------- */

struct cmp_table {
    enum audit_stmt stmt;
    const char *name;
    int nkey; /* leading key columns, in ORDER BY order */
};

static const struct cmp_table cmp_tables[] = {
    {AS_CMP_THEMES, "themes", 2}, {AS_CMP_PARTNERS, "partners", 2},
    {AS_CMP_GRANTS, "grants", 2}, {AS_CMP_ALLOCATIONS, "allocations", 2},
    {AS_CMP_CLOCKS, "clocks", 4},
};

/* SQLite's order of storage classes: NULL, numbers, text, blobs. */
static int type_rank(int type)
{
    switch (type) {
    case SQLITE_NULL:
        return 0;
    case SQLITE_INTEGER:
    case SQLITE_FLOAT:
        return 1;
    case SQLITE_TEXT:
        return 2;
    default:
        return 3;
    }
}

/* Orders column c of a's row against b's as ORDER BY does (BINARY collation); a column of
 * another storage class, or a float against an integer of the same value, differs too. */
static int value_cmp(sqlite3_stmt *a, sqlite3_stmt *b, int c)
{
    int ta = sqlite3_column_type(a, c), tb = sqlite3_column_type(b, c);
    int d = type_rank(ta) - type_rank(tb);
    const void *pa, *pb;
    int na, nb;

    if (d != 0)
        return d;
    switch (ta) {
    case SQLITE_NULL:
        return 0;
    case SQLITE_INTEGER:
    case SQLITE_FLOAT:
        if (ta != tb)
            return ta < tb ? -1 : 1;
        if (ta == SQLITE_INTEGER) {
            sqlite3_int64 x = sqlite3_column_int64(a, c), y = sqlite3_column_int64(b, c);
            return x < y ? -1 : x > y;
        } else {
            double x = sqlite3_column_double(a, c), y = sqlite3_column_double(b, c);
            return x < y ? -1 : x > y;
        }
    default:
        pa =
            ta == SQLITE_TEXT ? (const void *)sqlite3_column_text(a, c) : sqlite3_column_blob(a, c);
        pb =
            ta == SQLITE_TEXT ? (const void *)sqlite3_column_text(b, c) : sqlite3_column_blob(b, c);
        na = sqlite3_column_bytes(a, c);
        nb = sqlite3_column_bytes(b, c);
        d = memcmp(pa ? pa : "", pb ? pb : "", (size_t)(na < nb ? na : nb));
        return d != 0 ? d : na - nb;
    }
}

/* Names the row st is on for people: its post and short code (or year and theme), never a
 * sealed value. */
static void row_name(sqlite3_stmt *st, const struct cmp_table *t, char *out, size_t n)
{
    const unsigned char *post = sqlite3_column_text(st, 0);
    const void *id = sqlite3_column_blob(st, 1);
    char hex[2 * MRF_ID + 1] = "?";
    const char *code = NULL, *theme = NULL, *colname = "?";
    int year = 0, ncol = sqlite3_column_count(st);

    if (id != NULL && sqlite3_column_bytes(st, 1) == MRF_ID) {
        char *h = hex_encode(id, MRF_ID);
        str_copy(hex, h, sizeof hex);
        x_free(h);
    }
    for (int c = t->nkey; c < ncol; c++) {
        const char *cn = sqlite3_column_name(st, c);
        if (strcmp(cn, "code") == 0)
            code = (const char *)sqlite3_column_text(st, c);
        else if (strcmp(cn, "theme") == 0)
            theme = (const char *)sqlite3_column_text(st, c);
        else if (strcmp(cn, "year") == 0)
            year = sqlite3_column_int(st, c);
    }
    if (t->stmt == AS_CMP_CLOCKS) {
        int tbl = sqlite3_column_int(st, 2);
        const struct sync_table_desc *d = sync_table_get((enum sync_table)tbl);
        const struct sync_column *col =
            sync_column_get((enum sync_table)tbl, sqlite3_column_int(st, 3));
        if (col != NULL)
            colname = col->name;
        snprintf(out, n, "post %s, clock of %s row %.16s column %s", post ? (const char *)post : "",
                 d != NULL ? d->name : "?", hex, colname);
    } else if (code != NULL) {
        snprintf(out, n, "post %s, %s %s", post ? (const char *)post : "", t->name, code);
    } else {
        snprintf(out, n, "post %s, %s row %.16s (%d%s%s)", post ? (const char *)post : "", t->name,
                 hex, year, theme ? " " : "", theme ? theme : "");
    }
}

/* Walks one table of both stores in key order; stops at the first difference. */
static enum mrf_status cmp_one(struct hqstore *a, struct hqstore *b, const struct cmp_table *t,
                               int *same, char *where, size_t n)
{
    sqlite3_stmt *sa = stmt_get(a, t->stmt), *sb;
    enum mrf_status rc = MRF_OK;
    char row[160];
    int ra, rb, ncol, d, c;

    if (sa == NULL)
        return MRF_E_IO;
    sb = stmt_get(b, t->stmt);
    if (sb == NULL) {
        sqlite3_reset(sa);
        return mrf_error_set(&a->err, MRF_E_IO, "%s", hqstore_errmsg(b));
    }
    ra = sqlite3_step(sa);
    rb = sqlite3_step(sb);
    while (ra == SQLITE_ROW && rb == SQLITE_ROW) {
        ncol = sqlite3_column_count(sa);
        for (c = 0, d = 0; c < t->nkey && d == 0; c++)
            d = value_cmp(sa, sb, c);
        if (d < 0) {
            row_name(sa, t, row, sizeof row);
            snprintf(where, n, "%s: %s is in hq.db but the replay does not produce it", t->name,
                     row);
            *same = 0;
            goto out;
        }
        if (d > 0) {
            row_name(sb, t, row, sizeof row);
            snprintf(where, n, "%s: %s is produced by the replay but missing from hq.db", t->name,
                     row);
            *same = 0;
            goto out;
        }
        for (c = t->nkey; c < ncol; c++)
            if (value_cmp(sa, sb, c) != 0) {
                row_name(sa, t, row, sizeof row);
                snprintf(where, n, "%s: %s differs from the replay in column %s", t->name, row,
                         sqlite3_column_name(sa, c));
                *same = 0;
                goto out;
            }
        ra = sqlite3_step(sa);
        rb = sqlite3_step(sb);
    }
    if (ra == SQLITE_ROW) {
        row_name(sa, t, row, sizeof row);
        snprintf(where, n, "%s: %s is in hq.db but the replay does not produce it", t->name, row);
        *same = 0;
    } else if (rb == SQLITE_ROW) {
        row_name(sb, t, row, sizeof row);
        snprintf(where, n, "%s: %s is produced by the replay but missing from hq.db", t->name, row);
        *same = 0;
    } else if (ra != SQLITE_DONE) {
        rc = hqs_fail(a, "reading the domain tables");
    } else if (rb != SQLITE_DONE) {
        hqs_fail(b, "reading the replay's tables");
        rc = mrf_error_set(&a->err, MRF_E_IO, "%s", hqstore_errmsg(b));
    }
out:
    sqlite3_reset(sa);
    sqlite3_reset(sb);
    return rc;
}

enum mrf_status hqstore_domain_compare(struct hqstore *a, struct hqstore *b, int *same, char *where,
                                       size_t n)
{
    enum mrf_status rc = MRF_OK;

    *same = 1;
    where[0] = '\0';
    for (size_t i = 0; i < sizeof cmp_tables / sizeof cmp_tables[0] && *same && rc == MRF_OK; i++)
        rc = cmp_one(a, b, &cmp_tables[i], same, where, n);
    return rc;
}

/* The listings of the post client as cJSON arrays and objects: partners, grants, themes, the
 * allocation, status and conflicts. Text output and --json print from the same objects. Sealed
 * fields appear only as "sealed" unless the caller unlocked the keystore and asked to reveal;
 * then as their text, "sealed (another device)", or "damaged" (with a warning on stderr). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "client.h"

static void add_text_or_null(cJSON *o, const char *key, const unsigned char *v)
{
    if (v)
        cJSON_AddStringToObject(o, key, (const char *)v);
    else
        cJSON_AddNullToObject(o, key);
}

static void add_money(cJSON *o, const char *key, int64_t cents)
{
    char m[32];
    money_format(cents, m);
    cJSON_AddStringToObject(o, key, m);
}

/* Adds sealed column col of t under its column name: the opened field, "sealed", "sealed
 * (another device)", "damaged" or null. A damaged field does not stop the listing: it shows as
 * "damaged" and one warning line on stderr names the row's code and the column (never content).
 * Plaintexts are wiped as soon as cJSON has them. */
static enum mrf_status add_sealed(struct cli_ctx *ctx, cJSON *o, enum sync_table t,
                                  const uint8_t id[MRF_ID], const char *code, int col, int present,
                                  int reveal)
{
    const char *key = sync_table_get(t)->cols[col].name;
    char *plain = NULL;
    enum mrf_status st;

    if (!present) {
        cJSON_AddNullToObject(o, key);
        return MRF_OK;
    }
    if (!reveal) {
        cJSON_AddStringToObject(o, key, "sealed");
        return MRF_OK;
    }
    st = client_reveal(ctx, t, id, col, &plain);
    if (st == MRF_E_AUTH) {
        mrf_error_clear(&ctx->err);
        cJSON_AddStringToObject(o, key, "sealed (another device)");
        return MRF_OK;
    }
    if (st == MRF_E_INVALID) {
        mrf_error_clear(&ctx->err);
        cJSON_AddStringToObject(o, key, "damaged");
        fprintf(stderr,
                "mrf: warning: %s %s: its %s is damaged and cannot be revealed; record it "
                "again with 'mrf %s %s --%s ...'\n",
                t == ST_PARTNERS ? "partner" : "grant", code, key,
                t == ST_PARTNERS ? "partner edit" : "grant set", code, key);
        return MRF_OK;
    }
    if (st != MRF_OK)
        return st;
    if (plain)
        cJSON_AddStringToObject(o, key, plain);
    else
        cJSON_AddNullToObject(o, key);
    sealed_plain_free(plain);
    return MRF_OK;
}

/* Which columns of a partner hold a value, by column id. */
static enum mrf_status partner_present(struct cli_ctx *ctx, const uint8_t id[MRF_ID],
                                       int present[PARTNER_NCOLS])
{
    sqlite3_stmt *s = client_stmt(ctx, CQ_PARTNER_ROW);

    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(s, 1, id, MRF_ID, SQLITE_TRANSIENT);
    if (sqlite3_step(s) != SQLITE_ROW)
        return client_db_fail(ctx, "cannot read a partner");
    for (int c = 0; c < PARTNER_NCOLS; c++)
        present[c] = sqlite3_column_type(s, c) != SQLITE_NULL;
    sqlite3_reset(s);
    return MRF_OK;
}

enum mrf_status client_partners_json(struct cli_ctx *ctx, const uint8_t *only_id, int with_removed,
                                     int reveal, cJSON **out)
{
    cJSON *arr = cJSON_CreateArray();
    sqlite3_stmt *s;
    enum mrf_status st = MRF_OK;
    int rc;
    /* Rows are collected first: revealing reuses statements while this one is stepping. */
    struct row {
        uint8_t id[MRF_ID];
        char code[16];
        char risk[8];
        int removed;
        int grants;
    } *rows = NULL;
    size_t n = 0, alloc = 0;

    *out = NULL;
    s = client_stmt(ctx, CQ_PARTNERS);
    if (s == NULL) {
        st = MRF_E_IO;
        goto out;
    }
    if (only_id)
        sqlite3_bind_blob(s, 1, only_id, MRF_ID, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, 1);
    sqlite3_bind_int(s, 2, with_removed);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct row *r;
        if (n == alloc) {
            alloc = alloc ? alloc * 2 : 32;
            rows = xrealloc(rows, alloc * sizeof *rows);
        }
        r = &rows[n++];
        memset(r, 0, sizeof *r);
        if (sqlite3_column_bytes(s, 0) == MRF_ID)
            memcpy(r->id, sqlite3_column_blob(s, 0), MRF_ID);
        str_copy(r->code, (const char *)sqlite3_column_text(s, 1), sizeof r->code);
        if (sqlite3_column_text(s, 2))
            str_copy(r->risk, (const char *)sqlite3_column_text(s, 2), sizeof r->risk);
        r->removed = sqlite3_column_int(s, 3);
        r->grants = sqlite3_column_int(s, 4);
    }
    if (rc != SQLITE_DONE) {
        st = client_db_fail(ctx, "cannot list partners");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        int present[PARTNER_NCOLS];
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "code", rows[i].code);
        cJSON_AddStringToObject(o, "risk", rows[i].risk[0] ? rows[i].risk : "-");
        cJSON_AddNumberToObject(o, "grants", rows[i].grants);
        cJSON_AddBoolToObject(o, "removed", rows[i].removed);
        st = partner_present(ctx, rows[i].id, present);
        for (int c = 0; st == MRF_OK && c < PARTNER_NCOLS; c++)
            if (sync_column_sealed(ST_PARTNERS, c))
                st = add_sealed(ctx, o, ST_PARTNERS, rows[i].id, rows[i].code, c, present[c],
                                reveal);
        if (st != MRF_OK)
            goto out;
    }
    *out = arr;
    arr = NULL;
out:
    if (rows)
        sodium_memzero(rows, alloc * sizeof *rows);
    x_free(rows);
    cJSON_Delete(arr);
    return st;
}

enum mrf_status client_partner_json(struct cli_ctx *ctx, const uint8_t id[MRF_ID], int reveal,
                                    cJSON **out)
{
    cJSON *rows = NULL, *grants = NULL, *p, *mine, *g;
    const char *code;
    enum mrf_status st;

    *out = NULL;
    st = client_partners_json(ctx, id, 1, reveal, &rows);
    if (st == MRF_OK)
        st = client_grants_json(ctx, 0, NULL, 0, &grants);
    if (st == MRF_OK && cJSON_GetArraySize(rows) == 0)
        st = mrf_error_set(&ctx->err, MRF_E_NOTFOUND, "no such partner on this device");
    if (st != MRF_OK)
        goto out;
    p = cJSON_DetachItemFromArray(rows, 0);
    mine = cJSON_CreateArray();
    code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "code"));
    cJSON_ArrayForEach(g, grants) {
        const char *pc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "partner"));
        if (pc && code && strcmp(pc, code) == 0)
            cJSON_AddItemToArray(mine,
                                 cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(g, "code"), 0));
    }
    cJSON_AddItemToObject(p, "grant_codes", mine);
    *out = p;
out:
    cJSON_Delete(rows);
    cJSON_Delete(grants);
    return st;
}

enum mrf_status client_grants_json(struct cli_ctx *ctx, int year, const uint8_t *only_id,
                                   int reveal, cJSON **out)
{
    cJSON *arr = cJSON_CreateArray(), *o;
    sqlite3_stmt *s;
    enum mrf_status st = MRF_OK;
    int rc;
    size_t i;
    struct row {
        uint8_t id[MRF_ID];
        int has_note;
    } *rows = NULL;
    size_t n = 0, alloc = 0;

    *out = NULL;
    s = client_stmt(ctx, CQ_GRANTS);
    if (s == NULL) {
        st = MRF_E_IO;
        goto out;
    }
    sqlite3_bind_int(s, 1, year);
    if (only_id)
        sqlite3_bind_blob(s, 2, only_id, MRF_ID, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, 2);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        if (n == alloc) {
            alloc = alloc ? alloc * 2 : 32;
            rows = xrealloc(rows, alloc * sizeof *rows);
        }
        memset(&rows[n], 0, sizeof rows[n]);
        if (sqlite3_column_bytes(s, 0) == MRF_ID)
            memcpy(rows[n].id, sqlite3_column_blob(s, 0), MRF_ID);
        rows[n].has_note = sqlite3_column_int(s, 11);
        n++;
        add_text_or_null(o, "code", sqlite3_column_text(s, 1));
        add_text_or_null(o, "partner", sqlite3_column_text(s, 2));
        add_text_or_null(o, "theme", sqlite3_column_text(s, 3));
        cJSON_AddNumberToObject(o, "year", sqlite3_column_int(s, 4));
        add_money(o, "amount", sqlite3_column_int64(s, 5));
        add_text_or_null(o, "currency", sqlite3_column_text(s, 6));
        add_text_or_null(o, "status", sqlite3_column_text(s, 7));
        add_text_or_null(o, "start", sqlite3_column_text(s, 8));
        add_text_or_null(o, "end", sqlite3_column_text(s, 9));
        cJSON_AddBoolToObject(o, "removed", sqlite3_column_int(s, 10));
    }
    if (rc != SQLITE_DONE) {
        st = client_db_fail(ctx, "cannot list grants");
        goto out;
    }
    i = 0;
    cJSON_ArrayForEach(o, arr) {
        const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "code"));
        st = add_sealed(ctx, o, ST_GRANTS, rows[i].id, code ? code : "?", GRANT_NOTE,
                        rows[i].has_note, reveal);
        if (st != MRF_OK)
            goto out;
        i++;
    }
    *out = arr;
    arr = NULL;
out:
    x_free(rows);
    cJSON_Delete(arr);
    return st;
}

enum mrf_status client_themes_json(struct cli_ctx *ctx, int year, cJSON **out)
{
    cJSON *arr = cJSON_CreateArray();
    sqlite3_stmt *s = client_stmt(ctx, CQ_THEMES);
    int rc;

    *out = NULL;
    if (s == NULL) {
        cJSON_Delete(arr);
        return MRF_E_IO;
    }
    sqlite3_bind_int(s, 1, year);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        const char *code = (const char *)sqlite3_column_text(s, 1);
        cJSON_AddItemToArray(arr, o);
        cJSON_AddNumberToObject(o, "year", sqlite3_column_int(s, 0));
        cJSON_AddStringToObject(o, "theme", code ? code : "?");
        cJSON_AddStringToObject(o, "title", theme_title(theme_index(code)));
    }
    if (rc != SQLITE_DONE) {
        cJSON_Delete(arr);
        return client_db_fail(ctx, "cannot list themes");
    }
    *out = arr;
    return MRF_OK;
}

enum mrf_status client_allocation_json(struct cli_ctx *ctx, int year, cJSON **out)
{
    cJSON *o = cJSON_CreateObject(), *others = cJSON_CreateArray();
    sqlite3_stmt *s;
    int64_t alloc = -1, committed = 0;
    char cur[4] = "EUR";
    int rc;

    *out = NULL;
    cJSON_AddNumberToObject(o, "year", year);
    s = client_stmt(ctx, CQ_ALLOCATION);
    if (s == NULL)
        goto fail;
    sqlite3_bind_int(s, 1, year);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        alloc = sqlite3_column_int64(s, 0);
        str_copy(cur, (const char *)sqlite3_column_text(s, 1), sizeof cur);
    } else if (rc != SQLITE_DONE) {
        client_db_fail(ctx, "cannot read the allocation");
        goto fail;
    }
    sqlite3_reset(s);
    s = client_stmt(ctx, CQ_COMMITTED);
    if (s == NULL)
        goto fail;
    sqlite3_bind_int(s, 1, year);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(s, 0);
        if (c && strcmp(c, cur) == 0) {
            committed = sqlite3_column_int64(s, 1);
        } else {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "currency", c ? c : "?");
            add_money(x, "committed", sqlite3_column_int64(s, 1));
            cJSON_AddItemToArray(others, x);
        }
    }
    if (rc != SQLITE_DONE) {
        client_db_fail(ctx, "cannot sum the grants");
        goto fail;
    }
    cJSON_AddStringToObject(o, "currency", cur);
    if (alloc >= 0) {
        add_money(o, "allocation", alloc);
        add_money(o, "remaining", alloc - committed);
    } else {
        cJSON_AddNullToObject(o, "allocation");
        cJSON_AddNullToObject(o, "remaining");
    }
    add_money(o, "committed", committed);
    cJSON_AddItemToObject(o, "other_currencies", others);
    *out = o;
    return MRF_OK;
fail:
    cJSON_Delete(others);
    cJSON_Delete(o);
    return MRF_E_IO;
}

int client_allocation_warning(struct cli_ctx *ctx, int year, char *msg, size_t size)
{
    cJSON *o = NULL;
    const char *rem;
    int over = 0;

    msg[0] = '\0';
    if (client_allocation_json(ctx, year, &o) != MRF_OK)
        return 0;
    rem = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "remaining"));
    if (rem && rem[0] == '-') {
        snprintf(msg, size,
                 "committed grants for %d exceed HQ's allocation by %s; HQ will open a conflict "
                 "unless the allocation grows",
                 year, rem + 1);
        over = 1;
    }
    cJSON_Delete(o);
    return over;
}

cJSON *client_sync_summary_json(const struct sync_summary *s)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "sent", (double)s->p.ops_sent);
    cJSON_AddNumberToObject(o, "changesets", (double)s->p.changesets);
    cJSON_AddNumberToObject(o, "received", (double)s->p.ops_pulled);
    cJSON_AddNumberToObject(o, "quarantined", (double)s->quarantined);
    cJSON_AddNumberToObject(o, "conflict_records", (double)s->records);
    cJSON_AddNumberToObject(o, "requests", (double)s->requests);
    cJSON_AddNumberToObject(o, "connections", (double)s->connects);
    cJSON_AddNumberToObject(o, "bytes_up", (double)s->p.bytes_up);
    cJSON_AddNumberToObject(o, "bytes_down", (double)s->p.bytes_down);
    return o;
}

static void add_time(cJSON *o, const char *key, int64_t t)
{
    char buf[32];
    time_t tt = (time_t)t;
    struct tm tm;

    if (t <= 0) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(o, key, buf);
}

/* "audit_head": {"seq", "hash" (hex), "sig" (base64url), "received"}, or null if this device
 * has not verified one yet. */
static enum mrf_status add_audit_head(struct cli_ctx *ctx, cJSON *o)
{
    sqlite3_stmt *s = client_stmt(ctx, CQ_AUDIT_HEAD_GET);
    cJSON *h;
    char *txt;
    int rc;

    if (s == NULL)
        return MRF_E_IO;
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        cJSON_AddNullToObject(o, "audit_head");
        return MRF_OK;
    }
    if (rc != SQLITE_ROW || sqlite3_column_bytes(s, 1) != 32 ||
        sqlite3_column_bytes(s, 2) != MRF_SIG) {
        sqlite3_reset(s);
        return rc == SQLITE_ROW
                   ? mrf_error_set(&ctx->err, MRF_E_IO, "store: the audit head is damaged")
                   : client_db_fail(ctx, "cannot read the audit head");
    }
    h = cJSON_AddObjectToObject(o, "audit_head");
    cJSON_AddNumberToObject(h, "seq", (double)sqlite3_column_int64(s, 0));
    txt = hex_encode(sqlite3_column_blob(s, 1), 32);
    cJSON_AddStringToObject(h, "hash", txt);
    x_free(txt);
    txt = b64url_encode(sqlite3_column_blob(s, 2), MRF_SIG);
    cJSON_AddStringToObject(h, "sig", txt);
    x_free(txt);
    add_time(h, "received", sqlite3_column_int64(s, 3));
    sqlite3_reset(s);
    return MRF_OK;
}

enum mrf_status client_status_json(struct cli_ctx *ctx, cJSON **out)
{
    cJSON *o;
    int64_t pending = 0;
    sqlite3_stmt *s;
    char fp[48];
    char *dev;
    enum mrf_status st;

    *out = NULL;
    st = capture_pending(ctx->db, &pending, &ctx->err);
    if (st != MRF_OK)
        return st;
    s = client_stmt(ctx, CQ_OPEN_CONFLICTS);
    if (s == NULL || sqlite3_step(s) != SQLITE_ROW)
        return client_db_fail(ctx, "cannot count conflicts");
    o = cJSON_CreateObject();
    dev = hex_encode(ctx->meta.device_id, MRF_ID);
    mrf_fingerprint(ctx->meta.hq_sign_pk, MRF_SIGN_PK, fp);
    cJSON_AddStringToObject(o, "post", ctx->meta.post);
    cJSON_AddStringToObject(o, "device", dev);
    cJSON_AddStringToObject(o, "hq", ctx->meta.hq_url);
    cJSON_AddStringToObject(o, "hq_fingerprint", fp);
    cJSON_AddBoolToObject(o, "enrolled", ctx->meta.enrolled_at > 0);
    if (ctx->meta.enrolled_at <= 0) {
        add_time(o, "token_expires", ctx->meta.token_expires);
        /* by this device's clock; HQ's decides */
        cJSON_AddBoolToObject(o, "token_expired", ctx->meta.token_expires <= (int64_t)time(NULL));
    }
    cJSON_AddNumberToObject(o, "pending", (double)pending);
    add_time(o, "last_sync", ctx->meta.last_sync);
    if (ctx->meta.has_skew) /* seconds this device's clock was ahead of HQ's (behind: < 0) */
        cJSON_AddNumberToObject(o, "clock_ahead_s", (double)(ctx->meta.hq_skew_ms / 1000));
    cJSON_AddNumberToObject(o, "open_conflicts", sqlite3_column_int(s, 0));
    sqlite3_reset(s);
    s = client_stmt(ctx, CQ_QUARANTINED);
    if (s == NULL || sqlite3_step(s) != SQLITE_ROW) {
        x_free(dev);
        cJSON_Delete(o);
        return client_db_fail(ctx, "cannot count the quarantine");
    }
    cJSON_AddNumberToObject(o, "quarantined", sqlite3_column_int(s, 1));
    if (sqlite3_column_int(s, 1) > 0)
        add_text_or_null(o, "quarantine_reason", sqlite3_column_text(s, 2));
    sqlite3_reset(s);
    x_free(dev);
    st = add_audit_head(ctx, o);
    if (st == MRF_OK)
        st = client_ring_status(ctx, o);
    if (st != MRF_OK) {
        cJSON_Delete(o);
        return st;
    }
    *out = o;
    return MRF_OK;
}

/* HQ's record text as stored: "" means none. */
static void add_text_or_none(cJSON *o, const char *key, const unsigned char *v)
{
    add_text_or_null(o, key, v && v[0] ? v : NULL);
}

enum mrf_status client_conflicts_json(struct cli_ctx *ctx, int all, cJSON **out)
{
    cJSON *arr = cJSON_CreateArray();
    sqlite3_stmt *s = client_stmt(ctx, CQ_CONFLICTS);
    int rc;

    *out = NULL;
    if (s == NULL) {
        cJSON_Delete(arr);
        return MRF_E_IO;
    }
    sqlite3_bind_int(s, 1, all);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        int closed = sqlite3_column_type(s, 10) != SQLITE_NULL;
        cJSON_AddItemToArray(arr, o);
        add_text_or_null(o, "id", sqlite3_column_text(s, 0));
        cJSON_AddStringToObject(o, "state", closed ? "closed" : "open");
        add_text_or_null(o, "kind", sqlite3_column_text(s, 1));
        add_text_or_null(o, "rule", sqlite3_column_text(s, 2));
        add_text_or_null(o, "rows", sqlite3_column_text(s, 3));
        add_text_or_null(o, "detail", sqlite3_column_text(s, 4));
        if (sqlite3_column_int(s, 5) > 0)
            cJSON_AddNumberToObject(o, "year", sqlite3_column_int(s, 5));
        else
            cJSON_AddNullToObject(o, "year");
        add_text_or_none(o, "base", sqlite3_column_text(s, 6));
        add_text_or_none(o, "a", sqlite3_column_text(s, 7));
        add_text_or_none(o, "b", sqlite3_column_text(s, 8));
        add_time(o, "opened", sqlite3_column_int64(s, 9));
        add_time(o, "closed", closed ? sqlite3_column_int64(s, 10) : 0);
        add_text_or_null(o, "decision", sqlite3_column_text(s, 11));
        add_text_or_none(o, "reason", sqlite3_column_text(s, 12));
    }
    if (rc != SQLITE_DONE) {
        cJSON_Delete(arr);
        return client_db_fail(ctx, "cannot list conflicts");
    }
    *out = arr;
    return MRF_OK;
}

/* The codes the open conflicts name, for one lookup per row in O(log n): each whole word of a
 * record's rows (a maximal run of letters, digits and '-': codes are made of those) with the
 * record's place in CQ_OPEN_CONFLICT_ROWS's order, sorted by (word, place), so a code's first
 * entry is the first record that names it. */
struct named {
    char word[24];
    size_t rec;
};

static int is_word(char c)
{
    return isalnum((unsigned char)c) || c == '-';
}

static int named_cmp(const void *a, const void *b)
{
    const struct named *x = a, *y = b;
    int c = strcmp(x->word, y->word);

    return c != 0 ? c : x->rec < y->rec ? -1 : x->rec > y->rec;
}

/* The first record (its place) whose rows name code as a whole word; -1 if none. */
static long named_find(const struct named *v, size_t n, const char *code)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(v[mid].word, code) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(v[lo].word, code) == 0 ? (long)v[lo].rec : -1;
}

enum mrf_status client_grants_mark_conflicts(struct cli_ctx *ctx, cJSON *rows)
{
    struct rec {
        char id[16];
        char rows[256];
    } *recs = NULL;
    struct named *words = NULL;
    size_t n = 0, alloc = 0, nw = 0, walloc = 0;
    sqlite3_stmt *s = client_stmt(ctx, CQ_OPEN_CONFLICT_ROWS);
    cJSON *o;
    int rc;

    if (s == NULL)
        return MRF_E_IO;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == alloc) {
            alloc = alloc ? alloc * 2 : 16;
            recs = xrealloc(recs, alloc * sizeof *recs);
        }
        str_copy(recs[n].id, (const char *)sqlite3_column_text(s, 0), sizeof recs[n].id);
        str_copy(recs[n].rows, (const char *)sqlite3_column_text(s, 1), sizeof recs[n].rows);
        n++;
    }
    if (rc != SQLITE_DONE) {
        x_free(recs);
        return client_db_fail(ctx, "cannot read open conflicts");
    }
    for (size_t i = 0; i < n; i++) {
        for (const char *p = recs[i].rows; *p;) {
            size_t len = 0;
            while (p[len] && is_word(p[len]))
                len++;
            if (len > 0 && len < sizeof words->word) { /* a longer word is no code */
                if (nw == walloc) {
                    walloc = walloc ? walloc * 2 : 64;
                    words = xrealloc(words, walloc * sizeof *words);
                }
                memcpy(words[nw].word, p, len);
                words[nw].word[len] = '\0';
                words[nw++].rec = i;
            }
            p += len ? len : 1;
        }
    }
    if (nw > 0)
        qsort(words, nw, sizeof *words, named_cmp);
    cJSON_ArrayForEach(o, rows) {
        const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "code"));
        long rec = code != NULL && code[0] != '\0' ? named_find(words, nw, code) : -1;
        if (rec >= 0)
            cJSON_AddStringToObject(o, "conflict", recs[rec].id);
        else
            cJSON_AddNullToObject(o, "conflict");
    }
    x_free(words);
    x_free(recs);
    return MRF_OK;
}

/* The fund's rules as a post applies them offline, and the writes they guard. Every operation
 * checks all its input first, then writes through capture in one transaction: a refusal or a
 * failure leaves the store as it was. */
#include <assert.h>
#include <string.h>

#include <sodium.h>

#include "client.h"

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        st = (expr);                                                                               \
        if (st != MRF_OK)                                                                          \
            goto out;                                                                              \
    } while (0)

/* Copies the capture's message into ctx->err for a failed write. */
static enum mrf_status cap_fail(struct cli_ctx *ctx, enum mrf_status st)
{
    return mrf_error_set(&ctx->err, st, "%s", capture_errmsg(ctx->cap));
}

#define CAP(expr)                                                                                  \
    do {                                                                                           \
        st = (expr);                                                                               \
        if (st != MRF_OK) {                                                                        \
            cap_fail(ctx, st);                                                                     \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

enum mrf_status client_theme_get(struct cli_ctx *ctx, int year, int out[THEME_COUNT], int *n)
{
    sqlite3_stmt *s = client_stmt(ctx, CQ_THEMES_YEAR);
    int rc;

    *n = 0;
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_int(s, 1, year);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int idx = theme_index((const char *)sqlite3_column_text(s, 0));
        if (idx >= 0 && *n < THEME_COUNT)
            out[(*n)++] = idx;
    }
    if (rc != SQLITE_DONE)
        return client_db_fail(ctx, "cannot read the themes");
    return MRF_OK;
}

static void theme_list_str(const int *idx, int n, char *out, size_t size)
{
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s%s", i ? ", " : "", theme_code(idx[i]));
    }
}

/* Steps s (bound by the caller) and joins its first column, grant codes, into out as
 * "G-…, G-…"; *n is how many. */
static enum mrf_status join_codes(struct cli_ctx *ctx, sqlite3_stmt *s, char *out, size_t size,
                                  int *n)
{
    int rc;

    out[0] = '\0';
    *n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s%s", (*n)++ ? ", " : "",
                 (const char *)sqlite3_column_text(s, 0));
    }
    if (rc != SQLITE_DONE)
        return client_db_fail(ctx, "cannot read the grants");
    return MRF_OK;
}

/* MRF_E_RULE naming the live grants of year that use theme, if any. */
static enum mrf_status theme_unused(struct cli_ctx *ctx, int year, const char *theme)
{
    sqlite3_stmt *s = client_stmt(ctx, CQ_GRANTS_USING_THEME);
    char codes[64];
    int n;

    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_int(s, 1, year);
    sqlite3_bind_text(s, 2, theme, -1, SQLITE_STATIC);
    if (join_codes(ctx, s, codes, sizeof codes, &n) != MRF_OK)
        return MRF_E_IO;
    if (n)
        return mrf_error_set(&ctx->err, MRF_E_RULE,
                             "theme set: grants of %d use %s (%s); cancel them or move them to "
                             "another theme first",
                             year, theme, codes);
    return MRF_OK;
}

enum mrf_status client_theme_set(struct cli_ctx *ctx, int year, const char *const *themes, int n)
{
    int want[THEME_COUNT] = {0};
    int have[THEME_COUNT], nhave = 0;
    int is_have[THEME_COUNT] = {0};
    enum mrf_status st;

    if (n < 1)
        return mrf_error_set(&ctx->err, MRF_E_USAGE, "theme set: name one or two themes");
    for (int i = 0; i < n; i++) {
        int idx = theme_index(themes[i]);
        if (idx < 0)
            return mrf_error_set(&ctx->err, MRF_E_INVALID,
                                 "theme set: unknown theme; the themes are FOE, WGR, LGBTIQ, "
                                 "FORB, HRD and ACC");
        if (want[idx])
            return mrf_error_set(&ctx->err, MRF_E_INVALID, "theme set: %s is named twice",
                                 theme_code(idx));
        want[idx] = 1;
    }
    if (n > THEMES_PER_YEAR_MAX)
        return mrf_error_set(&ctx->err, MRF_E_RULE,
                             "theme set: a post may focus on at most two themes in %d; name two "
                             "at most",
                             year);
    st = client_theme_get(ctx, year, have, &nhave);
    if (st != MRF_OK)
        return st;
    for (int i = 0; i < nhave; i++) {
        is_have[have[i]] = 1;
        if (!want[have[i]]) {
            st = theme_unused(ctx, year, theme_code(have[i]));
            if (st != MRF_OK)
                return st;
        }
    }
    CAP(capture_begin(ctx->cap));
    for (int t = 0; t < THEME_COUNT; t++) {
        uint8_t id[MRF_ID];
        if (want[t] == is_have[t])
            continue;
        row_id_derive(id, "themes", ctx->meta.post, year, theme_code(t));
        if (want[t]) {
            sqlite3_stmt *s = client_stmt(ctx, CQ_THEME_ROW);
            int exists;
            if (s == NULL) {
                st = MRF_E_IO;
                goto out;
            }
            sqlite3_bind_blob(s, 1, id, MRF_ID, SQLITE_TRANSIENT);
            exists = sqlite3_step(s) == SQLITE_ROW;
            sqlite3_reset(s);
            CAP(capture_row(ctx->cap, ST_THEMES, id));
            if (!exists) {
                CAP(capture_set_int(ctx->cap, ST_THEMES, id, THEME_YEAR, year));
                CAP(capture_set_text(ctx->cap, ST_THEMES, id, THEME_THEME, theme_code(t)));
            }
            CAP(capture_set_int(ctx->cap, ST_THEMES, id, THEME_REMOVED, 0));
        } else {
            CAP(capture_set_int(ctx->cap, ST_THEMES, id, THEME_REMOVED, 1));
        }
    }
    CAP(capture_commit(ctx->cap));
out:
    if (st != MRF_OK)
        capture_rollback(ctx->cap);
    return st;
}

/* ---- partners ---------------------------------------------------------------------------- */

/* How a person types each sealed partner column (which columns are sealed is sync's column
 * table): the option that gives it, its size cap, whether it may span lines. */
static const struct field_rule {
    const char *label;
    size_t cap;
    int newlines;
} partner_fields[PARTNER_NCOLS] = {
    [PARTNER_NAME] = {"--name", CAP_NAME, 0},
    [PARTNER_CONTACT] = {"--contact", CAP_CONTACT, 0},
    [PARTNER_PHONE] = {"--phone", CAP_PHONE, 0},
    [PARTNER_EMAIL] = {"--email", CAP_EMAIL, 0},
    [PARTNER_ADDRESS] = {"--address", CAP_ADDRESS, 1},
    [PARTNER_BANK] = {"--bank", CAP_BANK, 0},
    [PARTNER_NOTE] = {"--note", CAP_NOTE, 1},
};

/* The typed value of partner column col, NULL if not given (or not typed at all). */
static const char *partner_value(const struct partner_input *in, int col)
{
    switch (col) {
    case PARTNER_NAME:
        return in->name;
    case PARTNER_CONTACT:
        return in->contact;
    case PARTNER_PHONE:
        return in->phone;
    case PARTNER_EMAIL:
        return in->email;
    case PARTNER_ADDRESS:
        return in->address;
    case PARTNER_BANK:
        return in->bank;
    case PARTNER_NOTE:
        return in->note;
    case PARTNER_RISK:
        return in->risk;
    default:
        return NULL;
    }
}

/* Checks a free text against its cap and character rules, naming the option, never the text. */
static enum mrf_status check_text(struct cli_ctx *ctx, const char *what, const char *label,
                                  const char *v, size_t cap, int newlines)
{
    size_t n = strlen(v);

    if (n > cap)
        return mrf_error_set(&ctx->err, MRF_E_TOOBIG,
                             "%s: %s is %zu bytes; at most %zu are kept, shorten it", what, label,
                             n, cap);
    if (!text_valid(v, n, newlines))
        return mrf_error_set(&ctx->err, MRF_E_INVALID,
                             "%s: %s must be UTF-8 text without control characters", what, label);
    return MRF_OK;
}

static enum mrf_status check_partner(struct cli_ctx *ctx, const char *what,
                                     const struct partner_input *in, int adding)
{
    enum mrf_status st;

    if (adding && (in->name == NULL || in->name[0] == '\0'))
        return mrf_error_set(&ctx->err, MRF_E_INVALID, "%s: a partner needs --name", what);
    if (!adding && in->name && in->name[0] == '\0')
        return mrf_error_set(&ctx->err, MRF_E_INVALID,
                             "%s: --name cannot be emptied; remove the partner instead", what);
    for (int c = 0; c < PARTNER_NCOLS; c++) {
        const char *v = partner_value(in, c);
        if (v == NULL || !sync_column_sealed(ST_PARTNERS, c))
            continue;
        assert(partner_fields[c].label != NULL); /* a sealed column people can type */
        st = check_text(ctx, what, partner_fields[c].label, v, partner_fields[c].cap,
                        partner_fields[c].newlines);
        if (st != MRF_OK)
            return st;
    }
    if (in->phone && in->phone[0]) {
        for (const char *p = in->phone; *p; p++)
            if (!strchr("0123456789+-() ./", *p))
                return mrf_error_set(&ctx->err, MRF_E_INVALID,
                                     "%s: --phone takes digits, spaces and + - ( ) . / only", what);
    }
    if (in->email && in->email[0]) {
        const char *at = strchr(in->email, '@');
        const char *dot = at ? strrchr(at, '.') : NULL;
        if (at == NULL || at == in->email || strchr(at + 1, '@') || strchr(in->email, ' ') ||
            dot == NULL || dot == at + 1 || dot[1] == '\0' || strstr(at, "..") != NULL)
            return mrf_error_set(&ctx->err, MRF_E_INVALID,
                                 "%s: --email must look like name@example.org", what);
    }
    if (in->risk && risk_parse(in->risk) < 0)
        return mrf_error_set(&ctx->err, MRF_E_INVALID, "%s: --risk is low, medium or high", what);
    return MRF_OK;
}

/* Seals v for sealed column col of row id to this device, to HQ's escrow key and to the post
 * key this device holds (client_ring_recipients), and writes it; an empty v empties the
 * column. */
static enum mrf_status write_sealed(struct cli_ctx *ctx, enum sync_table t,
                                    const uint8_t id[MRF_ID], int col, const char *v)
{
    const uint8_t(*recip)[MRF_BOX_PK];
    uint8_t keys[3][MRF_BOX_PK];
    int nkeys = 0;
    uint8_t *blob = NULL;
    size_t bloblen = 0;
    char aad[SYNC_AAD_MAX];
    enum mrf_status st;

    assert(sync_column_sealed(t, col));
    if (v[0] == '\0') {
        st = capture_set_null(ctx->cap, t, id, col);
        return st == MRF_OK ? MRF_OK : cap_fail(ctx, st);
    }
    st = client_ring_recipients(ctx, keys, &nkeys);
    if (st != MRF_OK)
        return st;
    recip = (const uint8_t(*)[MRF_BOX_PK])keys;
    sync_field_aad(t, id, col, aad);
    st = sealed_seal(&blob, &bloblen, v, strlen(v), aad, recip, nkeys);
    if (st != MRF_OK)
        return mrf_error_set(&ctx->err, st, "cannot seal a field");
    st = capture_set_blob(ctx->cap, t, id, col, blob, bloblen);
    x_free(blob);
    return st == MRF_OK ? MRF_OK : cap_fail(ctx, st);
}

/* A fresh random id whose short code no row of table t uses yet. */
static enum mrf_status new_id(struct cli_ctx *ctx, enum sync_table t, uint8_t id[MRF_ID])
{
    for (int tries = 0; tries < 8; tries++) {
        char code[16];
        uint8_t other[MRF_ID];
        int removed;
        enum mrf_status st;

        mrf_random(id, MRF_ID);
        shortcode_make(sync_table_get(t)->code_prefix, id, code);
        st = client_find(ctx, t, code, other, &removed);
        if (st == MRF_E_NOTFOUND) {
            mrf_error_clear(&ctx->err);
            return MRF_OK;
        }
        if (st != MRF_OK)
            return st;
    }
    return mrf_error_set(&ctx->err, MRF_E_INTERNAL, "cannot find a free short code");
}

static enum mrf_status write_partner(struct cli_ctx *ctx, const uint8_t id[MRF_ID],
                                     const struct partner_input *in)
{
    enum mrf_status st = MRF_OK;

    for (int c = 0; c < PARTNER_NCOLS; c++) {
        const char *v = partner_value(in, c);
        if (v == NULL || !sync_column_sealed(ST_PARTNERS, c))
            continue;
        st = write_sealed(ctx, ST_PARTNERS, id, c, v);
        if (st != MRF_OK)
            return st;
    }
    if (in->risk) {
        st = capture_set_text(ctx->cap, ST_PARTNERS, id, PARTNER_RISK,
                              risk_str(risk_parse(in->risk)));
        if (st != MRF_OK)
            return cap_fail(ctx, st);
    }
    return MRF_OK;
}

enum mrf_status client_partner_add(struct cli_ctx *ctx, const struct partner_input *in,
                                   char code_out[16])
{
    struct partner_input full = *in;
    uint8_t id[MRF_ID];
    enum mrf_status st;

    code_out[0] = '\0';
    TRY(check_partner(ctx, "partner add", in, 1));
    if (full.risk == NULL)
        full.risk = "medium";
    CAP(capture_begin(ctx->cap));
    TRY(new_id(ctx, ST_PARTNERS, id));
    CAP(capture_row(ctx->cap, ST_PARTNERS, id));
    TRY(write_partner(ctx, id, &full));
    CAP(capture_set_int(ctx->cap, ST_PARTNERS, id, PARTNER_REMOVED, 0));
    CAP(capture_commit(ctx->cap));
    shortcode_make("PX", id, code_out);
out:
    if (st != MRF_OK)
        capture_rollback(ctx->cap);
    sodium_memzero(id, sizeof id);
    return st;
}

static enum mrf_status find_live(struct cli_ctx *ctx, enum sync_table t, const char *what,
                                 const char *code, uint8_t id[MRF_ID])
{
    int removed;
    enum mrf_status st = client_find(ctx, t, code, id, &removed);

    if (st != MRF_OK)
        return st;
    if (removed)
        return mrf_error_set(&ctx->err, MRF_E_RULE, "%s: %s has been removed", what, code);
    return MRF_OK;
}

enum mrf_status client_partner_edit(struct cli_ctx *ctx, const char *code,
                                    const struct partner_input *in)
{
    uint8_t id[MRF_ID];
    int given = 0;
    enum mrf_status st;

    TRY(check_partner(ctx, "partner edit", in, 0));
    for (int c = 0; c < PARTNER_NCOLS && !given; c++)
        given = partner_value(in, c) != NULL;
    if (!given)
        return mrf_error_set(&ctx->err, MRF_E_USAGE,
                             "partner edit: nothing to change; give at least one option");
    TRY(find_live(ctx, ST_PARTNERS, "partner edit", code, id));
    CAP(capture_begin(ctx->cap));
    TRY(write_partner(ctx, id, in));
    CAP(capture_commit(ctx->cap));
out:
    if (st != MRF_OK)
        capture_rollback(ctx->cap);
    return st;
}

enum mrf_status client_partner_remove(struct cli_ctx *ctx, const char *code)
{
    uint8_t id[MRF_ID];
    sqlite3_stmt *s;
    char codes[64];
    int n;
    enum mrf_status st;

    TRY(find_live(ctx, ST_PARTNERS, "partner remove", code, id));
    s = client_stmt(ctx, CQ_PARTNER_OPEN_GRANTS);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(s, 1, id, MRF_ID, SQLITE_TRANSIENT);
    if (join_codes(ctx, s, codes, sizeof codes, &n) != MRF_OK)
        return MRF_E_IO;
    if (n)
        return mrf_error_set(&ctx->err, MRF_E_RULE,
                             "partner remove: %s still has open grants (%s); close or cancel "
                             "them first",
                             code, codes);
    CAP(capture_begin(ctx->cap));
    CAP(capture_set_int(ctx->cap, ST_PARTNERS, id, PARTNER_REMOVED, 1));
    CAP(capture_commit(ctx->cap));
out:
    if (st != MRF_OK)
        capture_rollback(ctx->cap);
    return st;
}

/* ---- grants ------------------------------------------------------------------------------ */

struct grant_row {
    uint8_t partner[MRF_ID];
    char theme[8];
    int year;
    int64_t amount;
    char currency[4];
    int status;
    char start[11], end[11];
    int removed;
};

static enum mrf_status grant_load(struct cli_ctx *ctx, const uint8_t id[MRF_ID],
                                  struct grant_row *g)
{
    sqlite3_stmt *s = client_stmt(ctx, CQ_GRANT_ROW);
    const char *txt;

    memset(g, 0, sizeof *g);
    if (s == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(s, 1, id, MRF_ID, SQLITE_TRANSIENT);
    if (sqlite3_step(s) != SQLITE_ROW)
        return client_db_fail(ctx, "cannot read a grant");
    if (sqlite3_column_bytes(s, GRANT_PARTNER) == MRF_ID)
        memcpy(g->partner, sqlite3_column_blob(s, GRANT_PARTNER), MRF_ID);
    if ((txt = (const char *)sqlite3_column_text(s, GRANT_THEME)))
        str_copy(g->theme, txt, sizeof g->theme);
    g->year = sqlite3_column_int(s, GRANT_YEAR);
    g->amount = sqlite3_column_int64(s, GRANT_AMOUNT);
    if ((txt = (const char *)sqlite3_column_text(s, GRANT_CURRENCY)))
        str_copy(g->currency, txt, sizeof g->currency);
    g->status = grant_status_parse((const char *)sqlite3_column_text(s, GRANT_STATUS));
    if ((txt = (const char *)sqlite3_column_text(s, GRANT_START)))
        str_copy(g->start, txt, sizeof g->start);
    if ((txt = (const char *)sqlite3_column_text(s, GRANT_END)))
        str_copy(g->end, txt, sizeof g->end);
    g->removed = sqlite3_column_int(s, GRANT_REMOVED);
    sqlite3_reset(s);
    return MRF_OK;
}

/* Re-prefixes a domain-rule message with the command and option it came from. */
static enum mrf_status prefixed(struct cli_ctx *ctx, enum mrf_status st, const char *what,
                                const char *opt)
{
    char msg[sizeof ctx->err.msg];

    if (st == MRF_OK)
        return st;
    str_copy(msg, ctx->err.msg, sizeof msg);
    return mrf_error_set(&ctx->err, st, "%s: %s: %s", what, opt, msg);
}

static enum mrf_status check_dates(struct cli_ctx *ctx, const char *what, const char *start,
                                   const char *end)
{
    enum mrf_status st;

    if (start && start[0] && (st = prefixed(ctx, date_parse(start, &ctx->err), what, "--start")))
        return st;
    if (end && end[0] && (st = prefixed(ctx, date_parse(end, &ctx->err), what, "--end")))
        return st;
    if (start && end && start[0] && end[0] && strcmp(start, end) > 0)
        return mrf_error_set(&ctx->err, MRF_E_RULE,
                             "%s: the grant would end (%s) before it starts (%s); fix --start "
                             "or --end",
                             what, end, start);
    return MRF_OK;
}

enum mrf_status client_grant_add(struct cli_ctx *ctx, const struct grant_input *in,
                                 char code_out[16])
{
    const char *what = "grant add";
    uint8_t pid[MRF_ID], id[MRF_ID];
    int year, tidx, have[THEME_COUNT], nhave, ok = 0;
    int64_t cents;
    char currency[4];
    enum mrf_status st;

    code_out[0] = '\0';
    TRY(prefixed(ctx, year_parse(in->year, &year, &ctx->err), what, "--year"));
    TRY(prefixed(ctx, money_parse(in->amount, &cents, &ctx->err), what, "--amount"));
    TRY(prefixed(ctx, currency_parse(in->currency ? in->currency : "EUR", currency, &ctx->err),
                 what, "--currency"));
    TRY(check_dates(ctx, what, in->start, in->end));
    if (in->note)
        TRY(check_text(ctx, what, "--note", in->note, CAP_NOTE, 1));
    tidx = theme_index(in->theme);
    if (tidx < 0)
        return mrf_error_set(&ctx->err, MRF_E_INVALID,
                             "%s: unknown theme; the themes are FOE, WGR, LGBTIQ, FORB, HRD and "
                             "ACC",
                             what);
    TRY(client_theme_get(ctx, year, have, &nhave));
    for (int i = 0; i < nhave; i++)
        ok |= have[i] == tidx;
    if (!ok) {
        char list[64];
        theme_list_str(have, nhave, list, sizeof list);
        if (nhave == 0)
            return mrf_error_set(&ctx->err, MRF_E_RULE,
                                 "%s: the post has no themes for %d yet; set them first with "
                                 "'mrf theme set %d THEME [THEME]'",
                                 what, year, year);
        return mrf_error_set(&ctx->err, MRF_E_RULE,
                             "%s: %s is not one of the post's themes for %d (%s); use one of "
                             "them or change the themes with 'mrf theme set'",
                             what, theme_code(tidx), year, list);
    }
    {
        int removed;
        TRY(client_find(ctx, ST_PARTNERS, in->partner, pid, &removed));
        if (removed)
            return mrf_error_set(&ctx->err, MRF_E_RULE,
                                 "%s: partner %s has been removed; a grant needs a current "
                                 "partner",
                                 what, in->partner);
    }
    CAP(capture_begin(ctx->cap));
    TRY(new_id(ctx, ST_GRANTS, id));
    CAP(capture_row(ctx->cap, ST_GRANTS, id));
    CAP(capture_set_blob(ctx->cap, ST_GRANTS, id, GRANT_PARTNER, pid, MRF_ID));
    CAP(capture_set_text(ctx->cap, ST_GRANTS, id, GRANT_THEME, theme_code(tidx)));
    CAP(capture_set_int(ctx->cap, ST_GRANTS, id, GRANT_YEAR, year));
    CAP(capture_set_int(ctx->cap, ST_GRANTS, id, GRANT_AMOUNT, cents));
    CAP(capture_set_text(ctx->cap, ST_GRANTS, id, GRANT_CURRENCY, currency));
    CAP(capture_set_text(ctx->cap, ST_GRANTS, id, GRANT_STATUS, grant_status_str(GS_DRAFT)));
    if (in->start && in->start[0])
        CAP(capture_set_text(ctx->cap, ST_GRANTS, id, GRANT_START, in->start));
    if (in->end && in->end[0])
        CAP(capture_set_text(ctx->cap, ST_GRANTS, id, GRANT_END, in->end));
    if (in->note && in->note[0])
        TRY(write_sealed(ctx, ST_GRANTS, id, GRANT_NOTE, in->note));
    CAP(capture_set_int(ctx->cap, ST_GRANTS, id, GRANT_REMOVED, 0));
    CAP(capture_commit(ctx->cap));
    shortcode_make("G", id, code_out);
out:
    if (st != MRF_OK)
        capture_rollback(ctx->cap);
    return st;
}

enum mrf_status client_grant_set(struct cli_ctx *ctx, const char *code,
                                 const struct grant_input *in)
{
    const char *what = "grant set";
    uint8_t id[MRF_ID];
    struct grant_row g;
    int64_t cents = 0;
    int to = -1;
    enum mrf_status st;

    if (!in->amount && !in->status && !in->start && !in->end && !in->note)
        return mrf_error_set(&ctx->err, MRF_E_USAGE,
                             "%s: nothing to change; give --amount, --status, --start, --end "
                             "or --note",
                             what);
    if (in->amount)
        TRY(prefixed(ctx, money_parse(in->amount, &cents, &ctx->err), what, "--amount"));
    if (in->status) {
        to = grant_status_parse(in->status);
        if (to < 0)
            return mrf_error_set(&ctx->err, MRF_E_INVALID,
                                 "%s: --status is draft, committed, disbursed, closed or "
                                 "cancelled",
                                 what);
    }
    if (in->note)
        TRY(check_text(ctx, what, "--note", in->note, CAP_NOTE, 1));
    TRY(find_live(ctx, ST_GRANTS, what, code, id));
    TRY(grant_load(ctx, id, &g));
    TRY(check_dates(ctx, what, in->start ? in->start : g.start, in->end ? in->end : g.end));
    if (to >= 0 && g.status >= 0 &&
        !grant_status_can_move((enum grant_status)g.status, (enum grant_status)to))
        return mrf_error_set(&ctx->err, MRF_E_RULE,
                             "%s: status moves forward only (draft, committed, disbursed, "
                             "closed; cancelled from draft or committed); %s cannot go from %s "
                             "to %s",
                             what, code, grant_status_str((enum grant_status)g.status),
                             grant_status_str((enum grant_status)to));
    if (in->amount && (g.status == GS_CLOSED || g.status == GS_CANCELLED))
        return mrf_error_set(&ctx->err, MRF_E_RULE, "%s: %s is %s; its amount can no longer change",
                             what, code, grant_status_str((enum grant_status)g.status));
    CAP(capture_begin(ctx->cap));
    if (in->amount && cents != g.amount)
        CAP(capture_set_int(ctx->cap, ST_GRANTS, id, GRANT_AMOUNT, cents));
    if (to >= 0 && to != g.status)
        CAP(capture_set_text(ctx->cap, ST_GRANTS, id, GRANT_STATUS,
                             grant_status_str((enum grant_status)to)));
    if (in->start) {
        if (in->start[0])
            CAP(capture_set_text(ctx->cap, ST_GRANTS, id, GRANT_START, in->start));
        else
            CAP(capture_set_null(ctx->cap, ST_GRANTS, id, GRANT_START));
    }
    if (in->end) {
        if (in->end[0])
            CAP(capture_set_text(ctx->cap, ST_GRANTS, id, GRANT_END, in->end));
        else
            CAP(capture_set_null(ctx->cap, ST_GRANTS, id, GRANT_END));
    }
    if (in->note)
        TRY(write_sealed(ctx, ST_GRANTS, id, GRANT_NOTE, in->note));
    CAP(capture_commit(ctx->cap));
out:
    if (st != MRF_OK)
        capture_rollback(ctx->cap);
    return st;
}

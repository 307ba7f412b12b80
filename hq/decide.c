/* HQ's decision on one conflict record (`mrf-hq resolve`): the ops it writes, checked by the
 * same column table and fund rules as every other write, at a clock newer than both sides and
 * than HQ's own, so the decision wins on every replica; then the record closes with the
 * decision, the reason (which travels to the post) and the officer's note (which stays), the
 * post-year's rules are checked again, and the decision joins the audit chain — all in the
 * caller's one transaction.
 *
 *   accept   keeps the merged state; a column or theme set is written again as it stands, so
 *            a late write from either side can no longer replace it
 *   take     writes side A's or side B's value (value records only)
 *   set      writes HQ's own value: COLUMN=VALUE for a grant's amount, currency, status, theme
 *            or removal; themes=A,B for a post-year's theme set (at most two). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hq.h"

#define MAX_DECISION_OPS 32

struct decision {
    struct hqstore *s;
    const struct hq_config *cfg;
    const struct hq_conflict *c;
    hlc_t clock;
    uint64_t now_ms;
    struct sync_op ops[MAX_DECISION_OPS];
    int nops;
    struct mrf_error *err;
};

/* Adds one op of HQ's at its next clock; the value is copied into the op. */
static enum mrf_status put(struct decision *d, enum sync_table t, const uint8_t id[MRF_ID], int col,
                           const struct sync_value *v)
{
    struct sync_op *op;

    if (d->nops == MAX_DECISION_OPS)
        return mrf_error_set(d->err, MRF_E_INVALID, "resolve: too many values in one decision");
    op = &d->ops[d->nops++];
    memset(op, 0, sizeof *op);
    op->tbl = t;
    memcpy(op->id, id, MRF_ID);
    op->col = col;
    op->v = *v;
    if (v->type == SYNC_TEXT && !v->is_null) {
        size_t n = strlen(v->text) + 1;
        op->owned = xmalloc(n);
        memcpy(op->owned, v->text, n);
        op->v.text = (const char *)op->owned;
    } else if (v->type == SYNC_BLOB && !v->is_null) {
        op->owned = xmalloc(v->n ? v->n : 1);
        memcpy(op->owned, v->blob, v->n);
        op->v.blob = op->owned;
    }
    d->clock = hlc_tick_bounded(d->clock, d->now_ms);
    op->clock = d->clock;
    memcpy(op->device, d->cfg->device_id, MRF_ID);
    return MRF_OK;
}

/* A wire JSON value of the record's column, as an op. */
static enum mrf_status put_json(struct decision *d, const char *json)
{
    struct sync_op tmp;
    enum mrf_status rc;

    rc = sync_value_from_json(json, d->c->tbl, d->c->col, &tmp, d->err);
    if (rc == MRF_OK)
        rc = put(d, d->c->tbl, d->c->row_id, d->c->col, &tmp.v);
    sync_op_release(&tmp);
    return rc;
}

/* ---- theme sets -------------------------------------------------------------------------- */

struct tset {
    int n;
    char theme[THEME_COUNT][16];
    int removed[THEME_COUNT];
};

static enum mrf_status tset_collect(void *arg, const uint8_t id[MRF_ID], const char *theme,
                                    int removed)
{
    struct tset *a = arg;

    (void)id;
    if (a->n < THEME_COUNT && theme_index(theme) >= 0) {
        str_copy(a->theme[a->n], theme, sizeof a->theme[0]);
        a->removed[a->n++] = removed;
    }
    return MRF_OK;
}

/* Parses "FOE,WGR" or "FOE WGR" into want[]; MRF_E_RULE beyond two themes. */
static enum mrf_status parse_set(const char *text, int want[THEME_COUNT], struct mrf_error *err)
{
    char buf[96], *save = NULL;
    int n = 0;

    memset(want, 0, THEME_COUNT * sizeof want[0]);
    str_copy(buf, text, sizeof buf);
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        int t = theme_index(tok);
        if (t < 0)
            return mrf_error_set(err, MRF_E_INVALID,
                                 "resolve: %s is not a theme; themes are FOE, WGR, LGBTIQ, FORB, "
                                 "HRD, ACC",
                                 tok);
        if (!want[t])
            n++;
        want[t] = 1;
    }
    if (n > 2)
        return mrf_error_set(err, MRF_E_RULE,
                             "resolve: a post focuses on at most two themes a year; name two at "
                             "most");
    return MRF_OK;
}

/* Writes a post-year's theme set: the wanted themes live, every other theme row removed. */
static enum mrf_status put_theme_set(struct decision *d, int year, const int want[THEME_COUNT])
{
    struct tset have;
    struct sync_value v;
    uint8_t id[MRF_ID];
    enum mrf_status rc;

    memset(&have, 0, sizeof have);
    rc = hqstore_theme_rows(d->s, d->c->post, year, tset_collect, &have);
    for (int t = 0; rc == MRF_OK && t < THEME_COUNT; t++) {
        int exists = 0;
        for (int i = 0; i < have.n; i++)
            exists |= strcmp(have.theme[i], theme_code(t)) == 0;
        if (!want[t] && !exists)
            continue;
        row_id_derive(id, "themes", d->c->post, year, theme_code(t));
        memset(&v, 0, sizeof v);
        if (want[t] && !exists) {
            v.type = SYNC_INT;
            v.i = year;
            rc = put(d, ST_THEMES, id, THEME_YEAR, &v);
            v.type = SYNC_TEXT;
            v.text = theme_code(t);
            if (rc == MRF_OK)
                rc = put(d, ST_THEMES, id, THEME_THEME, &v);
        }
        v.type = SYNC_INT;
        v.text = NULL;
        v.i = want[t] ? 0 : 1;
        if (rc == MRF_OK)
            rc = put(d, ST_THEMES, id, THEME_REMOVED, &v);
    }
    return rc;
}

/* The set a record's side holds, as JSON text "\"FOE WGR\"". */
static enum mrf_status side_set(const char *json, int want[THEME_COUNT], struct mrf_error *err)
{
    char text[HQC_VALUE_MAX];

    hq_value_text(ST_COUNT, -1, json, text, sizeof text);
    return parse_set(strcmp(text, "(none)") == 0 ? "" : text, want, err);
}

/* ---- --set COLUMN=VALUE on a grant ------------------------------------------------------- */

/* The grant's themes for its year must include theme (the fund's rule). */
static enum mrf_status theme_chosen(struct decision *d, int year, const char *theme)
{
    struct tset have;
    enum mrf_status rc;

    memset(&have, 0, sizeof have);
    rc = hqstore_theme_rows(d->s, d->c->post, year, tset_collect, &have);
    for (int i = 0; rc == MRF_OK && i < have.n; i++)
        if (!have.removed[i] && strcmp(have.theme[i], theme) == 0)
            return MRF_OK;
    if (rc != MRF_OK)
        return rc;
    return mrf_error_set(d->err, MRF_E_RULE,
                         "resolve: %s is not one of %s's themes for %d; choose one of them, or "
                         "resolve the theme set first",
                         theme, d->c->post, year);
}

static enum mrf_status set_grant(struct decision *d, const char *name, const char *value)
{
    struct sync_value v;
    char cur[4];
    int64_t cents;
    int year = 0;
    enum mrf_status rc;

    memset(&v, 0, sizeof v);
    if (strcasecmp(name, "amount") == 0 || strcasecmp(name, "amount_cents") == 0) {
        rc = money_parse(value, &cents, d->err);
        if (rc != MRF_OK)
            return rc;
        v.type = SYNC_INT;
        v.i = cents;
        return put(d, ST_GRANTS, d->c->row_id, GRANT_AMOUNT, &v);
    }
    if (strcasecmp(name, "currency") == 0) {
        rc = currency_parse(value, cur, d->err);
        if (rc != MRF_OK)
            return rc;
        v.type = SYNC_TEXT;
        v.text = cur;
        return put(d, ST_GRANTS, d->c->row_id, GRANT_CURRENCY, &v);
    }
    if (strcasecmp(name, "status") == 0) {
        int st = grant_status_parse(value);
        if (st < 0)
            return mrf_error_set(d->err, MRF_E_INVALID,
                                 "resolve: a status is draft, committed, disbursed, closed or "
                                 "cancelled");
        v.type = SYNC_TEXT;
        v.text = grant_status_str((enum grant_status)st);
        return put(d, ST_GRANTS, d->c->row_id, GRANT_STATUS, &v);
    }
    if (strcasecmp(name, "theme") == 0) {
        int t = theme_index(value);
        if (t < 0)
            return mrf_error_set(d->err, MRF_E_INVALID,
                                 "resolve: %s is not a theme; themes are FOE, WGR, LGBTIQ, FORB, "
                                 "HRD, ACC",
                                 value);
        rc = hqstore_row_year(d->s, d->c->post, ST_GRANTS, d->c->row_id, &year, NULL, NULL);
        if (rc == MRF_OK)
            rc = theme_chosen(d, year, theme_code(t));
        if (rc != MRF_OK)
            return rc;
        v.type = SYNC_TEXT;
        v.text = theme_code(t);
        return put(d, ST_GRANTS, d->c->row_id, GRANT_THEME, &v);
    }
    if (strcasecmp(name, "removed") == 0) {
        if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
            return mrf_error_set(d->err, MRF_E_INVALID, "resolve: removed=yes or removed=no");
        v.type = SYNC_INT;
        v.i = strcmp(value, "yes") == 0;
        return put(d, ST_GRANTS, d->c->row_id, GRANT_REMOVED, &v);
    }
    return mrf_error_set(d->err, MRF_E_INVALID,
                         "resolve: HQ can set a grant's amount, currency, status, theme or "
                         "removed; not %s",
                         name);
}

/* ---- the decision ------------------------------------------------------------------------ */

static int is(const struct hq_conflict *c, const char *rule)
{
    return strcmp(c->rule, rule) == 0;
}

/* A grant record's row id from its subject's code, for rule records without a column. */
static enum mrf_status grant_row(struct decision *d, struct hq_conflict *c)
{
    char code[16];

    if (c->has_col)
        return MRF_OK;
    if (sscanf(c->subject, "%15s", code) != 1)
        return mrf_error_set(d->err, MRF_E_INTERNAL, "resolve: a record without its grant");
    c->tbl = ST_GRANTS;
    c->col = GRANT_STATUS;
    return hqstore_row_find(d->s, c->post, ST_GRANTS, code, c->row_id);
}

/* Builds the ops of a decision into d (nothing is written yet). */
static enum mrf_status build(struct decision *d, struct hq_conflict *c, const struct hq_resolve *r)
{
    int themes = is(c, "theme_set") || is(c, "themes_over_two");
    int grant = is(c, "concurrent_edit") || is(c, "status_backwards") ||
                is(c, "theme_not_chosen") || is(c, "removed_partner");
    int want[THEME_COUNT];
    char cur[HQC_VALUE_MAX];
    hlc_t clock;
    uint8_t dev[MRF_ID];
    int found;
    enum mrf_status rc = MRF_OK;

    switch (r->form) {
    case HQ_ACCEPT:
        if (is(c, "concurrent_edit")) {
            rc =
                hqstore_column_clock(d->s, c->post, c->tbl, c->row_id, c->col, &clock, dev, &found);
            if (rc == MRF_OK && found)
                rc = hqstore_write_value(d->s, c->post, c->tbl, c->row_id, c->col, clock, dev, cur,
                                         sizeof cur, &found);
            if (rc == MRF_OK && found)
                rc = put_json(d, cur);
        }
        return rc; /* a rule accepted as it stands writes nothing */
    case HQ_TAKE:
        if (strcmp(c->kind, "value") != 0)
            return mrf_error_set(d->err, MRF_E_RULE,
                                 "resolve: %s is a %s record and has no sides to take; use "
                                 "--accept or --set",
                                 c->id, c->kind);
        if (themes) {
            rc = side_set(r->side == 'A' ? c->a_value : c->b_value, want, d->err);
            return rc == MRF_OK ? put_theme_set(d, c->year, want) : rc;
        }
        return put_json(d, r->side == 'A' ? c->a_value : c->b_value);
    case HQ_SET:
        for (int i = 0; rc == MRF_OK && i < r->nset; i++) {
            if (themes && strcasecmp(r->set_name[i], "themes") == 0) {
                rc = parse_set(r->set_value[i], want, d->err);
                if (rc == MRF_OK)
                    rc = put_theme_set(d, c->year, want);
            } else if (grant) {
                rc = grant_row(d, c);
                if (rc == MRF_OK)
                    rc = set_grant(d, r->set_name[i], r->set_value[i]);
            } else {
                rc = mrf_error_set(d->err, MRF_E_RULE,
                                   "resolve: %s (%s) has no value HQ can set here: %s; use "
                                   "--accept, or change it at its source (mrf-hq allocate, or "
                                   "the post)",
                                   c->id, c->rule,
                                   themes ? "name the year's themes as themes=A,B"
                                          : "the record is not about one row");
            }
        }
        return rc;
    }
    return MRF_E_INTERNAL;
}

static const char *decision_name(const struct hq_resolve *r)
{
    return r->form == HQ_ACCEPT ? "accept"
           : r->form == HQ_SET  ? "set"
           : r->side == 'A'     ? "take_a"
                                : "take_b";
}

enum mrf_status hq_resolve(struct hqstore *s, const struct mrf_secrets *keys,
                           const struct hq_resolve *r, struct hq_resolved *out,
                           struct mrf_error *err)
{
    struct decision d;
    struct hq_conflict c;
    struct hq_config cfg;
    struct buf body;
    char fields[128];
    int applied;
    int64_t now;
    enum mrf_status rc;

    memset(&d, 0, sizeof d);
    memset(out, 0, sizeof *out);
    buf_init(&body, ENV_MAX);
    d.s = s;
    d.cfg = &cfg;
    d.c = &c;
    d.err = err;
    d.now_ms = time_now_ms();
    now = (int64_t)(d.now_ms / 1000u);

    rc = hqstore_config_get(s, &cfg);
    if (rc == MRF_OK)
        rc = hqstore_conflict_get(s, r->id, &c);
    if (rc == MRF_E_NOTFOUND) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "resolve: no conflict %s; see mrf-hq conflicts --all", r->id);
        goto out;
    }
    if (rc != MRF_OK) {
        rc = mrf_error_set(err, rc, "%s", hqstore_errmsg(s));
        goto out;
    }
    if (c.closed_at != 0) {
        rc = mrf_error_set(err, MRF_E_RULE,
                           "resolve: %s is closed already (%s); see mrf-hq conflict show %s", c.id,
                           c.decision, c.id);
        goto out;
    }
    /* newer than both sides and than anything HQ issued */
    d.clock = hlc_max(cfg.clock, hlc_max(c.a_clock, c.b_clock));
    rc = build(&d, &c, r);
    for (int i = 0; rc == MRF_OK && i < d.nops; i++) {
        rc = hqstore_apply(s, c.post, &d.ops[i], &applied);
        if (rc == MRF_OK && !applied)
            rc = mrf_error_set(err, MRF_E_STATE,
                               "resolve: the row holds a write with a clock ahead of HQ's own, so "
                               "the decision would not win; nothing was changed (see "
                               "docs/DECISIONS.md, \"Clocks\")");
        else if (rc != MRF_OK && rc != MRF_E_STATE)
            rc = mrf_error_set(err, rc, "%s", hqstore_errmsg(s));
    }
    if (rc != MRF_OK)
        goto out;
    if (d.nops > 0 && (rc = hqstore_clock_save(s, d.clock)) != MRF_OK)
        goto store;
    rc = hqstore_conflict_close(s, c.id, decision_name(r), r->reason, r->note, now);
    if (rc == MRF_OK)
        rc = hq_conflict_recheck(s, c.post, c.year, now);
    if (rc != MRF_OK)
        goto store;
    snprintf(fields, sizeof fields, "\"conflict\":\"%s\",\"decision\":\"%s\"", c.id,
             decision_name(r));
    rc = hq_audit_ops_body(&body, c.post, fields, d.ops, d.nops);
    if (rc == MRF_OK)
        rc = hq_audit_append(s, keys, "resolve", c.post, "{}", (const uint8_t *)body.data, body.len,
                             now, NULL);
    if (rc != MRF_OK)
        goto store;
    str_copy(out->id, c.id, sizeof out->id);
    str_copy(out->post, c.post, sizeof out->post);
    str_copy(out->decision, decision_name(r), sizeof out->decision);
    out->ops = d.nops;
    goto out;
store:
    rc = mrf_error_set(err, rc, "%s", hqstore_errmsg(s));
out:
    for (int i = 0; i < d.nops; i++)
        sync_op_release(&d.ops[i]);
    buf_release(&body);
    return rc;
}

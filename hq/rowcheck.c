/* New rows must be whole: a change set may name a row HQ does not hold for the sender's post
 * only together with every column such a row cannot be without (sync_column_needed: a grant's
 * partner, theme, year, amount, currency and status; a partner's risk; a theme's year and
 * theme). A device writes all of them when it creates a row, in one transaction, and its
 * cut() never splits those writes across change sets; columns of a row nobody created can
 * never form a valid row, so ingest quarantines their change set as a whole (hq/ingest.c).
 * Rows HQ holds, removed ones included, take any column. HQ's own writes (allocate, resolve)
 * do not come through here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"

/* One op's place: what the check sorts, so that one row's ops are adjacent. */
struct place {
    int tbl;
    int col;
    uint8_t id[MRF_ID];
};

static int by_row(const void *a, const void *b)
{
    const struct place *x = a, *y = b;

    if (x->tbl != y->tbl)
        return x->tbl < y->tbl ? -1 : 1;
    return memcmp(x->id, y->id, MRF_ID);
}

_Static_assert(THEME_NCOLS <= 32 && PARTNER_NCOLS <= 32 && GRANT_NCOLS <= 32 && ALLOC_NCOLS <= 32,
               "a row's columns fit a 32-bit mask");

/* The columns a new row of t cannot be without, as a mask of column ids. */
static uint32_t needed_mask(enum sync_table t)
{
    const struct sync_table_desc *d = sync_table_get(t);
    uint32_t m = 0;

    for (int c = 0; c < d->ncols; c++)
        if (sync_column_needed(t, c))
            m |= 1u << c;
    return m;
}

/* The reason for row (t, id), which lacks the columns in missing. */
static void reason(enum sync_table t, const uint8_t id[MRF_ID], uint32_t missing, char *why,
                   size_t n)
{
    const struct sync_table_desc *d = sync_table_get(t);
    char code[16];
    int col = 0;

    while (!(missing & (1u << col)))
        col++;
    if (d->code_prefix != NULL) {
        shortcode_make(d->code_prefix, id, code);
    } else {
        char *hx = hex_encode(id, 4);
        str_copy(code, hx, sizeof code);
        x_free(hx);
    }
    snprintf(why, n, "a new row must carry its required columns: %s %s has no %s", d->name, code,
             d->cols[col].name);
}

enum mrf_status hq_rows_check(struct hqstore *s, const char *post, const struct sync_op *ops,
                              int nops, char *why, size_t n, struct hq_row_fact **facts,
                              int *nfacts)
{
    struct place *p;
    enum mrf_status rc = MRF_OK;

    why[0] = '\0';
    *facts = NULL;
    *nfacts = 0;
    if (nops <= 0)
        return MRF_OK;
    p = xcalloc((size_t)nops, sizeof *p);
    for (int i = 0; i < nops; i++) {
        p[i].tbl = (int)ops[i].tbl;
        p[i].col = ops[i].col;
        memcpy(p[i].id, ops[i].id, MRF_ID);
    }
    qsort(p, (size_t)nops, sizeof *p, by_row);
    for (int i = 0, j; i < nops && rc == MRF_OK && why[0] == '\0'; i = j) {
        enum sync_table t = (enum sync_table)p[i].tbl;
        uint32_t have = 0, need = needed_mask(t);
        int year, exists;
        int64_t rn;

        for (j = i; j < nops && by_row(&p[i], &p[j]) == 0; j++)
            have |= 1u << p[j].col;
        if ((have & need) == need)
            continue;
        rc = hqstore_row_year(s, post, t, p[i].id, &year, &exists, &rn);
        if (rc == MRF_OK && !exists)
            reason(t, p[i].id, need & ~have, why, n);
        if (rc == MRF_OK) { /* rows come in (table, id) order: so do their facts */
            struct hq_row_fact *f;
            if (*facts == NULL)
                *facts = xcalloc((size_t)nops, sizeof **facts);
            f = &(*facts)[(*nfacts)++];
            f->tbl = p[i].tbl;
            memcpy(f->id, p[i].id, MRF_ID);
            f->year = year;
            f->exists = exists;
            f->rn = rn;
        }
    }
    x_free(p);
    return rc;
}

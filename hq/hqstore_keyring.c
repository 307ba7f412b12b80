/* The HQ store's key ring area: per post, the first announcement of each epoch's post public
 * key and the grants of post keys to devices (schema/hq/004_keyring.sql). HQ keeps and relays
 * them and never holds a post's secret key: a grant is the key sealed to its target device.
 * The first of each (post, epoch) announcement and (post, epoch, target, approver) grant stays
 * (INSERT OR IGNORE): a later one is a race lost or a replay. The statements live in stmt_sql[]
 * beside their enum, prepared through hqs_stmt into this area's slots (hqstore_db.h). */
#include <string.h>

#include <sqlite3.h>

#include "hqstore_db.h"

enum keyring_stmt {
    KS_KEY_GET,
    KS_KEY_PUT,
    KS_KEY_LATEST,
    KS_KEY_SCAN,
    KS_GRANT_PUT,
    KS_GRANT_HOLDS,
    KS_GRANT_SCAN,
    KS_COUNT
};

static const char *const stmt_sql[KS_COUNT] = {
    [KS_KEY_GET] = "SELECT epoch, pk, creator, sig FROM postkeys WHERE post = ?1 AND epoch = ?2",
    [KS_KEY_PUT] = "INSERT OR IGNORE INTO postkeys (post, epoch, pk, creator, sig, received_at)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [KS_KEY_LATEST] = "SELECT coalesce(max(epoch), 0) FROM postkeys WHERE post = ?1",
    [KS_KEY_SCAN] = "SELECT epoch, pk, creator, sig FROM postkeys WHERE post = ?1 ORDER BY epoch",
    [KS_GRANT_PUT] = "INSERT OR IGNORE INTO postkey_grants (post, epoch, target, approver, tbox,"
                     " wrapped, proof, sig, received_at)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [KS_GRANT_HOLDS] = "SELECT EXISTS (SELECT 1 FROM postkey_grants WHERE post = ?1 AND"
                       " epoch = ?2 AND target = ?3) OR EXISTS (SELECT 1 FROM postkeys WHERE"
                       " post = ?1 AND epoch = ?2 AND creator = ?3)",
    [KS_GRANT_SCAN] = "SELECT g.epoch, k.pk, g.target, g.tbox, g.approver, g.wrapped, g.sig,"
                      " g.proof"
                      " FROM postkey_grants g JOIN postkeys k ON k.post = g.post AND"
                      " k.epoch = g.epoch WHERE g.post = ?1 AND g.target = ?2"
                      " ORDER BY g.epoch, g.received_at",
};

_Static_assert(KS_COUNT <= HQS_AREA_SLOTS, "the keyring area has HQS_AREA_SLOTS statements");

static sqlite3_stmt *stmt_get(struct hqstore *s, enum keyring_stmt i)
{
    return hqs_stmt(s, HQS_AREA_KEYRING, (int)i, stmt_sql[i]);
}

/* An announcement from columns epoch, pk, creator, sig of st: 1 if whole. */
static int ann_row(sqlite3_stmt *st, const char *post, struct postkey_ann *a)
{
    memset(a, 0, sizeof *a);
    str_copy(a->post, post, sizeof a->post);
    a->epoch = (uint32_t)sqlite3_column_int64(st, 0);
    return hqs_column_blob(st, 1, a->pk, MRF_BOX_PK) &&
           hqs_column_blob(st, 2, a->creator, MRF_ID) && hqs_column_blob(st, 3, a->sig, MRF_SIG);
}

enum mrf_status hqstore_postkey_get(struct hqstore *s, const char *post, uint32_t epoch,
                                    struct postkey_ann *a)
{
    sqlite3_stmt *st = stmt_get(s, KS_KEY_GET);
    enum mrf_status rc = MRF_OK;
    int r = SQLITE_DONE;

    memset(a, 0, sizeof *a);
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, epoch);
    r = sqlite3_step(st);
    if (r == SQLITE_DONE)
        rc = MRF_E_NOTFOUND;
    else if (r != SQLITE_ROW)
        rc = hqs_fail(s, "reading a post key");
    else if (!ann_row(st, post, a))
        rc = mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: a post key row is damaged");
    sqlite3_reset(st);
    return rc;
}

enum mrf_status hqstore_postkey_put(struct hqstore *s, const struct postkey_ann *a, int64_t now,
                                    int *stored)
{
    sqlite3_stmt *st = stmt_get(s, KS_KEY_PUT);

    *stored = 0;
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, a->post, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->epoch);
    sqlite3_bind_blob(st, 3, a->pk, MRF_BOX_PK, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, a->creator, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, a->sig, MRF_SIG, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, now);
    if (hqs_step_once(st) != SQLITE_DONE)
        return hqs_fail(s, "keeping a post key");
    *stored = sqlite3_changes(s->db) > 0;
    return MRF_OK;
}

enum mrf_status hqstore_postkey_latest(struct hqstore *s, const char *post, uint32_t *epoch)
{
    sqlite3_stmt *st = stmt_get(s, KS_KEY_LATEST);
    enum mrf_status rc = MRF_OK;

    *epoch = 0;
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        *epoch = (uint32_t)sqlite3_column_int64(st, 0);
    else
        rc = hqs_fail(s, "reading the post key epoch");
    sqlite3_reset(st);
    return rc;
}

enum mrf_status hqstore_postkey_scan(struct hqstore *s, const char *post, hqstore_postkey_fn fn,
                                     void *arg)
{
    sqlite3_stmt *st = stmt_get(s, KS_KEY_SCAN);
    struct postkey_ann a;
    enum mrf_status rc = MRF_OK;
    int r = SQLITE_DONE;

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    while (rc == MRF_OK && (r = sqlite3_step(st)) == SQLITE_ROW)
        rc = ann_row(st, post, &a)
                 ? fn(arg, &a)
                 : mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: a post key row is damaged");
    if (rc == MRF_OK && r != SQLITE_DONE)
        rc = hqs_fail(s, "listing post keys");
    sqlite3_reset(st);
    return rc;
}

enum mrf_status hqstore_postgrant_put(struct hqstore *s, const struct postkey_grant *g, int64_t now,
                                      int *stored)
{
    sqlite3_stmt *st = stmt_get(s, KS_GRANT_PUT);

    *stored = 0;
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, g->post, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, g->epoch);
    sqlite3_bind_blob(st, 3, g->target, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, g->approver, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, g->target_box_pk, MRF_BOX_PK, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, g->wrapped, MRF_WRAP, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, g->proof, MRF_PROOF, SQLITE_STATIC);
    sqlite3_bind_blob(st, 8, g->sig, MRF_SIG, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, now);
    if (hqs_step_once(st) != SQLITE_DONE)
        return hqs_fail(s, "keeping a post key grant");
    *stored = sqlite3_changes(s->db) > 0;
    return MRF_OK;
}

enum mrf_status hqstore_postgrant_holds(struct hqstore *s, const char *post, uint32_t epoch,
                                        const uint8_t device[MRF_ID], int *holds)
{
    sqlite3_stmt *st = stmt_get(s, KS_GRANT_HOLDS);
    enum mrf_status rc = MRF_OK;

    *holds = 0;
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, epoch);
    sqlite3_bind_blob(st, 3, device, MRF_ID, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        *holds = sqlite3_column_int(st, 0) != 0;
    else
        rc = hqs_fail(s, "reading who holds a post key");
    sqlite3_reset(st);
    return rc;
}

enum mrf_status hqstore_postgrant_scan(struct hqstore *s, const char *post,
                                       const uint8_t target[MRF_ID], hqstore_postgrant_fn fn,
                                       void *arg)
{
    sqlite3_stmt *st = stmt_get(s, KS_GRANT_SCAN);
    struct postkey_grant g;
    enum mrf_status rc = MRF_OK;
    int r = SQLITE_DONE;

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, target, MRF_ID, SQLITE_STATIC);
    while (rc == MRF_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&g, 0, sizeof g);
        str_copy(g.post, post, sizeof g.post);
        g.epoch = (uint32_t)sqlite3_column_int64(st, 0);
        if (hqs_column_blob(st, 1, g.pk, MRF_BOX_PK) && hqs_column_blob(st, 2, g.target, MRF_ID) &&
            hqs_column_blob(st, 3, g.target_box_pk, MRF_BOX_PK) &&
            hqs_column_blob(st, 4, g.approver, MRF_ID) &&
            hqs_column_blob(st, 5, g.wrapped, MRF_WRAP) && hqs_column_blob(st, 6, g.sig, MRF_SIG) &&
            hqs_column_blob(st, 7, g.proof, MRF_PROOF))
            rc = fn(arg, &g);
        else
            rc = mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: a post key grant is damaged");
    }
    if (rc == MRF_OK && r != SQLITE_DONE)
        rc = hqs_fail(s, "listing post key grants");
    sqlite3_reset(st);
    return rc;
}

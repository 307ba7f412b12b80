/* What HQ's dashboard (`mrf-hq ui`) reads from the HQ store beyond what the commands read: a
 * read snapshot, so the several queries of one page see one state while `mrf-hq serve` keeps
 * writing (WAL: the snapshot never blocks it), and the change sets HQ quarantined, with the
 * reason it gave. Statements live in view_sql[] beside their enum, prepared on first use
 * through hqs_stmt. Nothing here reads a sealed column. */
#include <sqlite3.h>

#include "hqstore_db.h"

enum view_stmt { VIEW_BEGIN_READ, VIEW_QUARANTINED, VIEW_COUNT };

static const char *const view_sql[VIEW_COUNT] = {
    [VIEW_BEGIN_READ] = "BEGIN DEFERRED",
    /* the quarantine reason is kept in the ack column (hqstore_received_put) */
    [VIEW_QUARANTINED] = "SELECT id, device, received_at, coalesce(ack, '') FROM received"
                         " WHERE verdict = 'quarantined' AND (?1 IS NULL OR post = ?1)"
                         " ORDER BY received_at DESC, id LIMIT ?2",
};

enum mrf_status hqstore_begin_read(struct hqstore *s)
{
    sqlite3_stmt *st = hqs_stmt(s, HQS_AREA_VIEW, VIEW_BEGIN_READ, view_sql[VIEW_BEGIN_READ]);

    if (st == NULL)
        return MRF_E_IO;
    if (hqs_step_once(st) != SQLITE_DONE)
        return hqs_fail(s, "beginning a read");
    s->in_tx = 1;
    return MRF_OK;
}

enum mrf_status hqstore_quarantined_list(struct hqstore *s, const char *post, int limit,
                                         hqstore_quarantined_fn fn, void *arg)
{
    sqlite3_stmt *st = hqs_stmt(s, HQS_AREA_VIEW, VIEW_QUARANTINED, view_sql[VIEW_QUARANTINED]);
    struct hq_quarantined q;
    enum mrf_status rc = MRF_OK;
    int step;

    if (st == NULL)
        return MRF_E_IO;
    if (post != NULL)
        sqlite3_bind_text(st, 1, post, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int(st, 2, limit);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (!hqs_column_blob(st, 0, q.changeset, MRF_ID) ||
            !hqs_column_blob(st, 1, q.device, MRF_ID)) {
            rc = mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: a received row is damaged");
            break;
        }
        q.at = sqlite3_column_int64(st, 2);
        hqs_column_text(st, 3, q.reason, sizeof q.reason);
        rc = fn(arg, &q);
        if (rc != MRF_OK)
            break;
    }
    if (rc == MRF_OK && step != SQLITE_DONE)
        rc = hqs_fail(s, "reading the quarantined change sets");
    sqlite3_reset(st);
    return rc;
}

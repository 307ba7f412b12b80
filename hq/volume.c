/* The volume bounds per device at ingest (docs/DECISIONS.md, "Volume bounds per device"): how
 * many ops one change set may carry and how many one device may send in an hour, HQ's
 * operator's setting or this build's default (hq.h). Counting is a fixed hour per device,
 * kept in its devices row (hqstore_volume.c): one row read and one written per change set,
 * inside the ingest transaction, so a refused or rolled-back change set counts nothing and a
 * restart forgets nothing. Whoever is over is told the bound and when the hour ends; the
 * refusal itself is hq/ingest.c's. */
#include "hq.h"

enum mrf_status hq_limits_effective(struct hqstore *s, struct hq_limits *l)
{
    enum mrf_status rc = hqstore_limits_get(s, l);

    if (rc != MRF_OK)
        return rc;
    if (l->per_changeset <= 0)
        l->per_changeset = HQ_OPS_PER_CHANGESET_DEFAULT;
    if (l->per_hour <= 0)
        l->per_hour = HQ_OPS_PER_HOUR_DEFAULT;
    return MRF_OK;
}

enum mrf_status hq_volume_admit(struct hqstore *s, const uint8_t device[MRF_ID], int64_t nops,
                                int64_t now, struct hq_volume *v)
{
    struct hq_limits l;
    struct hq_window w;
    enum mrf_status rc;

    v->over = NULL;
    v->bound = v->used = v->retry_after = 0;
    v->ops = nops;
    if (nops <= 0) /* a pull: never bounded, never counted */
        return MRF_OK;
    rc = hq_limits_effective(s, &l);
    if (rc == MRF_OK)
        rc = hqstore_window_get(s, device, &w);
    if (rc != MRF_OK)
        return rc;
    if (nops > l.per_changeset) {
        v->over = "over_changeset_bound";
        v->bound = l.per_changeset;
        v->used = w.ops;
        return MRF_OK;
    }
    /* A new hour after the last one ended; also when HQ's own clock was set back past the
     * hour's start, which must not hold a device for longer than an hour. */
    if (w.start == 0 || now < w.start || now - w.start >= HQ_WINDOW_S) {
        w.start = now;
        w.ops = 0;
    }
    if (w.ops > 0 && nops > l.per_hour - w.ops) {
        v->over = "over_hourly_bound";
        v->bound = l.per_hour;
        v->used = w.ops;
        v->retry_after = w.start + HQ_WINDOW_S - now;
        return MRF_OK;
    }
    w.ops += nops;
    return hqstore_window_put(s, device, &w);
}

/* ingest_steps — hq_ingest (hq/ingest.c, declared in hq.h) in its two steps, for the tests that
 * interleave two requests on two store handles the way two server workers can:
 * hq_ingest_read does everything before the write transaction (envelope, authentication,
 * body, token secret) and hq_ingest_write the transaction and the sealed answer. hq_ingest is
 * exactly one then the other. Internal to hq/ and its tests; servers call hq_ingest.
 *
 * A struct ingest is owned by the caller (hq_ingest_free) and keeps pointers to the store
 * handle, the identity, the body and the result given to hq_ingest_read: all must outlive it.
 * One thread uses it at a time. */
#ifndef MRF_INGEST_STEPS_H
#define MRF_INGEST_STEPS_H

#include "hq.h"

struct ingest;

/* The first step of hq_ingest: r is initialised by the caller (ingest_result_init).
 * OUT: *out, the request to hand to hq_ingest_write, or NULL when r already holds the answer
 * (a refusal) or on failure. Returns what hq_ingest would. */
enum mrf_status hq_ingest_read(struct hqstore *s, const struct hq_identity *id, const uint8_t *body,
                               size_t len, struct ingest_result *r, struct ingest **out);
/* The second step: the write transaction and the answer, into the r given to hq_ingest_read.
 * Returns what hq_ingest would. */
enum mrf_status hq_ingest_write(struct ingest *in);
/* For the envelopes of one pouch (hq/pouch.c), which were all sealed at the cursors the
 * device held when it wrote the pouch: between hq_ingest_read and hq_ingest_write, makes the
 * answer's pages start after cursor and ccursor (where the previous answer's pages ended)
 * when those are past the request's, as the device's next request would have asked over the
 * network. Only the answer changes; the ops, their checks and conflicts are the request's.
 * A version-1 request is left as it is. */
void hq_ingest_answer_after(struct ingest *in, int64_t cursor, int64_t ccursor);
/* 1 if the opened request carries ops (0: a pull). */
int hq_ingest_has_ops(const struct ingest *in);
/* After hq_ingest_write: where the answer's pages ended, and whether HQ has more. */
void hq_ingest_page_end(const struct ingest *in, int64_t *cursor, int64_t *ccursor, int *more);
/* Wipes and frees in (the enrollment secret it may hold included); NULL is a no-op. */
void hq_ingest_free(struct ingest *in);

#endif

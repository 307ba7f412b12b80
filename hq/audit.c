/* HQ's audit chain, written: every accepted change set (its envelope exactly as received) and
 * every act of HQ's own (allocations, decisions, reveals) becomes one link, hashed into the
 * chain and signed by HQ, in the same transaction as what it records. A link's signature
 * covers its sequence, time, kind, post, meta and chain hash; the chain hash covers the body's
 * hash and every earlier link. What the chain proves, and how, is in docs/DECISIONS.md
 * ("Audit: what HQ can prove"); hq/audit_verify.c checks it. */
#include <assert.h>
#include <string.h>

#include <sodium.h>

#include "hq.h"

#define ENTRY_TAG "mrf-audit-entry-v1"

/* The signed message of e: tag | u64 seq | i64 at | kind 0 | post 0 | meta 0 | chain hash,
 * integers big-endian. OUT: *len. Caller frees. */
static uint8_t *entry_message(const struct hq_audit_entry *e, size_t *len)
{
    const char *meta = e->meta != NULL ? e->meta : "";
    size_t nk = strlen(e->kind), np = strlen(e->post), nm = strlen(meta);
    size_t n = sizeof ENTRY_TAG - 1;
    uint8_t *m = xmalloc(n + 16 + nk + np + nm + 3 + 32);
    uint64_t seq = (uint64_t)e->seq, at = (uint64_t)e->at;

    memcpy(m, ENTRY_TAG, n);
    for (int i = 7; i >= 0; i--)
        m[n++] = (uint8_t)(seq >> (8 * i));
    for (int i = 7; i >= 0; i--)
        m[n++] = (uint8_t)(at >> (8 * i));
    memcpy(m + n, e->kind, nk + 1);
    n += nk + 1;
    memcpy(m + n, e->post, np + 1);
    n += np + 1;
    memcpy(m + n, meta, nm + 1);
    n += nm + 1;
    memcpy(m + n, e->chain_hash, 32);
    *len = n + 32;
    return m;
}

enum mrf_status hq_audit_entry_verify(const struct hq_audit_entry *e,
                                      const uint8_t sign_pk[MRF_SIGN_PK])
{
    size_t len;
    uint8_t *m = entry_message(e, &len);
    enum mrf_status rc = mrf_verify(e->sig, m, len, sign_pk) == MRF_OK ? MRF_OK : MRF_E_AUTH;

    x_free(m);
    return rc;
}

enum mrf_status hq_audit_append(struct hqstore *s, const struct mrf_secrets *keys, const char *kind,
                                const char *post, const char *meta, const uint8_t *body, size_t len,
                                int64_t now, struct audit_head *head)
{
    struct hq_audit_entry e;
    uint8_t both[64], *m;
    size_t mlen;
    enum mrf_status rc;

    assert(keys != NULL && kind != NULL && (body != NULL || len == 0));
    memset(&e, 0, sizeof e);
    rc = hqstore_audit_last(s, &e.seq, e.prev_hash);
    if (rc != MRF_OK)
        return rc;
    e.seq++;
    e.at = now;
    str_copy(e.kind, kind, sizeof e.kind);
    str_copy(e.post, post != NULL ? post : "", sizeof e.post);
    e.has_body = 1;
    e.meta = meta != NULL ? meta : "{}";
    e.body = body;
    e.body_len = len;
    mrf_hash(e.envelope_hash, sizeof e.envelope_hash, body, len, NULL, 0);
    memcpy(both, e.prev_hash, 32);
    memcpy(both + 32, e.envelope_hash, 32);
    mrf_hash(e.chain_hash, sizeof e.chain_hash, both, sizeof both, NULL, 0);
    m = entry_message(&e, &mlen);
    mrf_sign(e.sig, m, mlen, keys->sign_sk);
    x_free(m);
    rc = hqstore_audit_put(s, &e);
    if (rc == MRF_OK && head != NULL) {
        head->seq = e.seq;
        memcpy(head->hash, e.chain_hash, sizeof head->hash);
        audit_head_sign(head, keys->sign_sk);
    }
    return rc;
}

enum mrf_status hq_audit_ops_body(struct buf *b, const char *post, const char *fields,
                                  const struct sync_op *ops, int n)
{
    int64_t count = 0;
    enum mrf_status rc;

    buf_reset(b);
    rc = buf_printf(b, "{\"v\":1,\"post\":\"%s\"%s%s,\"ops\":[", post,
                    fields != NULL && fields[0] != '\0' ? "," : "", fields != NULL ? fields : "");
    for (int i = 0; i < n && rc == MRF_OK; i++)
        rc = changeset_put_op(b, &count, &ops[i], 1);
    if (rc == MRF_OK)
        rc = buf_puts(b, "]}");
    return rc;
}

enum mrf_status hq_audit_head(struct hqstore *s, const struct mrf_secrets *keys,
                              struct audit_head *head)
{
    enum mrf_status rc;

    memset(head, 0, sizeof *head);
    rc = hqstore_audit_last(s, &head->seq, head->hash);
    if (rc == MRF_OK)
        audit_head_sign(head, keys->sign_sk);
    return rc;
}

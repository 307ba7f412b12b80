/* Rate-limiting and summarising of `mrf-hq serve`'s refusal lines (contract in
 * hq/serve_log.h): per window, a few full lines per address, a cap for all addresses, and
 * one summary line per (address, reason) for the rest. Tables are fixed arrays searched
 * linearly: a window tracks at most LOGSUM_ADDRS addresses and LOGSUM_PAIRS pairs, and a
 * lookup costs far less than the TLS handshake every request has already paid. */
#include <string.h>

#include "common.h"
#include "serve_log.h"

void logsum_init(struct logsum *ls, uint64_t window_ms, uint64_t now_ms)
{
    uint64_t scaled = (uint64_t)LOGSUM_LINES * window_ms / 60000u;

    memset(ls, 0, sizeof *ls);
    ls->window_ms = window_ms;
    ls->start_ms = now_ms;
    ls->lines_max = scaled < LOGSUM_LINES_MIN ? LOGSUM_LINES_MIN
                    : scaled > LOGSUM_LINES   ? LOGSUM_LINES
                                              : (unsigned)scaled;
}

static struct logsum_addr *addr_slot(struct logsum *ls, const char *addr)
{
    for (unsigned i = 0; i < ls->naddrs; i++)
        if (strcmp(ls->addrs[i].addr, addr) == 0)
            return &ls->addrs[i];
    if (ls->naddrs == LOGSUM_ADDRS)
        return NULL;
    str_copy(ls->addrs[ls->naddrs].addr, addr, LOGSUM_ADDR_MAX);
    ls->addrs[ls->naddrs].full = 0;
    return &ls->addrs[ls->naddrs++];
}

static struct logsum_pair *pair_slot(struct logsum *ls, const char *addr, const char *reason)
{
    for (unsigned i = 0; i < ls->npairs; i++)
        if (strcmp(ls->pairs[i].addr, addr) == 0 && strcmp(ls->pairs[i].reason, reason) == 0)
            return &ls->pairs[i];
    if (ls->npairs == LOGSUM_PAIRS)
        return NULL;
    str_copy(ls->pairs[ls->npairs].addr, addr, LOGSUM_ADDR_MAX);
    str_copy(ls->pairs[ls->npairs].reason, reason, LOGSUM_REASON_MAX);
    ls->pairs[ls->npairs].count = 0;
    return &ls->pairs[ls->npairs++];
}

int logsum_admit(struct logsum *ls, const char *addr, const char *reason, uint64_t now_ms,
                 FILE *out)
{
    struct logsum_addr *a;
    struct logsum_pair *p;
    unsigned per_addr = ls->lines_max < LOGSUM_PER_ADDRESS ? ls->lines_max : LOGSUM_PER_ADDRESS;

    (void)logsum_flush(ls, now_ms, 0, out);
    a = addr_slot(ls, addr);
    if (ls->lines < ls->lines_max && (a == NULL || a->full < per_addr)) {
        ls->lines++;
        if (a != NULL)
            a->full++;
        return 1;
    }
    p = pair_slot(ls, addr, reason);
    if (p != NULL)
        p->count++;
    else
        ls->other++;
    return 0;
}

unsigned logsum_flush(struct logsum *ls, uint64_t now_ms, int force, FILE *out)
{
    unsigned written = 0;
    uint64_t secs = (ls->window_ms + 999u) / 1000u;

    if (!force && now_ms - ls->start_ms < ls->window_ms)
        return 0;
    for (unsigned i = 0; i < ls->npairs; i++) {
        const struct logsum_pair *p = &ls->pairs[i];
        if (p->count == 0)
            continue;
        if (strcmp(p->reason, "ok") == 0)
            fprintf(out,
                    "mrf-hq: serve: %llu more health checks from %s in the last %llu s, not "
                    "logged one by one\n",
                    (unsigned long long)p->count, p->addr, (unsigned long long)secs);
        else
            fprintf(out, "mrf-hq: serve: %llu requests refused from %s in the last %llu s: %s\n",
                    (unsigned long long)p->count, p->addr, (unsigned long long)secs, p->reason);
        written++;
    }
    if (ls->other > 0) {
        fprintf(out,
                "mrf-hq: serve: %llu more requests refused from other addresses in the last "
                "%llu s\n",
                (unsigned long long)ls->other, (unsigned long long)secs);
        written++;
    }
    if (written > 0)
        fflush(out);
    logsum_init(ls, ls->window_ms, now_ms);
    return written;
}

/* serve_log — how many of `mrf-hq serve`'s per-request lines reach the log (hq/serve_log.c).
 * Internal to hq/serve.c and its tests. A line for an accepted or quarantined change set (an
 * authenticated device's) or a server error is always written; any other request's line (a
 * refusal, a cut connection, a health check: anything a stranger can cause) is a "refusal"
 * and passes through a struct logsum: each address may write LOGSUM_PER_ADDRESS of them in
 * full per window, all addresses together at most LOGSUM_LINES; the rest are counted per
 * address and reason and written as one summary line each when the window ends
 * ("N requests refused from A in the last 60 s: bad_envelope"), at most LOGSUM_PAIRS of them
 * and one line for what found no pair. So one window writes at most about
 * LOGSUM_LINES x 300 + (LOGSUM_PAIRS + 1) x 150 bytes (some 40 KB) whatever the flood, and a
 * minute at most 60 windows of LOGSUM_LINES_MIN lines and as many summaries (windows shorter
 * than a minute write fewer full lines each): under 1 MB a minute. Not thread-safe: the
 * caller holds its log lock. */
#ifndef MRF_SERVE_LOG_H
#define MRF_SERVE_LOG_H

#include <stdint.h>
#include <stdio.h>

#define LOGSUM_PER_ADDRESS 5 /* full refusal lines per address per window (a minute) */
#define LOGSUM_LINES 120     /* full refusal lines per window (a minute), all addresses */
#define LOGSUM_LINES_MIN 10  /* ... scaled down with the window, never below this */
#define LOGSUM_ADDRS 64      /* addresses tracked per window */
#define LOGSUM_PAIRS 48      /* (address, reason) counts summarised per window */
#define LOGSUM_ADDR_MAX 46   /* INET6_ADDRSTRLEN */
#define LOGSUM_REASON_MAX 48

struct logsum_addr {
    char addr[LOGSUM_ADDR_MAX];
    unsigned full; /* lines written in full this window */
};

struct logsum_pair {
    char addr[LOGSUM_ADDR_MAX];
    char reason[LOGSUM_REASON_MAX];
    uint64_t count; /* lines not written this window */
};

struct logsum {
    uint64_t window_ms, start_ms;
    unsigned lines_max; /* full lines per window, all addresses */
    unsigned lines;     /* full lines this window */
    struct logsum_addr addrs[LOGSUM_ADDRS];
    unsigned naddrs;
    struct logsum_pair pairs[LOGSUM_PAIRS];
    unsigned npairs;
    uint64_t other; /* lines not written that found no pair */
};

/* A window of window_ms (1 s to an hour) starting at now_ms (monotonic). */
void logsum_init(struct logsum *ls, uint64_t window_ms, uint64_t now_ms);
/* A refusal's line from addr (text; "-" if unknown) for reason: 1 if it may be written in
 * full, 0 if it was counted for the window's summary instead. Ends the window first (see
 * logsum_flush) if it is over. */
int logsum_admit(struct logsum *ls, const char *addr, const char *reason, uint64_t now_ms,
                 FILE *out);
/* Writes the window's summary lines to out and starts a new window, if the window is over
 * or force is set; else does nothing. Returns the number of lines written. */
unsigned logsum_flush(struct logsum *ls, uint64_t now_ms, int force, FILE *out);

#endif

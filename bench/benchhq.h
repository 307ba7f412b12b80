/* benchhq — what the HQ benchmarks share (bench_ingest, bench_audit, bench_report): dying with
 * a message, and opening an HQ home as `mrf-hq serve` does (its store, configuration and
 * keys). Benchmarks print figures; nothing here judges them. */
#ifndef MRF_BENCH_BENCHHQ_H
#define MRF_BENCH_BENCHHQ_H

#include "hq.h"
#include "hqstore.h"

/* Prints "PROGRAM: what: why" on stderr and exits 1 (noreturn as an attribute, which
 * cppcheck reads from a declaration). */
void bench_die(const char *what, const char *why) __attribute__((noreturn));
/* Opens the HQ store of home (which exists) into *s and HQ's identity (configuration and
 * keys) into id, or dies. The caller closes *s and frees id->keys. */
void bench_hq_open(const char *home, struct hqstore **s, struct hq_identity *id);

#endif

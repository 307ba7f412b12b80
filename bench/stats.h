/* stats — what the benchmark programs share: a monotonic clock in milliseconds and the median
 * of a set of samples. Benchmarks print figures; nothing here judges them. */
#ifndef MRF_BENCH_STATS_H
#define MRF_BENCH_STATS_H

/* CLOCK_MONOTONIC now, in milliseconds. */
double now_ms(void);
/* CPU time this process has used (all its threads), in milliseconds. */
double cpu_ms(void);
/* The median of v[0..n), n >= 1; sorts v in place. */
double median(double *v, int n);

#endif

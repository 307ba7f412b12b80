/* benchdb — what the device benchmarks that write a post store in SQL share (bench_outbox;
 * bench_device's fill): one SQLite handle, statements prepared and stepped on it, and dying
 * with SQLite's own message. Benchmarks print figures; nothing here judges them. */
#ifndef MRF_BENCH_BENCHDB_H
#define MRF_BENCH_BENCHDB_H

#include <sqlite3.h>

/* The handle the benchmark opened (NULL until then). */
extern sqlite3 *bench_db;

/* Prints "PROGRAM: what: SQLite's message" on stderr and exits 1 (noreturn as an attribute, which
 * cppcheck reads from a declaration). */
void bench_db_die(const char *what) __attribute__((noreturn));
/* sql prepared on bench_db, or dies. */
sqlite3_stmt *bench_db_prepare(const char *sql);
/* Steps st to its end and resets it, or dies naming what. */
void bench_db_step(sqlite3_stmt *st, const char *what);

#endif

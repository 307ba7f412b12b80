/* The device benchmarks' shared SQLite handle and helpers (benchdb.h). */
#define _GNU_SOURCE /* program_invocation_short_name */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "benchdb.h"

sqlite3 *bench_db;

_Noreturn void bench_db_die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
            bench_db != NULL ? sqlite3_errmsg(bench_db) : "cannot open");
    exit(1);
}

sqlite3_stmt *bench_db_prepare(const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(bench_db, sql, -1, &st, NULL) != SQLITE_OK)
        bench_db_die("prepare");
    return st;
}

void bench_db_step(sqlite3_stmt *st, const char *what)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        bench_db_die(what);
    sqlite3_reset(st);
}

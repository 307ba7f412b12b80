/* Measures `mrf grant add` as a whole process (fork, exec, open the store, check the rules,
 * capture 7 column writes, commit with fsync, exit) and puts the median beside this machine's
 * own floors: spawning a trivial process, and one durable SQLite commit (WAL, synchronous=FULL)
 * of one row. Prints figures and ratios; never passes or fails on time.
 *
 * usage: bench_cli MRF_BIN HOME PARTNER_CODE RUNS */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stats.h"

/* Runs argv to completion with stdout/stderr to /dev/null; returns its wall time in ms. */
static double run(char *const argv[])
{
    double t0 = now_ms();
    pid_t pid = fork();
    int status;

    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_cli: %s failed\n", argv[0]);
        exit(1);
    }
    return now_ms() - t0;
}

static double sqlite_commit_ms(const char *dir, int runs, double *samples)
{
    char path[512];
    sqlite3 *db = NULL;

    snprintf(path, sizeof path, "%s/floor.db", dir);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE IF NOT EXISTS t(id BLOB PRIMARY KEY, a INTEGER, b TEXT)",
                     NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_cli: sqlite floor: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    for (int i = 0; i < runs; i++) {
        double t0 = now_ms();
        char sql[128];
        snprintf(sql, sizeof sql,
                 "BEGIN IMMEDIATE; INSERT INTO t VALUES (randomblob(16), %d, 'draft'); COMMIT", i);
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
            fprintf(stderr, "bench_cli: sqlite floor: %s\n", sqlite3_errmsg(db));
            exit(1);
        }
        samples[i] = now_ms() - t0;
    }
    sqlite3_close(db);
    unlink(path);
    return median(samples, runs);
}

int main(int argc, char **argv)
{
    int runs;
    double *s, grant, spawn, commit;
    char *true_argv[] = {"/bin/true", NULL};

    runs = argc == 5 ? (int)strtol(argv[4], NULL, 10) : 0;
    if (runs < 3 || runs > 10000) {
        fprintf(stderr, "usage: bench_cli MRF_BIN HOME PARTNER_CODE RUNS(3..10000)\n");
        return 2;
    }
    s = calloc((size_t)runs, sizeof *s);
    {
        char *grant_argv[] = {argv[1],     "--home",   argv[2],   "grant", "add",
                              "--partner", argv[3],    "--theme", "HRD",   "--year",
                              "2026",      "--amount", "1250.00", NULL};
        for (int i = 0; i < runs; i++)
            s[i] = run(grant_argv);
        grant = median(s, runs);
    }
    for (int i = 0; i < runs; i++)
        s[i] = run(true_argv);
    spawn = median(s, runs);
    commit = sqlite_commit_ms(argv[2], runs, s);
    printf("runs=%d\n", runs);
    printf("mrf_grant_add_median_ms=%.2f\n", grant);
    printf("floor_spawn_true_median_ms=%.2f\n", spawn);
    printf("floor_sqlite_durable_commit_median_ms=%.2f\n", commit);
    printf("ratio_to_spawn_plus_commit=%.2f\n", grant / (spawn + commit));
    free(s);
    return 0;
}

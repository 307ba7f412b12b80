/* Runs one command to completion and reports its peak resident memory (getrusage of the
 * child, ru_maxrss) and wall time, for the memory benchmarks. The command's stdout passes
 * through; the figures go to stderr as key=value lines. Exits with the command's status.
 *
 * usage: bench_rss CMD [ARG...] */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct rusage ru;
    struct timespec t0, t1;
    int status;
    pid_t pid;

    if (argc < 2)
        return fprintf(stderr, "usage: bench_rss CMD [ARG...]\n"), 2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid = fork();
    if (pid < 0)
        return perror("bench_rss: fork"), 1;
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        perror("bench_rss: exec");
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) < 0)
        return perror("bench_rss: wait4"), 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "maxrss_kib=%ld\nwall_ms=%.1f\n", ru.ru_maxrss,
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

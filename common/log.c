/* The log sink: one line per event, with a UTC timestamp and level. Callers log codes, counts
 * and verdicts, never a secret, an identity or a note. The sink is set once in main(). A line
 * is written under the stream's own lock (flockfile), so lines from several threads, or from
 * other single-call writers of the same stream, never interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "common.h"

static FILE *log_sink;
static enum log_level log_min = LOG_INFO;

void log_set(FILE *sink, enum log_level min)
{
    log_sink = sink;
    log_min = min;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    FILE *out = log_sink ? log_sink : stderr;
    char stamp[32];
    struct tm tm;
    time_t now = time(NULL);
    va_list ap;

    if (lvl < log_min)
        return;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    flockfile(out);
    fprintf(out, "%s %s ", stamp, names[lvl]);
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    fflush(out);
    funlockfile(out);
}

/* The one status enum's names, its mapping to the exit codes of DESIGN §7, and error text on
 * handles. Every program maps a status to its exit code here and nowhere else. */
#include <stdarg.h>
#include <stdio.h>

#include "common.h"

const char *mrf_status_str(enum mrf_status st)
{
    switch (st) {
    case MRF_OK:
        return "ok";
    case MRF_E_INTERNAL:
        return "internal";
    case MRF_E_USAGE:
        return "usage";
    case MRF_E_INVALID:
        return "invalid";
    case MRF_E_RULE:
        return "rule";
    case MRF_E_NOTFOUND:
        return "notfound";
    case MRF_E_TOOBIG:
        return "toobig";
    case MRF_E_IO:
        return "io";
    case MRF_E_AUTH:
        return "auth";
    case MRF_E_PASSPHRASE:
        return "passphrase";
    case MRF_E_OFFLINE:
        return "offline";
    case MRF_E_REFUSED:
        return "refused";
    case MRF_E_STATE:
        return "state";
    case MRF_E_UNAVAILABLE:
        return "unavailable";
    }
    return "unknown";
}

int mrf_status_exit(enum mrf_status st)
{
    switch (st) {
    case MRF_OK:
        return 0;
    case MRF_E_USAGE:
        return 2;
    case MRF_E_INVALID:
    case MRF_E_RULE:
    case MRF_E_NOTFOUND:
    case MRF_E_TOOBIG:
    case MRF_E_STATE:
        return 3;
    case MRF_E_OFFLINE:
        return 4;
    case MRF_E_REFUSED:
    case MRF_E_AUTH:
        return 5;
    case MRF_E_PASSPHRASE:
        return 6;
    case MRF_E_INTERNAL:
    case MRF_E_IO:
    case MRF_E_UNAVAILABLE:
        return 1;
    }
    return 1;
}

enum mrf_status mrf_error_set(struct mrf_error *err, enum mrf_status st, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return st;
    err->status = st;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return st;
}

void mrf_error_clear(struct mrf_error *err)
{
    if (err == NULL)
        return;
    err->status = MRF_OK;
    err->msg[0] = '\0';
}

/* Hybrid logical clocks: 48 bits of wall-clock milliseconds and a 16-bit counter in one
 * 64-bit value. Local events tick past the last clock; received clocks push it forward, so a
 * device's clock never goes backwards even when its wall clock does. Ties between devices
 * break on the device id, which makes the order total. Clocks are unsigned and saturate at
 * the top instead of wrapping, so a wall clock thousands of years ahead cannot wrap a clock
 * round to small values; how far ahead of HQ a clock may be is hlc_bound's business. */
#include <stdio.h>
#include <string.h>

#include "mrfsync.h"

#define COUNTER_MASK ((1u << HLC_COUNTER_BITS) - 1u)

#define MS_MAX ((UINT64_C(1) << (64 - HLC_COUNTER_BITS)) - 1u)

hlc_t hlc_make(uint64_t ms, uint32_t counter)
{
    if (ms > MS_MAX)
        ms = MS_MAX;
    return (ms << HLC_COUNTER_BITS) | (counter & COUNTER_MASK);
}

uint64_t hlc_ms(hlc_t c)
{
    return c >> HLC_COUNTER_BITS;
}

hlc_t hlc_tick(hlc_t last, uint64_t now_ms)
{
    hlc_t wall = hlc_make(now_ms, 0);
    /* Past the wall clock: take it. Otherwise one more than the last (the counter carries
     * into the milliseconds when it overflows, which keeps the order). */
    if (wall > last)
        return wall;
    return last == HLC_MAX ? last : last + 1;
}

hlc_t hlc_recv(hlc_t last, hlc_t remote, uint64_t now_ms)
{
    hlc_t top = last > remote ? last : remote;
    return hlc_tick(top, now_ms);
}

hlc_t hlc_bound(uint64_t now_ms)
{
    return hlc_make(now_ms + HLC_AHEAD_MAX_MS, COUNTER_MASK);
}

hlc_t hlc_tick_bounded(hlc_t last, uint64_t now_ms)
{
    hlc_t bound = hlc_bound(now_ms);

    return hlc_tick(last > bound ? bound : last, now_ms);
}

hlc_t hlc_max(hlc_t a, hlc_t b)
{
    return a > b ? a : b;
}

int hlc_cmp(hlc_t a, const uint8_t *da, hlc_t b, const uint8_t *db)
{
    if (a != b)
        return a < b ? -1 : 1;
    if (da == NULL || db == NULL)
        return (da != NULL) - (db != NULL);
    return memcmp(da, db, MRF_ID);
}

void hlc_to_hex(hlc_t c, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)c);
}

enum mrf_status hlc_from_hex(const char *s, hlc_t *out)
{
    hlc_t v = 0;

    *out = 0;
    if (s == NULL || strlen(s) != 16)
        return MRF_E_INVALID;
    for (int i = 0; i < 16; i++) {
        char ch = s[i];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else
            return MRF_E_INVALID;
        v = v << 4 | d;
    }
    *out = v;
    return MRF_OK;
}

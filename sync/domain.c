/* The fund's rules that both sides apply: the 5+1 themes, years, money as integer cents typed
 * as decimals, currencies, calendar dates, the forward-only grant status, risk levels, post
 * codes, short codes and meaning-keyed row ids. Messages name the rule and the way forward. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mrfsync.h"

static const struct {
    const char *code;
    const char *title;
} themes[THEME_COUNT] = {
    {"FOE", "freedom of expression, online and offline"},
    {"WGR", "equal rights for women and girls"},
    {"LGBTIQ", "equal rights for LGBTIQ+ persons"},
    {"FORB", "freedom of religion or belief"},
    {"HRD", "protecting human rights defenders and civic space"},
    {"ACC", "accountability"},
};

int theme_index(const char *code)
{
    if (code == NULL)
        return -1;
    for (int i = 0; i < THEME_COUNT; i++)
        if (strcasecmp(code, themes[i].code) == 0)
            return i;
    return -1;
}

const char *theme_code(int idx)
{
    return idx >= 0 && idx < THEME_COUNT ? themes[idx].code : "?";
}

const char *theme_title(int idx)
{
    return idx >= 0 && idx < THEME_COUNT ? themes[idx].title : "?";
}

enum mrf_status year_parse(const char *s, int *year, struct mrf_error *err)
{
    int64_t v;

    *year = 0;
    if (parse_int64(s, YEAR_MIN, YEAR_MAX, &v) != MRF_OK)
        return mrf_error_set(err, MRF_E_INVALID,
                             "a year is a whole number from %d to %d (as in 2026)", YEAR_MIN,
                             YEAR_MAX);
    *year = (int)v;
    return MRF_OK;
}

enum mrf_status money_parse(const char *s, int64_t *cents, struct mrf_error *err)
{
    int64_t whole = 0, frac = 0;
    int digits = 0, fdigits = 0;
    const char *p = s;

    *cents = 0;
    if (s == NULL || *s == '\0')
        return mrf_error_set(err, MRF_E_INVALID, "an amount is needed, as in 12500.00");
    if (*p == '-' || *p == '+')
        return mrf_error_set(err, MRF_E_INVALID,
                             "an amount must be positive, written without a sign (12500.00)");
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        whole = whole * 10 + (*p - '0');
        if (whole > MONEY_MAX_CENTS / 100)
            goto too_big;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, fdigits++) {
            if (fdigits == 2)
                return mrf_error_set(err, MRF_E_INVALID,
                                     "an amount has at most two decimals (12500.50)");
            frac = frac * 10 + (*p - '0');
        }
        if (fdigits == 0)
            return mrf_error_set(err, MRF_E_INVALID,
                                 "an amount needs digits after the point (12500.50)");
    }
    if (digits == 0 || *p != '\0')
        return mrf_error_set(err, MRF_E_INVALID,
                             "an amount is digits with an optional point and two decimals, "
                             "no spaces or thousands separators (12500.00)");
    if (fdigits == 1)
        frac *= 10;
    *cents = whole * 100 + frac;
    if (*cents > MONEY_MAX_CENTS)
        goto too_big;
    if (*cents == 0)
        return mrf_error_set(err, MRF_E_INVALID, "an amount must be more than zero");
    return MRF_OK;
too_big:
    *cents = 0;
    return mrf_error_set(err, MRF_E_INVALID, "an amount may not exceed 1000000000.00");
}

void money_format(int64_t cents, char out[32])
{
    uint64_t a = cents < 0 ? (uint64_t)(-(cents + 1)) + 1u : (uint64_t)cents;
    snprintf(out, 32, "%s%llu.%02llu", cents < 0 ? "-" : "", (unsigned long long)(a / 100u),
             (unsigned long long)(a % 100u));
}

enum mrf_status currency_parse(const char *s, char out[4], struct mrf_error *err)
{
    out[0] = '\0';
    if (s == NULL || strlen(s) != 3 || !isalpha((unsigned char)s[0]) ||
        !isalpha((unsigned char)s[1]) || !isalpha((unsigned char)s[2]))
        return mrf_error_set(err, MRF_E_INVALID,
                             "a currency is a three-letter ISO 4217 code, as in EUR or USD");
    for (int i = 0; i < 3; i++)
        out[i] = (char)toupper((unsigned char)s[i]);
    out[3] = '\0';
    return MRF_OK;
}

enum mrf_status date_parse(const char *s, struct mrf_error *err)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d, leap;

    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        goto bad;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            goto bad;
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < YEAR_MIN || y > YEAR_MAX || m < 1 || m > 12)
        goto bad;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d < 1 || d > mdays[m - 1] + (m == 2 && leap))
        goto bad;
    return MRF_OK;
bad:
    return mrf_error_set(err, MRF_E_INVALID,
                         "a date is YYYY-MM-DD and must exist in the calendar (2026-03-31)");
}

static const char *const status_names[GS_COUNT] = {"draft", "committed", "disbursed", "closed",
                                                   "cancelled"};

int grant_status_parse(const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i < GS_COUNT; i++)
        if (strcasecmp(s, status_names[i]) == 0)
            return i;
    return -1;
}

const char *grant_status_str(enum grant_status st)
{
    return (int)st >= 0 && st < GS_COUNT ? status_names[st] : "?";
}

int grant_status_can_move(enum grant_status from, enum grant_status to)
{
    if (from == to)
        return 1;
    if (to == GS_CANCELLED)
        return from == GS_DRAFT || from == GS_COMMITTED;
    if (from == GS_CANCELLED)
        return 0;
    return to > from;
}

int grant_status_commits(enum grant_status st)
{
    return st == GS_COMMITTED || st == GS_DISBURSED || st == GS_CLOSED;
}

static const char *const risk_names[] = {"low", "medium", "high"};

int risk_parse(const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i < 3; i++)
        if (strcasecmp(s, risk_names[i]) == 0)
            return i;
    return -1;
}

const char *risk_str(int risk)
{
    return risk >= 0 && risk < 3 ? risk_names[risk] : "?";
}

enum mrf_status post_code_parse(const char *s, char out[16], struct mrf_error *err)
{
    size_t n = s ? strlen(s) : 0;

    out[0] = '\0';
    if (n < 2 || n > 12 || !isalpha((unsigned char)s[0]))
        goto bad;
    for (size_t i = 0; i < n; i++) {
        char c = (char)toupper((unsigned char)s[i]);
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
            goto bad;
        out[i] = c;
    }
    out[n] = '\0';
    return MRF_OK;
bad:
    out[0] = '\0';
    return mrf_error_set(err, MRF_E_INVALID,
                         "a post code is 2 to 12 letters, digits or '-', starting with a "
                         "letter (as in NAI or GVA-MUN)");
}

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void shortcode_make(const char *prefix, const uint8_t id[MRF_ID], char out[16])
{
    uint32_t bits =
        ((uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | (uint32_t)id[3]) >>
        2;
    char code[7];

    for (int i = 5; i >= 0; i--) {
        code[i] = crockford[bits & 31u];
        bits >>= 5;
    }
    code[6] = '\0';
    snprintf(out, 16, "%s-%s", prefix, code);
}

enum mrf_status shortcode_parse(const char *prefix, const char *s, char out[16],
                                struct mrf_error *err)
{
    size_t plen = strlen(prefix);
    char code[7];

    out[0] = '\0';
    if (s == NULL || strlen(s) != plen + 7 || strncasecmp(s, prefix, plen) != 0 || s[plen] != '-')
        goto bad;
    for (int i = 0; i < 6; i++) {
        char c = (char)toupper((unsigned char)s[plen + 1 + (size_t)i]);
        if (c == 'O')
            c = '0';
        else if (c == 'I' || c == 'L')
            c = '1';
        if (c == '\0' || strchr(crockford, c) == NULL)
            goto bad;
        code[i] = c;
    }
    code[6] = '\0';
    snprintf(out, 16, "%s-%s", prefix, code);
    return MRF_OK;
bad:
    return mrf_error_set(err, MRF_E_INVALID,
                         "'%s' codes look like %s-7F3K9Q; check the code with the list command",
                         prefix, prefix);
}

void row_id_derive(uint8_t out[MRF_ID], const char *table, const char *post, int year,
                   const char *theme)
{
    char msg[128];
    int n = snprintf(msg, sizeof msg, "mrf-row|%s|%s|%d|%s", table, post, year, theme ? theme : "");
    mrf_hash(out, MRF_ID, (const uint8_t *)msg, (size_t)n, NULL, 0);
}

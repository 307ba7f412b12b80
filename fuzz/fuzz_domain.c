/* Fuzz target: the parsers of the fund's typed values (sync/domain.c, sync/hlc.c) and the text
 * checks and decoders beneath them (common/text.c), what people type and what the wire
 * carries. The first byte of an input chooses the parser; the rest, cut at its first NUL, is
 * the text. Where a parser accepts, its result must be in range and, written back by its
 * formatter, parse to the same value. */
#include <ctype.h>
#include <string.h>

#include "fuzzutil.h"

enum {
    P_MONEY,
    P_DATE,
    P_YEAR,
    P_CURRENCY,
    P_POST,
    P_SHORT_PX,
    P_SHORT_G,
    P_HLC,
    P_NAMES,
    P_INT64,
    P_TEXT,
    P_HEX,
    P_B64,
    P_SEALED,
    P_COUNT
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (mrfcrypto_init() != MRF_OK)
        fuzz_die("libsodium cannot be initialised");
    return 0;
}

static void money(const char *s)
{
    struct mrf_error err;
    int64_t cents, again;
    char text[32];

    if (money_parse(s, &cents, &err) != MRF_OK) {
        if (cents != 0)
            fuzz_die("money_parse: failed but left an amount");
        return;
    }
    if (cents < 1 || cents > MONEY_MAX_CENTS)
        fuzz_die("money_parse: an amount out of range");
    money_format(cents, text);
    if (money_parse(text, &again, &err) != MRF_OK || again != cents)
        fuzz_die("money_parse(money_format(x)) is not x");
}

static void shortcode(const char *prefix, const char *s)
{
    struct mrf_error err;
    char out[16], again[16];

    if (shortcode_parse(prefix, s, out, &err) != MRF_OK)
        return;
    if (shortcode_parse(prefix, out, again, &err) != MRF_OK || strcmp(out, again) != 0)
        fuzz_die("shortcode_parse: a normalised code does not parse to itself");
}

static void names(const char *s)
{
    int i = theme_index(s);

    if (i >= 0 && theme_index(theme_code(i)) != i)
        fuzz_die("theme_code and theme_index disagree");
    i = grant_status_parse(s);
    if (i >= 0 && grant_status_parse(grant_status_str((enum grant_status)i)) != i)
        fuzz_die("grant_status_str and grant_status_parse disagree");
    i = risk_parse(s);
    if (i >= 0 && risk_parse(risk_str(i)) != i)
        fuzz_die("risk_str and risk_parse disagree");
}

static void decode(int kind, const char *s)
{
    uint8_t id[MRF_ID], *raw = NULL;
    size_t n = 0;
    char *enc;

    if (kind == P_HEX) {
        if (hex_decode(s, id, sizeof id) == MRF_OK) {
            enc = hex_encode(id, sizeof id);
            for (size_t i = 0; s[i]; i++)
                if (tolower((unsigned char)s[i]) != enc[i])
                    fuzz_die("hex_encode(hex_decode(s)) is not s");
            x_free(enc);
        }
        return;
    }
    if (b64url_decode(s, strlen(s), &raw, &n) == MRF_OK) {
        enc = b64url_encode(raw, n);
        if (strcmp(enc, s) != 0)
            fuzz_die("b64url_encode(b64url_decode(s)) is not s");
        x_free(enc);
    } else if (raw != NULL || n != 0) {
        fuzz_die("b64url_decode: failed but left bytes");
    }
    x_free(raw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mrf_error err;
    char out[16], again[16], hex[17];
    int year;
    int64_t v;
    hlc_t c;
    char *s;

    if (size < 1 || size > 4096)
        return 0;
    s = fuzz_cstr(data + 1, size - 1);
    switch (data[0] % P_COUNT) {
    case P_MONEY:
        money(s);
        break;
    case P_DATE:
        (void)date_parse(s, &err);
        break;
    case P_YEAR:
        if (year_parse(s, &year, &err) == MRF_OK && (year < YEAR_MIN || year > YEAR_MAX))
            fuzz_die("year_parse: a year out of range");
        break;
    case P_CURRENCY:
        if (currency_parse(s, out, &err) == MRF_OK &&
            (strlen(out) != 3 || currency_parse(out, again, &err) != MRF_OK ||
             strcmp(out, again) != 0))
            fuzz_die("currency_parse: a code that is not three capitals");
        break;
    case P_POST:
        if (post_code_parse(s, out, &err) == MRF_OK &&
            (post_code_parse(out, again, &err) != MRF_OK || strcmp(out, again) != 0))
            fuzz_die("post_code_parse: a normalised code does not parse to itself");
        break;
    case P_SHORT_PX:
        shortcode("PX", s);
        break;
    case P_SHORT_G:
        shortcode("G", s);
        break;
    case P_HLC:
        if (hlc_from_hex(s, &c) == MRF_OK) {
            hlc_to_hex(c, hex);
            if (strcmp(hex, s) != 0)
                fuzz_die("hlc_to_hex(hlc_from_hex(s)) is not s");
        }
        break;
    case P_NAMES:
        names(s);
        break;
    case P_INT64:
        if (parse_int64(s, YEAR_MIN, INT64_MAX, &v) == MRF_OK && v < YEAR_MIN)
            fuzz_die("parse_int64: a value below its minimum");
        (void)parse_int64(s, INT64_MIN, INT64_MAX, &v);
        break;
    case P_TEXT:
        (void)text_valid((const char *)data + 1, size - 1, 0);
        (void)text_valid((const char *)data + 1, size - 1, 1);
        break;
    case P_HEX:
    case P_B64:
        decode(data[0] % P_COUNT, s);
        break;
    case P_SEALED:
        (void)sealed_frame_check(data + 1, size - 1);
        break;
    }
    x_free(s);
    return 0;
}

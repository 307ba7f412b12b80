/* Check suite for web/: HTML escaping, percent-encoding, urlencoded form parsing (line breaks,
 * bad escapes, text rules, the field cap), the Host guard, the GOV.UK form fields, the
 * compiled-in assets, the SVG bar charts and the value helpers. The server's guards run against a
 * real `mrf ui` in tests/integration/test_ui_post.sh. */
#include <check.h>
#include <string.h>

#include "testutil.h"
#include "mrfweb.h"

static char *page(void (*fill)(struct buf *b, const void *arg), const void *arg)
{
    struct buf b;

    buf_init(&b, 1 << 20);
    fill(&b, arg);
    return buf_take(&b, NULL);
}

static void esc_fill(struct buf *b, const void *arg)
{
    web_esc(b, arg);
}

START_TEST(escaping)
{
    char *s = page(esc_fill, "<a href=\"x\">Tom & Jerry's</a>");
    ck_assert_str_eq(s, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    x_free(s);
    s = page(esc_fill, "plain text");
    ck_assert_str_eq(s, "plain text");
    x_free(s);
    {
        struct buf b;
        buf_init(&b, 100);
        web_urlenc(&b, "PX-7F3K9Q/a b&c");
        ck_assert_str_eq(b.data, "PX-7F3K9Q%2Fa%20b%26c");
        buf_release(&b);
    }
}
END_TEST

START_TEST(forms)
{
    struct web_field f[WEB_FORM_MAX];
    char body[256], big[WEB_FORM_MAX * 4 + 16];
    int n;

    strcpy(body, "csrf=ab&name=Tom+%26+Jerry&note=one%0D%0Atwo%0Athree%0Dfour&empty=&flag&&x=1");
    ck_assert_int_eq(web_form_parse(body, strlen(body), f, &n), MRF_OK);
    ck_assert_int_eq(n, 6);
    ck_assert_str_eq(f[1].value, "Tom & Jerry");
    ck_assert_str_eq(f[2].value, "one\ntwo\nthree\nfour"); /* CR LF and CR become LF */
    ck_assert_str_eq(f[3].value, "");
    ck_assert_str_eq(f[4].name, "flag");
    ck_assert_str_eq(f[4].value, "");
    strcpy(body, "a=%4");
    ck_assert_int_eq(web_form_parse(body, strlen(body), f, &n), MRF_E_INVALID);
    strcpy(body, "a=%zz");
    ck_assert_int_eq(web_form_parse(body, strlen(body), f, &n), MRF_E_INVALID);
    strcpy(body, "a=%01"); /* a control character */
    ck_assert_int_eq(web_form_parse(body, strlen(body), f, &n), MRF_E_INVALID);
    strcpy(body, "a=%C3%28"); /* not UTF-8 */
    ck_assert_int_eq(web_form_parse(body, strlen(body), f, &n), MRF_E_INVALID);
    big[0] = '\0';
    for (int i = 0; i <= WEB_FORM_MAX; i++)
        strcat(big, "a=1&");
    ck_assert_int_eq(web_form_parse(big, strlen(big), f, &n), MRF_E_TOOBIG);
}
END_TEST

START_TEST(hosts)
{
    ck_assert(web_host_ok("127.0.0.1:8080", 8080));
    ck_assert(web_host_ok("localhost:8080", 8080));
    ck_assert(web_host_ok("LOCALHOST:8080", 8080));
    ck_assert(!web_host_ok("127.0.0.1:8081", 8080));
    ck_assert(!web_host_ok("127.0.0.1", 8080));
    ck_assert(!web_host_ok("evil.example:8080", 8080));
    ck_assert(!web_host_ok("127.0.0.1:8080.evil.example", 8080));
    ck_assert(!web_host_ok(NULL, 8080));
}
END_TEST

static void field_fill(struct buf *b, const void *arg)
{
    const struct web_errors *e = arg;
    static const char *const v[] = {"low", "high"};

    web_error_summary(b, e);
    web_input(b, "text", "amount", "Amount", "12500.00", "12,5<0", e, NULL);
    web_input(b, "password", "passphrase", "Passphrase", NULL, "secret words", e, NULL);
    web_select(b, "risk", "Risk", NULL, v, NULL, 2, "high", e);
}

START_TEST(fields)
{
    struct web_errors e = {0};
    char *s;

    web_errors_add(&e, "amount", "--amount: no <separators>");
    s = page(field_fill, &e);
    ck_assert_ptr_nonnull(strstr(s, "<a href=\"#amount\">--amount: no &lt;separators&gt;</a>"));
    ck_assert_ptr_nonnull(strstr(s, "<label for=\"amount\">Amount</label>"));
    ck_assert_ptr_nonnull(strstr(s, "value=\"12,5&lt;0\"")); /* kept as typed, escaped */
    ck_assert_ptr_nonnull(strstr(s, "aria-invalid=\"true\""));
    ck_assert_ptr_null(strstr(s, "secret words")); /* a password is never filled back in */
    ck_assert_ptr_nonnull(strstr(s, "<option value=\"high\" selected>"));
    ck_assert(strstr(s, "There is a problem") < strstr(s, "<label")); /* summary first */
    x_free(s);
    ck_assert_str_eq(web_errors_get(&e, "amount"), "--amount: no <separators>");
    ck_assert_ptr_null(web_errors_get(&e, "risk"));
}
END_TEST

START_TEST(assets)
{
    const struct web_asset *a = web_asset_find("style.css");

    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->type, "text/css; charset=utf-8");
    ck_assert_uint_gt(a->len, 100);
    ck_assert_uint_eq(strlen((const char *)a->data), a->len);
    ck_assert_ptr_nonnull(web_asset_find("app.js"));
    ck_assert_ptr_null(web_asset_find("../CMakeLists.txt"));
    ck_assert_ptr_null(web_asset_find(""));
}
END_TEST

static void chart_fill(struct buf *b, const void *arg)
{
    struct web_chart c;

    (void)arg;
    web_chart_begin(&c, b, "ch", "Per post <EUR>", 2, 3, 200.0);
    web_chart_bar(&c, "NAI", 200.0, "bar-a", "allocation 200.00 EUR", "data-k=\"allocation\"");
    web_chart_bar(&c, NULL, 50.0, "bar-b", "committed 50.00 & more", NULL);
    web_chart_bar(&c, "G<VA", 0.0, "bar-b", "nothing", NULL);
    web_chart_end(&c);
}

START_TEST(chart)
{
    char *s = page(chart_fill, NULL);

    ck_assert_ptr_nonnull(strstr(s, "<svg class=\"chart\""));
    ck_assert_ptr_nonnull(strstr(s, "role=\"img\""));
    ck_assert_ptr_nonnull(strstr(s, "<title id=\"ch-title\">Per post &lt;EUR&gt;</title>"));
    ck_assert_ptr_nonnull(strstr(s, "width=\"560\" height=\"16\"")); /* the longest bar */
    ck_assert_ptr_nonnull(strstr(s, "width=\"140\" height=\"16\"")); /* a quarter of it */
    ck_assert_ptr_nonnull(strstr(s, "width=\"0\" height=\"16\""));
    ck_assert_ptr_nonnull(strstr(s, "data-k=\"allocation\">allocation 200.00 EUR</text>"));
    ck_assert_ptr_nonnull(strstr(s, "committed 50.00 &amp; more")); /* figures escaped */
    ck_assert_ptr_nonnull(strstr(s, ">G&lt;VA</text>"));
    ck_assert_ptr_null(strstr(s, "style=")); /* the CSP allows no inline style */
    ck_assert_ptr_nonnull(strstr(s, "</svg>"));
    x_free(s);
}
END_TEST

START_TEST(show)
{
    struct web_errors e = {0};
    static const char *const names[] = {"reason", "note"};
    cJSON *o = cJSON_Parse("{\"a\":\"x\",\"n\":1}");

    ck_assert_str_eq(web_jstr(o, "a"), "x");
    ck_assert_str_eq(web_jstr(o, "n"), "");
    ck_assert_str_eq(web_jstr(o, "missing"), "");
    cJSON_Delete(o);
    ck_assert_str_eq(web_safe_back("/posts"), "/posts");
    ck_assert_str_eq(web_safe_back("//evil.example"), "/");
    ck_assert_str_eq(web_safe_back("http://evil.example"), "/");
    web_form_error(&e, "--reason TEXT is required: it travels to the post", names, 2, "decision");
    web_form_error(&e, "grant add: C-1 is closed already", names, 2, "decision");
    ck_assert_str_eq(e.e[0].field, "reason");
    ck_assert_str_eq(e.e[1].field, "decision");
    ck_assert_str_eq(e.e[1].msg, "C-1 is closed already"); /* the command's name dropped */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("web");
    TCase *tc = tcase_create("web");

    tcase_add_test(tc, escaping);
    tcase_add_test(tc, forms);
    tcase_add_test(tc, hosts);
    tcase_add_test(tc, fields);
    tcase_add_test(tc, assets);
    tcase_add_test(tc, chart);
    tcase_add_test(tc, show);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

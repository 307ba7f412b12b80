/* Check suite for common/: the status-to-exit-code map of DESIGN §7, capped buffers, text
 * validation, encodings, atomic files, private homes, and the command-table parser. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "common.h"

START_TEST(exit_codes)
{
    ck_assert_int_eq(mrf_status_exit(MRF_OK), 0);
    ck_assert_int_eq(mrf_status_exit(MRF_E_INTERNAL), 1);
    ck_assert_int_eq(mrf_status_exit(MRF_E_USAGE), 2);
    ck_assert_int_eq(mrf_status_exit(MRF_E_INVALID), 3);
    ck_assert_int_eq(mrf_status_exit(MRF_E_RULE), 3);
    ck_assert_int_eq(mrf_status_exit(MRF_E_TOOBIG), 3);
    ck_assert_int_eq(mrf_status_exit(MRF_E_OFFLINE), 4);
    ck_assert_int_eq(mrf_status_exit(MRF_E_REFUSED), 5);
    ck_assert_int_eq(mrf_status_exit(MRF_E_PASSPHRASE), 6);
    ck_assert_str_eq(mrf_status_str(MRF_E_RULE), "rule");
}
END_TEST

START_TEST(buf_cap)
{
    struct buf b;
    char *p;
    size_t n;

    buf_init(&b, 8);
    ck_assert_int_eq(buf_puts(&b, "abcd"), MRF_OK);
    ck_assert_int_eq(buf_printf(&b, "%d", 1234), MRF_OK);
    ck_assert_int_eq(buf_puts(&b, "x"), MRF_E_TOOBIG);
    ck_assert_str_eq(b.data, "abcd1234");
    p = buf_take(&b, &n);
    ck_assert_uint_eq(n, 8);
    ck_assert_ptr_null(b.data);
    x_free(p);
    buf_init(&b, 1000);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(buf_printf(&b, "%s", "0123456789"), MRF_OK);
    ck_assert_int_eq(buf_printf(&b, "%s", "!"), MRF_E_TOOBIG);
    ck_assert_uint_eq(b.len, 1000);
    buf_release(&b);
}
END_TEST

START_TEST(text_rules)
{
    ck_assert(text_valid("Ünïcødé ok", strlen("Ünïcødé ok"), 0));
    ck_assert(!text_valid("a\nb", 3, 0));
    ck_assert(text_valid("a\nb", 3, 1));
    ck_assert(!text_valid("a\x1b[31m", 6, 1));
    ck_assert(!text_valid("\xc3\x28", 2, 0));     /* broken sequence */
    ck_assert(!text_valid("\xc0\xaf", 2, 0));     /* overlong */
    ck_assert(!text_valid("\xed\xa0\x80", 3, 0)); /* surrogate */
    ck_assert(!text_valid("\xc2\x85", 2, 1));     /* C1 control */
    ck_assert(!text_valid("abc\xe2\x82", 5, 0));  /* truncated */
}
END_TEST

START_TEST(encodings)
{
    uint8_t bin[5] = {0xfb, 0xff, 0x00, 0x10, 0x7e};
    uint8_t back[5];
    uint8_t *dec = NULL;
    size_t n = 0;
    char *h = hex_encode(bin, 5);
    char *b = b64url_encode(bin, 5);
    int64_t v;

    ck_assert_str_eq(h, "fbff00107e");
    ck_assert_int_eq(hex_decode(h, back, 5), MRF_OK);
    ck_assert_mem_eq(back, bin, 5);
    ck_assert_int_eq(hex_decode("fbff0010", back, 5), MRF_E_INVALID);
    ck_assert_str_eq(b, "-_8AEH4");
    ck_assert_int_eq(b64url_decode(b, strlen(b), &dec, &n), MRF_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_mem_eq(dec, bin, 5);
    x_free(dec);
    ck_assert_int_eq(b64url_decode("+/8A", 4, &dec, &n), MRF_E_INVALID);
    ck_assert_ptr_null(dec);
    ck_assert_int_eq(parse_int64("42", 0, 100, &v), MRF_OK);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(parse_int64("42x", 0, 100, &v), MRF_E_INVALID);
    ck_assert_int_eq(parse_int64("101", 0, 100, &v), MRF_E_INVALID);
    ck_assert_int_eq(parse_int64(" 4", 0, 100, &v), MRF_E_INVALID);
    ck_assert_int_eq(parse_int64("", 0, 100, &v), MRF_E_INVALID);
    x_free(h);
    x_free(b);
}
END_TEST

/* Found by fuzz_domain: libsodium (1.0.18) reads a byte past 0x7f as a base64 character
 * (its char is signed), so "AQ\x81n" decoded to 3 bytes. Anything outside the base64url
 * alphabet is refused, whatever the library does. */
START_TEST(b64url_alphabet_only)
{
    static const char *const bad[] = {
        "AQ\x81n", "\xad\x41\x41\x41", "AAA\xdf", "AQ\xc3\xa9", "AQ=", "A Q"};
    uint8_t *dec = NULL;
    size_t n = 7;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(b64url_decode(bad[i], strlen(bad[i]), &dec, &n) == MRF_E_INVALID,
                      "bad[%zu] decoded", i);
        ck_assert_ptr_null(dec);
        ck_assert_uint_eq(n, 0);
    }
    ck_assert_int_eq(b64url_decode("AQ-_", 4, &dec, &n), MRF_OK);
    ck_assert_uint_eq(n, 3);
    x_free(dec);
}
END_TEST

START_TEST(atomic_file)
{
    char dir[64];
    char path[160];
    uint8_t *data = NULL;
    size_t n;
    struct stat sb;
    struct mrf_error err = {0};

    testutil_tmpdir(dir, sizeof dir, "common");
    snprintf(path, sizeof path, "%s/a/b/f", dir);
    ck_assert_int_eq(file_write_atomic(path, "x", 1, 0600, &err), MRF_E_IO);
    snprintf(path, sizeof path, "%s/a/b", dir);
    ck_assert_int_eq(dir_ensure(path, &err), MRF_OK);
    snprintf(path, sizeof path, "%s/a/b/f", dir);
    ck_assert_int_eq(file_write_atomic(path, "hello", 5, 0600, &err), MRF_OK);
    ck_assert_int_eq(file_write_atomic(path, "world!", 6, 0600, &err), MRF_OK);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(file_read_all(path, 100, &data, &n, &err), MRF_OK);
    ck_assert_uint_eq(n, 6);
    ck_assert_str_eq((char *)data, "world!");
    x_free(data);
    ck_assert_int_eq(file_read_all(path, 5, &data, &n, &err), MRF_E_TOOBIG);
    unlink(path);
    ck_assert_int_eq(file_read_all(path, 5, &data, &n, &err), MRF_E_NOTFOUND);
    testutil_rmtree(dir);
}
END_TEST

static int dummy_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    (void)ctx;
    (void)a;
    return 0;
}

static const struct cmd_entry c_list = {
    "grant list", "[--year Y]", "list", 0, 0, {{"year", 1, "y"}, {"json", 0, "j"}, {NULL, 0, NULL}},
    dummy_exec,   CMD_WRITES};
static const struct cmd_entry c_set = {"theme set", "YEAR THEME [THEME]", "set",      2,
                                       3,           {{NULL, 0, NULL}},    dummy_exec, CMD_WRITES};
static const struct cmd_entry c_status = {"status",          "",         "status",  0, 0,
                                          {{NULL, 0, NULL}}, dummy_exec, CMD_WRITES};
static const struct cmd_entry *const table[] = {&c_list, &c_set, &c_status};
static const struct cli_program prog = {"t", "T_HOME", ".t", table, 3};

static int parse(const char *const *words, const struct cmd_entry **found, struct cli_args *a)
{
    char *argv[16];
    int argc = 0;
    while (words[argc] && argc < 15) {
        argv[argc] = (char *)words[argc];
        argc++;
    }
    argv[argc] = NULL;
    return cli_parse(&prog, argc, argv, found, a);
}

/* A home others can write or that another user owns is refused, naming the fix. */
START_TEST(home_others_refused)
{
    static const struct home_file files[] = {
        {"store", HOME_F_STORE}, {"sub", HOME_F_DIR}, {NULL, 0}};
    char dir[64], path[160], missing[200];
    struct mrf_error err = {0};
    FILE *f;

    testutil_tmpdir(dir, sizeof dir, "home");
    snprintf(missing, sizeof missing, "%s/not-yet", dir);
    ck_assert_int_eq(home_check(missing, files, 1, &err), MRF_OK);
    ck_assert_int_eq(home_check(dir, files, 1, &err), MRF_OK);
    snprintf(path, sizeof path, "%s/store", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(chmod(path, 0600), 0);
    ck_assert_int_eq(home_check(dir, files, 1, &err), MRF_OK);
    ck_assert_int_eq(chmod(dir, 0777), 0);
    ck_assert_int_eq(home_check(dir, files, 0, &err), MRF_E_RULE);
    ck_assert_ptr_nonnull(strstr(err.msg, "chmod 700"));
    ck_assert_int_eq(chmod(dir, 0700), 0);
    ck_assert_int_eq(chmod(path, 0620), 0);
    ck_assert_int_eq(home_check(dir, files, 0, &err), MRF_E_RULE);
    ck_assert_ptr_nonnull(strstr(err.msg, "chmod 600"));
    ck_assert_int_eq(chmod(path, 0600), 0);
    snprintf(path, sizeof path, "%s/sub", dir);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    ck_assert_int_eq(chmod(path, 0777), 0);
    ck_assert_int_eq(mrf_status_exit(home_check(dir, files, 0, &err)), 3);
    ck_assert_int_eq(chmod(path, 0700), 0);
    ck_assert_int_eq(home_check(dir, files, 1, &err), MRF_OK);
    testutil_rmtree(dir);
}
END_TEST

START_TEST(cli_dispatch)
{
    const struct cmd_entry *f;
    struct cli_args a;
    const char *ok1[] = {"t", "--home", "/h", "grant", "list", "--year=2026", "--json", NULL};
    const char *ok2[] = {"t", "theme", "set", "2026", "HRD", "--home", "/x", NULL};
    const char *bad_opt[] = {"t", "grant", "list", "--bogus", NULL};
    const char *missing_val[] = {"t", "grant", "list", "--year", NULL};
    const char *few[] = {"t", "theme", "set", "2026", NULL};
    const char *unknown[] = {"t", "frobnicate", NULL};
    const char *group[] = {"t", "grant", NULL};
    const char *flag_val[] = {"t", "grant", "list", "--json=1", NULL};

    ck_assert_int_eq(parse(ok1, &f, &a), -1);
    ck_assert_ptr_eq(f, &c_list);
    ck_assert_str_eq(a.home, "/h");
    ck_assert_str_eq(cli_get(&a, "year"), "2026");
    ck_assert(a.json);
    ck_assert_int_eq(parse(ok2, &f, &a), -1);
    ck_assert_ptr_eq(f, &c_set);
    ck_assert_int_eq(a.nargs, 2);
    ck_assert_str_eq(a.home, "/x");
    ck_assert_int_eq(parse(bad_opt, &f, &a), 2);
    ck_assert_int_eq(parse(missing_val, &f, &a), 2);
    ck_assert_int_eq(parse(few, &f, &a), 2);
    ck_assert_int_eq(parse(unknown, &f, &a), 2);
    ck_assert_int_eq(parse(group, &f, &a), 2);
    ck_assert_int_eq(parse(flag_val, &f, &a), 2);
}
END_TEST

START_TEST(cli_home_from_env)
{
    const struct cmd_entry *f;
    struct cli_args a;
    const char *w[] = {"t", "status", NULL};

    setenv("T_HOME", "/from/env", 1);
    ck_assert_int_eq(parse(w, &f, &a), -1);
    ck_assert_str_eq(a.home, "/from/env");
    unsetenv("T_HOME");
    setenv("HOME", "/home/u", 1);
    ck_assert_int_eq(parse(w, &f, &a), -1);
    ck_assert_str_eq(a.home, "/home/u/.t");
}
END_TEST

START_TEST(no_core_dumps_private_files)
{
    struct rlimit rl;

    process_harden();
    ck_assert_int_eq(getrlimit(RLIMIT_CORE, &rl), 0);
    ck_assert_uint_eq(rl.rlim_cur, 0);
    ck_assert_uint_eq(rl.rlim_max, 0);
    ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
    ck_assert_int_eq(umask(077), 077);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("common");
    TCase *tc = tcase_create("common");

    tcase_add_test(tc, exit_codes);
    tcase_add_test(tc, buf_cap);
    tcase_add_test(tc, text_rules);
    tcase_add_test(tc, encodings);
    tcase_add_test(tc, b64url_alphabet_only);
    tcase_add_test(tc, atomic_file);
    tcase_add_test(tc, home_others_refused);
    tcase_add_test(tc, cli_dispatch);
    tcase_add_test(tc, cli_home_from_env);
    tcase_add_test(tc, no_core_dumps_private_files);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

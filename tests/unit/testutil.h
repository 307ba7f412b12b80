/* What every Check suite of mrf shares: running a suite to an exit code, and private temporary
 * directories that are removed with everything in them. Header-only, for tests alone. */
#ifndef MRF_TESTUTIL_H
#define MRF_TESTUTIL_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Runs every test of s; EXIT_SUCCESS only if none failed. Takes s. */
static inline int testutil_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Makes /tmp/mrf-<name>-XXXXXX (mode 0700) into buf; fails the test if it cannot. */
static inline void testutil_tmpdir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "/tmp/mrf-%s-XXXXXX", name);
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

static inline int testutil_rm_one(const char *path, const struct stat *sb, int flag,
                                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes dir and everything below it; a missing dir is fine. */
static inline void testutil_rmtree(const char *dir)
{
    nftw(dir, testutil_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif

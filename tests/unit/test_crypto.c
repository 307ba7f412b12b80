/* Unit tests of crypto/: the keystore and the escrow box keystore on real files in a temporary
 * directory, sealed fields (recipients, aad binding, tampering, truncation, padding, caps),
 * signatures and fingerprints. One test case per behaviour; each runs in its own directory. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "testutil.h"
#include "common.h"
#include "mrfcrypto.h"

static char tmpdir[64];

static void setup(void)
{
    testutil_tmpdir(tmpdir, sizeof tmpdir, "test-crypto");
}

static void teardown(void)
{
    testutil_rmtree(tmpdir);
}

/* A path inside the test's directory; caller x_frees. */
static char *tmp_path(const char *leaf)
{
    return xasprintf("%s/%s", tmpdir, leaf);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    uint8_t *data = NULL;
    struct mrf_error err;

    mrf_error_clear(&err);
    ck_assert_int_eq(file_read_all(path, 1 << 20, &data, len, &err), MRF_OK);
    return data;
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    ck_assert_ptr_nonnull(f);
    if (len > 0)
        ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static int file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int secrets_equal(const struct mrf_secrets *a, const struct mrf_secrets *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* Fails unless the file at path still holds exactly the n bytes of before. */
static void assert_file_is(const char *path, const uint8_t *before, size_t n)
{
    size_t len;
    uint8_t *now = read_file(path, &len);

    ck_assert_uint_eq(len, n);
    ck_assert_mem_eq(before, now, n);
    x_free(now);
}

/* The version-2 keystore layout (crypto/keystore.c). */
#define KS_OFF_MAX 39
#define KS_OFF_FAILS 43
#define KS_OFF_A 47
#define KS_OFF_B (KS_OFF_A + 24 + 192 + 16)
#define KS_LEN (KS_OFF_B + 24 + 32 + 16)

static uint32_t u32_at(const uint8_t *p, size_t off)
{
    return (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
           (uint32_t)p[off + 3] << 24;
}

/* The count of wrong passphrases in a row recorded in the keystore at path. */
static uint32_t failures_of(const char *path)
{
    size_t len;
    uint8_t *data = read_file(path, &len);
    uint32_t n;

    ck_assert_uint_eq(len, KS_LEN);
    n = u32_at(data, KS_OFF_FAILS);
    x_free(data);
    return n;
}

/* Fails unless the keystore at path holds the n bytes of before, but for its count of wrong
 * passphrases, which must be want_failures. */
static void assert_keys_are(const char *path, const uint8_t *before, size_t n,
                            uint32_t want_failures)
{
    size_t len;
    uint8_t *now = read_file(path, &len);

    ck_assert_uint_eq(len, n);
    ck_assert_mem_eq(before, now, KS_OFF_FAILS);
    ck_assert_mem_eq(before + KS_OFF_A, now + KS_OFF_A, n - KS_OFF_A);
    ck_assert_uint_eq(u32_at(now, KS_OFF_FAILS), want_failures);
    x_free(now);
}

/* A keystore at path with fresh secrets under passphrase; *out owned by the caller. */
static void make_keystore(const char *path, const char *passphrase, struct mrf_secrets **out)
{
    struct mrf_error err;

    mrf_error_clear(&err);
    mrf_secrets_new(out);
    mrf_random((*out)->enroll_secret, MRF_SECRET);
    ck_assert_msg(keystore_create(path, passphrase, *out, &err) == MRF_OK, "%s", err.msg);
}

/* ---- keystore ---------------------------------------------------------------------------- */

START_TEST(keystore_round_trip)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    struct mrf_error err;
    struct stat st;
    char *path = tmp_path("keystore");

    mrf_error_clear(&err);
    make_keystore(path, "correct horse", &s);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    ck_assert_msg(keystore_open(path, "correct horse", &back, &err) == MRF_OK, "%s", err.msg);
    ck_assert_ptr_nonnull(back);
    ck_assert(secrets_equal(s, back));
    mrf_secrets_free(back);
    mrf_secrets_free(s);
    x_free(path);
}
END_TEST

START_TEST(keystore_file_layout)
{
    struct mrf_secrets *s = NULL;
    char *path = tmp_path("keystore");
    uint8_t *data;
    size_t len, i;
    uint64_t ops = 0, mem = 0;

    make_keystore(path, "pw", &s);
    data = read_file(path, &len);
    /* magic | version 2 | alg | opslimit | memlimit | salt | max_failures | failures
     * | slot A: nonce | 192 bytes + tag | slot B: nonce | 32 bytes + tag */
    ck_assert_uint_eq(len, KS_LEN);
    ck_assert_mem_eq(data, "MRFKS", 5);
    ck_assert_uint_eq(data[5], 2);
    ck_assert_uint_eq(data[6], 1);
    for (i = 0; i < 8; i++) {
        ops |= (uint64_t)data[7 + i] << (8 * i);
        mem |= (uint64_t)data[15 + i] << (8 * i);
    }
    ck_assert_uint_eq(ops, crypto_pwhash_OPSLIMIT_INTERACTIVE);
    ck_assert_uint_eq(mem, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    ck_assert_uint_eq(u32_at(data, KS_OFF_MAX), 0);
    ck_assert_uint_eq(u32_at(data, KS_OFF_FAILS), 0);
    x_free(data);
    mrf_secrets_free(s);
    x_free(path);
}
END_TEST

START_TEST(keystore_wrong_passphrase)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    struct mrf_error err;
    char *path = tmp_path("keystore");

    mrf_error_clear(&err);
    make_keystore(path, "correct horse", &s);
    ck_assert_int_eq(keystore_open(path, "wrong pony", &back, &err), MRF_E_PASSPHRASE);
    ck_assert_ptr_null(back);
    ck_assert_int_eq(err.status, MRF_E_PASSPHRASE);
    ck_assert_ptr_nonnull(strstr(err.msg, "passphrase is wrong"));
    ck_assert_ptr_null(strstr(err.msg, "wrong pony"));
    ck_assert_ptr_null(strstr(err.msg, "correct horse"));
    mrf_secrets_free(s);
    x_free(path);
}
END_TEST

START_TEST(keystore_missing_file)
{
    struct mrf_secrets *back = NULL;
    uint8_t pk[MRF_BOX_PK], *sk = NULL;
    struct mrf_error err;
    char *path = tmp_path("nothing");

    mrf_error_clear(&err);
    ck_assert_int_eq(keystore_open(path, "pw", &back, &err), MRF_E_NOTFOUND);
    ck_assert_ptr_null(back);
    ck_assert_ptr_nonnull(strstr(err.msg, "keystore"));
    ck_assert_int_eq(boxkey_load(path, "pw", pk, &sk, &err), MRF_E_NOTFOUND);
    ck_assert_ptr_null(sk);
    ck_assert_int_eq(keystore_rekey(path, "pw", "pw2", &err), MRF_E_NOTFOUND);
    ck_assert(!file_exists(path));
    x_free(path);
}
END_TEST

START_TEST(keystore_truncated_or_garbage)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    struct mrf_error err;
    char *path = tmp_path("keystore");
    char *bad = tmp_path("bad");
    uint8_t *data, garbage[300];
    size_t len, cuts[] = {0, 1, 5, 7, 30, 62, 63, 100, 0};
    size_t i;

    mrf_error_clear(&err);
    make_keystore(path, "pw", &s);
    data = read_file(path, &len);
    cuts[sizeof cuts / sizeof cuts[0] - 1] = len - 1;
    for (i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_file(bad, data, cuts[i]);
        ck_assert_msg(keystore_open(bad, "pw", &back, &err) == MRF_E_INVALID, "cut at %zu: %s",
                      cuts[i], err.msg);
        ck_assert_ptr_null(back);
    }
    mrf_random(garbage, sizeof garbage);
    write_file(bad, garbage, sizeof garbage);
    ck_assert_int_eq(keystore_open(bad, "pw", &back, &err), MRF_E_INVALID);
    /* One byte too many is not a keystore either. */
    data = xrealloc(data, len + 1);
    data[len] = 0;
    write_file(bad, data, len + 1);
    ck_assert_int_eq(keystore_open(bad, "pw", &back, &err), MRF_E_INVALID);
    x_free(data);
    mrf_secrets_free(s);
    x_free(bad);
    x_free(path);
}
END_TEST

START_TEST(keystore_absurd_kdf_limits)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    struct mrf_error err;
    char *path = tmp_path("keystore");
    uint8_t *data;
    size_t len;

    mrf_error_clear(&err);
    make_keystore(path, "pw", &s);
    data = read_file(path, &len);
    /* opslimit (u64 LE at offset 7) = 17 */
    data[7] = 17;
    write_file(path, data, len);
    ck_assert_int_eq(keystore_open(path, "pw", &back, &err), MRF_E_INVALID);
    /* opslimit back to 2, memlimit (u64 LE at offset 15) = 2 GiB */
    data[7] = 2;
    memset(data + 15, 0, 8);
    data[15 + 3] = 0x80;
    write_file(path, data, len);
    ck_assert_int_eq(keystore_open(path, "pw", &back, &err), MRF_E_INVALID);
    ck_assert_ptr_null(back);
    x_free(data);
    mrf_secrets_free(s);
    x_free(path);
}
END_TEST

START_TEST(keystore_flipped_byte)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    struct mrf_error err;
    char *path = tmp_path("keystore");
    char *bad = tmp_path("bad");
    uint8_t *data;
    size_t len, i;
    /* salt, slot A's nonce, its first ciphertext byte, a middle one, its last tag byte */
    size_t at[] = {23, KS_OFF_A, KS_OFF_A + 24, 150, KS_OFF_B - 1};

    mrf_error_clear(&err);
    make_keystore(path, "pw", &s);
    data = read_file(path, &len);
    for (i = 0; i < sizeof at / sizeof at[0]; i++) {
        data[at[i]] ^= 0x01;
        write_file(bad, data, len);
        ck_assert_msg(keystore_open(bad, "pw", &back, &err) != MRF_OK, "flip at %zu", at[i]);
        ck_assert_ptr_null(back);
        data[at[i]] ^= 0x01;
    }
    x_free(data);
    mrf_secrets_free(s);
    x_free(bad);
    x_free(path);
}
END_TEST

START_TEST(keystore_create_refuses_existing)
{
    struct mrf_secrets *s = NULL, *other = NULL;
    struct mrf_error err;
    char *path = tmp_path("keystore");
    uint8_t *before;
    size_t blen;

    mrf_error_clear(&err);
    make_keystore(path, "pw", &s);
    before = read_file(path, &blen);
    mrf_secrets_new(&other);
    ck_assert_int_eq(keystore_create(path, "pw2", other, &err), MRF_E_STATE);
    ck_assert_int_eq(err.status, MRF_E_STATE);
    assert_file_is(path, before, blen);
    x_free(before);
    mrf_secrets_free(other);
    mrf_secrets_free(s);
    x_free(path);
}
END_TEST

START_TEST(keystore_rekey_changes_passphrase)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    struct mrf_error err;
    char *path = tmp_path("keystore");

    mrf_error_clear(&err);
    make_keystore(path, "old", &s);
    ck_assert_msg(keystore_rekey(path, "old", "new", &err) == MRF_OK, "%s", err.msg);
    ck_assert_int_eq(keystore_open(path, "old", &back, &err), MRF_E_PASSPHRASE);
    ck_assert_ptr_null(back);
    ck_assert_msg(keystore_open(path, "new", &back, &err) == MRF_OK, "%s", err.msg);
    ck_assert(secrets_equal(s, back));
    mrf_secrets_free(back);
    mrf_secrets_free(s);
    x_free(path);
}
END_TEST

START_TEST(keystore_rekey_wrong_old_passphrase)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    struct mrf_error err;
    char *path = tmp_path("keystore");
    uint8_t *before;
    size_t blen;

    mrf_error_clear(&err);
    make_keystore(path, "old", &s);
    before = read_file(path, &blen);
    ck_assert_int_eq(keystore_rekey(path, "not old", "new", &err), MRF_E_PASSPHRASE);
    assert_keys_are(path, before, blen, 1); /* only the count of wrong tries moved */
    ck_assert_msg(keystore_open(path, "old", &back, &err) == MRF_OK, "%s", err.msg);
    x_free(before);
    mrf_secrets_free(back);
    mrf_secrets_free(s);
    x_free(path);
}
END_TEST

START_TEST(keystore_update_replaces_secrets)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    struct mrf_error err;
    char *path = tmp_path("keystore");
    uint8_t *before, *after;
    size_t blen, alen;

    mrf_error_clear(&err);
    make_keystore(path, "pw", &s);
    before = read_file(path, &blen);
    mrf_random(s->enroll_secret, sizeof s->enroll_secret);
    /* a wrong passphrase changes nothing */
    ck_assert_int_eq(keystore_update(path, "not pw", s, &err), MRF_E_PASSPHRASE);
    assert_keys_are(path, before, blen, 1);
    /* the right one writes the new secrets under the same passphrase */
    ck_assert_msg(keystore_update(path, "pw", s, &err) == MRF_OK, "%s", err.msg);
    ck_assert_msg(keystore_open(path, "pw", &back, &err) == MRF_OK, "%s", err.msg);
    ck_assert(secrets_equal(s, back));
    after = read_file(path, &alen);
    ck_assert_uint_eq(alen, blen);
    ck_assert(memcmp(before, after, blen) != 0);
    x_free(before);
    x_free(after);
    mrf_secrets_free(back);
    mrf_secrets_free(s);
    x_free(path);
}
END_TEST

START_TEST(keystore_destroy_removes_file)
{
    struct mrf_secrets *s = NULL;
    struct mrf_error err;
    char *path = tmp_path("keystore");
    char *witness = tmp_path("witness");
    uint8_t *before, *after;
    size_t blen, alen;

    mrf_error_clear(&err);
    make_keystore(path, "pw", &s);
    before = read_file(path, &blen);
    /* A second name for the same inode shows what the blocks hold after the destroy. */
    ck_assert_int_eq(link(path, witness), 0);
    ck_assert_msg(keystore_destroy(path, &err) == MRF_OK, "%s", err.msg);
    ck_assert(!file_exists(path));
    after = read_file(witness, &alen);
    ck_assert_uint_eq(alen, blen);
    ck_assert_msg(memcmp(before, after, 16) != 0 && memcmp(before + 100, after + 100, 16) != 0,
                  "the keystore was not overwritten");
    /* A missing file is already destroyed. */
    ck_assert_int_eq(keystore_destroy(path, &err), MRF_OK);
    x_free(after);
    x_free(before);
    mrf_secrets_free(s);
    x_free(witness);
    x_free(path);
}
END_TEST

/* ---- duress passphrase and the limit of wrong passphrases -------------------------------- */

/* A version-1 keystore (as mrf wrote it before version 2) of s under passphrase. */
static void write_v1_keystore(const char *path, const char *passphrase, const struct mrf_secrets *s)
{
    uint8_t file[63 + 192 + 16], key[32], plain[192];
    size_t i;

    memcpy(file, "MRFKS", 5);
    file[5] = 1;
    file[6] = 1;
    for (i = 0; i < 8; i++) {
        file[7 + i] = (uint8_t)((uint64_t)crypto_pwhash_OPSLIMIT_INTERACTIVE >> (8 * i));
        file[15 + i] = (uint8_t)((uint64_t)crypto_pwhash_MEMLIMIT_INTERACTIVE >> (8 * i));
    }
    randombytes_buf(file + 23, 16 + 24);
    ck_assert_int_eq(crypto_pwhash(key, sizeof key, passphrase, strlen(passphrase), file + 23,
                                   crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                   crypto_pwhash_MEMLIMIT_INTERACTIVE,
                                   crypto_pwhash_ALG_ARGON2ID13),
                     0);
    memcpy(plain, s->sign_sk, 64);
    memcpy(plain + 64, s->box_sk, 32);
    memcpy(plain + 96, s->enroll_secret, 32);
    memcpy(plain + 128, s->pub.sign_pk, 32);
    memcpy(plain + 160, s->pub.box_pk, 32);
    crypto_aead_xchacha20poly1305_ietf_encrypt(file + 63, NULL, plain, sizeof plain, file, 63, NULL,
                                               file + 39, key);
    write_file(path, file, sizeof file);
    sodium_memzero(key, sizeof key);
    sodium_memzero(plain, sizeof plain);
}

START_TEST(keystore_v1_opens_and_becomes_v2)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    struct mrf_error err;
    char *path = tmp_path("keystore");
    uint8_t *data;
    size_t len;

    mrf_error_clear(&err);
    mrf_secrets_new(&s);
    write_v1_keystore(path, "old format pw", s);
    ck_assert_int_eq(keystore_open(path, "wrong pw", &back, &err), MRF_E_PASSPHRASE);
    ck_assert_msg(keystore_open(path, "old format pw", &back, &err) == MRF_OK, "%s", err.msg);
    ck_assert(secrets_equal(s, back));
    mrf_secrets_free(back);
    back = NULL;
    data = read_file(path, &len);
    ck_assert_uint_eq(len, KS_LEN);
    ck_assert_uint_eq(data[5], 2);
    x_free(data);
    ck_assert_msg(keystore_open(path, "old format pw", &back, &err) == MRF_OK, "%s", err.msg);
    ck_assert(secrets_equal(s, back));
    mrf_secrets_free(back);
    mrf_secrets_free(s);
    x_free(path);
}
END_TEST

/* Slot B is there whether a duress passphrase is set or not: same size, same header, the same
 * policy, and no byte position that differs in kind. */
START_TEST(keystore_duress_slot_always_there)
{
    struct mrf_secrets *s = NULL, *t = NULL;
    struct keystore_policy pa, pb;
    struct mrf_error err;
    char *plain = tmp_path("plain"), *armed = tmp_path("armed");
    uint8_t *a, *b;
    size_t alen, blen;

    mrf_error_clear(&err);
    make_keystore(plain, "pw 1", &s);
    make_keystore(armed, "pw 1", &t);
    ck_assert_msg(keystore_set_duress(armed, "pw 1", "duress pw", &err) == MRF_OK, "%s", err.msg);
    a = read_file(plain, &alen);
    b = read_file(armed, &blen);
    ck_assert_uint_eq(alen, blen);
    ck_assert_mem_eq(a, b, 23);                          /* magic, version, algorithm, limits */
    ck_assert_mem_eq(a + KS_OFF_MAX, b + KS_OFF_MAX, 8); /* the policy */
    ck_assert_int_eq(keystore_policy(plain, &pa, &err), MRF_OK);
    ck_assert_int_eq(keystore_policy(armed, &pb, &err), MRF_OK);
    ck_assert_mem_eq(&pa, &pb, sizeof pa);
    x_free(a);
    x_free(b);
    mrf_secrets_free(s);
    mrf_secrets_free(t);
    x_free(plain);
    x_free(armed);
}
END_TEST

/* The duress passphrase destroys the keys and answers exactly as a wrong passphrase. */
START_TEST(keystore_duress_destroys_and_answers_as_wrong)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    struct mrf_error wrong, duress, err;
    char *path = tmp_path("keystore"), *witness = tmp_path("witness");
    uint8_t *before, *after;
    size_t blen, alen;

    mrf_error_clear(&err);
    make_keystore(path, "right pw", &s);
    ck_assert_msg(keystore_set_duress(path, "right pw", "duress pw", &err) == MRF_OK, "%s",
                  err.msg);
    mrf_error_clear(&wrong);
    ck_assert_int_eq(keystore_open(path, "wrong pw", &back, &wrong), MRF_E_PASSPHRASE);
    ck_assert_uint_eq(failures_of(path), 1);
    before = read_file(path, &blen);
    ck_assert_int_eq(link(path, witness), 0); /* the old inode, to see it overwritten */
    mrf_error_clear(&duress);
    ck_assert_int_eq(keystore_open(path, "duress pw", &back, &duress), MRF_E_PASSPHRASE);
    ck_assert_ptr_null(back);
    ck_assert_str_eq(duress.msg, wrong.msg);
    ck_assert_int_eq(duress.status, wrong.status);
    /* A decoy of the same form and header stands in its place, counting on... */
    after = read_file(path, &alen);
    ck_assert_uint_eq(alen, blen);
    ck_assert_mem_eq(after, before, KS_OFF_FAILS);
    ck_assert_uint_eq(u32_at(after, KS_OFF_FAILS), 2);
    ck_assert(memcmp(after + KS_OFF_A, before + KS_OFF_A, blen - KS_OFF_A) != 0);
    x_free(after);
    /* ... the old file was overwritten as keystore_destroy does ... */
    after = read_file(witness, &alen);
    ck_assert(memcmp(after + KS_OFF_A, before + KS_OFF_A, 32) != 0);
    x_free(after);
    /* ... and nothing opens the decoy, the right passphrase included. */
    ck_assert_int_eq(keystore_open(path, "right pw", &back, &err), MRF_E_PASSPHRASE);
    ck_assert_str_eq(err.msg, wrong.msg);
    ck_assert_int_eq(keystore_open(path, "duress pw", &back, &err), MRF_E_PASSPHRASE);
    ck_assert_ptr_null(back);
    ck_assert_uint_eq(failures_of(path), 4);
    x_free(witness);
    witness = tmp_path("keystore.pad");
    ck_assert(!file_exists(witness)); /* the scratch file of a wrong try is gone */
    x_free(before);
    mrf_secrets_free(s);
    x_free(witness);
    x_free(path);
}
END_TEST

START_TEST(keystore_duress_refusals_and_rekey)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    struct mrf_error err;
    char *path = tmp_path("keystore");

    mrf_error_clear(&err);
    make_keystore(path, "right pw", &s);
    ck_assert_int_eq(keystore_set_duress(path, "right pw", "right pw", &err), MRF_E_RULE);
    ck_assert_int_eq(keystore_set_duress(path, "not right", "duress pw", &err), MRF_E_PASSPHRASE);
    ck_assert_msg(keystore_set_duress(path, "right pw", "duress pw", &err) == MRF_OK, "%s",
                  err.msg);
    /* the passphrase may not become the duress one; a change keeps the duress one */
    ck_assert_int_eq(keystore_rekey(path, "right pw", "duress pw", &err), MRF_E_RULE);
    ck_assert_msg(keystore_rekey(path, "right pw", "new pw", &err) == MRF_OK, "%s", err.msg);
    ck_assert_msg(keystore_open(path, "new pw", &back, &err) == MRF_OK, "%s", err.msg);
    ck_assert(secrets_equal(s, back));
    mrf_secrets_free(back);
    back = NULL;
    /* removed, it is only a wrong passphrase */
    ck_assert_msg(keystore_set_duress(path, "new pw", NULL, &err) == MRF_OK, "%s", err.msg);
    ck_assert_int_eq(keystore_open(path, "duress pw", &back, &err), MRF_E_PASSPHRASE);
    ck_assert_msg(keystore_open(path, "new pw", &back, &err) == MRF_OK, "%s", err.msg);
    mrf_secrets_free(back);
    back = NULL;
    /* set again, keystore_update (a new token) keeps it */
    ck_assert_int_eq(keystore_set_duress(path, "new pw", "duress 2", &err), MRF_OK);
    ck_assert_int_eq(keystore_update(path, "new pw", s, &err), MRF_OK);
    ck_assert_int_eq(keystore_open(path, "duress 2", &back, &err), MRF_E_PASSPHRASE);
    ck_assert_int_eq(keystore_open(path, "new pw", &back, &err), MRF_E_PASSPHRASE);
    mrf_secrets_free(s);
    x_free(path);
}
END_TEST

/* After N wrong passphrases in a row the keystore is destroyed; a right one resets the count. */
START_TEST(keystore_max_failures_counts_and_destroys)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    struct keystore_policy p;
    struct mrf_error err;
    char *path = tmp_path("keystore");

    mrf_error_clear(&err);
    make_keystore(path, "right pw", &s);
    ck_assert_int_eq(keystore_set_max_failures(path, "right pw", KEYSTORE_MAX_FAILURES + 1, &err),
                     MRF_E_INVALID);
    ck_assert_msg(keystore_set_max_failures(path, "right pw", 3, &err) == MRF_OK, "%s", err.msg);
    ck_assert_int_eq(keystore_open(path, "wrong 1", &back, &err), MRF_E_PASSPHRASE);
    ck_assert_int_eq(keystore_open(path, "wrong 2", &back, &err), MRF_E_PASSPHRASE);
    ck_assert_int_eq(keystore_policy(path, &p, &err), MRF_OK);
    ck_assert_uint_eq(p.max_failures, 3);
    ck_assert_uint_eq(p.failures, 2);
    /* the right one resets the count */
    ck_assert_msg(keystore_open(path, "right pw", &back, &err) == MRF_OK, "%s", err.msg);
    mrf_secrets_free(back);
    back = NULL;
    ck_assert_uint_eq(failures_of(path), 0);
    ck_assert_int_eq(keystore_open(path, "wrong 1", &back, &err), MRF_E_PASSPHRASE);
    ck_assert_int_eq(keystore_open(path, "wrong 2", &back, &err), MRF_E_PASSPHRASE);
    ck_assert(file_exists(path));
    ck_assert_int_eq(keystore_open(path, "wrong 3", &back, &err), MRF_E_PASSPHRASE);
    ck_assert_ptr_nonnull(strstr(err.msg, "destroyed"));
    ck_assert_ptr_null(strstr(err.msg, "wrong 3"));
    ck_assert(!file_exists(path));
    ck_assert_int_eq(keystore_open(path, "right pw", &back, &err), MRF_E_NOTFOUND);
    ck_assert_ptr_null(back);
    mrf_secrets_free(s);
    x_free(path);
}
END_TEST

/* The last try allowed takes the keystore away before deriving and puts it back when the
 * passphrase is right. */
START_TEST(keystore_max_failures_last_try_right)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    struct mrf_error err;
    char *path = tmp_path("keystore");

    mrf_error_clear(&err);
    make_keystore(path, "right pw", &s);
    ck_assert_int_eq(keystore_set_max_failures(path, "right pw", 2, &err), MRF_OK);
    ck_assert_int_eq(keystore_open(path, "wrong 1", &back, &err), MRF_E_PASSPHRASE);
    ck_assert_msg(keystore_open(path, "right pw", &back, &err) == MRF_OK, "%s", err.msg);
    ck_assert(secrets_equal(s, back));
    mrf_secrets_free(back);
    back = NULL;
    ck_assert_uint_eq(failures_of(path), 0);
    ck_assert_int_eq(keystore_open(path, "wrong 1", &back, &err), MRF_E_PASSPHRASE);
    ck_assert_int_eq(keystore_open(path, "wrong 2", &back, &err), MRF_E_PASSPHRASE);
    ck_assert(!file_exists(path));
    mrf_secrets_free(s);
    x_free(path);
}
END_TEST

/* With a limit set, a try that cannot be counted is not made. */
START_TEST(keystore_max_failures_uncountable_try_refused)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    struct mrf_error err;
    char *dir, *path;

    if (geteuid() == 0)
        return; /* root writes into a read-only directory */
    dir = tmp_path("ro");
    mrf_error_clear(&err);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    path = xasprintf("%s/keystore", dir);
    make_keystore(path, "right pw", &s);
    ck_assert_int_eq(keystore_set_max_failures(path, "right pw", 2, &err), MRF_OK);
    ck_assert_int_eq(chmod(dir, 0500), 0);
    ck_assert_int_eq(keystore_open(path, "right pw", &back, &err), MRF_E_IO);
    ck_assert_ptr_null(back);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot count"));
    ck_assert_int_eq(chmod(dir, 0700), 0);
    ck_assert_uint_eq(failures_of(path), 0);
    mrf_secrets_free(s);
    x_free(path);
    x_free(dir);
}
END_TEST

/* ---- officer key ------------------------------------------------------------------------- */

START_TEST(signkey_round_trip)
{
    uint8_t pk[MRF_SIGN_PK], pk_back[MRF_SIGN_PK], sig[MRF_SIG];
    uint8_t *sk = sodium_malloc(MRF_SIGN_SK), *sk_back = NULL;
    struct mrf_error err;
    char *path = tmp_path("officer.key");
    uint8_t *data;
    size_t len;

    mrf_error_clear(&err);
    ck_assert_ptr_nonnull(sk);
    crypto_sign_ed25519_keypair(pk, sk);
    ck_assert_msg(signkey_store(path, "officer pw", pk, sk, &err) == MRF_OK, "%s", err.msg);
    data = read_file(path, &len);
    ck_assert_mem_eq(data, "MRFOK", 5);
    ck_assert_int_eq(signkey_load(path, "wrong", pk_back, &sk_back, &err), MRF_E_PASSPHRASE);
    ck_assert_ptr_null(sk_back);
    ck_assert_msg(signkey_load(path, "officer pw", pk_back, &sk_back, &err) == MRF_OK, "%s",
                  err.msg);
    ck_assert_mem_eq(pk, pk_back, MRF_SIGN_PK);
    mrf_sign(sig, (const uint8_t *)"x", 1, sk_back);
    ck_assert_int_eq(mrf_verify(sig, (const uint8_t *)"x", 1, pk), MRF_OK);
    ck_assert_int_eq(signkey_store(path, "officer pw", pk, sk, &err), MRF_E_STATE);
    x_free(data);
    sodium_free(sk_back);
    sodium_free(sk);
    x_free(path);
}
END_TEST

/* ---- box keystore ------------------------------------------------------------------------ */

START_TEST(boxkey_round_trip)
{
    uint8_t pk[MRF_BOX_PK], pk_back[MRF_BOX_PK];
    uint8_t *sk = sodium_malloc(MRF_BOX_SK), *sk_back = NULL;
    struct mrf_error err;
    char *path = tmp_path("escrow.key");
    uint8_t *data;
    size_t len;

    mrf_error_clear(&err);
    ck_assert_ptr_nonnull(sk);
    mrf_box_keypair(pk, sk);
    ck_assert_msg(boxkey_store(path, "escrow pw", pk, sk, &err) == MRF_OK, "%s", err.msg);
    data = read_file(path, &len);
    ck_assert_mem_eq(data, "MRFBK", 5);
    ck_assert_msg(boxkey_load(path, "escrow pw", pk_back, &sk_back, &err) == MRF_OK, "%s", err.msg);
    ck_assert_mem_eq(pk, pk_back, MRF_BOX_PK);
    ck_assert_mem_eq(sk, sk_back, MRF_BOX_SK);
    sodium_free(sk_back);
    sk_back = NULL;
    ck_assert_int_eq(boxkey_load(path, "wrong", pk_back, &sk_back, &err), MRF_E_PASSPHRASE);
    ck_assert_ptr_null(sk_back);
    ck_assert_int_eq(boxkey_store(path, "escrow pw", pk, sk, &err), MRF_E_STATE);
    x_free(data);
    sodium_free(sk);
    x_free(path);
}
END_TEST

START_TEST(boxkey_and_keystore_not_interchangeable)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    uint8_t pk[MRF_BOX_PK], pk_back[MRF_BOX_PK];
    uint8_t *sk = sodium_malloc(MRF_BOX_SK), *sk_back = NULL;
    struct mrf_error err;
    char *ks = tmp_path("keystore");
    char *bk = tmp_path("escrow.key");

    mrf_error_clear(&err);
    ck_assert_ptr_nonnull(sk);
    make_keystore(ks, "pw", &s);
    mrf_box_keypair(pk, sk);
    ck_assert_int_eq(boxkey_store(bk, "pw", pk, sk, &err), MRF_OK);
    ck_assert_int_eq(boxkey_load(ks, "pw", pk_back, &sk_back, &err), MRF_E_INVALID);
    ck_assert_ptr_null(sk_back);
    ck_assert_int_eq(keystore_open(bk, "pw", &back, &err), MRF_E_INVALID);
    ck_assert_ptr_null(back);
    sodium_free(sk);
    mrf_secrets_free(s);
    x_free(bk);
    x_free(ks);
}
END_TEST

/* ---- sealed fields ----------------------------------------------------------------------- */

/* A recipient: a box key pair with the secret key in guarded memory. */
struct recip {
    uint8_t pk[MRF_BOX_PK];
    uint8_t *sk;
};

static void recip_init(struct recip *r)
{
    r->sk = sodium_malloc(MRF_BOX_SK);
    ck_assert_ptr_nonnull(r->sk);
    mrf_box_keypair(r->pk, r->sk);
}

static void recip_release(struct recip *r)
{
    sodium_free(r->sk);
    r->sk = NULL;
}

#define AAD "partners/00112233445566778899aabbccddeeff/name"

/* Seals s to the two recipients; caller x_frees *blob. */
static void seal_two(uint8_t **blob, size_t *len, const char *s, const struct recip *a,
                     const struct recip *b)
{
    uint8_t pks[2][MRF_BOX_PK];

    memcpy(pks[0], a->pk, MRF_BOX_PK);
    memcpy(pks[1], b->pk, MRF_BOX_PK);
    ck_assert_int_eq(
        sealed_seal(blob, len, s, strlen(s), AAD, (const uint8_t(*)[MRF_BOX_PK])pks, 2), MRF_OK);
    ck_assert_ptr_nonnull(*blob);
}

static void assert_opens_to(const uint8_t *blob, size_t len, const struct recip *r,
                            const char *expect)
{
    char *plain = NULL;
    size_t plen = 99;

    ck_assert_int_eq(sealed_open(&plain, &plen, blob, len, AAD, r->pk, r->sk), MRF_OK);
    ck_assert_ptr_nonnull(plain);
    ck_assert_uint_eq(plen, strlen(expect));
    ck_assert_str_eq(plain, expect);
    sealed_plain_free(plain);
}

START_TEST(sealed_round_trip_two_recipients)
{
    struct recip dev, escrow;
    uint8_t *blob = NULL;
    size_t len = 0;

    recip_init(&dev);
    recip_init(&escrow);
    seal_two(&blob, &len, "Amina Yusuf", &dev, &escrow);
    assert_opens_to(blob, len, &dev, "Amina Yusuf");
    assert_opens_to(blob, len, &escrow, "Amina Yusuf");
    x_free(blob);
    recip_release(&escrow);
    recip_release(&dev);
}
END_TEST

START_TEST(sealed_third_key_cannot_open)
{
    struct recip dev, escrow, other;
    uint8_t *blob = NULL;
    size_t len = 0, plen = 99;
    char *plain = (char *)"not touched";

    recip_init(&dev);
    recip_init(&escrow);
    recip_init(&other);
    seal_two(&blob, &len, "Amina Yusuf", &dev, &escrow);
    ck_assert_int_eq(sealed_open(&plain, &plen, blob, len, AAD, other.pk, other.sk), MRF_E_AUTH);
    ck_assert_ptr_null(plain);
    ck_assert_uint_eq(plen, 0);
    /* The right public key with the wrong secret key does not open either. */
    ck_assert_int_eq(sealed_open(&plain, &plen, blob, len, AAD, dev.pk, other.sk), MRF_E_AUTH);
    x_free(blob);
    recip_release(&other);
    recip_release(&escrow);
    recip_release(&dev);
}
END_TEST

START_TEST(sealed_wrong_aad)
{
    struct recip dev, escrow;
    uint8_t *blob = NULL;
    size_t len = 0, plen = 0;
    char *plain = NULL;

    recip_init(&dev);
    recip_init(&escrow);
    seal_two(&blob, &len, "Amina Yusuf", &dev, &escrow);
    ck_assert_int_eq(sealed_open(&plain, &plen, blob, len,
                                 "partners/00112233445566778899aabbccddeeff/phone", dev.pk, dev.sk),
                     MRF_E_AUTH);
    ck_assert_ptr_null(plain);
    ck_assert_int_eq(sealed_open(&plain, &plen, blob, len, "", escrow.pk, escrow.sk), MRF_E_AUTH);
    x_free(blob);
    recip_release(&escrow);
    recip_release(&dev);
}
END_TEST

START_TEST(sealed_flipped_byte_anywhere)
{
    struct recip dev, escrow;
    uint8_t *blob = NULL;
    size_t len = 0, i;
    int b;

    recip_init(&dev);
    recip_init(&escrow);
    seal_two(&blob, &len, "Amina Yusuf, +256 700 000000", &dev, &escrow);
    for (i = 0; i < len; i++) {
        for (b = 0; b < 8; b += 7) {
            char *plain = NULL;
            size_t plen = 0;
            uint8_t mask = (uint8_t)(1u << b);

            blob[i] ^= mask;
            ck_assert_msg(sealed_open(&plain, &plen, blob, len, AAD, dev.pk, dev.sk) != MRF_OK,
                          "flip of bit %d at %zu opened for the device", b, i);
            ck_assert_msg(sealed_open(&plain, &plen, blob, len, AAD, escrow.pk, escrow.sk) !=
                              MRF_OK,
                          "flip of bit %d at %zu opened for the escrow key", b, i);
            ck_assert_ptr_null(plain);
            blob[i] ^= mask;
        }
    }
    assert_opens_to(blob, len, &dev, "Amina Yusuf, +256 700 000000");
    x_free(blob);
    recip_release(&escrow);
    recip_release(&dev);
}
END_TEST

START_TEST(sealed_truncated)
{
    struct recip dev, escrow;
    uint8_t *blob = NULL;
    size_t len = 0, n;

    recip_init(&dev);
    recip_init(&escrow);
    seal_two(&blob, &len, "Amina Yusuf", &dev, &escrow);
    for (n = 0; n < len; n++) {
        char *plain = NULL;
        size_t plen = 0;

        ck_assert_msg(sealed_open(&plain, &plen, blob, n, AAD, dev.pk, dev.sk) == MRF_E_INVALID,
                      "truncated to %zu bytes", n);
        ck_assert_ptr_null(plain);
    }
    x_free(blob);
    recip_release(&escrow);
    recip_release(&dev);
}
END_TEST

START_TEST(sealed_malformed_header)
{
    struct recip dev, escrow;
    uint8_t *blob = NULL;
    size_t len = 0;
    char *plain = NULL;
    size_t plen = 0;

    recip_init(&dev);
    recip_init(&escrow);
    seal_two(&blob, &len, "Amina Yusuf", &dev, &escrow);
    blob[0] = 2;
    ck_assert_int_eq(sealed_open(&plain, &plen, blob, len, AAD, dev.pk, dev.sk), MRF_E_INVALID);
    blob[0] = 1;
    blob[1] = 0;
    ck_assert_int_eq(sealed_open(&plain, &plen, blob, len, AAD, dev.pk, dev.sk), MRF_E_INVALID);
    blob[1] = SEALED_MAX_RECIP + 1;
    ck_assert_int_eq(sealed_open(&plain, &plen, blob, len, AAD, dev.pk, dev.sk), MRF_E_INVALID);
    blob[1] = 1; /* one slot fewer: the ciphertext is no longer whole blocks */
    ck_assert_int_eq(sealed_open(&plain, &plen, blob, len, AAD, dev.pk, dev.sk), MRF_E_INVALID);
    ck_assert_ptr_null(plain);
    x_free(blob);
    recip_release(&escrow);
    recip_release(&dev);
}
END_TEST

START_TEST(sealed_empty_plaintext)
{
    struct recip dev, escrow;
    uint8_t *blob = NULL;
    size_t len = 0;

    recip_init(&dev);
    recip_init(&escrow);
    seal_two(&blob, &len, "", &dev, &escrow);
    assert_opens_to(blob, len, &dev, "");
    assert_opens_to(blob, len, &escrow, "");
    x_free(blob);
    recip_release(&escrow);
    recip_release(&dev);
}
END_TEST

START_TEST(sealed_too_big)
{
    struct recip dev;
    uint8_t *blob = (uint8_t *)"not touched";
    size_t len = 99;
    char *big = xmalloc(SEALED_MAX_PLAIN + 2);
    char *plain = NULL;
    size_t plen = 0;

    recip_init(&dev);
    memset(big, 'x', SEALED_MAX_PLAIN + 1);
    big[SEALED_MAX_PLAIN + 1] = '\0';
    ck_assert_int_eq(sealed_seal(&blob, &len, big, SEALED_MAX_PLAIN + 1, AAD,
                                 (const uint8_t(*)[MRF_BOX_PK])dev.pk, 1),
                     MRF_E_TOOBIG);
    ck_assert_ptr_null(blob);
    ck_assert_uint_eq(len, 0);
    /* Exactly at the cap is fine. */
    ck_assert_int_eq(sealed_seal(&blob, &len, big, SEALED_MAX_PLAIN, AAD,
                                 (const uint8_t(*)[MRF_BOX_PK])dev.pk, 1),
                     MRF_OK);
    ck_assert_int_eq(sealed_open(&plain, &plen, blob, len, AAD, dev.pk, dev.sk), MRF_OK);
    ck_assert_uint_eq(plen, SEALED_MAX_PLAIN);
    ck_assert_mem_eq(plain, big, SEALED_MAX_PLAIN);
    sealed_plain_free(plain);
    x_free(blob);
    x_free(big);
    recip_release(&dev);
}
END_TEST

START_TEST(sealed_padding_hides_length)
{
    struct recip dev, escrow;
    uint8_t *a = NULL, *b = NULL, *c = NULL;
    size_t alen = 0, blen = 0, clen = 0;

    recip_init(&dev);
    recip_init(&escrow);
    seal_two(&a, &alen, "a", &dev, &escrow);
    seal_two(&b, &blen, "abcdefghij", &dev, &escrow);
    ck_assert_uint_eq(alen, blen);
    /* 32 bytes of plaintext need a second block. */
    seal_two(&c, &clen, "abcdefghijabcdefghijabcdefghijab", &dev, &escrow);
    ck_assert_uint_eq(clen, alen + 32);
    x_free(c);
    x_free(b);
    x_free(a);
    recip_release(&escrow);
    recip_release(&dev);
}
END_TEST

START_TEST(sealed_blob_hides_plaintext)
{
    struct recip dev, escrow;
    const char *secret = "Amina Yusuf";
    uint8_t *blob = NULL;
    size_t len = 0, i, n = strlen(secret);

    recip_init(&dev);
    recip_init(&escrow);
    seal_two(&blob, &len, secret, &dev, &escrow);
    ck_assert_uint_ge(len, n);
    for (i = 0; i + n <= len; i++)
        ck_assert_msg(memcmp(blob + i, secret, n) != 0, "plaintext at offset %zu", i);
    /* Nor its first four letters. */
    for (i = 0; i + 4 <= len; i++)
        ck_assert_msg(memcmp(blob + i, secret, 4) != 0, "prefix at offset %zu", i);
    x_free(blob);
    recip_release(&escrow);
    recip_release(&dev);
}
END_TEST

START_TEST(sealed_bad_recipient_key)
{
    uint8_t zero[1][MRF_BOX_PK];
    uint8_t *blob = NULL;
    size_t len = 0;

    memset(zero, 0, sizeof zero);
    ck_assert_int_eq(sealed_seal(&blob, &len, "x", 1, AAD, (const uint8_t(*)[MRF_BOX_PK])zero, 1),
                     MRF_E_INVALID);
    ck_assert_ptr_null(blob);
    ck_assert_uint_eq(len, 0);
}
END_TEST

/* ---- signatures, hashes, fingerprints ---------------------------------------------------- */

START_TEST(sign_verify)
{
    struct mrf_secrets *s = NULL;
    const uint8_t msg[] = "change set 42";
    uint8_t sig[MRF_SIG];

    mrf_secrets_new(&s);
    mrf_sign(sig, msg, sizeof msg, s->sign_sk);
    ck_assert_int_eq(mrf_verify(sig, msg, sizeof msg, s->pub.sign_pk), MRF_OK);
    sig[10] ^= 0x01;
    ck_assert_int_eq(mrf_verify(sig, msg, sizeof msg, s->pub.sign_pk), MRF_E_AUTH);
    sig[10] ^= 0x01;
    ck_assert_int_eq(mrf_verify(sig, msg, sizeof msg - 1, s->pub.sign_pk), MRF_E_AUTH);
    mrf_secrets_free(s);
}
END_TEST

START_TEST(secrets_are_fresh_pairs)
{
    struct mrf_secrets *a = NULL, *b = NULL;
    uint8_t zero[MRF_SECRET] = {0}, pk[MRF_BOX_PK];

    mrf_secrets_new(&a);
    mrf_secrets_new(&b);
    ck_assert(memcmp(a->sign_sk, b->sign_sk, MRF_SIGN_SK) != 0);
    ck_assert(memcmp(a->box_sk, b->box_sk, MRF_BOX_SK) != 0);
    ck_assert_mem_eq(a->enroll_secret, zero, MRF_SECRET);
    ck_assert_int_eq(crypto_scalarmult_base(pk, a->box_sk), 0);
    ck_assert_mem_eq(pk, a->pub.box_pk, MRF_BOX_PK);
    ck_assert_mem_eq(a->sign_sk + 32, a->pub.sign_pk, MRF_SIGN_PK);
    mrf_secrets_free(b);
    mrf_secrets_free(a);
    mrf_secrets_free(NULL);
}
END_TEST

START_TEST(hash_keyed_and_unkeyed)
{
    uint8_t h1[32], h2[32], key[32];
    /* BLAKE2b-256("abc") */
    static const char *abc256 = "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319";
    char *hex;

    mrf_hash(h1, sizeof h1, (const uint8_t *)"abc", 3, NULL, 0);
    hex = hex_encode(h1, sizeof h1);
    ck_assert_str_eq(hex, abc256);
    x_free(hex);
    memset(key, 7, sizeof key);
    mrf_hash(h2, sizeof h2, (const uint8_t *)"abc", 3, key, sizeof key);
    ck_assert(memcmp(h1, h2, sizeof h1) != 0);
}
END_TEST

START_TEST(fingerprint_format)
{
    char fp[48];
    uint8_t pk[MRF_BOX_PK];
    size_t i;

    /* BLAKE2b-256 of the empty string begins 0e5751c026e543b2e8ab2eb06099daa1. */
    mrf_fingerprint((const uint8_t *)"", 0, fp);
    ck_assert_str_eq(fp, "0e57 51c0 26e5 43b2 e8ab 2eb0 6099 daa1");

    mrf_random(pk, sizeof pk);
    mrf_fingerprint(pk, sizeof pk, fp);
    ck_assert_uint_eq(strlen(fp), 39);
    for (i = 0; i < 39; i++) {
        if (i % 5 == 4)
            ck_assert_int_eq(fp[i], ' ');
        else
            ck_assert_msg((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'f'),
                          "char %zu is '%c'", i, fp[i]);
    }
    pk[0] ^= 1;
    {
        char fp2[48];
        mrf_fingerprint(pk, sizeof pk, fp2);
        ck_assert_str_ne(fp, fp2);
    }
}
END_TEST

/* Every field the real sealer makes has a whole frame: lengths 0..SEALED_MAX_PLAIN across block
 * edges, 1..SEALED_MAX_RECIP recipients. */
START_TEST(sealed_frame_real_fields_pass)
{
    static const size_t lens[] = {
        0, 1, 31, 32, 33, 63, 64, 1000, SEALED_MAX_PLAIN - 1, SEALED_MAX_PLAIN};
    uint8_t pks[SEALED_MAX_RECIP][MRF_BOX_PK];
    char *plain = xmalloc(SEALED_MAX_PLAIN);

    memset(plain, 'n', SEALED_MAX_PLAIN);
    for (int r = 0; r < SEALED_MAX_RECIP; r++) {
        uint8_t *sk = sodium_malloc(MRF_BOX_SK);
        mrf_box_keypair(pks[r], sk);
        sodium_free(sk);
    }
    for (int nr = 1; nr <= SEALED_MAX_RECIP; nr++) {
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            uint8_t *blob = NULL;
            size_t len = 0;

            ck_assert_int_eq(sealed_seal(&blob, &len, plain, lens[i], AAD,
                                         (const uint8_t(*)[MRF_BOX_PK])pks, nr),
                             MRF_OK);
            ck_assert_msg(sealed_frame_check(blob, len) == MRF_OK, "%d recipients, %zu bytes", nr,
                          lens[i]);
            x_free(blob);
        }
    }
    x_free(plain);
}
END_TEST

/* What a frame check refuses, and that it does so without a key. */
START_TEST(sealed_frame_refused)
{
    struct recip dev, escrow;
    uint8_t *blob = NULL, *big;
    size_t len = 0, n;
    uint8_t saved;

    recip_init(&dev);
    recip_init(&escrow);
    seal_two(&blob, &len, "Amina Yusuf", &dev, &escrow); /* one block */
    ck_assert_int_eq(sealed_frame_check(blob, len), MRF_OK);
    ck_assert_int_eq(sealed_frame_check(NULL, 0), MRF_E_INVALID);
    /* truncated: every length short of the whole (one block: no shorter frame is whole) */
    for (n = 0; n < len; n++)
        ck_assert_msg(sealed_frame_check(blob, n) == MRF_E_INVALID, "truncated to %zu", n);
    /* extended: anything but whole blocks is trailing bytes */
    big = xcalloc(len + 64, 1);
    memcpy(big, blob, len);
    for (n = len + 1; n < len + 32; n++)
        ck_assert_msg(sealed_frame_check(big, n) == MRF_E_INVALID, "extended to %zu", n);
    /* a whole block more is a whole frame: only a recipient can tell (the tag fails) */
    ck_assert_int_eq(sealed_frame_check(big, len + 32), MRF_OK);
    {
        char *plain = NULL;
        size_t plen = 0;
        ck_assert_int_eq(sealed_open(&plain, &plen, big, len + 32, AAD, dev.pk, dev.sk),
                         MRF_E_AUTH);
        ck_assert_int_eq(sealed_for_key(big, len + 32, dev.pk, dev.sk), MRF_OK);
    }
    x_free(big);
    /* wrong version */
    saved = blob[0];
    for (unsigned v = 0; v < 256; v++) {
        blob[0] = (uint8_t)v;
        ck_assert_int_eq(sealed_frame_check(blob, len), v == 1 ? MRF_OK : MRF_E_INVALID);
    }
    blob[0] = saved;
    /* zero or too many recipients; a count whose slots point past the end */
    saved = blob[1];
    blob[1] = 0;
    ck_assert_int_eq(sealed_frame_check(blob, len), MRF_E_INVALID);
    blob[1] = SEALED_MAX_RECIP + 1;
    ck_assert_int_eq(sealed_frame_check(blob, len), MRF_E_INVALID);
    blob[1] = 255;
    ck_assert_int_eq(sealed_frame_check(blob, len), MRF_E_INVALID);
    blob[1] = 3; /* slots run into the ciphertext: it is no longer a block and a tag */
    ck_assert_int_eq(sealed_frame_check(blob, len), MRF_E_INVALID);
    blob[1] = 1;
    ck_assert_int_eq(sealed_frame_check(blob, len), MRF_E_INVALID);
    blob[1] = saved;
    ck_assert_int_eq(sealed_frame_check(blob, len), MRF_OK);
    x_free(blob);
    /* over the field cap: a frame of more blocks than SEALED_MAX_PLAIN pads to */
    n = 2 + 80 + 24 + (SEALED_MAX_PLAIN / 32 + 2) * 32 + 16;
    big = xcalloc(n, 1);
    big[0] = 1;
    big[1] = 1;
    ck_assert_int_eq(sealed_frame_check(big, n), MRF_E_INVALID);
    ck_assert_int_eq(sealed_frame_check(big, n - 32), MRF_OK); /* the largest padded field */
    x_free(big);
    recip_release(&escrow);
    recip_release(&dev);
}
END_TEST

/* sealed_for_key tells a field for this key that does not open (damaged) from one for others. */
START_TEST(sealed_for_key_tells_damaged_from_foreign)
{
    struct recip dev, escrow, other;
    uint8_t *blob = NULL;
    size_t len = 0;
    char *plain = NULL;
    size_t plen = 0;

    recip_init(&dev);
    recip_init(&escrow);
    recip_init(&other);
    seal_two(&blob, &len, "Amina Yusuf", &dev, &escrow);
    ck_assert_int_eq(sealed_for_key(blob, len, dev.pk, dev.sk), MRF_OK);
    ck_assert_int_eq(sealed_for_key(blob, len, escrow.pk, escrow.sk), MRF_OK);
    ck_assert_int_eq(sealed_for_key(blob, len, other.pk, other.sk), MRF_E_AUTH);
    blob[len - 1] ^= 1; /* the tag: the slots still open */
    ck_assert_int_eq(sealed_open(&plain, &plen, blob, len, AAD, dev.pk, dev.sk), MRF_E_AUTH);
    ck_assert_int_eq(sealed_for_key(blob, len, dev.pk, dev.sk), MRF_OK);
    ck_assert_int_eq(sealed_for_key(blob, len - 1, dev.pk, dev.sk), MRF_E_INVALID);
    x_free(blob);
    recip_release(&other);
    recip_release(&escrow);
    recip_release(&dev);
}
END_TEST

/* ---- suite ------------------------------------------------------------------------------- */

static void add(Suite *s, const char *name, const TTest *t, int files)
{
    TCase *tc = tcase_create(name);

    if (files)
        tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, t);
    suite_add_tcase(s, tc);
}

static Suite *crypto_suite(void)
{
    Suite *s = suite_create("crypto");

    add(s, "keystore_round_trip", keystore_round_trip, 1);
    add(s, "keystore_file_layout", keystore_file_layout, 1);
    add(s, "keystore_wrong_passphrase", keystore_wrong_passphrase, 1);
    add(s, "keystore_missing_file", keystore_missing_file, 1);
    add(s, "keystore_truncated_or_garbage", keystore_truncated_or_garbage, 1);
    add(s, "keystore_absurd_kdf_limits", keystore_absurd_kdf_limits, 1);
    add(s, "keystore_flipped_byte", keystore_flipped_byte, 1);
    add(s, "keystore_create_refuses_existing", keystore_create_refuses_existing, 1);
    add(s, "keystore_rekey_changes_passphrase", keystore_rekey_changes_passphrase, 1);
    add(s, "keystore_rekey_wrong_old_passphrase", keystore_rekey_wrong_old_passphrase, 1);
    add(s, "keystore_update_replaces_secrets", keystore_update_replaces_secrets, 1);
    add(s, "keystore_destroy_removes_file", keystore_destroy_removes_file, 1);
    add(s, "keystore_v1_opens_and_becomes_v2", keystore_v1_opens_and_becomes_v2, 1);
    add(s, "keystore_duress_slot_always_there", keystore_duress_slot_always_there, 1);
    add(s, "keystore_duress_destroys_and_answers_as_wrong",
        keystore_duress_destroys_and_answers_as_wrong, 1);
    add(s, "keystore_duress_refusals_and_rekey", keystore_duress_refusals_and_rekey, 1);
    add(s, "keystore_max_failures_counts_and_destroys", keystore_max_failures_counts_and_destroys,
        1);
    add(s, "keystore_max_failures_last_try_right", keystore_max_failures_last_try_right, 1);
    add(s, "keystore_max_failures_uncountable_try_refused",
        keystore_max_failures_uncountable_try_refused, 1);
    add(s, "signkey_round_trip", signkey_round_trip, 1);
    add(s, "boxkey_round_trip", boxkey_round_trip, 1);
    add(s, "boxkey_and_keystore_not_interchangeable", boxkey_and_keystore_not_interchangeable, 1);
    add(s, "sealed_round_trip_two_recipients", sealed_round_trip_two_recipients, 0);
    add(s, "sealed_third_key_cannot_open", sealed_third_key_cannot_open, 0);
    add(s, "sealed_wrong_aad", sealed_wrong_aad, 0);
    add(s, "sealed_flipped_byte_anywhere", sealed_flipped_byte_anywhere, 0);
    add(s, "sealed_truncated", sealed_truncated, 0);
    add(s, "sealed_malformed_header", sealed_malformed_header, 0);
    add(s, "sealed_empty_plaintext", sealed_empty_plaintext, 0);
    add(s, "sealed_too_big", sealed_too_big, 0);
    add(s, "sealed_padding_hides_length", sealed_padding_hides_length, 0);
    add(s, "sealed_blob_hides_plaintext", sealed_blob_hides_plaintext, 0);
    add(s, "sealed_bad_recipient_key", sealed_bad_recipient_key, 0);
    add(s, "sealed_frame_real_fields_pass", sealed_frame_real_fields_pass, 0);
    add(s, "sealed_frame_refused", sealed_frame_refused, 0);
    add(s, "sealed_for_key_tells_damaged_from_foreign", sealed_for_key_tells_damaged_from_foreign,
        0);
    add(s, "sign_verify", sign_verify, 0);
    add(s, "secrets_are_fresh_pairs", secrets_are_fresh_pairs, 0);
    add(s, "hash_keyed_and_unkeyed", hash_keyed_and_unkeyed, 0);
    add(s, "fingerprint_format", fingerprint_format, 0);
    return s;
}

int main(void)
{

    if (mrfcrypto_init() != MRF_OK) {
        fprintf(stderr, "test_crypto: libsodium failed to initialise\n");
        return EXIT_FAILURE;
    }
    return testutil_run(crypto_suite());
}

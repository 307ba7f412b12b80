/* Check suite for the pouch container (sync/pouch.c): pouches written and read back both ways
 * (device to HQ, HQ's reply), their sizes always one of the buckets, the layout as mrfsync.h
 * documents it (opened here by hand with libsodium), and every malformed form refused whole:
 * short, wrong magic, version, kind, reserved bytes, cut short, added to, one flipped byte
 * anywhere, another receiver's key, a body changed and sealed again without the signing key,
 * and signed bodies whose lengths, padding or list do not add up. One test case per behaviour. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "testutil.h"
#include "common.h"
#include "mrfcrypto.h"
#include "mrfsync.h"

static struct mrf_secrets *dev, *hq, *eve;
static uint8_t env_a[300], env_b[5000];

static void setup(void)
{
    mrf_secrets_new(&dev);
    mrf_secrets_new(&hq);
    mrf_secrets_new(&eve);
    mrf_random(env_a, sizeof env_a);
    mrf_random(env_b, sizeof env_b);
}

static void teardown(void)
{
    mrf_secrets_free(dev);
    mrf_secrets_free(hq);
    mrf_secrets_free(eve);
}

/* A device's pouch with env_a and env_b, sealed to HQ, into out (cap POUCH_MAX). */
static void write_request(struct pouch *p, struct buf *out)
{
    struct mrf_error err;

    pouch_init(p, POUCH_REQUEST);
    mrf_random(p->device, MRF_ID);
    str_copy(p->post, "NAI", sizeof p->post);
    ck_assert_int_eq(pouch_add(p, env_a, sizeof env_a, &err), MRF_OK);
    ck_assert_int_eq(pouch_add(p, env_b, sizeof env_b, &err), MRF_OK);
    buf_init(out, POUCH_MAX);
    ck_assert_int_eq(pouch_write(p, dev->sign_sk, hq->pub.box_pk, out, &err), MRF_OK);
}

static enum mrf_status read_at_hq(const struct buf *b, struct pouch *p, struct mrf_error *err)
{
    return pouch_read((const uint8_t *)b->data, b->len, POUCH_REQUEST, hq->pub.box_pk, hq->box_sk,
                      p, err);
}

START_TEST(pouch_round_trip_request)
{
    struct pouch w, r;
    struct buf b;
    struct mrf_error err;

    write_request(&w, &b);
    ck_assert_uint_eq(b.len, POUCH_BUCKET_MIN);
    ck_assert_uint_eq(b.len, pouch_size(&w));
    ck_assert_int_eq(read_at_hq(&b, &r, &err), MRF_OK);
    ck_assert_int_eq(r.kind, POUCH_REQUEST);
    ck_assert_mem_eq(r.id, w.id, MRF_ID);
    ck_assert_mem_eq(r.device, w.device, MRF_ID);
    ck_assert_str_eq(r.post, "NAI");
    ck_assert_uint_eq(r.created_ms, w.created_ms);
    ck_assert_mem_eq(r.signer_pk, dev->pub.sign_pk, MRF_SIGN_PK);
    ck_assert_int_eq(r.n, 2);
    ck_assert_uint_eq(r.env_len[0], sizeof env_a);
    ck_assert_mem_eq(r.env[0], env_a, sizeof env_a);
    ck_assert_uint_eq(r.env_len[1], sizeof env_b);
    ck_assert_mem_eq(r.env[1], env_b, sizeof env_b);
    pouch_release(&r);
    buf_release(&b);
}
END_TEST

START_TEST(pouch_round_trip_reply_and_empty)
{
    struct pouch w, r;
    struct buf b;
    struct mrf_error err;
    uint8_t to[MRF_ID];

    mrf_random(to, MRF_ID);
    pouch_init(&w, POUCH_REPLY);
    memcpy(w.reply_to, to, MRF_ID);
    buf_init(&b, POUCH_MAX);
    ck_assert_int_eq(pouch_write(&w, hq->sign_sk, dev->pub.box_pk, &b, &err), MRF_OK);
    ck_assert_int_eq(pouch_read((const uint8_t *)b.data, b.len, POUCH_REPLY, dev->pub.box_pk,
                                dev->box_sk, &r, &err),
                     MRF_OK);
    ck_assert_int_eq(r.n, 0);
    ck_assert_mem_eq(r.reply_to, to, MRF_ID);
    ck_assert_mem_eq(r.signer_pk, hq->pub.sign_pk, MRF_SIGN_PK);
    pouch_release(&r);
    buf_release(&b);
}
END_TEST

START_TEST(pouch_sizes_are_buckets)
{
    static uint8_t big[ENV_MAX];
    const size_t want[] = {64u << 10, 256u << 10, 1u << 20, 4u << 20};
    const size_t fill[] = {1000, 100u << 10, 700u << 10, 3u << 20};
    struct pouch w, r;
    struct buf b;
    struct mrf_error err;

    buf_init(&b, POUCH_MAX);
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        size_t left = fill[k];
        pouch_init(&w, POUCH_REQUEST);
        while (left > 0) {
            size_t n = left < ENV_MAX ? left : ENV_MAX;
            ck_assert_int_eq(pouch_add(&w, big, n, &err), MRF_OK);
            left -= n;
        }
        ck_assert_int_eq(pouch_write(&w, dev->sign_sk, hq->pub.box_pk, &b, &err), MRF_OK);
        ck_assert_uint_eq(b.len, want[k]);
        ck_assert_uint_eq(pouch_size(&w), want[k]);
        ck_assert_int_eq(read_at_hq(&b, &r, &err), MRF_OK);
        pouch_release(&r);
    }
    buf_release(&b);
}
END_TEST

START_TEST(pouch_add_refuses_past_its_bounds)
{
    static uint8_t big[ENV_MAX + 1];
    struct pouch w;
    struct mrf_error err;

    pouch_init(&w, POUCH_REQUEST);
    ck_assert_int_eq(pouch_add(&w, big, ENV_MAX + 1, &err), MRF_E_TOOBIG);
    ck_assert_int_eq(pouch_add(&w, big, 0, &err), MRF_E_TOOBIG);
    for (int i = 0; i < POUCH_ENVELOPES_MAX; i++)
        ck_assert_int_eq(pouch_add(&w, big, i < 31 ? ENV_MAX : 100, &err), MRF_OK);
    ck_assert_int_eq(pouch_add(&w, big, 1, &err), MRF_E_TOOBIG);
    ck_assert_int_eq(w.n, POUCH_ENVELOPES_MAX);
    ck_assert_uint_le(pouch_size(&w), POUCH_MAX);
    /* 32 envelopes of 2 MiB would not fit the largest bucket */
    pouch_init(&w, POUCH_REQUEST);
    while (pouch_add(&w, big, ENV_MAX, &err) == MRF_OK)
        ;
    ck_assert_int_lt(w.n, POUCH_ENVELOPES_MAX);
    ck_assert_uint_lt(pouch_room(&w), ENV_MAX + 4);
}
END_TEST

START_TEST(pouch_layout_as_documented)
{
    struct pouch w;
    struct buf b;
    uint8_t *plain;
    size_t plain_len;
    uint32_t blen;
    crypto_sign_state st;

    write_request(&w, &b);
    ck_assert_mem_eq(b.data, "MRFP\x01\x01\x00\x00", 8);
    plain_len = b.len - 8 - crypto_box_SEALBYTES;
    plain = xmalloc(plain_len);
    ck_assert_int_eq(
        crypto_box_seal_open(plain, (uint8_t *)b.data + 8, b.len - 8, hq->pub.box_pk, hq->box_sk),
        0);
    blen = (uint32_t)plain[0] << 24 | (uint32_t)plain[1] << 16 | (uint32_t)plain[2] << 8 | plain[3];
    ck_assert_uint_eq(blen, 108 + 4 + sizeof env_a + 4 + sizeof env_b);
    ck_assert_mem_eq(plain + 4, w.id, MRF_ID);
    ck_assert_mem_eq(plain + 4 + 32, w.device, MRF_ID);
    ck_assert_mem_eq(plain + 4 + 48, "NAI\0", 4);
    ck_assert_mem_eq(plain + 4 + 72, dev->pub.sign_pk, MRF_SIGN_PK);
    ck_assert_mem_eq(plain + 4 + 104, "\0\0\0\x02", 4);
    ck_assert_mem_eq(plain + 4 + 108, "\0\0\x01\x2c", 4);
    ck_assert_mem_eq(plain + 4 + 112, env_a, sizeof env_a);
    crypto_sign_init(&st);
    crypto_sign_update(&st, (const uint8_t *)"mrf-pouch-v1", 12);
    crypto_sign_update(&st, (const uint8_t *)b.data, 8);
    crypto_sign_update(&st, plain + 4, blen);
    ck_assert_int_eq(crypto_sign_final_verify(&st, plain + 4 + blen, dev->pub.sign_pk), 0);
    for (size_t i = 4 + blen + 64; i < plain_len; i++)
        ck_assert_uint_eq(plain[i], 0);
    x_free(plain);
    buf_release(&b);
}
END_TEST

START_TEST(pouch_read_refuses_bad_header)
{
    struct pouch w, r;
    struct buf b;
    struct mrf_error err;

    write_request(&w, &b);
    ck_assert_int_eq(
        pouch_read((const uint8_t *)b.data, 7, POUCH_REQUEST, hq->pub.box_pk, hq->box_sk, &r, &err),
        MRF_E_INVALID);
    for (int i = 0; i < 8; i++) {
        b.data[i] ^= 0x40;
        ck_assert_int_eq(read_at_hq(&b, &r, &err), MRF_E_INVALID);
        ck_assert_ptr_null(r.plain);
        b.data[i] ^= 0x40;
    }
    /* a device's pouch is not a reply */
    ck_assert_int_eq(pouch_read((const uint8_t *)b.data, b.len, POUCH_REPLY, hq->pub.box_pk,
                                hq->box_sk, &r, &err),
                     MRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "device's pouch"));
    ck_assert_int_eq(read_at_hq(&b, &r, &err), MRF_OK);
    pouch_release(&r);
    buf_release(&b);
}
END_TEST

START_TEST(pouch_read_refuses_cut_or_added_to)
{
    struct pouch w, r;
    struct buf b;
    struct mrf_error err;
    const size_t cuts[] = {8, 100, 32768, POUCH_BUCKET_MIN - 1};

    write_request(&w, &b);
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        ck_assert_int_eq(pouch_read((const uint8_t *)b.data, cuts[i], POUCH_REQUEST, hq->pub.box_pk,
                                    hq->box_sk, &r, &err),
                         MRF_E_INVALID);
        ck_assert_ptr_nonnull(strstr(err.msg, "cut short"));
    }
    ck_assert_int_eq(buf_append(&b, "x", 1), MRF_OK);
    ck_assert_int_eq(read_at_hq(&b, &r, &err), MRF_E_INVALID);
    buf_release(&b);
}
END_TEST

START_TEST(pouch_read_refuses_any_flipped_byte)
{
    struct pouch w, r;
    struct buf b;
    struct mrf_error err;

    write_request(&w, &b);
    for (size_t i = 8; i < b.len; i += 997) {
        b.data[i] ^= 1;
        ck_assert_int_eq(read_at_hq(&b, &r, &err), MRF_E_AUTH);
        ck_assert_ptr_null(r.plain);
        b.data[i] ^= 1;
    }
    b.data[b.len - 1] ^= 1;
    ck_assert_int_eq(read_at_hq(&b, &r, &err), MRF_E_AUTH);
    buf_release(&b);
}
END_TEST

START_TEST(pouch_read_refuses_another_receiver)
{
    struct pouch w, r;
    struct buf b;
    struct mrf_error err;

    write_request(&w, &b);
    ck_assert_int_eq(pouch_read((const uint8_t *)b.data, b.len, POUCH_REQUEST, eve->pub.box_pk,
                                eve->box_sk, &r, &err),
                     MRF_E_AUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "another receiver"));
    buf_release(&b);
}
END_TEST

/* Opens a pouch sealed to hq, lets edit change the plaintext, and seals it to hq again:
 * what someone who knows HQ's public key but not the signer's secret can do. With sign set,
 * the body is signed again with dev's key (a signer's own malformed pouch). */
static enum mrf_status reseal(struct buf *b, void (*edit)(uint8_t *plain, size_t n), int sign,
                              struct pouch *r, struct mrf_error *err)
{
    size_t plain_len = b->len - 8 - crypto_box_SEALBYTES;
    uint8_t *plain = xmalloc(plain_len);
    uint32_t blen;
    enum mrf_status rc;

    ck_assert_int_eq(
        crypto_box_seal_open(plain, (uint8_t *)b->data + 8, b->len - 8, hq->pub.box_pk, hq->box_sk),
        0);
    edit(plain, plain_len);
    if (sign) {
        crypto_sign_state st;
        blen = (uint32_t)plain[0] << 24 | (uint32_t)plain[1] << 16 | (uint32_t)plain[2] << 8 |
               plain[3];
        ck_assert_uint_le(4 + blen + 64, plain_len);
        crypto_sign_init(&st);
        crypto_sign_update(&st, (const uint8_t *)"mrf-pouch-v1", 12);
        crypto_sign_update(&st, (const uint8_t *)b->data, 8);
        crypto_sign_update(&st, plain + 4, blen);
        crypto_sign_final_create(&st, plain + 4 + blen, NULL, dev->sign_sk);
    }
    ck_assert_int_eq(crypto_box_seal((uint8_t *)b->data + 8, plain, plain_len, hq->pub.box_pk), 0);
    x_free(plain);
    rc = read_at_hq(b, r, err);
    ck_assert(rc == MRF_OK || r->plain == NULL);
    return rc;
}

static void edit_post(uint8_t *p, size_t n)
{
    (void)n;
    p[4 + 48] = 'X';
}
static void edit_count_up(uint8_t *p, size_t n)
{
    (void)n;
    p[4 + 107]++;
}
static void edit_count_huge(uint8_t *p, size_t n)
{
    (void)n;
    p[4 + 104] = 0x7f;
}
static void edit_blen_huge(uint8_t *p, size_t n)
{
    (void)n;
    p[1] = 0xff;
}
static void edit_blen_small(uint8_t *p, size_t n)
{
    (void)n;
    memset(p, 0, 4);
    p[3] = 50;
}
static void edit_entry_len(uint8_t *p, size_t n)
{
    (void)n;
    p[4 + 108 + 3]++; /* the first envelope claims one byte more */
}
static void edit_entry_len_huge(uint8_t *p, size_t n)
{
    (void)n;
    p[4 + 108] = 0x01; /* 16 MiB, past ENV_MAX */
}
static void edit_padding(uint8_t *p, size_t n)
{
    p[n - 1] = 1;
}
static void edit_post_unterminated(uint8_t *p, size_t n)
{
    (void)n;
    memset(p + 4 + 48, 'A', 16);
}

START_TEST(pouch_read_refuses_unsigned_change)
{
    struct pouch w, r;
    struct buf b;
    struct mrf_error err;

    write_request(&w, &b);
    ck_assert_int_eq(reseal(&b, edit_post, 0, &r, &err), MRF_E_AUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "signature"));
    buf_release(&b);
}
END_TEST

START_TEST(pouch_read_refuses_signed_malformed_body)
{
    void (*edits[])(uint8_t *, size_t) = {edit_count_up, edit_count_huge, edit_entry_len,
                                          edit_entry_len_huge, edit_post_unterminated};
    struct pouch w, r;
    struct buf b;
    struct mrf_error err;

    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        write_request(&w, &b);
        ck_assert_int_eq(reseal(&b, edits[i], 1, &r, &err), MRF_E_INVALID);
        buf_release(&b);
    }
    /* lengths that do not fit the file are refused before the signature is even looked at */
    write_request(&w, &b);
    ck_assert_int_eq(reseal(&b, edit_blen_huge, 0, &r, &err), MRF_E_INVALID);
    buf_release(&b);
    write_request(&w, &b);
    ck_assert_int_eq(reseal(&b, edit_blen_small, 0, &r, &err), MRF_E_INVALID);
    buf_release(&b);
    write_request(&w, &b);
    ck_assert_int_eq(reseal(&b, edit_padding, 0, &r, &err), MRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "padding"));
    buf_release(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pouch");
    TCase *tc = tcase_create("container");

    if (mrfcrypto_init() != MRF_OK)
        return EXIT_FAILURE;
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pouch_round_trip_request);
    tcase_add_test(tc, pouch_round_trip_reply_and_empty);
    tcase_add_test(tc, pouch_sizes_are_buckets);
    tcase_add_test(tc, pouch_add_refuses_past_its_bounds);
    tcase_add_test(tc, pouch_layout_as_documented);
    tcase_add_test(tc, pouch_read_refuses_bad_header);
    tcase_add_test(tc, pouch_read_refuses_cut_or_added_to);
    tcase_add_test(tc, pouch_read_refuses_any_flipped_byte);
    tcase_add_test(tc, pouch_read_refuses_another_receiver);
    tcase_add_test(tc, pouch_read_refuses_unsigned_change);
    tcase_add_test(tc, pouch_read_refuses_signed_malformed_body);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

/* Check suite for the wire (sync/envelope.c, sync/ops.c) and the per-column merge
 * (sync/merge.c): envelopes sealed and opened both ways and refused for every malformed or
 * tampered byte, including a zstd frame that claims too much (built by hand with the same
 * crypto as envelope.c); ops as JSON round trip for every column type and refused for every
 * malformed field; change set bodies against golden files, with HQ's audit head and conflict
 * records (every malformed member refused, a version-1 answer unchanged); merge on a real post
 * store and a real HQ store converging whatever the order of the ops. One test case per behaviour.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>
#include <zstd.h>

#include "testutil.h"
#include "common.h"
#include "mrfcrypto.h"
#include "mrfsync.h"
#include "schema.h"

#define ABYTES crypto_aead_xchacha20poly1305_ietf_ABYTES

/* ---- envelopes --------------------------------------------------------------------------- */

static struct mrf_secrets *alice, *bob, *eve;

static void keys_setup(void)
{
    mrf_secrets_new(&alice);
    mrf_secrets_new(&bob);
    mrf_secrets_new(&eve);
}

static void keys_teardown(void)
{
    mrf_secrets_free(alice);
    mrf_secrets_free(bob);
    mrf_secrets_free(eve);
}

static void header_init(struct envelope *h, int kind, unsigned flags)
{
    memset(h, 0, sizeof *h);
    h->kind = kind;
    h->flags = flags;
    mrf_random(h->sender, MRF_ID);
    mrf_random(h->changeset, MRF_ID);
    str_copy(h->post, "NAI", sizeof h->post);
    if (flags & ENV_F_ENROLL) {
        mrf_random(h->token_id, MRF_ID);
        h->keys = alice->pub;
    }
}

/* Seals json from alice to bob into out (cap ENV_MAX). */
static void seal(const struct envelope *h, const char *json, size_t len, struct buf *out)
{
    struct mrf_error err = {0};

    buf_init(out, ENV_MAX);
    ck_assert_msg(envelope_seal(h, json, len, alice, bob->pub.box_pk, out, &err) == MRF_OK, "%s",
                  err.msg);
}

/* Parses and opens p as bob reading alice. Returns the status of the first step that fails. */
static enum mrf_status parse_open(const uint8_t *p, size_t n, char **json, size_t *len)
{
    struct envelope h;
    struct mrf_error err = {0};
    enum mrf_status st = envelope_parse(p, n, &h, &err);

    *json = NULL;
    *len = 0;
    if (st != MRF_OK)
        return st;
    return envelope_open(&h, alice->pub.sign_pk, alice->pub.box_pk, bob->box_sk, json, len, &err);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The documented header (mrfsync.h) for a ciphertext of ct_len bytes; returns its length. */
static size_t make_header(const struct envelope *h, const uint8_t nonce[24], uint32_t ct_len,
                          uint8_t out[ENV_HEADER + ENV_ENROLL_EXT])
{
    memset(out, 0, ENV_HEADER + ENV_ENROLL_EXT);
    memcpy(out, "MRFE", 4);
    out[4] = 1;
    out[5] = (uint8_t)h->kind;
    out[6] = (uint8_t)h->flags;
    memcpy(out + 8, h->sender, 16);
    memcpy(out + 24, h->changeset, 16);
    memcpy(out + 40, h->post, strlen(h->post));
    memcpy(out + 56, nonce, 24);
    put_u32(out + 80, ct_len);
    if (!(h->flags & ENV_F_ENROLL))
        return ENV_HEADER;
    memcpy(out + 84, h->token_id, 16);
    memcpy(out + 100, h->keys.sign_pk, 32);
    memcpy(out + 132, h->keys.box_pk, 32);
    return ENV_HEADER + ENV_ENROLL_EXT;
}

/* An envelope built by hand with envelope.c's crypto around any plaintext (a zstd frame or
 * not), from alice to bob. */
static void craft(const struct envelope *h, const uint8_t *plain, size_t plen, struct buf *out)
{
    uint8_t head[ENV_HEADER + ENV_ENROLL_EXT], nonce[24], key[crypto_box_BEFORENMBYTES];
    size_t hl;
    unsigned long long clen = 0;
    uint8_t *env;

    mrf_random(nonce, sizeof nonce);
    hl = make_header(h, nonce, (uint32_t)(plen + ABYTES), head);
    ck_assert_int_eq(crypto_box_beforenm(key, bob->pub.box_pk, alice->box_sk), 0);
    env = xmalloc(hl + plen + ABYTES + MRF_SIG);
    memcpy(env, head, hl);
    crypto_aead_xchacha20poly1305_ietf_encrypt(env + hl, &clen, plain, plen, head, hl, NULL, nonce,
                                               key);
    mrf_sign(env + hl + clen, env, hl + (size_t)clen, alice->sign_sk);
    buf_init(out, 2 * ENV_MAX);
    ck_assert_int_eq(buf_append(out, env, hl + (size_t)clen + MRF_SIG), MRF_OK);
    x_free(env);
}

static const char sample_json[] = "{\"v\":1,\"cursor\":0,\"ops\":[]}";

static void check_round_trip(int kind, unsigned flags)
{
    struct envelope h, back;
    struct buf env;
    struct mrf_error err = {0};
    char *json = NULL;
    size_t len = 0;

    header_init(&h, kind, flags);
    seal(&h, sample_json, strlen(sample_json), &env);
    ck_assert_int_eq(envelope_parse((const uint8_t *)env.data, env.len, &back, &err), MRF_OK);
    ck_assert_int_eq(back.kind, kind);
    ck_assert_uint_eq(back.flags, flags);
    ck_assert_mem_eq(back.sender, h.sender, MRF_ID);
    ck_assert_mem_eq(back.changeset, h.changeset, MRF_ID);
    ck_assert_str_eq(back.post, "NAI");
    ck_assert_uint_eq(back.raw_len, env.len);
    ck_assert_uint_eq(back.head_len, ENV_HEADER + ((flags & ENV_F_ENROLL) ? ENV_ENROLL_EXT : 0));
    ck_assert_uint_eq(back.head_len + back.ct_len + MRF_SIG, env.len);
    if (flags & ENV_F_ENROLL) {
        ck_assert_mem_eq(back.token_id, h.token_id, MRF_ID);
        ck_assert_mem_eq(&back.keys, &alice->pub, sizeof back.keys);
    }
    ck_assert_int_eq(
        envelope_open(&back, alice->pub.sign_pk, alice->pub.box_pk, bob->box_sk, &json, &len, &err),
        MRF_OK);
    ck_assert_uint_eq(len, strlen(sample_json));
    ck_assert_str_eq(json, sample_json);
    x_free(json);
    buf_release(&env);
}

START_TEST(envelope_round_trip_request)
{
    check_round_trip(ENV_REQUEST, 0);
}
END_TEST

START_TEST(envelope_round_trip_request_enroll)
{
    check_round_trip(ENV_REQUEST, ENV_F_ENROLL);
}
END_TEST

START_TEST(envelope_round_trip_response)
{
    check_round_trip(ENV_RESPONSE, 0);
}
END_TEST

START_TEST(envelope_round_trip_empty_and_max_body)
{
    struct envelope h;
    struct buf env;
    char *big = xmalloc(WIRE_JSON_MAX + 2), *json = NULL;
    size_t len = 0;
    struct mrf_error err = {0};

    header_init(&h, ENV_REQUEST, 0);
    seal(&h, "", 0, &env);
    ck_assert_int_eq(parse_open((const uint8_t *)env.data, env.len, &json, &len), MRF_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(json, "");
    x_free(json);
    buf_release(&env);

    memset(big, ' ', WIRE_JSON_MAX + 1);
    big[WIRE_JSON_MAX + 1] = '\0';
    seal(&h, big, WIRE_JSON_MAX, &env);
    ck_assert_int_eq(parse_open((const uint8_t *)env.data, env.len, &json, &len), MRF_OK);
    ck_assert_uint_eq(len, WIRE_JSON_MAX);
    x_free(json);
    /* one byte more is refused by seal itself, and leaves out empty */
    ck_assert_int_eq(envelope_seal(&h, big, WIRE_JSON_MAX + 1, alice, bob->pub.box_pk, &env, &err),
                     MRF_E_TOOBIG);
    ck_assert_uint_eq(env.len, 0);
    buf_release(&env);
    x_free(big);
}
END_TEST

START_TEST(envelope_layout_as_documented)
{
    struct envelope h;
    struct buf env, hand;
    uint8_t head[ENV_HEADER + ENV_ENROLL_EXT];
    char *json = NULL;
    size_t len = 0, hl;

    header_init(&h, ENV_REQUEST, ENV_F_ENROLL);
    seal(&h, sample_json, strlen(sample_json), &env);
    /* every header byte but the nonce is what mrfsync.h says */
    hl = make_header(&h, (const uint8_t *)env.data + 56,
                     (uint32_t)(env.len - ENV_HEADER - ENV_ENROLL_EXT - MRF_SIG), head);
    ck_assert_uint_eq(hl, ENV_HEADER + ENV_ENROLL_EXT);
    ck_assert_mem_eq(env.data, head, hl);
    /* and an envelope made by hand to that layout opens */
    {
        size_t zb = ZSTD_compressBound(strlen(sample_json));
        uint8_t *z = xmalloc(zb);
        size_t zl = ZSTD_compress(z, zb, sample_json, strlen(sample_json), 1);
        ck_assert(!ZSTD_isError(zl));
        craft(&h, z, zl, &hand);
        x_free(z);
    }
    ck_assert_int_eq(parse_open((const uint8_t *)hand.data, hand.len, &json, &len), MRF_OK);
    ck_assert_str_eq(json, sample_json);
    x_free(json);
    buf_release(&hand);
    buf_release(&env);
}
END_TEST

/* A sealed request without enroll extension, for the refusal tests. */
static void valid_env(struct buf *env, unsigned flags)
{
    struct envelope h;

    header_init(&h, ENV_REQUEST, flags);
    seal(&h, sample_json, strlen(sample_json), env);
}

static enum mrf_status parse_only(const uint8_t *p, size_t n, char *msg, size_t msgsize)
{
    struct envelope h;
    struct mrf_error err = {0};
    enum mrf_status st = envelope_parse(p, n, &h, &err);

    if (msg != NULL)
        str_copy(msg, err.msg, msgsize);
    return st;
}

START_TEST(envelope_parse_refuses_short)
{
    struct buf env;
    static const uint8_t empty[1] = {0};

    valid_env(&env, 0);
    ck_assert_int_eq(parse_only(empty, 0, NULL, 0), MRF_E_INVALID);
    ck_assert_int_eq(parse_only((const uint8_t *)env.data, 4, NULL, 0), MRF_E_INVALID);
    ck_assert_int_eq(parse_only((const uint8_t *)env.data, ENV_HEADER, NULL, 0), MRF_E_INVALID);
    ck_assert_int_eq(parse_only((const uint8_t *)env.data, ENV_HEADER + MRF_SIG - 1, NULL, 0),
                     MRF_E_INVALID);
    ck_assert_int_eq(parse_only((const uint8_t *)env.data, env.len - 1, NULL, 0), MRF_E_INVALID);
    buf_release(&env);

    /* an enroll envelope cut inside its extension */
    valid_env(&env, ENV_F_ENROLL);
    ck_assert_int_eq(
        parse_only((const uint8_t *)env.data, ENV_HEADER + ENV_ENROLL_EXT + MRF_SIG - 1, NULL, 0),
        MRF_E_INVALID);
    buf_release(&env);
}
END_TEST

/* Changes byte i of a copy of env to v and parses it. */
static enum mrf_status parse_with(const struct buf *env, size_t i, uint8_t v, char *msg)
{
    uint8_t *p = xmalloc(env->len);
    enum mrf_status st;

    memcpy(p, env->data, env->len);
    p[i] = v;
    st = parse_only(p, env->len, msg, 128);
    x_free(p);
    return st;
}

START_TEST(envelope_parse_refuses_bad_magic)
{
    struct buf env;
    char msg[128];

    valid_env(&env, 0);
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(parse_with(&env, i, (uint8_t)(env.data[i] ^ 0x20), msg), MRF_E_INVALID);
    buf_release(&env);
}
END_TEST

START_TEST(envelope_parse_refuses_bad_version)
{
    struct buf env;
    char msg[128];

    valid_env(&env, 0);
    ck_assert_int_eq(parse_with(&env, 4, 0, msg), MRF_E_INVALID);
    ck_assert_int_eq(parse_with(&env, 4, 2, msg), MRF_E_INVALID);
    ck_assert_str_eq(msg, "bad_version");
    ck_assert_int_eq(parse_with(&env, 4, 0xff, msg), MRF_E_INVALID);
    buf_release(&env);
}
END_TEST

START_TEST(envelope_parse_refuses_unknown_kind)
{
    struct buf env;
    char msg[128];

    valid_env(&env, 0);
    ck_assert_int_eq(parse_with(&env, 5, 0, msg), MRF_E_INVALID);
    ck_assert_int_eq(parse_with(&env, 5, 3, msg), MRF_E_INVALID);
    ck_assert_int_eq(parse_with(&env, 5, 0x81, msg), MRF_E_INVALID);
    buf_release(&env);
}
END_TEST

START_TEST(envelope_parse_refuses_unknown_flags)
{
    struct buf env;
    char msg[128];

    valid_env(&env, 0);
    for (unsigned bit = 1; bit < 8; bit++)
        ck_assert_int_eq(parse_with(&env, 6, (uint8_t)(1u << bit), msg), MRF_E_INVALID);
    ck_assert_int_eq(parse_with(&env, 6, 0xff, msg), MRF_E_INVALID);
    /* the reserved byte after the flags */
    ck_assert_int_eq(parse_with(&env, 7, 1, msg), MRF_E_INVALID);
    buf_release(&env);
}
END_TEST

START_TEST(envelope_parse_refuses_length_mismatch)
{
    struct buf env;
    uint8_t *p;
    uint32_t ct;
    char msg[128];

    valid_env(&env, 0);
    p = xmalloc(env.len + 1);
    memcpy(p, env.data, env.len);
    ct = (uint32_t)p[80] << 24 | (uint32_t)p[81] << 16 | (uint32_t)p[82] << 8 | p[83];
    put_u32(p + 80, ct + 1);
    ck_assert_int_eq(parse_only(p, env.len, msg, sizeof msg), MRF_E_INVALID);
    ck_assert_str_eq(msg, "bad_length");
    put_u32(p + 80, ct - 1);
    ck_assert_int_eq(parse_only(p, env.len, NULL, 0), MRF_E_INVALID);
    put_u32(p + 80, 0xffffffffu);
    ck_assert_int_eq(parse_only(p, env.len, NULL, 0), MRF_E_INVALID);
    put_u32(p + 80, 0);
    ck_assert_int_eq(parse_only(p, env.len, NULL, 0), MRF_E_INVALID);
    /* a trailing byte */
    put_u32(p + 80, ct);
    p[env.len] = 0;
    ck_assert_int_eq(parse_only(p, env.len + 1, NULL, 0), MRF_E_INVALID);
    ck_assert_int_eq(parse_only(p, env.len, NULL, 0), MRF_OK);
    /* the enroll flag set on a frame without the extension */
    p[6] = ENV_F_ENROLL;
    ck_assert_int_eq(parse_only(p, env.len, NULL, 0), MRF_E_INVALID);
    x_free(p);
    buf_release(&env);
}
END_TEST

START_TEST(envelope_parse_refuses_over_env_max)
{
    uint8_t *p = xcalloc(ENV_MAX + 1, 1);
    struct envelope h;
    char msg[128];

    memcpy(p, "MRFE", 4);
    p[4] = ENV_VERSION;
    p[5] = ENV_REQUEST;
    memcpy(p + 40, "NAI", 3);
    /* exactly ENV_MAX with a matching length parses (nothing is decrypted yet) */
    put_u32(p + 80, ENV_MAX - ENV_HEADER - MRF_SIG);
    ck_assert_int_eq(parse_only(p, ENV_MAX, msg, sizeof msg), MRF_OK);
    put_u32(p + 80, ENV_MAX + 1 - ENV_HEADER - MRF_SIG);
    ck_assert_int_eq(parse_only(p, ENV_MAX + 1, msg, sizeof msg), MRF_E_TOOBIG);
    ck_assert_int_eq(envelope_parse(p, SIZE_MAX, &h, NULL), MRF_E_TOOBIG);
    x_free(p);
}
END_TEST

/* Flips byte i of a copy of env; parse, then open as bob from alice. */
static enum mrf_status flip_and_open(const struct buf *env, size_t i, int *parsed)
{
    uint8_t *p = xmalloc(env->len);
    char *json = NULL;
    size_t len = 0;
    struct envelope h;
    enum mrf_status st;

    memcpy(p, env->data, env->len);
    p[i] ^= 0x01;
    st = envelope_parse(p, env->len, &h, NULL);
    *parsed = st == MRF_OK;
    if (st == MRF_OK)
        st = envelope_open(&h, alice->pub.sign_pk, alice->pub.box_pk, bob->box_sk, &json, &len,
                           NULL);
    ck_assert_ptr_null(json);
    x_free(p);
    return st;
}

START_TEST(envelope_open_refuses_flipped_header)
{
    unsigned flags[] = {0, ENV_F_ENROLL};

    for (size_t f = 0; f < 2; f++) {
        struct buf env;
        int opened = 0;

        valid_env(&env, flags[f]);
        size_t head = ENV_HEADER + (flags[f] ? ENV_ENROLL_EXT : 0);
        for (size_t i = 0; i < head; i++) {
            int parsed;
            enum mrf_status st = flip_and_open(&env, i, &parsed);
            if (parsed) {
                ck_assert_msg(st == MRF_E_AUTH, "header byte %zu flipped: %s", i,
                              mrf_status_str(st));
                opened++;
            } else {
                ck_assert_msg(st == MRF_E_INVALID, "header byte %zu", i);
            }
        }
        /* sender, change set, nonce (and extension) all reach open */
        ck_assert_int_ge(opened, 16 + 16 + 24 + (flags[f] ? 80 : 0));
        buf_release(&env);
    }
}
END_TEST

START_TEST(envelope_open_refuses_flipped_ciphertext)
{
    struct buf env;
    size_t ct_len;
    int parsed;

    valid_env(&env, 0);
    ct_len = env.len - ENV_HEADER - MRF_SIG;
    size_t pos[] = {0, 1, ct_len / 2, ct_len - ABYTES - 1, ct_len - ABYTES, ct_len - 1};
    for (size_t k = 0; k < sizeof pos / sizeof pos[0]; k++) {
        ck_assert_int_eq(flip_and_open(&env, ENV_HEADER + pos[k], &parsed), MRF_E_AUTH);
        ck_assert(parsed);
    }
    buf_release(&env);
}
END_TEST

START_TEST(envelope_open_refuses_flipped_signature)
{
    struct buf env;
    int parsed;

    valid_env(&env, 0);
    for (size_t k = 0; k < MRF_SIG; k += 7) {
        ck_assert_int_eq(flip_and_open(&env, env.len - MRF_SIG + k, &parsed), MRF_E_AUTH);
        ck_assert(parsed);
    }
    ck_assert_int_eq(flip_and_open(&env, env.len - 1, &parsed), MRF_E_AUTH);
    buf_release(&env);
}
END_TEST

START_TEST(envelope_open_refuses_wrong_keys)
{
    struct buf env;
    struct envelope h;
    char *json = NULL;
    size_t len = 0;

    valid_env(&env, 0);
    ck_assert_int_eq(envelope_parse((const uint8_t *)env.data, env.len, &h, NULL), MRF_OK);
    /* wrong sender signing key */
    ck_assert_int_eq(
        envelope_open(&h, eve->pub.sign_pk, alice->pub.box_pk, bob->box_sk, &json, &len, NULL),
        MRF_E_AUTH);
    /* right signature, wrong sender box key */
    ck_assert_int_eq(
        envelope_open(&h, alice->pub.sign_pk, eve->pub.box_pk, bob->box_sk, &json, &len, NULL),
        MRF_E_AUTH);
    /* wrong receiver */
    ck_assert_int_eq(
        envelope_open(&h, alice->pub.sign_pk, alice->pub.box_pk, eve->box_sk, &json, &len, NULL),
        MRF_E_AUTH);
    /* the receiver's own keys as if it had sent it */
    ck_assert_int_eq(
        envelope_open(&h, bob->pub.sign_pk, bob->pub.box_pk, bob->box_sk, &json, &len, NULL),
        MRF_E_AUTH);
    ck_assert_ptr_null(json);
    ck_assert_int_eq(
        envelope_open(&h, alice->pub.sign_pk, alice->pub.box_pk, bob->box_sk, &json, &len, NULL),
        MRF_OK);
    x_free(json);
    buf_release(&env);
}
END_TEST

START_TEST(envelope_open_refuses_zstd_over_limit)
{
    struct envelope h;
    struct buf env;
    char *spaces = xmalloc(WIRE_JSON_MAX + 1), *json = NULL;
    size_t zb = ZSTD_compressBound(WIRE_JSON_MAX + 1), zl, len = 0;
    uint8_t *z = xmalloc(zb);

    memset(spaces, ' ', WIRE_JSON_MAX + 1);
    zl = ZSTD_compress(z, zb, spaces, WIRE_JSON_MAX + 1, 3);
    ck_assert(!ZSTD_isError(zl));
    ck_assert_uint_eq(ZSTD_getFrameContentSize(z, zl), WIRE_JSON_MAX + 1);
    header_init(&h, ENV_REQUEST, 0);
    craft(&h, z, zl, &env);
    ck_assert_int_eq(parse_open((const uint8_t *)env.data, env.len, &json, &len), MRF_E_TOOBIG);
    ck_assert_ptr_null(json);
    buf_release(&env);
    x_free(z);
    x_free(spaces);
}
END_TEST

START_TEST(envelope_open_refuses_lying_zstd_header_before_allocating)
{
    /* A frame header claiming 2^62 bytes (single segment, 8-byte content size) and one empty
     * raw block: allocating the claim would abort under ASan. */
    uint8_t frame[4 + 1 + 8 + 3] = {0x28, 0xb5, 0x2f, 0xfd, 0xe0};
    uint64_t claim = 1ULL << 62;
    struct envelope h;
    struct buf env;
    char *json = NULL;
    size_t len = 0;

    for (int i = 0; i < 8; i++)
        frame[5 + i] = (uint8_t)(claim >> (8 * i));
    frame[13] = 0x01; /* last block, raw, size 0 */
    ck_assert_uint_eq(ZSTD_getFrameContentSize(frame, sizeof frame), claim);
    header_init(&h, ENV_REQUEST, 0);
    craft(&h, frame, sizeof frame, &env);
    ck_assert_int_eq(parse_open((const uint8_t *)env.data, env.len, &json, &len), MRF_E_TOOBIG);
    buf_release(&env);
}
END_TEST

START_TEST(envelope_open_refuses_non_zstd_plaintext)
{
    struct envelope h;
    struct buf env;
    char *json = NULL;
    size_t len = 0;

    header_init(&h, ENV_REQUEST, 0);
    craft(&h, (const uint8_t *)sample_json, strlen(sample_json), &env);
    ck_assert_int_eq(parse_open((const uint8_t *)env.data, env.len, &json, &len), MRF_E_INVALID);
    ck_assert_ptr_null(json);
    buf_release(&env);
    /* an empty plaintext */
    craft(&h, (const uint8_t *)"", 0, &env);
    ck_assert_int_eq(parse_open((const uint8_t *)env.data, env.len, &json, &len), MRF_E_INVALID);
    buf_release(&env);
}
END_TEST

/* ---- ops as JSON ------------------------------------------------------------------------- */

static const uint8_t sender_id[MRF_ID] = {0x5e, 0x4d, 0xe2};

static void op_init(struct sync_op *op, enum sync_table t, int col)
{
    memset(op, 0, sizeof *op);
    op->tbl = t;
    op->col = col;
    for (int i = 0; i < MRF_ID; i++)
        op->id[i] = (uint8_t)(0xa0 + i);
    op->v.type = sync_table_get(t)->cols[col].type;
    op->clock = hlc_make(1767225600000ULL, 3);
    memset(op->device, 0x77, MRF_ID);
}

/* op → JSON → op, in the given form; compares every field the form carries. */
static void round_trip(const struct sync_op *op, int with_device)
{
    struct buf b;
    cJSON *j;
    struct sync_op back;
    struct mrf_error err = {0};

    buf_init(&b, 1 << 20);
    ck_assert_int_eq(op_to_json(op, with_device, &b), MRF_OK);
    j = cJSON_ParseWithLength(b.data, b.len);
    ck_assert_msg(j != NULL, "not JSON: %s", b.data);
    ck_assert_msg(op_from_json(j, with_device, sender_id, &back, &err) == MRF_OK, "%s: %s", b.data,
                  err.msg);
    ck_assert_int_eq(back.tbl, op->tbl);
    ck_assert_mem_eq(back.id, op->id, MRF_ID);
    ck_assert_int_eq(back.col, op->col);
    ck_assert_int_eq(back.v.type, op->v.type);
    ck_assert_int_eq(back.v.is_null, op->v.is_null);
    if (!op->v.is_null) {
        if (op->v.type == SYNC_INT)
            ck_assert_int_eq(back.v.i, op->v.i);
        else if (op->v.type == SYNC_TEXT)
            ck_assert_str_eq(back.v.text, op->v.text);
        else {
            ck_assert_uint_eq(back.v.n, op->v.n);
            if (op->v.n)
                ck_assert_mem_eq(back.v.blob, op->v.blob, op->v.n);
        }
    }
    ck_assert_uint_eq(back.clock, op->clock);
    if (with_device) {
        ck_assert_mem_eq(back.device, op->device, MRF_ID);
    } else {
        ck_assert_mem_eq(back.device, sender_id, MRF_ID);
        ck_assert_uint_eq(back.prev_clock, op->prev_clock);
        ck_assert_int_eq(back.has_prev_device, op->has_prev_device);
        if (op->has_prev_device)
            ck_assert_mem_eq(back.prev_device, op->prev_device, MRF_ID);
    }
    sync_op_release(&back);
    cJSON_Delete(j);
    buf_release(&b);
}

/* Every form: request bare, with prev clock, with prev clock and device; response. */
static void round_trip_all_forms(struct sync_op *op)
{
    round_trip(op, 0);
    round_trip(op, 1);
    op->prev_clock = hlc_make(1767225500000ULL, 1);
    round_trip(op, 0);
    op->has_prev_device = 1;
    memset(op->prev_device, 0x66, MRF_ID);
    round_trip(op, 0);
    op->prev_clock = 0;
    op->has_prev_device = 0;
}

START_TEST(op_round_trip_int)
{
    struct sync_op op;
    int64_t vals[] = {0, 1, -1, 125000, MONEY_MAX_CENTS, 9007199254740992LL, -9007199254740992LL};

    op_init(&op, ST_GRANTS, 3);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        op.v.i = vals[i];
        round_trip_all_forms(&op);
    }
}
END_TEST

START_TEST(op_round_trip_text)
{
    struct sync_op op;
    const char *vals[] = {"FOE",
                          "",
                          "a\"b",
                          "back\\slash",
                          "\\\"",
                          "caf\xc3\xa9",
                          "\xe6\x97\xa5\xe6\x9c\xac",
                          "\xf0\x9f\x98\x80 ok",
                          "'single'"};

    op_init(&op, ST_GRANTS, 1);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        op.v.text = vals[i];
        round_trip_all_forms(&op);
    }
}
END_TEST

START_TEST(op_round_trip_blob)
{
    struct sync_op op;
    uint8_t blob[4099];
    size_t lens[] = {1, 2, 3, 16, 17, 4099};

    mrf_random(blob, sizeof blob);
    op_init(&op, ST_PARTNERS, 0);
    op.v.blob = blob;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        op.v.n = lens[i];
        round_trip_all_forms(&op);
    }
    op_init(&op, ST_GRANTS, 0); /* grants.partner: a row id */
    op.v.blob = blob;
    op.v.n = MRF_ID;
    round_trip_all_forms(&op);
}
END_TEST

START_TEST(op_round_trip_null)
{
    struct sync_op op;
    int cols[][2] = {{ST_GRANTS, 3}, {ST_GRANTS, 6}, {ST_PARTNERS, 6}, {ST_THEMES, 1}};

    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        op_init(&op, (enum sync_table)cols[i][0], cols[i][1]);
        op.v.is_null = 1;
        round_trip_all_forms(&op);
    }
}
END_TEST

START_TEST(op_json_exact_form)
{
    struct sync_op op;
    struct buf b;

    op_init(&op, ST_GRANTS, 3);
    op.v.i = 125000;
    buf_init(&b, 4096);
    ck_assert_int_eq(op_to_json(&op, 0, &b), MRF_OK);
    ck_assert_str_eq(b.data,
                     "[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",3,125000,\"019b76daa8000003\"]");
    buf_reset(&b);
    ck_assert_int_eq(op_to_json(&op, 1, &b), MRF_OK);
    ck_assert_str_eq(b.data,
                     "[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",3,125000,\"019b76daa8000003\","
                     "\"77777777777777777777777777777777\"]");
    buf_reset(&b);
    op.prev_clock = 5;
    op.has_prev_device = 1;
    memset(op.prev_device, 0x01, MRF_ID);
    ck_assert_int_eq(op_to_json(&op, 0, &b), MRF_OK);
    ck_assert_str_eq(b.data,
                     "[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",3,125000,\"019b76daa8000003\","
                     "\"0000000000000005\",\"01010101010101010101010101010101\"]");
    buf_release(&b);
}
END_TEST

#define ID "\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\""
#define CLK "\"019b76daa8000003\""

/* Each of these is refused by op_from_json in the request form. */
static const char *const bad_request_ops[] = {
    /* not an op array of the right length */
    "{}",
    "\"op\"",
    "5",
    "[]",
    "[2," ID ",3,100]",
    "[2," ID ",3,100," CLK ",\"0000000000000001\"," ID ",1]",
    /* unknown table */
    "[4," ID ",0,1," CLK "]",
    "[-1," ID ",0,1," CLK "]",
    "[2.5," ID ",3,1," CLK "]",
    "[\"grants\"," ID ",3,1," CLK "]",
    "[null," ID ",3,1," CLK "]",
    /* unknown column */
    "[2," ID ",10,1," CLK "]",
    "[0," ID ",3,1," CLK "]",
    "[2," ID ",-1,1," CLK "]",
    "[2," ID ",3.5,1," CLK "]",
    "[2," ID ",\"amount_cents\",1," CLK "]",
    /* wrong value type for the column */
    "[2," ID ",3,\"100\"," CLK "]",
    "[2," ID ",3,true," CLK "]",
    "[2," ID ",3,[1]," CLK "]",
    "[2," ID ",3,{}," CLK "]",
    "[2," ID ",1,5," CLK "]",
    "[2," ID ",1,false," CLK "]",
    "[1," ID ",0,12," CLK "]",
    "[1," ID ",0,\"not base64!\"," CLK "]",
    "[1," ID ",0,\"AAA=\"," CLK "]",
    /* id not 32 hex digits */
    "[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaea\",3,1," CLK "]",
    "[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf0\",3,1," CLK "]",
    "[2,\"z0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",3,1," CLK "]",
    "[2,\"\",3,1," CLK "]",
    "[2,12,3,1," CLK "]",
    /* clock not 16 hex digits, or zero */
    "[2," ID ",3,1,\"0000019b77e5800\"]",
    "[2," ID ",3,1,\"019b76daa80000030\"]",
    "[2," ID ",3,1,\"0000019B77E58003\"]",
    "[2," ID ",3,1,\"000001-b77e58003\"]",
    "[2," ID ",3,1,1767225600000]",
    "[2," ID ",3,1,\"0000000000000000\"]",
    /* bad previous clock or writer */
    "[2," ID ",3,1," CLK ",\"xyz\"]",
    "[2," ID ",3,1," CLK ",5]",
    "[2," ID ",3,1," CLK ",\"0000000000000001\",\"abc\"]",
    /* text with control characters, or not UTF-8, or too long */
    "[2," ID ",1,\"a\\u0001b\"," CLK "]",
    "[2," ID ",1,\"a\\nb\"," CLK "]",
    "[2," ID ",1,\"a\\tb\"," CLK "]",
    "[2," ID ",1,\"a\\u007fb\"," CLK "]",
    "[2," ID ",1,\"a\\u0085b\"," CLK "]",
    "[2," ID ",1,\"\xc3\x28\"," CLK "]",
    "[2," ID ",1,\"\xff\"," CLK "]",
    /* a number that is not an integer, or beyond 2^53 */
    "[2," ID ",3,1.5," CLK "]",
    "[2," ID ",3,-0.25," CLK "]",
    "[2," ID ",3,1e300," CLK "]",
    "[2," ID ",3,9007199254740994," CLK "]",
    "[2," ID ",3,-9007199254740994," CLK "]",
};

static void expect_refused(const char *text, int with_device)
{
    cJSON *j = cJSON_Parse(text);
    struct sync_op op;
    struct mrf_error err = {0};

    ck_assert_msg(j != NULL, "test JSON does not parse: %s", text);
    ck_assert_msg(op_from_json(j, with_device, sender_id, &op, &err) == MRF_E_INVALID,
                  "accepted %s", text);
    ck_assert_msg(strncmp(err.msg, "bad_op: ", 8) == 0, "%s: message %s", text, err.msg);
    ck_assert_ptr_null(op.owned);
    cJSON_Delete(j);
}

START_TEST(op_from_json_refuses_malformed)
{
    char long_text[300 + 64];

    for (size_t i = 0; i < sizeof bad_request_ops / sizeof bad_request_ops[0]; i++)
        expect_refused(bad_request_ops[i], 0);
    /* a text value over the cap */
    snprintf(long_text, sizeof long_text, "[2," ID ",6,\"%0300d\"," CLK "]", 0);
    expect_refused(long_text, 0);
    /* response form: the writer must be there and be an id */
    expect_refused("[2," ID ",3,1," CLK "]", 1);
    expect_refused("[2," ID ",3,1," CLK ",\"abc\"]", 1);
    expect_refused("[2," ID ",3,1," CLK ",\"0000000000000001\"," ID "]", 1);
}
END_TEST

START_TEST(op_from_json_accepts_bounds)
{
    static const char *const good[] = {
        "[2," ID ",3,9007199254740992," CLK "]",
        "[2," ID ",3,-9007199254740992," CLK "]",
        "[2," ID ",3,1.0," CLK "]",
        "[2," ID ",3,null," CLK "]",
        "[2," ID ",3,1," CLK ",\"0000000000000000\"]",
        "[3," ID ",2,\"EUR\"," CLK "]",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cJSON *j = cJSON_Parse(good[i]);
        struct sync_op op;
        struct mrf_error err = {0};
        ck_assert_msg(op_from_json(j, 0, sender_id, &op, &err) == MRF_OK, "%s: %s", good[i],
                      err.msg);
        sync_op_release(&op);
        cJSON_Delete(j);
    }
}
END_TEST

/* cJSON decodes "\u0000" into a NUL that C string functions stop at, so a text would be read
 * cut short ("2026\u0000-01-01" as "2026"): bodies holding it are refused as a whole, before
 * any op is read. An escaped backslash followed by "u0000" is text, not a NUL. */
START_TEST(wire_json_parse_refuses_escaped_nul)
{
    const char *nul = "{\"ops\":[[2," ID ",6,\"2026\\u0000-01-01\"," CLK "]]}";
    const char *text = "{\"ops\":[[2," ID ",6,\"a\\\\u0000b\"," CLK "]]}";
    const char *trailing = "{\"ops\":[]} x";
    cJSON *doc;

    ck_assert_ptr_null(wire_json_parse(nul, strlen(nul)));
    ck_assert_ptr_null(wire_json_parse(trailing, strlen(trailing)));
    doc = wire_json_parse(text, strlen(text));
    ck_assert_ptr_nonnull(doc);
    cJSON_Delete(doc);
}
END_TEST

START_TEST(op_to_json_too_small_leaves_buf)
{
    struct sync_op op;
    struct buf full, b;
    uint8_t blob[40];
    const char prefix[] = "[[1],";

    mrf_random(blob, sizeof blob);
    op_init(&op, ST_PARTNERS, 0);
    op.v.blob = blob;
    op.v.n = sizeof blob;
    op.prev_clock = 9;
    op.has_prev_device = 1;
    for (int form = 0; form < 2; form++) {
        buf_init(&full, 4096);
        ck_assert_int_eq(op_to_json(&op, form, &full), MRF_OK);
        for (size_t cap = strlen(prefix); cap < strlen(prefix) + full.len; cap++) {
            buf_init(&b, cap);
            ck_assert_int_eq(buf_puts(&b, prefix), MRF_OK);
            ck_assert_int_eq(op_to_json(&op, form, &b), MRF_E_TOOBIG);
            ck_assert_uint_eq(b.len, strlen(prefix));
            ck_assert_str_eq(b.data, prefix);
            buf_release(&b);
        }
        buf_init(&b, strlen(prefix) + full.len);
        ck_assert_int_eq(buf_puts(&b, prefix), MRF_OK);
        ck_assert_int_eq(op_to_json(&op, form, &b), MRF_OK);
        ck_assert_str_eq(b.data + strlen(prefix), full.data);
        buf_release(&b);
        buf_release(&full);
    }
}
END_TEST

/* A buffer that never held data (data NULL) with a cap below the first bytes of an op:
 * MRF_E_TOOBIG and b stays empty. */
START_TEST(op_to_json_too_small_on_empty_buf)
{
    struct sync_op op;
    struct buf b;

    op_init(&op, ST_GRANTS, 3);
    op.v.i = 1;
    for (size_t cap = 0; cap < 40; cap++) {
        buf_init(&b, cap);
        ck_assert_int_eq(op_to_json(&op, 0, &b), MRF_E_TOOBIG);
        ck_assert_uint_eq(b.len, 0);
        buf_release(&b);
    }
}
END_TEST

/* ---- version 3: row-shaped ops ----------------------------------------------------------- */

/* Compares two ops field by field, as the given form carries them. */
static void same_op(const struct sync_op *a, const struct sync_op *b, int with_device)
{
    ck_assert_int_eq(a->tbl, b->tbl);
    ck_assert_mem_eq(a->id, b->id, MRF_ID);
    ck_assert_int_eq(a->col, b->col);
    ck_assert_int_eq(a->v.is_null, b->v.is_null);
    if (!a->v.is_null && a->v.type == SYNC_INT)
        ck_assert_int_eq(a->v.i, b->v.i);
    if (!a->v.is_null && a->v.type == SYNC_TEXT)
        ck_assert_str_eq(a->v.text, b->v.text);
    if (!a->v.is_null && a->v.type == SYNC_BLOB) {
        ck_assert_uint_eq(a->v.n, b->v.n);
        ck_assert_mem_eq(a->v.blob, b->v.blob, a->v.n);
    }
    ck_assert_uint_eq(a->clock, b->clock);
    if (with_device) {
        ck_assert_mem_eq(a->device, b->device, MRF_ID);
        return;
    }
    ck_assert_uint_eq(a->prev_clock, b->prev_clock);
    ck_assert_int_eq(a->has_prev_device, b->has_prev_device);
    if (a->has_prev_device)
        ck_assert_mem_eq(a->prev_device, b->prev_device, MRF_ID);
}

/* Ops that try every corner of version 3: runs of one row and rows that come back later,
 * clocks going back, clocks more than 2^53 apart (hex, not an offset), a previous clock of 0
 * with a writer, and more writers than the dictionary names (CS_WRITERS_MAX). */
#define V3_OPS 200
static void v3_ops(struct sync_op *ops, uint8_t blob[MRF_ID])
{
    static const char *const texts[] = {"FOE", "EUR", "draft \"q\" \\ done", "2026-01-31"};

    memset(blob, 0x5a, MRF_ID);
    for (int i = 0; i < V3_OPS; i++) {
        struct sync_op *op = &ops[i];
        int row = i / 3 % 70;

        memset(op, 0, sizeof *op);
        op->tbl = (enum sync_table)(row % 3);
        memset(op->id, row, MRF_ID);
        op->col = i % sync_table_get(op->tbl)->ncols;
        op->v.type = sync_table_get(op->tbl)->cols[op->col].type;
        if (i % 11 == 0)
            op->v.is_null = 1;
        else if (op->v.type == SYNC_INT)
            op->v.i = 2000 + i;
        else if (op->v.type == SYNC_TEXT)
            op->v.text = texts[i % 4];
        else {
            op->v.blob = blob;
            op->v.n = MRF_ID;
        }
        op->clock = i % 17 == 5   ? (hlc_t)(i + 1)     /* near 0: far from the others */
                    : i % 13 == 7 ? HLC_MAX - (hlc_t)i /* past 2^53 away */
                                  : hlc_make(1796000000000ULL + (uint64_t)(i % 9), (uint32_t)i);
        memset(op->device, i % 90, MRF_ID); /* 90 writers, more than the dictionary */
        if (i % 4 == 1)
            op->prev_clock = op->clock > 50 ? op->clock - 50 : 0;
        if (i % 4 == 2)
            op->prev_clock = hlc_make(1795000000000ULL, 9);
        if (i % 8 == 2 || i % 19 == 0) {
            op->has_prev_device = 1;
            memset(op->prev_device, (i * 7) % 80, MRF_ID);
        }
    }
}

/* Writes ops in version 3, reads them back: the same ops in the same order, counted right. */
static void v3_round_trip(int with_device)
{
    struct sync_op ops[V3_OPS], back;
    uint8_t blob[MRF_ID];
    struct cs_writer w;
    struct cs_reader r;
    struct mrf_error err = {0};
    struct buf b;
    cJSON *doc;
    int n = 0;

    v3_ops(ops, blob);
    buf_init(&b, 1 << 20);
    changeset_writer_init(&w, 3, with_device);
    ck_assert_int_eq(buf_puts(&b, "["), MRF_OK);
    for (int i = 0; i < V3_OPS; i++)
        ck_assert_int_eq(changeset_writer_put(&w, &b, &ops[i]), MRF_OK);
    ck_assert_int_eq(buf_puts(&b, "]"), MRF_OK);
    ck_assert_int_eq(w.n, V3_OPS);
    doc = wire_json_parse(b.data, b.len);
    ck_assert_msg(doc != NULL, "not JSON: %s", b.data);
    ck_assert_int_eq(changeset_ops_count(doc, 3), V3_OPS);
    ck_assert_int_lt(cJSON_GetArraySize(doc), V3_OPS); /* runs of a row share their entry */
    changeset_reader_init(&r, doc, 3, with_device, sender_id);
    for (;;) {
        enum mrf_status st = changeset_reader_next(&r, &back, &err);
        if (st == MRF_E_NOTFOUND)
            break;
        ck_assert_msg(st == MRF_OK, "op %d: %s", n, err.msg);
        ck_assert_int_lt(n, V3_OPS);
        if (!with_device)
            memcpy(ops[n].device, sender_id, MRF_ID);
        same_op(&ops[n], &back, with_device);
        if (!with_device)
            ck_assert_mem_eq(back.device, sender_id, MRF_ID);
        sync_op_release(&back);
        n++;
    }
    ck_assert_int_eq(n, V3_OPS);
    cJSON_Delete(doc);
    buf_release(&b);
}

START_TEST(v3_round_trip_request)
{
    v3_round_trip(0);
}
END_TEST

START_TEST(v3_round_trip_answer)
{
    v3_round_trip(1);
}
END_TEST

/* The form as documented in mrfsync.h: one entry per row, clock offsets, writers by index. */
START_TEST(v3_exact_form)
{
    struct sync_op op;
    struct cs_writer w;
    struct buf b;

    buf_init(&b, 4096);
    op_init(&op, ST_GRANTS, GRANT_AMOUNT);
    op.v.i = 100;
    changeset_writer_init(&w, 3, 1);
    ck_assert_int_eq(changeset_writer_put(&w, &b, &op), MRF_OK);
    op.col = GRANT_YEAR;
    op.v.i = 2026;
    op.clock += 1;
    ck_assert_int_eq(changeset_writer_put(&w, &b, &op), MRF_OK);
    op.id[0] = 0;
    op.col = GRANT_STATUS;
    op.v.type = SYNC_TEXT;
    op.v.text = "draft";
    op.clock -= 2;
    memset(op.device, 0x88, MRF_ID);
    ck_assert_int_eq(changeset_writer_put(&w, &b, &op), MRF_OK);
    ck_assert_str_eq(b.data, "[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,100,\"019b76daa8000003\","
                             "\"77777777777777777777777777777777\"],[2,2026,1,0]],"
                             "[2,\"00a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[5,\"draft\",-2,"
                             "\"88888888888888888888888888888888\"]]");
    /* the request form: the previous clock as an offset from the op's own, its writer */
    buf_reset(&b);
    changeset_writer_init(&w, 3, 0);
    op.prev_clock = op.clock - 65536;
    op.has_prev_device = 1;
    memset(op.prev_device, 0x88, MRF_ID);
    ck_assert_int_eq(changeset_writer_put(&w, &b, &op), MRF_OK);
    ck_assert_int_eq(changeset_writer_put(&w, &b, &op), MRF_OK);
    ck_assert_str_eq(b.data, "[2,\"00a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[5,\"draft\","
                             "\"019b76daa8000002\",-65536,\"88888888888888888888888888888888\"],"
                             "[5,\"draft\",0,-65536,0]]");
    buf_release(&b);
}
END_TEST

/* A put that does not fit, or a rewind to a mark, leaves the body and the writer as they were
 * (the next op is written as if the others never were). */
START_TEST(v3_writer_rewind)
{
    struct sync_op op;
    struct cs_writer w;
    struct cs_mark m;
    struct buf b, want;
    char *first;

    buf_init(&b, 4096);
    buf_init(&want, 4096);
    op_init(&op, ST_GRANTS, GRANT_AMOUNT);
    op.v.i = 5;
    changeset_writer_init(&w, 3, 1);
    ck_assert_int_eq(changeset_writer_put(&w, &b, &op), MRF_OK);
    first = xasprintf("%s", b.data);
    changeset_writer_mark(&w, &b, &m);
    op.col = GRANT_YEAR;
    op.v.i = 2026;
    op.clock += 9;
    memset(op.device, 0x99, MRF_ID);
    ck_assert_int_eq(changeset_writer_put(&w, &b, &op), MRF_OK); /* same row: takes its ']' */
    op.id[3] = 0;
    ck_assert_int_eq(changeset_writer_put(&w, &b, &op), MRF_OK); /* another row */
    changeset_writer_rewind(&w, &b, &m);
    ck_assert_str_eq(b.data, first);
    ck_assert_int_eq(w.n, 1);
    ck_assert_int_eq(w.nwriters, 1);
    ck_assert_int_eq(changeset_writer_put(&w, &b, &op), MRF_OK);
    /* the same two ops written straight */
    {
        struct cs_writer w2;
        struct sync_op o1;
        op_init(&o1, ST_GRANTS, GRANT_AMOUNT);
        o1.v.i = 5;
        changeset_writer_init(&w2, 3, 1);
        ck_assert_int_eq(changeset_writer_put(&w2, &want, &o1), MRF_OK);
        ck_assert_int_eq(changeset_writer_put(&w2, &want, &op), MRF_OK);
    }
    ck_assert_str_eq(b.data, want.data);
    /* too small a cap: MRF_E_TOOBIG and nothing changed, for the open row and a new one */
    for (size_t cap = want.len; cap > 0; cap--) {
        struct buf s;
        buf_init(&s, cap);
        changeset_writer_init(&w, 3, 1);
        if (changeset_writer_put(&w, &s, &op) == MRF_OK) {
            size_t len = s.len;
            char *keep = xasprintf("%s", s.data);
            op.col = GRANT_AMOUNT;
            if (changeset_writer_put(&w, &s, &op) == MRF_E_TOOBIG) {
                ck_assert_uint_eq(s.len, len);
                ck_assert_str_eq(s.data, keep);
                ck_assert_int_eq(w.n, 1);
            }
            op.col = GRANT_YEAR;
            x_free(keep);
        } else {
            ck_assert_uint_eq(s.len, 0);
            ck_assert_int_eq(w.n, 0);
        }
        buf_release(&s);
    }
    x_free(first);
    buf_release(&b);
    buf_release(&want);
}
END_TEST

/* Each malformed version-3 form is refused with its message (request form unless noted). */
START_TEST(v3_refuses_malformed)
{
    static const struct {
        int with_device;
        const char *ops, *why;
    } bad[] = {
        {0, "[7]", "not a row of table, id and column entries"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\"]]", "not a row of table, id"},
        {0, "[[9,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,1]]]", "unknown table"},
        {0, "[[2,\"a0a1\",[3,1,1]]]", "row id is not 32 hex digits"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",7]]", "not a column entry"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1]]]", "not a column entry"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,1,1,0,0]]]", "not a column entry"},
        {1, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,1]]]", "not a column entry"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[99,1,1]]]", "unknown column"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,\"x\",1]]]", "an integer column"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,0]]]", "clock is not"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,-1]]]", "clock is not"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,1.5]]]", "clock is not"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,9007199254740994]]]", "clock is not"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,\"zz\"]]]", "clock is not"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,\"ffffffffffffffff\"],[3,1,1]]]",
         "clock is not"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,5,-6]]]", "previous clock"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,5,true]]]", "previous clock"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,5,-1,0]]]", "previous writer"},
        {0, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,5,-1,\"77\"]]]", "previous writer"},
        {1, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,5,0]]]", "writer is not"},
        {1,
         "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,5,\"77777777777777777777777777777777\"],"
         "[3,1,5,1]]]",
         "writer is not"},
        {1, "[[2,\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",[3,1,5,-0.5]]]", "writer is not"},
    };
    struct mrf_error err = {0};
    struct cs_reader r;
    struct sync_op op;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *doc = wire_json_parse(bad[i].ops, strlen(bad[i].ops));
        enum mrf_status st = MRF_OK;
        ck_assert_ptr_nonnull(doc);
        changeset_reader_init(&r, doc, 3, bad[i].with_device, sender_id);
        while (st == MRF_OK) {
            st = changeset_reader_next(&r, &op, &err);
            sync_op_release(&op);
        }
        ck_assert_msg(st == MRF_E_INVALID, "%s read", bad[i].ops);
        ck_assert_msg(strstr(err.msg, bad[i].why) != NULL && strncmp(err.msg, "bad_op: ", 8) == 0,
                      "%s: %s", bad[i].ops, err.msg);
        /* a reader reads no further than its first bad op */
        ck_assert_int_eq(changeset_reader_next(&r, &op, &err), MRF_E_NOTFOUND);
        cJSON_Delete(doc);
    }
}
END_TEST

/* cJSON makes a node of every value: a body of more than WIRE_JSON_NODES is refused before any
 * is made, one at the bound is read (commas inside strings do not count). */
START_TEST(wire_json_parse_bounds_values)
{
    size_t n = WIRE_JSON_NODES;
    struct buf b;
    cJSON *doc;

    buf_init(&b, WIRE_JSON_MAX);
    ck_assert_int_eq(buf_puts(&b, "[\",,,[[{{\""), MRF_OK);
    for (size_t i = 1; i < n - 1; i++)
        ck_assert_int_eq(buf_puts(&b, ",0"), MRF_OK);
    ck_assert_int_eq(buf_puts(&b, "]"), MRF_OK);
    doc = wire_json_parse(b.data, b.len); /* the list and n - 1 values */
    ck_assert_ptr_nonnull(doc);
    cJSON_Delete(doc);
    b.len--;
    ck_assert_int_eq(buf_puts(&b, ",0]"), MRF_OK);
    ck_assert_ptr_null(wire_json_parse(b.data, b.len));
    buf_release(&b);
}
END_TEST

/* The meter tracks zstd: within a few per cent of the one-shot size of the same bytes, for
 * text that compresses well and for random base64 that does not. */
START_TEST(wire_meter_tracks_zstd)
{
    for (int kind = 0; kind < 2; kind++) {
        struct wire_meter *m = wire_meter_new();
        struct buf b;
        size_t est = 0, real;
        void *z;

        buf_init(&b, WIRE_JSON_MAX);
        for (int i = 0; i < 20000; i++) {
            if (kind == 0) {
                ck_assert_int_eq(buf_printf(&b, "[2,\"%032x\",[3,%d,1,0]],", i * 2654435761u, i),
                                 MRF_OK);
            } else {
                uint8_t r[24];
                char *enc;
                mrf_random(r, sizeof r);
                enc = b64url_encode(r, sizeof r);
                ck_assert_int_eq(buf_printf(&b, "\"%s\",", enc), MRF_OK);
                x_free(enc);
            }
            est = wire_meter_update(m, &b);
        }
        z = xmalloc(ZSTD_compressBound(b.len));
        real = ZSTD_compress(z, ZSTD_compressBound(b.len), b.data, b.len, 3);
        ck_assert(!ZSTD_isError(real));
        ck_assert_msg(est >= real * 95 / 100 && est <= real * 115 / 100, "kind %d: %zu for %zu",
                      kind, est, real);
        x_free(z);
        buf_release(&b);
        wire_meter_free(m);
    }
}
END_TEST

/* ---- golden: a version-1 change set as the first release wrote it ------------------------ */

/* tests/unit/golden/changeset-v1.txt holds, on line 1, the JSON of a first change set (enroll
 * secret and three ops in the request form) and, on line 2, the hex of its envelope, sealed
 * with keys from fixed seeds (device: sign 0x01.., box 0x02..; HQ: sign 0x03.., box 0x04..).
 * Formats only grow: every later build must still open it and read the same ops, and must
 * still write those ops as the same JSON. */
static void seeded(uint8_t fill, int box, uint8_t *pk, uint8_t *sk)
{
    uint8_t seed[32];

    memset(seed, fill, sizeof seed);
    if (box)
        crypto_box_seed_keypair(pk, sk, seed);
    else
        crypto_sign_seed_keypair(pk, sk, seed);
}

START_TEST(golden_changeset_v1)
{
    uint8_t *file = NULL, *raw, dev_sign_pk[32], dev_sign_sk[64], dev_box_pk[32], dev_box_sk[32];
    uint8_t hq_box_pk[32], hq_box_sk[32], want[16];
    size_t n = 0, json_len = 0;
    struct mrf_error err = {0};
    struct envelope h;
    struct sync_op op;
    struct buf again;
    char *nl, *hex, *json = NULL;
    cJSON *doc, *ops;

    ck_assert_int_eq(
        file_read_all(MRF_TEST_SRC "/tests/unit/golden/changeset-v1.txt", 1 << 16, &file, &n, &err),
        MRF_OK);
    nl = strchr((char *)file, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    hex = nl + 1;
    hex[strcspn(hex, "\n")] = '\0';
    raw = xmalloc(strlen(hex) / 2);
    ck_assert_int_eq(hex_decode(hex, raw, strlen(hex) / 2), MRF_OK);

    seeded(1, 0, dev_sign_pk, dev_sign_sk);
    seeded(2, 1, dev_box_pk, dev_box_sk);
    seeded(4, 1, hq_box_pk, hq_box_sk);
    ck_assert_int_eq(envelope_parse(raw, strlen(hex) / 2, &h, &err), MRF_OK);
    ck_assert_int_eq(h.kind, ENV_REQUEST);
    ck_assert_uint_eq(h.flags, ENV_F_ENROLL);
    ck_assert_str_eq(h.post, "NAI");
    memset(want, 0x22, sizeof want);
    ck_assert_mem_eq(h.changeset, want, 16);
    memset(want, 0x33, sizeof want);
    ck_assert_mem_eq(h.token_id, want, 16);
    ck_assert_mem_eq(h.keys.sign_pk, dev_sign_pk, 32);
    ck_assert_mem_eq(h.keys.box_pk, dev_box_pk, 32);
    ck_assert_int_eq(envelope_open(&h, dev_sign_pk, dev_box_pk, hq_box_sk, &json, &json_len, &err),
                     MRF_OK);
    ck_assert_str_eq(json, (char *)file);

    /* the ops read back as written, and write back as the same JSON */
    doc = wire_json_parse(json, json_len);
    ck_assert_ptr_nonnull(doc);
    ops = cJSON_GetObjectItemCaseSensitive(doc, "ops");
    ck_assert_int_eq(cJSON_GetArraySize(ops), 3);
    buf_init(&again, 1 << 16);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(op_from_json(cJSON_GetArrayItem(ops, i), 0, h.sender, &op, &err), MRF_OK);
        ck_assert_int_eq(op.tbl, ST_GRANTS);
        if (i > 0)
            buf_puts(&again, ",");
        ck_assert_int_eq(op_to_json(&op, 0, &again), MRF_OK);
        if (i == 0)
            ck_assert(op.col == 3 && op.v.i == 1250000 &&
                      op.clock == hlc_make(1796000000000ULL, 1));
        if (i == 1)
            ck_assert(op.col == 5 && strcmp(op.v.text, "draft") == 0);
        if (i == 2)
            ck_assert(op.col == 0 && op.v.n == 16 && op.v.blob[0] == 0x77 && op.has_prev_device &&
                      op.prev_clock == hlc_make(1795000000000ULL, 9));
        sync_op_release(&op);
    }
    ck_assert_ptr_nonnull(strstr((char *)file, again.data));
    buf_release(&again);
    cJSON_Delete(doc);
    x_free(json);
    x_free(raw);
    x_free(file);
}
END_TEST

/* ---- golden: version 2 of the bodies, and version 1 still read --------------------------- */

/* The v2 request and answer bodies of tests/unit/golden/changeset-v2.txt (line 1 and 2),
 * written from fixed values by sync/changeset.c. */
static void golden_v2_bodies(struct buf *req, struct buf *ans)
{
    uint8_t secret[MRF_SECRET], gid[MRF_ID], dev[MRF_ID];
    struct sync_op op;
    struct cs_ack ack;
    int64_t n = 0;

    memset(secret, 5, sizeof secret);
    memset(gid, 0x42, sizeof gid);
    memset(dev, 0x11, sizeof dev);
    memset(&op, 0, sizeof op);
    op.tbl = ST_GRANTS;
    memcpy(op.id, gid, MRF_ID);
    op.col = GRANT_AMOUNT;
    op.v.type = SYNC_INT;
    op.v.i = 1250000;
    op.clock = hlc_make(1796000000000ULL, 1);
    op.prev_clock = hlc_make(1795000000000ULL, 9);
    op.has_prev_device = 1;
    memset(op.prev_device, 0x77, MRF_ID);
    memcpy(op.device, dev, MRF_ID);
    ck_assert_int_eq(changeset_request_begin(req, 2, 17, 0, 17, secret), MRF_OK);
    ck_assert_int_eq(changeset_put_op(req, &n, &op, 0), MRF_OK);
    op.col = GRANT_STATUS;
    op.v.type = SYNC_TEXT;
    op.v.text = "draft \"quoted\"";
    op.has_prev_device = 0;
    op.prev_clock = 0;
    ck_assert_int_eq(changeset_put_op(req, &n, &op, 0), MRF_OK);
    ck_assert_int_eq(changeset_request_end(req), MRF_OK);

    memset(&ack, 0, sizeof ack);
    memset(ack.id, 0x22, MRF_ID);
    ack.restamped = 1;
    ack.restamp_above = hlc_make(1796086400000ULL, 65535);
    ack.restamp_to = hlc_make(1796000000500ULL, 0);
    n = 0;
    ck_assert_int_eq(changeset_answer_begin(ans, 2, &ack, 1796000000500ULL), MRF_OK);
    op.col = GRANT_AMOUNT;
    op.v.type = SYNC_INT;
    op.v.i = 99;
    ck_assert_int_eq(changeset_put_op(ans, &n, &op, 1), MRF_OK);
    ck_assert_int_eq(changeset_answer_ops_end(ans, 42), MRF_OK);
    ck_assert_int_eq(changeset_answer_end(ans, 1), MRF_OK);
}

/* Line 1 of tests/unit/golden/NAME is req and line 2 is ans, exactly. */
static void golden_lines_are(const char *name, const char *req, const char *ans)
{
    uint8_t *file = NULL;
    size_t n = 0;
    struct mrf_error err = {0};
    char *path = xasprintf("%s/tests/unit/golden/%s", MRF_TEST_SRC, name), *nl, *line2;

    ck_assert_int_eq(file_read_all(path, 1 << 16, &file, &n, &err), MRF_OK);
    nl = strchr((char *)file, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    line2 = nl + 1;
    line2[strcspn(line2, "\n")] = '\0';
    ck_assert_str_eq((char *)file, req);
    ck_assert_str_eq(line2, ans);
    x_free(file);
    x_free(path);
}

/* Formats only grow: this build writes version 2 exactly as the golden file holds it, and
 * reads it back field by field. */
START_TEST(golden_changeset_v2)
{
    struct mrf_error err = {0};
    struct buf req, ans;
    struct cs_request r;
    struct cs_answer a;
    struct sync_op op;
    uint8_t want[MRF_ID], sender[MRF_ID] = {0x11};

    buf_init(&req, 1 << 16);
    buf_init(&ans, 1 << 16);
    golden_v2_bodies(&req, &ans);
    golden_lines_are("changeset-v2.txt", req.data, ans.data);

    ck_assert_int_eq(changeset_request_parse(req.data, req.len, &r, &err), MRF_OK);
    ck_assert_int_eq(r.version, 2);
    ck_assert_int_eq(r.cursor, 17);
    ck_assert(r.has_enroll && r.secret_ok);
    memset(want, 5, sizeof want);
    ck_assert_mem_eq(r.secret, want, MRF_ID);
    ck_assert_int_eq(cJSON_GetArraySize(r.ops), 2);
    ck_assert_int_eq(op_from_json(cJSON_GetArrayItem(r.ops, 1), 0, sender, &op, &err), MRF_OK);
    ck_assert_str_eq(op.v.text, "draft \"quoted\"");
    sync_op_release(&op);
    changeset_request_release(&r);

    ck_assert_int_eq(changeset_answer_parse(ans.data, ans.len, &a, &err), MRF_OK);
    memset(want, 0x22, sizeof want);
    ck_assert_mem_eq(a.ack.id, want, MRF_ID);
    ck_assert(!a.ack.quarantined && a.ack.restamped);
    ck_assert_uint_eq(a.ack.restamp_to, hlc_make(1796000000500ULL, 0));
    ck_assert_uint_eq(a.ack.restamp_above, hlc_make(1796086400000ULL, 65535));
    ck_assert_uint_eq(a.hq_time_ms, 1796000000500ULL);
    ck_assert_int_eq(a.cursor, 42);
    ck_assert(a.more);
    ck_assert_int_eq(op_from_json(cJSON_GetArrayItem(a.ops, 0), 1, NULL, &op, &err), MRF_OK);
    ck_assert_int_eq(op.v.i, 99);
    ck_assert_mem_eq(op.device, sender, 1);
    sync_op_release(&op);
    changeset_answer_release(&a);
    buf_release(&req);
    buf_release(&ans);
}
END_TEST

/* The version-1 request of the first release is still read (HQ answers it in version 1). */
START_TEST(changeset_v1_still_read)
{
    uint8_t *file = NULL;
    size_t n = 0;
    struct mrf_error err = {0};
    struct cs_request r;
    char *nl;

    ck_assert_int_eq(
        file_read_all(MRF_TEST_SRC "/tests/unit/golden/changeset-v1.txt", 1 << 16, &file, &n, &err),
        MRF_OK);
    nl = strchr((char *)file, '\n');
    *nl = '\0';
    ck_assert_int_eq(changeset_request_parse((char *)file, strlen((char *)file), &r, &err), MRF_OK);
    ck_assert_int_eq(r.version, 1);
    ck_assert_int_eq(r.cursor, 0);
    ck_assert(r.has_enroll && r.secret_ok);
    ck_assert_int_eq(cJSON_GetArraySize(r.ops), 3);
    changeset_request_release(&r);
    x_free(file);
}
END_TEST

/* ---- golden: version 3, the row-shaped bodies devices send ----------------------------- */

/* The v3 request and answer bodies of tests/unit/golden/changeset-v3.txt (line 1 and 2),
 * written from fixed values by sync/changeset.c: a new grant's run of columns, an edit with
 * its previous clock and writer, and in the answer two writers, the second named by index. */
static void golden_v3_bodies(struct buf *req, struct buf *ans)
{
    uint8_t secret[MRF_SECRET];
    struct sync_op op;
    struct cs_writer w;
    struct cs_ack ack;

    memset(secret, 5, sizeof secret);
    memset(&op, 0, sizeof op);
    op.tbl = ST_GRANTS;
    memset(op.id, 0x42, MRF_ID);
    memset(op.device, 0x11, MRF_ID);
    ck_assert_int_eq(changeset_request_begin(req, 3, 17, 0, 17, secret), MRF_OK);
    changeset_writer_init(&w, 3, 0);
    op.col = GRANT_AMOUNT;
    op.v.type = SYNC_INT;
    op.v.i = 1250000;
    op.clock = hlc_make(1796000000000ULL, 1);
    ck_assert_int_eq(changeset_writer_put(&w, req, &op), MRF_OK);
    op.col = GRANT_STATUS;
    op.v.type = SYNC_TEXT;
    op.v.text = "draft \"quoted\"";
    op.clock = hlc_make(1796000000000ULL, 2);
    ck_assert_int_eq(changeset_writer_put(&w, req, &op), MRF_OK);
    memset(op.id, 0x43, MRF_ID);
    op.col = GRANT_AMOUNT;
    op.v.type = SYNC_INT;
    op.v.i = 99;
    op.clock = hlc_make(1796000000007ULL, 0);
    op.prev_clock = hlc_make(1795000000000ULL, 9);
    op.has_prev_device = 1;
    memset(op.prev_device, 0x77, MRF_ID);
    ck_assert_int_eq(changeset_writer_put(&w, req, &op), MRF_OK);
    ck_assert_int_eq(changeset_request_end(req), MRF_OK);

    memset(&ack, 0, sizeof ack);
    memset(ack.id, 0x22, MRF_ID);
    ck_assert_int_eq(changeset_answer_begin(ans, 3, &ack, 1796000000500ULL), MRF_OK);
    changeset_writer_init(&w, 3, 1);
    memset(op.device, 0x77, MRF_ID);
    ck_assert_int_eq(changeset_writer_put(&w, ans, &op), MRF_OK);
    memset(op.device, 0x88, MRF_ID);
    op.col = GRANT_CURRENCY;
    op.v.type = SYNC_TEXT;
    op.v.text = "EUR";
    op.clock -= 3;
    ck_assert_int_eq(changeset_writer_put(&w, ans, &op), MRF_OK);
    memset(op.device, 0x77, MRF_ID);
    op.col = GRANT_REMOVED;
    op.v.type = SYNC_INT;
    op.v.i = 1;
    op.clock += 65536;
    ck_assert_int_eq(changeset_writer_put(&w, ans, &op), MRF_OK);
    ck_assert_int_eq(changeset_answer_ops_end(ans, 42), MRF_OK);
    ck_assert_int_eq(changeset_answer_end(ans, 0), MRF_OK);
}

/* Formats only grow: this build writes version 3 exactly as the golden file holds it, and
 * reads each op back. */
START_TEST(golden_changeset_v3)
{
    uint8_t sender[MRF_ID];
    struct mrf_error err = {0};
    struct buf req, ans;
    struct cs_request r;
    struct cs_answer a;
    struct cs_reader rd;
    struct sync_op op;

    memset(sender, 0x11, sizeof sender);
    buf_init(&req, 1 << 16);
    buf_init(&ans, 1 << 16);
    golden_v3_bodies(&req, &ans);
    golden_lines_are("changeset-v3.txt", req.data, ans.data);

    ck_assert_int_eq(changeset_request_parse(req.data, req.len, &r, &err), MRF_OK);
    ck_assert_int_eq(r.version, 3);
    ck_assert_int_eq(changeset_ops_count(r.ops, r.version), 3);
    changeset_reader_init(&rd, r.ops, r.version, 0, sender);
    ck_assert_int_eq(changeset_reader_next(&rd, &op, &err), MRF_OK);
    ck_assert(op.col == GRANT_AMOUNT && op.v.i == 1250000 &&
              op.clock == hlc_make(1796000000000ULL, 1) && op.prev_clock == 0 &&
              !op.has_prev_device);
    ck_assert_int_eq(changeset_reader_next(&rd, &op, &err), MRF_OK);
    ck_assert(op.col == GRANT_STATUS && strcmp(op.v.text, "draft \"quoted\"") == 0 &&
              op.clock == hlc_make(1796000000000ULL, 2) && op.id[0] == 0x42);
    ck_assert_int_eq(changeset_reader_next(&rd, &op, &err), MRF_OK);
    ck_assert(op.id[0] == 0x43 && op.v.i == 99 && op.clock == hlc_make(1796000000007ULL, 0) &&
              op.prev_clock == hlc_make(1795000000000ULL, 9) && op.has_prev_device &&
              op.prev_device[0] == 0x77 && op.device[0] == 0x11);
    ck_assert_int_eq(changeset_reader_next(&rd, &op, &err), MRF_E_NOTFOUND);
    changeset_request_release(&r);

    ck_assert_int_eq(changeset_answer_parse(ans.data, ans.len, &a, &err), MRF_OK);
    ck_assert_int_eq(a.version, 3);
    ck_assert_int_eq(a.cursor, 42);
    changeset_reader_init(&rd, a.ops, a.version, 1, NULL);
    ck_assert_int_eq(changeset_reader_next(&rd, &op, &err), MRF_OK);
    ck_assert(op.device[0] == 0x77 && op.v.i == 99);
    ck_assert_int_eq(changeset_reader_next(&rd, &op, &err), MRF_OK);
    ck_assert(op.device[0] == 0x88 && strcmp(op.v.text, "EUR") == 0 &&
              op.clock == hlc_make(1796000000007ULL, 0) - 3);
    ck_assert_int_eq(changeset_reader_next(&rd, &op, &err), MRF_OK);
    ck_assert(op.device[0] == 0x77 && op.col == GRANT_REMOVED &&
              op.clock == hlc_make(1796000000008ULL, 0) - 3);
    ck_assert_int_eq(changeset_reader_next(&rd, &op, &err), MRF_E_NOTFOUND);
    changeset_answer_release(&a);
    buf_release(&req);
    buf_release(&ans);
}
END_TEST

/* A device reads a version-2 answer too (a pouch's reply written before HQ was upgraded). */
START_TEST(changeset_v2_answer_still_read)
{
    struct buf req, ans;
    struct cs_answer a;
    struct cs_reader rd;
    struct sync_op op;
    struct mrf_error err = {0};

    buf_init(&req, 1 << 16);
    buf_init(&ans, 1 << 16);
    golden_v2_bodies(&req, &ans);
    ck_assert_int_eq(changeset_answer_parse(ans.data, ans.len, &a, &err), MRF_OK);
    ck_assert_int_eq(a.version, 2);
    changeset_reader_init(&rd, a.ops, a.version, 1, NULL);
    ck_assert_int_eq(changeset_reader_next(&rd, &op, &err), MRF_OK);
    ck_assert_int_eq(op.v.i, 99);
    ck_assert_int_eq(changeset_reader_next(&rd, &op, &err), MRF_E_NOTFOUND);
    changeset_answer_release(&a);
    buf_release(&req);
    buf_release(&ans);
}
END_TEST

/* What a request or an answer must be, each refusal named. */
START_TEST(changeset_bodies_refused)
{
    static const struct {
        const char *json, *why;
    } bad_req[] = {
        {"[]", "bad_json"},
        {"{\"v\":4,\"cursor\":0,\"ops\":[]}", "bad_version"},
        {"{\"v\":0,\"cursor\":0,\"ops\":[]}", "bad_version"},
        {"{\"v\":1.5,\"cursor\":0,\"ops\":[]}", "bad_version"},
        {"{\"v\":2,\"cursor\":-1,\"ops\":[]}", "bad_cursor"},
        {"{\"v\":2,\"cursor\":1.5,\"ops\":[]}", "bad_cursor"},
        {"{\"v\":2,\"cursor\":\"3\",\"ops\":[]}", "bad_cursor"},
        {"{\"v\":2,\"cursor\":0,\"ops\":[]} ", "bad_json"},
    };
    static const char *const bad_ans[] = {
        "{\"v\":1,\"ack\":{\"id\":\"22222222222222222222222222222222\",\"verdict\":\"accepted\","
        "\"reason\":\"\"},\"ops\":[],\"cursor\":1,\"more\":false}",
        "{\"v\":2,\"ack\":{\"id\":\"22\",\"verdict\":\"accepted\",\"reason\":\"\"},\"time\":1,"
        "\"ops\":[],\"cursor\":1,\"more\":false}",
        "{\"v\":2,\"ack\":{\"id\":\"22222222222222222222222222222222\",\"verdict\":\"maybe\","
        "\"reason\":\"\"},\"time\":1,\"ops\":[],\"cursor\":1,\"more\":false}",
        "{\"v\":2,\"ack\":{\"id\":\"22222222222222222222222222222222\",\"verdict\":\"accepted\","
        "\"reason\":\"\",\"restamp\":{\"above\":\"0000000000000001\",\"to\":\"0000000000000002\"}},"
        "\"time\":1,\"ops\":[],\"cursor\":1,\"more\":false}",
        "{\"v\":2,\"ack\":{\"id\":\"22222222222222222222222222222222\",\"verdict\":\"accepted\","
        "\"reason\":\"\"},\"ops\":[],\"cursor\":1,\"more\":false}",
        "{\"v\":2,\"ack\":{\"id\":\"22222222222222222222222222222222\",\"verdict\":\"accepted\","
        "\"reason\":\"\"},\"time\":1,\"ops\":{},\"cursor\":1,\"more\":false}",
    };
    struct mrf_error err = {0};
    struct cs_request r;
    struct cs_answer a;

    for (size_t i = 0; i < sizeof bad_req / sizeof bad_req[0]; i++) {
        ck_assert_int_eq(
            changeset_request_parse(bad_req[i].json, strlen(bad_req[i].json), &r, &err),
            MRF_E_INVALID);
        ck_assert_str_eq(err.msg, bad_req[i].why);
        changeset_request_release(&r);
    }
    /* ops that are not a list: the request is read, its content is refused later */
    ck_assert_int_eq(changeset_request_parse("{\"v\":2,\"cursor\":0,\"ops\":7}", 26, &r, &err),
                     MRF_OK);
    ck_assert_ptr_null(r.ops);
    changeset_request_release(&r);
    /* a malformed secret is noticed, not fatal to the parse */
    ck_assert_int_eq(
        changeset_request_parse("{\"v\":2,\"cursor\":0,\"enroll\":{\"secret\":\"AA\"},\"ops\":[]}",
                                52, &r, &err),
        MRF_OK);
    ck_assert(r.has_enroll && !r.secret_ok);
    changeset_request_release(&r);
    for (size_t i = 0; i < sizeof bad_ans / sizeof bad_ans[0]; i++) {
        ck_assert_msg(changeset_answer_parse(bad_ans[i], strlen(bad_ans[i]), &a, &err) ==
                          MRF_E_INVALID,
                      "answer %zu read", i);
        changeset_answer_release(&a);
    }
}
END_TEST

/* ---- conflict records and HQ's audit head (version 2 members) -------------------------- */

/* Two records of the golden answer: one open, one closed with HQ's decision. */
static void golden_records(struct cs_conflict c[2])
{
    memset(c, 0, 2 * sizeof *c);
    str_copy(c[0].id, "C-7K2M9Q", sizeof c[0].id);
    str_copy(c[0].kind, "value", sizeof c[0].kind);
    str_copy(c[0].rule, "concurrent_edit", sizeof c[0].rule);
    str_copy(c[0].rows, "G-4KD82M", sizeof c[0].rows);
    str_copy(c[0].detail, "G-4KD82M amount: two devices changed 12500.00", sizeof c[0].detail);
    c[0].year = 2026;
    str_copy(c[0].base, "12500.00", sizeof c[0].base);
    str_copy(c[0].a, "13000.00", sizeof c[0].a);
    str_copy(c[0].b, "14000.00 \"b\"", sizeof c[0].b);
    c[0].opened = 1796000000;
    c[0].cseq = 4;
    str_copy(c[1].id, "C-0ABCDE", sizeof c[1].id);
    str_copy(c[1].kind, "rule", sizeof c[1].kind);
    str_copy(c[1].rule, "over_allocation", sizeof c[1].rule);
    str_copy(c[1].rows, "G-4KD82M G-1MX0ZP", sizeof c[1].rows);
    str_copy(c[1].detail, "committed 90000.00 of 80000.00 in 2026", sizeof c[1].detail);
    c[1].year = 2026;
    c[1].opened = 1796000100;
    c[1].closed = 1796003600;
    str_copy(c[1].decision, "accept", sizeof c[1].decision);
    str_copy(c[1].reason, "allocation raised\nby the fund board", sizeof c[1].reason);
    c[1].cseq = 5;
}

/* "seen": written only when the ops were made before the cursor moved; read back; absent
 * means the cursor; more than the cursor (a device cannot have seen past what it pulled) is
 * refused. */
START_TEST(request_seen)
{
    struct buf b;
    struct cs_request r;
    struct mrf_error err = {0};

    buf_init(&b, 4096);
    ck_assert_int_eq(changeset_request_begin(&b, WIRE_VERSION, 17, 0, 12, NULL), MRF_OK);
    ck_assert_int_eq(changeset_request_end(&b), MRF_OK);
    ck_assert_ptr_nonnull(strstr(b.data, "\"seen\":12,"));
    ck_assert_int_eq(changeset_request_parse(b.data, b.len, &r, &err), MRF_OK);
    ck_assert_int_eq(r.cursor, 17);
    ck_assert_int_eq(r.seen, 12);
    changeset_request_release(&r);
    ck_assert_int_eq(changeset_request_begin(&b, WIRE_VERSION, 17, 0, 17, NULL), MRF_OK);
    ck_assert_int_eq(changeset_request_end(&b), MRF_OK);
    ck_assert_ptr_null(strstr(b.data, "seen"));
    ck_assert_int_eq(changeset_request_parse(b.data, b.len, &r, &err), MRF_OK);
    ck_assert_int_eq(r.seen, 17);
    changeset_request_release(&r);
    {
        static const char past[] = "{\"v\":2,\"cursor\":5,\"seen\":6,\"ops\":[]}";
        static const char neg[] = "{\"v\":2,\"cursor\":5,\"seen\":-1,\"ops\":[]}";
        ck_assert_int_eq(changeset_request_parse(past, strlen(past), &r, &err), MRF_E_INVALID);
        ck_assert_str_eq(err.msg, "bad_cursor");
        changeset_request_release(&r);
        ck_assert_int_eq(changeset_request_parse(neg, strlen(neg), &r, &err), MRF_E_INVALID);
        changeset_request_release(&r);
    }
    buf_release(&b);
}
END_TEST

/* The head of the golden answer, signed with HQ's seeded key (0x03..): Ed25519 signatures are
 * deterministic, so the bytes are fixed. */
static void golden_head(struct audit_head *h, uint8_t pk[32])
{
    uint8_t sk[64];

    memset(h, 0, sizeof *h);
    h->seq = 1234;
    memset(h->hash, 0xab, sizeof h->hash);
    seeded(3, 0, pk, sk);
    audit_head_sign(h, sk);
    sodium_memzero(sk, sizeof sk);
}

/* The request and answer of tests/unit/golden/changeset-v2-records.txt (line 1 and 2). */
static void golden_records_bodies(struct buf *req, struct buf *ans)
{
    struct cs_conflict c[2];
    struct audit_head h;
    struct cs_ack ack;
    uint8_t pk[32];
    int64_t n = 0;

    ck_assert_int_eq(changeset_request_begin(req, 2, 17, 3, 17, NULL), MRF_OK);
    ck_assert_int_eq(changeset_request_end(req), MRF_OK);
    memset(&ack, 0, sizeof ack);
    memset(ack.id, 0x22, MRF_ID);
    golden_records(c);
    golden_head(&h, pk);
    ck_assert_int_eq(changeset_answer_begin(ans, 2, &ack, 1796000000500ULL), MRF_OK);
    ck_assert_int_eq(changeset_answer_ops_end(ans, 42), MRF_OK);
    ck_assert_int_eq(changeset_answer_audit(ans, &h), MRF_OK);
    ck_assert_int_eq(changeset_answer_conflicts_begin(ans), MRF_OK);
    ck_assert_int_eq(changeset_put_conflict(ans, &n, &c[0]), MRF_OK);
    ck_assert_int_eq(changeset_put_conflict(ans, &n, &c[1]), MRF_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(changeset_answer_conflicts_end(ans, 5), MRF_OK);
    ck_assert_int_eq(changeset_answer_end(ans, 0), MRF_OK);
}

/* Formats only grow: the request's conflict cursor and the answer's audit head and records are
 * written exactly as the golden file holds them, and read back member by member. */
START_TEST(golden_changeset_v2_records)
{
    uint8_t *file = NULL, pk[32];
    size_t n = 0;
    struct mrf_error err = {0};
    struct buf req, ans;
    struct cs_request r;
    struct cs_answer a;
    struct cs_conflict want[2], got;
    struct audit_head h;
    const cJSON *item;
    char *nl, *line2;
    int i = 0;

    buf_init(&req, 1 << 16);
    buf_init(&ans, 1 << 16);
    golden_records_bodies(&req, &ans);
    ck_assert_int_eq(file_read_all(MRF_TEST_SRC "/tests/unit/golden/changeset-v2-records.txt",
                                   1 << 16, &file, &n, &err),
                     MRF_OK);
    nl = strchr((char *)file, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    line2 = nl + 1;
    line2[strcspn(line2, "\n")] = '\0';
    ck_assert_str_eq((char *)file, req.data);
    ck_assert_str_eq(line2, ans.data);

    ck_assert_int_eq(changeset_request_parse(req.data, req.len, &r, &err), MRF_OK);
    ck_assert_int_eq(r.cursor, 17);
    ck_assert_int_eq(r.ccursor, 3);
    changeset_request_release(&r);

    ck_assert_int_eq(changeset_answer_parse(ans.data, ans.len, &a, &err), MRF_OK);
    ck_assert_int_eq(a.cursor, 42);
    ck_assert(!a.more);
    golden_head(&h, pk);
    ck_assert(a.has_audit);
    ck_assert_int_eq(a.audit.seq, 1234);
    ck_assert_mem_eq(a.audit.hash, h.hash, 32);
    ck_assert_mem_eq(a.audit.sig, h.sig, MRF_SIG);
    ck_assert_int_eq(audit_head_verify(&a.audit, pk), MRF_OK);
    ck_assert_ptr_nonnull(a.conflicts);
    ck_assert_int_eq(a.ccursor, 5);
    golden_records(want);
    cJSON_ArrayForEach(item, a.conflicts) {
        ck_assert_int_lt(i, 2);
        ck_assert_msg(changeset_conflict_parse(item, &got, &err) == MRF_OK, "%s", err.msg);
        ck_assert_msg(memcmp(&got, &want[i], sizeof got) == 0, "record %d differs", i);
        i++;
    }
    ck_assert_int_eq(i, 2);
    changeset_answer_release(&a);
    buf_release(&req);
    buf_release(&ans);
    x_free(file);
}
END_TEST

/* The golden version-2 bodies of the release before (no conflict cursor, audit head or
 * records) still read: nothing new is required. */
START_TEST(changeset_v2_records_optional)
{
    struct mrf_error err = {0};
    struct buf req, ans;
    struct cs_request r;
    struct cs_answer a;

    buf_init(&req, 1 << 16);
    buf_init(&ans, 1 << 16);
    golden_v2_bodies(&req, &ans);
    ck_assert_int_eq(changeset_request_parse(req.data, req.len, &r, &err), MRF_OK);
    ck_assert_int_eq(r.ccursor, 0);
    changeset_request_release(&r);
    ck_assert_int_eq(changeset_answer_parse(ans.data, ans.len, &a, &err), MRF_OK);
    ck_assert(!a.has_audit);
    ck_assert_ptr_null(a.conflicts);
    ck_assert_int_eq(a.ccursor, 0);
    changeset_answer_release(&a);
    buf_release(&req);
    buf_release(&ans);
}
END_TEST

/* A version-1 answer is what it always was: no time, no audit head, no records. */
START_TEST(changeset_v1_answer_unchanged)
{
    struct buf ans;
    struct cs_ack ack;
    struct sync_op op;
    int64_t n = 0;

    memset(&ack, 0, sizeof ack);
    memset(ack.id, 0x22, MRF_ID);
    ack.quarantined = 1;
    str_copy(ack.reason, "bad_op: unknown table", sizeof ack.reason);
    ack.restamped = 1; /* never in version 1 */
    memset(&op, 0, sizeof op);
    op.tbl = ST_GRANTS;
    memset(op.id, 0x42, MRF_ID);
    op.col = GRANT_AMOUNT;
    op.v.type = SYNC_INT;
    op.v.i = 99;
    op.clock = hlc_make(1796000000000ULL, 1);
    memset(op.device, 0x11, MRF_ID);
    buf_init(&ans, 1 << 16);
    ck_assert_int_eq(changeset_answer_begin(&ans, 1, &ack, 1796000000500ULL), MRF_OK);
    ck_assert_int_eq(changeset_put_op(&ans, &n, &op, 1), MRF_OK);
    ck_assert_int_eq(changeset_answer_ops_end(&ans, 7), MRF_OK);
    ck_assert_int_eq(changeset_answer_end(&ans, 1), MRF_OK);
    ck_assert_str_eq(ans.data, "{\"v\":1,\"ack\":{\"id\":\"22222222222222222222222222222222\","
                               "\"verdict\":\"quarantined\",\"reason\":\"bad_op: unknown table\"},"
                               "\"ops\":[[2,\"42424242424242424242424242424242\",3,99,"
                               "\"01a229f128000001\",\"11111111111111111111111111111111\"]],"
                               "\"cursor\":7,\"more\":true}");
    buf_release(&ans);
}
END_TEST

/* A page holds CS_CONFLICTS_PAGE records at most; the one past it leaves the buffer as it
 * was, as does one past the buffer's cap. */
START_TEST(changeset_conflicts_page_cut)
{
    struct cs_conflict c[2];
    struct buf b, small;
    int64_t n = 0;
    size_t len;

    golden_records(c);
    buf_init(&b, 1 << 20);
    ck_assert_int_eq(changeset_answer_conflicts_begin(&b), MRF_OK);
    for (int i = 0; i < CS_CONFLICTS_PAGE; i++)
        ck_assert_int_eq(changeset_put_conflict(&b, &n, &c[i % 2]), MRF_OK);
    len = b.len;
    ck_assert_int_eq(changeset_put_conflict(&b, &n, &c[0]), MRF_E_TOOBIG);
    ck_assert_int_eq(n, CS_CONFLICTS_PAGE);
    ck_assert_uint_eq(b.len, len);
    buf_release(&b);

    n = 0;
    buf_init(&small, 64);
    ck_assert_int_eq(changeset_answer_conflicts_begin(&small), MRF_OK);
    len = small.len;
    ck_assert_int_eq(changeset_put_conflict(&small, &n, &c[0]), MRF_E_TOOBIG);
    ck_assert_int_eq(n, 0);
    ck_assert_uint_eq(small.len, len);
    buf_release(&small);
}
END_TEST

/* Each member of a record is checked for type, form and length; the record is refused as a
 * whole, and nothing of it is kept. */
START_TEST(changeset_conflict_parse_refuses_malformed)
{
    static const char good[] =
        "{\"id\":\"C-7K2M9Q\",\"kind\":\"value\",\"rule\":\"concurrent_edit\",\"rows\":\"G-"
        "4KD82M\","
        "\"detail\":\"d\",\"year\":2026,\"base\":\"1.00\",\"a\":\"2.00\",\"b\":null,"
        "\"opened\":1796000000,\"closed\":null,\"decision\":null,\"reason\":null,\"cseq\":4}";
    /* each replaces one member of good: "key":value as it appears there -> the bad one */
    static const struct {
        const char *from, *to;
    } bad[] = {
        {"\"id\":\"C-7K2M9Q\"", "\"id\":\"C-7K2M9\""},
        {"\"id\":\"C-7K2M9Q\"", "\"id\":\"X-7K2M9Q\""},
        {"\"id\":\"C-7K2M9Q\"", "\"id\":\"C-7K2M9U\""},
        {"\"id\":\"C-7K2M9Q\"", "\"id\":7"},
        {"\"kind\":\"value\"", "\"kind\":\"other\""},
        {"\"kind\":\"value\"", "\"kind\":null"},
        {"\"rule\":\"concurrent_edit\"", "\"rule\":\"Concurrent edit\""},
        {"\"rule\":\"concurrent_edit\"", "\"rule\":\"\""},
        {"\"rule\":\"concurrent_edit\"", "\"rule\":\"a_rule_name_of_24_chars_\""},
        {"\"rows\":\"G-4KD82M\"", "\"rows\":[\"G-4KD82M\"]"},
        {"\"rows\":\"G-4KD82M\"", "\"rows\":\"G-4K\\u0007\""},
        {"\"detail\":\"d\"", "\"detail\":\"line\\nbreak\""},
        {"\"detail\":\"d\"", "\"detail\":null"},
        {"\"year\":2026", "\"year\":1999"},
        {"\"year\":2026", "\"year\":2026.5"},
        {"\"year\":2026", "\"year\":\"2026\""},
        {"\"base\":\"1.00\"", "\"base\":100"},
        {"\"opened\":1796000000", "\"opened\":0"},
        {"\"opened\":1796000000", "\"opened\":-5"},
        {"\"closed\":null", "\"closed\":\"soon\""},
        {"\"decision\":null", "\"decision\":\"accept\""},
        {"\"reason\":null", "\"reason\":\"why\""},
        {"\"closed\":null,\"decision\":null", "\"closed\":1796003600,\"decision\":null"},
        {"\"closed\":null,\"decision\":null", "\"closed\":1796003600,\"decision\":\"Take A\""},
        {"\"cseq\":4", "\"cseq\":0"},
        {"\"cseq\":4", "\"cseq\":1e20"},
        {",\"cseq\":4", ""},
    };
    struct mrf_error err = {0};
    struct cs_conflict c, zero;
    char json[1024], big[700];
    cJSON *doc;

    doc = wire_json_parse(good, strlen(good));
    ck_assert_int_eq(changeset_conflict_parse(doc, &c, &err), MRF_OK);
    ck_assert_str_eq(c.b, "");
    cJSON_Delete(doc);
    memset(&zero, 0, sizeof zero);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *at = strstr(good, bad[i].from);
        ck_assert_ptr_nonnull(at);
        snprintf(json, sizeof json, "%.*s%s%s", (int)(at - good), good, bad[i].to,
                 at + strlen(bad[i].from));
        doc = wire_json_parse(json, strlen(json));
        ck_assert_msg(doc != NULL, "case %zu is not JSON", i);
        ck_assert_msg(changeset_conflict_parse(doc, &c, &err) == MRF_E_INVALID, "case %zu read", i);
        ck_assert_mem_eq(&c, &zero, sizeof c);
        cJSON_Delete(doc);
    }
    /* over the caps: a reason of 501 bytes, a detail of 256 */
    memset(big, 'x', sizeof big);
    big[501] = '\0';
    snprintf(json, sizeof json,
             "{\"id\":\"C-7K2M9Q\",\"kind\":\"rule\",\"rule\":\"r\",\"rows\":\"\",\"detail\":\"\","
             "\"year\":0,\"base\":\"\",\"a\":\"\",\"b\":\"\",\"opened\":1,\"closed\":2,"
             "\"decision\":\"auto\",\"reason\":\"%s\",\"cseq\":1}",
             big);
    doc = wire_json_parse(json, strlen(json));
    ck_assert_int_eq(changeset_conflict_parse(doc, &c, &err), MRF_E_INVALID);
    cJSON_Delete(doc);
    big[500] = '\0';
    snprintf(json, sizeof json,
             "{\"id\":\"C-7K2M9Q\",\"kind\":\"rule\",\"rule\":\"r\",\"rows\":\"\",\"detail\":\"\","
             "\"year\":0,\"base\":\"\",\"a\":\"\",\"b\":\"\",\"opened\":1,\"closed\":2,"
             "\"decision\":\"auto\",\"reason\":\"%s\",\"cseq\":1}",
             big);
    doc = wire_json_parse(json, strlen(json));
    ck_assert_int_eq(changeset_conflict_parse(doc, &c, &err), MRF_OK);
    ck_assert_uint_eq(strlen(c.reason), 500);
    cJSON_Delete(doc);
    big[256] = '\0';
    snprintf(
        json, sizeof json,
        "{\"id\":\"C-7K2M9Q\",\"kind\":\"rule\",\"rule\":\"r\",\"rows\":\"\",\"detail\":\"%s\","
        "\"year\":0,\"base\":\"\",\"a\":\"\",\"b\":\"\",\"opened\":1,\"closed\":null,"
        "\"decision\":null,\"reason\":null,\"cseq\":1}",
        big);
    doc = wire_json_parse(json, strlen(json));
    ck_assert_int_eq(changeset_conflict_parse(doc, &c, &err), MRF_E_INVALID);
    cJSON_Delete(doc);
    ck_assert_int_eq(changeset_conflict_parse(NULL, &c, &err), MRF_E_INVALID);
}
END_TEST

/* An answer whose audit head or records are malformed is refused as a whole; so is a request
 * whose conflict cursor is not a count. */
START_TEST(changeset_records_members_refused)
{
    static const char head[] =
        "{\"v\":2,\"ack\":{\"id\":\"22222222222222222222222222222222\",\"verdict\":\"accepted\","
        "\"reason\":\"\"},\"time\":1,\"ops\":[],\"cursor\":1,";
    static const char *const tails[] = {
        "\"audit\":7,\"more\":false}",
        "\"audit\":{\"seq\":-1,\"hash\":\"" /* 64 hex */
        "abababababababababababababababababababababababababababababababab\",\"sig\":\"AA\"},"
        "\"more\":false}",
        "\"audit\":{\"seq\":1,\"hash\":\"abab\",\"sig\":\"AA\"},\"more\":false}",
        "\"audit\":{\"seq\":1,\"hash\":"
        "\"abababababababababababababababababababababababababababababababab\",\"sig\":\"AA\"},"
        "\"more\":false}",
        "\"audit\":{\"seq\":1,\"hash\":"
        "\"zbababababababababababababababababababababababababababababababab\",\"sig\":\"AA\"},"
        "\"more\":false}",
        "\"conflicts\":[],\"more\":false}",
        "\"conflicts\":{},\"ccursor\":1,\"more\":false}",
        "\"conflicts\":[],\"ccursor\":-1,\"more\":false}",
        "\"conflicts\":[],\"ccursor\":\"1\",\"more\":false}",
    };
    static const char *const bad_req[] = {
        "{\"v\":2,\"cursor\":0,\"ccursor\":-1,\"ops\":[]}",
        "{\"v\":2,\"cursor\":0,\"ccursor\":1.5,\"ops\":[]}",
        "{\"v\":2,\"cursor\":0,\"ccursor\":\"1\",\"ops\":[]}",
    };
    struct mrf_error err = {0};
    struct cs_answer a;
    struct cs_request r;
    struct buf b;
    char json[512];

    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        snprintf(json, sizeof json, "%s%s", head, tails[i]);
        ck_assert_msg(changeset_answer_parse(json, strlen(json), &a, &err) == MRF_E_INVALID,
                      "answer %zu read", i);
        changeset_answer_release(&a);
    }
    for (size_t i = 0; i < sizeof bad_req / sizeof bad_req[0]; i++) {
        ck_assert_int_eq(changeset_request_parse(bad_req[i], strlen(bad_req[i]), &r, &err),
                         MRF_E_INVALID);
        ck_assert_str_eq(err.msg, "bad_cursor");
        changeset_request_release(&r);
    }
    /* more than a page of records */
    buf_init(&b, 1 << 20);
    buf_puts(&b, head);
    buf_puts(&b, "\"conflicts\":[");
    for (int i = 0; i <= CS_CONFLICTS_PAGE; i++)
        buf_puts(&b, i ? ",{}" : "{}");
    buf_puts(&b, "],\"ccursor\":1,\"more\":false}");
    ck_assert_int_eq(changeset_answer_parse(b.data, b.len, &a, &err), MRF_E_INVALID);
    changeset_answer_release(&a);
    buf_release(&b);
}
END_TEST

/* ---- merge ------------------------------------------------------------------------------- */

static char mdir[64];
static sqlite3 *mdb[2]; /* post store, HQ store */

static void merge_setup(void)
{
    char path[128];
    struct mrf_error err = {0};

    testutil_tmpdir(mdir, sizeof mdir, "wire");
    snprintf(path, sizeof path, "%s/post.db", mdir);
    ck_assert_msg(schema_open(path, SCHEMA_POST, &mdb[0], &err) == MRF_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/hq.db", mdir);
    ck_assert_msg(schema_open(path, SCHEMA_HQ, &mdb[1], &err) == MRF_OK, "%s", err.msg);
}

static void merge_teardown(void)
{
    sqlite3_close_v2(mdb[0]);
    sqlite3_close_v2(mdb[1]);
    testutil_rmtree(mdir);
}

static void exec(sqlite3 *d, const char *sql)
{
    ck_assert_msg(sqlite3_exec(d, sql, NULL, NULL, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(d));
}

/* Every row of every domain table and of clocks, as text, in a fixed order. */
/* Every domain row and clock of post (of all posts if NULL) as text. */
/* The query dump_post prints for table t (ST_COUNT: the clocks), into q: the rows' values by
 * name, since HQ's rows also hold their clocks with writers numbered as each store met them
 * (HQ store version 10); the clocks come through the view, by writer id. */
static void dump_query(int t, char *q, size_t n)
{
    const struct sync_table_desc *d = sync_table_get((enum sync_table)t);
    size_t len;

    if (d == NULL) {
        snprintf(q, n, "SELECT * FROM clocks WHERE ?1 IS NULL OR post = ?1 ORDER BY tbl, id, col");
        return;
    }
    snprintf(q, n, "SELECT post, id%s", d->code_prefix ? ", code" : "");
    for (int c = 0; c < d->ncols; c++) {
        len = strlen(q);
        snprintf(q + len, n - len, ", %s", d->cols[c].name);
    }
    len = strlen(q);
    snprintf(q + len, n - len, " FROM %s WHERE ?1 IS NULL OR post = ?1 ORDER BY id", d->name);
}

static void dump_post(sqlite3 *d, const char *post, struct buf *out)
{
    char q[512];

    buf_reset(out);
    for (int k = 0; k <= ST_COUNT; k++) {
        sqlite3_stmt *s = NULL;
        dump_query(k, q, sizeof q);
        ck_assert_int_eq(sqlite3_prepare_v2(d, q, -1, &s, NULL), SQLITE_OK);
        if (post != NULL)
            sqlite3_bind_text(s, 1, post, -1, SQLITE_STATIC);
        ck_assert_int_eq(buf_printf(out, "%s\n", q), MRF_OK);
        while (sqlite3_step(s) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(s); c++) {
                switch (sqlite3_column_type(s, c)) {
                case SQLITE_NULL:
                    buf_puts(out, "NULL");
                    break;
                case SQLITE_INTEGER:
                    buf_printf(out, "%lld", (long long)sqlite3_column_int64(s, c));
                    break;
                case SQLITE_TEXT:
                    buf_printf(out, "'%s'", (const char *)sqlite3_column_text(s, c));
                    break;
                default: {
                    char *hx =
                        hex_encode(sqlite3_column_blob(s, c), (size_t)sqlite3_column_bytes(s, c));
                    buf_printf(out, "x%s", hx);
                    x_free(hx);
                }
                }
                buf_puts(out, ",");
            }
            buf_puts(out, "\n");
        }
        sqlite3_finalize(s);
    }
}

static void dump(sqlite3 *d, struct buf *out)
{
    dump_post(d, NULL, out);
}

static const uint8_t dev_a[MRF_ID] = {0x0a, 1}, dev_b[MRF_ID] = {0x0b, 1};
static const uint8_t g1[MRF_ID] = {0x61, 0x11}, g2[MRF_ID] = {0x62, 0x22}, p1[MRF_ID] = {0x70, 7};

static struct sync_op mk_int(enum sync_table t, const uint8_t *id, int col, int64_t v, hlc_t c,
                             const uint8_t *dev)
{
    struct sync_op op;

    memset(&op, 0, sizeof op);
    op.tbl = t;
    memcpy(op.id, id, MRF_ID);
    op.col = col;
    op.v.type = SYNC_INT;
    op.v.i = v;
    op.clock = c;
    memcpy(op.device, dev, MRF_ID);
    return op;
}

static struct sync_op mk_text(enum sync_table t, const uint8_t *id, int col, const char *v, hlc_t c,
                              const uint8_t *dev)
{
    struct sync_op op = mk_int(t, id, col, 0, c, dev);

    op.v.type = SYNC_TEXT;
    op.v.i = 0;
    op.v.text = v;
    return op;
}

#define NOPS 6

static void the_ops(struct sync_op ops[NOPS])
{
    hlc_t c1 = hlc_make(1767225600000ULL, 0), c2 = hlc_make(1767225600000ULL, 1),
          c3 = hlc_make(1767225601000ULL, 0), c5 = hlc_make(1767225602000ULL, 0);

    /* two devices write G1's amount concurrently with different clocks: B's is newer */
    ops[0] = mk_int(ST_GRANTS, g1, 3, 100, c1, dev_a);
    ops[1] = mk_int(ST_GRANTS, g1, 3, 200, c2, dev_b);
    /* G1's status with equal clocks: the larger device id (B) wins */
    ops[2] = mk_text(ST_GRANTS, g1, 5, "draft", c5, dev_a);
    ops[3] = mk_text(ST_GRANTS, g1, 5, "committed", c5, dev_b);
    ops[4] = mk_text(ST_PARTNERS, p1, 7, "low", c3, dev_a);
    ops[5] = mk_text(ST_GRANTS, g2, 1, "FOE", c1, dev_b);
}

static int next_permutation(int *a, int n)
{
    int i = n - 2, j = n - 1, t;

    while (i >= 0 && a[i] >= a[i + 1])
        i--;
    if (i < 0)
        return 0;
    while (a[j] <= a[i])
        j--;
    t = a[i], a[i] = a[j], a[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--)
        t = a[l], a[l] = a[r], a[r] = t;
    return 1;
}

static int64_t one_int(sqlite3 *d, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int64_t v = -1;

    ck_assert_int_eq(sqlite3_prepare_v2(d, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

START_TEST(merge_converges_in_every_order)
{
    struct sync_op ops[NOPS];
    struct buf first, now;
    int perm[NOPS], n = 0;

    the_ops(ops);
    buf_init(&first, 1 << 20);
    buf_init(&now, 1 << 20);
    for (int store = 0; store < 2; store++) {
        struct merge *m = NULL;
        sqlite3 *d = mdb[store];

        ck_assert_int_eq(merge_new(d, &m, NULL), MRF_OK);
        for (int i = 0; i < NOPS; i++)
            perm[i] = i;
        buf_reset(&first);
        n = 0;
        do {
            exec(d, "BEGIN");
            for (int i = 0; i < NOPS; i++) {
                enum merge_outcome out;
                struct mrf_error err = {0};
                ck_assert_msg(merge_apply(m, "NAI", &ops[perm[i]], &out, &err) == MRF_OK, "%s",
                              err.msg);
            }
            dump(d, &now);
            if (n == 0) {
                ck_assert_int_eq(buf_puts(&first, now.data), MRF_OK);
                /* the winners, whatever the order */
                ck_assert_int_eq(one_int(d, "SELECT amount_cents FROM grants WHERE "
                                            "id = x'61110000000000000000000000000000'"),
                                 200);
                ck_assert_int_eq(one_int(d, "SELECT count(*) FROM grants WHERE status = "
                                            "'committed' AND id = "
                                            "x'61110000000000000000000000000000'"),
                                 1);
                ck_assert_int_eq(one_int(d, "SELECT count(*) FROM clocks WHERE device = "
                                            "x'0b010000000000000000000000000000' AND col IN "
                                            "(3, 5) AND tbl = 2"),
                                 2);
                ck_assert_int_eq(one_int(d, "SELECT count(*) FROM partners WHERE risk = 'low'"), 1);
                ck_assert_int_eq(one_int(d, "SELECT count(*) FROM clocks"), 4);
            } else {
                ck_assert_msg(strcmp(first.data, now.data) == 0, "store %d order %d differs", store,
                              n);
            }
            exec(d, "ROLLBACK");
            merge_forget(m);
            n++;
        } while (next_permutation(perm, NOPS));
        ck_assert_int_eq(n, 720);
        merge_free(m);
    }
    buf_release(&first);
    buf_release(&now);
}
END_TEST

START_TEST(merge_stale_changes_nothing)
{
    for (int store = 0; store < 2; store++) {
        struct merge *m = NULL;
        struct sync_op ops[NOPS];
        struct buf before, after;
        enum merge_outcome out;
        sqlite3 *d = mdb[store];

        the_ops(ops);
        buf_init(&before, 1 << 20);
        buf_init(&after, 1 << 20);
        ck_assert_int_eq(merge_new(d, &m, NULL), MRF_OK);
        ck_assert_int_eq(merge_apply(m, "NAI", &ops[1], &out, NULL), MRF_OK);
        ck_assert_int_eq(out, MERGE_APPLIED);
        ck_assert_int_eq(merge_apply(m, "NAI", &ops[3], &out, NULL), MRF_OK);
        ck_assert_int_eq(out, MERGE_APPLIED);
        dump(d, &before);
        /* an older clock */
        ck_assert_int_eq(merge_apply(m, "NAI", &ops[0], &out, NULL), MRF_OK);
        ck_assert_int_eq(out, MERGE_STALE);
        /* the same clock, smaller device */
        ck_assert_int_eq(merge_apply(m, "NAI", &ops[2], &out, NULL), MRF_OK);
        ck_assert_int_eq(out, MERGE_STALE);
        /* the very same write again */
        ck_assert_int_eq(merge_apply(m, "NAI", &ops[3], &out, NULL), MRF_OK);
        ck_assert_int_eq(out, MERGE_STALE);
        /* and through a fresh handle, which remembers nothing */
        merge_free(m);
        ck_assert_int_eq(merge_new(d, &m, NULL), MRF_OK);
        ck_assert_int_eq(merge_apply(m, "NAI", &ops[0], &out, NULL), MRF_OK);
        ck_assert_int_eq(out, MERGE_STALE);
        dump(d, &after);
        ck_assert_str_eq(before.data, after.data);
        merge_free(m);
        buf_release(&before);
        buf_release(&after);
    }
}
END_TEST

START_TEST(merge_keeps_rows_of_another_post_apart)
{
    for (int store = 0; store < 2; store++) {
        struct merge *m = NULL;
        struct sync_op ops[NOPS], later;
        struct buf before, after;
        enum merge_outcome out;
        struct mrf_error err = {0};
        sqlite3 *d = mdb[store];

        the_ops(ops);
        buf_init(&before, 1 << 20);
        buf_init(&after, 1 << 20);
        ck_assert_int_eq(merge_new(d, &m, NULL), MRF_OK);
        ck_assert_int_eq(merge_apply(m, "NAI", &ops[0], &out, NULL), MRF_OK);
        ck_assert_int_eq(merge_apply(m, "NAI", &ops[4], &out, NULL), MRF_OK);
        dump_post(d, "NAI", &before);
        /* a newer write to the same grant, claimed by GVA: refused on a device's store (keyed
         * by id); on HQ's (keyed by post and id) it is GVA's own row of that id */
        later = ops[1];
        ck_assert_int_eq(merge_apply(m, "GVA", &later, &out, &err),
                         store == 0 ? MRF_E_RULE : MRF_OK);
        if (store == 0) {
            ck_assert_int_eq(out, MERGE_STALE);
            ck_assert_str_eq(err.msg, "row_of_another_post");
        } else {
            ck_assert_int_eq(out, MERGE_APPLIED);
        }
        /* a new column of the NAI partner, through a fresh handle */
        merge_free(m);
        ck_assert_int_eq(merge_new(d, &m, NULL), MRF_OK);
        later = mk_int(ST_PARTNERS, p1, 8, 1, hlc_make(1767229999000ULL, 0), dev_b);
        ck_assert_int_eq(merge_apply(m, "GVA", &later, &out, NULL),
                         store == 0 ? MRF_E_RULE : MRF_OK);
        dump_post(d, "NAI", &after);
        ck_assert_str_eq(before.data, after.data);
        /* NAI itself still may */
        ck_assert_int_eq(merge_apply(m, "NAI", &later, &out, NULL), MRF_OK);
        ck_assert_int_eq(out, MERGE_APPLIED);
        merge_free(m);
        buf_release(&before);
        buf_release(&after);
    }
}
END_TEST

START_TEST(merge_creates_rows_with_short_codes)
{
    for (int store = 0; store < 2; store++) {
        struct merge *m = NULL;
        struct sync_op ops[NOPS], th;
        enum merge_outcome out;
        char gcode[16], pcode[16], sql[256];
        sqlite3 *d = mdb[store];
        uint8_t tid[MRF_ID];

        the_ops(ops);
        ck_assert_int_eq(merge_new(d, &m, NULL), MRF_OK);
        ck_assert_int_eq(merge_apply(m, "NAI", &ops[0], &out, NULL), MRF_OK);
        ck_assert_int_eq(merge_apply(m, "NAI", &ops[4], &out, NULL), MRF_OK);
        row_id_derive(tid, "themes", "NAI", 2026, "FOE");
        th = mk_text(ST_THEMES, tid, 1, "FOE", hlc_make(1767225600000ULL, 0), dev_a);
        ck_assert_int_eq(merge_apply(m, "NAI", &th, &out, NULL), MRF_OK);
        shortcode_make("G", g1, gcode);
        shortcode_make("PX", p1, pcode);
        ck_assert(strncmp(gcode, "G-", 2) == 0 && strlen(gcode) == 8);
        ck_assert(strncmp(pcode, "PX-", 3) == 0 && strlen(pcode) == 9);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM grants WHERE code = '%s' AND post = 'NAI' AND "
                 "amount_cents = 100 AND removed = 0",
                 gcode);
        ck_assert_int_eq(one_int(d, sql), 1);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM partners WHERE code = '%s' AND post = 'NAI' AND "
                 "risk = 'low'",
                 pcode);
        ck_assert_int_eq(one_int(d, sql), 1);
        ck_assert_int_eq(one_int(d, "SELECT count(*) FROM themes WHERE theme = 'FOE' AND post = "
                                    "'NAI'"),
                         1);
        merge_free(m);
    }
}
END_TEST

/* ---- wipe orders (sync/order.c) ------------------------------------------------------------ */

/* The officer's seeded key pair (0x09...), a device and a nonce: the golden order's inputs. */
static void order_inputs(uint8_t pk[MRF_SIGN_PK], uint8_t sk[MRF_SIGN_SK], uint8_t dev[MRF_ID],
                         uint8_t nonce[16])
{
    uint8_t seed[32];

    memset(seed, 0x09, sizeof seed);
    crypto_sign_ed25519_seed_keypair(pk, sk, seed);
    memset(dev, 0x5a, MRF_ID);
    memset(nonce, 0x6b, 16);
}

/* Formats only grow: version 1 of the order is exactly tests/unit/golden/wipe-order-v1.hex. */
START_TEST(golden_wipe_order_v1)
{
    uint8_t pk[MRF_SIGN_PK], sk[MRF_SIGN_SK], dev[MRF_ID], nonce[16];
    uint8_t order[WIPE_ORDER_LEN], want[WIPE_ORDER_LEN];
    struct wipe_order o;
    struct mrf_error err;
    uint8_t *file = NULL;
    size_t n = 0;
    char *hex;

    order_inputs(pk, sk, dev, nonce);
    wipe_order_make(order, dev, "NAI", 1893456000, nonce, sk);
    hex = hex_encode(order, sizeof order);
    mrf_error_clear(&err);
    if (file_read_all(MRF_TEST_SRC "/tests/unit/golden/wipe-order-v1.hex", 4096, &file, &n, &err) ==
        MRF_E_NOTFOUND) {
        FILE *f = fopen(MRF_TEST_SRC "/tests/unit/golden/wipe-order-v1.hex", "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "%s\n", hex);
        fclose(f);
        ck_abort_msg("golden/wipe-order-v1.hex was missing and has been written; check it in");
    }
    ck_assert_uint_eq(n, 2 * WIPE_ORDER_LEN + 1);
    file[n - 1] = '\0';
    ck_assert_str_eq((char *)file, hex);
    ck_assert_int_eq(hex_decode((char *)file, want, sizeof want), MRF_OK);
    ck_assert_msg(wipe_order_check(want, sizeof want, pk, dev, "NAI", &o, &err) == MRF_OK, "%s",
                  err.msg);
    ck_assert_int_eq(o.issued, 1893456000);
    ck_assert_mem_eq(o.nonce, nonce, 16);
    ck_assert_str_eq(o.post, "NAI");
    ck_assert_mem_eq(want, "MRFW\x01\0\0\0", 8);
    x_free(hex);
    x_free(file);
}
END_TEST

/* An order is obeyed only if the officer signed it for this device of this post. */
START_TEST(wipe_order_refused)
{
    uint8_t pk[MRF_SIGN_PK], sk[MRF_SIGN_SK], dev[MRF_ID], nonce[16];
    uint8_t other_pk[MRF_SIGN_PK], other_sk[MRF_SIGN_SK], other_dev[MRF_ID];
    uint8_t order[WIPE_ORDER_LEN], bad[WIPE_ORDER_LEN + 1];
    struct wipe_order o;
    struct mrf_error err;
    size_t i;

    order_inputs(pk, sk, dev, nonce);
    crypto_sign_ed25519_keypair(other_pk, other_sk);
    memcpy(other_dev, dev, MRF_ID);
    other_dev[0] ^= 1;
    wipe_order_make(order, dev, "NAI", 1893456000, nonce, sk);
    mrf_error_clear(&err);
    ck_assert_int_eq(wipe_order_check(order, sizeof order, pk, dev, "NAI", &o, &err), MRF_OK);
    /* another key (HQ's online key, say), another device, another post */
    ck_assert_int_eq(wipe_order_check(order, sizeof order, other_pk, dev, "NAI", &o, &err),
                     MRF_E_AUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "officer signature"));
    ck_assert_int_eq(wipe_order_check(order, sizeof order, pk, other_dev, "NAI", &o, &err),
                     MRF_E_AUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "another device"));
    ck_assert_int_eq(wipe_order_check(order, sizeof order, pk, dev, "GVA", &o, &err), MRF_E_AUTH);
    /* signed by someone else for this device */
    wipe_order_make(bad, dev, "NAI", 1893456000, nonce, other_sk);
    ck_assert_int_eq(wipe_order_check(bad, WIPE_ORDER_LEN, pk, dev, "NAI", &o, &err), MRF_E_AUTH);
    /* every flipped byte */
    for (i = 0; i < WIPE_ORDER_LEN; i++) {
        memcpy(bad, order, sizeof order);
        bad[i] ^= 0x01;
        ck_assert_msg(wipe_order_check(bad, WIPE_ORDER_LEN, pk, dev, "NAI", &o, &err) != MRF_OK,
                      "byte %zu", i);
        ck_assert(o.issued == 0);
    }
    /* cut, grown, empty, unsigned (zero signature) */
    ck_assert_int_eq(wipe_order_check(order, sizeof order - 1, pk, dev, "NAI", &o, &err),
                     MRF_E_INVALID);
    memcpy(bad, order, sizeof order);
    bad[WIPE_ORDER_LEN] = 0;
    ck_assert_int_eq(wipe_order_check(bad, sizeof bad, pk, dev, "NAI", &o, &err), MRF_E_INVALID);
    ck_assert_int_eq(wipe_order_check(order, 0, pk, dev, "NAI", &o, &err), MRF_E_INVALID);
    memcpy(bad, order, sizeof order);
    memset(bad + 64, 0, 64);
    ck_assert_int_eq(wipe_order_check(bad, WIPE_ORDER_LEN, pk, dev, "NAI", &o, &err), MRF_E_AUTH);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(other_sk, sizeof other_sk);
}
END_TEST

/* ---- a post's key ring on the wire -------------------------------------------------------- */

/* Announcements and grants survive their JSON whole; a request that carries them is still a
 * request (changeset_request_parse), and a member missing, mistyped or of a wrong size is
 * refused item by item. */
START_TEST(keyring_items_round_trip)
{
    struct postkey_ann a, an2;
    struct postkey_grant g, gr2;
    struct buf b, members;
    struct cs_request req;
    struct mrf_error err;
    cJSON *doc;

    memset(&a, 0, sizeof a);
    str_copy(a.post, "NAI", sizeof a.post);
    a.epoch = 7;
    mrf_random(a.pk, sizeof a.pk);
    mrf_random(a.creator, sizeof a.creator);
    mrf_random(a.sig, sizeof a.sig);
    memset(&g, 0, sizeof g);
    str_copy(g.post, "NAI", sizeof g.post);
    g.epoch = 7;
    mrf_random(g.pk, sizeof g.pk);
    mrf_random(g.target, sizeof g.target);
    mrf_random(g.target_box_pk, sizeof g.target_box_pk);
    mrf_random(g.approver, sizeof g.approver);
    mrf_random(g.wrapped, sizeof g.wrapped);
    mrf_random(g.sig, sizeof g.sig);
    buf_init(&members, WIRE_JSON_MAX);
    ck_assert_int_eq(buf_puts(&members, ",\"keyring\":{\"keys\":["), MRF_OK);
    ck_assert_int_eq(keyring_ann_to_json(&a, &members), MRF_OK);
    ck_assert_int_eq(buf_puts(&members, "],\"grants\":["), MRF_OK);
    ck_assert_int_eq(keyring_grant_to_json(&g, &members), MRF_OK);
    ck_assert_int_eq(buf_puts(&members, "]}"), MRF_OK);
    buf_init(&b, WIRE_JSON_MAX);
    ck_assert_int_eq(changeset_request_begin(&b, WIRE_VERSION, 3, 0, 3, NULL), MRF_OK);
    ck_assert_int_eq(changeset_request_end_with(&b, members.data), MRF_OK);
    ck_assert_int_eq(changeset_request_parse(b.data, b.len, &req, &err), MRF_OK);
    ck_assert_int_eq(cJSON_GetArraySize(req.ops), 0);
    ck_assert_int_eq(
        keyring_ann_from_json(cJSON_GetArrayItem(keyring_member(req.doc, "keys"), 0), "NAI", &an2),
        MRF_OK);
    ck_assert_mem_eq(&a, &an2, sizeof a);
    ck_assert_int_eq(keyring_grant_from_json(
                         cJSON_GetArrayItem(keyring_member(req.doc, "grants"), 0), "NAI", &gr2),
                     MRF_OK);
    ck_assert_mem_eq(&g, &gr2, sizeof g);
    changeset_request_release(&req);
    /* an empty members text leaves the request as changeset_request_end writes it */
    ck_assert_int_eq(changeset_request_begin(&b, WIRE_VERSION, 3, 0, 3, NULL), MRF_OK);
    ck_assert_int_eq(changeset_request_end_with(&b, ""), MRF_OK);
    ck_assert_str_eq(b.data, "{\"v\":3,\"cursor\":3,\"ops\":[]}");
    /* refused items */
    {
        static const char *const bad[] = {
            "{}",
            "{\"epoch\":0,\"pk\":\"AA\",\"creator\":\"00\",\"sig\":\"AA\"}",
            "[]",
            "{\"epoch\":1.5}",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            doc = cJSON_Parse(bad[i]);
            ck_assert_int_eq(keyring_ann_from_json(doc, "NAI", &an2), MRF_E_INVALID);
            ck_assert_int_eq(keyring_grant_from_json(doc, "NAI", &gr2), MRF_E_INVALID);
            cJSON_Delete(doc);
        }
        buf_reset(&b);
        ck_assert_int_eq(keyring_ann_to_json(&a, &b), MRF_OK);
        doc = cJSON_Parse(b.data);
        ck_assert_int_eq(keyring_ann_from_json(doc, "NAI", &an2), MRF_OK);
        cJSON_Delete(doc);
        ck_assert_ptr_nonnull(strstr(b.data, "\"creator\":\""));
        memcpy(strstr(b.data, "\"creator\":\"") + 11, "zz", 2); /* not hex */
        doc = cJSON_Parse(b.data);
        ck_assert_int_eq(keyring_ann_from_json(doc, "NAI", &an2), MRF_E_INVALID);
        cJSON_Delete(doc);
    }
    buf_release(&b);
    buf_release(&members);
}
END_TEST

/* HQ's device list: the layout decodes to what was encoded, and any other length, an unknown
 * flag or an unterminated post is refused. */
START_TEST(keyring_device_list_layout)
{
    struct keyring_devices *l = xcalloc(1, sizeof *l), *m = xcalloc(1, sizeof *m);
    struct buf b;

    str_copy(l->post, "GVA-MUN", sizeof l->post);
    l->epoch = 3;
    l->n = 3;
    for (int i = 0; i < 3; i++) {
        mrf_random(l->d[i].id, MRF_ID);
        mrf_random(l->d[i].keys.sign_pk, MRF_SIGN_PK);
        mrf_random(l->d[i].keys.box_pk, MRF_BOX_PK);
        l->d[i].revoked = i == 1;
        l->d[i].holds = i != 2;
    }
    buf_init(&b, 1 << 16);
    ck_assert_int_eq(keyring_devices_encode(l, &b), MRF_OK);
    ck_assert_uint_eq(b.len, 14 + 16 + 4 + 4 + 3 * 81);
    ck_assert_int_eq(keyring_devices_decode((const uint8_t *)b.data, b.len, m), MRF_OK);
    ck_assert_mem_eq(l, m, sizeof *l);
    ck_assert_ptr_eq(keyring_devices_find(m, l->d[2].id), &m->d[2]);
    ck_assert_int_eq(keyring_devices_decode((const uint8_t *)b.data, b.len - 1, m), MRF_E_INVALID);
    b.data[b.len - 1] = 4; /* an unknown flag */
    ck_assert_int_eq(keyring_devices_decode((const uint8_t *)b.data, b.len, m), MRF_E_INVALID);
    b.data[b.len - 1] = 0;
    b.data[14 + 15] = 'X'; /* post not NUL-terminated */
    ck_assert_int_eq(keyring_devices_decode((const uint8_t *)b.data, b.len, m), MRF_E_INVALID);
    l->n = KEYRING_MAX_DEVICES + 1;
    ck_assert_int_eq(keyring_devices_encode(l, &b), MRF_E_TOOBIG);
    buf_release(&b);
    x_free(m);
    x_free(l);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wire");
    TCase *env = tcase_create("envelope");
    TCase *ops = tcase_create("ops");
    TCase *mg = tcase_create("merge");

    if (mrfcrypto_init() != MRF_OK)
        return EXIT_FAILURE;
    tcase_add_checked_fixture(env, keys_setup, keys_teardown);
    tcase_set_timeout(env, 120);
    tcase_add_test(env, envelope_round_trip_request);
    tcase_add_test(env, envelope_round_trip_request_enroll);
    tcase_add_test(env, envelope_round_trip_response);
    tcase_add_test(env, envelope_round_trip_empty_and_max_body);
    tcase_add_test(env, envelope_layout_as_documented);
    tcase_add_test(env, envelope_parse_refuses_short);
    tcase_add_test(env, envelope_parse_refuses_bad_magic);
    tcase_add_test(env, envelope_parse_refuses_bad_version);
    tcase_add_test(env, envelope_parse_refuses_unknown_kind);
    tcase_add_test(env, envelope_parse_refuses_unknown_flags);
    tcase_add_test(env, envelope_parse_refuses_length_mismatch);
    tcase_add_test(env, envelope_parse_refuses_over_env_max);
    tcase_add_test(env, envelope_open_refuses_flipped_header);
    tcase_add_test(env, envelope_open_refuses_flipped_ciphertext);
    tcase_add_test(env, envelope_open_refuses_flipped_signature);
    tcase_add_test(env, envelope_open_refuses_wrong_keys);
    tcase_add_test(env, envelope_open_refuses_zstd_over_limit);
    tcase_add_test(env, envelope_open_refuses_lying_zstd_header_before_allocating);
    tcase_add_test(env, envelope_open_refuses_non_zstd_plaintext);
    tcase_add_test(ops, op_round_trip_int);
    tcase_add_test(ops, op_round_trip_text);
    tcase_add_test(ops, op_round_trip_blob);
    tcase_add_test(ops, op_round_trip_null);
    tcase_add_test(ops, op_json_exact_form);
    tcase_add_test(ops, op_from_json_refuses_malformed);
    tcase_add_test(ops, op_from_json_accepts_bounds);
    tcase_add_test(ops, wire_json_parse_refuses_escaped_nul);
    tcase_add_test(ops, v3_round_trip_request);
    tcase_add_test(ops, v3_round_trip_answer);
    tcase_add_test(ops, v3_exact_form);
    tcase_add_test(ops, v3_writer_rewind);
    tcase_add_test(ops, v3_refuses_malformed);
    tcase_add_test(ops, wire_json_parse_bounds_values);
    tcase_add_test(ops, wire_meter_tracks_zstd);
    tcase_add_test(ops, golden_changeset_v1);
    tcase_add_test(ops, golden_changeset_v2);
    tcase_add_test(ops, changeset_v1_still_read);
    tcase_add_test(ops, golden_changeset_v3);
    tcase_add_test(ops, changeset_v2_answer_still_read);
    tcase_add_test(ops, changeset_bodies_refused);
    tcase_add_test(ops, golden_changeset_v2_records);
    tcase_add_test(ops, request_seen);
    tcase_add_test(ops, changeset_v2_records_optional);
    tcase_add_test(ops, changeset_v1_answer_unchanged);
    tcase_add_test(ops, changeset_conflicts_page_cut);
    tcase_add_test(ops, keyring_items_round_trip);
    tcase_add_test(ops, keyring_device_list_layout);
    tcase_add_test(ops, changeset_conflict_parse_refuses_malformed);
    tcase_add_test(ops, changeset_records_members_refused);
    tcase_add_test(ops, op_to_json_too_small_leaves_buf);
    tcase_add_test(ops, op_to_json_too_small_on_empty_buf);
    tcase_add_test(ops, golden_wipe_order_v1);
    tcase_add_test(ops, wipe_order_refused);
    tcase_add_checked_fixture(mg, merge_setup, merge_teardown);
    tcase_set_timeout(mg, 120);
    tcase_add_test(mg, merge_converges_in_every_order);
    tcase_add_test(mg, merge_stale_changes_nothing);
    tcase_add_test(mg, merge_keeps_rows_of_another_post_apart);
    tcase_add_test(mg, merge_creates_rows_with_short_codes);
    suite_add_tcase(s, env);
    suite_add_tcase(s, ops);
    suite_add_tcase(s, mg);
    return testutil_run(s);
}

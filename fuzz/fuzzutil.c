/* What the fuzz targets and the seed generator share (fuzzutil.h): fixed keys, the fuzzed
 * HQ's devices, its home and its resets, and envelopes sealed around any bytes. The HQ home
 * is made the way tests/unit/hqtest.h makes one (hqstore_config_init with a configuration as
 * `mrf-hq init` writes it, no TLS files or escrow key: ingest reads neither), with keys that
 * are the same in every process, so the generator's sealed seeds authenticate later. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fuzzutil.h"

#define FUZZ_TOKEN_EXPIRES 4102444800LL /* 2100-01-01: tokens never expire during a run */
#define FUZZ_CREATED_AT 1767225600LL    /* 2026-01-01 */

static const struct {
    const char *label;
    const char *post;
} fuzz_dev_table[FUZZ_NDEV] = {
    {"nai-a", "NAI"},   {"nai-b", "NAI"}, {"gva", "GVA"},
    {"revoked", "NAI"}, {"new", "NAI"},   {"stray", "NAI"},
};

_Noreturn void fuzz_die(const char *what)
{
    fprintf(stderr, "fuzz: %s\n", what);
    abort();
}

char *fuzz_cstr(const uint8_t *data, size_t n)
{
    char *s = xmalloc(n + 1);

    if (n > 0)
        memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

/* out[0..n) = BLAKE2b("mrf-fuzz|" label "|" part): fixed bytes for a fixed label. */
static void derive(uint8_t *out, size_t n, const char *label, const char *part)
{
    char *msg = xasprintf("mrf-fuzz|%s|%s", label, part);

    if (n < 16) {
        uint8_t full[16];
        mrf_hash(full, sizeof full, (const uint8_t *)msg, strlen(msg), NULL, 0);
        memcpy(out, full, n);
    } else {
        mrf_hash(out, n, (const uint8_t *)msg, strlen(msg), NULL, 0);
    }
    x_free(msg);
}

void fuzz_secrets(const char *label, struct mrf_secrets **out)
{
    uint8_t seed[32];
    struct mrf_secrets *s;

    mrf_secrets_new(&s);
    derive(seed, sizeof seed, label, "sign");
    crypto_sign_seed_keypair(s->pub.sign_pk, s->sign_sk, seed);
    derive(seed, sizeof seed, label, "box");
    crypto_box_seed_keypair(s->pub.box_pk, s->box_sk, seed);
    sodium_memzero(seed, sizeof seed);
    *out = s;
}

void fuzz_identity(struct hq_identity *ident)
{
    struct hq_config *c = &ident->cfg;

    memset(ident, 0, sizeof *ident);
    fuzz_secrets("hq", &ident->keys);
    str_copy(c->url, "https://hq.example.org:8443", sizeof c->url);
    str_copy(c->tls_pin, "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", sizeof c->tls_pin);
    c->hq = ident->keys->pub;
    derive(c->escrow_pk, sizeof c->escrow_pk, "escrow", "pk");
    derive(c->device_id, sizeof c->device_id, "hq", "id");
    c->created_at = FUZZ_CREATED_AT;
}

void fuzz_devices(struct fuzz_device dev[FUZZ_NDEV])
{
    for (int i = 0; i < FUZZ_NDEV; i++) {
        struct fuzz_device *d = &dev[i];
        const char *label = fuzz_dev_table[i].label;

        memset(d, 0, sizeof *d);
        fuzz_secrets(label, &d->keys);
        derive(d->id, sizeof d->id, label, "id");
        str_copy(d->post, fuzz_dev_table[i].post, sizeof d->post);
        derive(d->token_id, sizeof d->token_id, label, "token");
        derive(d->secret, sizeof d->secret, label, "secret");
    }
}

void fuzz_devices_free(struct fuzz_device dev[FUZZ_NDEV])
{
    for (int i = 0; i < FUZZ_NDEV; i++) {
        mrf_secrets_free(dev[i].keys);
        dev[i].keys = NULL;
    }
}

char *fuzz_enroll_body(const struct fuzz_device *d)
{
    char *sec = b64url_encode(d->secret, MRF_SECRET);
    char *json = xasprintf("{\"v\":%d,\"cursor\":0,\"enroll\":{\"secret\":\"%s\"},\"ops\":[]}",
                           WIRE_VERSION, sec);

    x_free(sec);
    return json;
}

void fuzz_seal_request(const struct fuzz_device *d, const char *post, int enroll,
                       const uint8_t cs[MRF_ID], const char *json, size_t len,
                       const uint8_t hq_box_pk[MRF_BOX_PK], struct buf *out)
{
    struct envelope h;
    struct mrf_error err;

    memset(&h, 0, sizeof h);
    h.kind = ENV_REQUEST;
    memcpy(h.sender, d->id, MRF_ID);
    memcpy(h.changeset, cs, MRF_ID);
    str_copy(h.post, post, sizeof h.post);
    if (enroll) {
        h.flags = ENV_F_ENROLL;
        memcpy(h.token_id, d->token_id, MRF_ID);
        h.keys = d->keys->pub;
    }
    if (out->cap == 0)
        buf_init(out, ENV_MAX);
    if (envelope_seal(&h, json, len, d->keys, hq_box_pk, out, &err) != MRF_OK)
        buf_reset(out); /* over the size cap: an empty body, which HQ refuses */
}

void fuzz_seal_raw(int kind, const struct mrf_secrets *from, const uint8_t sender[MRF_ID],
                   const uint8_t *plain, size_t len, const uint8_t to_box_pk[MRF_BOX_PK],
                   struct buf *out)
{
    const size_t abytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    uint8_t head[ENV_HEADER], key[crypto_box_BEFORENMBYTES], sig[MRF_SIG];
    uint8_t *ct = xmalloc(len + abytes);
    unsigned long long ct_len = 0;
    uint32_t n = (uint32_t)(len + abytes);

    memset(head, 0, sizeof head);
    memcpy(head, ENV_MAGIC, 4);
    head[4] = ENV_VERSION;
    head[5] = (uint8_t)kind;
    memcpy(head + 8, sender, MRF_ID);
    memcpy(head + 8 + 2 * MRF_ID, "NAI", 3);
    /* a zero nonce: every key pair here is a fuzzing key, and the bytes stay reproducible */
    head[ENV_HEADER - 4] = (uint8_t)(n >> 24);
    head[ENV_HEADER - 3] = (uint8_t)(n >> 16);
    head[ENV_HEADER - 2] = (uint8_t)(n >> 8);
    head[ENV_HEADER - 1] = (uint8_t)n;
    if (crypto_box_beforenm(key, to_box_pk, from->box_sk) != 0)
        fuzz_die("a fuzzing box key is not usable");
    crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &ct_len, plain, len, head, sizeof head, NULL,
                                               head + ENV_HEADER - 4 - 24, key);
    if (out->cap == 0)
        buf_init(out, 2 * ENV_MAX);
    buf_reset(out);
    (void)buf_append(out, head, sizeof head);
    (void)buf_append(out, ct, (size_t)ct_len);
    mrf_sign(sig, (const uint8_t *)out->data, out->len, from->sign_sk);
    (void)buf_append(out, sig, sizeof sig);
    sodium_memzero(key, sizeof key);
    x_free(ct);
}

/* ---- the fuzzed HQ ----------------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void open_store(struct fuzz_hq *h)
{
    struct mrf_error err;

    if (hqstore_open(h->home, HQSTORE_EXISTING, &h->store, &err) != MRF_OK)
        fuzz_die(err.msg);
}

/* A private directory for the home: tmpfs if there is one (SQLite's fsyncs cost nothing). */
static void make_home(struct fuzz_hq *h)
{
    const char *base = getenv("TMPDIR");
    struct stat sb;

    if (stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0)
        base = "/dev/shm";
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    snprintf(h->home, sizeof h->home, "%s/mrf-fuzz-XXXXXX", base);
    if (mkdtemp(h->home) == NULL)
        fuzz_die("cannot make a temporary HQ home");
}

void fuzz_hq_setup(struct fuzz_hq *h)
{
    struct mrf_error err;
    struct buf env = {0};
    struct ingest_result r;
    char *path;

    memset(h, 0, sizeof *h);
    if (mrfcrypto_init() != MRF_OK)
        fuzz_die("libsodium cannot be initialised");
    log_set(stderr, LOG_WARN); /* ingest logs only what goes wrong */
    make_home(h);
    fuzz_identity(&h->ident);
    fuzz_devices(h->dev);
    if (hqstore_open(h->home, HQSTORE_CREATE, &h->store, &err) != MRF_OK)
        fuzz_die(err.msg);
    if (hqstore_config_init(h->store, &h->ident.cfg) != MRF_OK ||
        hqstore_post_add(h->store, "NAI", "bilateral", NULL, 0, FUZZ_CREATED_AT) != MRF_OK ||
        hqstore_post_add(h->store, "GVA", "multilateral", NULL, 0, FUZZ_CREATED_AT) != MRF_OK)
        fuzz_die(hqstore_errmsg(h->store));
    for (int i = 0; i < FUZZ_NDEV; i++) {
        struct hq_enrollment e;
        if (i == FD_STRAY)
            continue;
        memset(&e, 0, sizeof e);
        memcpy(e.token_id, h->dev[i].token_id, MRF_ID);
        str_copy(e.post, h->dev[i].post, sizeof e.post);
        mrf_hash(e.secret_hash, sizeof e.secret_hash, h->dev[i].secret, MRF_SECRET, NULL, 0);
        e.expires = FUZZ_TOKEN_EXPIRES;
        e.created_at = FUZZ_CREATED_AT;
        if (hqstore_enrollment_add(h->store, &e) != MRF_OK)
            fuzz_die(hqstore_errmsg(h->store));
    }
    /* enrolled as a device enrolls: its first change set */
    for (int i = 0; i <= FD_REVOKE; i++) {
        char *json = fuzz_enroll_body(&h->dev[i]);
        uint8_t cs[MRF_ID];

        fuzz_hq_changeset_id(h, cs);
        fuzz_seal_request(&h->dev[i], h->dev[i].post, 1, cs, json, strlen(json),
                          h->ident.cfg.hq.box_pk, &env);
        ingest_result_init(&r);
        if (hq_ingest(h->store, &h->ident, (const uint8_t *)env.data, env.len, &r) != MRF_OK ||
            r.http_status != 200)
            fuzz_die("a device of the fuzzed HQ cannot enroll");
        ingest_result_release(&r);
        x_free(json);
    }
    if (hqstore_device_revoke(h->store, h->dev[FD_REVOKE].id, FUZZ_CREATED_AT) != MRF_OK)
        fuzz_die(hqstore_errmsg(h->store));
    buf_release(&env);

    hqstore_close(h->store); /* checkpoints: the whole store is in hq.db */
    h->store = NULL;
    path = hq_path(h->home, HQ_DB_FILE);
    if (file_read_all(path, 64u << 20, &h->pristine, &h->pristine_len, &err) != MRF_OK)
        fuzz_die(err.msg);
    x_free(path);
    open_store(h);
    h->runs = 0;
}

void fuzz_hq_tick(struct fuzz_hq *h)
{
    static const char *const leaves[] = {HQ_DB_FILE "-wal", HQ_DB_FILE "-shm", HQ_DB_FILE};
    struct mrf_error err;
    char *path;

    if (++h->runs <= FUZZ_HQ_RESET_EVERY)
        return;
    hqstore_close(h->store);
    h->store = NULL;
    for (size_t i = 0; i < sizeof leaves / sizeof leaves[0]; i++) {
        path = hq_path(h->home, leaves[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            fuzz_die("cannot remove the fuzzed store");
        x_free(path);
    }
    path = hq_path(h->home, HQ_DB_FILE);
    if (file_write_atomic(path, h->pristine, h->pristine_len, 0600, &err) != MRF_OK)
        fuzz_die(err.msg);
    x_free(path);
    open_store(h);
    h->runs = 1;
}

void fuzz_hq_changeset_id(struct fuzz_hq *h, uint8_t cs[MRF_ID])
{
    uint64_t n = ++h->serial;

    memset(cs, 0xcc, MRF_ID);
    for (int i = 0; i < 8; i++)
        cs[MRF_ID - 1 - i] = (uint8_t)(n >> (8 * i));
}

void fuzz_hq_release(struct fuzz_hq *h)
{
    hqstore_close(h->store);
    h->store = NULL;
    if (h->home[0] != '\0')
        nftw(h->home, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    h->home[0] = '\0';
    fuzz_devices_free(h->dev);
    mrf_secrets_free(h->ident.keys);
    h->ident.keys = NULL;
    x_free(h->pristine);
    h->pristine = NULL;
}

/* Unit tests of hq/ and of the enrollment token (sync/token.c), which mrf-hq writes: the
 * self-signed TLS certificate (parsed back with GnuTLS: SAN for DNS, IPv4 and IPv6 hosts,
 * server profile, key and pin agree, pin computed independently), URL checks, the HQ key file,
 * token round trip and each way a token is refused, and the HQ store (posts, duplicates,
 * enrollments kept as a hash, never the secret). One test case per behaviour; those touching
 * files run in their own temporary directory. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>

#include "testutil.h"
#include "common.h"
#include "hq.h"
#include "hqstore.h"
#include "mrfcrypto.h"
#include "mrfsync.h"
#include "hqtest.h"
#include "serve_log.h"

static char tmpdir[64];

static void setup(void)
{
    testutil_tmpdir(tmpdir, sizeof tmpdir, "test-hq");
}

static void teardown(void)
{
    testutil_rmtree(tmpdir);
}

static char *tmp_path(const char *leaf)
{
    return xasprintf("%s/%s", tmpdir, leaf);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    uint8_t *data = NULL;
    struct mrf_error err;

    mrf_error_clear(&err);
    ck_assert_int_eq(file_read_all(path, 1 << 24, &data, len, &err), MRF_OK);
    return data;
}

/* 1 if needle occurs in hay. */
static int contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
    size_t i;

    for (i = 0; m <= n && i <= n - m; i++) {
        if (memcmp(hay + i, needle, m) == 0)
            return 1;
    }
    return 0;
}

/* ---- TLS certificate --------------------------------------------------------------------- */

struct made_cert {
    gnutls_x509_crt_t crt;
    gnutls_x509_privkey_t key;
    char pin[TLSCERT_PIN_MAX];
    char *pem;
    size_t pemlen;
};

/* Makes a certificate for url in tmpdir and parses both files back with GnuTLS. */
static void make_cert(const char *url, struct made_cert *m)
{
    struct hq_url u;
    struct mrf_error err;
    char *cp = tmp_path("cert.pem"), *kp = tmp_path("key.pem");
    uint8_t *kpem;
    size_t klen;
    gnutls_datum_t d;
    struct stat sb;

    mrf_error_clear(&err);
    ck_assert_int_eq(hq_url_parse(url, &u, &err), MRF_OK);
    ck_assert_msg(tlscert_create(&u, cp, kp, m->pin, &err) == MRF_OK, "%s", err.msg);

    ck_assert_int_eq(stat(kp, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);

    m->pem = (char *)read_file(cp, &m->pemlen);
    ck_assert_int_eq(gnutls_x509_crt_init(&m->crt), 0);
    d.data = (unsigned char *)m->pem;
    d.size = (unsigned int)m->pemlen;
    ck_assert_int_eq(gnutls_x509_crt_import(m->crt, &d, GNUTLS_X509_FMT_PEM), 0);

    kpem = read_file(kp, &klen);
    ck_assert_int_eq(gnutls_x509_privkey_init(&m->key), 0);
    d.data = kpem;
    d.size = (unsigned int)klen;
    ck_assert_int_eq(gnutls_x509_privkey_import2(m->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0), 0);
    sodium_memzero(kpem, klen);
    x_free(kpem);
    x_free(cp);
    x_free(kp);
}

static void free_cert(struct made_cert *m)
{
    gnutls_x509_crt_deinit(m->crt);
    gnutls_x509_privkey_deinit(m->key);
    x_free(m->pem);
}

/* The SAN at index 0: its type, and its value in buf. */
static unsigned san0(gnutls_x509_crt_t crt, uint8_t *buf, size_t *len)
{
    unsigned type = 0, critical = 0;
    int r = gnutls_x509_crt_get_subject_alt_name2(crt, 0, buf, len, &type, &critical);

    ck_assert_int_ge(r, 0);
    return type;
}

START_TEST(tlscert_dns_host)
{
    struct made_cert m;
    uint8_t san[256];
    size_t len = sizeof san;
    unsigned ca = 1, crit = 0, usage = 0;
    int pathlen = 0;
    char cn[256];
    size_t cnlen = sizeof cn;
    time_t now = time(NULL);

    make_cert("https://HQ.Example.org:8443/", &m);
    ck_assert_uint_eq(san0(m.crt, san, &len), GNUTLS_SAN_DNSNAME);
    ck_assert_uint_eq(len, strlen("hq.example.org"));
    ck_assert_mem_eq(san, "hq.example.org", len);
    ck_assert_int_eq(
        gnutls_x509_crt_get_dn_by_oid(m.crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cnlen), 0);
    ck_assert_str_eq(cn, "hq.example.org");
    ck_assert_int_eq(gnutls_x509_crt_get_version(m.crt), 3);
    ck_assert_int_eq(gnutls_x509_crt_get_basic_constraints(m.crt, &crit, &ca, &pathlen), 0);
    ck_assert_uint_eq(ca, 0);
    ck_assert_int_eq(gnutls_x509_crt_get_key_usage(m.crt, &usage, &crit), 0);
    ck_assert_uint_eq(usage & GNUTLS_KEY_DIGITAL_SIGNATURE, GNUTLS_KEY_DIGITAL_SIGNATURE);
    ck_assert_uint_eq(gnutls_x509_crt_check_key_purpose(m.crt, GNUTLS_KP_TLS_WWW_SERVER, 0), 1);
    ck_assert_int_eq(gnutls_x509_crt_get_pk_algorithm(m.crt, NULL), GNUTLS_PK_ECDSA);
    ck_assert_int_le(gnutls_x509_crt_get_activation_time(m.crt), now);
    ck_assert_int_ge(gnutls_x509_crt_get_expiration_time(m.crt), now + 4L * 365 * 86400);
    ck_assert_uint_eq(gnutls_x509_crt_check_hostname(m.crt, "hq.example.org"), 1);
    ck_assert_uint_eq(gnutls_x509_crt_check_hostname(m.crt, "other.example.org"), 0);
    free_cert(&m);
}
END_TEST

START_TEST(tlscert_ip_hosts)
{
    struct made_cert m;
    uint8_t san[64];
    size_t len = sizeof san;
    static const uint8_t v4[4] = {192, 0, 2, 7};
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

    make_cert("https://192.0.2.7:8443", &m);
    ck_assert_uint_eq(san0(m.crt, san, &len), GNUTLS_SAN_IPADDRESS);
    ck_assert_uint_eq(len, 4);
    ck_assert_mem_eq(san, v4, 4);
    ck_assert_uint_eq(gnutls_x509_crt_check_ip(m.crt, v4, 4, 0), 1);
    free_cert(&m);
    teardown();
    setup();

    len = sizeof san;
    make_cert("https://[2001:DB8::1]:9000", &m);
    ck_assert_uint_eq(san0(m.crt, san, &len), GNUTLS_SAN_IPADDRESS);
    ck_assert_uint_eq(len, 16);
    ck_assert_mem_eq(san, v6, 16);
    free_cert(&m);
}
END_TEST

/* The pin, computed here from the private key file without the code under test: SHA-256 of
 * the DER SubjectPublicKeyInfo, standard base64. */
START_TEST(tlscert_pin_matches_key)
{
    struct made_cert m;
    gnutls_privkey_t pk;
    gnutls_pubkey_t pub;
    gnutls_datum_t der;
    uint8_t h[32], cid[64], kid[64];
    size_t cidlen = sizeof cid, kidlen = sizeof kid;
    char want[TLSCERT_PIN_MAX], again[TLSCERT_PIN_MAX];
    struct mrf_error err;

    make_cert("https://hq.example.org:8443", &m);
    ck_assert_int_eq(gnutls_privkey_init(&pk), 0);
    ck_assert_int_eq(gnutls_privkey_import_x509(pk, m.key, 0), 0);
    ck_assert_int_eq(gnutls_pubkey_init(&pub), 0);
    ck_assert_int_eq(gnutls_pubkey_import_privkey(pub, pk, 0, 0), 0);
    ck_assert_int_eq(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der), 0);
    ck_assert_int_eq(gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, h), 0);
    memcpy(want, "sha256//", 9);
    sodium_bin2base64(want + 8, sizeof want - 8, h, sizeof h, sodium_base64_VARIANT_ORIGINAL);
    ck_assert_str_eq(m.pin, want);
    ck_assert_uint_eq(strlen(m.pin), 8 + 44);

    mrf_error_clear(&err);
    ck_assert_int_eq(tlscert_pin(m.pem, m.pemlen, again, &err), MRF_OK);
    ck_assert_str_eq(again, want);

    /* The certificate carries the key in the key file. */
    ck_assert_int_eq(gnutls_x509_crt_get_key_id(m.crt, 0, cid, &cidlen), 0);
    ck_assert_int_eq(gnutls_x509_privkey_get_key_id(m.key, 0, kid, &kidlen), 0);
    ck_assert_uint_eq(cidlen, kidlen);
    ck_assert_mem_eq(cid, kid, cidlen);
    /* Self-signed: it verifies under its own key. */
    {
        unsigned status = 1;
        ck_assert_int_eq(gnutls_x509_crt_verify(m.crt, &m.crt, 1, 0, &status), 0);
        ck_assert_uint_eq(status, 0);
    }

    gnutls_free(der.data);
    gnutls_pubkey_deinit(pub);
    gnutls_privkey_deinit(pk);
    free_cert(&m);
}
END_TEST

START_TEST(tlscert_two_runs_differ)
{
    struct made_cert a, b;
    char *cp = tmp_path("cert.pem"), *kp = tmp_path("key.pem");

    make_cert("https://hq.example.org:8443", &a);
    unlink(cp);
    unlink(kp);
    make_cert("https://hq.example.org:8443", &b);
    ck_assert_str_ne(a.pin, b.pin);
    free_cert(&a);
    free_cert(&b);
    x_free(cp);
    x_free(kp);
}
END_TEST

/* ---- URL --------------------------------------------------------------------------------- */

START_TEST(url_accepts_and_normalises)
{
    static const struct {
        const char *in, *norm;
        enum hq_host_kind kind;
    } ok[] = {
        {"https://hq.example.org:8443", "https://hq.example.org:8443", HQ_HOST_DNS},
        {"https://HQ.example.ORG:8443/", "https://hq.example.org:8443", HQ_HOST_DNS},
        {"https://localhost", "https://localhost:443", HQ_HOST_DNS},
        {"https://10.0.0.1:1", "https://10.0.0.1:1", HQ_HOST_IPV4},
        {"https://[::1]:65535", "https://[::1]:65535", HQ_HOST_IPV6},
        {"https://[2001:DB8:0:0::7]:8443", "https://[2001:db8::7]:8443", HQ_HOST_IPV6},
    };
    struct hq_url u;
    struct mrf_error err;
    size_t i;

    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        mrf_error_clear(&err);
        ck_assert_msg(hq_url_parse(ok[i].in, &u, &err) == MRF_OK, "%s: %s", ok[i].in, err.msg);
        ck_assert_str_eq(u.normalized, ok[i].norm);
        ck_assert_int_eq(u.kind, ok[i].kind);
    }
}
END_TEST

/* An accepted connection leaves Nagle's algorithm off once tuned: the TLS handshake records
 * HQ writes back to back must not wait for the client's ACK (a round trip on a satellite). */
static int nodelay_of(int fd)
{
    int v = -1;
    socklen_t len = sizeof v;

    ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    return v;
}

START_TEST(listen_tune_turns_nagle_off)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), s;

    ck_assert(l >= 0 && c >= 0);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(l, 1), 0);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    ck_assert_int_eq(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    s = accept(l, NULL, NULL);
    ck_assert(s >= 0);
    ck_assert_int_eq(nodelay_of(s), 0); /* the kernel's default: Nagle on */
    ck_assert_int_eq(hq_listen_tune(s), 0);
    ck_assert_int_ne(nodelay_of(s), 0);
    close(s);
    close(c);
    close(l);
}
END_TEST

START_TEST(url_refuses)
{
    static const char *const bad[] = {
        "",
        "http://hq.example.org:8443",
        "hq.example.org:8443",
        "https://",
        "https://:8443",
        "https://hq.example.org:0",
        "https://hq.example.org:65536",
        "https://hq.example.org:",
        "https://hq.example.org:84x3",
        "https://hq.example.org:8443/v1/sync",
        "https://user@hq.example.org:8443",
        "https://hq.example.org:8443?x=1",
        "https://hq_example.org",
        "https://-hq.example.org",
        "https://hq..example.org",
        "https://999.1.1.1",
        "https://1.2.3",
        "https://[::1",
        "https://[zz::1]:8443",
        "https://[::1]x",
        "https://hq example.org",
    };
    struct hq_url u;
    struct mrf_error err;
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mrf_error_clear(&err);
        ck_assert_msg(hq_url_parse(bad[i], &u, &err) == MRF_E_INVALID, "accepted %s", bad[i]);
        ck_assert_str_ne(err.msg, "");
    }
}
END_TEST

/* ---- HQ key file ------------------------------------------------------------------------- */

START_TEST(hqkeys_round_trip_and_damage)
{
    struct mrf_secrets *s = NULL, *back = NULL;
    struct mrf_error err;
    char *p = tmp_path("hq.keys");
    uint8_t *raw;
    size_t len;
    struct stat sb;

    mrf_error_clear(&err);
    mrf_secrets_new(&s);
    ck_assert_int_eq(hqkeys_write(p, s, &err), MRF_OK);
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(hqkeys_write(p, s, &err), MRF_E_STATE);
    ck_assert_int_eq(hqkeys_load(p, &back, &err), MRF_OK);
    ck_assert_mem_eq(back->sign_sk, s->sign_sk, MRF_SIGN_SK);
    ck_assert_mem_eq(back->box_sk, s->box_sk, MRF_BOX_SK);
    ck_assert_mem_eq(&back->pub, &s->pub, sizeof s->pub);
    mrf_secrets_free(back);
    back = NULL;

    raw = read_file(p, &len);
    ck_assert_uint_eq(len, 200);
    ck_assert_mem_eq(raw, "MRFHK\x01", 6);
    raw[100] ^= 1;
    unlink(p);
    ck_assert_int_eq(file_write_atomic(p, raw, len, 0600, &err), MRF_OK);
    ck_assert_int_eq(hqkeys_load(p, &back, &err), MRF_E_INVALID);
    ck_assert_ptr_null(back);

    x_free(raw);
    x_free(p);
    mrf_secrets_free(s);
}
END_TEST

/* ---- tokens ------------------------------------------------------------------------------ */

static struct mrf_secrets *hqkeys;

static void token_fill(struct enroll_token *t)
{
    memset(t, 0, sizeof *t);
    t->version = 1;
    str_copy(t->url, "https://hq.example.org:8443", sizeof t->url);
    str_copy(t->tls_pin, "sha256//BAVcpAQIMKhHdXAzkboH6lSJhb5T6qdoptGKs0IH9kQ=", sizeof t->tls_pin);
    t->hq = hqkeys->pub;
    mrf_random(t->escrow_pk, sizeof t->escrow_pk);
    str_copy(t->post, "NAI", sizeof t->post);
    mrf_random(t->token_id, sizeof t->token_id);
    mrf_random(t->secret, sizeof t->secret);
    t->expires = 1893456000; /* 2030-01-01 */
}

/* A good token, signed by hqkeys. OUT: *out, owned by the caller (x_free).
 * The out-parameter is the caller's own variable on purpose: were it a local of this helper
 * (returned by value), its address would escape into token_encode and die with the helper,
 * and once inlined at -O3 GCC 12 warns (-Wdangling-pointer) that the token may point at it. */
static void token_make(char **out)
{
    struct enroll_token t;
    struct mrf_error err;

    *out = NULL;
    token_fill(&t);
    mrf_error_clear(&err);
    ck_assert_msg(token_encode(&t, hqkeys->sign_sk, out, &err) == MRF_OK, "%s", err.msg);
}

/* A token around an arbitrary payload, correctly signed by hqkeys. */
static char *token_wrap(const char *payload)
{
    uint8_t sig[MRF_SIG];
    char *p64, *s64, *out;

    mrf_sign(sig, (const uint8_t *)payload, strlen(payload), hqkeys->sign_sk);
    p64 = b64url_encode((const uint8_t *)payload, strlen(payload));
    s64 = b64url_encode(sig, sizeof sig);
    out = xasprintf("mrf1.%s.%s", p64, s64);
    x_free(p64);
    x_free(s64);
    return out;
}

/* The payload of a good token with key replaced by "key":value (value as JSON text), or
 * dropped if value is NULL. */
static char *payload_with(const char *key, const char *value)
{
    char *sign = b64url_encode(hqkeys->pub.sign_pk, MRF_SIGN_PK);
    char *box = b64url_encode(hqkeys->pub.box_pk, MRF_BOX_PK);
    uint8_t sec[32] = {1}, tid[16] = {2};
    char *s64 = b64url_encode(sec, sizeof sec), *t64 = b64url_encode(tid, sizeof tid);
    const char *keys[] = {"v",      "url",  "pin", "hq_sign", "hq_box",
                          "escrow", "post", "tid", "secret",  "exp"};
    char *vals[10];
    struct buf b;
    size_t i;

    vals[0] = xstrdup("1");
    vals[1] = xstrdup("\"https://hq.example.org:8443\"");
    vals[2] = xstrdup("\"sha256//BAVcpAQIMKhHdXAzkboH6lSJhb5T6qdoptGKs0IH9kQ=\"");
    vals[3] = xasprintf("\"%s\"", sign);
    vals[4] = xasprintf("\"%s\"", box);
    vals[5] = xasprintf("\"%s\"", box);
    vals[6] = xstrdup("\"NAI\"");
    vals[7] = xasprintf("\"%s\"", t64);
    vals[8] = xasprintf("\"%s\"", s64);
    vals[9] = xstrdup("\"1893456000\"");
    buf_init(&b, 4096);
    buf_puts(&b, "{");
    for (i = 0; i < 10; i++) {
        const char *v = vals[i];
        if (strcmp(keys[i], key) == 0)
            v = value;
        if (v == NULL)
            continue;
        buf_printf(&b, "%s\"%s\":%s", b.len > 1 ? "," : "", keys[i], v);
    }
    buf_puts(&b, "}");
    for (i = 0; i < 10; i++)
        x_free(vals[i]);
    x_free(sign);
    x_free(box);
    x_free(s64);
    x_free(t64);
    return buf_take(&b, NULL);
}

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    size_t i;

    for (i = 0; i < n; i++) {
        if (b[i])
            return 0;
    }
    return 1;
}

/* Decodes s expecting status want; checks the struct is zeroed, the message is set and does
 * not echo the token. */
static void expect_refused(const char *s, enum mrf_status want, const char *msg_part)
{
    struct enroll_token t;
    struct mrf_error err;
    enum mrf_status rc;

    mrf_error_clear(&err);
    memset(&t, 0xAA, sizeof t);
    rc = token_decode(s, &t, &err);
    ck_assert_msg(rc == want, "status %s, want %s (%s)", mrf_status_str(rc), mrf_status_str(want),
                  err.msg);
    ck_assert(all_zero(&t, sizeof t));
    ck_assert_str_ne(err.msg, "");
    ck_assert_ptr_eq(strstr(err.msg, "mrf1.ey"), NULL);
    if (msg_part != NULL)
        ck_assert_msg(strstr(err.msg, msg_part) != NULL, "message: %s", err.msg);
}

START_TEST(token_round_trip)
{
    struct enroll_token t, back;
    struct mrf_error err;
    char *s = NULL;

    token_fill(&t);
    mrf_error_clear(&err);
    ck_assert_int_eq(token_encode(&t, hqkeys->sign_sk, &s, &err), MRF_OK);
    ck_assert_int_eq(strncmp(s, "mrf1.", 5), 0);
    ck_assert_uint_le(strlen(s), TOKEN_MAX_LEN);
    ck_assert_ptr_eq(strchr(s, '='), NULL); /* no padding */
    ck_assert_int_eq(token_decode(s, &back, &err), MRF_OK);
    ck_assert_int_eq(back.version, 1);
    ck_assert_str_eq(back.url, t.url);
    ck_assert_str_eq(back.tls_pin, t.tls_pin);
    ck_assert_mem_eq(&back.hq, &t.hq, sizeof t.hq);
    ck_assert_mem_eq(back.escrow_pk, t.escrow_pk, sizeof t.escrow_pk);
    ck_assert_str_eq(back.post, "NAI");
    ck_assert_mem_eq(back.token_id, t.token_id, sizeof t.token_id);
    ck_assert_mem_eq(back.secret, t.secret, sizeof t.secret);
    ck_assert_int_eq(back.expires, t.expires);
    token_wipe(&back);
    ck_assert(all_zero(back.secret, sizeof back.secret));
    x_free(s);
}
END_TEST

START_TEST(token_large_expiry_exact)
{
    struct enroll_token t, back;
    struct mrf_error err;
    char *s = NULL;

    token_fill(&t);
    t.expires = 253402300799LL; /* beyond 2^53 milliseconds would not matter; seconds exact */
    mrf_error_clear(&err);
    ck_assert_int_eq(token_encode(&t, hqkeys->sign_sk, &s, &err), MRF_OK);
    ck_assert_int_eq(token_decode(s, &back, &err), MRF_OK);
    ck_assert_int_eq(back.expires, 253402300799LL);
    x_free(s);
}
END_TEST

START_TEST(token_encode_refuses_bad_fields)
{
    struct enroll_token t;
    struct mrf_error err;
    char *s = NULL;

    token_fill(&t);
    str_copy(t.url, "http://hq.example.org", sizeof t.url);
    ck_assert_int_eq(token_encode(&t, hqkeys->sign_sk, &s, &err), MRF_E_INVALID);
    ck_assert_ptr_null(s);
    token_fill(&t);
    str_copy(t.post, "nai", sizeof t.post);
    ck_assert_int_eq(token_encode(&t, hqkeys->sign_sk, &s, &err), MRF_E_INVALID);
    token_fill(&t);
    str_copy(t.tls_pin, "sha256//short", sizeof t.tls_pin);
    ck_assert_int_eq(token_encode(&t, hqkeys->sign_sk, &s, &err), MRF_E_INVALID);
}
END_TEST

START_TEST(token_refuses_wrong_prefix)
{
    char *s;

    token_make(&s);

    s[3] = '2';
    expect_refused(s, MRF_E_INVALID, "mrf1.");
    expect_refused(s + 5, MRF_E_INVALID, NULL);
    expect_refused("", MRF_E_INVALID, NULL);
    expect_refused(NULL, MRF_E_INVALID, NULL);
    x_free(s);
}
END_TEST

START_TEST(token_refuses_truncated)
{
    char *s;
    size_t n;

    token_make(&s);
    n = strlen(s);

    s[n - 10] = '\0'; /* signature cut short */
    expect_refused(s, MRF_E_INVALID, "copy the whole token");
    s[n / 2] = '\0'; /* cut inside the payload: one dot only */
    expect_refused(s, MRF_E_INVALID, "copy the whole token");
    x_free(s);
}
END_TEST

/* One character changed inside the payload's JSON, re-encoded, old signature kept. */
START_TEST(token_refuses_changed_payload)
{
    char *s, *dot1, *dot2;
    uint8_t *payload = NULL;
    size_t plen = 0;
    char *p64, *forged, *hit;

    token_make(&s);
    dot1 = strchr(s, '.');
    ck_assert_ptr_nonnull(dot1);
    dot2 = strchr(dot1 + 1, '.');
    ck_assert_ptr_nonnull(dot2);

    ck_assert_int_eq(b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload, &plen), MRF_OK);
    payload = xrealloc(payload, plen + 1);
    payload[plen] = '\0';
    hit = strstr((char *)payload, "\"NAI\"");
    ck_assert_ptr_nonnull(hit);
    hit[3] = 'B'; /* NAI -> NBI */
    p64 = b64url_encode(payload, plen);
    forged = xasprintf("mrf1.%s%s", p64, dot2);
    expect_refused(forged, MRF_E_AUTH, "signature does not match");

    /* And one base64 character changed in place: never accepted. */
    x_free(forged);
    forged = xstrdup(s);
    forged[40] = forged[40] == 'A' ? 'B' : 'A';
    {
        struct enroll_token t;
        struct mrf_error err;
        ck_assert_int_ne(token_decode(forged, &t, &err), MRF_OK);
    }
    x_free(forged);
    x_free(p64);
    x_free(payload);
    x_free(s);
}
END_TEST

START_TEST(token_refuses_bad_base64)
{
    char *s, *forged;

    token_make(&s);
    s[20] = '+'; /* standard, not url-safe base64 */
    expect_refused(s, MRF_E_INVALID, "base64url");
    x_free(s);
    token_make(&s);
    forged = xasprintf("%s=", s); /* padding */
    expect_refused(forged, MRF_E_INVALID, NULL);
    x_free(forged);
    x_free(s);
}
END_TEST

START_TEST(token_refuses_missing_or_bad_fields)
{
    static const char *const fields[] = {"url",  "pin", "hq_box", "escrow",
                                         "post", "tid", "secret", "exp"};
    char *p, *s;
    size_t i;

    /* The template itself decodes, so each refusal below is due to its one change. */
    p = payload_with("v", "1");
    s = token_wrap(p);
    {
        struct enroll_token t;
        struct mrf_error err;
        ck_assert_msg(token_decode(s, &t, &err) == MRF_OK, "%s", err.msg);
    }
    x_free(s);
    x_free(p);

    for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        p = payload_with(fields[i], NULL);
        s = token_wrap(p);
        expect_refused(s, MRF_E_INVALID, fields[i]);
        x_free(s);
        x_free(p);
    }
    p = payload_with("v", NULL);
    s = token_wrap(p);
    expect_refused(s, MRF_E_INVALID, "version");
    x_free(s);
    x_free(p);

    static const struct {
        const char *key, *val, *msg;
    } bad[] = {
        {"v", "3", "version 3"},
        {"v", "2", "officer"}, /* version 2 must carry the officer key */
        {"v", "\"1\"", "version"},
        {"exp", "1893456000", "exp"},
        {"exp", "\"-5\"", "expiry"},
        {"exp", "\"0123\"", "expiry"},
        {"exp", "\"99999999999999\"", "expiry"},
        {"tid", "\"AAAA\"", "tid"},
        {"secret", "42", "secret"},
        {"post", "\"nai\"", "post code"},
        {"post", "\"N\"", "post code"},
        {"pin", "\"sha1//abc\"", "pin"},
        {"url", "\"https://hq.example.org\\u0000x\"", "damaged"},
        {"url", "\"https://hq.example.org\\/x\"", "damaged"},
    };
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = payload_with(bad[i].key, bad[i].val);
        s = token_wrap(p);
        expect_refused(s, MRF_E_INVALID, bad[i].msg);
        x_free(s);
        x_free(p);
    }

    /* Unknown and duplicated keys. */
    p = payload_with("v", "1,\"extra\":1");
    s = token_wrap(p);
    expect_refused(s, MRF_E_INVALID, "unknown field");
    x_free(s);
    x_free(p);
    p = payload_with("v", "1,\"post\":\"GVA\"");
    s = token_wrap(p);
    expect_refused(s, MRF_E_INVALID, "twice");
    x_free(s);
    x_free(p);
    /* Trailing bytes after the JSON object. */
    p = payload_with("v", "1");
    {
        char *q = xasprintf("%s ", p);
        s = token_wrap(q);
        expect_refused(s, MRF_E_INVALID, "damaged");
        x_free(q);
    }
    x_free(s);
    x_free(p);
}
END_TEST

START_TEST(token_refuses_http_url)
{
    char *p = payload_with("url", "\"http://hq.example.org:8443\"");
    char *s = token_wrap(p);

    expect_refused(s, MRF_E_INVALID, "https://");
    x_free(s);
    x_free(p);
}
END_TEST

START_TEST(token_refuses_oversized)
{
    char *s = xmalloc(TOKEN_MAX_LEN + 2);
    char *good;

    token_make(&good);
    memset(s, 'A', TOKEN_MAX_LEN + 1);
    memcpy(s, good, strlen(good));
    s[TOKEN_MAX_LEN + 1] = '\0';
    expect_refused(s, MRF_E_TOOBIG, NULL);
    x_free(s);
    x_free(good);
}
END_TEST

START_TEST(token_refuses_other_key)
{
    /* A token signed by a different key than the hq_sign it carries. */
    struct mrf_secrets *other = NULL;
    char *p = payload_with("v", "1");
    uint8_t sig[MRF_SIG];
    char *p64, *s64, *s;

    mrf_secrets_new(&other);
    mrf_sign(sig, (const uint8_t *)p, strlen(p), other->sign_sk);
    p64 = b64url_encode((const uint8_t *)p, strlen(p));
    s64 = b64url_encode(sig, sizeof sig);
    s = xasprintf("mrf1.%s.%s", p64, s64);
    expect_refused(s, MRF_E_AUTH, "signature");
    x_free(s);
    x_free(p64);
    x_free(s64);
    x_free(p);
    mrf_secrets_free(other);
}
END_TEST

/* ---- tokens of version 2: HQ's officer key ------------------------------------------------ */

START_TEST(token_v2_round_trip_officer)
{
    struct enroll_token t, back;
    struct mrf_error err;
    char *s = NULL;

    token_fill(&t);
    t.version = 2;
    t.has_officer = 1;
    mrf_random(t.officer_pk, sizeof t.officer_pk);
    mrf_error_clear(&err);
    ck_assert_msg(token_encode(&t, hqkeys->sign_sk, &s, &err) == MRF_OK, "%s", err.msg);
    ck_assert_int_eq(strncmp(s, "mrf1.", 5), 0);
    ck_assert_msg(token_decode(s, &back, &err) == MRF_OK, "%s", err.msg);
    ck_assert_int_eq(back.version, 2);
    ck_assert_int_eq(back.has_officer, 1);
    ck_assert_mem_eq(back.officer_pk, t.officer_pk, sizeof t.officer_pk);
    ck_assert_mem_eq(back.secret, t.secret, sizeof t.secret);
    ck_assert_str_eq(back.url, t.url);
    x_free(s);
    /* version 1 still written and read, without the officer key */
    token_fill(&t);
    ck_assert_int_eq(token_encode(&t, hqkeys->sign_sk, &s, &err), MRF_OK);
    ck_assert_int_eq(token_decode(s, &back, &err), MRF_OK);
    ck_assert_int_eq(back.version, 1);
    ck_assert_int_eq(back.has_officer, 0);
    x_free(s);
}
END_TEST

START_TEST(token_v2_refusals)
{
    struct enroll_token t;
    struct mrf_error err;
    char *s = NULL, *p, *k;
    char *off;

    /* each version holds exactly its fields */
    token_fill(&t);
    t.version = 2; /* without the key */
    ck_assert_int_eq(token_encode(&t, hqkeys->sign_sk, &s, &err), MRF_E_INVALID);
    ck_assert_ptr_null(s);
    token_fill(&t);
    t.has_officer = 1; /* version 1 with it */
    ck_assert_int_eq(token_encode(&t, hqkeys->sign_sk, &s, &err), MRF_E_INVALID);
    k = b64url_encode(hqkeys->pub.sign_pk, MRF_SIGN_PK);
    off = xasprintf("1,\"officer\":\"%s\"", k);
    p = payload_with("v", off); /* v 1 with an officer field */
    s = token_wrap(p);
    expect_refused(s, MRF_E_INVALID, "unknown field");
    x_free(s);
    x_free(p);
    x_free(off);
    off = xasprintf("2,\"officer\":\"%s\"", k);
    p = payload_with("v", off); /* v 2 with it: accepted */
    s = token_wrap(p);
    mrf_error_clear(&err);
    ck_assert_msg(token_decode(s, &t, &err) == MRF_OK, "%s", err.msg);
    ck_assert_int_eq(t.has_officer, 1);
    x_free(s);
    x_free(p);
    x_free(off);
    p = payload_with("v", "2,\"officer\":\"AAAA\""); /* a key of the wrong size */
    s = token_wrap(p);
    expect_refused(s, MRF_E_INVALID, "officer");
    x_free(s);
    x_free(p);
    off = xasprintf("2,\"officer\":\"%s\",\"officer\":\"%s\"", k, k);
    p = payload_with("v", off);
    s = token_wrap(p);
    expect_refused(s, MRF_E_INVALID, "twice");
    x_free(s);
    x_free(p);
    x_free(off);
    x_free(k);
}
END_TEST

/* ---- golden tokens: versions 1 and 2 as this build writes them ----------------------------- */

/* The token of tests/unit/golden/token-v<version>.txt: fixed fields, signed by HQ's seeded key
 * (Ed25519 signatures are deterministic). OUT: *out (x_free). */
static void golden_token(int version, char **out, struct enroll_token *t)
{
    uint8_t seed[32], pk[MRF_SIGN_PK], sk[MRF_SIGN_SK];
    struct mrf_error err;

    memset(seed, 0x07, sizeof seed);
    crypto_sign_ed25519_seed_keypair(pk, sk, seed);
    memset(t, 0, sizeof *t);
    t->version = version;
    str_copy(t->url, "https://hq.example.org:8443", sizeof t->url);
    str_copy(t->tls_pin, "sha256//BAVcpAQIMKhHdXAzkboH6lSJhb5T6qdoptGKs0IH9kQ=", sizeof t->tls_pin);
    memcpy(t->hq.sign_pk, pk, sizeof pk);
    memset(t->hq.box_pk, 0x11, sizeof t->hq.box_pk);
    memset(t->escrow_pk, 0x22, sizeof t->escrow_pk);
    str_copy(t->post, "NAI", sizeof t->post);
    memset(t->token_id, 0x33, sizeof t->token_id);
    memset(t->secret, 0x44, sizeof t->secret);
    t->expires = 1893456000;
    if (version == 2) {
        t->has_officer = 1;
        memset(t->officer_pk, 0x55, sizeof t->officer_pk);
    }
    mrf_error_clear(&err);
    ck_assert_msg(token_encode(t, sk, out, &err) == MRF_OK, "%s", err.msg);
    sodium_memzero(sk, sizeof sk);
}

static void golden_token_check(int version)
{
    struct enroll_token want, back;
    struct mrf_error err;
    char path[512];
    char *tok = NULL;
    uint8_t *file = NULL;
    size_t n = 0;

    golden_token(version, &tok, &want);
    snprintf(path, sizeof path, MRF_TEST_SRC "/tests/unit/golden/token-v%d.txt", version);
    mrf_error_clear(&err);
    if (file_read_all(path, 1 << 14, &file, &n, &err) == MRF_E_NOTFOUND) {
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "%s\n", tok);
        fclose(f);
        ck_abort_msg("%s was missing and has been written; check it in", path);
    }
    ck_assert_uint_gt(n, 1);
    file[n - 1] = '\0'; /* the newline */
    /* this build writes the version exactly as the golden file holds it ... */
    ck_assert_str_eq((char *)file, tok);
    /* ... and reads it back, field by field */
    ck_assert_msg(token_decode((char *)file, &back, &err) == MRF_OK, "%s", err.msg);
    ck_assert_int_eq(back.version, version);
    ck_assert_int_eq(back.has_officer, version == 2);
    ck_assert_mem_eq(back.officer_pk, want.officer_pk, sizeof want.officer_pk);
    ck_assert_mem_eq(&back.hq, &want.hq, sizeof want.hq);
    ck_assert_mem_eq(back.secret, want.secret, sizeof want.secret);
    ck_assert_int_eq(back.expires, want.expires);
    x_free(file);
    x_free(tok);
}

START_TEST(golden_token_v1)
{
    golden_token_check(1);
}
END_TEST

START_TEST(golden_token_v2)
{
    golden_token_check(2);
}
END_TEST

/* ---- HQ store ---------------------------------------------------------------------------- */

static struct hqstore *store_open_new(void)
{
    struct hqstore *st = NULL;
    struct mrf_error err;

    mrf_error_clear(&err);
    ck_assert_msg(hqstore_open(tmpdir, HQSTORE_CREATE, &st, &err) == MRF_OK, "%s", err.msg);
    return st;
}

START_TEST(hqstore_requires_init)
{
    struct hqstore *st = NULL;
    struct hq_config c;
    struct mrf_error err;

    mrf_error_clear(&err);
    ck_assert_int_eq(hqstore_open(tmpdir, HQSTORE_EXISTING, &st, &err), MRF_E_STATE);
    ck_assert_ptr_null(st);
    ck_assert_ptr_nonnull(strstr(err.msg, "mrf-hq init"));
    st = store_open_new();
    ck_assert_int_eq(hqstore_config_get(st, &c), MRF_E_STATE);
    hqstore_close(st);
}
END_TEST

START_TEST(hqstore_config_round_trip)
{
    struct hqstore *st = store_open_new();
    struct hq_config c, back;

    memset(&c, 0, sizeof c);
    str_copy(c.url, "https://hq.example.org:8443", sizeof c.url);
    str_copy(c.tls_pin, "sha256//x", sizeof c.tls_pin);
    mrf_random(c.hq.sign_pk, sizeof c.hq.sign_pk);
    mrf_random(c.hq.box_pk, sizeof c.hq.box_pk);
    mrf_random(c.escrow_pk, sizeof c.escrow_pk);
    mrf_random(c.device_id, sizeof c.device_id);
    c.created_at = 1700000000;
    ck_assert_int_eq(hqstore_config_init(st, &c), MRF_OK);
    ck_assert_int_eq(hqstore_config_init(st, &c), MRF_E_STATE);
    ck_assert_int_eq(hqstore_config_get(st, &back), MRF_OK);
    ck_assert_mem_eq(&back, &c, sizeof c);
    hqstore_close(st);
}
END_TEST

static enum mrf_status count_posts(void *arg, const struct hq_post *p)
{
    (void)p;
    ++*(int *)arg;
    return MRF_OK;
}

START_TEST(hqstore_posts)
{
    struct hqstore *st = store_open_new();
    struct hq_post p;
    const uint8_t blob[] = {1, 2, 3};
    int n = 0;

    ck_assert_int_eq(hqstore_post_add(st, "NAI", "bilateral", blob, sizeof blob, 1), MRF_OK);
    ck_assert_int_eq(hqstore_post_add(st, "GVA", "multilateral", NULL, 0, 2), MRF_OK);
    ck_assert_int_eq(hqstore_post_add(st, "NAI", "multilateral", NULL, 0, 3), MRF_E_RULE);
    ck_assert_ptr_nonnull(strstr(hqstore_errmsg(st), "exists"));
    ck_assert_int_ne(hqstore_post_add(st, "KAB", "regional", NULL, 0, 3), MRF_OK);
    ck_assert_int_eq(hqstore_post_get(st, "NAI", &p), MRF_OK);
    ck_assert_str_eq(p.kind, "bilateral");
    ck_assert_int_eq(p.country_sealed, 1);
    ck_assert_int_eq(p.devices, 0);
    ck_assert_int_eq(hqstore_post_get(st, "GVA", &p), MRF_OK);
    ck_assert_int_eq(p.country_sealed, 0);
    ck_assert_int_eq(hqstore_post_get(st, "XXX", &p), MRF_E_NOTFOUND);
    ck_assert_int_eq(hqstore_post_list(st, count_posts, &n), MRF_OK);
    ck_assert_int_eq(n, 2);
    hqstore_close(st);
}
END_TEST

/* An amount write of grant id in post by device at clock, applied through the store. */
static void apply_amount(struct hqstore *st, const char *post, const uint8_t id[MRF_ID],
                         int64_t cents, hlc_t clock, const uint8_t device[MRF_ID])
{
    struct sync_value v = {.type = SYNC_INT, .i = cents};

    hqtest_put(st, post, ST_GRANTS, id, GRANT_AMOUNT, v, clock, device);
}

struct seen_ops {
    int n;
    int64_t pseq[8], seq[8], cents[8];
};

static enum mrf_status seen_op(void *arg, int64_t pseq, int64_t seq, const struct sync_op *op)
{
    struct seen_ops *s = arg;

    ck_assert_int_lt(s->n, 8);
    s->pseq[s->n] = pseq;
    s->seq[s->n] = seq;
    s->cents[s->n++] = op->v.i;
    return MRF_OK;
}

static void expect_ops(struct hqstore *st, const char *post, const char *want)
{
    struct seen_ops s = {0};
    char got[128] = "";
    size_t k = 0;

    ck_assert_int_eq(hqstore_oplog_scan(st, post, 0, INT64_MAX, seen_op, &s), MRF_OK);
    for (int i = 0; i < s.n; i++)
        k += (size_t)snprintf(got + k, sizeof got - k, "%s%lld/%lld=%lld", i ? " " : "",
                              (long long)s.pseq[i], (long long)s.seq[i], (long long)s.cents[i]);
    ck_assert_str_eq(got, want);
}

static int runs(struct hqstore *st)
{
    sqlite3_stmt *q = NULL;
    int n;

    ck_assert_int_eq(sqlite3_prepare_v2(st->db, "SELECT count(*) FROM oplog_runs", -1, &q, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return n;
}

/* The oplog keeps HQ's order and each post's own (pseq/seq=value): ops of two posts
 * interleaved in one transaction, read inside it (its open run first) and after, and some
 * applied outside any transaction; a post's ops that follow its last run go on it. The same row id
 * in both posts is two rows: a write found by clock and writer is the one of the post asked for. */
START_TEST(hqstore_oplog_keeps_each_posts_sequence)
{
    struct hqstore *st = store_open_new();
    uint8_t id[MRF_ID], dev[MRF_ID];
    char json[64];
    int found = 0;

    ck_assert_int_eq(hqstore_post_add(st, "NAI", "bilateral", NULL, 0, 1), MRF_OK);
    ck_assert_int_eq(hqstore_post_add(st, "GVA", "bilateral", NULL, 0, 1), MRF_OK);
    mrf_random(id, sizeof id);
    mrf_random(dev, sizeof dev);
    ck_assert_int_eq(hqstore_begin(st), MRF_OK);
    apply_amount(st, "NAI", id, 500, 100, dev);
    apply_amount(st, "GVA", id, 700, 100, dev);
    apply_amount(st, "NAI", id, 501, 101, dev);
    expect_ops(st, "NAI", "1/1=500 2/3=501");
    expect_ops(st, "GVA", "1/2=700");
    apply_amount(st, "NAI", id, 502, 102, dev);
    ck_assert_int_eq(hqstore_commit(st), MRF_OK);
    expect_ops(st, "NAI", "1/1=500 2/3=501 3/4=502");
    ck_assert_int_eq(runs(st), 3);              /* NAI 1-1, GVA 1-1, NAI 2-3 (seq 3-4) */
    apply_amount(st, "GVA", id, 701, 103, dev); /* no transaction: its own */
    apply_amount(st, "GVA", id, 702, 104, dev); /* goes on GVA's last run, which it follows */
    expect_ops(st, "GVA", "1/2=700 2/5=701 3/6=702");
    ck_assert_int_eq(runs(st), 4);
    ck_assert_int_eq(hqstore_begin(st), MRF_OK); /* a transaction goes on it too */
    apply_amount(st, "GVA", id, 703, 105, dev);
    ck_assert_int_eq(hqstore_commit(st), MRF_OK);
    ck_assert_int_eq(runs(st), 4);
    ck_assert_int_eq(hqstore_write_value(st, "NAI", ST_GRANTS, id, GRANT_AMOUNT, 100, dev, json,
                                         sizeof json, &found),
                     MRF_OK);
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(json, "500");
    ck_assert_int_eq(hqstore_write_value(st, "GVA", ST_GRANTS, id, GRANT_AMOUNT, 100, dev, json,
                                         sizeof json, &found),
                     MRF_OK);
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(json, "700");
    hqstore_close(st);
}
END_TEST

/* The row number a caller hands the merge (hqstore_apply_prior's known, read by
 * hqstore_row_year) is only a shortcut: a number that names another post's row with the same
 * id, or no row at all, costs a lookup by (post, id) and never writes the other row. */
static int64_t amount_of(struct hqstore *st, const char *post, const uint8_t id[MRF_ID])
{
    sqlite3_stmt *q = NULL;
    int64_t v = -1;

    ck_assert_int_eq(
        sqlite3_prepare_v2(st->db, "SELECT amount_cents FROM grants WHERE post = ?1 AND id = ?2",
                           -1, &q, NULL),
        SQLITE_OK);
    sqlite3_bind_text(q, 1, post, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, id, MRF_ID, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static void apply_known(struct hqstore *st, const char *post, const uint8_t id[MRF_ID],
                        int64_t known, int64_t cents, hlc_t clock, const uint8_t device[MRF_ID])
{
    struct sync_value v = {.type = SYNC_INT, .i = cents};
    struct merge_prior prior;

    hqtest_put_known(st, post, ST_GRANTS, id, GRANT_AMOUNT, v, clock, device, known, &prior);
    ck_assert_int_gt(prior.row, 0);
}

START_TEST(hqstore_known_row_number_never_names_another_row)
{
    struct hqstore *st = store_open_new();
    uint8_t id[MRF_ID], dev[MRF_ID];
    int64_t nai, gva;
    int year, exists;

    ck_assert_int_eq(hqstore_post_add(st, "NAI", "bilateral", NULL, 0, 1), MRF_OK);
    ck_assert_int_eq(hqstore_post_add(st, "GVA", "bilateral", NULL, 0, 1), MRF_OK);
    mrf_random(id, sizeof id);
    mrf_random(dev, sizeof dev);
    apply_amount(st, "NAI", id, 500, 100, dev);
    apply_amount(st, "GVA", id, 700, 100, dev);
    ck_assert_int_eq(hqstore_row_year(st, "NAI", ST_GRANTS, id, &year, &exists, &nai), MRF_OK);
    ck_assert_int_eq(exists, 1);
    ck_assert_int_eq(hqstore_row_year(st, "GVA", ST_GRANTS, id, &year, &exists, &gva), MRF_OK);
    ck_assert_int_gt(nai, 0);
    ck_assert_int_ne(nai, gva);

    ck_assert_int_eq(hqstore_begin(st), MRF_OK);
    apply_known(st, "NAI", id, nai, 501, 101, dev);        /* its own number */
    apply_known(st, "NAI", id, gva, 502, 102, dev);        /* GVA's row, same id */
    apply_known(st, "NAI", id, gva + 1000, 503, 103, dev); /* no row */
    ck_assert_int_eq(hqstore_commit(st), MRF_OK);
    ck_assert_int_eq(amount_of(st, "NAI", id), 503);
    ck_assert_int_eq(amount_of(st, "GVA", id), 700);
    hqstore_close(st);
}
END_TEST

START_TEST(hqstore_enrollment_keeps_hash_only)
{
    struct hqstore *st = store_open_new();
    struct hq_enrollment e, back;
    uint8_t secret[MRF_SECRET];
    char *dbp = tmp_path("hq.db");
    uint8_t *raw;
    size_t len;

    ck_assert_int_eq(hqstore_post_add(st, "NAI", "bilateral", NULL, 0, 1), MRF_OK);
    memset(&e, 0, sizeof e);
    mrf_random(secret, sizeof secret);
    mrf_random(e.token_id, sizeof e.token_id);
    str_copy(e.post, "NAI", sizeof e.post);
    mrf_hash(e.secret_hash, sizeof e.secret_hash, secret, sizeof secret, NULL, 0);
    e.expires = 2000000000;
    e.created_at = 1700000000;
    ck_assert_int_eq(hqstore_enrollment_add(st, &e), MRF_OK);
    ck_assert_int_eq(hqstore_enrollment_get(st, e.token_id, &back), MRF_OK);
    ck_assert_mem_eq(back.secret_hash, e.secret_hash, 32);
    ck_assert_mem_ne(back.secret_hash, secret, 32);
    ck_assert_str_eq(back.post, "NAI");
    ck_assert_int_eq(back.expires, 2000000000);
    ck_assert_int_eq(back.used_at, 0);

    /* Unknown post: refused by the store. */
    mrf_random(e.token_id, sizeof e.token_id);
    str_copy(e.post, "ZZZ", sizeof e.post);
    ck_assert_int_eq(hqstore_enrollment_add(st, &e), MRF_E_NOTFOUND);
    hqstore_close(st);

    /* The secret is nowhere in the file, its hash is. */
    raw = read_file(dbp, &len);
    ck_assert(!contains(raw, len, secret, sizeof secret));
    ck_assert(contains(raw, len, back.secret_hash, sizeof back.secret_hash));
    x_free(raw);
    x_free(dbp);
}
END_TEST

/* The refusal log (hq/serve_log.c) under a flood: one address gets its few full lines and
 * one summary per reason; a thousand addresses together never pass the window's cap; the
 * bytes of a minute stay far under 1 MB even with 1-second windows. */
START_TEST(logsum_one_address_is_summarised)
{
    struct logsum ls;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    unsigned full = 0;

    ck_assert_ptr_nonnull(out);
    logsum_init(&ls, 60000, 1000);
    for (int i = 0; i < 10000; i++)
        full += (unsigned)logsum_admit(&ls, "192.0.2.7", i % 2 ? "bad_envelope" : "not_found",
                                       1000 + (uint64_t)i, out);
    full += (unsigned)logsum_admit(&ls, "198.51.100.1", "bad_envelope", 20000, out);
    ck_assert_uint_eq(full, LOGSUM_PER_ADDRESS + 1); /* another address still gets its lines */
    ck_assert_uint_eq(logsum_flush(&ls, 30000, 0, out), 0); /* the window is not over */
    ck_assert_uint_eq(logsum_flush(&ls, 61000, 0, out), 2);
    fclose(out);
    ck_assert_msg(strstr(text, "4998 requests refused from 192.0.2.7 in the last 60 s: "
                               "bad_envelope\n") != NULL &&
                      strstr(text, "4997 requests refused from 192.0.2.7 in the last 60 s: "
                                   "not_found\n") != NULL,
                  "%s", text);
    /* a new window: the address has its lines again */
    ck_assert_int_eq(logsum_admit(&ls, "192.0.2.7", "bad_envelope", 61001, NULL), 1);
    free(text);
}
END_TEST

START_TEST(logsum_many_addresses_stay_bounded)
{
    struct logsum ls;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    unsigned full = 0;
    char addr[LOGSUM_ADDR_MAX];
    uint64_t now = 0;

    ck_assert_ptr_nonnull(out);
    logsum_init(&ls, 1000, 0); /* the shortest window: the most lines a minute */
    for (int sec = 0; sec < 60; sec++) {
        for (int i = 0; i < 5000; i++) {
            snprintf(addr, sizeof addr, "2001:db8::%x", (unsigned)(sec * 5000 + i));
            full +=
                (unsigned)logsum_admit(&ls, addr, "too_slow_and_a_long_reason_code_here", now, out);
            now += 1000 / 5000 + (i % 5 == 0);
        }
        now = (uint64_t)(sec + 1) * 1000;
    }
    (void)logsum_flush(&ls, now, 1, out);
    fclose(out);
    ck_assert_uint_le(full, 60 * LOGSUM_LINES_MIN + LOGSUM_LINES_MIN);
    /* full lines are about 200 bytes each; the summaries are all in text */
    ck_assert_msg(len + (size_t)full * 300 < 1024 * 1024, "%zu bytes of summary, %u lines", len,
                  full);
    ck_assert_ptr_nonnull(strstr(text, "more requests refused from other addresses"));
    free(text);
}
END_TEST

static void add(Suite *s, const char *name, const TTest *t, int files)
{
    TCase *tc = tcase_create(name);

    if (files)
        tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, t);
    suite_add_tcase(s, tc);
}

static Suite *hq_suite(void)
{
    Suite *s = suite_create("hq");

    add(s, "tlscert_dns_host", tlscert_dns_host, 1);
    add(s, "tlscert_ip_hosts", tlscert_ip_hosts, 1);
    add(s, "tlscert_pin_matches_key", tlscert_pin_matches_key, 1);
    add(s, "tlscert_two_runs_differ", tlscert_two_runs_differ, 1);
    add(s, "url_accepts_and_normalises", url_accepts_and_normalises, 0);
    add(s, "url_refuses", url_refuses, 0);
    add(s, "listen_tune_turns_nagle_off", listen_tune_turns_nagle_off, 0);
    add(s, "hqkeys_round_trip_and_damage", hqkeys_round_trip_and_damage, 1);
    add(s, "token_round_trip", token_round_trip, 0);
    add(s, "token_large_expiry_exact", token_large_expiry_exact, 0);
    add(s, "token_encode_refuses_bad_fields", token_encode_refuses_bad_fields, 0);
    add(s, "token_refuses_wrong_prefix", token_refuses_wrong_prefix, 0);
    add(s, "token_refuses_truncated", token_refuses_truncated, 0);
    add(s, "token_refuses_changed_payload", token_refuses_changed_payload, 0);
    add(s, "token_refuses_bad_base64", token_refuses_bad_base64, 0);
    add(s, "token_refuses_missing_or_bad_fields", token_refuses_missing_or_bad_fields, 0);
    add(s, "token_refuses_http_url", token_refuses_http_url, 0);
    add(s, "token_refuses_oversized", token_refuses_oversized, 0);
    add(s, "token_refuses_other_key", token_refuses_other_key, 0);
    add(s, "token_v2_round_trip_officer", token_v2_round_trip_officer, 0);
    add(s, "token_v2_refusals", token_v2_refusals, 0);
    add(s, "golden_token_v1", golden_token_v1, 0);
    add(s, "golden_token_v2", golden_token_v2, 0);
    add(s, "hqstore_requires_init", hqstore_requires_init, 1);
    add(s, "hqstore_config_round_trip", hqstore_config_round_trip, 1);
    add(s, "hqstore_posts", hqstore_posts, 1);
    add(s, "hqstore_oplog_keeps_each_posts_sequence", hqstore_oplog_keeps_each_posts_sequence, 1);
    add(s, "hqstore_known_row_number_never_names_another_row",
        hqstore_known_row_number_never_names_another_row, 1);
    add(s, "hqstore_enrollment_keeps_hash_only", hqstore_enrollment_keeps_hash_only, 1);
    add(s, "logsum_one_address_is_summarised", logsum_one_address_is_summarised, 0);
    add(s, "logsum_many_addresses_stay_bounded", logsum_many_addresses_stay_bounded, 0);
    return s;
}

int main(void)
{
    int rc;

    if (mrfcrypto_init() != MRF_OK) {
        fprintf(stderr, "test_hq: libsodium failed to initialise\n");
        return EXIT_FAILURE;
    }
    mrf_secrets_new(&hqkeys);
    rc = testutil_run(hq_suite());
    mrf_secrets_free(hqkeys);
    return rc;
}

/* Check suite for sync/transport.c: what the HTTPS transport does without a real HQ — it
 * refuses addresses and pins that cannot be trusted, retries a dead or silent port up to
 * max_attempts, and stops at the deadline. The real HQ is exercised by the integration tests. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"
#include "mrfsync.h"

#define TEST_PIN "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

/* A bound loopback socket on an ephemeral port; listening if listen_too. OUT: *port. */
static int loopback_socket(int listen_too, int *port)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    if (listen_too)
        ck_assert_int_eq(listen(fd, 4), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A loopback port where nothing listens (bound, read, closed). */
static int free_port(void)
{
    int port;

    close(loopback_socket(0, &port));
    return port;
}

static void opts_for_port(struct transport_opts *o, char *url, size_t size, int port)
{
    snprintf(url, size, "https://127.0.0.1:%d", port);
    memset(o, 0, sizeof *o);
    o->url = url;
    o->pin = TEST_PIN;
}

START_TEST(refuses_untrusted_settings)
{
    struct transport_opts o;
    struct transport *t = (struct transport *)&o; /* must be set to NULL */
    struct mrf_error err;

    memset(&o, 0, sizeof o);
    o.url = "http://127.0.0.1:8443";
    o.pin = TEST_PIN;
    ck_assert_int_eq(transport_new(&o, &t, &err), MRF_E_INVALID);
    ck_assert_ptr_null(t);
    o.url = "127.0.0.1:8443";
    ck_assert_int_eq(transport_new(&o, &t, &err), MRF_E_INVALID);
    o.url = "https://127.0.0.1:8443";
    o.pin = NULL;
    ck_assert_int_eq(transport_new(&o, &t, &err), MRF_E_INVALID);
    o.pin = "/etc/hq.pem";
    ck_assert_int_eq(transport_new(&o, &t, &err), MRF_E_INVALID);
    o.pin = TEST_PIN;
    ck_assert_int_eq(transport_new(&o, &t, &err), MRF_OK);
    ck_assert_ptr_nonnull(t);
    transport_free(t);
    transport_free(NULL);
}
END_TEST

START_TEST(dead_port_is_offline_after_max_attempts)
{
    struct transport_opts o;
    struct transport *t = NULL;
    struct transport_stats s;
    struct mrf_error err;
    struct buf resp;
    char url[64];
    long code = -1;
    const uint8_t body[] = "x";

    opts_for_port(&o, url, sizeof url, free_port());
    o.max_attempts = 3;
    o.backoff_base_ms = 1;
    o.backoff_max_ms = 5;
    ck_assert_int_eq(transport_new(&o, &t, &err), MRF_OK);
    buf_init(&resp, 1024);
    ck_assert_int_eq(transport_post(t, "/v1/sync", body, 1, &resp, &code, &err), MRF_E_OFFLINE);
    ck_assert_int_eq(code, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "nothing was lost"));
    ck_assert_ptr_nonnull(strstr(err.msg, "3 attempts"));
    transport_get_stats(t, &s);
    ck_assert_int_eq(s.attempts, 3);
    ck_assert_int_eq(s.requests, 0);
    ck_assert_int_eq(transport_get(t, "/v1/health", &resp, &code, &err), MRF_E_OFFLINE);
    transport_get_stats(t, &s);
    ck_assert_int_eq(s.attempts, 6);
    buf_release(&resp);
    transport_free(t);
}
END_TEST

/* A port that accepts TCP but never speaks TLS: the handshake times out, and that is retried. */
START_TEST(silent_port_times_out_and_retries)
{
    struct transport_opts o;
    struct transport *t = NULL;
    struct transport_stats s;
    struct mrf_error err;
    struct buf resp;
    char url[64];
    long code = -1;
    int port;
    int fd = loopback_socket(1, &port);

    opts_for_port(&o, url, sizeof url, port);
    o.connect_timeout_ms = 200;
    o.max_attempts = 2;
    o.backoff_base_ms = 1;
    ck_assert_int_eq(transport_new(&o, &t, &err), MRF_OK);
    buf_init(&resp, 1024);
    ck_assert_int_eq(transport_get(t, "/v1/health", &resp, &code, &err), MRF_E_OFFLINE);
    transport_get_stats(t, &s);
    ck_assert_int_eq(s.attempts, 2);
    ck_assert_int_eq(s.requests, 0);
    buf_release(&resp);
    transport_free(t);
    close(fd);
}
END_TEST

START_TEST(deadline_bounds_the_retries)
{
    struct transport_opts o;
    struct transport *t = NULL;
    struct transport_stats s;
    struct mrf_error err;
    struct buf resp;
    char url[64];
    long code = -1;
    uint64_t start = time_now_ms();

    opts_for_port(&o, url, sizeof url, free_port());
    o.max_attempts = 6;
    o.backoff_base_ms = 10000;
    o.backoff_max_ms = 30000;
    o.deadline_ms = start + 300;
    ck_assert_int_eq(transport_new(&o, &t, &err), MRF_OK);
    buf_init(&resp, 1024);
    ck_assert_int_eq(transport_get(t, "/v1/health", &resp, &code, &err), MRF_E_OFFLINE);
    ck_assert_uint_lt(time_now_ms() - start, 5000);
    ck_assert_ptr_nonnull(strstr(err.msg, "nothing was lost"));
    transport_get_stats(t, &s);
    ck_assert_int_ge(s.attempts, 1);
    ck_assert_int_lt(s.attempts, 6);
    buf_release(&resp);
    transport_free(t);
}
END_TEST

START_TEST(past_deadline_tries_nothing)
{
    struct transport_opts o;
    struct transport *t = NULL;
    struct transport_stats s;
    struct mrf_error err;
    struct buf resp;
    char url[64];
    long code = -1;

    opts_for_port(&o, url, sizeof url, free_port());
    o.deadline_ms = time_now_ms() - 1;
    ck_assert_int_eq(transport_new(&o, &t, &err), MRF_OK);
    buf_init(&resp, 1024);
    ck_assert_int_eq(transport_get(t, "/v1/health", &resp, &code, &err), MRF_E_OFFLINE);
    transport_get_stats(t, &s);
    ck_assert_int_eq(s.attempts, 0);
    buf_release(&resp);
    transport_free(t);
}
END_TEST

static Suite *transport_suite(void)
{
    Suite *s = suite_create("transport");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, refuses_untrusted_settings);
    tcase_add_test(tc, dead_port_is_offline_after_max_attempts);
    tcase_add_test(tc, silent_port_times_out_and_retries);
    tcase_add_test(tc, deadline_bounds_the_retries);
    tcase_add_test(tc, past_deadline_tries_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testutil_run(transport_suite());
}

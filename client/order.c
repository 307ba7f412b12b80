/* HQ's wipe order, as `mrf sync` meets it (client.h, client_wipe_order): before the
 * passphrase is asked, the device asks HQ over the pinned connection whether an order for it
 * is stored (GET /v1/order/<device id hex>). HQ's server only relays what HQ's officer signed
 * offline (sync/order.c); the device obeys only an order that verifies against the officer
 * key its enrollment token carried, names this device and this post. Anything else is
 * reported and ignored: a server that relays a forged order is not to be trusted with the
 * sync either, so nothing is sent (exit 5). */
#include <string.h>
#include <time.h>

#include "client.h"

#define ORDER_TIMEOUT_DEFAULT 300
#define ORDER_RESPONSE_MAX 4096 /* an order is WIPE_ORDER_LEN bytes; a 404 says a few words */

enum mrf_status client_wipe_order(struct cli_ctx *ctx, int timeout_s)
{
    struct transport_opts to;
    struct transport *t = NULL;
    struct wipe_order order;
    struct mrf_error why;
    struct buf resp;
    char path[64], when[32];
    char *hex = NULL;
    long http = 0;
    time_t issued;
    struct tm tm;
    enum mrf_status st;

    if (!ctx->meta.has_officer)
        return MRF_OK; /* enrolled with a version-1 token: nothing could be checked */
    buf_init(&resp, ORDER_RESPONSE_MAX);
    memset(&to, 0, sizeof to);
    to.url = ctx->meta.hq_url;
    to.pin = ctx->meta.hq_tls_pin;
    to.deadline_ms =
        time_now_ms() + (uint64_t)(timeout_s > 0 ? timeout_s : ORDER_TIMEOUT_DEFAULT) * 1000u;
    hex = hex_encode(ctx->meta.device_id, MRF_ID);
    snprintf(path, sizeof path, "/v1/order/%s", hex);
    st = transport_new(&to, &t, &ctx->err);
    if (st == MRF_OK)
        st = transport_get(t, path, &resp, &http, &ctx->err);
    if (st == MRF_E_TOOBIG)
        st = mrf_error_set(&ctx->err, MRF_E_AUTH,
                           "HQ answered the wipe-order check with more than an order; nothing "
                           "was sent. Tell HQ by phone: its server may not be what it should");
    if (st != MRF_OK || http == 404)
        goto out;
    if (http != 200) {
        st = mrf_error_set(&ctx->err, http >= 500 ? MRF_E_OFFLINE : MRF_E_REFUSED,
                           "HQ answered HTTP %ld when asked for wipe orders; nothing was sent, "
                           "try again later",
                           http);
        goto out;
    }
    mrf_error_clear(&why);
    if (wipe_order_check((const uint8_t *)resp.data, resp.len, ctx->meta.officer_pk,
                         ctx->meta.device_id, ctx->meta.post, &order, &why) != MRF_OK) {
        st = mrf_error_set(&ctx->err, MRF_E_AUTH,
                           "HQ relayed a wipe order for this device that was ignored: %s. "
                           "Nothing was destroyed and nothing was sent. Tell HQ by phone: its "
                           "server may be in other hands",
                           why.msg);
        goto out;
    }
    issued = (time_t)order.issued;
    if (gmtime_r(&issued, &tm) == NULL ||
        strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm) == 0)
        str_copy(when, "an unknown date", sizeof when);
    st = client_destroy(ctx);
    if (st != MRF_OK) {
        struct mrf_error first = ctx->err;
        st = mrf_error_set(&ctx->err, MRF_E_IO,
                           "HQ's officer ordered this device wiped (order signed %s); its "
                           "keystore went first, but: %s; run 'mrf wipe --yes' now",
                           when, first.msg);
        goto out;
    }
    st = mrf_error_set(&ctx->err, MRF_E_REFUSED,
                       "HQ's officer ordered this device wiped (order signed %s, checked "
                       "against the officer key of its token): its keys and store are "
                       "destroyed. What it synced is safe at HQ; what it had not synced is "
                       "lost. To use this laptop again, ask HQ for a new token ('mrf init "
                       "--token')",
                       when);
out:
    transport_free(t);
    buf_release(&resp);
    x_free(hex);
    return st;
}

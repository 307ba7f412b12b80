/* Wipe orders: HQ's officer orders one device to destroy its keys and store (`mrf-hq device
 * revoke ID --wipe`). The order is signed with the officer key, which lives offline like the
 * escrow key; HQ's server only stores it and relays it to the device, which checks it against
 * the officer public key its enrollment token carried, before anything else in `mrf sync`.
 * Whoever holds HQ's server (its online keys, its store) cannot make one: a server can only
 * withhold an order or relay one the officer signed, and an order names one device and post,
 * so it cannot be turned against another.
 *
 * Layout (WIPE_ORDER_LEN bytes, integers big-endian):
 *   "MRFW" | u8 version=1 | u8 0 | u8 0 | u8 0 | device[16] | post[16] (NUL-padded)
 *   | u64 issued (Unix seconds) | nonce[16] | Ed25519 signature[64] over the 64 bytes before
 * The magic keeps the signature from meaning anything else; the nonce makes each order unique
 * (two orders for one device are told apart in logs and stores). */
#include <string.h>

#include "mrfsync.h"

#define ORDER_MAGIC "MRFW"
#define ORDER_VERSION 1
#define ORDER_OFF_DEVICE 8
#define ORDER_OFF_POST (ORDER_OFF_DEVICE + MRF_ID)
#define ORDER_OFF_ISSUED (ORDER_OFF_POST + 16)
#define ORDER_OFF_NONCE (ORDER_OFF_ISSUED + 8)
#define ORDER_BODY (ORDER_OFF_NONCE + 16)

void wipe_order_make(uint8_t out[WIPE_ORDER_LEN], const uint8_t device[MRF_ID], const char *post,
                     int64_t issued, const uint8_t nonce[16], const uint8_t sign_sk[MRF_SIGN_SK])
{
    size_t n = strlen(post);
    int i;

    memset(out, 0, WIPE_ORDER_LEN);
    memcpy(out, ORDER_MAGIC, 4);
    out[4] = ORDER_VERSION;
    memcpy(out + ORDER_OFF_DEVICE, device, MRF_ID);
    memcpy(out + ORDER_OFF_POST, post, n < 15 ? n : 15);
    for (i = 0; i < 8; i++)
        out[ORDER_OFF_ISSUED + i] = (uint8_t)((uint64_t)issued >> (56 - 8 * i));
    memcpy(out + ORDER_OFF_NONCE, nonce, 16);
    mrf_sign(out + ORDER_BODY, out, ORDER_BODY, sign_sk);
}

enum mrf_status wipe_order_check(const uint8_t *order, size_t len,
                                 const uint8_t officer_pk[MRF_SIGN_PK],
                                 const uint8_t device[MRF_ID], const char *post,
                                 struct wipe_order *out, struct mrf_error *err)
{
    char p[16];
    uint64_t issued = 0;
    int i;

    memset(out, 0, sizeof *out);
    if (len != WIPE_ORDER_LEN || memcmp(order, ORDER_MAGIC, 4) != 0 || order[4] != ORDER_VERSION ||
        order[5] != 0 || order[6] != 0 || order[7] != 0 || order[ORDER_OFF_POST + 15] != 0)
        return mrf_error_set(err, MRF_E_INVALID, "not a wipe order of this version");
    if (mrf_verify(order + ORDER_BODY, order, ORDER_BODY, officer_pk) != MRF_OK)
        return mrf_error_set(err, MRF_E_AUTH, "the order does not carry HQ's officer signature");
    memcpy(p, order + ORDER_OFF_POST, 16);
    if (memcmp(order + ORDER_OFF_DEVICE, device, MRF_ID) != 0 || strcmp(p, post) != 0)
        return mrf_error_set(err, MRF_E_AUTH,
                             "the order is signed by HQ's officer but for another device");
    for (i = 0; i < 8; i++)
        issued = (issued << 8) | order[ORDER_OFF_ISSUED + i];
    out->issued = (int64_t)issued;
    memcpy(out->device, device, MRF_ID);
    str_copy(out->post, p, sizeof out->post);
    memcpy(out->nonce, order + ORDER_OFF_NONCE, 16);
    return MRF_OK;
}

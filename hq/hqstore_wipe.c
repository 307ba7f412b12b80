/* The HQ store's wipe area: the officer's public key, the enrollment tokens that carried it,
 * and the wipe orders the officer signed, which the server relays as they are (schema/hq
 * 005_wipe.sql; docs/DECISIONS.md, "Duress, failed unlocks and remote wipe"). Nothing here
 * can make an order: only the offline officer key signs one. The statements live in
 * stmt_sql[] beside their enum and are prepared through hqs_stmt into this area's slots of
 * the handle (hqstore_db.h). */
#include <string.h>

#include <sqlite3.h>

#include "hqstore_db.h"

enum wipe_stmt {
    WS_OFFICER_GET,
    WS_OFFICER_SET,
    WS_OFFICER_TOKEN,
    WS_DEVICE_OFFICER,
    WS_ORDER_PUT,
    WS_ORDER_GET,
    WS_ORDER_DELIVERED,
    WS_COUNT
};

static const char *const stmt_sql[WS_COUNT] = {
    [WS_OFFICER_GET] = "SELECT sign_pk FROM officer WHERE id = 1",
    [WS_OFFICER_SET] = "INSERT INTO officer (id, sign_pk, created_at) VALUES (1, ?1, ?2)",
    [WS_OFFICER_TOKEN] = "INSERT INTO officer_tokens (token_id) VALUES (?1)",
    [WS_DEVICE_OFFICER] = "SELECT count(*) FROM enrollments e JOIN officer_tokens o"
                          " ON o.token_id = e.token_id WHERE e.device_id = ?1",
    [WS_ORDER_PUT] = "INSERT INTO wipe_orders (device, post, body, issued_at, stored_at)"
                     " VALUES (?1, ?2, ?3, ?4, ?5)",
    [WS_ORDER_GET] = "SELECT body, delivered_at IS NOT NULL FROM wipe_orders WHERE device = ?1",
    [WS_ORDER_DELIVERED] = "UPDATE wipe_orders SET delivered_at = ?2"
                           " WHERE device = ?1 AND delivered_at IS NULL",
};

_Static_assert(WS_COUNT <= HQS_AREA_SLOTS, "the wipe area has HQS_AREA_SLOTS statements");

static sqlite3_stmt *stmt_get(struct hqstore *s, enum wipe_stmt i)
{
    return hqs_stmt(s, HQS_AREA_WIPE, (int)i, stmt_sql[i]);
}

enum mrf_status hqstore_officer_get(struct hqstore *s, uint8_t pk[MRF_SIGN_PK], int *has)
{
    sqlite3_stmt *st = stmt_get(s, WS_OFFICER_GET);
    int r;

    *has = 0;
    memset(pk, 0, MRF_SIGN_PK);
    if (st == NULL)
        return MRF_E_IO;
    r = sqlite3_step(st);
    if (r == SQLITE_ROW && !hqs_column_blob(st, 0, pk, MRF_SIGN_PK)) {
        sqlite3_reset(st);
        return mrf_error_set(&s->err, MRF_E_INVALID, "HQ store: the officer key is damaged");
    }
    *has = r == SQLITE_ROW;
    sqlite3_reset(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        return hqs_fail(s, "reading the officer key");
    return MRF_OK;
}

enum mrf_status hqstore_officer_set(struct hqstore *s, const uint8_t pk[MRF_SIGN_PK], int64_t now)
{
    sqlite3_stmt *st = stmt_get(s, WS_OFFICER_SET);
    int r;

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, pk, MRF_SIGN_PK, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    r = hqs_step_once(st);
    if (r == SQLITE_CONSTRAINT_PRIMARYKEY)
        return mrf_error_set(&s->err, MRF_E_STATE, "HQ has an officer key already");
    if (r != SQLITE_DONE)
        return hqs_fail(s, "storing the officer key");
    return MRF_OK;
}

enum mrf_status hqstore_officer_token_add(struct hqstore *s, const uint8_t token_id[MRF_ID])
{
    sqlite3_stmt *st = stmt_get(s, WS_OFFICER_TOKEN);

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, token_id, MRF_ID, SQLITE_STATIC);
    if (hqs_step_once(st) != SQLITE_DONE)
        return hqs_fail(s, "noting the token's officer key");
    return MRF_OK;
}

enum mrf_status hqstore_device_has_officer(struct hqstore *s, const uint8_t device[MRF_ID],
                                           int *has)
{
    sqlite3_stmt *st = stmt_get(s, WS_DEVICE_OFFICER);
    int r;

    *has = 0;
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, device, MRF_ID, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *has = sqlite3_column_int64(st, 0) > 0;
    sqlite3_reset(st);
    if (r != SQLITE_ROW)
        return hqs_fail(s, "reading the device's enrollment");
    return MRF_OK;
}

enum mrf_status hqstore_wipe_order_put(struct hqstore *s, const uint8_t device[MRF_ID],
                                       const char *post, const uint8_t order[WIPE_ORDER_LEN],
                                       int64_t issued, int64_t now)
{
    sqlite3_stmt *st = stmt_get(s, WS_ORDER_PUT);
    int r;

    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, device, MRF_ID, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, post, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, order, WIPE_ORDER_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, issued);
    sqlite3_bind_int64(st, 5, now);
    r = hqs_step_once(st);
    if (r == SQLITE_CONSTRAINT_PRIMARYKEY)
        return mrf_error_set(&s->err, MRF_E_STATE, "this device has a wipe order already");
    if (r != SQLITE_DONE)
        return hqs_fail(s, "storing the wipe order");
    return MRF_OK;
}

enum mrf_status hqstore_wipe_order_get(struct hqstore *s, const uint8_t device[MRF_ID],
                                       uint8_t order[WIPE_ORDER_LEN], int *found, int64_t now)
{
    sqlite3_stmt *st = stmt_get(s, WS_ORDER_GET);
    int r, delivered = 0;

    *found = 0;
    if (st == NULL)
        return MRF_E_IO;
    sqlite3_bind_blob(st, 1, device, MRF_ID, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *found = hqs_column_blob(st, 0, order, WIPE_ORDER_LEN);
        delivered = sqlite3_column_int(st, 1);
    }
    sqlite3_reset(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        return hqs_fail(s, "reading the wipe order");
    if (*found && !delivered && now > 0) {
        st = stmt_get(s, WS_ORDER_DELIVERED);
        if (st == NULL)
            return MRF_E_IO;
        sqlite3_bind_blob(st, 1, device, MRF_ID, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
        if (hqs_step_once(st) != SQLITE_DONE)
            return hqs_fail(s, "noting the wipe order relayed");
    }
    return MRF_OK;
}

/* Posts and devices: per post (`mrf-hq post list --json`'s object) its devices (`mrf-hq device
 * list --json`'s objects: status, enrolled, last sync, key), open conflicts, and the change
 * sets HQ quarantined with the reason it gave; and revoking a device (`mrf-hq device revoke`'s
 * hq_device_revoke) with a confirmation step: the list's button posts to a page that says what
 * revoking does, and only its own button, posting confirm=yes, revokes. Device ids are random
 * hex: they name no one. A post's country is shown as "sealed" or "-", never opened. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ui.h"

#define QUARANTINE_SHOWN 20 /* per post, newest first */

struct collect {
    cJSON *arr;
};

static enum mrf_status post_collect(void *arg, const struct hq_post *p)
{
    cJSON_AddItemToArray(((struct collect *)arg)->arr, hq_post_json(p));
    return MRF_OK;
}

static enum mrf_status device_collect(void *arg, const struct hq_device *d)
{
    cJSON_AddItemToArray(((struct collect *)arg)->arr, hq_device_json(d));
    return MRF_OK;
}

struct quarantine {
    struct buf *b;
    int n;
};

static enum mrf_status quarantine_row(void *arg, const struct hq_quarantined *q)
{
    struct quarantine *qs = arg;
    char *dev = hex_encode(q->device, 8);

    if (qs->n++ == 0)
        web_raw(qs->b, "<table class=\"quarantine\">\n<caption>Change sets HQ quarantined (newest "
                       "first; the laptop keeps them and the rest of its changes still sync)"
                       "</caption>\n<thead><tr><th scope=\"col\">Received</th><th scope=\"col\">"
                       "Device</th><th scope=\"col\">HQ's reason</th></tr></thead>\n<tbody>\n");
    web_raw(qs->b, "<tr><td>");
    hqui_when(qs->b, q->at);
    web_raw(qs->b, "</td><td class=\"code\">");
    web_esc(qs->b, dev);
    web_raw(qs->b, "</td><td data-k=\"reason\">");
    web_esc(qs->b, q->reason);
    web_raw(qs->b, "</td></tr>\n");
    x_free(dev);
    return MRF_OK;
}

static double num(const cJSON *o, const char *key)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void device_rows(struct hqui_page *pg, const cJSON *devices, const char *post)
{
    struct buf *b = pg->b;
    const cJSON *d;
    int n = 0;

    cJSON_ArrayForEach(d, devices) {
        const char *id = web_jstr(d, "id");
        int active = strcmp(web_jstr(d, "status"), "active") == 0;
        char action[96];
        if (strcmp(web_jstr(d, "post"), post) != 0)
            continue;
        if (n++ == 0)
            web_raw(b, "<table class=\"devices\">\n<caption>Devices</caption>\n<thead><tr><th "
                       "scope=\"col\">Device</th><th scope=\"col\">Status</th><th scope=\"col\">"
                       "Enrolled</th><th scope=\"col\">Last sync</th><th scope=\"col\">Key "
                       "fingerprint</th><th scope=\"col\">Action</th></tr></thead>\n<tbody>\n");
        web_raw(b, "<tr data-device=\"");
        web_esc(b, id);
        web_raw(b, "\"><th scope=\"row\" class=\"code\">");
        web_rawf(b, "%.16s", id);
        web_raw(b, "</th><td data-k=\"status\">");
        web_status_tag(b, web_jstr(d, "status"));
        web_raw(b, "</td><td>");
        hqui_when(b, (int64_t)num(d, "enrolled_at"));
        web_raw(b, "</td><td data-k=\"last_seen\">");
        hqui_when(b, (int64_t)num(d, "last_seen"));
        web_raw(b, "</td><td class=\"code\">");
        web_esc(b, web_jstr(d, "key"));
        web_raw(b, "</td><td>");
        if (active) {
            snprintf(action, sizeof action, "/devices/%.32s/revoke", id);
            web_form_open(b, pg->ui->srv, action, "class=\"inline\"");
            web_raw(b, "<button type=\"submit\" class=\"secondary\" aria-label=\"Revoke device ");
            web_rawf(b, "%.16s", id);
            web_raw(b, "\">Revoke&hellip;</button>\n</form>");
        } else {
            web_raw(b, "<span class=\"muted\">its syncs are refused</span>");
        }
        web_raw(b, "</td></tr>\n");
    }
    if (n == 0)
        web_raw(b, "<p>No devices yet: a laptop appears after its first sync with a token from "
                   "<code>mrf-hq enroll</code>.</p>\n");
    else
        web_raw(b, "</tbody>\n</table>\n");
}

void hqui_page_posts(struct hqui_page *pg)
{
    struct buf *b = pg->b;
    struct collect posts = {cJSON_CreateArray()}, devices = {cJSON_CreateArray()};
    const cJSON *p, *d;
    enum mrf_status rc = hqui_store(pg);

    if (rc == MRF_OK)
        rc = hqstore_post_list(pg->st, post_collect, &posts);
    if (rc == MRF_OK)
        rc = hqstore_device_list(pg->st, device_collect, &devices);
    if (rc != MRF_OK) {
        hqui_fail_page(pg, 500, "Posts and devices", pg->st ? hqstore_errmsg(pg->st) : pg->err.msg);
        goto out;
    }
    hqui_begin(pg, "Posts and devices", "/posts");
    web_raw(b, "<h1>Posts and devices</h1>\n");
    if (cJSON_GetArraySize(posts.arr) == 0)
        web_raw(b, "<p>No posts yet. Add one with <code>mrf-hq post add CODE --kind "
                   "bilateral|multilateral</code>, then give its laptops a token from "
                   "<code>mrf-hq enroll CODE</code>.</p>\n");
    cJSON_ArrayForEach(p, posts.arr) {
        const char *code = web_jstr(p, "code");
        struct quarantine q = {b, 0};
        int64_t open = 0, last = 0;
        cJSON_ArrayForEach(d, devices.arr) {
            if (strcmp(web_jstr(d, "post"), code) == 0 && (int64_t)num(d, "last_seen") > last)
                last = (int64_t)num(d, "last_seen");
        }
        rc = hqstore_conflict_count_open(pg->st, code, &open);
        web_raw(b, "<section class=\"post\" id=\"post-");
        web_esc(b, code);
        web_raw(b, "\">\n<h2><span class=\"code\">");
        web_esc(b, code);
        web_raw(b, "</span> <span class=\"muted\">");
        web_esc(b, web_jstr(p, "kind"));
        web_raw(b, "</span></h2>\n<dl class=\"facts\">\n<dt>Active devices</dt><dd>");
        web_rawf(b, "%.0f", num(p, "devices"));
        web_raw(b, "</dd>\n<dt>Last sync</dt><dd data-k=\"last_sync\">");
        hqui_when(b, last);
        web_raw(b, "</dd>\n<dt>Open conflicts</dt><dd>");
        if (rc == MRF_OK && open > 0) {
            web_raw(b, "<a href=\"/conflicts?post=");
            web_urlenc(b, code);
            web_rawf(b, "\">%lld</a>", (long long)open);
        } else {
            web_rawf(b, "%lld", (long long)open);
        }
        web_raw(b, "</dd>\n<dt>Country</dt><dd>");
        web_raw(b, cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "country"))
                       ? "<span class=\"pill sealed\" title=\"sealed to the escrow key; only "
                         "mrf-hq reveal on the offline machine opens it\">sealed</span>"
                       : "-");
        web_raw(b, "</dd>\n</dl>\n");
        device_rows(pg, devices.arr, code);
        if (rc == MRF_OK)
            rc = hqstore_quarantined_list(pg->st, code, QUARANTINE_SHOWN, quarantine_row, &q);
        if (q.n > 0)
            web_raw(b, "</tbody>\n</table>\n");
        else if (rc == MRF_OK)
            web_raw(b, "<p class=\"muted\">No quarantined change sets.</p>\n");
        if (rc != MRF_OK) {
            web_raw(b, "<div class=\"notice bad\">");
            web_esc(b, hqstore_errmsg(pg->st));
            web_raw(b, "</div>\n");
            rc = MRF_OK;
        }
        web_raw(b, "</section>\n");
    }
    hqui_end(pg);
out:
    cJSON_Delete(posts.arr);
    cJSON_Delete(devices.arr);
}

/* ---- revoke -------------------------------------------------------------------------------- */

/* The device's id from "HEX/revoke": 8 to 32 hex digits. */
static int device_path(const char *rest, char id[33])
{
    size_t n = strspn(rest, "0123456789abcdef");

    if (n < 8 || n > 32 || strcmp(rest + n, "/revoke") != 0)
        return 0;
    memcpy(id, rest, n);
    id[n] = '\0';
    return 1;
}

static void confirm_page(struct hqui_page *pg, const char *prefix)
{
    struct buf *b = pg->b;
    struct hq_device d;
    cJSON *o = NULL;
    char action[96];
    enum mrf_status rc = hqui_store(pg);

    if (rc == MRF_OK)
        rc = hqstore_device_find(pg->st, prefix, &d);
    if (rc != MRF_OK) {
        hqui_fail_page(pg, rc == MRF_E_NOTFOUND ? 404 : 500, "Revoke a device",
                       rc == MRF_E_NOTFOUND ? "no such device; see Posts and devices"
                                            : hqstore_errmsg(pg->st));
        return;
    }
    o = hq_device_json(&d);
    hqui_begin(pg, "Revoke a device", "/posts");
    web_raw(b, "<h1>Revoke device <span class=\"code\">");
    web_rawf(b, "%.16s", web_jstr(o, "id"));
    web_raw(b, "</span> of post <span class=\"code\">");
    web_esc(b, d.post);
    web_raw(b, "</span>?</h1>\n");
    if (d.revoked) {
        web_raw(b, "<div class=\"notice warn\" id=\"revoked-already\">This device is revoked "
                   "already: its syncs are refused.</div>\n<p><a href=\"/posts\">Back to posts "
                   "and devices</a></p>\n");
    } else {
        web_raw(b, "<div class=\"confirm\" id=\"confirm\">\n<p>Its next sync is refused (the "
                   "laptop's <code>mrf sync</code> exits 5, \"HQ refused this device\"). What it "
                   "sent before stays. The laptop can only come back with a new token from "
                   "<code>mrf-hq enroll ");
        web_esc(b, d.post);
        web_raw(b, "</code>.</p>\n<dl class=\"facts\">\n<dt>Last sync</dt><dd>");
        hqui_when(b, d.last_seen);
        web_raw(b, "</dd>\n<dt>Key fingerprint</dt><dd class=\"code\">");
        web_esc(b, web_jstr(o, "key"));
        web_raw(b, "</dd>\n</dl>\n");
        snprintf(action, sizeof action, "/devices/%.32s/revoke", web_jstr(o, "id"));
        web_form_open(b, pg->ui->srv, action, NULL);
        web_raw(b, "<input type=\"hidden\" name=\"confirm\" value=\"yes\">\n<div class=\"actions\">"
                   "<button type=\"submit\" class=\"warning\" id=\"revoke-confirm\">Revoke this "
                   "device</button><a href=\"/posts\">Cancel</a></div>\n</form>\n</div>\n");
    }
    cJSON_Delete(o);
    hqui_end(pg);
}

void hqui_page_revoke(struct hqui_page *pg, const char *rest)
{
    const char *confirm = pg->rq->post ? web_field(pg->rq, "confirm") : NULL;
    struct hqstore *st = NULL;
    struct hq_device d;
    char prefix[33], msg[192];
    enum mrf_status rc;

    if (!device_path(rest, prefix)) {
        hqui_fail_page(pg, 404, "Page not found", "There is no such page.");
        return;
    }
    if (confirm == NULL || strcmp(confirm, "yes") != 0) {
        confirm_page(pg, prefix);
        return;
    }
    rc = hqstore_open(pg->ui->home, HQSTORE_EXISTING, &st, &pg->err);
    if (rc == MRF_OK)
        rc = hq_device_revoke(st, prefix, &d, &pg->err);
    hqstore_close(st);
    if (rc != MRF_OK) {
        hqui_fail_page(pg, 400, "Revoke a device", pg->err.msg);
        return;
    }
    snprintf(msg, sizeof msg, "revoked device %.16s of post %s; its next sync is refused", prefix,
             d.post);
    hqui_flash(pg->ui, HQUI_FLASH_OK, msg);
    snprintf(pg->resp->location, sizeof pg->resp->location, "/posts#post-%s", d.post);
}

/* Unlocking and locking in `mrf ui`: the passphrase is typed into the page (GET /unlock shows
 * the form, POST /unlock opens the keystore), the keys stay in guarded memory in this process
 * until "Lock now" (POST /lock), the timer or the end. A wrong passphrase says so and nothing
 * else; the passphrase is never shown again, logged or kept (the request body it came in is
 * wiped by the web layer). */
#include <string.h>

#include "ui.h"

static void unlock_form(struct ui_page *pg, const struct web_errors *e, const char *back)
{
    struct buf *b = pg->b;

    ui_begin(pg, "Unlock", NULL);
    web_raw(b, "<h1>Unlock to show names</h1>\n");
    web_error_summary(b, e);
    web_rawf(b,
             "<p class=\"lead\">Partners' names, contacts and notes are sealed on this laptop. "
             "Your passphrase opens them in this program's memory for %d minutes after your "
             "last action, or until you lock. They are never written to disk.</p>\n",
             (pg->ui->lock_after_s + 59) / 60);
    web_form_open(b, pg->ui->srv, "/unlock", NULL);
    web_raw(b, "<input type=\"hidden\" name=\"back\" value=\"");
    web_esc(b, web_safe_back(back));
    web_raw(b, "\">\n");
    web_input(b, "password", "passphrase", "Passphrase", "The one you chose at mrf init", NULL, e,
              "autocomplete=\"current-password\" autofocus");
    web_raw(b, "<div class=\"actions\"><button type=\"submit\">Unlock</button></div>\n</form>\n");
    ui_end(pg);
}

void ui_page_unlock(struct ui_page *pg)
{
    struct web_request *rq = pg->rq;
    struct web_errors e = {0};
    const char *back = rq->post ? web_field(rq, "back") : web_query(rq, "back");
    const char *pass;
    enum mrf_status st;

    if (strcmp(rq->path, "/lock") == 0) {
        pg->ctx->secrets = NULL;
        ui_lock(pg->ui);
        ui_flash(pg->ui, UI_FLASH_OK, "Locked: the keys are wiped from memory.");
        str_copy(pg->resp->location, web_safe_back(back), sizeof pg->resp->location);
        return;
    }
    if (!rq->post) {
        unlock_form(pg, NULL, back);
        return;
    }
    pass = web_field(rq, "passphrase");
    if (pass == NULL || pass[0] == '\0') {
        web_errors_add(&e, "passphrase", "Enter your passphrase");
        pg->resp->status = 400;
        unlock_form(pg, &e, back);
        return;
    }
    if (pg->ui->secrets == NULL) {
        st = client_unlock_with(pg->ctx, pass);
        if (st == MRF_E_PASSPHRASE) {
            web_errors_add(&e, "passphrase", "Wrong passphrase");
            pg->resp->status = 403;
            unlock_form(pg, &e, back);
            return;
        }
        if (st != MRF_OK) {
            ui_fail_page(pg, 500, "Cannot unlock", pg->ctx->err.msg);
            return;
        }
        pg->ui->secrets = pg->ctx->secrets;
        pg->ui->last_use_ms = time_now_ms();
    }
    str_copy(pg->resp->location, web_safe_back(back), sizeof pg->resp->location);
}

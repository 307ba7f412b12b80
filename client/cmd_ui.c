/* mrf ui: the post's web pages on this laptop (loopback only) until Ctrl-C or the page's Quit
 * button. Prints the address with its secret token, opens it with xdg-open when there is one
 * (unless --no-browser), and serves the pages of client/ui_*.c through the web layer (web/).
 * At the end the unlocked keys are wiped; a sync still running gets a few seconds to finish
 * (a sync cut short loses nothing). */
#include <string.h>

#include "ui.h"

#define UI_REAP_MS 5000

static int exec_ui(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *port_s = cli_get(a, "port"), *lock_s = cli_get(a, "lock-after"),
               *sync_s = cli_get(a, "sync-timeout");
    int64_t port = 0, lock_after = UI_LOCK_AFTER_DEFAULT, sync_timeout = 300;
    struct web_config cfg = {"mrf ui", 0, ui_handle, NULL, "--port"};
    struct ui ui;
    enum mrf_status st = MRF_OK;
    int sig;

    memset(&ui, 0, sizeof ui);
    if (port_s && parse_int64(port_s, 1, 65535, &port) != MRF_OK)
        st = mrf_error_set(&ctx->err, MRF_E_USAGE, "--port must be a port number from 1 to 65535");
    else if (lock_s && parse_int64(lock_s, 10, 86400, &lock_after) != MRF_OK)
        st = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           "--lock-after must be a whole number of seconds from 10 to 86400");
    else if (sync_s && parse_int64(sync_s, 1, 86400, &sync_timeout) != MRF_OK)
        st = mrf_error_set(&ctx->err, MRF_E_USAGE,
                           "--sync-timeout must be a whole number of seconds from 1 to 86400");
    if (st == MRF_OK)
        st = client_open(ctx); /* is this laptop set up? say so before serving anything */
    if (st != MRF_OK)
        return out_fail("ui", ctx, st);
    client_close(ctx);

    ui.home = ctx->home;
    ui.lock_after_s = (int)lock_after;
    ui.sync.timeout_s = (int)sync_timeout;
    pthread_mutex_init(&ui.mu, NULL);
    pthread_mutex_init(&ui.sync.mu, NULL);
    cfg.port = (uint16_t)port;
    cfg.app = &ui;
    st = web_start(&cfg, &ui.srv, &ctx->err);
    if (st != MRF_OK)
        goto out;
    printf("%s\n", web_url(ui.srv));
    fflush(stdout);
    fprintf(stderr,
            "mrf ui: serving the post's pages on 127.0.0.1:%u only; open the address above "
            "(it holds the secret token). Ctrl-C or the page's Quit button stops it.\n",
            (unsigned)web_port(ui.srv));
    if (!cli_has(a, "no-browser") && !web_open_browser(web_url(ui.srv)))
        fprintf(stderr, "mrf ui: no xdg-open here; open the address above in a browser\n");
    sig = web_run(ui.srv, ui_tick, &ui);
    fprintf(stderr, "mrf ui: stopping (%s)\n", sig ? "signal" : "Quit");
    web_stop(ui.srv);
    ui.srv = NULL;
    ui_sync_reap(&ui, UI_REAP_MS);
    if (ui.sync.started) {
        fprintf(stderr, "mrf ui: a sync is still running; it stops here and nothing is lost: "
                        "sync again later\n");
        pthread_detach(ui.sync.thread);
    }
out:
    pthread_mutex_lock(&ui.mu);
    ui_lock(&ui);
    pthread_mutex_unlock(&ui.mu);
    if (st != MRF_OK)
        return out_fail("ui", ctx, st);
    fprintf(stderr, "mrf ui: stopped; the keys are wiped\n");
    return 0;
}

const struct cmd_entry cmd_ui = {
    "ui",
    "[--port N] [--no-browser] [--lock-after SECONDS] [--sync-timeout SECONDS]",
    "the post's web pages on this laptop (127.0.0.1 only) until Ctrl-C or Quit",
    0,
    0,
    {{"port", 1, "port on 127.0.0.1 (default: a free one)"},
     {"no-browser", 0, "print the address only; do not run xdg-open"},
     {"lock-after", 1, "wipe unlocked keys after this many seconds without use (default 300)"},
     {"sync-timeout", 1, "give a sync from the page this many seconds in all (default 300)"},
     {NULL, 0, NULL}},
    exec_ui,
    CMD_WRITES,
};

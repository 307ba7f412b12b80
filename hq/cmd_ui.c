/* `mrf-hq ui [--listen 127.0.0.1:PORT] [--no-browser]`: HQ's dashboard on this machine only
 * (the web layer, web/: loopback, token, Host check, CSRF, CSP, no-store) until Ctrl-C or the
 * page's Quit button. Prints the address with its secret token and opens it with xdg-open when
 * there is one (unless --no-browser). It listens on 127.0.0.1 and nowhere else: an officer on
 * another machine reaches it through an SSH tunnel that keeps the port (ssh -L PORT:127.0.0.1:
 * PORT hq-host), so the Host guard still holds. It never loads the escrow key. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ui.h"

/* "127.0.0.1:PORT" or "localhost:PORT". OUT: *port. MRF_E_INVALID (exit 3) for any other
 * address, naming the way to reach the page from elsewhere. */
static enum mrf_status listen_parse(const char *s, uint16_t *port, struct mrf_error *err)
{
    const char *colon = strrchr(s, ':');
    int64_t p = 0;
    size_t host_len = colon ? (size_t)(colon - s) : 0;
    int loopback = colon && ((host_len == 9 && strncmp(s, "127.0.0.1", 9) == 0) ||
                             (host_len == 9 && strncasecmp(s, "localhost", 9) == 0));

    if (colon == NULL || parse_int64(colon + 1, 1, 65535, &p) != MRF_OK)
        return mrf_error_set(err, MRF_E_USAGE,
                             "--listen is 127.0.0.1:PORT with a port from 1 to 65535 (leave it "
                             "out for a free port)");
    if (!loopback)
        return mrf_error_set(err, MRF_E_INVALID,
                             "the dashboard listens on 127.0.0.1 only, never on a network "
                             "address; from another machine use an SSH tunnel that keeps the "
                             "port: mrf-hq ui --listen 127.0.0.1:%lld there, then ssh -L "
                             "%lld:127.0.0.1:%lld HQ-HOST here and open the address it printed",
                             (long long)p, (long long)p, (long long)p);
    *port = (uint16_t)p;
    return MRF_OK;
}

static int ui_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *listen = cli_get(a, "listen");
    struct web_config cfg = {"mrf-hq ui", 0, hqui_handle, NULL, "--listen 127.0.0.1:PORT"};
    struct hqui ui;
    struct hqstore *st = NULL;
    enum mrf_status rc = MRF_OK;
    int sig;

    memset(&ui, 0, sizeof ui);
    if (listen != NULL)
        rc = listen_parse(listen, &cfg.port, &ctx->err);
    /* is HQ set up here? say so before serving anything */
    if (rc == MRF_OK)
        rc = hqstore_open(ctx->home, HQSTORE_EXISTING, &st, &ctx->err);
    hqstore_close(st);
    if (rc != MRF_OK)
        return hq_finish(ctx, rc);

    ui.home = ctx->home;
    cfg.app = &ui;
    rc = web_start(&cfg, &ui.srv, &ctx->err);
    if (rc != MRF_OK)
        return hq_finish(ctx, rc);
    printf("%s\n", web_url(ui.srv));
    fflush(stdout);
    fprintf(stderr,
            "mrf-hq ui: serving HQ's dashboard on 127.0.0.1:%u only; open the address above (it "
            "holds the secret token). Ctrl-C or the page's Quit button stops it.\n",
            (unsigned)web_port(ui.srv));
    if (!cli_has(a, "no-browser") && !web_open_browser(web_url(ui.srv)))
        fprintf(stderr, "mrf-hq ui: no xdg-open here; open the address above in a browser\n");
    sig = web_run(ui.srv, NULL, NULL);
    fprintf(stderr, "mrf-hq ui: stopping (%s)\n", sig ? "signal" : "Quit");
    web_stop(ui.srv);
    fprintf(stderr, "mrf-hq ui: stopped\n");
    return hq_finish(ctx, MRF_OK);
}

const struct cmd_entry hq_cmd_ui = {
    "ui",
    "[--listen 127.0.0.1:PORT] [--no-browser]",
    "HQ's dashboard on this machine (127.0.0.1 only) until Ctrl-C or Quit",
    0,
    0,
    {{"listen", 1, "127.0.0.1:PORT (default: a free port); never a network address"},
     {"no-browser", 0, "print the address only; do not run xdg-open"},
     {NULL, 0, NULL}},
    ui_exec,
    CMD_WRITES,
};

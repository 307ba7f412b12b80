/* `mrf-hq init --url https://HOST:PORT`: sets up a new HQ home in one go — HQ's signing and
 * box keys (hq.keys), a self-signed TLS certificate for the URL's host (tls/), the escrow key
 * pair with its secret half sealed under the escrow passphrase (escrow-OFFLINE.key, to be
 * moved offline at once), the officer key pair likewise under its own passphrase
 * (officer-OFFLINE.key, which signs wipe orders: hq/officer.c) and the HQ store with its
 * configuration. It refuses a home that holds any of these already, and on any failure removes
 * everything this run created, so a home is either untouched or fully initialised. The store is
 * written last: its configuration row is what the other commands take as "initialised". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "hq.h"
#include "hqstore.h"

/* The files init creates, relative to the home, removed in this order on failure. */
static const char *const init_files[] = {
    HQ_DB_FILE "-wal", HQ_DB_FILE "-shm", HQ_DB_FILE,      HQ_ESCROW_FILE,
    HQ_OFFICER_FILE,   HQ_TLS_CERT_FILE,  HQ_TLS_KEY_FILE, HQ_KEYS_FILE,
};
#define INIT_NFILES (sizeof init_files / sizeof init_files[0])

/* MRF_E_STATE if any file of an HQ home is already in home. */
static enum mrf_status check_fresh(const char *home, struct mrf_error *err)
{
    static const char *const marks[] = {HQ_DB_FILE, HQ_KEYS_FILE, HQ_TLS_DIR, HQ_ESCROW_FILE,
                                        HQ_OFFICER_FILE};
    enum mrf_status rc = MRF_OK;
    struct stat sb;
    size_t i;

    for (i = 0; i < sizeof marks / sizeof marks[0] && rc == MRF_OK; i++) {
        char *p = hq_path(home, marks[i]);
        if (stat(p, &sb) == 0)
            rc = mrf_error_set(err, MRF_E_STATE,
                               "HQ is already initialised in %s (%s exists); use another --home, "
                               "or move that directory away to start over",
                               home, marks[i]);
        else if (errno != ENOENT)
            rc = mrf_error_set(err, MRF_E_IO, "cannot check %s: %s", p, strerror(errno));
        x_free(p);
    }
    return rc;
}

/* Removes what a failed init created. */
static void undo(const char *home, int made_home, int made_tls)
{
    size_t i;
    char *p;

    for (i = 0; i < INIT_NFILES; i++) {
        p = hq_path(home, init_files[i]);
        unlink(p);
        x_free(p);
    }
    if (made_tls) {
        p = hq_path(home, HQ_TLS_DIR);
        rmdir(p);
        x_free(p);
    }
    if (made_home)
        rmdir(home);
}

static int init_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
    enum mrf_status rc = MRF_OK;
    const char *url = cli_get(a, "url");
    struct hq_url u;
    char *pass = NULL, *opass = NULL;
    uint8_t officer_pk[MRF_SIGN_PK];
    struct mrf_secrets *keys = NULL;
    uint8_t *escrow_sk = NULL;
    struct hqstore *st = NULL;
    struct hq_config cfg;
    char pin[TLSCERT_PIN_MAX];
    char fp[48];
    char *p_tls = NULL, *p_keys = NULL, *p_cert = NULL, *p_key = NULL, *p_escrow = NULL;
    char *p_officer = NULL;
    int owned = 0, made_home = 0, made_tls = 0;
    struct stat sb;

    memset(&cfg, 0, sizeof cfg);
    if (url == NULL) {
        rc = mrf_error_set(&ctx->err, MRF_E_USAGE, "give HQ's address: --url https://HOST:PORT");
        goto out;
    }
    rc = hq_url_parse(url, &u, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    rc = check_fresh(ctx->home, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    /* Ask before writing anything: a missing passphrase leaves the home as it was. */
    rc = passphrase_read("Escrow passphrase", "MRF_ESCROW_PASSPHRASE", 1, &pass, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    /* The officer key's passphrase: asked on the terminal as the escrow one was; automation
     * that gives the escrow passphrase by MRF_ESCROW_PASSPHRASE gets an officer key only if
     * it gives MRF_OFFICER_PASSPHRASE too (scripts written before officer keys keep working,
     * and `mrf-hq officer init` adds one later). */
    if (getenv("MRF_ESCROW_PASSPHRASE") == NULL || getenv("MRF_OFFICER_PASSPHRASE") != NULL) {
        rc = passphrase_read("Officer passphrase", "MRF_OFFICER_PASSPHRASE", 1, &opass, &ctx->err);
        if (rc != MRF_OK)
            goto out;
    }

    owned = 1;
    made_home = stat(ctx->home, &sb) != 0;
    rc = dir_ensure(ctx->home, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    p_tls = hq_path(ctx->home, HQ_TLS_DIR);
    if (mkdir(p_tls, 0700) != 0) {
        rc = mrf_error_set(&ctx->err, MRF_E_IO, "cannot create %s: %s", p_tls, strerror(errno));
        goto out;
    }
    made_tls = 1;

    p_keys = hq_path(ctx->home, HQ_KEYS_FILE);
    mrf_secrets_new(&keys);
    rc = hqkeys_write(p_keys, keys, &ctx->err);
    if (rc != MRF_OK)
        goto out;

    p_cert = hq_path(ctx->home, HQ_TLS_CERT_FILE);
    p_key = hq_path(ctx->home, HQ_TLS_KEY_FILE);
    rc = tlscert_create(&u, p_cert, p_key, pin, &ctx->err);
    if (rc != MRF_OK)
        goto out;

    p_escrow = hq_path(ctx->home, HQ_ESCROW_FILE);
    escrow_sk = sodium_malloc(MRF_BOX_SK);
    if (escrow_sk == NULL) {
        rc = mrf_error_set(&ctx->err, MRF_E_INTERNAL, "out of secure memory");
        goto out;
    }
    mrf_box_keypair(cfg.escrow_pk, escrow_sk);
    rc = boxkey_store(p_escrow, pass, cfg.escrow_pk, escrow_sk, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    if (opass != NULL) {
        p_officer = hq_path(ctx->home, HQ_OFFICER_FILE);
        rc = hq_officer_create(p_officer, opass, officer_pk, &ctx->err);
        if (rc != MRF_OK)
            goto out;
    }

    str_copy(cfg.url, u.normalized, sizeof cfg.url);
    str_copy(cfg.tls_pin, pin, sizeof cfg.tls_pin);
    cfg.hq = keys->pub;
    cfg.created_at = (int64_t)(time_now_ms() / 1000);
    cfg.clock = 0;
    mrf_random(cfg.device_id, sizeof cfg.device_id);
    rc = hqstore_open(ctx->home, HQSTORE_CREATE, &st, &ctx->err);
    if (rc != MRF_OK)
        goto out;
    rc = hqstore_config_init(st, &cfg);
    if (rc == MRF_OK && opass != NULL)
        rc = hqstore_officer_set(st, officer_pk, cfg.created_at);
    if (rc != MRF_OK) {
        mrf_error_set(&ctx->err, rc, "%s", hqstore_errmsg(st));
        goto out;
    }
    hqstore_close(st);
    st = NULL;

    mrf_fingerprint(cfg.hq.sign_pk, sizeof cfg.hq.sign_pk, fp);
    printf("HQ initialised in %s\n", ctx->home);
    printf("  URL:                %s\n", cfg.url);
    printf("  HQ key fingerprint: %s\n", fp);
    printf("  TLS pin:            %s\n", cfg.tls_pin);
    printf("  escrow key:         %s\n", p_escrow);
    if (p_officer != NULL) {
        mrf_fingerprint(officer_pk, sizeof officer_pk, fp);
        printf("  officer key:        %s\n", p_officer);
        printf("  officer key fingerprint: %s\n", fp);
    }
    printf("\nMove %s to offline storage NOW (e.g. an encrypted USB stick in a safe) and delete "
           "it from this machine. Only `mrf-hq reveal --escrow-key FILE` needs it, with its "
           "passphrase; without it nobody, HQ included, can read partner identities.\n",
           p_escrow);
    if (p_officer != NULL)
        printf("\nMove %s offline too, apart from the escrow key if you can. Only `mrf-hq "
               "device revoke ID --wipe --officer-key FILE` needs it: it signs the order that "
               "makes a lost or seized laptop destroy its keys, which HQ's server alone cannot "
               "make.\n",
               p_officer);
    else
        printf("\nNo officer key was made (MRF_ESCROW_PASSPHRASE was set without "
               "MRF_OFFICER_PASSPHRASE): devices cannot be wiped from HQ until `mrf-hq officer "
               "init` makes one.\n");
    if (fflush(stdout) != 0)
        rc = mrf_error_set(&ctx->err, MRF_E_IO, "cannot write to standard output");

out:
    hqstore_close(st);
    if (rc != MRF_OK && owned)
        undo(ctx->home, made_home, made_tls);
    if (escrow_sk != NULL)
        sodium_free(escrow_sk);
    mrf_secrets_free(keys);
    passphrase_free(pass);
    passphrase_free(opass);
    x_free(p_officer);
    x_free(p_escrow);
    x_free(p_key);
    x_free(p_cert);
    x_free(p_keys);
    x_free(p_tls);
    return hq_finish(ctx, rc);
}

const struct cmd_entry hq_cmd_init = {
    "init",
    "--url https://HOST:PORT",
    "set up HQ: keys, self-signed TLS certificate, escrow key pair, store",
    0,
    0,
    {{"url", 1, "HQ's address as devices reach it: https://HOST:PORT"}, {NULL, 0, NULL}},
    init_exec,
    CMD_WRITES,
};

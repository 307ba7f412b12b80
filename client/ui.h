/* ui — `mrf ui`, the post's offline web pages, inside the client module (not part of its public
 * interface, client.h). The pages call the functions the commands call and render the objects
 * the commands' --json output is made from; they never write the store any other way.
 *
 * struct ui lives for the whole run. Every page is built on the web server's one handler
 * thread, with a post store context of its own (struct cli_ctx) opened per request, read-only
 * for a GET. The unlocked keys (ui->secrets, guarded memory) are lent to that context for
 * revealing and are wiped after lock_after_s seconds without a page being asked for, on "Lock
 * now" and at exit; ui->mu guards them against the timer in web_run's tick. A sync runs on a
 * thread of its own with its own context and its own copy of the keys (struct ui_sync). */
#ifndef MRF_CLIENT_UI_H
#define MRF_CLIENT_UI_H

#include <pthread.h>

#include "client.h"
#include "mrfweb.h"

#define UI_LOCK_AFTER_DEFAULT 300 /* seconds */

/* The sync job: one at a time; its fields are under mu. */
struct ui_sync {
    pthread_mutex_t mu;
    pthread_t thread;
    int started;              /* thread exists and has not been joined */
    int running;              /* the sync is under way */
    int done;                 /* a result below is there to show */
    struct sync_progress p;   /* live */
    struct sync_summary sum;  /* when done and st is MRF_OK */
    enum mrf_status st;       /* the outcome */
    char msg[512];            /* the failure's message (ctx->err), never an identity */
    struct mrf_secrets *keys; /* the thread's own copy, wiped when it ends */
    const char *home;
    int timeout_s;
};

enum ui_flash { UI_FLASH_NONE, UI_FLASH_OK, UI_FLASH_WARN };

struct ui {
    const char *home;
    struct web_server *srv;
    int lock_after_s;
    pthread_mutex_t mu;          /* secrets and last_use_ms */
    struct mrf_secrets *secrets; /* unlocked keys or NULL */
    uint64_t last_use_ms;
    enum ui_flash flash_kind; /* a notice for the next page after a redirect */
    char flash[512];
    struct ui_sync sync;
};

/* Everything one page needs. */
struct ui_page {
    struct ui *ui;
    struct cli_ctx *ctx;
    struct web_request *rq;
    struct web_response *resp;
    struct buf *b; /* resp->body */
};

/* ---- the session (client/ui.c) ----------------------------------------------------------- */

/* The web server's handler: guards passed, routes a request to its page. */
void ui_handle(void *app, struct web_request *rq, struct web_response *resp);
/* Called about every 250 ms by web_run: wipes the keys once unused for lock_after_s. */
void ui_tick(void *app);
/* Wipes the keys (caller holds ui->mu). */
void ui_lock(struct ui *ui);
/* Seconds until the keys are wiped, 0 if locked. */
int ui_unlock_left(const struct ui *ui);
/* Sets the notice shown on the next page. */
void ui_flash(struct ui *ui, enum ui_flash kind, const char *msg);

/* ---- the frame and shared pieces (client/ui_layout.c) ------------------------------------ */

/* The page's head, header (post, lock state, countdown, Lock now / Unlock), navigation with
 * current marked, and the pending notice; ui_end closes it with the Quit button. */
void ui_begin(struct ui_page *pg, const char *title, const char *current);
void ui_end(struct ui_page *pg);
/* A sealed field's cell from a listing's value: "sealed" pills for the sealed states, the
 * revealed text with the lock-open mark otherwise, "-" for null. */
void ui_sealed(struct buf *b, const cJSON *v);
/* A whole page saying what failed (a code that names nothing, a store that cannot open). */
void ui_fail_page(struct ui_page *pg, int status, const char *title, const char *msg);

/* ---- the pages (client/ui_<page>.c) ------------------------------------------------------ */

void ui_page_home(struct ui_page *pg);
void ui_page_unlock(struct ui_page *pg); /* GET and POST /unlock, POST /lock */
void ui_sync_start(struct ui_page *pg);  /* POST /sync */
void ui_sync_progress(struct ui_page *pg);
/* The outcome of the last sync in words, for the home page; nothing if none ran. */
void ui_sync_outcome(struct ui_page *pg);
/* Joins a finished sync thread; waits at most wait_ms for a running one (0: no wait). */
void ui_sync_reap(struct ui *ui, int wait_ms);
void ui_page_themes(struct ui_page *pg);
void ui_page_partners(struct ui_page *pg, const char *rest); /* rest: after "/partners" */
void ui_page_grants(struct ui_page *pg, const char *rest);
void ui_page_allocation(struct ui_page *pg);
void ui_page_conflicts(struct ui_page *pg);

#endif
